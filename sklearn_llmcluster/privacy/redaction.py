"""Redaction of personal data before a text leaves the machine.

:func:`redact_pii` replaces e-mail addresses, phone numbers, payment card
numbers, IBANs, Russian bank account, passport, SNILS and INN numbers and
person names with typed placeholders (``<EMAIL>``, ``<PHONE>``, ``<CARD>``,
``<IBAN>``, ``<ACCOUNT>``, ``<PASSPORT>``, ``<SNILS>``, ``<INN>``,
``<NAME>``). It is meant for Russian and English contact-centre requests and
is applied to every prompt message sent to a remote LLM provider, to every
logged prompt, and to the texts the offline engine learns its features (and
so its cluster names) from. Names are found by
:mod:`~sklearn_llmcluster.privacy.names` (rules, and natasha's NER model when
the ``ner`` extra is installed).

Detection is rule based: one regular expression per written form, a checksum
where the identifier has one (Luhn for cards, mod-97 for IBANs, the official
check digits of SNILS and INN) and, for bare digit runs that could be several
things, the nearest label word before the number ("ИНН", "телефон",
"паспорт", "заказ", "order" ...). Every regular expression is compiled at
import and written so that it runs in linear time; a
:class:`PIIRedactor` holds nothing but its configuration, so one instance can
be shared between threads and pickled.

Decisions worth knowing
-----------------------
* A 13-19 digit number is a card only when it passes the Luhn check. A
  16-digit run that passes Luhn is always redacted, whatever its label.
* A standalone 11-digit number starting with 7 or 8 (and an area code digit
  3-9) is a Russian phone unless a label such as "заказ" or "№" says it is an
  identifier of something else.
* A 10- or 12-digit number passing the INN check digits is an INN when it
  carries an INN label or no label at all, unless it reads as a phone (a
  10-digit number starting with 9 is a Russian mobile written without the
  trunk 8). One random 12-digit number in a hundred passes both check digits;
  one random 10-digit number in ten passes the single one, which costs some
  precision on unlabelled order or operation numbers. On the test corpus
  requiring a label for 10-digit INNs lost more recall than it gained
  precision (``benchmarks/bench_redaction.py`` prints both), and a spurious
  ``<INN>`` in place of an order number costs little when the text is sent to
  an LLM for clustering, while a missed identifier leaks.
* Labels are looked for in the 48 characters before a number; an identifier
  label ("заказ №", "order #", "IMEI", "ОГРН", "р/с" ...) claims a number only
  when it stands right before it.
* A 20-digit number is a Russian bank account when it passes the control
  key of a BIK found in the text, or its balance account (first five
  digits) is one for clients (401-479) and digits 6-8 a currency code, or
  an account word ("счёт", "р/с", "account") stands before it; never after
  a word for another 20-digit code ("КБК", "УИН", "операция", "трек"), nor
  when it starts with 3 (banks' own and correspondent accounts, public).
* Russian passport numbers have no checksum, so they need a passport label
  ("паспорт", "серия", "passport") within a few words before them.
* Overlapping detections are resolved by keeping the longest span, then the
  type earlier in :data:`PII_TYPES`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..exceptions import ConfigurationError
from .names import NAME_MODES, find_names, ner_available

__all__ = [
    "PII_TYPES",
    "Match",
    "PIIRedactor",
    "redact_pii",
    "find_pii",
    "evaluate_redaction",
    "luhn_valid",
    "inn_valid",
    "snils_valid",
    "iban_valid",
    "account_key_valid",
    "account_prefix_valid",
]

#: Supported entity types, in tie-breaking priority order (first wins).
PII_TYPES: tuple[str, ...] = (
    "EMAIL", "IBAN", "ACCOUNT", "CARD", "SNILS", "PASSPORT", "INN", "PHONE", "NAME",
)

_PRIORITY = {name: rank for rank, name in enumerate(PII_TYPES)}


@dataclass(frozen=True)
class Match:
    """One detected piece of personal data.

    Parameters
    ----------
    type : str
        One of :data:`PII_TYPES`.
    start, end : int
        Character offsets of the span in the searched text (``end`` exclusive).
    value : str
        ``text[start:end]``.
    """

    type: str
    start: int
    end: int
    value: str


# ---------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------

_NON_DIGIT = re.compile(r"\D+")


def _digits(s: str) -> str:
    return _NON_DIGIT.sub("", s)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check used by payment cards.

    Parameters
    ----------
    digits : str
        Decimal digits (any Unicode decimal digits are accepted); anything
        else, or an empty string, is not valid.

    Returns
    -------
    bool
    """
    if not digits.isdecimal():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def snils_valid(digits: str) -> bool:
    """Whether an 11-digit string is a SNILS number with a correct check number.

    The check number is defined only for numbers above 001-001-998.
    """
    if len(digits) != 11 or not digits.isdecimal():
        return False
    body = digits[:9]
    if int(body) <= 1001998:
        return False
    s = sum(int(c) * w for c, w in zip(body, range(9, 0, -1)))
    if s < 100:
        check = s
    elif s in (100, 101):
        check = 0
    else:
        check = s % 101
        if check == 100:
            check = 0
    return check == int(digits[9:])


_INN10_W = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11_W = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_W = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn_valid(digits: str) -> bool:
    """Whether a 10- or 12-digit string is an INN with correct check digits."""
    if len(digits) not in (10, 12) or not digits.isdecimal() or digits[:2] == "00":
        return False
    v = [int(c) for c in digits]
    if len(v) == 10:
        return sum(a * b for a, b in zip(v, _INN10_W)) % 11 % 10 == v[9]
    return (
        sum(a * b for a, b in zip(v, _INN11_W)) % 11 % 10 == v[10]
        and sum(a * b for a, b in zip(v, _INN12_W)) % 11 % 10 == v[11]
    )


