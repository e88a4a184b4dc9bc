"""What all HTTP providers share (providers/_http.py): retries, timeouts, secrets, threads."""

from __future__ import annotations

import copy
import io
import pickle
import socket
import threading
import time
from email.utils import formatdate

import joblib
import pytest
from fake_llm_servers import FakeOpenAI

from sklearn_llmcluster.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from sklearn_llmcluster.llm.providers import (
    AnthropicProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    OpenRouterProvider,
    TritonProvider,
)
from sklearn_llmcluster.llm.providers._http import host_is_remote, parse_retry_after

KEY = "sk-test-key"
SECRET = "sk-proj-SECRET-4f9a8b7c6d5e"
CHAT = [{"role": "user", "content": "hello"}]
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 2, "connect_timeout": 2,
        "read_timeout": 5}


@pytest.fixture
def server():
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def openai(server, **kwargs):
    options = {**FAST, **kwargs}
    options.setdefault("api_key", KEY)
    return OpenAIProvider("gpt-4o-mini", server.url + "/v1", **options)


# -- Retry-After parsing and remote detection ------------------------------------

def test_retry_after_seconds_ms_and_http_date():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    # retry-after-ms is more precise and wins, as in the vendors' SDKs.
    assert parse_retry_after({"retry-after-ms": "150", "retry-after": "9"}) == 0.15
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == 30
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("url, remote", [
    ("https://api.openai.com/v1", True),
    ("https://openrouter.ai/api/v1", True),
    ("https://api.anthropic.com", True),
    ("https://vllm.example.com/v1", True),
    ("http://8.8.8.8:8000", True),
    ("http://localhost:11434", False),
    ("http://127.0.0.1:8000/v1", False),
    ("http://[::1]:8000", False),
    ("http://10.1.2.3:8000", False),
    ("http://192.168.0.7:8000", False),
    ("http://172.16.5.4:8000", False),
    ("http://gpu-box:8000", False),
    ("http://triton.internal:8000", False),
    ("http://llm.local:8080", False),
])
def test_host_is_remote_by_hostname_or_ip(url, remote):
    assert host_is_remote(url) is remote


def test_is_remote_defaults_per_vendor():
    assert OpenAIProvider(api_key="k").is_remote
    assert OpenRouterProvider(api_key="k").is_remote
    assert AnthropicProvider(api_key="k").is_remote
    assert not OllamaProvider().is_remote
    assert not TritonProvider("ensemble", "http://10.0.0.5:8000").is_remote
    assert not OpenAICompatibleProvider("m", "http://127.0.0.1:8000/v1").is_remote
    assert OpenAICompatibleProvider("m", "https://api.together.xyz/v1").is_remote
    assert not OpenAIProvider(api_key="k", is_remote=False).is_remote


def test_bad_base_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="http"):
        OpenAIProvider("gpt-4o-mini", "api.openai.com/v1")


# -- retries ----------------------------------------------------------------------

def test_retries_server_errors_then_succeeds(server):
    server.push(503, {"error": {"message": "overloaded", "type": "server_error"}})
    server.push(500, {"error": {"message": "boom", "type": "server_error"}})
    answer = openai(server).complete(CHAT)
    assert answer == '{"label": "billing"}'
    assert answer.retries == 2
    assert len(server.generation_requests()) == 3


def test_gives_up_after_max_retries(server):
    server.push(429, {"error": {"message": "slow down", "type": "requests",
                                "code": "rate_limit_exceeded"}}, times=5)
    with pytest.raises(RateLimitError) as info:
        openai(server, max_retries=2).complete(CHAT)
    assert len(server.generation_requests()) == 3
    # The engine adds these to llm_usage_.retries even though the call failed.
    assert info.value.retries == 2


