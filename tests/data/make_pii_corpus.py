"""Generate ``pii_corpus.jsonl``, the labelled corpus for the PII redaction tests.

Every line is ``{"text": ..., "entities": [{"type", "start", "end"}, ...]}``.
Texts are contact-centre requests in Russian and English built from
hand-written templates; identifiers are generated here with valid checksums
(Luhn cards, mod-97 IBANs, SNILS and INN check digits, bank accounts with the
control key of a BIK). Person names (``NAME``) come in every case and written
form of a Russian full name (Иванова Анна Сергеевна, Ивановой А.С.,
А. С. Иванова, Анне Сергеевне ...), as signatures and as English names. Many
texts carry only hard negatives: amounts, dates, times, order, contract,
tracking and company registration numbers, IMEIs, Luhn-invalid card-like
numbers, INN and SNILS with wrong check digits, correspondent accounts, budget
codes and other 20-digit numbers, and words that look like names (flowers,
brands, towns, months, streets named after people).

An entity span runs from the first to the last character of the identifier
("4506 номер 123456" for "серия 4506 номер 123456"); label words such as
"паспорт" or "ИНН" are not part of it.

Run ``python tests/data/make_pii_corpus.py`` to rewrite the file; the seed is
fixed, so the output is reproducible.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
from pathlib import Path
from typing import Callable

SEED = 20240312
FILLS_PER_TEMPLATE = 4
OUT = Path(__file__).with_name("pii_corpus.jsonl")

rng = random.Random(SEED)


def digits(n: int, first: str = "0123456789") -> str:
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


# ---------------------------------------------------------------------------
# Checksummed identifiers
# ---------------------------------------------------------------------------


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def luhn_ok(num: str) -> bool:
    return luhn_digit(num[:-1]) == num[-1]


def card_number() -> str:
    kind = rng.choice(["visa", "visa", "mc", "mc", "mir", "mir", "amex", "unionpay", "maestro"])
    if kind == "visa":
        body = "4" + digits(14)
    elif kind == "mc":
        body = rng.choice(["51", "52", "53", "54", "55", "22"]) + digits(13)
    elif kind == "mir":
        body = "220" + rng.choice("01234") + digits(11)
    elif kind == "amex":
        body = rng.choice(["34", "37"]) + digits(12)
    elif kind == "unionpay":
        body = "62" + digits(rng.choice([13, 16]))
    else:
        body = rng.choice(["6762", "5018", "6304"]) + digits(rng.choice([11, 14]))
    return body + luhn_digit(body)


def format_card(num: str) -> str:
    if len(num) == 15:
        return rng.choice(
            [f"{num[:4]} {num[4:10]} {num[10:]}", num, f"{num[:4]}-{num[4:10]}-{num[10:]}"]
        )
    groups = [num[i:i + 4] for i in range(0, len(num), 4)]
    return rng.choice([" ".join(groups), " ".join(groups), "-".join(groups), num])


def card() -> str:
    return format_card(card_number())


def bad_card() -> str:
    """A 16-digit card-like number that fails the Luhn check."""
    body = rng.choice(["4", "5", "2200"])
    body += digits(15 - len(body))
    check = luhn_digit(body)
    wrong = str((int(check) + rng.randint(1, 9)) % 10)
    return format_card(body + wrong)


IBAN_BBAN = {
    # country: BBAN layout ("n" digit, "a" upper-case letter)
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "FR": "n" * 23,
    "ES": "n" * 20,
    "IT": "a" + "n" * 22,
    "NL": "aaaa" + "n" * 10,
    "KZ": "n" * 16,
    "BY": "aaaa" + "n" * 20,
    "CH": "n" * 17,
    "TR": "n" * 22,
    "UA": "n" * 25,
    "AE": "n" * 19,
    "PL": "n" * 24,
    "CY": "n" * 24,
    "GE": "aa" + "n" * 16,
    "LT": "n" * 16,
}


def iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    value = int("".join(str(int(ch, 36)) for ch in rearranged))
    return f"{98 - value % 97:02d}"


def iban(valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_BBAN))
    bban = "".join(
        rng.choice(string.ascii_uppercase) if c == "a" else rng.choice(string.digits)
        for c in IBAN_BBAN[country]
    )
    check = iban_check(country, bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 97 + 2:02d}"
        if check == iban_check(country, bban):
            check = f"{(int(check) + 1) % 97 + 2:02d}"
    compact = country + check + bban
    if rng.random() < 0.65:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def snils_number(valid: bool = True) -> str:
    while True:
        body = digits(9, "0123456789")
        if int(body) > 1001998:
            break
    s = sum(int(c) * w for c, w in zip(body, range(9, 0, -1)))
    if s < 100:
        check = s
    elif s in (100, 101):
        check = 0
    else:
        check = s % 101
        if check == 100:
            check = 0
    if not valid:
        check = (check + rng.randint(1, 98)) % 100
    return body + f"{check:02d}"


def format_snils(num: str, allow_bare: bool) -> str:
    options = [
        f"{num[:3]}-{num[3:6]}-{num[6:9]} {num[9:]}",
        f"{num[:3]}-{num[3:6]}-{num[6:9]} {num[9:]}",
        f"{num[:3]}-{num[3:6]}-{num[6:9]}-{num[9:]}",
        f"{num[:3]} {num[3:6]} {num[6:9]} {num[9:]}",
    ]
    if allow_bare:
        options.append(num)
    return rng.choice(options)


INN10_W = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN11_W = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_W = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
REGIONS = ["77", "78", "50", "52", "54", "66", "16", "02", "23", "61", "63", "74", "24", "38", "59"]


def inn10(valid: bool = True) -> str:
    body = rng.choice(REGIONS) + digits(7)
    check = sum(int(c) * w for c, w in zip(body, INN10_W)) % 11 % 10
    if not valid:
        check = (check + rng.randint(1, 9)) % 10
    return body + str(check)


def inn12(valid: bool = True) -> str:
    body = rng.choice(REGIONS) + digits(8)
    c1 = sum(int(c) * w for c, w in zip(body, INN11_W)) % 11 % 10
    body += str(c1)
    c2 = sum(int(c) * w for c, w in zip(body, INN12_W)) % 11 % 10
    if not valid:
        c2 = (c2 + rng.randint(1, 9)) % 10
    return body + str(c2)


def inn() -> str:
    return inn10() if rng.random() < 0.5 else inn12()


def passport() -> str:
    region = rng.choice(REGIONS + ["45", "40", "46", "11", "03", "92"])
    series = region + f"{rng.randint(0, 24):02d}"
    number = digits(6, "123456789")
    return rng.choice(
        [
            f"{series[:2]} {series[2:]} {number}",
            f"{series[:2]} {series[2:]} {number}",
            f"{series} {number}",
            f"{series} {number}",
            f"{series}{number}",
            f"{series[:2]} {series[2:]} № {number}",
            f"{series} №{number}",
            f"{series} номер {number}",
            f"{series}, номер {number}",
        ]
    )


def passport_plain() -> str:
    """Series and number without words between them (for templates that have them)."""
    series = rng.choice(REGIONS) + f"{rng.randint(0, 24):02d}"
    number = digits(6, "123456789")
    return rng.choice(
        [f"{series[:2]} {series[2:]} {number}", f"{series} {number}", f"{series}{number}"]
    )


def passport_international() -> str:
    return rng.choice(["75", "76", "77", "72"]) + rng.choice([" ", ""]) + digits(7)


def passport_foreign() -> str:
    return rng.choice(["", "", "C", "X"]) + digits(rng.choice([8, 9]), "123456789")


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

MOBILE = [
    "912", "915", "916", "903", "905", "926", "977", "999", "921", "952", "961", "985", "900",
    "950",
]
CITY3 = ["495", "499", "812", "843", "383", "343", "863", "846", "800"]
CITY4 = ["4852", "3843", "8332", "4012", "3519"]


def phone_ru() -> str:
    code = rng.choice(MOBILE * 2 + CITY3)
    a, b, c = digits(3), digits(2), digits(2)
    if rng.random() < 0.1:
        c4 = rng.choice(CITY4)
        x, y, z = digits(2), digits(2), digits(2)
        return rng.choice([f"+7 ({c4}) {x}-{y}-{z}", f"8 ({c4}) {x}-{y}-{z}", f"8{c4}{x}{y}{z}"])
    forms = [
        f"+7 ({code}) {a}-{b}-{c}",
        f"+7 ({code}) {a}-{b}-{c}",
        f"+7{code}{a}{b}{c}",
        f"8{code}{a}{b}{c}",
        f"8{code}{a}{b}{c}",
        f"8-{code}-{a}-{b}-{c}",
        f"8 ({code}) {a} {b} {c}",
        f"8 ({code}) {a}-{b}-{c}",
        f"+7 {code} {a}-{b}-{c}",
        f"+7 {code} {a} {b} {c}",
        f"8 {code} {a} {b} {c}",
        f"8({code}){a}-{b}-{c}",
        f"+7-{code}-{a}-{b}-{c}",
        f"7{code}{a}{b}{c}",
        f"8 {code} {a}{b}{c}",
        f"8 {code} {a}-{b}{c}",
        f"({code}) {a}-{b}-{c}",
        f"{code} {a}-{b}-{c}",
    ]
    if code in MOBILE:
        forms.append(f"{code}{a}{b}{c}")
    return rng.choice(forms)


def phone_intl() -> str:
    d = digits
    forms: list[Callable[[], str]] = [
        lambda: f"+44 20 7946 0{d(3)}",
        lambda: f"+44 7700 900{d(3)}",
        lambda: f"+44 (0)20 7946 0{d(3)}",
        lambda: f"020 7946 0{d(3)}",
        lambda: f"07700 900{d(3)}",
        lambda: f"+1-202-555-0{d(3)}",
        lambda: f"+1 ({d(3, '23456789')}) 555-{d(4)}",
        lambda: f"({d(3, '23456789')}) {d(3)}-{d(4)}",
        lambda: f"{d(3, '23456789')}-555-0{d(3)}",
        lambda: f"+1 212 555 0{d(3)}",
        lambda: f"1-800-555-0{d(3)}",
        lambda: f"+49 30 {d(8)}",
        lambda: f"+49 151 {d(8)}",
        lambda: f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"+380 50 {d(3)} {d(4)}",
        lambda: f"+375 29 {d(3)}-{d(2)}-{d(2)}",
        lambda: f"+7 701 {d(3)} {d(4)}",
        lambda: f"+998 90 {d(3)} {d(2)} {d(2)}",
        lambda: f"+90 532 {d(3)} {d(2)} {d(2)}",
        lambda: f"+971 50 {d(3)} {d(4)}",
        lambda: f"+995 555 {d(2)} {d(2)} {d(2)}",
        lambda: f"+374{d(8)}",
        lambda: f"+49{d(11, '1')}",
    ]
    return rng.choice(forms)()


def phone() -> str:
    return phone_ru() if rng.random() < 0.7 else phone_intl()


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------

FIRST = ["ivan", "anna", "sergey", "olga", "dmitry", "elena", "alexey", "maria", "pavel", "natalia",
         "john", "emily", "michael", "sarah", "kate", "tom", "vika", "max", "artem", "yulia"]
LAST = ["petrov", "ivanova", "smirnov", "kuznetsova", "popov", "sokolova", "lebedev", "novikova",
        "smith", "johnson", "brown", "taylor", "wilson", "morozov", "volkova", "fedorov"]
DOMAINS = ["mail.ru", "yandex.ru", "ya.ru", "gmail.com", "bk.ru", "inbox.ru", "list.ru",
           "rambler.ru",
           "outlook.com", "hotmail.co.uk", "icloud.com", "romashka-trade.ru", "corp.example.com",
           "stroy-invest.com", "uni.msu.ru", "proton.me"]


def email() -> str:
    f, l, dom = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    year = str(rng.randint(60, 99)) if rng.random() < 0.5 else str(rng.randint(1970, 2005))
    form = rng.choice(
        [
            f"{f}.{l}@{dom}",
            f"{f}{year}@{dom}",
            f"{f[0]}.{l}@{dom}",
            f"{f}_{l}{rng.randint(1, 99)}@{dom}",
            f"{l}.{f}@{dom}",
            f"{f}+{rng.choice(['shop', 'orders', 'news'])}@gmail.com",
            f"{f[0]}{l}@{dom}",
            f"{f.capitalize()}.{l.capitalize()}@{dom.capitalize()}",
            f"{rng.choice(['info', 'buh', 'office', 'zakaz', 'support'])}@{dom}",
            f"{l}-{f}@{dom}",
            f"{rng.choice(['иван', 'ольга', 'мария'])}@почта.рф",
        ]
    )
    return form


# ---------------------------------------------------------------------------
# Hard negatives
# ---------------------------------------------------------------------------

MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
          "октября", "ноября", "декабря"]
TARIFFS = ["Мой онлайн+", "Безлимит 2024", "Супер 500", "Игровой", "Тариф X", "Семейный 3.0",
           "Unlimited Max", "Premium 5G", "Basic 100", "Всё за 800"]
NAMES = ["Иванов Иван Иванович", "Петрова А.С.", "Сидоров Алексей", "Кузнецова Мария",
         "Смирнов П.П."]
NAMES_EN = ["John Smith", "Emily Brown", "Michael Wilson", "Sarah Taylor"]
COMPANIES = ["Ромашка", "СтройИнвест", "Вектор", "Альфа-Трейд", "ТехноСервис", "Север"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Самара"]
STREETS = ["Ленина", "Гагарина", "Мира", "Садовая", "Пушкина", "Советская"]
BRANDS = ["Сбербанк Онлайн", "Тинькофф", "Альфа-Банк", "Магнит", "Пятёрочка", "Яндекс Маркет",
          "МегаФон", "Билайн", "Мир Pay", "Почта России", "Госуслуги", "Ростелеком", "Лента"]
BRANDS_EN = ["Apple Pay", "Google Pay", "Amazon Prime", "Visa Gold", "Samsung Pay", "PayPal",
             "New York", "Western Union"]


def amount() -> str:
    return rng.choice(
        [
            f"{rng.randint(100, 9999)} рублей",
            f"{rng.randint(100, 9999)} руб.",
            f"{rng.randint(1, 99)} {rng.randint(100, 999)} ₽",
            f"{rng.randint(1, 9)} {rng.randint(100, 999)} {rng.randint(100, 999)} руб.",
            f"{rng.randint(100, 99999)},{rng.randint(10, 99)} ₽",
            f"{rng.randint(10, 999)} р.",
            f"{rng.randint(1, 99)} {rng.randint(100, 999)},00 руб",
        ]
    )


def amount_en() -> str:
    return rng.choice(
        [
            f"${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
            f"${rng.randint(10, 999)}.{rng.randint(10, 99)}",
            f"€{rng.randint(1, 9)}.{rng.randint(100, 999)},00",
            f"£{rng.randint(10, 999)}",
            f"{rng.randint(10, 9999)} USD",
            f"{rng.randint(1, 99)},{rng.randint(100, 999)} EUR",
        ]
    )


def date() -> str:
    y, m, dd = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        [
            f"{dd:02d}.{m:02d}.{y}",
            f"{dd:02d}.{m:02d}.{y}",
            f"{y}-{m:02d}-{dd:02d}",
            f"{dd} {MONTHS[m - 1]} {y}",
            f"{dd} {MONTHS[m - 1]}",
            f"{dd:02d}/{m:02d}/{y}",
            f"{dd:02d}.{m:02d}.{y % 100:02d}",
        ]
    )


def date_en() -> str:
    y, m, dd = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    mon = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[m - 1]
    return rng.choice(
        [f"{m:02d}/{dd:02d}/{y}", f"{mon} {dd}, {y}", f"{y}-{m:02d}-{dd:02d}", f"{dd} {mon} {y}"]
    )


def time_() -> str:
    return rng.choice([f"{rng.randint(8, 21)}:{rng.choice(['00', '15', '30', '45'])}",
                       f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}"])


def order() -> str:
    return digits(rng.choice([6, 7, 8, 9, 9, 9, 10, 11, 12]), "123456789")


def contract() -> str:
    return rng.choice([f"{rng.randint(1, 999)}/{rng.randint(2019, 2025)}", f"Д-{digits(6)}",
                       f"{digits(8)}", f"{rng.randint(10, 99)}-{digits(5)}-К", f"№ {digits(7)}"])


def track() -> str:
    return rng.choice([digits(14, "12345678"), f"RA{digits(9)}RU", f"LP{digits(14)}",
                       f"1Z{digits(16)}",
                       f"CDEK-{digits(10)}"])


def imei() -> str:
    body = "35" + digits(12)
    return body + luhn_digit(body)


def ogrn() -> str:
    return rng.choice(["1", "5"]) + digits(12)


# ---------------------------------------------------------------------------
# Russian bank accounts
# ---------------------------------------------------------------------------

# Client balance accounts: individuals, non-residents, sole traders, companies,
# deposits, loans.
BALANCE = ["40817", "40817", "40817", "40820", "42301", "42305", "42307", "40802", "40702",
           "45507", "40703"]
CURRENCY = ["810", "810", "810", "643", "840", "978", "156"]
ACCOUNT_W = (7, 1, 3) * 8
last_bik = ["044525225"]


def bik() -> str:
    value = "04" + digits(7)
    last_bik[0] = value
    return value


def account_number(bik_value: str | None = None) -> str:
    """A client account whose control key is right for ``bik_value`` (a random BIK if None)."""
    bik_value = bik_value or "04" + digits(7)
    body = rng.choice(BALANCE) + rng.choice(CURRENCY)
    rest = rng.choice(["0000", "3800", "5500", "4000", digits(4)]) + digits(7)
    for key in "0123456789":
        number = body + key + rest
        if sum(int(c) * w for c, w in zip(bik_value[-3:] + number, ACCOUNT_W)) % 10 == 0:
            return number
    raise AssertionError("unreachable")


def format_account(number: str) -> str:
    return rng.choice([
        number, number, number,
        " ".join(number[i:i + 4] for i in range(0, 20, 4)),
        f"{number[:5]} {number[5:8]} {number[8]} {number[9:13]} {number[13:]}",
        f"{number[:5]}.{number[5:8]}.{number[8]}.{number[9:13]}.{number[13:]}",
    ])


def account() -> str:
    return format_account(account_number())


def account_with_bik() -> str:
    """An account belonging to the BIK written just before it in the template."""
    return format_account(account_number(last_bik[0]))


def corr_account() -> str:
    """A bank's correspondent account at the Bank of Russia: public, not personal."""
    return "30101810" + digits(1) + "0000000" + digits(4, "0123456789")