# Lengths from the SWIFT IBAN registry; an unknown country code is not an IBAN.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_valid(iban: str) -> bool:
    """Whether a compact upper-case IBAN has its registry length and mod-97 == 1."""
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isascii() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# ISO 4217 numeric currency codes, and 810, the pre-1998 rouble code Russian
# banks still put in rouble accounts. Digits 6-8 of an account are its currency.
_CURRENCY_CODES = frozenset("""
008 012 032 036 044 048 050 051 052 060 064 068 072 084 090 096 104 108 116 124 132 136 144
152 156 170 174 188 192 203 208 214 222 230 232 238 242 262 270 292 320 324 328 332 340 344
348 352 356 360 364 368 376 388 392 396 398 400 404 408 410 414 417 418 422 426 430 434 446
454 458 462 480 484 496 498 504 512 516 524 532 533 548 554 558 566 578 586 590 598 600 604
608 634 643 646 654 682 690 702 704 706 710 728 748 752 756 760 764 776 780 784 788 800 807
810 818 826 834 840 858 860 882 886 901 924 925 926 927 928 929 930 933 934 936 938 940 941
943 944 946 947 948 949 950 951 952 953 955 956 957 958 959 960 961 962 963 964 965 967 968
969 970 971 972 973 976 977 978 979 980 981 984 985 986 990 994 997 999
""".split())

_ACCOUNT_KEY_WEIGHTS = (7, 1, 3) * 8


def account_key_valid(account: str, bik: str) -> bool:
    """Whether a 20-digit Russian bank account passes the control key for a BIK.

    The Bank of Russia's rule: the last three digits of the BIK (for an
    account opened in a bank) or ``"0"`` and its 5th-6th digits (for a
    correspondent account at the Bank of Russia) are put before the
    account; the digits, weighted 7, 1, 3, 7, 1, 3 ..., must sum to a
    multiple of 10.

    Parameters
    ----------
    account : str
        20 decimal digits.
    bik : str
        The bank's 9-digit BIK.

    Returns
    -------
    bool
        True when either form of the key is right.

    Examples
    --------
    >>> account_key_valid("30101810400000000225", "044525225")
    True
    """
    if len(account) != 20 or len(bik) != 9 or not (account + bik).isdecimal():
        return False
    for prefix in (bik[-3:], "0" + bik[4:6]):
        digits = prefix + account
        if sum(int(c) * w for c, w in zip(digits, _ACCOUNT_KEY_WEIGHTS)) % 10 == 0:
            return True
    return False


def account_prefix_valid(account: str) -> bool:
    """Whether a 20-digit number reads as a Russian client bank account.

    Its first five digits must be a balance account of the section for
    operations with clients (401-479 in the Bank of Russia's chart of
    accounts: 40817 individuals, 40802 sole traders, 40702 companies, 423
    deposits, 455 loans ...) and digits 6-8 a currency code (810 or 643 for
    roubles, 840, 978, 156 ...). One random 20-digit number in about seventy
    passes. Banks' own accounts (correspondent 30101 ...) do not.
    """
    return (
        len(account) == 20
        and account.isdecimal()
        and 401 <= int(account[:3]) <= 479
        and account[5:8] in _CURRENCY_CODES
    )


# ---------------------------------------------------------------------------
# Context labels
# ---------------------------------------------------------------------------

# How far before a number its label may stand: a few words.
_WINDOW = 48

# Label words, lower case, by what they announce. "NEG" labels announce an
# identifier that is not personal data (order, contract, tracking, company
# registration numbers ...); "WEAK" markers (№, #) announce some identifier
# and defer to a type label before them. Every alternative starts with a
# literal so that the regex engine can skip non-matching ones cheaply.
_LABELS: dict[str, Sequence[str]] = {
    "PHONE": (
        r"тел(?:ефон\w*|\.)?", r"моб(?:ильн\w*|\.)?", r"сотов\w*", r"звон\w*", r"позвон\w*",
        r"перезвон\w*", r"набер\w*", r"связ\w*", r"whats\s?app", r"вотсап\w*", r"viber",
        r"вайбер\w*", r"telegram", r"телеграм\w*", r"смс", r"sms", r"phone\w*", r"tel\.?",
        r"mobile", r"cell(?:phone)?", r"call\w*", r"reach\s+me", r"text\s+me",
        r"contact\s+number",
    ),
    "CARD": (r"карт\w*", r"card\w*", r"visa", r"mastercard", r"maestro"),
    "INN": (
        r"инн\s*/\s*кпп", r"inn\s*/\s*kpp", r"инн", r"inn", r"tin", r"tax\s*(?:id|number)",
        r"taxpayer\w*", r"налогоплательщик\w*",
    ),
    "SNILS": (
        r"снилс\w*", r"snils", r"страхов\w*\s+(?:номер\w*|свидетельств\w*)",
        r"insurance\s+number",
    ),
    "PASSPORT": (
        r"паспорт\w*", r"загранпаспорт\w*", r"passport\w*", r"сери[яиюей]", r"series",
    ),
    "NEG": (
        r"заказ\w*", r"order\w*", r"договор\w*", r"contract\w*", r"сч[её]т\w*", r"invoice\w*",
        r"account\w*", r"трек\w*", r"track\w*", r"накладн\w*", r"обращени\w*", r"заявк\w*",
        r"ticket\w*", r"case", r"ref(?:erence)?", r"артикул\w*", r"sku", r"огрн\w*", r"кпп",
        r"бик", r"bic", r"окпо", r"оквэд", r"imei", r"промокод\w*", r"promo\w*", r"код\w*",
        r"code", r"id", r"квитанци\w*", r"чек\w*", r"receipt\w*", r"посылк\w*", r"parcel\w*",
        r"shipment\w*", r"лицев\w*", r"л/с", r"р/с", r"к/с", r"полис\w*", r"policy",
        r"серийн\w*", r"serial", r"верси\w*", r"version", r"брон\w*", r"booking\w*",
        r"билет\w*", r"рейс\w*", r"flight", r"пин", r"pin", r"cvv", r"cvc", r"штрих\w*",
        r"barcode",
    ),
    "WEAK": (r"№", r"#", r"no\.", r"nr\.?"),
}


