"""Behaviour of LLMClusterer as a user sees it, with a scripted LLM."""

from __future__ import annotations

import json
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_llmcluster import Cluster, LLMClusterer, LLMClusterWarning, Proposal
from sklearn_llmcluster.testing import OracleProvider, ScriptedProvider


def normalise_texts(X):
    """Module-level so that a Pipeline using it pickles."""
    return np.array([" ".join(str(t).lower().split()) for t in np.ravel(X)], dtype=object)


def make(**params) -> LLMClusterer:
    params.setdefault("provider", ScriptedProvider())
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 4)
    return LLMClusterer(**params)


def test_fit_labels_every_text_and_names_clusters(intent_texts):
    texts, gold = intent_texts
    model = make().fit(texts)
    assert model.labels_.shape == (len(texts),)
    assert model.labels_.dtype.kind == "i"
    assert model.n_clusters_ == 4 == len(model.clusters_)
    assert {c.name for c in model.clusters_} == set(gold)
    for label, intent in zip(model.labels_, gold):
        assert model.clusters_[label].name == intent
    assert model.coverage_ == 1.0
    assert model.llm_usage_.calls >= 1
    assert all(isinstance(c, Cluster) for c in model.clusters_)


def test_fit_returns_self_and_fit_predict_matches_labels(intent_texts):
    texts, _ = intent_texts
    model = make()
    assert model.fit(texts) is model
    assert np.array_equal(make().fit_predict(texts), model.labels_)


@pytest.mark.parametrize("wrap", [
    list, tuple, np.array, lambda t: np.array(t, dtype=object).reshape(-1, 1),
    pd.Series, lambda t: pd.DataFrame({"text": t}), lambda t: pd.Series(t, dtype="string"),
])
def test_accepts_every_documented_input_shape(intent_texts, wrap):
    texts, _ = intent_texts
    expected = make().fit(texts).labels_
    assert np.array_equal(make().fit(wrap(texts)).labels_, expected)


@pytest.mark.parametrize("bad, index, word", [
    (["ok text", None], 1, "None"),
    (["ok text", "fine", float("nan")], 2, "NaN"),
    ([b"bytes"], 0, "bytes"),
    (["text", 5], 1, "int"),
])
def test_bad_elements_name_the_first_bad_index(bad, index, word):
    with pytest.raises(TypeError, match=rf"X\[{index}\].*{word}"):
        make().fit(bad)


def test_empty_input_and_several_columns_are_value_errors():
    with pytest.raises(ValueError, match="empty"):
        make().fit([])
    with pytest.raises(ValueError, match="one text column.*df\\['text'\\]"):
        make().fit(pd.DataFrame({"text": ["a"], "other": ["b"]}))
    with pytest.raises(ValueError, match="one text column"):
        make().fit(np.array([["a", "b"]], dtype=object))
    with pytest.raises(TypeError, match="single str"):
        make().fit("one string")


def test_duplicates_share_a_label_and_reach_the_llm_once():
    provider = ScriptedProvider()
    texts = ["Card blocked", "card   BLOCKED", " card blocked ", "login fails", "login fails"]
    model = make(provider=provider, batch_size=1).fit(texts)
    assert len(set(model.labels_[:3])) == 1
    assert model.labels_[3] == model.labels_[4]
    # One proposal call saw two unique texts and assigned both: no judge call needed.
    assert provider.calls == 1


def test_blank_texts_get_minus_one_without_an_llm_call():
    provider = ScriptedProvider()
    model = make(provider=provider).fit(["", "   ", "\n\t"])
    assert list(model.labels_) == [-1, -1, -1]
    assert provider.calls == 0
    assert model.coverage_ == 0.0 and model.n_clusters_ == 0


