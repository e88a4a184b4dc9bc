"""API keys never appear in logs, llm_log.jsonl, reprs, errors, warnings, reports or pickles.

Nor do the credentials a server URL may carry (``user:pass@``, ``?api_key=``).

Real providers talk to the fake vendor servers with a recognisable key; the
tests then search the bytes of everything a run leaves behind.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
import pickle
import socket
import traceback
import warnings

import joblib
import pytest
from fake_llm_servers import (
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeTriton,
    scripted_responder,
)

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailableError,
)
from sklearn_llmcluster.llm.providers import (
    AnthropicProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    TritonProvider,
    resolve_provider,
)

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


# -- Credentials in the server URL ------------------------------------------------
#
# A base URL may carry a password (http://user:pass@host) or a secret query
# parameter (?api_key=...). They are sent, and then appear nowhere: not in
# errors (message, url attribute, chained causes, pickles), reprs, logs or
# pickled providers.

PASSWORD = "hunter2-URLPASS-77"
QUERY_SECRET = "q-URLSECRET-88"
CHAT_ONE = [{"role": "user", "content": "card blocked"}]
URL_FAST = {"backoff": 0.001, "max_backoff": 0.002, "max_retries": 1, "connect_timeout": 2,
            "read_timeout": 5}


def assert_url_secret_free(*blobs) -> None:
    for blob in blobs:
        data = blob if isinstance(blob, bytes) else str(blob).encode("utf-8", "replace")
        assert PASSWORD.encode() not in data, blob
        assert QUERY_SECRET.encode() not in data, blob
        assert b"URLPASS" not in data and b"URLSECRET" not in data, blob


def ignoring_query(cls):
    """A fake that routes on the path alone, as a real server does with its query."""

    class Fake(cls):
        def route(self, request):
            return super().route(dataclasses.replace(request, path=request.path.split("?")[0]))

    Fake.__name__ = cls.__name__
    return Fake


def with_credentials(url: str, query: str) -> str:
    """``http://alice:PASSWORD@host:port`` + ``query`` (which names the secret param)."""
    return url.replace("http://", f"http://alice:{PASSWORD}@", 1) + query


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Each vendor: fake server class and its arguments, the provider factory
# (URL, model, options) and what the URL gets after the host: the query
# parameter that holds the secret differs on purpose.
VENDORS_WITH_URL = {
    "openai-compatible": (
        FakeOpenAI, {"api_key": None, "models": ["m"]},
        lambda url, model="m", **kw: OpenAICompatibleProvider(model, url, **kw),
        f"/v1?api-version=2024&api_key={QUERY_SECRET}",
    ),
    "ollama": (
        FakeOllama, {"models": ("qwen3:30b",)},
        lambda url, model="qwen3:30b", **kw: OllamaProvider(model, url, **kw),
        f"?key={QUERY_SECRET}",
    ),
    "triton": (
        FakeTriton, {},
        lambda url, model="ensemble", **kw: TritonProvider(model, url, **kw),
        f"?token={QUERY_SECRET}",
    ),
}


@pytest.fixture(params=sorted(VENDORS_WITH_URL))
def url_vendor(request):
    """``(server, make)``: ``make(model=None, url=None)`` builds a provider for
    ``url`` (the server's by default) with the password and query secret added."""
    fake_cls, server_kwargs, factory, suffix = VENDORS_WITH_URL[request.param]

    def make(model=None, url=None):
        options = dict(URL_FAST, **({"model": model} if model else {}))
        return factory(with_credentials(url or server.url, suffix), **options)

    with ignoring_query(fake_cls)(**server_kwargs) as server:
        yield server, make


def all_of(exc: ProviderError) -> list:
    """Everything a user may see of an error, or send elsewhere."""
    return [full_text(exc), repr(exc), exc.url, pickle.dumps(exc),
            pickle.loads(pickle.dumps(exc)).url]


def test_url_credentials_are_sent_but_never_shown_or_pickled(url_vendor, caplog):
    server, make = url_vendor
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    provider = make()
    assert provider.complete(CHAT_ONE)
    # The credentials did reach the server, so the searches below mean something.
    last = server.requests[-1]
    assert QUERY_SECRET in last.path
    assert last.headers.get("authorization", "").startswith("Basic ")
    assert_url_secret_free(repr(provider), provider.base_url, pickle.dumps(provider),
                           caplog.text)
    assert "***" in provider.base_url
    # In-process copies (sklearn's clone) keep them; an unpickled one has none.
    assert copy.deepcopy(provider).complete(CHAT_ONE)
    assert QUERY_SECRET in server.requests[-1].path
    clone = pickle.loads(pickle.dumps(provider))
    assert clone.base_url == provider.base_url
    assert_url_secret_free(clone._url("/x"), repr(clone.__dict__))


def test_url_credentials_not_in_http_error_statuses(url_vendor, caplog):
    server, make = url_vendor
    caplog.set_level(logging.DEBUG)
    provider = make()
    provider.complete(CHAT_ONE)  # past the readiness and model checks
    echoed = with_credentials(server.url, f"/x?api_key={QUERY_SECRET}")
    for status in (503, 401, 400):
        # Servers echo the request; this one echoes the credentials too.
        server.push(status, {"error": f"rejected {echoed} (pass {PASSWORD})"},
                    times=2 if status == 503 else 1)  # 503 is retried once
        with pytest.raises(ProviderError) as info:
            provider.complete(CHAT_ONE)
        assert info.value.status_code == status
        assert "***" in info.value.url and str(server.url.split("//")[1]) in info.value.url
        assert_url_secret_free(*all_of(info.value))
    assert "retry 1/1" in caplog.text  # the 503 was retried, and logged
    assert_url_secret_free(caplog.text)


