"""TritonProvider against a fake Triton (generate extension, both backends)."""

from __future__ import annotations

import json
import pickle

import pytest
from fake_llm_servers import FakeTriton, chatml_to_messages

from sklearn_llmcluster.exceptions import (
    BadRequestError,
    ConfigurationError,
    ContextLengthError,
    ModelNotFoundError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from sklearn_llmcluster.llm.providers import TritonProvider
from sklearn_llmcluster.llm.providers.triton import render_prompt

CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "my card"}]
SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 1}


@pytest.fixture
def server():
    with FakeTriton(models={"ensemble": "tensorrtllm", "vllm_model": "vllm"}) as fake:
        yield fake


def triton(server, model="ensemble", **kwargs):
    return TritonProvider(model, server.url, **{**FAST, **kwargs})


def test_tensorrtllm_layout_with_guided_decoding(server):
    answer = triton(server, seed=5).complete(CHAT, temperature=0.0, max_tokens=128,
                                             json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    request = server.generation_requests()[-1]
    assert request.path == "/v2/models/ensemble/generate"
    body = request.body
    assert chatml_to_messages(body["text_input"]) == CHAT
    assert body["text_input"].endswith("<|im_start|>assistant\n")
    assert body["max_tokens"] == 128 and body["temperature"] == 0.0
    assert body["random_seed"] == 5
    assert body["bad_words"] == "" and body["stop_words"] == ""
    assert body["guided_decoding_guide_type"] == "json_schema"
    assert json.loads(body["guided_decoding_guide"]) == SCHEMA
    assert "parameters" not in body
    assert answer.prompt_tokens is None and answer.model == "ensemble"


def test_vllm_layout_structured_outputs_and_usage(server):
    answer = triton(server, model="vllm_model", backend="vllm").complete(
        CHAT, temperature=0.2, max_tokens=64, json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    body = server.generation_requests()[-1].body
    params = body["parameters"]
    assert params["stream"] is False and params["max_tokens"] == 64
    assert params["temperature"] == 0.2
    assert isinstance(params["structured_outputs"], str)  # a JSON string, not an object
    assert json.loads(params["structured_outputs"]) == {"json": SCHEMA}
    assert body["exclude_input_in_output"] is True
    assert "guided_decoding_guide" not in body
    assert answer.prompt_tokens == len(body["text_input"]) // 4
    assert answer.completion_tokens == len('{"label": "billing"}') // 4
    assert answer.finish_reason == "stop"


def test_vllm_always_gets_max_tokens_not_its_16_default(server):
    answer = triton(server, model="vllm_model", backend="vllm",
                    default_max_tokens=512).complete(CHAT)
    assert server.generation_requests()[-1].body["parameters"]["max_tokens"] == 512
    assert answer == '{"label": "billing"}'


def test_echoed_prompt_is_stripped(server):
    p = triton(server, model="vllm_model", backend="vllm")
    prompt = render_prompt(CHAT, "chatml")
    server.push(200, {"model_name": "vllm_model", "model_version": "1",
                      "text_output": prompt + '{"label": "x"}'})
    assert p.complete(CHAT) == '{"label": "x"}'


def test_structured_output_can_be_switched_off(server):
    triton(server, structured_output=False).complete(CHAT, json_schema=SCHEMA)
    assert "guided_decoding_guide" not in server.generation_requests()[-1].body


@pytest.mark.parametrize("template, expected", [
    ("chatml", "<|im_start|>system\nClassify.<|im_end|>\n<|im_start|>user\nmy card<|im_end|>\n"
               "<|im_start|>assistant\n"),
    ("llama3", "<|start_header_id|>system<|end_header_id|>\n\nClassify.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nmy card<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("plain", "System: Classify.\n\nUser: my card\n\nAssistant:"),
])
def test_prompt_templates(template, expected):
    assert render_prompt(CHAT, template) == expected


def test_custom_template_function(server):
    triton(server, prompt_template=lambda msgs: "Q: " + msgs[-1]["content"]).complete(CHAT)
    assert server.generation_requests()[-1].body["text_input"] == "Q: my card"


def test_unknown_template_or_backend_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="chatml"):
        TritonProvider(prompt_template="alpaca")
    with pytest.raises(ConfigurationError, match="vllm"):
        TritonProvider(backend="onnx")


def test_readiness_checked_once(server):
    p = triton(server)
    p.complete(CHAT)
    p.complete(CHAT)
    paths = [r.path for r in server.requests]
    assert paths.count("/v2/health/ready") == 1
    assert paths.count("/v2/models/ensemble/ready") == 1


def test_server_not_ready_is_unavailable():
    with FakeTriton(ready=False) as server:
        with pytest.raises(ProviderUnavailableError, match="not ready"):
            triton(server).complete(CHAT)
        assert server.generation_requests() == []


def test_unknown_model_is_model_not_found(server):
    with pytest.raises(ModelNotFoundError, match="'llama'"):
        triton(server, model="llama").complete(CHAT)


def test_model_version_in_the_path(server):
    triton(server, model_version="1").complete(CHAT)
    assert server.generation_requests()[-1].path == "/v2/models/ensemble/versions/1/generate"


TRITON_ERRORS = [
    (400, {"error": "expected 'text_input' input"}, BadRequestError, 1),
    (400, {"error": "Request for unknown model: 'ensemble' is not found"},
     ModelNotFoundError, 1),
    (404, {"error": "Not Found"}, ModelNotFoundError, 1),
    (400, {"error": "Prompt length (5000) exceeds maximum input length (4096)"},
     ContextLengthError, 1),
    (500, {"error": "in ensemble 'ensemble', Executor failed"}, ProviderUnavailableError, 2),
    (501, {"error": "generate is not supported"}, BadRequestError, 1),
    (503, {"error": "model 'ensemble' is unavailable"}, ProviderUnavailableError, 2),
]


@pytest.mark.parametrize("status, body, expected, calls", TRITON_ERRORS)
def test_triton_errors_map_to_exceptions(server, status, body, expected, calls):
    server.push(status, body, times=2)
    with pytest.raises(expected) as info:
        triton(server).complete(CHAT)
    assert type(info.value) is expected
    assert len(server.generation_requests()) == calls
    assert "Triton" in str(info.value) and "ensemble" in str(info.value)


def test_retry_after_is_waited(server):
    server.push(503, {"error": "model 'ensemble' is unavailable"}, headers={"Retry-After": "0.2"})
    triton(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.2 <= second.at - first.at < 1.0


def test_unpickled_provider_checks_readiness_again(server):
    p = triton(server)
    p.complete(CHAT)
    pickle.loads(pickle.dumps(p)).complete(CHAT)
    assert [r.path for r in server.requests].count("/v2/health/ready") == 2


def test_slow_server_times_out(server):
    p = triton(server, read_timeout=0.2, max_retries=0)
    p.complete(CHAT)  # readiness checked; now the generate call is slow
    server.push(200, {}, delay=1.0)
    with pytest.raises(ProviderTimeoutError):
        p.complete(CHAT)
