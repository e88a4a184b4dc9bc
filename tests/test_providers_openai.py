"""OpenAIProvider and OpenAICompatibleProvider against a fake Chat Completions server."""

from __future__ import annotations

import pytest
from fake_llm_servers import FakeOpenAI

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
from sklearn_llmcluster.llm.providers import OpenAICompatibleProvider, OpenAIProvider
from sklearn_llmcluster.llm.providers.openai import schema_is_strict

KEY = "sk-test-key"
CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "my card"}]
STRICT_SCHEMA = {"title": "Judge answer", "type": "object", "additionalProperties": False,
                 "properties": {"label": {"type": "string"}}, "required": ["label"]}
LOOSE_SCHEMA = {"type": "object", "properties": {"label": {"type": "string"},
                                                 "note": {"type": "string"}},
                "required": ["label"]}
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 1}


@pytest.fixture
def server():
    models = ["gpt-4o-mini", "o3-mini", "gpt-5-mini", "text-embedding-3-small"]
    with FakeOpenAI(api_key=KEY, models=models) as fake:
        yield fake


def openai(server, model="gpt-4o-mini", **kwargs):
    return OpenAIProvider(model, server.url + "/v1", api_key=KEY, **{**FAST, **kwargs})


def test_happy_path_sends_json_schema_response_format(server):
    answer = openai(server, seed=3).complete(CHAT, temperature=0.0, max_tokens=300,
                                             json_schema=STRICT_SCHEMA)
    assert answer == '{"label": "billing"}'
    request = server.generation_requests()[-1]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Judge_answer", "schema": STRICT_SCHEMA, "strict": True}}
    assert body["messages"] == CHAT and body["temperature"] == 0.0 and body["seed"] == 3
    assert body["max_tokens"] == 300 if "max_tokens" in body else body[
        "max_completion_tokens"] == 300


def test_usage_model_and_finish_reason_are_parsed(server):
    answer = openai(server).complete(CHAT)
    assert answer.prompt_tokens == len("Classify.my card") // 4
    assert answer.completion_tokens == len('{"label": "billing"}') // 4
    assert answer.model == "gpt-4o-mini-2024-08-06"
    assert answer.finish_reason == "stop"


def test_openai_com_gets_max_completion_tokens_other_servers_max_tokens():
    assert OpenAIProvider(api_key="k").token_param == "max_completion_tokens"
    assert OpenAIProvider("m", "http://127.0.0.1:1/v1", api_key="k").token_param == "max_tokens"
    assert OpenAICompatibleProvider("m", "http://127.0.0.1:1/v1").token_param == "max_tokens"


def test_strict_only_for_schemas_strict_mode_accepts(server):
    assert schema_is_strict(STRICT_SCHEMA)
    assert not schema_is_strict(LOOSE_SCHEMA)
    nested = {"type": "object", "additionalProperties": False, "required": ["items"],
              "properties": {"items": {"type": "array", "items": LOOSE_SCHEMA}}}
    assert not schema_is_strict(nested)
    openai(server).complete(CHAT, json_schema=LOOSE_SCHEMA)
    fmt = server.generation_requests()[-1].body["response_format"]["json_schema"]
    assert fmt["strict"] is False and fmt["name"] == "response"
    openai(server, strict=True).complete(CHAT, json_schema=LOOSE_SCHEMA)
    assert server.generation_requests()[-1].body["response_format"]["json_schema"]["strict"]


def test_reasoning_model_rejecting_max_tokens_gets_max_completion_tokens(server):
    p = openai(server, model="o3-mini", token_param="max_tokens")
    assert p.complete(CHAT, max_tokens=100) == '{"label": "billing"}'
    first, second = server.generation_requests()
    assert first.body["max_tokens"] == 100
    assert second.body["max_completion_tokens"] == 100 and "max_tokens" not in second.body
    assert p.token_param == "max_completion_tokens"


def test_reasoning_model_rejecting_temperature_gets_its_default(server):
    p = openai(server, model="gpt-5-mini", token_param="max_completion_tokens")
    p.complete(CHAT, temperature=0.0, max_tokens=50)
    rejected, accepted = server.generation_requests()
    assert rejected.body["temperature"] == 0.0 and "temperature" not in accepted.body
    p.complete(CHAT, temperature=0.0)
    assert len(server.generation_requests()) == 3  # remembered: no second 400


