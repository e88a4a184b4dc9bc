"""Judge calls on a Dask cluster of processes, through joblib's dask backend.

Everything sent to a worker is pickled, and what a call costs comes back with
its result; these tests check that labels, usage, budget caps and the
circuit breaker are the same as with the default thread backend.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster import LLMClusterer, LLMClusterWarning, ProviderUnavailableError
from sklearn_llmcluster.testing import OracleProvider

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # starting two worker processes takes a few seconds


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    texts, labels = intent_requests(40)
    return texts, dict(zip(texts, labels))


def make(gold, **params) -> LLMClusterer:
    oracle = params.pop("oracle", {})
    return LLMClusterer(provider=OracleProvider(gold, **oracle), random_state=0, batch_size=7,
                        proposal_size=20, max_new_clusters=2, n_jobs=2, **params)


def test_dask_workers_give_the_same_labels_and_usage_as_threads(dask_client, data,
                                                                one_proposal_a_round):
    texts, gold = data
    threads = make(gold, oracle={"error_rate": 0.1}).fit(texts)
    with joblib.parallel_config(backend="dask"):
        on_dask = make(gold, oracle={"error_rate": 0.1}).fit(texts)
        predicted = on_dask.predict(texts)
    assert np.array_equal(on_dask.labels_, threads.labels_)
    assert on_dask.llm_usage_ == threads.llm_usage_
    assert on_dask.llm_usage_.texts_judged_by_llm > len(texts) / 2  # the judge did run there
    assert np.array_equal(predicted, threads.predict(texts))
    # The workers ran in other processes: the provider here made no judge call.
    assert on_dask.provider_.calls < threads.provider_.calls


@pytest.mark.parametrize("cap", [3, 9])
def test_call_caps_hold_across_processes(dask_client, data, cap):
    texts, gold = data
    with joblib.parallel_config(backend="dask"):
        model = make(gold, max_llm_calls=cap)
        with pytest.warns(LLMClusterWarning, match=f"max_llm_calls={cap} reached"):
            model.fit(texts)
    assert model.llm_usage_.calls == cap
    assert (model.labels_ == -1).any() and (model.labels_ >= 0).any()


def test_an_outage_stops_the_run_on_dask_too(dask_client, data):
    texts, gold = data
    model = make(gold).fit(texts[:20])
    down = OracleProvider(gold, fail_rate=1.0)
    model.judge_.client.provider = down
    with joblib.parallel_config(backend="dask"):
        with pytest.raises(ProviderUnavailableError, match="LLM calls all failed"):
            model.predict(texts)


def test_embedding_chunks_run_on_dask_workers(dask_client, data):
    from sklearn_llmcluster.representation import UseMultilingualEmbedder

    texts = data[0][:50]
    here = UseMultilingualEmbedder().transform(texts)
    embedder = UseMultilingualEmbedder()
    embedder.chunk_size = 10
    with joblib.parallel_config(backend="dask"):
        on_dask = embedder.transform(texts)
    # Each worker process loaded the model from its own installed package.
    np.testing.assert_allclose(on_dask, here, atol=1e-6)
    loaded = dask_client.run(lambda: bool(
        __import__("sklearn_llmcluster.representation.embedders",
                   fromlist=["_MODELS"])._MODELS))
    assert any(loaded.values())