def not_account20() -> str:
    """20-digit numbers that are not client accounts."""
    return rng.choice([
        "182" + digits(17),  # budget classification code (КБК) of the tax service
        "188" + digits(17),  # fine payment identifier (УИН)
        "0310064300000001" + digits(4),  # treasury account
        digits(20, "56789"),
    ])


# ---------------------------------------------------------------------------
# Person names
# ---------------------------------------------------------------------------

CASES = ("nom", "gen", "dat", "acc", "ins", "prep")
# Surnames that decline like Иванов (masculine; feminine adds -а).
SURNAMES_OV = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов",
               "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Лебедев", "Семёнов",
               "Егоров", "Козлов", "Никитин", "Зайцев", "Соловьёв", "Гусейнов", "Абдуллаев",
               "Кудрявцев", "Ильин", "Сорокин", "Нигматуллин", "Галкин", "Хасанов", "Белоусов"]
SURNAMES_SKY = ["Достоевск", "Вишневск", "Троицк", "Заборовск"]
SURNAMES_FIXED = ["Шевченко", "Бондаренко", "Черных", "Седых", "Ким", "Цой"]


def surname(gender: str, case: str) -> str:
    kind = rng.random()
    if kind < 0.75:
        stem = rng.choice(SURNAMES_OV)
        if gender == "m":
            return stem + {"nom": "", "gen": "а", "dat": "у", "acc": "а", "ins": "ым",
                           "prep": "е"}[case]
        return stem + {"nom": "а", "gen": "ой", "dat": "ой", "acc": "у", "ins": "ой",
                       "prep": "ой"}[case]
    if kind < 0.88:
        stem = rng.choice(SURNAMES_SKY)
        if gender == "m":
            return stem + {"nom": "ий", "gen": "ого", "dat": "ому", "acc": "ого", "ins": "им",
                           "prep": "ом"}[case]
        return stem + {"nom": "ая", "gen": "ой", "dat": "ой", "acc": "ую", "ins": "ой",
                       "prep": "ой"}[case]
    return rng.choice(SURNAMES_FIXED)