def test_unsupported_parameter_that_cannot_be_fixed_raises(server):
    server.push(400, {"error": {"message": "Unsupported parameter: 'logit_bias'",
                                "type": "invalid_request_error", "param": "logit_bias",
                                "code": "unsupported_parameter"}})
    with pytest.raises(BadRequestError):
        openai(server, extra_body={"logit_bias": {}}).complete(CHAT)


def test_refusal_is_an_error_not_retried(server):
    server.push(200, {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}]})
    with pytest.raises(ProviderResponseError, match="refused") as info:
        openai(server).complete(CHAT)
    assert info.value.retryable is False
    assert len(server.generation_requests()) == 1


def test_empty_choices_is_a_response_error(server):
    server.push(200, {"choices": [], "usage": {}})
    with pytest.raises(ProviderResponseError, match="no choices"):
        openai(server).complete(CHAT)


def _err(message, type_, code=None, param=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


OPENAI_ERRORS = [
    (401, _err("Incorrect API key provided: sk-te****-key.", "invalid_request_error",
               "invalid_api_key"), AuthenticationError, 1),
    (403, _err("You are not allowed to sample from this model", "invalid_request_error"),
     PermissionDeniedError, 1),
    (404, _err("The model `x` does not exist or you do not have access to it.",
               "invalid_request_error", "model_not_found"), ModelNotFoundError, 1),
    (400, _err("This model's maximum context length is 4097 tokens. However, you requested "
               "5000 tokens.", "invalid_request_error", "context_length_exceeded", "messages"),
     ContextLengthError, 1),
    (400, _err("Invalid schema for response_format", "invalid_request_error"),
     BadRequestError, 1),
    (422, _err("Unprocessable", "invalid_request_error"), BadRequestError, 1),
    (429, _err("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"),
     RateLimitError, 2),
    (429, _err("You exceeded your current quota, please check your plan and billing details.",
               "insufficient_quota", "insufficient_quota"), QuotaExceededError, 1),
    (408, _err("Request timed out", "timeout"), ProviderTimeoutError, 2),
    (409, _err("Conflict", "conflict"), ProviderUnavailableError, 2),
    (500, _err("The server had an error", "server_error"), ProviderUnavailableError, 2),
    (502, "<html>Bad gateway</html>", ProviderUnavailableError, 2),
    (503, _err("The engine is currently overloaded", "server_error"),
     ProviderUnavailableError, 2),
]


@pytest.mark.parametrize("status, body, expected, calls", OPENAI_ERRORS)
def test_openai_errors_map_to_exceptions(server, status, body, expected, calls):
    server.push(status, body, times=2)
    with pytest.raises(expected) as info:
        openai(server).complete(CHAT)
    assert type(info.value) is expected
    assert len(server.generation_requests()) == calls
    message = str(info.value)
    assert "OpenAI" in message and "gpt-4o-mini" in message and server.url in message
    assert info.value.status_code == status


def test_unknown_model_from_the_real_check(server):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        openai(server, model="gpt-9").complete(CHAT)


def test_wrong_key_is_authentication_error_naming_the_variable(server):
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key="sk-wrong",
                       **FAST).complete(CHAT)


def test_organization_and_project_headers(server):
    openai(server, organization="org-1", project="proj-2").complete(CHAT)
    headers = server.generation_requests()[-1].headers
    assert headers["openai-organization"] == "org-1" and headers["openai-project"] == "proj-2"


def test_embed_orders_rows_by_index(server):
    vectors = openai(server).embed(["a", "b", "c"], batch_size=2)
    assert vectors.shape == (3, 8)
    assert [r.body["model"] for r in server.requests if r.path == "/v1/embeddings"] == [
        "text-embedding-3-small"] * 2
    alone = openai(server).embed(["b"])
    assert (alone[0] == vectors[1]).all()


# -- OpenAI-compatible servers (vLLM, llama.cpp, LM Studio, Ollama /v1) -----------------

@pytest.fixture
def local():
    with FakeOpenAI(api_key=None) as fake:
        yield fake


