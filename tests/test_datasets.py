"""Tests for the bundled demo data (sklearn_llmcluster.datasets)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sklearn_llmcluster.datasets import (
    DEMO_DESCRIPTION,
    DEMO_INTENTS,
    DEMO_LANGUAGES,
    load_demo,
)

COLUMNS = ["request_id", "text", "label"]
NON_INTENTS = {"greeting", "other"}
# Russian mobile formats (+7 (912) 345-67-89, 89123456789, 8-912-345-67-89, ...)
# and UK / US ones (+44 20 7946 0958, 07700 900123, (212) 555-0123).
PHONE_RE = re.compile(
    r"(?:\+7|\b8)[\s\-(]*9\d\d[\s\-)]*\d{3}[\s\-]*\d\d[\s\-]*\d\d"
    r"|\+44[\s\d]{9,}|\b07700\s?9\d{5}\b|\(?\b\d{3}\)?[\s\-]555[\s\-]01\d\d"
)
CYRILLIC_RE = re.compile("[\u0400-\u04ff]")


@pytest.fixture(scope="module", params=["ru", "en"])
def lang(request):
    return request.param


@pytest.fixture(scope="module")
def frames():
    return {lang: load_demo(lang) for lang in ("ru", "en")}


def test_columns_and_dtypes(frames, lang):
    df = frames[lang]
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == COLUMNS
    for col in COLUMNS:
        assert pd.api.types.is_string_dtype(df[col]), col
        assert df[col].map(type).eq(str).all(), col
        assert not df[col].isna().any(), col
    assert isinstance(df.index, pd.RangeIndex)
    assert df.index[0] == 0 and df.index[-1] == len(df) - 1


def test_sizes(frames, lang):
    assert 450 <= len(frames[lang]) <= 560
    total = len(frames["ru"]) + len(frames["en"])
    assert 900 <= total <= 1100


def test_intents(frames, lang):
    labels = frames[lang]["label"]
    intents = set(labels) - NON_INTENTS
    assert len(intents) >= 15
    assert {"greeting", "other"} <= set(labels)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", lab) for lab in set(labels))
    # Every label is documented, and every documented label is used.
    assert set(labels) == set(DEMO_INTENTS)
    counts = labels.value_counts()
    assert counts.max() >= 40  # uneven classes: some large ...
    assert counts.min() <= 12  # ... and some small
    assert counts.min() >= 8


def test_ids(frames, lang):
    ids = frames[lang]["request_id"]
    assert ids.is_unique
    assert ids.str.fullmatch(rf"{lang}-\d{{4}}").all()
    assert ids.iloc[0] == f"{lang}-0001"


def test_no_empty_texts(frames, lang):
    texts = frames[lang]["text"]
    assert (texts.str.strip().str.len() > 0).all()
    assert (texts == texts.str.strip()).all()


def test_language_script(frames):
    ru_cyr = frames["ru"]["text"].map(lambda t: bool(CYRILLIC_RE.search(t)))
    assert ru_cyr.mean() > 0.9
    en_cyr = frames["en"]["text"].map(lambda t: bool(CYRILLIC_RE.search(t)))
    assert not en_cyr.any()


def test_realistic_noise(frames, lang):
    texts = frames[lang]["text"]
    n = len(texts)
    # Exact duplicates, and more once case and punctuation are ignored.
    exact = texts.duplicated().sum()
    norm = texts.str.lower().str.replace(r"[^\w]", "", regex=True)
    near = norm.duplicated().sum()
    assert exact >= 5
    assert near > exact
    assert 0.03 <= near / n <= 0.12
    # Long rambling complaints, but nothing absurdly long.
    long_ = texts.str.len().between(300, 800)
    assert long_.sum() >= 30
    assert texts.str.len().max() <= 800
    # Short and noisy ones too.
    assert (texts.str.len() <= 15).sum() >= 5
    assert (texts == texts.str.lower()).mean() > 0.2
    # Fake personal data.
    assert texts.map(lambda t: bool(PHONE_RE.search(t))).sum() >= 20
    assert texts.str.contains("@", regex=False).sum() >= 5
    assert texts.str.contains(r"\b\d{4}[ -]?\d{2}[\d*]{2}[ -]?[\d*]{4}[ -]?\d{4}\b").sum() >= 3


def test_long_texts_in_most_intents(frames, lang):
    df = frames[lang]
    long_labels = set(df.loc[df["text"].str.len() >= 300, "label"])
    assert len(long_labels - NON_INTENTS) >= 15


def test_phone_formats_present():
    ru = load_demo("ru")["text"]
    assert ru.str.contains(r"\+7 \(\d{3}\) \d{3}-\d\d-\d\d").any()
    assert ru.str.contains(r"\b89\d{9}\b").any()
    assert ru.str.contains(r"\b8-9\d\d-\d{3}-\d\d-\d\d\b").any()
    en = load_demo("en")["text"]
    assert en.str.contains(r"\+44 20 7946 \d{4}").any()


def test_all_concatenates_both(frames):
    both = load_demo("all")
    assert list(both.columns) == COLUMNS
    assert len(both) == len(frames["ru"]) + len(frames["en"])
    assert both["request_id"].is_unique
    assert isinstance(both.index, pd.RangeIndex)
    expected = pd.concat([frames["ru"], frames["en"]], ignore_index=True)
    pd.testing.assert_frame_equal(both, expected)


@pytest.mark.parametrize("value", ["RU", " en ", "All"])
def test_lang_case_insensitive(value):
    assert len(load_demo(value)) > 0


@pytest.mark.parametrize("value", ["de", "", "russian", None, 1])
def test_unknown_lang_raises(value):
    with pytest.raises(ValueError) as err:
        load_demo(value)
    msg = str(err.value)
    for allowed in DEMO_LANGUAGES:
        assert repr(allowed) in msg


def test_default_is_russian():
    pd.testing.assert_frame_equal(load_demo(), load_demo("ru"))


@pytest.mark.parametrize("value", ["ru", "en", "all"])
def test_fresh_copy_each_call(value):
    first = load_demo(value)
    second = load_demo(value)
    pd.testing.assert_frame_equal(first, second)
    original = second.copy(deep=True)

    first.loc[0, "text"] = "changed"
    first["label"] = "x"
    first["extra"] = 1

    third = load_demo(value)
    pd.testing.assert_frame_equal(third, original)
    pd.testing.assert_frame_equal(second, original)


def test_description_mentions_every_label():
    for label in DEMO_INTENTS:
        assert label in DEMO_DESCRIPTION
    assert all(isinstance(v, str) and v for v in DEMO_INTENTS.values())