# First names: (nominative, stem, declension class).
FIRST_M = [("Иван", "Иван", "c"), ("Руслан", "Руслан", "c"), ("Артём", "Артём", "c"),
           ("Олег", "Олег", "c"), ("Денис", "Денис", "c"), ("Максим", "Максим", "c"),
           ("Михаил", "Михаил", "c"), ("Павел", "Павл", "c"), ("Пётр", "Петр", "c"),
           ("Сергей", "Серге", "j"), ("Алексей", "Алексе", "j"), ("Андрей", "Андре", "j"),
           ("Николай", "Никола", "j"), ("Дмитрий", "Дмитри", "ij"), ("Юрий", "Юри", "ij"),
           ("Игорь", "Игор", "j"), ("Тимур", "Тимур", "c"), ("Владимир", "Владимир", "c")]
FIRST_F = [("Анна", "Анн", "a"), ("Елена", "Елен", "a"), ("Ольга", "Ольг", "ga"),
           ("Ирина", "Ирин", "a"), ("Светлана", "Светлан", "a"), ("Екатерина", "Екатерин", "a"),
           ("Татьяна", "Татьян", "a"), ("Людмила", "Людмил", "a"), ("Алина", "Алин", "a"),
           ("Мария", "Мари", "ia"), ("Юлия", "Юли", "ia"), ("Ксения", "Ксени", "ia"),
           ("Виктория", "Виктори", "ia"), ("Наталья", "Наталь", "ja"), ("Дарья", "Дарь", "ja")]