def test_compatible_server_without_key_sends_max_tokens_and_no_auth(local, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    p = OpenAICompatibleProvider("qwen2.5", local.url + "/v1", **FAST)
    assert p.complete(CHAT, max_tokens=64, json_schema=STRICT_SCHEMA) == '{"label": "billing"}'
    request = local.generation_requests()[-1]
    assert "authorization" not in request.headers
    assert request.body["max_tokens"] == 64 and "max_completion_tokens" not in request.body
    assert request.body["response_format"]["json_schema"]["schema"] == STRICT_SCHEMA


def test_compatible_server_key_comes_from_its_own_variable(monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "vllm-key")
    with FakeOpenAI(api_key="vllm-key") as server:
        p = OpenAICompatibleProvider("m", server.url + "/v1", **FAST)
        assert p.complete(CHAT)


def test_compatible_url_without_path_gets_v1(local):
    p = OpenAICompatibleProvider("m", local.url, **FAST)
    assert p.base_url == local.url + "/v1"
    assert p.complete(CHAT)


def test_embed_error_names_the_embedding_model(server):
    with pytest.raises(ModelNotFoundError, match="model 'text-embedding-9'"):
        openai(server, embed_model="text-embedding-9").embed(["a"])


def test_compatible_embed_uses_the_model_by_default(local):
    OpenAICompatibleProvider("bge-m3", local.url + "/v1", **FAST).embed(["x"])
    assert local.requests[-1].body["model"] == "bge-m3"


COMPATIBLE_ERRORS = [
    # vLLM: OpenAI shape with the HTTP status as an int code.
    (404, {"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError",
           "param": "model", "code": 404}, ModelNotFoundError, 1),
    (400, {"error": {"message": "This model's maximum context length is 2048 tokens.",
                     "type": "BadRequestError", "param": None, "code": 400}},
     ContextLengthError, 1),
    (400, {"error": {"message": "prompt too long", "type": "BadRequestError",
                     "code": "context_length_exceeded"}}, ContextLengthError, 1),
    # llama.cpp server.
    (400, {"error": {"code": 400, "message": "the request exceeds the available context size, "
                     "try increasing it", "type": "exceed_context_size_error",
                     "n_prompt_tokens": 5000, "n_ctx": 4096}}, ContextLengthError, 1),
    (401, {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}},
     AuthenticationError, 1),
    (503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
     ProviderUnavailableError, 2),
    (501, {"error": {"code": 501, "message": "This server does not support embeddings.",
                     "type": "not_supported_error"}}, BadRequestError, 1),
    (400, {"error": {"code": 400, "message": "response_format type must be one of \"text\" or "
                     "\"json_object\"", "type": "invalid_request_error"}}, BadRequestError, 1),
]


@pytest.mark.parametrize("status, body, expected, calls", COMPATIBLE_ERRORS)
def test_compatible_server_errors_map_to_exceptions(local, status, body, expected, calls):
    local.push(status, body, times=2)
    with pytest.raises(expected) as info:
        OpenAICompatibleProvider("m", local.url + "/v1", **FAST).complete(CHAT)
    assert type(info.value) is expected
    assert len(local.generation_requests()) == calls
    assert "OpenAI-compatible server" in str(info.value)


def test_server_reading_only_json_object_gets_it_without_retrying():
    with FakeOpenAI(api_key=None, json_schema_format=False) as server:
        p = OpenAICompatibleProvider("m", server.url + "/v1", **FAST)
        assert p.complete(CHAT, json_schema=STRICT_SCHEMA) == '{"label": "billing"}'
        rejected, accepted = server.generation_requests()  # no retry of the 500
        assert rejected.body["response_format"]["type"] == "json_schema"
        expected = {"type": "json_object", "schema": STRICT_SCHEMA}
        assert accepted.body["response_format"] == expected
        p.complete(CHAT, json_schema=STRICT_SCHEMA)
        assert len(server.generation_requests()) == 3  # remembered
        assert p.schema_format == "json_object"


def test_invalid_schema_400_does_not_drop_the_schema_layout(server):
    server.push(400, _err("Invalid schema for response_format 'response': 'additionalProperties'"
                          " is required to be supplied and to be false",
                          "invalid_request_error", None, "response_format"))
    with pytest.raises(BadRequestError):
        openai(server).complete(CHAT, json_schema=STRICT_SCHEMA)
    assert len(server.generation_requests()) == 1


def test_compatible_slow_server_times_out(local):
    local.push(200, {}, delay=1.0)
    p = OpenAICompatibleProvider("m", local.url + "/v1", read_timeout=0.2, max_retries=0)
    with pytest.raises(ProviderTimeoutError):
        p.complete(CHAT)