def test_retry_after_seconds_is_waited(server):
    # A backoff of 5 s would fail the upper bound: the 0.2 s asked for is used.
    server.push(429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                headers={"Retry-After": "0.2"})
    openai(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.2 <= second.at - first.at < 3.0  # the backoff alone would wait >= 3.75 s


def test_retry_after_ms_is_waited(server):
    server.push(503, {"error": {"message": "busy"}}, headers={"retry-after-ms": "250"})
    openai(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.25 <= second.at - first.at < 3.0


def test_retry_after_beyond_limit_raises_at_once(server):
    server.push(429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        openai(server, max_retry_wait=10).complete(CHAT)
    assert time.monotonic() - started < 5.0  # instead of waiting the hour or the 10 s cap
    assert info.value.retry_after == 3600
    assert "3600" in str(info.value)
    assert len(server.generation_requests()) == 1


def test_x_should_retry_header_overrides_the_status(server):
    server.push(503, {"error": {"message": "down"}}, headers={"x-should-retry": "false"})
    with pytest.raises(ProviderUnavailableError):
        openai(server).complete(CHAT)
    assert len(server.generation_requests()) == 1

    server.push(400, {"error": {"message": "transient", "type": "invalid_request_error"}},
                headers={"x-should-retry": "true"})
    assert openai(server).complete(CHAT).retries == 1


def test_body_that_is_not_json_is_retried_as_a_response_error(server):
    server.push(200, "<html>gateway</html>", times=3)
    with pytest.raises(ProviderResponseError, match="not JSON"):
        openai(server).complete(CHAT)
    assert len(server.generation_requests()) == 3


def test_backoff_doubles_with_jitter_and_is_capped():
    provider = OpenAIProvider(api_key="k", backoff=1.0, max_backoff=3.0)
    for attempt, base in [(0, 1.0), (1, 2.0), (2, 3.0), (5, 3.0)]:
        delays = [provider._retry_delay(attempt, None) for _ in range(50)]
        assert all(0.75 * base <= d <= base for d in delays)
        assert len(set(delays)) > 1  # jittered


# -- transport failures --------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_unavailable_with_url_and_advice():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    provider = OpenAICompatibleProvider("m", url, **{**FAST, "max_retries": 1})
    with pytest.raises(ProviderUnavailableError) as info:
        provider.complete(CHAT)
    message = str(info.value)
    assert url in message and "'m'" in message and "running" in message
    assert info.value.provider == "openai-compatible" and info.value.url.startswith(url)


def test_nothing_listening_fails_at_once_with_a_clear_fatal_error():
    # Default retry settings (3 retries from 0.5 s: 3.5 s of backoff at least),
    # and a whole fit: the engine's second pass and circuit breaker must not
    # retry it either.
    from sklearn_llmcluster import LLMClusterer

    url = f"http://127.0.0.1:{_closed_port()}/v1"
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match="nothing listens") as info:
        LLMClusterer(provider=OpenAICompatibleProvider("m", url), random_state=0).fit(
            ["card blocked", "login fails"] * 20)
    assert time.monotonic() - started < 2.0
    assert info.value.fatal and not info.value.retryable
    assert url in str(info.value) and "running" in str(info.value)
    # The verdict survives a process boundary (joblib/Dask send errors back pickled).
    again = pickle.loads(pickle.dumps(info.value))
    assert again.fatal and not again.retryable and str(again) == str(info.value)


def test_a_refusal_after_the_server_answered_is_retried_as_a_restart(server, caplog):
    provider = openai(server, max_retries=1)
    provider.complete(CHAT)
    server.stop()  # the server goes away mid-run: it may be restarting
    provider = copy.copy(provider)  # a new session: the old keep-alive socket may still answer
    with pytest.raises(ProviderUnavailableError, match="connection refused") as info:
        provider.complete(CHAT)
    assert "retry 1/1" in caplog.text and not info.value.fatal


def test_timeouts_and_5xx_are_still_retried(server):
    server.push(503, {"error": {"message": "overloaded"}})
    server.push(200, {}, delay=1.0)
    provider = openai(server, read_timeout=0.3, max_retries=2)
    assert provider.complete(CHAT) == '{"label": "billing"}'
    assert len(server.generation_requests()) == 3


def test_slow_server_raises_timeout(server):
    server.push(200, {}, delay=4.0)
    provider = openai(server, read_timeout=0.2, max_retries=0)
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match="LLM_REQUEST_TIMEOUT"):
        provider.complete(CHAT)
    assert time.monotonic() - started < 3.0  # well before the server's 4 s answer


# -- threads --------------------------------------------------------------------------

def test_one_provider_from_many_threads(server):
    provider = openai(server)
    sessions, answers, errors = set(), [], []

    def work():
        try:
            sessions.add(id(provider._session()))
            for _ in range(5):
                answers.append(provider.complete(CHAT))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(answers) == 60 and set(answers) == {'{"label": "billing"}'}
    assert len(sessions) == 12  # one requests.Session per thread


# -- secrets ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: OpenAIProvider(api_key=SECRET),
    lambda: OpenRouterProvider(api_key=SECRET),
    lambda: AnthropicProvider(api_key=SECRET),
    lambda: OpenAICompatibleProvider("m", "http://10.0.0.2:8000/v1", api_key=SECRET),
])
def test_key_not_in_repr_or_pickles(make):
    provider = make()
    provider._session()  # a live session must not end up in the pickle either
    assert SECRET not in repr(provider)
    assert SECRET.encode() not in pickle.dumps(provider)
    buffer = io.BytesIO()
    joblib.dump(provider, buffer)
    assert SECRET.encode() not in buffer.getvalue()
    clone = pickle.loads(pickle.dumps(provider))
    assert clone.model == provider.model and clone.base_url == provider.base_url


def test_key_read_again_from_environment_after_unpickling(server, monkeypatch, tmp_path):
    provider = pickle.loads(pickle.dumps(openai(server)))
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        provider.complete(CHAT)
    assert server.generation_requests() == []  # no request went out without a key
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert provider.complete(CHAT) == '{"label": "billing"}'


