"""Bad input through the Python API: a labelled result, or a clear error naming the row."""

from __future__ import annotations

import json
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from faulty_providers import RecordingProvider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_llmcluster import LLMClusterer, LLMClusterWarning


def make(provider=None, **params) -> LLMClusterer:
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 3)
    return LLMClusterer(provider=provider or RecordingProvider(), **params)


@pytest.mark.parametrize("X, row, what", [
    (["card", 7, "login"], r"X\[1\]", "an int"),
    (["card", None], r"X\[1\]", "None"),
    (["card", "login", float("nan")], r"X\[2\]", "NaN"),
    (np.array(["card", np.nan], dtype=object), r"X\[1\]", "NaN"),
    (pd.array(["card", pd.NA], dtype="string"), r"X\[1\]", "<NA>"),
    ([b"card blocked"], r"X\[0\]", "bytes.*decode"),
    (["card", True], r"X\[1\]", "a bool"),
    ([["card"]], r"X\[0\]", "a list"),
    (pd.Series(["card", "login", None], index=[10, 20, 30]), r"X\[2\] \(index label 30\)",
     "None|NaN"),
    (pd.DataFrame({"text": ["card", 3.5]}, index=["a", "b"]), r"X\[1\] \(index label 'b'\)",
     "a float"),
])
def test_a_bad_element_is_a_type_error_naming_its_row(X, row, what):
    provider = RecordingProvider()
    with pytest.raises(TypeError, match=rf"{row} is .*({what})"):
        make(provider).fit(X)
    assert provider.calls == 0  # checked before any LLM call


def test_predict_and_partial_fit_name_the_bad_row_too():
    model = make().fit(["card a", "card b"])
    with pytest.raises(TypeError, match=r"X\[1\] is None"):
        model.predict(["card c", None])
    with pytest.raises(TypeError, match=r"X\[0\] is a bytes"):
        model.partial_fit([b"card"])
    assert model.n_clusters_ == 1  # a refused call changes nothing


def test_100k_character_texts_are_cut_in_prompts_and_kept_whole_locally():
    provider = RecordingProvider()
    huge = "card " + "я" * 100_000
    model = make(provider, max_text_chars=300).fit(
        [huge, "card blocked", "refund " + "x" * 100_000])
    assert model.labels_[0] == model.labels_[1] != -1
    assert len(model.labels_) == 3
    assert max(len(m["content"]) for call in provider.received for m in call) < 5_000
    assert huge in model.clusters_[model.labels_[0]].examples


def test_control_characters_never_reach_a_prompt_and_texts_still_cluster(tmp_path):
    provider = RecordingProvider()
    texts = ["card\x00blocked", "card\x1b[31m red \x1b[0m", "card\u2028lost\u2029now",
             "card\x85\x9fend", "\x00\x01\x02", "login\rfails\x0b\x0c", "login\ttab"]
    model = make(provider, llm_log=tmp_path / "log.jsonl").fit(texts)
    assert model.labels_[0] == model.labels_[1] == model.labels_[2] == model.labels_[3] != -1
    assert model.labels_[5] == model.labels_[6] != -1
    sent = provider.all_text()
    for ch in "\x00\x01\x1b\x85\x9f\r\x0b\x0c\u2028\u2029":
        assert ch not in sent
    assert "card\x00blocked" in model.clusters_[model.labels_[0]].examples


def test_right_to_left_text_emoji_and_joiners_round_trip(tmp_path):
    texts = ["בקשה להחזר כסף", "طلب استرداد الأموال", "\u202ecard blocked\u202c",
             "card 😀😀 blocked", "😀", "👨\u200d👩\u200d👧 family tariff", "\u200b",
             "\ufeffcard with bom"]
    model = make(llm_log=tmp_path / "log.jsonl").fit(texts)
    assert len(model.labels_) == len(texts)
    model.save_clusters(tmp_path / "clusters.json")
    saved = json.loads((tmp_path / "clusters.json").read_text(encoding="utf-8"))
    assert any("😀" in e for c in saved["clusters"] for e in c["examples"])
    joblib.dump(model, tmp_path / "m.joblib")
    assert np.array_equal(joblib.load(tmp_path / "m.joblib").predict(texts), model.predict(texts))


def test_lone_surrogates_are_replaced_with_a_warning_naming_the_row(tmp_path):
    # What bytes decoded with errors="surrogateescape" look like.
    broken = b"card \xff blocked".decode("utf-8", "surrogateescape")
    with pytest.warns(LLMClusterWarning, match=r"surrogate.*X\[1\]"):
        model = make().fit(["card ok", broken, "card lost"])
    assert len(set(model.labels_)) == 1 and model.labels_[0] != -1
    # Every file the model writes stays valid UTF-8.
    model.save_clusters(tmp_path / "clusters.json")
    assert "card \ufffd blocked" in (tmp_path / "clusters.json").read_text(encoding="utf-8")


def test_one_row():
    model = make().fit(["card blocked"])
    assert list(model.labels_) == [0] and model.n_clusters_ == 1


def test_all_duplicates_cost_one_call_and_share_a_label():
    provider = RecordingProvider()
    model = make(provider).fit(["Card blocked", "card  blocked ", "CARD BLOCKED"] * 300)
    assert len(set(model.labels_)) == 1 and model.labels_[0] == 0
    assert provider.calls == 1


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\u00a0", "\u3000", "\u2003 \u2003"])
def test_all_empty_texts_are_minus_one_without_a_call(blank):
    provider = RecordingProvider()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMClusterWarning)
        model = make(provider).fit([blank] * 5)
    assert list(model.labels_) == [-1] * 5
    assert provider.calls == 0 and model.coverage_ == 0.0
    assert list(model.predict([blank])) == [-1]


hostile_text = st.text(
    st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "Lo", "So", "Ll"]),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_text, min_size=1, max_size=12))
def test_any_unicode_gets_one_label_per_row_and_writes_valid_files(tmp_path_factory, texts):
    tmp = tmp_path_factory.mktemp("run")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LLMClusterWarning)
        model = make(llm_log=tmp / "log.jsonl", proposal_size=5).fit(texts)
        predicted = model.predict(texts)
    assert model.labels_.shape == predicted.shape == (len(texts),)
    assert ((model.labels_ >= -1) & (model.labels_ < model.n_clusters_)).all()
    model.save_clusters(tmp / "clusters.json")
    (tmp / "clusters.json").read_text(encoding="utf-8")
    if (tmp / "log.jsonl").exists():
        for line in (tmp / "log.jsonl").read_text(encoding="utf-8").splitlines():
            json.loads(line)
