"""Bundled demo data: labelled contact-centre requests in Russian and English.

The data is synthetic. It was written for this project (no public intent data
set was copied) and imitates what customers of a combined bank / mobile
operator / online shop type into a support chat. Every personal detail in it
(names, phone numbers, card, contract and order numbers, e-mail addresses) is
made up.

Use :func:`load_demo` to get it as a :class:`pandas.DataFrame`; see
:data:`DEMO_INTENTS` for the label set and :data:`DEMO_DESCRIPTION` for a
summary of its contents.
"""

from __future__ import annotations

import functools
import io
from importlib import resources

import pandas as pd

__all__ = ["load_demo", "DEMO_INTENTS", "DEMO_DESCRIPTION", "DEMO_LANGUAGES"]

#: Values accepted by :func:`load_demo` for ``lang``.
DEMO_LANGUAGES: tuple[str, ...] = ("ru", "en", "all")

#: Gold labels of the demo data and what each one covers. Both languages use
#: the same label set.
DEMO_INTENTS: dict[str, str] = {
    "card_blocked": "The customer's bank card is blocked, frozen or declined as blocked; "
    "they ask why and how to unblock it.",
    "login_problem": "Cannot log in to the personal account (личный кабинет), online "
    "banking or the app: login errors, missing one-time codes, locked account, sessions "
    "that expire.",
    "password_reset": "Forgot the password or PIN, wants to reset or change it, or the "
    "reset e-mail / SMS / link does not work.",
    "double_charge": "Charged twice (or more) for one purchase, bill, fee or subscription; "
    "wants the duplicate back.",
    "refund_request": "Wants money back for a returned, faulty, wrong or cancelled order "
    "or an unused service, or asks where an approved refund is.",
    "delivery_delay": "An order or parcel is late, stuck, rescheduled, or marked delivered "
    "but not received.",
    "change_tariff": "Wants to switch to another tariff or plan (mobile, home internet or "
    "card service package), or asks about plans.",
    "mobile_internet_not_working": "Mobile data is missing, slow or dropping out.",
    "cashback_missing": "Cashback or bonus points were not credited or are lower than "
    "expected.",
    "loan_early_repayment": "Wants to repay a loan or mortgage early (fully or partly), or "
    "has a problem with an early repayment.",
    "atm_kept_card": "A cash machine kept (swallowed) the customer's card.",
    "card_reissue": "Needs a new or replacement card: expiry, loss, theft, damage, name "
    "change, or a reissued card that has not arrived.",
    "transfer_not_received": "A money transfer or incoming payment has not arrived, or is "
    "stuck or pending.",
    "operator_complaint": "Complaint about a support agent or branch employee: rudeness, "
    "hanging up, broken promises, useless answers.",
    "app_crash": "The mobile app crashes, freezes, closes or will not start.",
    "update_personal_data": "Wants to change personal data: phone number, e-mail, name, "
    "passport, address and similar.",
    "close_account": "Wants to close an account or card, end a contract, or delete their "
    "profile.",
    "greeting": "Only a greeting or a thank-you, with no request.",
    "other": "Off-topic messages, general questions outside the intents above, spam, tests "
    "and requests for a human.",
}

DEMO_DESCRIPTION: str = """\
Demo contact-centre requests (synthetic, written for sklearn_llmcluster).

Two files of about 500 requests each, one in Russian (``lang="ru"``, colloquial
Russian as customers write it) and one in English (``lang="en"``), about 1,000
requests in all. Each request has a gold label from the same set of 19 labels:
17 intents of a combined bank / mobile operator / online shop contact centre
(card_blocked, login_problem, password_reset, double_charge, refund_request,
delivery_delay, change_tariff, mobile_internet_not_working, cashback_missing,
loan_early_repayment, atm_kept_card, card_reissue, transfer_not_received,
operator_complaint, app_crash, update_personal_data, close_account) plus
``greeting`` (greetings or thanks only) and ``other`` (off-topic). Class sizes
are deliberately uneven, from about 10 to about 60 requests per label, and some
intents overlap on purpose (login_problem / password_reset,
card_blocked / card_reissue / atm_kept_card, double_charge / refund_request).

The texts carry the noise of real traffic: typos, slang and abbreviations,
missing punctuation, all-lowercase and ALL-CAPS messages, greetings and
sign-offs around the request, exact and near duplicates (about 5%), long
rambling complaints of 300-800 characters (a few per intent) and made-up
personal data: names, phone numbers in several national formats, card, contract
and order numbers, and e-mail addresses.
"""

_DATA_PACKAGE = __name__
_COLUMNS = ["request_id", "text", "label"]


@functools.lru_cache(maxsize=None)
def _read(lang: str) -> pd.DataFrame:
    """Parse one bundled CSV file (cached; callers must copy the result)."""
    source = resources.files(_DATA_PACKAGE) / "data" / f"demo_{lang}.csv"
    raw = source.read_text(encoding="utf-8")
    # ``keep_default_na=False``: a request such as "NA" or "null" is text, not a
    # missing value.
    frame = pd.read_csv(io.StringIO(raw), dtype=str, keep_default_na=False)
    return frame[_COLUMNS]


def load_demo(lang: str = "ru") -> pd.DataFrame:
    """Load the bundled demo contact-centre requests with gold labels.

    Parameters
    ----------
    lang : {"ru", "en", "all"}, default="ru"
        Which part to load: the Russian requests, the English requests, or both
        (Russian first, then English). Case-insensitive.

    Returns
    -------
    pandas.DataFrame
        One row per request, with string columns:

        ``request_id``
            Unique identifier such as ``"ru-0001"`` or ``"en-0001"``.
        ``text``
            The request as the customer wrote it (never empty).
        ``label``
            Gold intent label in snake_case English; see :data:`DEMO_INTENTS`.

        The index is a fresh ``RangeIndex``. Every call returns a new copy, so
        changing the frame does not affect later calls.

    Raises
    ------
    ValueError
        If ``lang`` is not one of ``"ru"``, ``"en"`` or ``"all"``.

    See Also
    --------
    DEMO_INTENTS : The labels and what each one covers.
    DEMO_DESCRIPTION : What the data contains and what noise it carries.

    Notes
    -----
    The data is synthetic and all personal details in it are made up. It
    contains duplicates on purpose; drop them with
    ``df.drop_duplicates("text")`` if you need unique texts.

    Examples
    --------
    >>> from sklearn_llmcluster.datasets import load_demo
    >>> df = load_demo("en")
    >>> list(df.columns)
    ['request_id', 'text', 'label']
    >>> df["request_id"].iloc[0]
    'en-0001'
    """
    key = lang.strip().lower() if isinstance(lang, str) else lang
    if key not in DEMO_LANGUAGES:
        allowed = ", ".join(repr(x) for x in DEMO_LANGUAGES)
        raise ValueError(f"Unknown demo language {lang!r}; expected one of {allowed}.")
    if key == "all":
        frames = [_read("ru"), _read("en")]
        return pd.concat(frames, ignore_index=True)
    return _read(key).copy(deep=True).reset_index(drop=True)