def _label_trie(labels: Mapping[str, Sequence[str]]) -> str:
    """One alternation of all label words, grouped by first character.

    Grouping lets the engine reject a position after one comparison per
    first character instead of one per word.
    """
    by_first: dict[str, list[str]] = {}
    for words in labels.values():
        for word in words:
            by_first.setdefault(word[0], []).append(word[1:])
    return "|".join(
        re.escape(first) + "(?:" + "|".join(rests) + ")" for first, rests in by_first.items()
    )


# Matched against a lower-cased window, so no IGNORECASE (which would disable
# the literal fast path). The letter boundaries sit outside the alternation.
_LABEL_RE = re.compile(r"(?<![^\W\d_])(?:" + _label_trie(_LABELS) + r")(?![^\W\d_])")
# Every label starts with one of these; a window without any has no label.
_LABEL_CHAR = re.compile(r"[^\W\d_]|[№#]")
# Tells the kind of a word _LABEL_RE found.
_LABEL_KIND_RE = re.compile(
    "|".join(f"(?P<{kind}>{'|'.join(words)})" for kind, words in _LABELS.items())
)

# What may stand between an identifier label such as "заказ" and its number
# for the label to claim it: punctuation, "№" and the word "номер".
_TIGHT_GAP = re.compile(
    r"[\s:;.,№#\-\u2013\u2014()«»\"']*(?:(?:номер\w*|number|no|nr)[\s:;.,№#\-]*)?"
)

# Text right after a number that makes it an amount, not an identifier.
_AMOUNT_AFTER = re.compile(
    r"[ \u00a0]*(?:руб\w*|р\.|₽|rub\w*|usd|eur\w*|евро|доллар\w*|dollars?|тыс\w*|млн\w*|"
    r"млрд\w*|коп\w*|тенге|₸|грн\w*|gbp|[$€£%])",
    re.IGNORECASE,
)
_AMOUNT_BEFORE = re.compile(r"[$€£₽][ \u00a0]?$")


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------

# Numbers must not be carved out of a longer run of digits: no digit (or digit
# plus one separator) directly before or after the match.
_SEP = r"[ \u00a0\-.\u2010-\u2013]"
_NUM_START = rf"(?<![\w+])(?<!\d{_SEP})"
_NUM_END = rf"(?!{_SEP}?\d)"


def _at_least(k: int) -> str:
    """Lookahead for ``k`` number-like characters: rejects short numbers
    (dates, amounts) before the full pattern is tried."""
    return rf"(?=[\d \u00a0\-.()+\u2010-\u2013]{{{k}}})"


_EMAIL_RE = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,24}(?![\w\-])"
)

# IBAN: two letters, two check digits, then alphanumerics optionally grouped
# by single spaces; the registry length for the country decides where it
# ends. The boundary check follows the first letter so that the pattern
# starts with a character class, which the engine scans for quickly.
_IBAN_RE = re.compile(
    r"[A-Za-z](?<![A-Za-z0-9][A-Za-z])[A-Za-z]\d\d(?: ?[A-Za-z0-9]){10,30}", re.ASCII
)

# Chains of digit groups joined by single spaces or dashes; cards are found
# among their runs of whole groups.
_CHAIN_RE = re.compile(r"(?<!\d)(?=[\d \u00a0\-]{13})\d+(?:[ \u00a0\-]\d+)*")

_SNILS_RE = re.compile(
    _NUM_START
    + _at_least(14)
    + r"\d{3}[ \u00a0\-]\d{3}[ \u00a0\-]\d{3}[ \u00a0\-]{1,3}\d{2}"
    + _NUM_END
)

# Russian internal passport: 4-digit series (often written "45 06") and
# 6-digit number, possibly with "№"/"номер" between; the international
# passport: 2 + 7 digits; foreign passports: 6-9 digits. Label required.
_PASSPORT_RE = re.compile(
    _NUM_START
    + r"(?:\d{2}[ \u00a0]?\d{2}[ \u00a0]*[,;:]?[ \u00a0]*"
    r"(?:(?:№|номер\w*|number|no\.?|nr\.?|#)[ \u00a0]*[.:]?[ \u00a0]*)?\d{6}"
    r"|\d{2}[ \u00a0]?\d{7}|(?P<foreign>[A-Za-z]{0,2}\d{6,9}))"
    + _NUM_END,
    re.IGNORECASE,
)

# A Russian passport number needs one of these words in the text.
_PASSPORT_HINTS = ("паспорт", "passport", "сери")

# Russian phones: an optional "+", an optional trunk/country digit, an optional
# parenthesised area code, then digits with single separators. Digit count and
# grouping are checked afterwards.
_RU_PHONE_RE = re.compile(
    _NUM_START
    + _at_least(10)
    + r"(?P<plus>\+[ \u00a0]?)?(?:\d" + _SEP + r"?)?"
    r"(?:\([ \u00a0]?\d{3,5}[ \u00a0]?\)" + _SEP + r"?)?"
    r"\d(?:" + _SEP + r"?\d){5,11}"
    + _NUM_END
)

# International phones written with a leading "+"; "(0)" trunk digits allowed.
_INTL_PHONE_RE = re.compile(
    _NUM_START
    + _at_least(9)
    + r"\+[ \u00a0]?\d(?:" + _SEP + r"?(?:\(\d{1,4}\)" + _SEP + r"?)?\d){6,15}"
    + _NUM_END
)

