"""Person names in Russian and English contact-centre requests.

:func:`find_names` returns the character spans of person names in a text.
It has two layers; :data:`NAME_MODES` chooses between them.

Rules (always available, no dependency)
    Regular expressions for the ways requests write names: a surname with
    initials ("Иванова А.С.", "А. С. Иванова", "Smith J."), a patronymic
    with the first name and surname around it ("Анне Сергеевне", "Николай
    Фёдорович Лебедев"), a first name and a surname with a Russian surname
    ending ("Наталья Васильева", "Гусейнов Руслан"), and names after cue
    words: "меня зовут ...", "ФИО ...", "С уважением, ...", "ИП ...",
    "my name is ...", "Regards, ...", "Mr ...", "agent ...". A lone first
    name or a surname in running text ("у Петрова", "Дмитрий, тел ...") is
    not caught by rules.

NER (``pip install sklearn-llmcluster[ner]``, which installs natasha)
    Adds natasha's Russian named-entity model (slovnet, with navec word
    vectors; MIT licensed, weights shipped inside the package, runs on
    numpy) and the pymorphy2 dictionary it brings. A PER span of the model
    is kept when one of its words is a first name, surname or patronymic in
    the dictionary (the model also tags "Здравствуйте" or "Алло" at the start
    of a text); a capitalised word whose most likely reading in the
    dictionary is a first name or surname is a name on its own ("Дмитрий,
    тел ...", "у Петрова"). The model is loaded once per process on first
    use (about a second) and only runs on texts that hold a capitalised
    Cyrillic word it could tag; it does not help English, which keeps the
    rules.

Both layers are deterministic, and nothing here holds state between calls
except the loaded model and caches of dictionary look-ups, so the functions
are safe to call from several threads.
"""

from __future__ import annotations

import importlib.util
import re
from bisect import bisect_right
import threading
from functools import lru_cache
from typing import Any, Iterator

__all__ = ["NAME_MODES", "find_names", "ner_available"]

#: ``"auto"``: NER when natasha is installed, else rules; ``"rules"``: rules
#: only; ``"ner"``: rules and NER, and an error when natasha is missing.
NAME_MODES: tuple[str, ...] = ("auto", "rules", "ner")

# -- building blocks -------------------------------------------------------------------