def test_long_texts_are_truncated_in_prompts_but_kept(intent_texts):
    seen = []

    class Recording(ScriptedProvider):
        def complete(self, messages, **kw):
            seen.append(messages[1]["content"])
            return super().complete(messages, **kw)

    long_text = "card " + "x" * 5000
    model = make(provider=Recording(), max_text_chars=100).fit([long_text, "card blocked"])
    assert model.labels_[0] == model.labels_[1] != -1
    assert all(len(m) < 2000 for m in seen)
    assert long_text in model.clusters_[0].examples


def test_predict_uses_existing_clusters_only_and_never_changes_the_model(intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts)
    before = pickle.dumps(model.registry_)
    labels = model.predict(["card is broken", "weather tomorrow", "refund me"])
    assert model.clusters_[labels[0]].name == "card"
    assert labels[1] == -1
    assert model.clusters_[labels[2]].name == "refund"
    assert pickle.dumps(model.registry_) == before
    assert model.n_clusters_ == 4


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        make().predict(["anything"])


def test_partial_fit_keeps_ids_and_labels_and_adds_only_new_clusters(intent_texts):
    texts, _ = intent_texts
    model = make().partial_fit(texts)
    ids_before = [c.id for c in model.clusters_]
    model.partial_fit(["card blocked again", "weather is bad", "weather again", "login no"])
    assert [c.id for c in model.clusters_[:4]] == ids_before
    assert model.n_clusters_ == 5
    assert model.clusters_[4].name == "weather"
    assert model.new_cluster_ids_ == [model.clusters_[4].id]
    assert list(model.labels_) == [0, 4, 4, 1]
    assert model.clusters_[0].size == 6  # five from the first call, one now


def test_first_partial_fit_equals_fit(intent_texts):
    texts, _ = intent_texts
    assert np.array_equal(make().partial_fit(texts).labels_, make().fit(texts).labels_)


def test_fit_starts_over(intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts)
    model.fit(["weather today", "weather tomorrow"])
    assert [c.name for c in model.clusters_] == ["weather"]
    assert model.clusters_[0].size == 2


def test_status_turns_active_at_min_cluster_size():
    model = make(min_cluster_size=3).fit(["card a", "card b", "card c"])
    assert model.clusters_[0].status == "active"
    # partial_fit keeps a small new cluster (next week may grow it) as tentative.
    model.partial_fit(["login x", "login y"])
    assert [c.status for c in model.clusters_] == ["active", "tentative"]
    model.partial_fit(["login z"])
    assert model.clusters_[1].status == "active"


def test_fit_dissolves_new_clusters_below_min_cluster_size():
    texts = ["card a", "card b", "card c", "login x", "login y", "refund q"]
    model = make(min_cluster_size=3).fit(texts)
    assert [c.name for c in model.clusters_] == ["card"]
    # Their texts fit no other cluster: -1, each row still with one label.
    assert model.labels_.tolist() == [0, 0, 0, -1, -1, -1]
    # Rows count, not distinct texts: a request sent three times makes a cluster.
    model = make(min_cluster_size=3).fit(texts + ["login x", "login x"])
    assert [c.name for c in model.clusters_] == ["card", "login"]
    # A small sample keeps its small clusters with "auto" (one per 500 rows).
    assert make().fit(texts).n_clusters_ == 3


class _TwiceProposer:
    """Proposes the intent "card", then its stragglers again as "card problems"."""

    def propose(self, texts, clusters):
        if "card c" not in texts:
            return [Proposal("card", "Card requests.", "About a card.",
                             members=list(range(len(texts))))]
        return [Proposal("card problems", "Card problems.", "A card problem.",
                         members=[texts.index("card c")])]


class _KeywordJudge:
    """Misses "card c" the first time (as models miss a request now and then), then
    prefers "card problems" for it while that cluster is offered."""

    def __init__(self):
        self.seen = set()

    def judge(self, texts, clusters):
        by_name = {c.name: c.id for c in clusters}
        answers = []
        for text in texts:
            if text == "card c" and text not in self.seen:
                answers.append(None)
            elif text == "card c" and "card problems" in by_name:
                answers.append(by_name["card problems"])
            else:
                answers.append(by_name.get(text.split()[0]))
        self.seen.update(texts)
        return answers