# North American numbers without "+": (555) 123-4567, 202-555-0143, 1-800-...
_NANP_PHONE_RE = re.compile(
    _NUM_START
    + _at_least(12)
    + r"(?:1" + _SEP + r"?)?(?:\([2-9]\d\d\)[ \u00a0]?|[2-9]\d\d" + _SEP + r")\d{3}" + _SEP
    + r"\d{4}" + _NUM_END
)

# National numbers with a leading 0 (UK and most of Europe): 020 7946 0958.
_ZERO_PHONE_RE = re.compile(
    _NUM_START
    + _at_least(10)
    + r"(?:\(0\d{2,4}\)|0\d{2,4})" + _SEP + r"?\d{3,4}" + _SEP + r"?\d{3,4}" + _NUM_END
)

# Local seven-digit numbers (345-67-89); only after a phone label.
_LOCAL_PHONE_RE = re.compile(_NUM_START + _at_least(9) + r"\d{3}[\-. ]\d{2}[\-. ]\d{2}" + _NUM_END)

# Bare digit runs: classified by length, checksum and label.
_RUN_RE = re.compile(r"(?<!\d)\d{7,}(?!\d)")

_ANY_DIGIT = re.compile(r"\d")
_NUMBERISH = re.compile(r"\d[\d \u00a0\-.()+\u2010-\u2013]*")
_DROP_SEPARATORS = str.maketrans("", "", " \u00a0-.()+\u2010\u2011\u2012\u2013")
_GROUPS = re.compile(r"\d+")
_ATTACHED_BEFORE = re.compile(r"\w[\-_]$")
_ATTACHED_AFTER = re.compile(r"[\-_]\w")

# Zones: stretches of text with at least six digits, no two of them more
# than twelve characters apart ("4506 номер 123456"). Only zones are searched
# for numbers; a zone shorter than any identifier cannot hold one.
_ZONE_RE = re.compile(r"\d(?:\D{0,12}\d){5,}")

# Allowed groupings of the ten national digits of a Russian number.
_RU_GROUPINGS = {
    (10,), (3, 7), (3, 3, 4), (3, 3, 2, 2), (3, 2, 2, 3), (4, 2, 2, 2), (4, 3, 3),
    (5, 1, 2, 2), (5, 5), (3, 4, 3),
}


def _groups(s: str) -> list[int]:
    return [len(g) for g in _GROUPS.findall(s)]


def _thousands(groups: Sequence[int]) -> bool:
    """Digit groups that look like a number with thousands separators."""
    return len(groups) >= 3 and all(g == 3 for g in groups[1:])


def _split_national(groups: Sequence[int], prefix: int) -> list[int] | None:
    """Drop ``prefix`` leading digits from a grouping; None if they straddle groups."""
    first = groups[0]
    if first == prefix:
        return list(groups[1:])
    if first > prefix:
        return [first - prefix, *groups[1:]]
    return None


class _Scan:
    """State of one :meth:`PIIRedactor.find` call: the text, the zones of it
    that hold enough digits to matter, and memoised label look-ups.

    Created per call, so redactors share nothing mutable between threads.
    """

    __slots__ = ("text", "zones", "_labels", "_lower")

    def __init__(self, text: str, focus: Sequence[tuple[int, int]] | None = None) -> None:
        self.text = text
        self._labels: dict[int, list[tuple[str, bool]]] = {}
        self._lower: str | None = None
        n = len(text)
        zones = []
        if focus is not None:
            focus_starts = [f[0] for f in focus]
            focus_ends = [f[1] for f in focus]
        for m in _ZONE_RE.finditer(text):
            # Margins for "+7 (" and IBAN letters before, end-of-number checks after.
            lo, hi = max(0, m.start() - 4), min(n, m.end() + 2)
            if focus is not None:
                # Only zones near a replaced span (sorted, disjoint) can hold
                # something new; labels reach _WINDOW characters forward.
                i = bisect_left(focus_ends, lo - _WINDOW - 8)
                if i == len(focus) or focus_starts[i] > hi + 8:
                    continue
            zone = m.group()
            # The most digits one number written with separators can have
            # here gates the patterns: "заказ 123456789 от 12.03.2024" has
            # no room for a phone.
            longest = max(len(g.translate(_DROP_SEPARATORS)) for g in _NUMBERISH.findall(zone))
            zones.append((lo, hi, longest, "+" in text[lo:hi]))
        #: (start, end, digits of the longest number-like stretch, has "+")
        self.zones = zones

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    def finditer(
        self, pattern: re.Pattern[str], min_digits: int, plus: bool = False
    ) -> Iterator[re.Match[str]]:
        """Matches of ``pattern`` in zones holding a number-like stretch of at
        least ``min_digits`` digits (and a "+" when ``plus``)."""
        for lo, hi, longest, has_plus in self.zones:
            if longest >= min_digits and (has_plus or not plus):
                yield from pattern.finditer(self.text, lo, hi)

    def labels(self, start: int) -> list[tuple[str, bool]]:
        """Labels in the window before ``start``, nearest first, as (kind, tight)."""
        found = self._labels.get(start)
        if found is None:
            found = []
            lo = max(0, start - _WINDOW)
            if _LABEL_CHAR.search(self.text, lo, start) is None:
                self._labels[start] = found
                return found
            window = self.text[lo:start].lower()
            for m in _LABEL_RE.finditer(window):
                k = _LABEL_KIND_RE.fullmatch(m.group())
                kind = k.lastgroup if k is not None and k.lastgroup else "WEAK"
                tight = kind == "NEG" and _TIGHT_GAP.fullmatch(window, m.end()) is not None
                found.append((kind, tight))
            found.reverse()
            self._labels[start] = found
        return found

    def label(self, start: int) -> str | None:
        """Kind of label that claims the number starting at ``start``, or None.

        The nearest type label wins ("ИНН", "телефон" ...). An identifier
        label ("заказ", "order") wins only when it stands right before the
        number ("заказ № 123", "номер заказа: 123"); further away it is
        usually part of the sentence ("ошибка в договоре, мой СНИЛС ...").
        """
        weak = False
        for kind, tight in self.labels(start):
            if kind == "WEAK":
                weak = True
            elif kind == "NEG":
                if weak or tight:
                    return "NEG"
            else:
                return kind
        return "NEG" if weak else None

    def type_label(self, start: int) -> str | None:
        """The nearest type label before ``start``, ignoring identifier labels."""
        for kind, _ in self.labels(start):
            if kind not in ("NEG", "WEAK"):
                return kind
        return None

    def is_amount(self, start: int, end: int) -> bool:
        text = self.text
        return bool(
            _AMOUNT_AFTER.match(text, end)
            or _AMOUNT_BEFORE.search(text, max(0, start - 2), start)
        )