_B = r"(?<![^\W\d_])"  # no letter before
_E = r"(?![^\W\d_])"  # no letter after
_SP = r"[ \u00a0]"
_TITLE_RU = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_TITLE_EN = r"(?:[A-Z]'|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_TITLE = rf"(?:{_TITLE_RU}|{_TITLE_EN})"
_LOWER_WORD = r"[а-яёa-z]{2,}(?:-[а-яёa-z]{2,})?"
_INITIAL_RU = r"[А-ЯЁ]\."
_INITIAL_EN = r"[A-Z]\."
# The same with "no letter before" checked after the first character: a
# pattern that starts with a character class is scanned for quickly, one that
# starts with a look-behind is tried at every position.
_NB = r"(?<![^\W\d_].)"
_TITLE_RU_B = rf"[А-ЯЁ]{_NB}[а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_TITLE_EN_B = rf"[A-Z]{_NB}(?:'[A-Z]|c[A-Z]|ac[A-Z])?[a-z]+(?:-[A-Z][a-z]+)?"

# Endings of Russian (and Ukrainian, Armenian, Georgian) surnames in their
# case forms: Иванов/Иванова/Ивановой/Ивановым, Пушкин, Достоевский/-ая,
# Шевченко, Петросян, Ковальчук, Черных.
_SURNAME_END = re.compile(
    r"(?:(?:ов|ев|ёв|ин|ын)(?:а|у|ым|ой|ом|е|ы|ых)?|(?:ск|цк)(?:ий|ая|ой|ого|ому|им|ом|ую|ие|их)"
    r"|енко|янц?(?:а|у|ом|е)?|швили|дзе|[чщ]ук(?:а|у|ом|е)?|[ыи]х)$"
)
# Capitalised words with those endings that are seldom names: common nouns at
# the start of a sentence, towns, and adjectives of official names.
_NOT_SURNAMES = frozenset("""
магазин магазина магазине бензин витамин карантин кофеин белок каталог блог диалог
ростов ростова ростове саратов псков королёв королев пушкин чехов серпухов киев харьков львов
кишинёв кишинев иваново тутаев ржев воронеж российский российская российской русский
русская английский английская московский московская московской московском ленинградская
ленинградской невский тверская центральный новых старых других всех таких
""".split())
# Capitalised words that start sentences or address someone, never names.
_NOT_NAMES = frozenset("""
уважаемая уважаемый уважаемые дорогая дорогой здравствуйте здраствуйте добрый доброе доброго
привет спасибо прошу помогите пишет пишу звонил звонила звонили клиент клиентка оператор
сотрудник получатель владелец
я мы вы вас вам ваш ваша наш наша мой моя он она они это срочно подскажите скажите сбербанк
банк карта счёт счет договор заказ телефон тел почта
dear hi hello hey sir madam team support customer service all thanks thank regards best kind
the my your our this that please card bank account order phone mr mrs ms dr
""".split())
# Words that end a lower-case name after a cue ("меня зовут анна и я ...").
_STOP = frozenset("""
и а но или я мне меня мой моя моё мое мои не нет в во на с со к ко у о об от до по за из для
при это что как так уже вот ну же ли бы пожалуйста здравствуйте спасибо хочу прошу был была
было были есть тоже также уважением вас вам ваш
and or but i me my mine the a an is am are was were not no to of in on at for with from
please thanks thank it this that be been have has had here there yours truly all
""".split())

_PATRONYMIC = (
    r"[А-ЯЁ][а-яё]+(?:ович|евич|ьич)(?:а|у|ем|е)?"
    r"|[А-ЯЁ][а-яё]+(?:овн|евн|ичн)(?:а|ы|е|у|ой|ою)"
    r"|(?:Кузьм|Фом|Лук|Никит|Савв)ич(?:а|у|ем|ом|е)?"
)
_PATRONYMIC_LOWER = r"[а-яё]{2,}(?:ович|евич)(?:а|у|ем|е)?|[а-яё]{2,}(?:овн|евн)(?:а|ы|е|у)"
# Adjectives that end like a lower-case patronymic.
_NOT_PATRONYMIC = re.compile(
    r"^(?:без)?(?:у?словн|виновн|духовн|греховн|верховн|любовн|ровн|неровн|церковн|баснословн"
    r"|сословн|королевн|царевн)"
)

# Surname + initials ("Иванова А.С.", "Ивановой А. С.", "Иванова А."), initials +
# surname ("А.С. Иванова", "А. Иванова"), and the Latin forms.
_SURNAME_INITIALS = (
    re.compile(rf"(?P<surname>{_TITLE_RU_B}){_SP}+{_INITIAL_RU}(?:{_SP}?{_INITIAL_RU})?"),
    re.compile(rf"(?P<surname>{_TITLE_EN_B}){_SP}+{_INITIAL_EN}(?:{_SP}?{_INITIAL_EN})?"),
)
_INITIALS_SURNAME = (
    re.compile(rf"(?P<initials>[А-ЯЁ]{_NB}\.(?:{_SP}?{_INITIAL_RU})?){_SP}?"
               rf"(?P<surname>{_TITLE_RU}){_E}"),
    re.compile(rf"(?P<initials>[A-Z]{_NB}\.(?:{_SP}?{_INITIAL_EN})?){_SP}?"
               rf"(?P<surname>{_TITLE_EN}){_E}"),
)
# Lower-case texts: "иванова а.с." (two initials; not "и т.д.").
_SURNAME_INITIALS_LOWER = re.compile(
    rf"[а-яё]{_NB}[а-яё]{{2,}}{_SP}+([а-яё])\.{_SP}?([а-яё])\.")
_NOT_INITIALS = frozenset({"тд", "тп", "те", "тк", "ио", "тч", "тн", "нэ", "сг", "гг", "вв"})

_PATRONYMIC_RE = re.compile(rf"{_B}(?:{_PATRONYMIC}){_E}")
_PATRONYMIC_LOWER_RE = re.compile(rf"{_B}(?:{_PATRONYMIC_LOWER}){_E}")
# Runs of two or more capitalised Cyrillic words.
_TITLE_RUN = re.compile(rf"{_TITLE_RU_B}(?:{_SP}+{_TITLE_RU})+{_E}")
_TITLE_WORD = re.compile(_TITLE)
_WORD_BEFORE = re.compile(rf"(?:^|(?<=[\s(«\"']))([^\W\d_]+(?:-[^\W\d_]+)?){_SP}+$")

# Cue words. Strong cues take lower-case names too ("меня зовут анна");
# weak ones a capitalised name; the "pair" ones at least two capitalised words
# (or a surname with initials), since a brand can follow them ("клиент
# Сбербанка"); greetings a vocative name standing alone ("Здравствуйте, Анна!").
_CUES_STRONG = (
    r"меня\s+зовут", r"зовут\s+меня", r"мо[её]\s+имя", r"моя\s+фамилия", r"ф\.?\s?и\.?\s?о\.?",
    r"с\s+уважением", r"my\s+name\s+is", r"my\s+name's", r"my\s+full\s+name\s+is", r"full\s+name",
    r"name\s*:", r"имя\s*:", r"фамилия\s*:",
    r"(?:best\s+|kind\s+|warm\s+)?regards", r"sincerely", r"yours\s+(?:truly|sincerely)",
)
_CUES_WEAK = (
    r"ип", r"господин(?:а|у|ом)?", r"госпож(?:а|и|е|у|ой)", r"гражданин(?:а|у|ом)?",
    r"гражданк(?:а|и|е|у|ой)", r"зовут", r"спросить", r"позовите", r"пишет",
    r"благодарю", r"спасибо", r"заранее\s+спасибо", r"всего\s+доброго", r"подпись",
    r"cheers", r"thanks", r"thank\s+you", r"many\s+thanks",
    r"mrs?\.?", r"ms\.?", r"miss", r"mx\.?", r"dr\.?", r"prof\.?",
    r"agent", r"operator", r"representative", r"rep", r"advisor", r"adviser", r"manager",
    r"courier", r"driver", r"technician", r"engineer", r"named", r"called", r"holder",
    r"cardholder", r"beneficiary", r"recipient", r"payee", r"contact(?:\s+person)?\s*:?",
    r"customer\s*:", r"client\s*:",
)
_CUES_PAIR = (
    r"клиент(?:ка|а|у|ом|ки|ке|кой)?", r"оператор(?:а|у|ом)?",
    r"сотрудни(?:к|ка|ку|ком|ца|цы|це|цу|цей)", r"менеджер(?:а|у|ом)?", r"специалист(?:а|у|ом)?",
    r"консультант(?:а|у|ом)?", r"курьер(?:а|у|ом)?", r"мастер(?:а|у|ом)?",
    r"получател(?:ь|я|ю|ем)", r"владел(?:ец|ьца|ьцу|ица|ицы)",
    r"держател(?:ь|я|ю|ем)", r"плательщик(?:а|у|ом)?", r"отправител(?:ь|я|ю|ем)", r"на\s+имя",
    r"оформлен[аоы]?\s+на", r"от\s+имени", r"contact", r"customer", r"client",
)
# Staff in an oblique case followed by one name in an oblique case:
# "с оператором Натальей", "оператору Анне", "сотрудником Иваном".
_CUE_STAFF = re.compile(
    rf"{_B}(?:оператор|сотрудник|сотрудниц|менеджер|специалист|консультант|курьер|мастер)"
    rf"(?:ом|ем|у|ой|ей|е){_SP}+([А-ЯЁ][а-яё]+(?:ой|ей|ом|ем|е|у|ю|и)){_E}"
)
_CUES_GREETING = (
    r"здравствуйте", r"добрый\s+(?:день|вечер)", r"доброе\s+утро", r"привет", r"hi", r"hello",
    r"hey", r"dear", r"уважаем(?:ая|ый)", r"дорог(?:ая|ой)",
)


def _cue_re(cues: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"{_B}(?:{'|'.join(cues)}){_E}[\s,:;\-\u2013\u2014]*", re.IGNORECASE)


def _gate(cues: tuple[str, ...]) -> re.Pattern[str]:
    """The cues alone, for the lower-cased text: a pattern that starts with
    literals is scanned for quickly, unlike one that starts with a look-behind,
    so most texts skip the full pattern."""
    return re.compile("|".join(cues))


_CUE_STRONG = _cue_re(_CUES_STRONG)
_CUE_WEAK = _cue_re(_CUES_WEAK)
_CUE_PAIR = _cue_re(_CUES_PAIR)
_CUE_GREETING = _cue_re(_CUES_GREETING)
_GATES = {id(c): _gate(cues) for c, cues in ((_CUE_STRONG, _CUES_STRONG), (_CUE_WEAK, _CUES_WEAK),
                                             (_CUE_PAIR, _CUES_PAIR),
                                             (_CUE_GREETING, _CUES_GREETING))}
_PATRONYMIC_GATE = re.compile(r"ович|евич|ьич|овн|евн|ичн|кузьмич|фомич|лукич|никитич|саввич")
_STAFF_GATE = re.compile(r"оператор|сотрудни|менеджер|специалист|консультант|курьер|мастер")
_HERE_GATE = re.compile(r"here|speaking|беспокоит|пишет")


def _cue_matches(cue: re.Pattern[str], text: str, low: str) -> Iterator[re.Match[str]]:
    if _GATES[id(cue)].search(low) is not None:
        yield from cue.finditer(text)


# What may follow a cue: up to three name words, capitalised or initials.
_NAME_WORDS = re.compile(
    rf"(?:{_TITLE}|{_INITIAL_RU}|{_INITIAL_EN})(?:{_SP}+(?:{_TITLE}|{_INITIAL_RU}|{_INITIAL_EN})"
    rf"|{_SP}?(?<=\.)(?:{_INITIAL_RU}|{_INITIAL_EN})){{0,2}}"
)
_LOWER_NAME_WORDS = re.compile(
    rf"(?:{_LOWER_WORD}|[а-яёa-z]\.)(?:{_SP}+(?:{_LOWER_WORD}|[а-яёa-z]\.)"
    rf"|{_SP}?(?<=\.)[а-яёa-z]\.){{0,2}}"
)
# "John Smith here, ...", "Анна Петрова беспокоит".
_NAME_HERE = re.compile(
    rf"{_B}({_TITLE}(?:{_SP}+{_TITLE})?){_SP}+(?:here|speaking|беспокоит|пишет)(?![^\W\d_])"
)
_VOCATIVE_END = re.compile(r"\s*(?:[!,.?]|$)")
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")
_HAS_CAPITAL = re.compile(r"[A-ZА-ЯЁ]")
_LOWER_CLAUSE_END = re.compile(r"\s*(?:[!,.?;]|$)")
_CYRILLIC_TITLE = re.compile(r"[А-ЯЁ][а-яё]")
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+|\n\s*)$")


