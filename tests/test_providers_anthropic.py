"""AnthropicProvider against a fake Messages API."""

from __future__ import annotations

import json

import pytest
from fake_llm_servers import FakeAnthropic

from sklearn_llmcluster.exceptions import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    PermissionDeniedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from sklearn_llmcluster.llm.providers import AnthropicProvider
from sklearn_llmcluster.llm.providers.anthropic import supports_output_format

KEY = "sk-ant-test-key"
CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "my card"}]
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {"label": {"type": "string"}}, "required": ["label"]}
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 1}


@pytest.fixture
def server():
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake


def anthropic(server, model="claude-haiku-4-5", **kwargs):
    return AnthropicProvider(model, server.url, api_key=KEY, **{**FAST, **kwargs})


def test_happy_path_headers_system_and_output_config(server):
    answer = anthropic(server).complete(CHAT, temperature=0.0, max_tokens=300,
                                        json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    request = server.generation_requests()[-1]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.body
    assert body["system"] == [{"type": "text", "text": "Classify.",
                               "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": "my card"}]
    assert body["max_tokens"] == 300 and body["temperature"] == 0.0
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in body


def test_max_tokens_always_sent(server):
    anthropic(server, default_max_tokens=1234).complete(CHAT)
    assert server.generation_requests()[-1].body["max_tokens"] == 1234


def test_usage_counts_cached_prompt_tokens(server):
    answer = anthropic(server).complete(CHAT)
    assert answer.prompt_tokens == len("Classify.my card") // 4
    assert answer.completion_tokens == len('{"label": "billing"}') // 4
    assert answer.finish_reason == "end_turn" and answer.model == "claude-haiku-4-5"
    server.push(200, {"type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                      "content": [{"type": "text", "text": "{}"}], "stop_reason": "end_turn",
                      "usage": {"input_tokens": 10, "output_tokens": 3,
                                "cache_creation_input_tokens": 100,
                                "cache_read_input_tokens": 1000}})
    assert anthropic(server).complete(CHAT).prompt_tokens == 1110


def test_older_models_get_a_forced_tool_call(server):
    p = anthropic(server, model="claude-3-5-haiku-latest")
    assert p.structured_output == "tool"
    answer = p.complete(CHAT, json_schema=SCHEMA)
    assert json.loads(answer) == {"label": "billing"}
    assert answer.finish_reason == "tool_use"
    body = server.generation_requests()[-1].body
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert "output_config" not in body


def test_model_rejecting_output_config_switches_to_the_tool_for_good(server):
    p = anthropic(server, model="claude-sonnet-4-6-preview", structured_output="output_format")
    assert json.loads(p.complete(CHAT, json_schema=SCHEMA)) == {"label": "billing"}
    first, second = server.generation_requests()
    assert "output_config" in first.body and "tools" in second.body
    assert p.structured_output == "tool"
    p.complete(CHAT, json_schema=SCHEMA)
    assert len(server.generation_requests()) == 3


def test_other_400s_do_not_trigger_the_tool_fallback(server):
    server.push(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                 "message": "temperature: out of range"}})
    with pytest.raises(BadRequestError):
        anthropic(server).complete(CHAT, json_schema=SCHEMA)
    assert len(server.generation_requests()) == 1


def test_consecutive_user_messages_are_merged(server):
    chat = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}]
    anthropic(server).complete(chat)
    assert server.generation_requests()[-1].body["messages"] == [
        {"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"}]


def test_refusal_is_not_retried(server):
    server.push(200, {"type": "message", "role": "assistant", "content": [],
                      "stop_reason": "refusal", "usage": {"input_tokens": 1, "output_tokens": 0}})
    with pytest.raises(ProviderResponseError, match="refused") as info:
        anthropic(server).complete(CHAT)
    assert info.value.retryable is False