ENDINGS = {
    "c": {"nom": "", "gen": "а", "dat": "у", "acc": "а", "ins": "ом", "prep": "е"},
    "j": {"nom": None, "gen": "я", "dat": "ю", "acc": "я", "ins": "ем", "prep": "е"},
    "ij": {"nom": None, "gen": "я", "dat": "ю", "acc": "я", "ins": "ем", "prep": "и"},
    "a": {"nom": "а", "gen": "ы", "dat": "е", "acc": "у", "ins": "ой", "prep": "е"},
    "ga": {"nom": "а", "gen": "и", "dat": "е", "acc": "у", "ins": "ой", "prep": "е"},
    "ia": {"nom": "я", "gen": "и", "dat": "и", "acc": "ю", "ins": "ей", "prep": "и"},
    "ja": {"nom": "я", "gen": "и", "dat": "е", "acc": "ю", "ins": "ей", "prep": "е"},
}
# Patronymics are built on these: Иванович/Ивановна, Сергеевич/Сергеевна ...
FATHERS = ["Иванов", "Сергеев", "Алексеев", "Дмитриев", "Андреев", "Николаев", "Михайлов",
           "Павлов", "Петров", "Викторов", "Владимиров", "Александров", "Юрьев", "Олегов",
           "Игорев"]


def first_name(gender: str, case: str) -> str:
    nom, stem, kind = rng.choice(FIRST_M if gender == "m" else FIRST_F)
    ending = ENDINGS[kind][case]
    return nom if ending is None else stem + ending


def patronymic(gender: str, case: str) -> str:
    base = rng.choice(FATHERS)
    if gender == "m":
        return base + "ич" + {"nom": "", "gen": "а", "dat": "у", "acc": "а", "ins": "ем",
                              "prep": "е"}[case]
    return base + "н" + {"nom": "а", "gen": "ы", "dat": "е", "acc": "у", "ins": "ой",
                         "prep": "е"}[case]


def initial(gender: str) -> str:
    return rng.choice("АБВГДЕИКЛМНОПРСТЮ") + "."


def fio(case: str, forms: tuple[str, ...] | None = None) -> str:
    """A Russian name in one of its written forms, in ``case``."""
    g = rng.choice("mf")
    form = rng.choice(forms or ("full", "full", "first_patr", "first_last", "last_first",
                                "last_initials", "initials_last", "last_initial"))
    if form == "full":
        return f"{surname(g, case)} {first_name(g, case)} {patronymic(g, case)}"
    if form == "first_patr":
        return f"{first_name(g, case)} {patronymic(g, case)}"
    if form == "first_last":
        return f"{first_name(g, case)} {surname(g, case)}"
    if form == "last_first":
        return f"{surname(g, case)} {first_name(g, case)}"
    if form == "last_initials":
        sep = rng.choice(["", " "])
        return f"{surname(g, case)} {initial(g)}{sep}{initial(g)}"
    if form == "initials_last":
        sep = rng.choice(["", " "])
        return f"{initial(g)}{sep}{initial(g)} {surname(g, case)}"
    if form == "last_initial":
        return f"{surname(g, case)} {initial(g)}"
    if form == "last":
        return surname(g, case)
    return first_name(g, case)