def test_a_dissolved_duplicate_sends_its_stragglers_to_the_intents_cluster():
    texts = ["card a", "card b", "card c"]
    kept = LLMClusterer(proposer=_TwiceProposer(), judge=_KeywordJudge(), min_cluster_size=1,
                        proposal_size=2, random_state=0).fit(texts)
    assert sorted(c.name for c in kept.clusters_) == ["card", "card problems"]
    model = LLMClusterer(proposer=_TwiceProposer(), judge=_KeywordJudge(), min_cluster_size=2,
                         proposal_size=2, random_state=0).fit(texts)
    assert [c.name for c in model.clusters_] == ["card"]
    assert model.labels_.tolist() == [0, 0, 0]


def test_n_jobs_does_not_change_results(intent_texts):
    texts, _ = intent_texts
    texts = texts * 3 + [t + " again" for t in texts]
    one = make(n_jobs=1, proposal_size=5).fit(texts)
    eight = make(n_jobs=8, proposal_size=5).fit(texts)
    assert np.array_equal(one.labels_, eight.labels_)
    assert [c.name for c in one.clusters_] == [c.name for c in eight.clusters_]
    assert np.array_equal(one.predict(texts), eight.predict(texts))


def test_max_new_clusters_caps_each_proposal(intent_texts):
    texts, _ = intent_texts
    model = make(max_new_clusters=1, proposal_size=100).fit(texts)
    # One cluster per round; rounds continue until everything is covered.
    assert model.n_clusters_ == 4
    assert model.coverage_ == 1.0


def test_save_and_load_clusters_predicts_without_refitting(tmp_path, intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts + ["доставка опять"])
    path = tmp_path / "clusters.json"
    model.save_clusters(path)
    raw = path.read_text(encoding="utf-8")
    assert "доставка" in raw and "\\u0434" not in raw
    loaded = make().load_clusters(path)
    assert [c.to_dict() for c in loaded.clusters_] == [c.to_dict() for c in model.clusters_]
    probe = ["card lost", "доставка где", "nothing here"]
    assert np.array_equal(loaded.predict(probe), model.predict(probe))