@pytest.mark.parametrize("model, native", [
    ("claude-haiku-4-5", True), ("claude-sonnet-4-5-20250929", True), ("claude-opus-4-6", True),
    ("claude-opus-4-1", False), ("claude-sonnet-4-20250514", False),
    ("claude-3-5-haiku-latest", False), ("claude-3-haiku-20240307", False),
])
def test_native_structured_output_by_model(model, native):
    assert supports_output_format(model) is native


def _err(type_, message, **extra):
    error = {"type": type_, "message": message, **extra}
    return {"type": "error", "error": error, "request_id": "req_011Test"}


ANTHROPIC_ERRORS = [
    (400, _err("invalid_request_error", "messages: field required"), BadRequestError, 1),
    (400, _err("invalid_request_error", "prompt is too long: 200251 tokens > 200000 maximum"),
     ContextLengthError, 1),
    (400, _err("invalid_request_error", "Your credit balance is too low to access the "
               "Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."),
     QuotaExceededError, 1),
    (401, _err("authentication_error", "invalid x-api-key"), AuthenticationError, 1),
    (403, _err("permission_error", "Your API key does not have permission to use the "
               "specified resource."), PermissionDeniedError, 1),
    (404, _err("not_found_error", "model: sonnet4"), ModelNotFoundError, 1),
    (413, _err("request_too_large", "Request exceeds the maximum allowed number of bytes."),
     ContextLengthError, 1),
    (429, _err("rate_limit_error", "Number of request tokens has exceeded your per-minute "
               "rate limit"), RateLimitError, 2),
    (429, _err("rate_limit_error", "You have reached your specified API usage limits.",
               details={"error_code": "enforced_spend_limit_reached"}), QuotaExceededError, 1),
    (402, _err("billing_error", "Your account has a billing issue."), QuotaExceededError, 1),
    (500, _err("api_error", "Internal server error"), ProviderUnavailableError, 2),
    (504, _err("timeout_error", "Request timed out"), ProviderUnavailableError, 2),
    (529, _err("overloaded_error", "Overloaded"), ProviderUnavailableError, 2),
]


@pytest.mark.parametrize("status, body, expected, calls", ANTHROPIC_ERRORS)
def test_anthropic_errors_map_to_exceptions(server, status, body, expected, calls):
    server.push(status, body, times=2)
    with pytest.raises(expected) as info:
        anthropic(server).complete(CHAT)
    assert type(info.value) is expected
    assert len(server.generation_requests()) == calls
    message = str(info.value)
    assert "Anthropic" in message and "claude-haiku-4-5" in message and server.url in message


def test_overloaded_529_honours_retry_after(server):
    server.push(529, _err("overloaded_error", "Overloaded"), headers={"retry-after": "0.2"})
    anthropic(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.2 <= second.at - first.at < 1.0


def test_key_not_in_exception_even_when_echoed(server):
    secret = "sk-ant-api03-SECRET-abcdef"
    server.push(401, _err("authentication_error", f"invalid x-api-key {secret}"))
    with pytest.raises(AuthenticationError) as info:
        AnthropicProvider("claude-haiku-4-5", server.url, api_key=secret, **FAST).complete(CHAT)
    assert secret not in str(info.value) and "***" in str(info.value)


def test_wrong_key_is_authentication_error(server):
    with pytest.raises(AuthenticationError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider("claude-haiku-4-5", server.url, api_key="sk-ant-wrong",
                          **FAST).complete(CHAT)


def test_unknown_model_from_the_real_check():
    with FakeAnthropic(api_key=KEY, models=["claude-haiku-4-5"]) as server:
        with pytest.raises(ModelNotFoundError, match="sonnet4"):
            anthropic(server, model="sonnet4").complete(CHAT)


def test_slow_server_times_out(server):
    server.push(200, {}, delay=1.0)
    with pytest.raises(ProviderTimeoutError):
        anthropic(server, read_timeout=0.2, max_retries=0).complete(CHAT)