# ---------------------------------------------------------------------------
# Candidate generators: each yields (type, start, end)
# ---------------------------------------------------------------------------

_Cand = tuple[str, int, int]


def _emails(scan: _Scan) -> Iterator[_Cand]:
    text = scan.text
    done = 0
    at = text.find("@")
    while at >= 0:
        # A local part has at most 64 characters; start the search there
        # rather than scanning every word of the text.
        m = _EMAIL_RE.search(text, max(done, at - 64))
        if m is None:
            return
        yield "EMAIL", m.start(), m.end()
        done = m.end()
        at = text.find("@", done)


def _iban_matches(scan: _Scan) -> Iterator[re.Match[str]]:
    text = scan.text
    n = len(text)
    for lo, hi, longest, _ in scan.zones:
        # Every IBAN holds a run of at least ten digits (NL91 ABNA 0417 1643 00).
        if longest < 10:
            continue
        # IBANs of some countries end in letters after the last digit.
        yield from _IBAN_RE.finditer(text, lo, min(n, hi + 34))


def _ibans(scan: _Scan) -> Iterator[_Cand]:
    text = scan.text
    for m in _iban_matches(scan):
        s = m.group()
        length = _IBAN_LENGTHS.get(s[:2].upper())
        if length is None:
            continue
        # Walk to the registry length; the greedy match may have swallowed a
        # following word such as "EUR".
        count = 0
        end = -1
        for i, ch in enumerate(s):
            if ch != " ":
                count += 1
                if count == length:
                    end = i + 1
                    break
        if end < 0:
            continue
        abs_end = m.start() + end
        if abs_end < len(text) and text[abs_end].isascii() and text[abs_end].isalnum():
            continue
        if iban_valid(s[:end].replace(" ", "").upper()):
            yield "IBAN", m.start(), abs_end


def _card_window_ok(groups: Sequence[str]) -> bool:
    if len(groups) > 1 and not all(3 <= len(g) <= 6 for g in groups):
        return False
    digits = "".join(groups)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _cards(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_CHAIN_RE, 13):
        chain = m.group()
        base = m.start()
        spans = [g.span() for g in _GROUPS.finditer(chain)]
        # 19 digits and 18 separators at most make a whole-chain card.
        if len(chain) <= 37 and _card_window_ok([chain[a:b] for a, b in spans]):
            # Luhn passes for one number in ten, so other 13-19 digit
            # identifiers (IMEI, OGRN, tracking numbers) can pass: their
            # label overrides, except for 16-digit numbers.
            if sum(b - a for a, b in spans) == 16 or scan.label(base) != "NEG":
                yield "CARD", base, m.end()
            continue
        # A card next to other numbers ("картой 4111 1111 1111 1111 12.03.2024",
        # "+7 4111 ..."): try runs of whole groups. Not inside a code glued
        # to letters (a mistyped IBAN "IT44 E040 0993 ...") or after an
        # identifier label.
        if (base and scan.text[base - 1].isalpha()) or scan.label(base) == "NEG":
            continue
        for i in range(len(spans)):
            total = 0
            for j in range(i, min(i + 7, len(spans))):
                size = spans[j][1] - spans[j][0]
                if not 3 <= size <= 19:
                    break
                total += size
                if total > 19:
                    break
                if total >= 13 and _card_window_ok([chain[a:b] for a, b in spans[i:j + 1]]):
                    yield "CARD", base + spans[i][0], base + spans[j][1]


def _snils(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_SNILS_RE, 11):
        if snils_valid(_digits(m.group())):
            yield "SNILS", m.start(), m.end()


def _passports(scan: _Scan) -> Iterator[_Cand]:
    low = scan.lower
    if not any(hint in low for hint in _PASSPORT_HINTS):
        return
    text = scan.text
    # Words may separate series and number, so every zone is searched.
    for lo, hi, _, _ in scan.zones:
        for m in _PASSPORT_RE.finditer(text, lo, hi):
            if m.group("foreign"):
                # A bare 6-9 digit number is a passport only right after its label.
                ok = scan.label(m.start()) == "PASSPORT"
            else:
                # Series and number: the nearest type label decides, so that
                # "паспортные данные для договора: 4506 123456" counts.
                ok = scan.type_label(m.start()) == "PASSPORT"
            if ok:
                yield "PASSPORT", m.start(), m.end()


def _ru_phones(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_RU_PHONE_RE, 10):
        s = m.group()
        plus = bool(m.group("plus"))
        groups = _groups(s)
        if len(groups) == 1 and not plus:
            continue  # a bare run: _classify_run decides with its label
        digits = _digits(s)
        national: list[int] | None
        if plus:
            # "+7 ..." only; other country codes go to the international rule.
            if len(digits) != 11 or digits[0] != "7":
                continue
            national = _split_national(groups, 1)
        elif len(digits) == 11 and digits[0] in "78":
            national = _split_national(groups, 1)
        elif len(digits) == 10 and digits[0] in "3489":
            national = groups
        else:
            continue
        if national is None or tuple(national) not in _RU_GROUPINGS:
            continue
        if not plus and scan.is_amount(m.start(), m.end()):
            continue
        yield "PHONE", m.start(), m.end()


