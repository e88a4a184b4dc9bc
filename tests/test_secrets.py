"""API keys never appear in logs, llm_log.jsonl, reprs, errors, warnings, reports or pickles.

Real providers talk to the fake vendor servers with a recognisable key; the
tests then search the bytes of everything a run leaves behind.
"""

from __future__ import annotations

import io
import logging
import pickle
import traceback
import warnings

import joblib
import pytest
from fake_llm_servers import FakeAnthropic, FakeOpenAI, scripted_responder

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.exceptions import AuthenticationError, ProviderUnavailableError
from sklearn_llmcluster.providers import AnthropicProvider, OpenAIProvider

KEY = "sk-test-SECRET-123"
TEXTS = ["card blocked after payment", "card stolen", "login fails", "login page blank",
         "refund please", "refund not received"]


def assert_secret_free(*blobs) -> None:
    for blob in blobs:
        data = blob if isinstance(blob, bytes) else str(blob).encode("utf-8", "replace")
        assert KEY.encode() not in data
        assert b"SECRET-123" not in data


def full_text(exc: BaseException) -> str:
    """The message, the chained causes and the traceback, as a user would see them."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture(params=["openai", "anthropic"])
def vendor(request):
    if request.param == "openai":
        with FakeOpenAI(api_key=KEY, responder=scripted_responder()) as server:
            yield server, lambda key=KEY, **kw: OpenAIProvider(
                "gpt-4o-mini", server.url + "/v1", api_key=key, backoff=0.001, **kw)
    else:
        with FakeAnthropic(api_key=KEY, responder=scripted_responder()) as server:
            yield server, lambda key=KEY, **kw: AnthropicProvider(
                "claude-haiku-4-5", base_url=server.url, api_key=key, backoff=0.001, **kw)


def test_a_fitted_run_leaves_the_key_nowhere(vendor, tmp_path, caplog):
    server, make_provider = vendor
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    log = tmp_path / "llm_log.jsonl"
    cache = tmp_path / "cache.sqlite"
    model = LLMClusterer(provider=make_provider(), llm_log=log, cache=cache, random_state=0,
                         batch_size=2, proposal_size=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(TEXTS)
        model.partial_fit(["weather today", "weather again"])
        model.predict(TEXTS)
    # The key did reach the server, so the search below means something.
    assert any(KEY in "".join(r.headers.values()) for r in server.requests)
    assert model.n_clusters_ > 0
    dumped = io.BytesIO()
    joblib.dump(model, dumped)
    model.save_clusters(tmp_path / "clusters.json")
    from sklearn_llmcluster.report.html import write_report

    write_report(model, tmp_path / "report.html")
    assert_secret_free(
        repr(model), repr(model.provider_), repr(model.client_), str(model.get_params()),
        pickle.dumps(model), dumped.getvalue(), log.read_bytes(), cache.read_bytes(),
        (tmp_path / "clusters.json").read_bytes(), (tmp_path / "report.html").read_bytes(),
        caplog.text, *[str(w.message) for w in caught],
    )


def test_a_wrong_key_fails_with_advice_and_without_either_key(vendor, caplog):
    server, make_provider = vendor
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        LLMClusterer(provider=make_provider(key="sk-wrong-SECRET-123"),
                     random_state=0).fit(TEXTS)
    assert "401" in str(info.value)
    text = full_text(info.value)
    assert "sk-wrong-SECRET-123" not in text and "sk-wrong-SECRET-123" not in caplog.text
    assert_secret_free(text, caplog.text)


def test_a_server_echoing_the_key_in_its_error_body_is_scrubbed(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    log = tmp_path / "llm_log.jsonl"
    with FakeOpenAI(api_key=KEY, responder=scripted_responder()) as server:
        echo = {"error": {"message": f"Incorrect API key provided: {KEY}.",
                          "type": "invalid_request_error", "code": "invalid_api_key"}}
        server.push(401, echo)
        provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key=KEY, backoff=0.001,
                                  max_backoff=0.005)
        with pytest.raises(AuthenticationError) as info:
            LLMClusterer(provider=provider, llm_log=log, random_state=0).fit(TEXTS)
        assert "Incorrect API key provided: ***" in str(info.value)
        assert_secret_free(full_text(info.value), caplog.text, log.read_bytes())

        # The same for a retryable error that ends up in a warning and the log.
        busy = {"error": {"message": f"overloaded, key {KEY} throttled", "type": "server_error"}}
        model = LLMClusterer(provider=provider, llm_log=log, random_state=0,
                             batch_size=2).fit(TEXTS)
        server.push(503, busy, times=8)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.partial_fit(["card x", "login y"])
            except ProviderUnavailableError as exc:  # nothing worked: also acceptable
                assert_secret_free(full_text(exc))
        assert_secret_free(*[str(w.message) for w in caught], caplog.text, log.read_bytes(),
                           pickle.dumps(model))


def test_a_key_from_the_environment_is_not_pickled(monkeypatch, tmp_path):
    with FakeOpenAI(api_key=KEY, responder=scripted_responder()) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        model = LLMClusterer(provider="openai:gpt-4o-mini", random_state=0).fit(TEXTS)
        assert model.n_clusters_ > 0
        blob = pickle.dumps(model)
        assert_secret_free(blob, repr(model), repr(model.provider_))
        # Unpickled, the provider reads the key from the environment again.
        assert (pickle.loads(blob).predict(TEXTS) >= 0).all()