EN_FIRST = ["John", "Emily", "Michael", "Sarah", "David", "Laura", "James", "Olivia", "Daniel",
            "Jessica", "Robert", "Hannah", "Chris", "Megan"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas",
           "Roberts", "O'Brien", "McDonald", "Walker", "Wright", "Harris"]


def en_full() -> str:
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def misc_number() -> str:
    return rng.choice(
        [
            f"версия {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"iOS {rng.randint(14, 18)}.{rng.randint(0, 6)}",
            f"ошибка 0x8007{digits(4)}",
            f"192.168.{rng.randint(0, 5)}.{rng.randint(2, 250)}",
            f"{rng.randint(10, 500)} Мбит/с",
            f"{rng.randint(5, 100)} ГБ",
            f"индекс {digits(6, '1234')}",
            f"код подтверждения {digits(6)}",
            f"{rng.randint(1950, 2005)} г.р.",
            f"квартира {rng.randint(1, 300)}",
        ]
    )


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

ENTITY_SLOTS: dict[str, tuple[str, Callable[[], str]]] = {
    "PHONE": ("PHONE", phone),
    "PHONE_RU": ("PHONE", phone_ru),
    "PHONE_INTL": ("PHONE", phone_intl),
    "EMAIL": ("EMAIL", email),
    "CARD": ("CARD", card),
    "IBAN": ("IBAN", iban),
    "PASSPORT": ("PASSPORT", passport),
    "PASSPORT_PLAIN": ("PASSPORT", passport_plain),
    "PASSPORT_INT": ("PASSPORT", passport_international),
    "PASSPORT_FOREIGN": ("PASSPORT", passport_foreign),
    "SNILS": ("SNILS", lambda: format_snils(snils_number(), allow_bare=True)),
    "SNILS_F": ("SNILS", lambda: format_snils(snils_number(), allow_bare=False)),
    "INN": ("INN", inn),
    "INN10": ("INN", inn10),
    "INN12": ("INN", inn12),
    "ACCOUNT": ("ACCOUNT", account),
    "ACCOUNT20": ("ACCOUNT", account_with_bik),
    "NAME": ("NAME", lambda: rng.choice(NAMES)),
    "NAME_EN": ("NAME", lambda: rng.choice(NAMES_EN)),
    **{f"FIO_{c.upper()}": ("NAME", lambda c=c: fio(c)) for c in CASES},
    "FIO_FULL": ("NAME", lambda: fio("nom", ("full",))),
    "SURNAME_GEN": ("NAME", lambda: fio("gen", ("last",))),
    "SURNAME_DAT": ("NAME", lambda: fio("dat", ("last",))),
    "FIRST": ("NAME", lambda: fio("nom", ("first",))),
    "FIRST_INS": ("NAME", lambda: fio("ins", ("first",))),
    "FIRST_DAT": ("NAME", lambda: fio("dat", ("first",))),
    "SIGN": ("NAME", lambda: fio("nom", ("last_initials", "last_initial", "first", "first_last",
                                         "full"))),
    "EN_FULL": ("NAME", en_full),
    "EN_FIRST": ("NAME", lambda: rng.choice(EN_FIRST)),
    "EN_LAST": ("NAME", lambda: rng.choice(EN_LAST)),
}

FILLER_SLOTS: dict[str, Callable[[], str]] = {
    "AMOUNT": amount,
    "AMOUNT_EN": amount_en,
    "DATE": date,
    "DATE_EN": date_en,
    "TIME": time_,
    "ORDER": order,
    "ORDER10": lambda: digits(10, "12345678"),
    "ORDER11": lambda: digits(11, "78"),
    "ORDER12": lambda: digits(12, "123456789"),
    "CONTRACT": contract,
    "TRACK": track,
    "BADCARD": bad_card,
    "BADIBAN": lambda: iban(valid=False),
    "BADSNILS": lambda: format_snils(snils_number(valid=False), allow_bare=False),
    "BADINN": lambda: inn10(valid=False) if rng.random() < 0.5 else inn12(valid=False),
    "IMEI": imei,
    "OGRN": ogrn,
    "CORR": corr_account,
    "NOT_ACCOUNT20": not_account20,
    "RAND20": lambda: digits(20, "123456789"),
    "KPP": lambda: rng.choice(REGIONS) + digits(2) + "01001",
    "BIK": bik,
    "RAND10": lambda: digits(10, "12345678"),
    "MISC": misc_number,
    "TARIFF": lambda: rng.choice(TARIFFS),
    "FLOWER": lambda: rng.choice(["Роза", "Розы", "Лилия", "Ромашки", "Астры"]),
    "BRAND": lambda: rng.choice(BRANDS),
    "BRAND_EN": lambda: rng.choice(BRANDS_EN),
    "MONTH_CAP": lambda: rng.choice(["Май", "Август", "Март", "Июнь", "Января", "Августа"]),
    "COMPANY": lambda: rng.choice(COMPANIES),
    "CITY": lambda: rng.choice(CITIES),
    "STREET": lambda: rng.choice(STREETS),
    "N": lambda: str(rng.randint(2, 14)),
    "YEAR": lambda: str(rng.randint(1995, 2025)),
    "LAST4": lambda: digits(4),
    "EXP": lambda: f"{rng.randint(1, 12):02d}/{rng.randint(25, 30)}",
    "DEPT": lambda: f"{digits(3)}-{digits(3)}",
    "HOUSE": lambda: str(rng.randint(1, 120)),
    "FLAT": lambda: str(rng.randint(1, 400)),
    "MINUTES": lambda: str(rng.choice([100, 300, 500, 1000, 2000])),
    "PERCENT": lambda: f"{rng.randint(1, 30)}%",
}