def _at_sentence_start(text: str, pos: int) -> bool:
    # A bounded look back keeps this linear in the length of the text.
    return _SENTENCE_START.search(text, max(0, pos - 12), pos) is not None or (
        pos < 12 and not text[:pos].strip())


def _is_surname(word: str) -> bool:
    low = word.lower()
    return low not in _NOT_SURNAMES and _SURNAME_END.search(low.split("-")[-1]) is not None


def _name_word(word: str) -> bool:
    low = word.lower()
    # Imperatives open many requests ("Передайте Петрову ..."); no name ends so.
    return low not in _NOT_NAMES and not low.endswith(("йте", "ите", "ьте"))


# -- the rule layer --------------------------------------------------------------------


def _take_words(text: str, pos: int, *, lower: bool, max_words: int = 3) -> tuple[int, int] | None:
    """Span of the name words at ``pos`` (after a cue), or None."""
    m = _NAME_WORDS.match(text, pos)
    if m is None and lower:
        m = _LOWER_NAME_WORDS.match(text, pos)
    if m is None:
        return None
    words = list(re.finditer(r"[^\s]+", m.group()))
    end = pos
    for w in words[:max_words]:
        token = w.group().rstrip(",;:")
        if token.lower() in _STOP or token.lower() in _NOT_NAMES:
            break
        end = pos + w.start() + len(token)
    return (pos, end) if end > pos else None