def test_joblib_round_trip_predicts_identically(tmp_path, intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert np.array_equal(loaded.predict(texts), model.predict(texts))
    assert np.array_equal(loaded.labels_, model.labels_)


def test_pipeline_with_text_normaliser(tmp_path, intent_texts):
    texts, _ = intent_texts
    shouting = [t.upper() + "  " for t in texts]
    pipe = Pipeline([
        ("normalise", FunctionTransformer(normalise_texts)),
        ("cluster", make()),
    ])
    labels = pipe.fit_predict(shouting)
    assert np.array_equal(labels, make().fit(texts).labels_)
    before = pipe.predict(shouting)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    again = joblib.load(tmp_path / "pipe.joblib")
    assert np.array_equal(again.predict(shouting), before)


def test_clone_get_set_params_and_parameter_grid():
    model = make(batch_size=7, business_context="a bank")
    cloned = clone(model)
    assert cloned.get_params()["batch_size"] == 7
    assert cloned.get_params()["business_context"] == "a bank"
    assert not hasattr(cloned, "labels_")
    for params in ParameterGrid({"batch_size": [10, 30], "max_new_clusters": [5, 20]}):
        m = clone(model).set_params(**params)
        assert m.batch_size == params["batch_size"]
        assert m.max_new_clusters == params["max_new_clusters"]


def test_custom_proposer_and_judge_need_no_provider():
    class KeywordProposer:
        def propose(self, texts, clusters):
            return [Proposal(name="Has digits", criteria="contains a digit",
                             members=[i for i, t in enumerate(texts)
                                      if any(c.isdigit() for c in t)])]

    class KeywordJudge:
        def judge(self, texts, clusters):
            return [clusters[0].id if any(c.isdigit() for c in t) else None for t in texts]

    model = LLMClusterer(proposer=KeywordProposer(), judge=KeywordJudge(), random_state=0)
    model.fit(["order 123", "where is my parcel", "call 555"])
    assert list(model.labels_) == [0, -1, 0]
    assert model.provider_ is None
    assert list(model.predict(["x 9", "none"])) == [0, -1]


def test_business_context_and_language_reach_the_prompts():
    seen = []

    class Recording(ScriptedProvider):
        def complete(self, messages, **kw):
            seen.append(messages[0]["content"])
            return super().complete(messages, **kw)

    make(provider=Recording(), business_context="We are a mobile operator.",
         language="Russian").fit(["card a", "login b"])
    assert all("We are a mobile operator." in s for s in seen)
    assert any("in Russian" in s for s in seen)


def test_plain_callable_works_as_provider(intent_texts):
    texts, gold = intent_texts
    model = make(provider=_scripted_function).fit(texts)
    assert {c.name for c in model.clusters_} == set(gold)


_FUNCTION_PROVIDER = ScriptedProvider()


def _scripted_function(messages):
    return _FUNCTION_PROVIDER.complete(messages)


@pytest.mark.parametrize("param, value", [
    ("batch_size", 0), ("max_new_clusters", -1), ("redact_pii", "sometimes"),
    ("min_cluster_size", -2), ("max_rounds", 0), ("max_rounds", -1), ("max_llm_calls", -5),
    ("max_llm_calls", 2.5), ("max_tokens", "100"), ("temperature", "hot"), ("cache", 123),
    ("llm_log", 123), ("business_context", 5), ("min_cluster_size", 0), ("n_jobs", "a"),
    ("n_jobs", 1.5), ("n_jobs", 0), ("n_jobs", -2),
])
def test_invalid_parameters_raise_in_fit(param, value):
    model = make(**{param: value})  # __init__ stores only
    with pytest.raises(ValueError, match=param):
        model.fit(["card a"])


@pytest.mark.parametrize("param, value, accepted", [
    ("min_cluster_size", 0, "'auto' or an integer of at least 1"),
    ("min_cluster_size", "big", "'auto' or an integer of at least 1"),
    ("n_jobs", "a", "None .*, a positive integer or -1"),
])
def test_invalid_parameter_messages_name_the_accepted_values(param, value, accepted):
    with pytest.raises(ValueError, match=f"{param} must be .*{accepted}.*got {value!r}"):
        make(**{param: value}).fit(["card a"])


def test_streamed_chunks_label_every_row(intent_texts):
    texts, _ = intent_texts
    chunks = (texts[i:i + 4] for i in range(0, len(texts), 4))
    model = make().fit(chunks)
    assert len(model.labels_) == len(texts)
    assert np.array_equal(model.labels_, make().fit(texts).labels_)


def test_llm_failures_leave_texts_unassigned_with_a_warning(intent_texts, one_proposal_a_round):
    texts, _ = intent_texts

    class Flaky(ScriptedProvider):
        """Cannot answer for the batch holding one request; fine otherwise."""

        def complete(self, messages, **kw):
            answer = super().complete(messages, **kw)
            judging = "assignments" in kw["json_schema"]["properties"]
            return "no json" if judging and "login fails" in messages[1]["content"] else answer

    model = make(provider=Flaky(), max_retries=1, proposal_size=4, batch_size=2)
    with pytest.warns(LLMClusterWarning, match="failed"):
        model.fit(texts)
    assert len(model.labels_) == len(texts)
    assert model.llm_usage_.failed_calls > 0
    assert model.llm_usage_.retries > 0
    assert (model.labels_ >= -1).all() and (model.labels_ < model.n_clusters_).all()
    names = [model.clusters_[k].name if k >= 0 else None for k in model.labels_]
    # Whatever was labelled is labelled right: failures never shift labels.
    assert all(n is None or t.startswith(n) for n, t in zip(names, texts))


def test_a_run_whose_every_call_fails_stops_early_with_a_clear_error():
    from sklearn_llmcluster import ProviderUnavailableError

    class Down(ScriptedProvider):
        def complete(self, messages, **kw):
            super().complete(messages, **kw)
            raise ProviderUnavailableError("Ollama at http://127.0.0.1:9 is not reachable",
                                           provider="ollama")

    provider = Down()
    texts = [f"card number {i} blocked {'x' * i}" for i in range(40)] + ["card"] * 5
    # Clusters exist from a successful fit; later every judge call fails.
    model = make(provider=ScriptedProvider(), batch_size=1).fit(["card blocked"])
    model.set_params(provider=provider)
    model.judge_.client.provider = provider
    with pytest.raises(ProviderUnavailableError,
                       match="last 8 LLM calls all failed.*not reachable"):
        model.partial_fit(texts)
    assert provider.calls < 20


def test_get_clusters_sorted_by_size(intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts)
    sizes = [c.size for c in model.get_clusters()]
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == len(texts)


def test_no_warning_on_a_clean_run(intent_texts):
    texts, _ = intent_texts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make().fit(texts)


def _demo_en(n: int | None = None):
    from sklearn_llmcluster.datasets import load_demo

    df = load_demo("en")
    return df if n is None else df.head(n)


class _ListsHalfTheMembers(OracleProvider):
    """A gold-aware LLM that lists only every other member of each cluster it proposes."""

    def complete(self, messages, **kw):
        answer = json.loads(super().complete(messages, **kw))
        for cluster in answer.get("clusters", []):
            cluster["members"] = cluster["members"][::2]
        return json.dumps(answer)


def test_texts_a_proposer_saw_but_did_not_list_are_judged_against_its_clusters():
    # LLMs list a cluster's members incompletely; the texts they leave out
    # must still be offered the clusters made from their own sample.
    df = _demo_en(150)
    model = LLMClusterer(provider=_ListsHalfTheMembers(dict(zip(df.text, df.label))),
                         random_state=0)
    labels = model.fit_predict(df.text)
    assert model.coverage_ == 1.0
    assert np.array_equal(labels, model.predict(df.text))


class _DiesWhenArmed(ScriptedProvider):
    """Like ScriptedProvider until armed; then the first judge call after a proposal fails."""

    armed = proposed = False

    def complete(self, messages, *, json_schema=None, **kw):
        judging = "assignments" in (json_schema or {}).get("properties", {})
        if self.armed and not judging:
            self.proposed = True
        if self.armed and self.proposed and judging:
            from sklearn_llmcluster.exceptions import AuthenticationError

            raise AuthenticationError("key revoked")
        return super().complete(messages, json_schema=json_schema, **kw)


def test_a_partial_fit_that_raises_leaves_the_model_as_it_was(one_proposal_a_round):
    from sklearn_llmcluster.exceptions import AuthenticationError

    provider = _DiesWhenArmed()
    model = make(provider=provider, batch_size=2, proposal_size=3, max_new_clusters=1)
    model.fit(["card a", "login b"])
    before = (pickle.dumps(model.registry_), model.labels_.copy(), list(model.clusters_))
    provider.armed = True
    with pytest.raises(AuthenticationError):
        model.partial_fit(["card x", "refund a", "refund b", "delivery c", "delivery d"])
    assert pickle.dumps(model.registry_) == before[0]
    assert np.array_equal(model.labels_, before[1]) and model.clusters_ == before[2]
    provider.armed = False
    assert model.predict(["refund a"]).tolist() == [-1]
    model.partial_fit(["weather today"])
    assert [c.id for c in model.clusters_][:2] == [c.id for c in before[2]]
    assert all(c.size > 0 for c in model.clusters_)


def test_a_first_fit_that_raises_leaves_the_model_unfitted(one_proposal_a_round):
    from sklearn.exceptions import NotFittedError

    from sklearn_llmcluster.exceptions import AuthenticationError

    provider = _DiesWhenArmed()
    provider.armed = True
    model = make(provider=provider, batch_size=2, proposal_size=3, max_new_clusters=1)
    with pytest.raises(AuthenticationError):
        model.fit(["card a", "card b", "login c", "login d", "refund e"])
    assert not [a for a in vars(model) if a.endswith("_")]
    with pytest.raises(NotFittedError):
        model.predict(["card a"])


def test_a_stream_that_fails_says_which_chunk_and_what_the_model_keeps():
    from sklearn_llmcluster.exceptions import AuthenticationError

    provider = _DiesWhenArmed()
    model = make(provider=provider, batch_size=2, proposal_size=3, max_new_clusters=1)

    def chunks():
        yield ["card a", "login b"]
        provider.armed = provider.proposed = True  # the next judge call fails
        yield ["refund a", "refund b", "delivery c"]

    with pytest.raises(AuthenticationError) as info:
        model.fit(chunks())
    assert "chunk 2" in "".join(info.value.__notes__)
    assert "chunks 1-1" in "".join(info.value.__notes__)
    assert model.n_clusters_ == len(model.registry_)


def test_failures_a_retry_recovers_are_neither_counted_nor_warned_about(intent_texts, caplog):
    import logging

    from sklearn_llmcluster import ProviderUnavailableError

    texts, _ = intent_texts

    class FailsEachPromptOnce(ScriptedProvider):
        """A transient outage: the first proposal, and every other new judge prompt, fail once."""

        def __init__(self):
            super().__init__()
            self.seen = set()

        def complete(self, messages, **kw):
            key = messages[-1]["content"]
            judging = "assignments" in kw["json_schema"]["properties"]
            if key not in self.seen:
                self.seen.add(key)
                if (len(self.seen) % 2 if judging else len(self.seen) == 1):
                    raise ProviderUnavailableError("503 overloaded")
            return super().complete(messages, **kw)

    model = make(provider=FailsEachPromptOnce(), max_retries=0, proposal_size=4, batch_size=2)
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, "sklearn_llmcluster"):
        warnings.simplefilter("error", LLMClusterWarning)
        model.fit(texts)
    assert model.coverage_ == 1.0
    assert model.llm_usage_.failed_calls == 0 and model.llm_usage_.retries > 0
    assert "succeeded on retry" in caplog.text and "made up for it" in caplog.text