TEMPLATES_RU = [
    # phones
    "Здравствуйте, перезвоните мне пожалуйста на номер {PHONE}, не могу дозвониться до поддержки "
    "уже {N} дня",
    "Мой номер {PHONE_RU}, на него не приходят смс с кодом для входа",
    "Смените номер телефона в профиле на {PHONE}, старый больше не использую",
    "Добрый день! Заказ №{ORDER} до сих пор не доставлен, курьер звонил с {PHONE_RU} и пропал",
    "Оформила заказ {DATE} на сумму {AMOUNT}, контактный телефон {PHONE}",
    "не работает интернет по адресу ул. {STREET}, д. {HOUSE}, кв. {FLAT}, тел {PHONE_RU}",
    "Прошу отключить платную подписку на номере {PHONE_RU}, списывают {AMOUNT} каждый месяц",
    "{PHONE_RU} - это мой новый номер, привяжите его к аккаунту пожалуйста",
    "Звонили с номера {PHONE} представились службой безопасности банка и просили код из смс. "
    "Это мошенники?",
    "Перенесите доставку на {DATE} после {TIME}, мой телефон {PHONE_RU}",
    "Верните деньги {AMOUNT} за тариф «{TARIFF}», его подключили на {PHONE_RU} без моего согласия",
    "Почему на номер {PHONE_RU} пришёл счёт на {AMOUNT}? Я ничем не пользовался",
    "Номер для связи: {PHONE} (звонить после {TIME})",
    "Пишите в вотсап {PHONE}, там быстрее отвечу",
    "Курьер не может найти подъезд, пусть наберёт меня {PHONE_RU}",
    "Прошу перенести номер {PHONE_RU} к другому оператору с сохранением номера",
    "мастер так и не пришел, ждала с {TIME} до {TIME}. позвоните {PHONE_RU}",
    "Я звоню с чужого телефона, мой основной {PHONE_RU} заблокирован после {N} неверных попыток",
    "Родственник за границей, его номер {PHONE_INTL}, нужно подключить роуминг",
    "Дозвониться по номеру горячей линии невозможно, жду звонка на {PHONE}. Обращение от {DATE}",
    "Срочно! Потерял телефон, заблокируйте сим-карту {PHONE_RU}",
    "Для связи {PHONE_RU} или {PHONE_RU}, спросить {NAME}",
    # e-mail
    "Пришлите чек на почту {EMAIL}, в приложении он не открывается",
    "Не могу войти в личный кабинет, логин {EMAIL}, пароль сбрасывал уже {N} раза",
    "Измените e-mail в профиле с {EMAIL} на {EMAIL}",
    "Отправьте документы по договору {CONTRACT} на {EMAIL}",
    "мой email {EMAIL} . жду ответа уже неделю",
    "Почта {EMAIL}, телефон {PHONE} — свяжитесь любым способом",
    "Письмо с подтверждением не пришло на {EMAIL}, проверил спам",
    "Счёт-фактуру за {DATE} направьте, пожалуйста, на {EMAIL} (бухгалтерия)",
    "Удалите мои данные: {NAME}, {EMAIL}. Сервисом больше не пользуюсь",
    # cards
    "С карты {CARD} списали {AMOUNT} дважды, верните деньги",
    "Привязал карту {CARD}, но оплата не проходит, пишет ошибку",
    "Верните деньги за заказ №{ORDER} на карту {CARD}",
    "Оплачивал картой {CARD} {DATE}, деньги списались, а заказ отменён",
    "Номер карты {CARD}, срок действия {EXP}. Прошу вернуть {AMOUNT}",
    "Платёж с {CARD} завис, статус «в обработке» уже {N} дня",
    "отвяжите пожалуйста карту {CARD} от автоплатежа",
    "Возврат {AMOUNT} должен был прийти на {CARD} ещё {DATE}",
    "По карте {CARD} прошла непонятная операция на {AMOUNT}, я её не совершал",
    # IBAN
    "Верните средства на мой счёт IBAN {IBAN}, я сейчас за границей",
    "Реквизиты для возврата: IBAN {IBAN}, получатель {NAME}",
    "Переведите остаток {AMOUNT} на {IBAN} (банк в Европе)",
    "Возврат по заказу {ORDER} прошу сделать на счёт {IBAN}",
    # passports
    "Прошу перевыпустить сим-карту, паспорт {PASSPORT}, выдан {DATE}",
    "Паспортные данные для договора: {PASSPORT}, выдан ОВД г. {CITY} {DATE}, "
    "код подразделения {DEPT}",
    "Сменил паспорт, новый — серия {PASSPORT}",
    "серия и номер паспорта: {PASSPORT_PLAIN}",
    "Переоформите договор на меня, паспорт РФ {PASSPORT}, {NAME}",
    "Для верификации отправляю паспорт {PASSPORT}, дата рождения {DATE}",
    "В договоре ошибка в паспортных данных, правильно {PASSPORT_PLAIN}",
    "загранпаспорт {PASSPORT_INT}, нужна справка для визы",
    "Паспорт: {PASSPORT}. Выдан {DATE}. Прописка г. {CITY}, ул. {STREET} {HOUSE}",
    # SNILS
    "СНИЛС {SNILS}, прошу привязать к учётной записи",
    "Для оформления льготы указываю СНИЛС: {SNILS}",
    "страховой номер {SNILS}, подтвердите данные",
    "Не проходит проверка СНИЛС {SNILS} через ваше приложение",
    "Данные сотрудника: {NAME}, {SNILS_F}, телефон {PHONE_RU}",
    "Ошибка в СНИЛС в договоре, верный номер {SNILS}",
    # INN
    "ИНН {INN10}, прошу выставить счёт на организацию",
    "Для чека укажите ИНН {INN12}",
    "Наш ИНН/КПП {INN10}/{KPP}, реквизиты во вложении",
    "ИП {NAME}, ИНН {INN12}, прошу закрыть расчётный счёт",
    "Укажите в акте ИНН {INN} и юридический адрес г. {CITY}",
    "Пробивал ИНН {INN12} — налоговая пишет, что не найден",
    "Компания ООО «{COMPANY}» ИНН {INN10}, заключали договор {CONTRACT}",
    "инн {INN} поменялся после реорганизации, обновите",
    "Оплата от юрлица, ИНН {INN10}, КПП {KPP}, БИК {BIK}, р/с {ACCOUNT20}",
    "ИП {NAME}, {INN12}, г. {CITY}",
    "ООО «{COMPANY}», {INN10} — прошу сверить акт за {DATE}",
    "Контрагент {INN10} не найден в вашей системе, хотя договор подписан",
    # mixed
    "Заказ №{ORDER} от {DATE} на {AMOUNT}. Оплачивал картой {CARD}, мой телефон {PHONE_RU}, "
    "почта {EMAIL}",
    "{NAME}, паспорт {PASSPORT}, СНИЛС {SNILS_F}, тел. {PHONE_RU} — прошу оформить договор",
    "Возврат {AMOUNT} на карту {CARD}, если не получится — на {IBAN}",
    "ИНН {INN12}, телефон {PHONE_RU}, e-mail {EMAIL}",
    "Прошу связаться: {PHONE}, {EMAIL}. По заказу {ORDER} списали {AMOUNT}",
    # bank accounts
    "Верните деньги на мой счёт {ACCOUNT}, а не на карту",
    "Реквизиты для возврата: БИК {BIK}, р/с {ACCOUNT20}, получатель {FIO_NOM}",
    "Перевод на счёт {ACCOUNT} не дошёл уже {N} дня",
    "Закройте, пожалуйста, вклад, счёт {ACCOUNT}, остаток переведите на карту {CARD}",
    "Зарплата приходит на {ACCOUNT}, а в приложении этого счёта нет",
    "Почему по счёту {ACCOUNT} списали {AMOUNT} комиссии?",
    "Прошу выдать справку об остатке по счёту № {ACCOUNT} на {DATE}",
    "Банк получателя: БИК {BIK}, к/с {CORR}, счёт получателя {ACCOUNT20}",
    "{ACCOUNT} — это мой счёт, на него должны были вернуть {AMOUNT}",
    "ИП {FIO_NOM}, р/с {ACCOUNT}, прошу подключить эквайринг",
    # names in every case and form
    "Меня зовут {FIO_NOM}, не могу войти в личный кабинет",
    "{FIO_NOM}, договор № {ORDER}. Карта заблокирована, помогите",
    "Клиент {FIO_FULL}, тел. {PHONE_RU}. Не работает мобильный интернет",
    "ФИО: {FIO_NOM}. Прошу перевыпустить карту",
    "Пишет {FIO_NOM}. Товар не подошёл, хочу вернуть деньги",
    "Прошу проверить платёж от {FIO_GEN}, деньги не дошли",
    "Заявление от {FIO_GEN} о закрытии счёта",
    "Я был у {SURNAME_GEN} в отделении, там сказали звонить вам",
    "Перевёл деньги {FIO_DAT}, а они не дошли",
    "Передайте {SURNAME_DAT}, что карта готова",
    "Оформите доверенность на {FIO_ACC}, пожалуйста",
    "Вчера разговаривал с оператором {FIRST_INS}, вопрос не решён",
    "Договор оформлен с {FIO_INS}, а платит другой человек",
    "В договоре неверные данные о {FIO_PREP}, исправьте",
    "Прошу разобраться с сотрудником {FIRST_INS}, хамство",
    "Спасибо оператору {FIRST_DAT}, всё быстро решили",
    "Карта не работает. С уважением, {SIGN}",
    "Верните деньги за подписку.\nС уважением,\n{SIGN}",
    "Заказ до сих пор не пришёл, {FIRST}, тел {PHONE_RU}",
    "Списали дважды за одну покупку. Заранее спасибо, {FIRST}",
    "Добрый день, {FIRST}! Подскажите, где мой перевод?",
    "{FIRST}, договор № {ORDER}. Почему не приходит код?",
    "Оплата не проходит. {FIO_NOM}",
]