def _count_name_words(text: str, span: tuple[int, int]) -> int:
    return len(_TITLE_WORD.findall(text, *span)) + text.count(".", *span)


def _rule_spans(text: str, dictionary: bool = False) -> list[tuple[int, int]]:
    """Spans the patterns find; ``dictionary``: natasha's dictionary may confirm
    lower-case names after weak cues (without it those are not looked for)."""
    spans: list[tuple[int, int]] = []
    add = spans.append
    low = text.lower()
    dots = "." in text
    for pattern in _SURNAME_INITIALS if dots else ():
        for m in pattern.finditer(text):
            if _name_word(m.group("surname")):
                add(m.span())
    for pattern in _INITIALS_SURNAME if dots else ():
        for m in pattern.finditer(text):
            word = m.group("surname")
            if _name_word(word) and (m.group("initials").count(".") == 2 or _is_surname(word)):
                add(m.span())
    for m in _SURNAME_INITIALS_LOWER.finditer(text) if dots else ():
        if m.group(1) + m.group(2) not in _NOT_INITIALS and m.group().split()[0] not in _STOP:
            add(m.span())
    patronymics = _PATRONYMIC_GATE.search(low) is not None
    for pattern, lower in ((_PATRONYMIC_RE, False), (_PATRONYMIC_LOWER_RE, True)):
        for m in pattern.finditer(text) if patronymics else ():
            if lower and _NOT_PATRONYMIC.match(m.group()):
                continue
            add(_extend_patronymic(text, m.start(), m.end(), lower))
    for m in _TITLE_RUN.finditer(text):
        words = [(w.start(), w.end()) for w in re.finditer(r"\S+", m.group())]
        kept = [(m.start() + a, m.start() + b) for a, b in words
                if _name_word(m.group()[a:b])]
        if len(kept) >= 2 and any(_is_surname(text[a:b]) for a, b in kept):
            add((kept[0][0], kept[-1][1]))
    for cue, lower, pair in ((_CUE_STRONG, True, False), (_CUE_WEAK, False, False),
                             (_CUE_PAIR, False, True)):
        for m in _cue_matches(cue, text, low):
            span = _take_words(text, m.end(), lower=lower)
            if span is None:
                continue
            if pair and _count_name_words(text, span) < 2:
                continue
            add(span)
    for m in _CUE_STAFF.finditer(text) if _STAFF_GATE.search(low) else ():
        if _name_word(m.group(1)):
            add(m.span(1))
    for m in _NAME_HERE.finditer(text) if _HERE_GATE.search(low) else ():
        if _name_word(m.group(1).split()[0]):
            add(m.span(1))
    # An all lower-case text has no capitals to go by: words after a weak cue
    # that close the text or a clause are a name when the dictionary says every
    # one of them is ("получатель кузнецова мария", not "пишет блокировка" or
    # "спасибо заранее").
    if dictionary and not _HAS_CAPITAL.search(text):
        for cue, need in ((_CUE_WEAK, 1), (_CUE_PAIR, 2)):
            for m in _cue_matches(cue, text, low):
                span = _take_words(text, m.end(), lower=True)
                if span is None or not _LOWER_CLAUSE_END.match(text, span[1]):
                    continue
                words = text[span[0]:span[1]].split()
                if len(words) >= need and all(
                        _is_name_word(w.rstrip("."), top_only=False) for w in words):
                    add(span)
    for m in _cue_matches(_CUE_GREETING, text, low):
        span = _take_words(text, m.end(), lower=False, max_words=2)
        if span is not None and _VOCATIVE_END.match(text, span[1]):
            add(span)
    return spans