class _Spy(ScriptedProvider):
    """Keeps every prompt it is sent."""

    def __init__(self):
        super().__init__()
        self.prompts = []

    def complete(self, messages, **kw):
        self.prompts.append("\n".join(m["content"] for m in messages))
        return super().complete(messages, **kw)


def test_set_params_after_fit_reaches_predict_and_partial_fit(intent_texts, tmp_path):
    texts, _ = intent_texts
    model = make(provider=_Spy(), redact_pii=False).fit(texts)
    other = _Spy()
    log = tmp_path / "calls.jsonl"
    model.set_params(provider=other, redact_pii=True, llm_log=log,
                     business_context="BANK OF TESTS")
    model.predict(["card 4111 1111 1111 1111 is blocked"])
    assert other.prompts, "predict must use the provider set after fit"
    assert "4111" not in other.prompts[-1] and "BANK OF TESTS" in other.prompts[-1]
    assert model.provider_ is other and log.exists() and "4111" not in log.read_text()
    n_clusters = model.n_clusters_
    model.set_params(min_cluster_size=1000)
    model.partial_fit(["card blocked again"])
    assert model.n_clusters_ >= n_clusters
    assert all(c.status == "tentative" for c in model.clusters_)


def test_set_params_after_an_offline_fit_keeps_what_the_engine_learnt():
    texts = _demo_en(200)["text"].tolist()
    model = LLMClusterer(provider="offline", random_state=0).fit(texts)
    engine = model.proposer_
    labels = model.predict(texts)
    model.set_params(business_context="a bank", temperature=0.5)
    assert np.array_equal(model.predict(texts), labels) and model.proposer_ is engine