def _intl_phones(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_INTL_PHONE_RE, 8, plus=True):
        s = m.group()
        digits = _digits(s)
        if not 8 <= len(digits) <= 15 or digits[0] == "0":
            continue
        # A "(0)" trunk digit does not count as a group.
        groups = _groups(s.replace("(0)", ""))
        if _thousands(groups) or any(g == 1 for g in groups[2:]):
            continue
        if scan.is_amount(m.start(), m.end()):
            continue
        yield "PHONE", m.start(), m.end()


def _nanp_phones(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_NANP_PHONE_RE, 10):
        if scan.label(m.start()) in (None, "PHONE") and not scan.is_amount(m.start(), m.end()):
            yield "PHONE", m.start(), m.end()


def _zero_phones(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_ZERO_PHONE_RE, 10):
        digits = _digits(m.group())
        groups = _groups(m.group())
        if (
            10 <= len(digits) <= 11
            and len(groups) > 1  # a bare run: _classify_run decides
            and digits[1] != "0"
            and not _thousands(groups)
            and scan.label(m.start()) in (None, "PHONE")
            and not scan.is_amount(m.start(), m.end())
        ):
            yield "PHONE", m.start(), m.end()


def _local_phones(scan: _Scan) -> Iterator[_Cand]:
    text = scan.text
    for m in scan.finditer(_LOCAL_PHONE_RE, 7):
        # The tail of "(912) 345-67-89" is not a local number of its own.
        if ")" not in text[max(0, m.start() - 2):m.start()] and scan.label(m.start()) == "PHONE":
            yield "PHONE", m.start(), m.end()


def _runs(scan: _Scan) -> Iterator[_Cand]:
    for m in scan.finditer(_RUN_RE, 7):
        kind = _classify_run(scan, m.start(), m.end(), m.group())
        if kind is not None:
            yield kind, m.start(), m.end()


def _classify_run(scan: _Scan, start: int, end: int, d: str) -> str | None:
    """Type of a bare run of 7+ digits, from its length, checksums and label."""
    n = len(d)
    if n == 16 and luhn_valid(d):
        return "CARD"
    if n in (8, 9) or n > 19:
        return None  # no identifier here has that many digits
    text = scan.text
    if _ATTACHED_BEFORE.search(text, max(0, start - 2), start) or _ATTACHED_AFTER.match(text, end):
        return None  # part of a composite code such as INV-2018-76774640876
    label = scan.label(start)
    if 13 <= n <= 19:
        return "CARD" if label != "NEG" and luhn_valid(d) else None
    if label == "NEG" or scan.is_amount(start, end):
        return None
    if label == "PHONE" and n in (7, 10, 11, 12):
        return "PHONE"
    if n == 11:
        if label == "SNILS":
            return "SNILS" if snils_valid(d) else None
        if d[0] in "78" and d[1] in "3456789":
            return "PHONE"
        if d[0] == "0" and d[1] != "0":
            return "PHONE"
        return "SNILS" if label is None and snils_valid(d) else None
    if n == 10:
        if label == "INN":
            return "INN" if inn_valid(d) else None
        # Russian mobile numbers written without the trunk 8: 9123456789.
        if label is None and d[0] == "9":
            return "PHONE"
        # One random number in ten passes the single INN-10 check digit; an
        # unlabelled one is still taken for an INN (see the module notes).
        return "INN" if label is None and inn_valid(d) else None
    if n == 12 and label in ("INN", None):
        return "INN" if inn_valid(d) else None
    return None


# Chains of digit groups joined by one space, dash or dot; 20-digit accounts are
# found among their runs of whole groups ("40817 810 0 9999 1000431").
_ACCOUNT_CHAIN_RE = re.compile(r"(?<!\d)(?=[\d \u00a0\-.]{20})\d+(?:[ \u00a0\-.]\d+)*")
# Every Russian BIK starts with 04.
_BIK_RE = re.compile(r"(?<!\d)04\d{7}(?!\d)")
# The nearest of these words before a 20-digit number says what it is: an
# account ("р/с", "счёт", "account"), a bank's correspondent account, or a
# 20-digit code that is not an account (budget classification code, payment
# identifier, tracking or order number).
_ACCOUNT_WORDS_RE = re.compile(
    r"(?<![^\W\d_])(?:(?P<acc>сч[её]т\w*|р/сч?|л/сч?|расч[её]тн\w*|лицев\w*|реквизит\w*"
    r"|account\w*|acc|a/c)|(?P<corr>к/сч?|корр\w*|corr\w*)"
    r"|(?P<neg>кбк|kbk|уин|uin|уип|октмо|oktmo|штрих\w*|barcode|трек\w*|track\w*|заказ\w*"
    r"|order\w*|накладн\w*|операци\w*|transaction\w*|идентификатор\w*|квитанци\w*|чек\w*"
    r"|receipt\w*))(?![^\W\d_])"
)
# Groupings of the 20 digits other than runs of three or more: balance
# account, currency, key, branch, number.
_ACCOUNT_GROUPINGS = {(5, 3, 1, 4, 7), (5, 3, 1, 11), (3, 2, 3, 1, 4, 7)}


def _account_word(scan: _Scan, start: int) -> str | None:
    found = None
    for m in _ACCOUNT_WORDS_RE.finditer(scan.lower, max(0, start - _WINDOW), start):
        found = m.lastgroup
    return found