def _extend_patronymic(text: str, start: int, end: int, lower: bool) -> tuple[int, int]:
    """The patronymic with up to two name words before it and a surname after it."""
    for _ in range(2):
        m = _WORD_BEFORE.search(text, max(0, start - 48), start)
        if m is None:
            break
        word = m.group(1)
        ok = (word[0].isupper() and word[1:].islower()) if not lower else word.islower()
        if not ok or word.lower() in _STOP or not _name_word(word):
            break
        start = m.start(1)
    m = re.compile(rf"{_SP}+({_TITLE_RU}){_E}").match(text, end)
    if m is not None and not lower and _is_surname(m.group(1)):
        end = m.end(1)
    return start, end


# -- the NER layer ---------------------------------------------------------------------

_LOAD_LOCK = threading.Lock()
# One text at a time through the model: it is small, and the lock keeps the
# BLAS thread limit below from being restored out of order by another thread.
_NER_LOCK = threading.Lock()
_MODELS: list[Any] = []  # [] not loaded yet; [None] natasha missing; [(ner, morph, blas)]
_NAME_GRAMMEMES = ("Name", "Surn", "Patr")
# Parts of speech a name never starts or ends with ("Передайте Петрову").
_NOT_NAME_POS = ("VERB", "INFN", "GRND", "PRTF", "PRTS", "ADVB", "INTJ", "PRCL", "CONJ",
                 "PREP", "NPRO", "PRED")
