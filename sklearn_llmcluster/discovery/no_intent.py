"""Requests with no intent of their own: greetings, thanks, noise, table footers.

Contact-centre exports are full of "спасибо", "Алло?", "???", a lone emoji or
an Excel "Итого обращений: 532" row. They are not topics, and a judge that
must put them somewhere spreads them over topic clusters. A cheap rule layer
catches the obvious ones before anything is proposed or judged and puts them
into their own clusters (``Cluster.kind == "no_intent"``), named in the data's
language; the proposer's prompt asks the LLM to do the same with the ones the
rules miss.

The rules are deliberately narrow: a text is caught only when *every* word
of it is a greeting, thanks or filler word (so "спасибо, а когда придёт
карта?" stays a topic request), when it has no letter at all ("???", "👍",
"..."), or when it reads like a table's total row.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

from ..records import Proposal

__all__ = ["no_intent_category", "no_intent_proposal", "CATEGORIES", "data_language"]

#: The categories, in the order their clusters are created.
CATEGORIES = ("greeting", "thanks", "unclear", "footer")

_NAMES = {
    "ru": {"greeting": "Приветствие", "thanks": "Благодарность",
           "unclear": "Неясное обращение", "footer": "Служебная строка таблицы"},
    "en": {"greeting": "Greeting", "thanks": "Thanks",
           "unclear": "Unclear request", "footer": "Table footer row"},
}
_DESCRIPTIONS = {
    "ru": {
        "greeting": ("Приветствие без вопроса или просьбы.",
                     "Только приветствие или проверка связи («здравствуйте», «алло»), без "
                     "вопроса или просьбы; обращение с вопросом сюда не относится."),
        "thanks": ("Благодарность без нового вопроса.",
                   "Только благодарность («спасибо», «благодарю»), без нового вопроса или "
                   "просьбы."),
        "unclear": ("Обращение без понятного смысла.",
                    "Знаки препинания, эмодзи, «ок», «тест» и другие сообщения, по которым "
                    "нельзя понять, чего хочет клиент."),
        "footer": ("Строка итогов или служебная строка выгрузки, не обращение.",
                   "Строки вида «Итого обращений: 532», попавшие в выгрузку из таблицы."),
    },
    "en": {
        "greeting": ("A greeting with no question or request.",
                     "Only a greeting or a line check (\"hello\", \"anyone there?\"), with no "
                     "question or request; a request with a question does not belong here."),
        "thanks": ("Thanks with no new question.",
                   "Only thanks (\"thank you\", \"thx\"), with no new question or request."),
        "unclear": ("A message whose intent cannot be told.",
                    "Punctuation, emoji, \"ok\", \"test\" and other messages that do not say "
                    "what the customer wants."),
        "footer": ("A total or service row of an exported table, not a request.",
                   "Rows like \"Total requests: 532\" that came with a table export."),
    },
}

_GREETING = {
    "здравствуйте", "здраствуйте", "здравствуй", "привет", "приветствую", "добрый", "доброе",
    "доброго", "доброй", "день", "дня", "утро", "утра", "вечер", "вечера", "ночи", "алло", "ало",
    "алё", "алле", "hello", "hi", "hey", "hallo", "good", "morning", "afternoon", "evening",
    "greetings", "hiya", "howdy",
}
_THANKS = {
    "спасибо", "спасиб", "спс", "благодарю", "благодарим", "благодарствую", "thanks", "thank",
    "thx", "ty", "cheers", "thankyou",
}
_UNCLEAR = {
    "ок", "окей", "ok", "okay", "k", "да", "нет", "ага", "угу", "хм", "ммм", "эээ", "yes", "no",
    "yep", "nope", "hmm", "test", "тест", "проверка", "testing", "asdf", "qwerty", "йцукен",
}
# Words that may go with a greeting or thanks without adding an intent.
_FILLER = {
    "вам", "тебе", "вас", "всем", "большое", "огромное", "очень", "за", "помощь", "всё", "все",
    "ещё", "еще", "раз", "и", "а", "вы", "там", "тут", "здесь", "кто", "есть", "меня", "слышно",
    "слышите", "you", "so", "very", "much", "many", "a", "lot", "for", "your", "the", "help",
    "again", "there", "anyone", "is", "all", "guys", "team", "and", "ok", "ок", "day", "sir",
    "madam", "hello", "оператор", "operator", "support", "поддержка",
}
_FOOTER = re.compile(
    r"^\s*(итого|всего|итог|total|grand\s+total|sum|subtotal|количество|count)\b[^\n]{0,60}?"
    r"[:=\s]\s*\d[\d\s.,]*\s*$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_MAX_WORDS = 8


def _folded(words: set[str]) -> frozenset[str]:
    return frozenset(w.replace("ё", "е") for w in words)


_GREETING, _THANKS, _UNCLEAR, _FILLER = map(_folded, (_GREETING, _THANKS, _UNCLEAR, _FILLER))
_VOCABULARY = _GREETING | _THANKS | _UNCLEAR | _FILLER


def no_intent_category(text: str) -> str | None:
    """The no-intent category of ``text`` (see :data:`CATEGORIES`), or ``None`` for a request.

    Examples
    --------
    >>> [no_intent_category(t) for t in ["Спасибо!", "Алло?", "???", "👍",
    ...                                  "Итого обращений: 532", "спасибо, где моя карта?"]]
    ['thanks', 'greeting', 'unclear', 'unclear', 'footer', None]
    """
    if not isinstance(text, str):
        return None
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    if _FOOTER.match(folded):
        return "footer"
    words = _WORD.findall(folded)
    if not words:
        # Only punctuation, digits, emoji or symbols: nothing to tell an intent by.
        return "unclear" if folded.strip() else None
    if len(words) > _MAX_WORDS:
        return None
    if any(w not in _VOCABULARY for w in words):
        return None
    if any(w in _THANKS for w in words):
        return "thanks"
    if any(w in _GREETING for w in words):
        return "greeting"
    if all(w in _UNCLEAR or w in _FILLER for w in words):
        return "unclear"
    return None


def data_language(texts: Iterable[str], language: str | None = None) -> str:
    """``"ru"`` or ``"en"``: the language no-intent clusters are named in.

    ``language`` (the estimator's parameter) wins when it names Russian or
    English; otherwise the script most letters of ``texts`` are written in.
    """
    if language:
        lowered = language.casefold()
        if lowered.startswith(("ru", "рус")):
            return "ru"
        if lowered.startswith(("en", "анг")):
            return "en"
    cyrillic = latin = 0
    for text in texts:
        for char in text:
            if "а" <= char.lower() <= "я" or char in "ёЁ":
                cyrillic += 1
            elif "a" <= char.lower() <= "z":
                latin += 1
    return "ru" if cyrillic > latin else "en"


def no_intent_proposal(category: str, language: str) -> Proposal:
    """The cluster of a no-intent category, named and described in ``language``."""
    names = _NAMES.get(language, _NAMES["en"])
    summary, criteria = _DESCRIPTIONS.get(language, _DESCRIPTIONS["en"])[category]
    return Proposal(names[category], summary=summary, criteria=criteria, kind="no_intent")


def category_names(category: str) -> Sequence[str]:
    """Every name the cluster of ``category`` may have (one per language)."""
    return [names[category] for names in _NAMES.values()]