def _is_account(scan: _Scan, start: int, end: int, digits: str, biks: list[str]) -> bool:
    """Whether a 20-digit number is a client's bank account (see the module notes)."""
    if digits[0] == "3" or scan.is_amount(start, end):
        return False  # section 3 holds banks' own and interbank accounts
    word = _account_word(scan, start)
    if word == "neg":
        return False
    if any(account_key_valid(digits, bik) for bik in biks):
        return True
    return account_prefix_valid(digits) or word == "acc"


def _accounts(scan: _Scan) -> Iterator[_Cand]:
    biks: list[str] | None = None
    for m in scan.finditer(_ACCOUNT_CHAIN_RE, 20):
        chain = m.group()
        base = m.start()
        spans = [g.span() for g in _GROUPS.finditer(chain)]
        for i in range(len(spans)):
            total = 0
            j = i
            while j < len(spans) and total < 20:
                total += spans[j][1] - spans[j][0]
                j += 1
            if total != 20:
                continue
            sizes = tuple(b - a for a, b in spans[i:j])
            if min(sizes) < 3 and sizes not in _ACCOUNT_GROUPINGS:
                continue
            if biks is None:
                biks = _BIK_RE.findall(scan.text)
            digits = "".join(chain[a:b] for a, b in spans[i:j])
            start, end = base + spans[i][0], base + spans[j - 1][1]
            if _is_account(scan, start, end, digits, biks):
                yield "ACCOUNT", start, end


_Generator = Callable[[_Scan], Iterator[_Cand]]

# Which generators serve which type; a redactor runs only those it needs.
_GENERATORS: Mapping[str, tuple[_Generator, ...]] = {
    "EMAIL": (_emails,),
    "IBAN": (_ibans,),
    "ACCOUNT": (_accounts,),
    "CARD": (_cards, _runs),
    "SNILS": (_snils, _runs),
    "PASSPORT": (_passports,),
    "INN": (_runs,),
    "PHONE": (_ru_phones, _intl_phones, _nanp_phones, _zero_phones, _local_phones, _runs),
}

# Generators that only look inside digit zones.
_ZONED = frozenset(
    {_ibans, _accounts, _cards, _snils, _passports, _ru_phones, _intl_phones, _nanp_phones,
     _zero_phones, _local_phones, _runs}
)


def _generators_for(types: frozenset[str]) -> tuple[_Generator, ...]:
    seen: dict[_Generator, None] = {}
    for t in PII_TYPES:
        if t in types and t in _GENERATORS:
            for g in _GENERATORS[t]:
                seen.setdefault(g, None)
    return tuple(seen)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _normalise_types(types: Iterable[str] | str | None) -> frozenset[str]:
    if types is None:
        return frozenset(PII_TYPES)
    if isinstance(types, str):
        types = (types,)
    chosen = frozenset(str(t).upper() for t in types)
    unknown = chosen - set(PII_TYPES)
    if unknown:
        raise ConfigurationError(
            f"Unknown PII type(s) {sorted(unknown)}; choose from {list(PII_TYPES)}."
        )
    return chosen


class PIIRedactor:
    """Find and replace personal data with typed placeholders.

    Parameters
    ----------
    types : iterable of str or None, default=None
        Entity types to detect, a subset of :data:`PII_TYPES`
        (``"EMAIL"``, ``"IBAN"``, ``"ACCOUNT"``, ``"CARD"``, ``"SNILS"``,
        ``"PASSPORT"``, ``"INN"``, ``"PHONE"``, ``"NAME"``); None means all
        of them.
    names : {"auto", "rules", "ner"}, default="auto"
        How person names are found (see :mod:`~sklearn_llmcluster.privacy.names`):
        ``"rules"`` with patterns only, ``"ner"`` with natasha's Russian NER
        model and dictionary as well (``pip install sklearn-llmcluster[ner]``),
        ``"auto"`` with NER when natasha is installed.

    Raises
    ------
    ConfigurationError
        For an unknown type or ``names`` value, and for ``names="ner"``
        when natasha is not installed.

    Notes
    -----
    An instance holds only its configuration: it is safe to share between
    threads and can be pickled (the NER model is loaded once per process, on
    first use, and never pickled). Placeholders are ``"<" + type + ">"``.

    Examples
    --------
    >>> PIIRedactor().redact("Звоните +7 (912) 345-67-89, почта ivan@mail.ru")
    'Звоните <PHONE>, почта <EMAIL>'
    >>> PIIRedactor(types=["EMAIL"]).redact("ivan@mail.ru, 89123456789")
    '<EMAIL>, 89123456789'
    """

    def __init__(self, types: Iterable[str] | str | None = None, names: str = "auto") -> None:
        self.types = _normalise_types(types)
        if names not in NAME_MODES:
            raise ConfigurationError(
                f"names must be one of {list(NAME_MODES)}, got {names!r}."
            )
        if names == "ner" and not ner_available():
            raise ConfigurationError(
                "names='ner' needs natasha: pip install sklearn-llmcluster[ner]"
            )
        self.names = names
        self._generators = _generators_for(self.types)

    def __repr__(self) -> str:
        args = []
        if self.types != frozenset(PII_TYPES):
            args.append(f"types={[t for t in PII_TYPES if t in self.types]!r}")
        if self.names != "auto":
            args.append(f"names={self.names!r}")
        return f"PIIRedactor({', '.join(args)})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PIIRedactor) and other.types == self.types
                and other.names == self.names)

    def __hash__(self) -> int:
        return hash((self.types, self.names))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Redactors pickled before names existed.
        state.setdefault("names", "auto")
        self.__dict__.update(state)

    def find(self, text: str) -> list[Match]:
        """Detect personal data in ``text``.

        Parameters
        ----------
        text : str
            Any text.

        Returns
        -------
        list of Match
            Non-overlapping matches sorted by start offset. Where candidate
            spans overlap, the longest wins, then the type earlier in
            :data:`PII_TYPES`.
        """
        return self._find(text, None)

    def _find(self, text: str, focus: Sequence[tuple[int, int]] | None) -> list[Match]:
        types = self.types
        candidates: set[_Cand] = set()
        if "NAME" in types:
            # Names are looked for in the whole text on every pass: a model
            # reads the sentence, not a window around what was replaced.
            candidates.update(("NAME", s, e) for s, e in find_names(text, self.names))
        if "@" in text or _ANY_DIGIT.search(text) is not None:
            scan = _Scan(text, focus)
            for generate in self._generators:
                if not scan.zones and generate in _ZONED:
                    continue
                for cand in generate(scan):
                    if cand[0] in types:
                        candidates.add(cand)
        if not candidates:
            return []
        ordered = sorted(candidates, key=lambda c: (c[1] - c[2], _PRIORITY[c[0]], c[1]))
        # Kept spans are disjoint, so their starts and ends sort alike and an
        # overlap check needs only the neighbours found by bisection.
        kept: list[_Cand] = []
        starts: list[int] = []
        ends: list[int] = []
        for cand in ordered:
            _, s, e = cand
            i = bisect_right(starts, s)
            if (i and ends[i - 1] > s) or (i < len(starts) and starts[i] < e):
                continue
            starts.insert(i, s)
            ends.insert(i, e)
            kept.insert(i, cand)
        return [Match(t, s, e, text[s:e]) for t, s, e in kept]

    def redact(self, text: str) -> str:
        """Replace every detected entity with its placeholder.

        Detection is repeated on the result until nothing more is found, so
        that a number hidden next to another one is caught once its
        neighbour is replaced; the result is therefore a fixed point
        (``redact(redact(x)) == redact(x)``).

        Parameters
        ----------
        text : str
            Any text.

        Returns
        -------
        str
            The text with placeholders such as ``<PHONE>`` in place of
            personal data.
        """
        matches = self._find(text, None)
        # Each pass removes at least one digit, '@' or letter outside a
        # placeholder (names touching a placeholder are not found), so this
        # terminates.
        while matches:
            parts = []
            replaced = []
            pos = 0
            length = 0
            for m in matches:
                parts.append(text[pos:m.start])
                length += m.start - pos
                placeholder = f"<{m.type}>"
                parts.append(placeholder)
                replaced.append((length, length + len(placeholder)))
                length += len(placeholder)
                pos = m.end
            parts.append(text[pos:])
            text = "".join(parts)
            # Elsewhere the text is unchanged and held nothing more.
            matches = self._find(text, replaced)
        return text


