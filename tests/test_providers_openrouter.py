"""OpenRouterProvider against a fake OpenRouter (OpenAI shape, its own errors)."""

from __future__ import annotations

import pytest
from fake_llm_servers import FakeOpenRouter

from sklearn_llmcluster.exceptions import (
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from sklearn_llmcluster.llm.providers import OpenRouterProvider

KEY = "sk-or-test-key"
MODEL = "anthropic/claude-3.5-haiku"
CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "my card"}]
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {"label": {"type": "string"}}, "required": ["label"]}
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 1}


@pytest.fixture
def server():
    with FakeOpenRouter(api_key=KEY, models=[MODEL, "openai/gpt-4o-mini"]) as fake:
        yield fake


def openrouter(server, **kwargs):
    return OpenRouterProvider(MODEL, server.url + "/api/v1", api_key=KEY, **{**FAST, **kwargs})


def test_happy_path_sends_schema_routing_and_attribution(server):
    p = openrouter(server, app_url="https://example.org/app", app_title="Triage",
                   provider_preferences={"sort": "price"})
    answer = p.complete(CHAT, temperature=0.0, max_tokens=200, json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    request = server.generation_requests()[-1]
    assert request.path == "/api/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["http-referer"] == "https://example.org/app"
    assert request.headers["x-openrouter-title"] == "Triage"
    assert request.headers["x-title"] == "Triage"
    body = request.body
    assert body["provider"] == {"require_parameters": True, "sort": "price"}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["max_tokens"] == 200 and body["model"] == MODEL


def test_usage_is_parsed(server):
    answer = openrouter(server).complete(CHAT)
    assert answer.prompt_tokens == len("Classify.my card") // 4
    assert answer.completion_tokens == len('{"label": "billing"}') // 4
    assert answer.finish_reason == "stop"


def test_require_parameters_cannot_be_switched_off_by_accident(server):
    openrouter(server, provider_preferences={"data_collection": "deny"}).complete(CHAT)
    assert server.generation_requests()[-1].body["provider"]["require_parameters"] is True


def test_http_200_with_error_body_is_an_error_and_retried(server):
    error = {"error": {"code": 502, "message": "Upstream provider error",
                       "metadata": {"provider_name": "Fireworks"}}}
    server.push(200, error)
    assert openrouter(server).complete(CHAT).retries == 1
    server.push(200, error, times=2)
    with pytest.raises(ProviderResponseError, match="Upstream provider error.*Fireworks"):
        openrouter(server).complete(CHAT)


def _err(status, message):
    return {"error": {"code": status, "message": message}}


OPENROUTER_ERRORS = [
    (400, _err(400, "Invalid request: messages must be an array"), BadRequestError, 1),
    (400, {"error": {"message": "foo is not a valid model ID", "code": 400},
           "user_id": "user_1"}, ModelNotFoundError, 1),
    (401, _err(401, "No auth credentials found"), AuthenticationError, 1),
    (402, _err(402, "Insufficient credits. Add more using https://openrouter.ai/credits"),
     QuotaExceededError, 1),
    (403, _err(403, "Input flagged by moderation"), BadRequestError, 1),
    (408, _err(408, "Request timed out"), ProviderTimeoutError, 2),
    (429, _err(429, "Rate limit exceeded"), RateLimitError, 2),
    (502, _err(502, "Provider returned error"), ProviderUnavailableError, 2),
    (503, _err(503, "No endpoints found that can handle the requested parameters."),
     ProviderUnavailableError, 2),
]


@pytest.mark.parametrize("status, body, expected, calls", OPENROUTER_ERRORS)
def test_openrouter_errors_map_to_exceptions(server, status, body, expected, calls):
    server.push(status, body, times=2)
    with pytest.raises(expected) as info:
        openrouter(server).complete(CHAT)
    assert type(info.value) is expected
    assert len(server.generation_requests()) == calls
    assert "OpenRouter" in str(info.value) and MODEL in str(info.value)


def test_moderation_403_is_per_text_not_fatal(server):
    server.push(403, _err(403, "Input flagged by moderation"))
    with pytest.raises(BadRequestError) as info:
        openrouter(server).complete(CHAT)
    assert not info.value.fatal and "moderation" in str(info.value)


def test_unknown_model_from_the_real_check(server):
    with pytest.raises(ModelNotFoundError, match="openrouter.ai/models"):
        OpenRouterProvider("nope/model", server.url + "/api/v1", api_key=KEY,
                           **FAST).complete(CHAT)


def test_retry_after_on_429_is_waited(server):
    server.push(429, _err(429, "Rate limit exceeded"), headers={"Retry-After": "0.2"})
    openrouter(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.2 <= second.at - first.at < 1.0


def test_slow_server_times_out(server):
    server.push(200, {}, delay=1.0)
    with pytest.raises(ProviderTimeoutError):
        openrouter(server, read_timeout=0.2, max_retries=0).complete(CHAT)


def test_key_not_in_exception_even_when_echoed(server):
    secret = "sk-or-v1-SECRET-0123456789"
    server.push(401, _err(401, f"User not found for key {secret}"))
    with pytest.raises(AuthenticationError) as info:
        OpenRouterProvider(MODEL, server.url + "/api/v1", api_key=secret, **FAST).complete(CHAT)
    assert secret not in str(info.value)


def test_wrong_key_names_the_variable(server):
    with pytest.raises(AuthenticationError, match="OPENROUTER_API_KEY"):
        OpenRouterProvider(MODEL, server.url + "/api/v1", api_key="sk-or-wrong",
                           **FAST).complete(CHAT)