def test_texts_left_out_at_the_proposal_cap_are_still_judged_against_those_clusters():
    df = _demo_en(150)
    # Three clusters a round: every round reaches the cap.
    model = LLMClusterer(provider=_ListsHalfTheMembers(dict(zip(df.text, df.label))),
                         random_state=0, max_new_clusters=3)
    labels = model.fit_predict(df.text)
    assert model.coverage_ == 1.0
    assert np.array_equal(labels, model.predict(df.text))


def test_texts_judged_by_llm_counts_each_text_once():
    df = _demo_en()
    model = LLMClusterer(provider=_ListsHalfTheMembers(dict(zip(df.text, df.label))),
                         random_state=0, proposal_size=60, max_new_clusters=3)
    model.fit(df.text)
    n_unique = len({" ".join(t.lower().split()) for t in df.text})
    # Sampled texts are judged during discovery and again in the sweep.
    assert model.llm_usage_.calls > 0
    assert 0 < model.llm_usage_.texts_judged_by_llm <= n_unique


def test_set_params_after_fit_keeps_the_provider_that_was_resolved(monkeypatch):
    # provider=None resolved to some server at fit; a later change of, say,
    # llm_log must not resolve it again (another server, or none, may answer).
    import sklearn_llmcluster.estimator as estimator_module

    provider = _Spy()
    monkeypatch.setattr(estimator_module, "resolve_provider", lambda spec: provider)
    model = LLMClusterer(random_state=0, batch_size=4).fit(["card blocked", "login fails"])
    monkeypatch.setattr(estimator_module, "resolve_provider",
                        lambda spec: pytest.fail("resolved the provider again"))
    model.set_params(business_context="a bank")
    model.predict(["card blocked"])
    assert model.provider_ is provider and "a bank" in provider.prompts[-1]