_DEFAULT = PIIRedactor()


def redact_pii(text: str, *, types: Iterable[str] | str | None = None) -> str:
    """Replace personal data in ``text`` with typed placeholders.

    Parameters
    ----------
    text : str
        Any text, typically one prompt message.
    types : iterable of str or None, default=None
        Entity types to redact (see :class:`PIIRedactor`); None means all.

    Returns
    -------
    str
        The redacted text.

    Examples
    --------
    >>> redact_pii("Карта 4111 1111 1111 1111, списали 1500 рублей 12.03.2024")
    'Карта <CARD>, списали 1500 рублей 12.03.2024'
    """
    redactor = _DEFAULT if types is None else PIIRedactor(types)
    return redactor.redact(text)


def find_pii(text: str, *, types: Iterable[str] | str | None = None) -> list[Match]:
    """Detect personal data in ``text``; see :meth:`PIIRedactor.find`."""
    redactor = _DEFAULT if types is None else PIIRedactor(types)
    return redactor.find(text)


def evaluate_redaction(
    records: Iterable[Mapping[str, Any]], redactor: PIIRedactor | None = None
) -> dict[str, dict[str, float]]:
    """Precision and recall per type on a labelled corpus.

    A gold entity counts as found when a predicted span of the same type
    overlaps it; a prediction counts as correct when it overlaps a gold
    entity of the same type.

    Parameters
    ----------
    records : iterable of mapping
        Each with ``"text"`` and ``"entities"``, a list of mappings with
        ``"type"``, ``"start"`` and ``"end"``.
    redactor : PIIRedactor or None, default=None
        The detector to evaluate; None means all types.

    Returns
    -------
    dict
        ``{type: {"n", "predicted", "found", "exact", "correct",
        "precision", "recall"}}`` for every type in :data:`PII_TYPES`, plus
        an ``"ALL"`` row. Precision is 1.0 when nothing was predicted and
        recall is 1.0 when there is nothing to find.
    """
    redactor = redactor or _DEFAULT
    keys = (*PII_TYPES, "ALL")
    counts = {t: {"n": 0, "predicted": 0, "found": 0, "exact": 0, "correct": 0} for t in keys}
    for rec in records:
        text = str(rec["text"])
        gold = [(str(e["type"]), int(e["start"]), int(e["end"])) for e in rec["entities"]]
        pred = [(m.type, m.start, m.end) for m in redactor.find(text)]
        for t, s, e in gold:
            for key in (t, "ALL"):
                counts[key]["n"] += 1
            hits = [(ps, pe) for pt, ps, pe in pred if pt == t and ps < e and s < pe]
            if hits:
                for key in (t, "ALL"):
                    counts[key]["found"] += 1
                    counts[key]["exact"] += (s, e) in hits
        for t, s, e in pred:
            for key in (t, "ALL"):
                counts[key]["predicted"] += 1
            if any(gt == t and gs < e and s < ge for gt, gs, ge in gold):
                for key in (t, "ALL"):
                    counts[key]["correct"] += 1
    result: dict[str, dict[str, float]] = {}
    for t, c in counts.items():
        row: dict[str, float] = dict(c)
        row["precision"] = c["correct"] / c["predicted"] if c["predicted"] else 1.0
        row["recall"] = c["found"] / c["n"] if c["n"] else 1.0
        result[t] = row
    return result
