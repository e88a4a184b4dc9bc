"""Budgets: estimate_cost before a run, and max_llm_calls / max_tokens caps during one."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster import LLMClusterer, LLMClusterWarning
from sklearn_llmcluster.llm.budget import CostEstimate, estimate_cost, resolve_prices
from sklearn_llmcluster.testing import ScriptedProvider


def make(**params) -> LLMClusterer:
    params.setdefault("provider", ScriptedProvider())
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 5)
    params.setdefault("proposal_size", 12)
    params.setdefault("max_new_clusters", 2)
    return LLMClusterer(**params)


def labelled_right(model, texts) -> bool:
    """Every labelled text sits in the cluster named after its first word."""
    return all(label < 0 or text.startswith(model.clusters_[label].name)
               for text, label in zip(texts, model.labels_))


# -- caps -------------------------------------------------------------------

@pytest.mark.parametrize("n_jobs", [1, 4])
def test_max_llm_calls_stops_cleanly_keeps_labels_and_warns_with_numbers(n_jobs):
    texts, _ = intent_requests(15)
    provider = ScriptedProvider()
    model = make(provider=provider, max_llm_calls=4, n_jobs=n_jobs)
    with pytest.warns(LLMClusterWarning, match=r"max_llm_calls=4 reached\) after 4 calls.*"
                                               r"(\d+) of 90 texts are left at -1"):
        model.fit(texts)
    assert provider.calls == 4 == model.llm_usage_.calls
    assert len(model.labels_) == len(texts)
    assert 0 < (model.labels_ >= 0).sum() < len(texts)
    assert labelled_right(model, texts)


def test_max_tokens_stops_after_at_most_the_calls_in_flight():
    texts, _ = intent_requests(15)
    free = make().fit(texts)
    per_call = free.llm_usage_.total_tokens / free.llm_usage_.calls
    cap = int(3 * per_call)
    provider = ScriptedProvider()
    model = make(provider=provider, max_tokens=cap, n_jobs=2)
    with pytest.warns(LLMClusterWarning, match=f"max_tokens={cap} reached"):
        model.fit(texts)
    # Checked before each call: it can be passed by the calls already in flight.
    assert model.llm_usage_.calls < free.llm_usage_.calls
    assert model.llm_usage_.total_tokens < cap + 2 * 2 * per_call
    assert labelled_right(model, texts)
    assert (model.labels_ == -1).any()


def test_a_cap_that_is_not_reached_changes_nothing():
    texts, _ = intent_requests(10)
    free = make().fit(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        capped = make(max_llm_calls=free.llm_usage_.calls,
                      max_tokens=free.llm_usage_.total_tokens + 1).fit(texts)
    assert np.array_equal(capped.labels_, free.labels_)


def test_the_budget_is_per_call_so_later_calls_and_predict_work_again():
    texts, _ = intent_requests(10)
    model = make(max_llm_calls=3)
    with pytest.warns(LLMClusterWarning, match="budget ran out"):
        model.fit(texts)
    assert model.n_clusters_ >= 1
    # A fresh budget for predict: it judges rather than leaving everything at -1.
    known = [t for t in texts if t.startswith(model.clusters_[0].name)][:5]
    assert (model.predict(known) == 0).all()


# -- estimate_cost ------------------------------------------------------------

def test_estimate_for_a_fitted_model_matches_the_judge_pass_it_predicts():
    texts, _ = intent_requests(20)
    model = make(batch_size=7).fit(texts)
    estimate = model.estimate_cost(texts)
    assert isinstance(estimate, CostEstimate)
    model.partial_fit(texts)  # every text fits an existing cluster: one judge pass
    usage = model.llm_usage_
    assert estimate.propose_calls == 0
    assert estimate.judge_calls == math.ceil(len(texts) / 7) == usage.calls
    assert estimate.prompt_tokens == pytest.approx(usage.prompt_tokens, rel=0.05)
    assert estimate.completion_tokens == pytest.approx(usage.completion_tokens, rel=0.25)


def test_estimate_before_fit_is_in_the_right_range_and_makes_no_call():
    texts, _ = intent_requests(40)
    provider = ScriptedProvider()
    model = make(provider=provider, proposal_size=30, max_new_clusters=3)
    estimate = model.estimate_cost(texts, n_clusters=6)
    assert provider.calls == 0 and not hasattr(model, "labels_")
    model.fit(texts)
    assert 0.5 < estimate.calls / model.llm_usage_.calls < 2
    assert 0.5 < estimate.prompt_tokens / model.llm_usage_.prompt_tokens < 2
    assert estimate.assumptions and "6 clusters" in estimate.assumptions[0]


def test_estimate_counts_unique_non_blank_texts_only():
    estimate = LLMClusterer(batch_size=10).estimate_cost(
        ["card blocked", "Card  BLOCKED", "", "   ", "login fails"] * 30)
    assert estimate.n_texts == 150 and estimate.n_unique == 2


def test_estimate_prices_from_the_argument_or_the_provider():
    texts, _ = intent_requests(5)
    estimate = LLMClusterer().estimate_cost(texts, prices=(1.0, 10.0))
    expected = estimate.prompt_tokens / 1e6 + estimate.completion_tokens * 10 / 1e6
    assert estimate.cost == pytest.approx(expected)
    assert LLMClusterer().estimate_cost(texts).cost is None

    class Priced(ScriptedProvider):
        prices = {"prompt": 1.0, "completion": 10.0}

    assert LLMClusterer(Priced()).estimate_cost(texts).cost == pytest.approx(expected)
    assert "at the given prices" in str(estimate)
    assert estimate.as_dict()["calls"] == estimate.calls


@pytest.mark.parametrize("bad", ["cheap", (1.0,), {"prompt": 1.0}, (-1.0, 2.0)])
def test_bad_prices_are_value_errors(bad):
    with pytest.raises(ValueError, match="prices"):
        resolve_prices(bad)


def test_estimate_refuses_a_stream():
    with pytest.raises(TypeError, match="not a stream"):
        LLMClusterer().estimate_cost(iter([["a"], ["b"]]))


def test_estimate_scales_with_batch_size_and_fast_path_share():
    texts, _ = intent_requests(50)
    small = estimate_cost(texts, batch_size=5)
    large = estimate_cost(texts, batch_size=50)
    assert large.judge_calls < small.judge_calls
    from sklearn_llmcluster import Cluster

    clusters = [Cluster(id=f"c{i}", name=f"name {i}") for i in range(6)]
    full = estimate_cost(texts, clusters=clusters, propose=False)
    fast = estimate_cost(texts, clusters=clusters, propose=False, fast_path_share=0.8)
    assert fast.judge_calls == math.ceil(len(texts) * 0.2 / 30)
    assert fast.prompt_tokens < full.prompt_tokens


def test_the_offline_engine_is_estimated_at_no_calls_and_no_tokens():
    from sklearn_llmcluster import LLMClusterer

    texts = [f"card {i} blocked" for i in range(50)] + [f"login {i} fails" for i in range(50)]
    for model in (LLMClusterer(provider="offline", random_state=0),
                  LLMClusterer(provider="offline", random_state=0).fit(texts)):
        estimate = model.estimate_cost(texts)
        assert (estimate.judge_calls, estimate.propose_calls, estimate.prompt_tokens,
                estimate.completion_tokens) == (0, 0, 0, 0)
        assert estimate.n_unique == 100
