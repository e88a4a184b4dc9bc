"""Fault injection: hostile answers, broken judges and proposers, failing transports.

Whatever goes wrong, ``fit``, ``partial_fit`` and ``predict`` finish with one
label per row (-1 allowed), ``llm_usage_`` counts the failures and retries,
and a warning says what happened; a run in which nothing works stops with the
provider's error instead.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import INTENTS
from fake_llm_servers import scripted_responder
from faulty_http_server import FaultyAnthropic, FaultyOpenAI, closed_port_url
from faulty_providers import (
    FAULTS,
    HARMLESS,
    FaultyProvider,
    RaisingProvider,
    TopicJudge,
    TopicProposer,
    flaky_error,
    mentions,
)

from sklearn_llmcluster import LLMClusterer, LLMClusterWarning, Proposal
from sklearn_llmcluster.exceptions import (
    AuthenticationError,
    ModelNotFoundError,
    ProviderUnavailableError,
)
from sklearn_llmcluster.llm.providers import AnthropicProvider, OpenAIProvider
from sklearn_llmcluster.testing import ScriptedProvider

TEXTS = [t for items in INTENTS.values() for t in items]
MORE = ["card again blocked", "login again", "weather today", "weather tomorrow",
        "parking is full", "parking fee wrong", "refund now please"]
PROBE = TEXTS + MORE

JUDGE_FAULTS = ["truncated_json", "schema_break", "unknown_cluster_ids", "bad_indices",
                "empty_string", "wrong_answer_count", "prose"]
PROPOSE_FAULTS = ["truncated_json", "schema_break", "bad_indices", "duplicate_names",
                  "empty_names", "huge_names", "same_text_in_two_proposals", "empty_string",
                  "prose"]


def make(provider, **params) -> LLMClusterer:
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 3)
    params.setdefault("proposal_size", 8)
    params.setdefault("n_jobs", 1)
    return LLMClusterer(provider=provider, **params)


def run_all(model: LLMClusterer) -> dict:
    """fit, partial_fit and predict in a row; what a user would look at."""
    out = {}
    model.fit(TEXTS)
    out["fit"], out["fit_usage"] = model.labels_.copy(), model.llm_usage_
    model.partial_fit(MORE)
    out["partial_fit"], out["partial_usage"] = model.labels_.copy(), model.llm_usage_
    out["predict"] = model.predict(PROBE)
    out["names"] = [c.name for c in model.clusters_]
    return out


@pytest.fixture(scope="module")
def clean():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMClusterWarning)
        return run_all(make(ScriptedProvider()))


def assert_aligned(labels: np.ndarray, n_rows: int, model: LLMClusterer) -> None:
    assert labels.shape == (n_rows,)
    assert labels.dtype.kind == "i"
    assert ((labels >= -1) & (labels < model.n_clusters_)).all()


# -- hostile answers ------------------------------------------------------------

@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_that_a_retry_fixes_changes_no_label(fault, clean):
    provider = FaultyProvider(fault)  # every first attempt spoiled, retries clean
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMClusterWarning)  # nothing lost: nothing to warn
        got = run_all(make(provider))
    assert provider.spoiled > 0
    for key in ("fit", "partial_fit", "predict", "names"):
        assert np.array_equal(got[key], clean[key]), key
    usage = got["fit_usage"]
    assert usage.failed_calls == 0 and usage.partial_answers == 0
    if fault in HARMLESS:
        assert usage.retries == 0  # fences and reasoning are parsed, not retried
    else:
        assert usage.retries > 0


@pytest.mark.parametrize("fault", JUDGE_FAULTS)
def test_a_judge_fault_on_some_batches_leaves_only_their_texts_unassigned(fault):
    provider = FaultyProvider(fault, steps=("judge",), when=mentions("login"))
    provider.active = False
    model = make(provider).fit(TEXTS)
    expected = model.predict(PROBE)
    provider.active = True

    with pytest.warns(LLMClusterWarning, match="partly invalid|failed"):
        labels = model.predict(PROBE)
    assert_aligned(labels, len(PROBE), model)
    spoiled_rows = labels != expected
    assert spoiled_rows.any()
    assert (labels[spoiled_rows] == -1).all()  # lost, never moved to another cluster
    # Batches (3 unique texts each, in order) without a "login" text are untouched.
    for start in range(0, len(PROBE), 3):
        if not any("login" in t for t in PROBE[start:start + 3]):
            assert np.array_equal(labels[start:start + 3], expected[start:start + 3])

    with pytest.warns(LLMClusterWarning, match="partly invalid|failed"):
        model.partial_fit(MORE)
    assert_aligned(model.labels_, len(MORE), model)
    usage = model.llm_usage_
    assert usage.failed_calls + usage.partial_answers > 0
    assert usage.retries > 0
    assert model.labels_[MORE.index("login again")] == -1 or fault == "wrong_answer_count"


@pytest.mark.parametrize("fault", PROPOSE_FAULTS)
def test_a_proposer_fault_in_partial_fit_keeps_the_other_labels(fault, clean):
    provider = FaultyProvider(fault, steps=("propose",), when=mentions("weather"))
    provider.active = False
    model = make(provider).fit(TEXTS)
    provider.active = True

    with pytest.warns(LLMClusterWarning) as record:
        model.partial_fit(MORE)
    assert any("invalid" in str(w.message) or "failed" in str(w.message) for w in record)
    assert_aligned(model.labels_, len(MORE), model)
    usage = model.llm_usage_
    assert usage.failed_calls + usage.partial_answers > 0
    assert usage.retries > 0
    # Texts the old clusters cover are judged as in a clean run.
    for text in ("card again blocked", "login again", "refund now please"):
        i = MORE.index(text)
        assert model.clusters_[model.labels_[i]].name == text.split()[0]
    names = [c.name for c in model.clusters_]
    assert len(set(names)) == len(names)
    assert all(0 < len(n) <= 80 for n in names)


def test_reasoning_block_with_a_decoy_json_is_ignored():
    provider = FaultyProvider("reasoning_block", when=lambda messages, step: True)
    model = make(provider).fit(TEXTS)
    assert "DECOY" not in [c.name for c in model.clusters_]
    assert model.coverage_ == 1.0


# -- judges and proposers that break the engine's contract ------------------------

def test_judge_answering_the_wrong_number_of_items_is_counted_and_warned():
    model = LLMClusterer(proposer=TopicProposer(), judge=TopicJudge(wrong_count=True),
                         batch_size=2, random_state=0, n_jobs=1).fit(TEXTS)
    with pytest.warns(LLMClusterWarning, match="answers for 2 texts"):
        labels = model.predict(PROBE)
    assert_aligned(labels, len(PROBE), model)
    assert (labels[[i for i, t in enumerate(PROBE) if t.startswith("login")]] == -1).all()
    with pytest.warns(LLMClusterWarning, match="answers for"):
        model.partial_fit(["login again", "login now", "card yes"])
    assert model.llm_usage_.failed_calls > 0


def test_overlapping_proposals_give_each_text_one_cluster_with_a_warning():
    with pytest.warns(LLMClusterWarning, match="proposed for two clusters"):
        model = LLMClusterer(proposer=TopicProposer(overlap=True), judge=TopicJudge(),
                             random_state=0).fit(TEXTS)
    assert_aligned(model.labels_, len(TEXTS), model)
    assert sum(c.size for c in model.clusters_) == (model.labels_ >= 0).sum()


def test_an_exception_in_one_of_many_parallel_calls_loses_only_its_batch():
    judge = TopicJudge(raise_for="login page is blank")
    model = LLMClusterer(proposer=TopicProposer(), judge=judge, random_state=0,
                         batch_size=2, n_jobs=4).fit(TEXTS)
    with pytest.warns(LLMClusterWarning, match="RuntimeError: judge crashed"):
        labels = model.predict(PROBE * 3)
    assert_aligned(labels, len(PROBE) * 3, model)
    lost = [PROBE[i % len(PROBE)] for i in np.flatnonzero(labels == -1)]
    assert "login page is blank" in lost
    # Duplicates are judged once: one batch of 2 unique texts, tried twice.
    assert len(set(lost) - {"weather today", "weather tomorrow", "parking is full",
                            "parking fee wrong"}) <= 2
    with pytest.warns(LLMClusterWarning, match="2 LLM calls failed"):
        model.partial_fit(["login page is blank", "card x", "card y", "login z"])
    assert model.llm_usage_.failed_calls == 2  # the batch and its second pass
    assert model.llm_usage_.retries >= 1


def test_custom_proposer_nonsense_is_cleaned_not_crashed():
    class Nonsense:
        def propose(self, texts, clusters):
            return [Proposal(name="card " + "x" * 10_000, members=[0, 1, -3, 10**6, True]),
                    Proposal(name=None, members=[2]),
                    Proposal(name="members not a list", members=5),
                    "not a proposal"]

    class NoJudge:
        def judge(self, texts, clusters):
            return [{"unhashable": 1}] * len(texts)  # nonsense ids never crash the engine

    with pytest.warns(LLMClusterWarning):
        model = LLMClusterer(proposer=Nonsense(), judge=NoJudge(), random_state=0).fit(TEXTS)
    assert_aligned(model.labels_, len(TEXTS), model)
    assert list(model.labels_[:2]) == [0, 0]
    assert all(len(c.name) <= 80 for c in model.clusters_)


# -- when nothing works -------------------------------------------------------------

def test_a_small_run_whose_only_calls_fail_raises_instead_of_labelling_all_minus_one():
    provider = RaisingProvider(flaky_error("server is down"))
    with pytest.raises(ProviderUnavailableError, match="LLM calls.*failed.*server is down"):
        make(provider).fit(TEXTS[:4])
    assert provider.calls <= 8


def test_predict_stops_after_eight_consecutive_failures():
    provider = RaisingProvider(flaky_error("overloaded"))
    provider.active = False
    model = make(provider, batch_size=1).fit(TEXTS)
    provider.active = True
    calls_before = provider.calls
    many = [f"card number {i} blocked" for i in range(200)]
    with pytest.raises(ProviderUnavailableError, match="last 8 LLM calls all failed"):
        model.predict(many)
    assert provider.calls - calls_before <= 8 + 4  # the breaker, plus calls in flight


@pytest.mark.parametrize("error", [
    AuthenticationError("OpenAI: invalid API key", provider="openai"),
    ModelNotFoundError("OpenAI: model 'gpt-nope' does not exist", provider="openai"),
])
def test_fatal_errors_stop_at_the_first_call(error):
    provider = RaisingProvider(error)
    with pytest.raises(type(error), match=str(error)):
        make(provider, n_jobs=4).fit(TEXTS)
    assert provider.calls == 1


def test_transport_retries_of_a_failed_call_are_counted():
    provider = RaisingProvider(flaky_error("timeout", retries=3),
                               when=mentions("weather"))
    model = make(provider).fit(TEXTS)
    with pytest.warns(LLMClusterWarning, match="timeout"):
        model.partial_fit(MORE)
    assert model.llm_usage_.failed_calls >= 1
    assert model.llm_usage_.retries >= 3 * model.llm_usage_.failed_calls


# -- transport faults over a real socket --------------------------------------------

KEY = "sk-test-SECRET-123"
SMALL = ["card blocked", "card lost", "login fails", "login broken", "refund please"]


def openai(server, **kw) -> OpenAIProvider:
    kw.setdefault("max_retries", 3)
    kw.setdefault("backoff", 0.005)
    kw.setdefault("max_backoff", 0.02)
    return OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key=KEY, **kw)


@pytest.fixture
def server():
    with FaultyOpenAI(api_key=KEY, models=["gpt-4o-mini"],
                      responder=scripted_responder()) as s:
        yield s


@pytest.fixture(scope="module")
def small_clean():
    return make(ScriptedProvider()).fit(SMALL).labels_


OVERLOADED = {"error": {"message": "The server is overloaded", "type": "server_error"}}


@pytest.mark.parametrize("fault", ["reset", "500", "502", "503", "timeout", "truncated_body",
                                   "html_error_page"])
def test_a_transient_transport_fault_is_retried_and_counted(server, small_clean, fault,
                                                            caplog):
    if fault == "reset":
        server.push_reset()
    elif fault == "timeout":
        server.push(200, OVERLOADED, delay=1.0)  # the client gives up after 0.3 s
    elif fault == "truncated_body":
        server.push(200, b'{"id": "chatcmpl-1", "object": "chat.completion", "choi')
    elif fault == "html_error_page":
        server.push(502, b"<html><body>Bad Gateway</body></html>",
                    headers={"Content-Type": "text/html"})
    else:
        server.push(int(fault), OVERLOADED)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMClusterWarning)
        model = make(openai(server, read_timeout=0.3)).fit(SMALL)
    assert np.array_equal(model.labels_, small_clean)
    assert model.llm_usage_.retries >= 1
    assert model.llm_usage_.failed_calls == 0
    # Nothing was lost, so no LLMClusterWarning; the retry itself is logged.
    assert "retry 1/3" in caplog.text


def test_a_429_storm_honours_retry_after_then_succeeds(server, small_clean):
    body = {"error": {"message": "Rate limit reached", "type": "requests",
                      "code": "rate_limit_exceeded"}}
    server.push(429, body, headers={"Retry-After": "0.05"}, times=2)
    server.push(429, body, headers={"retry-after-ms": "50"})
    model = make(openai(server)).fit(SMALL)
    assert np.array_equal(model.labels_, small_clean)
    assert model.llm_usage_.retries == 3
    times = [r.at for r in server.generation_requests()]
    assert all(b - a >= 0.045 for a, b in zip(times[:4], times[1:4]))


def test_a_429_storm_longer_than_the_retries_is_recovered_by_the_second_pass(server, caplog):
    import logging
    import warnings

    model = make(openai(server)).fit(SMALL)
    body = {"error": {"message": "Rate limit reached", "type": "requests",
                      "code": "rate_limit_exceeded"}}
    server.push(429, body, headers={"Retry-After": "0"}, times=4)  # 1 try + 3 retries
    # Every text ends up labelled, so there is nothing to warn about: the
    # failure is logged, and counted as a retry, not as a failed call.
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, "sklearn_llmcluster"):
        warnings.simplefilter("error", LLMClusterWarning)
        model.partial_fit(["card new", "login new"])
    usage = model.llm_usage_
    assert usage.failed_calls == 0
    assert usage.retries >= 1  # the batch's second pass
    assert "succeeded on retry: RateLimitError" in caplog.text
    names = [model.clusters_[k].name for k in model.labels_]
    assert names == ["card", "login"]


def test_anthropic_529_overloaded_is_retried():
    with FaultyAnthropic(api_key=KEY, responder=scripted_responder()) as server:
        server.push(529, {"type": "error", "error": {"type": "overloaded_error",
                                                     "message": "Overloaded"}}, times=2)
        provider = AnthropicProvider("claude-haiku-4-5", base_url=server.url, api_key=KEY,
                                     backoff=0.005, max_backoff=0.02)
        model = make(provider).fit(SMALL)
    assert model.coverage_ == 1.0
    assert model.llm_usage_.retries == 2


def test_resets_on_every_attempt_stop_the_run_with_the_transport_error(server):
    server.push_reset(times=1000)
    start = time.perf_counter()
    with pytest.raises(ProviderUnavailableError, match="LLM calls.*failed.*cannot connect"):
        make(openai(server, max_retries=1)).fit(SMALL)
    assert time.perf_counter() - start < 5


def test_a_server_that_is_down_stops_the_run_with_connection_refused():
    provider = OpenAIProvider("gpt-4o-mini", closed_port_url() + "/v1", api_key=KEY,
                              max_retries=1, backoff=0.001)
    with pytest.raises(ProviderUnavailableError, match="connection refused"):
        make(provider).fit(SMALL)


def test_a_wrong_model_stops_at_the_first_request(server):
    provider = OpenAIProvider("gpt-nope", server.url + "/v1", api_key=KEY, backoff=0.001)
    with pytest.raises(ModelNotFoundError, match="gpt-nope"):
        make(provider, n_jobs=4).fit(SMALL)
    assert len(server.generation_requests()) == 1


def test_a_bad_key_stops_at_the_first_request(server):
    provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key="sk-wrong",
                              backoff=0.001)
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        make(provider).fit(SMALL)
    assert len(server.generation_requests()) == 1


# -- fuzzing the answer validation ---------------------------------------------------

class Fixed:
    """A provider that answers ``text`` whatever it is asked."""

    name, model = "fixed", "f"

    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages, **kw):
        return self.text


_ids = st.sampled_from(["c1", "c2", "none", "c3", "", None, 0, 1.5, True, [], {}])
_small = st.one_of(st.integers(-3, 6), st.booleans(), st.none(), st.text(max_size=4),
                   st.floats(allow_nan=True), st.lists(st.integers(0, 3), max_size=3))
_assignment = st.one_of(st.fixed_dictionaries({"i": _small, "cluster_id": _ids}),
                        st.dictionaries(st.text(max_size=5), _small, max_size=3), _small)
_cluster = st.one_of(
    st.fixed_dictionaries({"name": st.one_of(st.text(max_size=300), _small),
                           "summary": st.one_of(st.text(max_size=20), _small),
                           "criteria": st.one_of(st.text(max_size=20), _small),
                           "members": st.one_of(st.lists(_small, max_size=8), _small)}),
    _small)
_answers = st.one_of(
    st.fixed_dictionaries({"assignments": st.one_of(st.lists(_assignment, max_size=8), _small)}),
    st.fixed_dictionaries({"clusters": st.one_of(st.lists(_cluster, max_size=6), _small)}),
    st.dictionaries(st.text(max_size=8), _small, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(_answers, st.sampled_from(["", "```json\n", "<think>{}</think>", "Sure: "]))
def test_any_schema_shaped_nonsense_gives_valid_labels_or_the_documented_error(answer, prefix):
    from sklearn_llmcluster.exceptions import ResponseParseError
    from sklearn_llmcluster.discovery.judge import LLMJudge
    from sklearn_llmcluster.llm.client import LLMClient, collect_usage
    from sklearn_llmcluster.discovery.proposer import LLMProposer
    from sklearn_llmcluster.records import Cluster

    client = LLMClient(Fixed(prefix + json.dumps(answer)), max_retries=1)
    texts = ["a", "b", "c", "d"]
    clusters = [Cluster(id="c1", name="one"), Cluster(id="c2", name="two")]
    with collect_usage():
        try:
            labels = LLMJudge(client).judge(texts, clusters)
        except ResponseParseError:
            pass
        else:
            assert len(labels) == len(texts)
            assert all(label in (None, "c1", "c2") for label in labels)
        try:
            proposals = LLMProposer(client, max_new_clusters=6).propose(texts, clusters)
        except ResponseParseError:
            pass
        else:
            names = [p.name for p in proposals]
            assert len(set(names)) == len(names) and all(0 < len(n) <= 80 for n in names)
            members = [m for p in proposals for m in p.members]
            assert all(isinstance(m, int) and 0 <= m < len(texts) for m in members)
            assert len(set(members)) == len(members)  # one cluster per text