def test_pickling_leaves_the_live_model_and_its_secrets_alone(monkeypatch):
    import sklearn_llmcluster.estimator as estimator_module

    spec = "openai-compatible:m@http://user:hunter2@127.0.0.1:9/v1?api_key=SECRET42"
    monkeypatch.setattr(estimator_module, "resolve_provider", lambda s: ScriptedProvider())
    model = LLMClusterer(provider=spec, random_state=0).fit(["card blocked", "login fails"])
    blob = pickle.dumps(model)
    assert model.get_params()["provider"] == spec  # the live model keeps its setting
    assert b"hunter2" not in blob and b"SECRET42" not in blob


def test_a_predict_whose_new_settings_fail_leaves_the_model_as_it_was(intent_texts):
    texts, _ = intent_texts
    model = make().fit(texts)
    labels, client = model.predict(texts), model.client_
    embedder = model.embedder_
    model.set_params(embedder="provider")  # ScriptedProvider has no embed()
    with pytest.raises(ValueError, match="embed"):
        model.predict(texts)
    assert len(model.registry_) == model.n_clusters_ and model.client_ is client
    assert model.embedder_ is embedder
    model.set_params(embedder=None)
    assert np.array_equal(model.predict(texts), labels)


def test_set_params_language_and_n_clusters_reach_a_fitted_offline_engine():
    # max_new_clusters caps an LLM's proposals per call; the offline engine
    # proposes every cluster of its search at once (its granularity is n_clusters).
    model = LLMClusterer(provider="offline", random_state=0, max_new_clusters=2)
    model.fit(_demo_en(100)["text"].tolist())
    assert model.n_clusters_ > 2 and model.proposer_.engine.max_new_clusters is None
    model.set_params(language="ru", n_clusters=(5, 9))
    model.predict(["card blocked"])
    assert (model.proposer_.engine.language, model.proposer_.engine.n_clusters) == ("ru", (5, 9))