def test_key_read_from_dotenv_file_after_unpickling(server, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    monkeypatch.chdir(tmp_path)
    provider = pickle.loads(pickle.dumps(openai(server)))
    assert provider.complete(CHAT) == '{"label": "billing"}'


def test_deepcopy_keeps_the_key_in_process(server):
    # sklearn's clone() deep-copies parameters: cross-validation must keep working.
    from sklearn.base import clone

    from sklearn_llmcluster.estimator import LLMClusterer

    provider = openai(server)
    copied = copy.deepcopy(provider)
    assert copied._local is not provider._local
    assert copied.complete(CHAT) == '{"label": "billing"}'
    cloned = clone(LLMClusterer(provider=provider)).provider
    assert cloned.complete(CHAT) == '{"label": "billing"}'
    assert copy.copy(provider).complete(CHAT) == '{"label": "billing"}'


def test_key_never_in_exception_text_even_when_the_server_echoes_it(server):
    server.push(401, {"error": {"message": f"Incorrect API key provided: {SECRET}",
                                "type": "invalid_request_error", "code": "invalid_api_key"}})
    provider = openai(server, api_key=SECRET)
    with pytest.raises(AuthenticationError) as info:
        provider.complete(CHAT)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET.encode() not in pickle.dumps(info.value)
    assert "OPENAI_API_KEY" in str(info.value)


def test_missing_key_fails_before_any_request(server, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", **FAST)
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        provider.complete(CHAT)
    assert server.requests == []


# -- Credentials in the URL (providers/_urls.py) ---------------------------------------

URL_PASSWORD = "pw-URLPASS-31"
URL_SECRET = "q-URLSECRET-42"


class _QueryBlindOpenAI(FakeOpenAI):
    """Routes on the path alone, as a real server does with a query it ignores."""

    def route(self, request):
        import dataclasses

        return super().route(dataclasses.replace(request, path=request.path.split("?")[0]))


@pytest.fixture
def query_server():
    with _QueryBlindOpenAI(api_key=KEY) as fake:
        yield fake


def test_redact_url_masks_userinfo_and_secret_parameters_only():
    from sklearn_llmcluster.llm.providers._urls import redact_url

    url = (f"http://bob:{URL_PASSWORD}@10.0.0.2:8000/v1?api-version=2024&api_key={URL_SECRET}"
           f"&X-Api-Key={URL_SECRET}&token={URL_SECRET}&sig={URL_SECRET}")
    shown = redact_url(url)
    assert shown == ("http://***@10.0.0.2:8000/v1?api-version=2024&api_key=***&X-Api-Key=***"
                     "&token=***&sig=***")
    assert redact_url(shown) == shown  # idempotent
    assert redact_url(url, strip=True) == "http://10.0.0.2:8000/v1?api-version=2024"
    assert redact_url("http://127.0.0.1:8000/v1?n=1") == "http://127.0.0.1:8000/v1?n=1"
    assert redact_url(f"bob:{URL_PASSWORD}@gpu-box:8000/v1") == "***@gpu-box:8000/v1"
    assert redact_url(None) is None


def test_query_string_of_the_base_url_goes_after_the_request_path(query_server):
    server = query_server
    provider = OpenAICompatibleProvider(
        "m", f"{server.url}/v1?api-version=2024&key={URL_SECRET}", api_key=KEY, **FAST)
    assert provider.base_url == f"{server.url}/v1?api-version=2024&key=***"
    provider.complete(CHAT)
    assert server.requests[-1].path == f"/v1/chat/completions?api-version=2024&key={URL_SECRET}"
    # Without a path, /v1 is added before the query too.
    bare = OpenAICompatibleProvider("m", f"{server.url}?key={URL_SECRET}")
    assert bare._url("/chat/completions") == f"{server.url}/v1/chat/completions?key={URL_SECRET}"
    ollama = OllamaProvider("qwen3:30b", f"{server.url}/api/?key={URL_SECRET}")
    assert ollama._url("/api/chat") == f"{server.url}/api/chat?key={URL_SECRET}"


def test_requests_own_exception_messages_are_masked_when_wrapped():
    import requests

    from sklearn_llmcluster.llm.providers._urls import redact_urls_in_text

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://bob:{URL_PASSWORD}@127.0.0.1:{port}/v1/chat?api_key={URL_SECRET}"
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        requests.get(url, timeout=2)
    assert URL_SECRET in str(info.value)  # requests quotes the path and query
    assert URL_SECRET not in redact_urls_in_text(str(info.value))
    provider = OpenAICompatibleProvider("m", url.rsplit("/chat", 1)[0], **FAST)
    err = provider._transport_error(info.value, provider._url("/chat"))
    for text in (str(err), repr(err), err.url, pickle.dumps(err)):
        assert URL_SECRET not in str(text) and URL_PASSWORD not in str(text)
    assert err.__cause__ is None and err.__context__ is None


def test_urllib3_request_lines_are_masked(query_server, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    provider = OpenAIProvider("gpt-4o-mini", f"{query_server.url}/v1?api_key={URL_SECRET}",
                              api_key=KEY, **FAST)
    provider.complete(CHAT)
    assert "/v1/chat/completions?api_key=***" in caplog.text  # the line is still there
    assert URL_SECRET not in caplog.text