TEMPLATES_EN = [
    "Hi, please call me back at {PHONE}, I've been waiting since {DATE_EN}",
    "My number is {PHONE}, I'm not getting the verification SMS",
    "Can you update my phone to {PHONE_INTL}? The old one was disconnected",
    "Order #{ORDER} still hasn't arrived. The courier called from {PHONE} and never showed up",
    "I got charged {AMOUNT_EN} on {DATE_EN} for a plan I never ordered, contact me on {PHONE}",
    "Someone from {PHONE} claimed to be your bank and asked for my PIN, is this a scam?",
    "Text me at {PHONE_INTL} when the technician is on the way",
    "Please reach me at {PHONE} between {TIME} and {TIME}",
    "Cancel the subscription on line {PHONE}, I was billed twice this month",
    "{PHONE_INTL} is my work phone, please use it for delivery updates",
    "Please send the invoice to {EMAIL}, our accounting needs it by {DATE_EN}",
    "I can't log in, my account email is {EMAIL}",
    "Change my email from {EMAIL} to {EMAIL}",
    "Reply to {EMAIL} instead, I don't check this mailbox",
    "Please refund {AMOUNT_EN} to my card {CARD}, order #{ORDER}",
    "My card {CARD} was charged twice on {DATE_EN}",
    "Remove card {CARD} from my account, it was stolen",
    "Please wire the refund to {IBAN}, account holder {NAME_EN}",
    "My IBAN is {IBAN}, please send the {AMOUNT_EN} there",
    "The refund went to an old account, please use {IBAN} instead",
    "My Russian passport is {PASSPORT_PLAIN}, do you need a scan?",
    "Passport number {PASSPORT_FOREIGN}, expires {DATE_EN}",
    "For the SIM contract: passport {PASSPORT_PLAIN}, phone {PHONE}",
    "My SNILS is {SNILS}, please link it to the account",
    "Company tax ID (INN): {INN10}, please issue a VAT invoice",
    "INN {INN} — the name on the invoice is wrong",
    "Contact: {NAME_EN}, {PHONE_INTL}, {EMAIL}",
    "Card {CARD} expires {EXP}, can I update it without losing my plan?",
    "please call {PHONE} asap, the internet is down since {TIME}",
    "Hi, my name is {EN_FULL} and my card was blocked",
    "My card was charged twice. Regards, {EN_FIRST}",
    "The refund never arrived.\nBest regards,\n{EN_FULL}",
    "Thanks, {EN_FIRST}",
    "Please ask Mr. {EN_LAST} to call me back",
    "Your agent {EN_FIRST} was very helpful, thank you",
    "{EN_FULL} here, I can't log in to the app",
    "Account holder: {EN_FULL}, please update the address",
    "Please transfer the balance to account {ACCOUNT}",
]