# Words after which a capitalised word is a street, square or town, not a person.
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:ул|улиц\w*|пр|просп\w*|пр-т|пер|переул\w*|бульв\w*|б-р|пл|площад\w*|ш|шоссе"
    r"|наб|набережн\w*|им|имени|г|город\w*|пос|посёлк\w*|поселк\w*|с|село|д|деревн\w*|обл"
    r"|район\w*|метро|ст|станци\w*)\.?|[«\"])[ \u00a0]*$",
    re.IGNORECASE,
)
# "на Гагарина 14", "Ленина, д. 5": a house number after it.
_HOUSE_NUMBER = re.compile(r"[ \u00a0]*,?[ \u00a0]*(?:д\.|дом)?[ \u00a0]*\d")
_PLACE_PREPOSITION = re.compile(r"(?:^|[\s(])(?:в|во|из|под|до|около|через)[ \u00a0]+$",
                                re.IGNORECASE)


def _models() -> tuple[Any, Any, Any] | None:
    """natasha's NER tagger and morphology, loaded once per process; None without natasha."""
    if not _MODELS:
        with _LOAD_LOCK:
            if not _MODELS:
                try:
                    # natasha also makes its pymorphy2 work on Python 3.11+.
                    from natasha import MorphVocab, NewsEmbedding, NewsNERTagger
                    from threadpoolctl import ThreadpoolController
                except ImportError:
                    _MODELS.append(None)
                else:
                    _MODELS.append((NewsNERTagger(NewsEmbedding()), MorphVocab(),
                                    ThreadpoolController()))
    return _MODELS[0]


@lru_cache(maxsize=1)
def ner_available() -> bool:
    """Whether the NER layer can run (natasha is installed); loads nothing."""
    return importlib.util.find_spec("natasha") is not None


@lru_cache(maxsize=65536)
def _tags(word: str) -> tuple[str, ...]:
    models = _models()
    assert models is not None
    return tuple(str(t) for t in models[1].tag(word))


@lru_cache(maxsize=65536)
def _known(word: str) -> bool:
    models = _models()
    assert models is not None
    return bool(models[1].word_is_known(word.lower()))


_CYRILLIC_WORD = re.compile(r"[а-яё]", re.IGNORECASE)


def _is_name_word(word: str, *, top_only: bool) -> bool:
    """Whether the dictionary reads ``word`` as a first name, surname or patronymic
    (in its most likely reading only when ``top_only``; plural readings never count
    then: "Астры завяли" is about flowers)."""
    if not _CYRILLIC_WORD.match(word):
        return False
    tags = _tags(word)
    if top_only:
        top = tags[0] if tags else ""
        return "plur" not in top and any(g in top for g in _NAME_GRAMMEMES)
    return any(g in t for t in tags for g in _NAME_GRAMMEMES)


def _is_place(text: str, start: int, word: str) -> bool:
    """Whether the capitalised word at ``start`` names a street or town."""
    before = text[max(0, start - 24):start]
    if _PLACE_BEFORE.search(before) or _HOUSE_NUMBER.match(text, start + len(word)):
        return True
    return bool(_PLACE_PREPOSITION.search(before)) and any("Geox" in t for t in _tags(word))