def test_url_credentials_not_in_model_not_found(url_vendor, caplog):
    server, make = url_vendor
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ModelNotFoundError) as info:
        make(model="no-such-model").complete(CHAT_ONE)
    assert "no-such-model" in str(info.value)
    assert_url_secret_free(*all_of(info.value), caplog.text)


def test_url_credentials_not_in_connection_refused(url_vendor, caplog):
    _, make = url_vendor
    caplog.set_level(logging.DEBUG)
    provider = make(url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ProviderUnavailableError) as info:
        provider.complete(CHAT_ONE)
    # Never reached: nothing listens, so no retry.
    assert "nothing listens" in str(info.value) and "retry" not in caplog.text
    assert_url_secret_free(*all_of(info.value), caplog.text)
    provider._reached = True  # a server that answered before: a refusal is a restart
    with pytest.raises(ProviderUnavailableError) as info:
        provider.complete(CHAT_ONE)
    assert "refused" in str(info.value) and "retry 1/1" in caplog.text
    assert_url_secret_free(*all_of(info.value), caplog.text)


def test_url_credentials_not_in_spec_parsing_errors():
    secret_url = f"http://alice:{PASSWORD}@gpu-box:8000/v1?api_key={QUERY_SECRET}"
    with pytest.raises(ConfigurationError) as info:
        resolve_provider(f"no-such-vendor:m@{secret_url}", env={})
    assert "no-such-vendor" in str(info.value)
    assert_url_secret_free(full_text(info.value))
    with pytest.raises(ConfigurationError) as info:
        OpenAICompatibleProvider("m", secret_url.replace("http://", "ftp://"))
    assert "ftp://***@gpu-box" in str(info.value)
    assert_url_secret_free(full_text(info.value))
    # A URL requests cannot use: its own message quotes the URL whole.
    provider = resolve_provider(
        f"openai-compatible:m@http://alice:{PASSWORD}@/v1?api_key={QUERY_SECRET}", env={})
    with pytest.raises(ConfigurationError) as info:
        provider.complete(CHAT_ONE)
    assert_url_secret_free(full_text(info.value), repr(provider), pickle.dumps(provider))


def test_url_credentials_not_in_estimator_errors_from_a_spec(monkeypatch, caplog):
    # The reviewer's case: the spec string names a URL with a password.
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LLM_MAX_RETRIES", "1")
    with FakeOpenAI(api_key=None, models=["other"]) as server:
        spec = f"openai-compatible:m@{with_credentials(server.url, '/v1')}"
        with pytest.raises(ModelNotFoundError) as info:
            LLMClusterer(provider=spec, random_state=0).fit(TEXTS)
        assert server.requests and "m" in str(info.value)
    assert_url_secret_free(*all_of(info.value), caplog.text)
    spec = (f"openai-compatible:m@http://alice:{PASSWORD}@127.0.0.1:{closed_port()}/v1"
            f"?token={QUERY_SECRET}")
    with pytest.raises(ProviderUnavailableError) as info:
        LLMClusterer(provider=spec, random_state=0).fit(TEXTS)
    assert_url_secret_free(*all_of(info.value), caplog.text)


def test_provider_errors_mask_url_credentials_however_built():
    # A provider written elsewhere may pass the raw URL: the error masks it.
    url = f"http://alice:{PASSWORD}@host/v1/chat?key={QUERY_SECRET}&n=1"
    err = ProviderError(f"failed at {url}", provider="x", url=url)
    assert err.url == "http://***@host/v1/chat?key=***&n=1"
    assert_url_secret_free(*all_of(err))
    assert_url_secret_free(str(ConfigurationError(f"bad {url}")))


def test_a_provider_spec_with_url_credentials_stays_out_of_the_estimators_repr_and_pickle():
    import pickle

    from sklearn_llmcluster import LLMClusterer

    spec = "openai-compatible:m@http://user:hun'ter2@127.0.0.1:9/v1?api_key=SE(CRET)42"
    model = LLMClusterer(provider=spec)
    assert model.get_params()["provider"] == spec  # scikit-learn: stored as given
    for shown in (repr(model), str(model), pickle.dumps(model)):
        text = shown.decode("latin-1") if isinstance(shown, bytes) else shown
        assert "ter2" not in text and "CRET" not in text
    assert "127.0.0.1:9/v1" in pickle.loads(pickle.dumps(model)).provider
    assert model.provider == spec


def test_an_unknown_vendor_error_masks_a_password_with_quotes_and_parentheses():
    from sklearn_llmcluster.exceptions import ConfigurationError
    from sklearn_llmcluster.llm.providers.resolve import parse_provider_spec

    with pytest.raises(ConfigurationError) as info:
        parse_provider_spec("nosuchvendor:m@http://bob:Pa'ss(9)@127.0.0.1:9/v1?key=S(EC)RET")
    assert "ss(9)" not in str(info.value) and "EC)" not in str(info.value)
    assert "127.0.0.1:9/v1" in str(info.value)