NEGATIVES_RU = [
    "Списали {AMOUNT} за {DATE}, хотя тариф «{TARIFF}» стоит {AMOUNT}",
    "Заказ №{ORDER} от {DATE} не доставлен, обещали до {TIME}",
    "заказ № {ORDER10} отменили без объяснений",
    "Заказ {ORDER11} пришёл не полностью, не хватает двух позиций",
    "Трек-номер {TRACK} не отслеживается уже неделю",
    "Договор {CONTRACT} от {DATE}, прошу расторгнуть с {DATE}",
    "Номер карты {BADCARD} — оплата не проходит, пишет «неверный номер»",
    "Карта заканчивается на {LAST4}, списали {AMOUNT} в {TIME}",
    "Подключите тариф «{TARIFF}» с {DATE}, {MINUTES} минут и {MISC}",
    "IMEI {IMEI}, телефон украли {DATE}, заблокируйте",
    "Реквизиты: КПП {KPP}, БИК {BIK}, р/с {ACCOUNT20}",
    "ОГРН {OGRN}, прошу внести изменения в карточку клиента",
    "С {DATE} по {DATE} не работал интернет, верните {AMOUNT}",
    "В {YEAR} году я уже писал об этом, {MISC}",
    "Лицевой счёт {ORDER12}, задолженность {AMOUNT}",
    "Номер обращения {ORDER10}, ответа нет с {DATE}",
    "ИНН указан неверно: {BADINN}, исправьте",
    "СНИЛС {BADSNILS} не принимают, пишет что номер некорректный",
    "Скидка {PERCENT} не применилась, итого {AMOUNT} вместо {AMOUNT}",
    "Посылка {TRACK} застряла на сортировке с {DATE}",
    "штрихкод {ORDER12}{N} не считывается на кассе",
    "Сумма {AMOUNT}, {MISC}, ожидание {N} минут",
    "Счёт на оплату {ORDER} от {DATE} на {AMOUNT} не пришёл",
    "Оплатил {AMOUNT} {DATE} в {TIME}, статус до сих пор «ожидает»",
    "Промокод не сработал, код {ORDER} — скидка должна быть {PERCENT}",
    "Заявка {ORDER11} висит без движения, {MISC}",
    "IBAN {BADIBAN} банк не принимает, проверьте",
    "Чек №{ORDER} на {AMOUNT} от {DATE}, кассир ошибся",
    "{MISC}, приложение вылетает с {DATE}",
    "Пополнил баланс на {AMOUNT}, а зачислилось {AMOUNT}",
    "Списание {AMOUNT} {DATE} {TIME} — что это?",
    "Бронь {ORDER10} на {DATE}, перенесите на {DATE}",
    "Номер {RAND10} в уведомлении — это что?",
    "пришло уведомление с номером {RAND10}, не понимаю, к чему это",
    "Оплатил через терминал, в чеке номер операции {RAND10}, а деньги не зачислены",
    "В выписке непонятная строка {RAND10} на {AMOUNT}",
    "Пришло смс с кодом {RAND10}, я ничего не запрашивал",
    # 20-digit numbers that are not client accounts
    "Оплатил налог, КБК {NOT_ACCOUNT20}, а задолженность висит",
    "Штраф оплачен, УИН {NOT_ACCOUNT20}, почему снова пришёл?",
    "Реквизиты банка: БИК {BIK}, к/с {CORR}",
    "Номер операции {RAND20}, деньги не зачислены",
    "Трек-номер {RAND20} не находится на сайте",
    "Корр. счёт {CORR} в платёжке указан неверно?",
    # words that look like names
    "{FLOWER} завяли через день после доставки, верните деньги",
    "В приложении {BRAND} не проходит оплата с {DATE}",
    "Перевод из {CITY} не дошёл, отделение в Королёве закрыто",
    "{MONTH_CAP} оплачен, а долг всё равно показывают",
    "Вера в ваш сервис пропала, третий раз пишу",
    "Надежда только на вас, банкомат съел карту",
    "Доставка на ул. {STREET}, {HOUSE} опоздала на {N} часа",
    "Магазин {BRAND} не принимает карту Мир",
    "Здравствуйте, Подскажите пожалуйста как сменить тариф",
    "Уважаемая поддержка, когда вернут деньги?",
    "Сбербанк Онлайн не открывается, а в Тинькофф всё работает",
    "Оплачивал в Пятёрочке на {STREET}, списали дважды",
]

NEGATIVES_EN = [
    "I was charged {AMOUNT_EN} on {DATE_EN}, the plan is {TARIFF}",
    "Order #{ORDER12} was delivered to the wrong address",
    "Order {ORDER} placed on {DATE_EN} at {TIME} is still processing",
    "Tracking number {TRACK} shows no updates since {DATE_EN}",
    "Invoice INV-{YEAR}-{ORDER} is wrong, it says {AMOUNT_EN}",
    "Card number {BADCARD} is rejected as invalid, can you check?",
    "My card ending in {LAST4} was charged {AMOUNT_EN} twice",
    "Ticket {ORDER10} has been open since {DATE_EN}",
    "IMEI {IMEI} — my phone was stolen, please block it",
    "Reference {ORDER12}, refund of {AMOUNT_EN} pending since {DATE_EN}",
    "The app crashes, {MISC}, since {DATE_EN}",
    "Account {ORDER12} shows a balance of {AMOUNT_EN}",
    "I paid with {BRAND_EN} on {DATE_EN} and got charged twice",
    "Dear Sir or Madam, my order is late",
    "Hi team, the app crashes since {DATE_EN}",
    "May I change my plan? Will the price go up in May?",
    "Bill payment failed again, please help",
    "Rose gold iPhone was out of stock but you charged me",
]


SLOT_RE = re.compile(r"\{([A-Z0-9_]+)\}")


def fill(template: str) -> dict:
    text_parts: list[str] = []
    entities: list[dict] = []
    pos = 0
    length = 0
    for m in SLOT_RE.finditer(template):
        literal = template[pos:m.start()]
        text_parts.append(literal)
        length += len(literal)
        slot = m.group(1)
        if slot in ENTITY_SLOTS:
            etype, gen = ENTITY_SLOTS[slot]
            value = gen()
            entities.append({"type": etype, "start": length, "end": length + len(value)})
        else:
            value = FILLER_SLOTS[slot]()
        text_parts.append(value)
        length += len(value)
        pos = m.end()
    text_parts.append(template[pos:])
    text = "".join(text_parts)
    # Some requests arrive in lower case; spans are unaffected by case.
    if rng.random() < 0.1:
        text = text.lower()
    return {"text": text, "entities": entities}


def build() -> list[dict]:
    templates = TEMPLATES_RU + TEMPLATES_EN + NEGATIVES_RU + NEGATIVES_EN
    records = [fill(t) for t in templates for _ in range(FILLS_PER_TEMPLATE)]
    rng.shuffle(records)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    records = build()
    with args.out.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for rec in records:
        for e in rec["entities"]:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
    print(f"wrote {len(records)} records to {args.out}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