def _not_name_edge(word: str) -> bool:
    if not _CYRILLIC_WORD.match(word) or len(word) < 2:
        return False
    tags = _tags(word)
    return bool(tags) and tags[0].split(",")[0].split()[0] in _NOT_NAME_POS and not any(
        g in t for t in tags for g in _NAME_GRAMMEMES)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without leading or trailing verbs, adverbs and such."""
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    while words and _not_name_edge(text[start + words[0][0]:start + words[0][1]].strip(",.")):
        words.pop(0)
    while words and _not_name_edge(text[start + words[-1][0]:start + words[-1][1]].strip(",")):
        words.pop()
    if not words:
        return start, start
    return start + words[0][0], start + words[-1][1]


_CYR_TOKEN = re.compile(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?")


def _ner_spans(text: str) -> list[tuple[int, int]]:
    models = _models()
    if models is None or not _CYRILLIC_TITLE.search(text):
        return []
    spans = []
    # Capitalised words the dictionary reads as names first of all. A text
    # only goes to the model when one of them, or a capitalised word inside a
    # sentence, could be a name.
    hint = False
    for m in _CYR_TOKEN.finditer(text):
        word = m.group()
        if word.lower() in _NOT_NAMES:
            continue
        # A word the dictionary only guesses at ("Скрлько") is left to the model.
        if len(word) >= 3 and _is_name_word(word, top_only=True) and _known(word):
            if not _is_place(text, m.start(), word):
                spans.append(m.span())
            hint = True
        elif not _at_sentence_start(text, m.start()):
            hint = True
    if not hint:
        return spans
    ner, _, blas = models
    with _NER_LOCK, blas.limit(limits=1, user_api="blas"):
        # Multi-threaded BLAS makes this small model 30 times slower.
        found = ner(text).spans
    for span in found:
        if span.type != "PER":
            continue
        start, end = _trim(text, span.start, span.stop)
        words = re.findall(r"[^\W\d_]+", text[start:end])
        if _is_place(text, start, text[start:end]):
            continue
        if any(w.lower() not in _NOT_NAMES and _is_name_word(w, top_only=False)
               for w in words if len(w) > 1):
            spans.append((start, end))
    return spans


# -- both ------------------------------------------------------------------------------


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans; overlapping ones and ones apart by spaces only joined."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        # Trim punctuation a pattern may have taken at the edges (not an initial's dot).
        while end > start and text[end - 1] in " \u00a0,;:-":
            end -= 1
        if end <= start:
            continue
        if merged and (start <= merged[-1][1] or not text[merged[-1][1]:start].strip(" \u00a0")):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def find_names(text: str, mode: str = "auto") -> list[tuple[int, int]]:
    """Character spans of person names in ``text``.

    Parameters
    ----------
    text : str
        Any text.
    mode : {"auto", "rules", "ner"}, default="auto"
        ``"rules"`` uses the patterns only; ``"ner"`` adds natasha's model
        and dictionary (and raises ImportError when natasha is missing);
        ``"auto"`` is ``"ner"`` when natasha is installed, else ``"rules"``.

    Returns
    -------
    list of (start, end)
        Sorted, disjoint spans (``end`` exclusive); spans that touch a
        placeholder such as ``<NAME>`` are left out, so running on redacted
        text finds nothing new there.
    """
    if mode not in NAME_MODES:
        raise ValueError(f"mode must be one of {list(NAME_MODES)}, got {mode!r}")
    use_ner = mode == "ner" or (mode == "auto" and ner_available())
    if use_ner and not ner_available():
        raise ImportError(
            "Finding names with NER needs natasha: pip install sklearn-llmcluster[ner]"
        )
    spans = _rule_spans(text, dictionary=use_ner)
    if use_ner:
        # The dictionary also takes verbs off the edges of rule spans.
        spans = [_trim(text, s, e) for s, e in spans] + _ner_spans(text)
    if not spans:
        return []
    placeholder_starts = []
    placeholder_ends = []
    for m in _PLACEHOLDER.finditer(text):
        placeholder_starts.append(m.start())
        placeholder_ends.append(m.end())
    result = []
    for start, end in _merge(text, spans):
        # The first placeholder ending after ``start`` overlaps when it begins before ``end``.
        i = bisect_right(placeholder_ends, start)
        if i < len(placeholder_starts) and placeholder_starts[i] < end:
            continue
        result.append((start, end))
    return result
