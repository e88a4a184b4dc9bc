"""OllamaProvider against a fake Ollama speaking /api/chat, /api/tags and /api/embed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from fake_llm_servers import FakeOllama, fixed_responder

from sklearn_llmcluster.exceptions import (
    BadRequestError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from sklearn_llmcluster.llm.providers import OllamaProvider

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "my card"}]
FAST = {"backoff": 0.01, "max_backoff": 0.02, "max_retries": 1}


@pytest.fixture
def server():
    with FakeOllama(models=["qwen3:30b", "llama3.2:latest", "nomic-embed-text:latest"],
                    thinking_models=["qwen3:30b"]) as fake:
        yield fake


def provider(server, model="qwen3:30b", **kwargs):
    return OllamaProvider(model, server.url, **{**FAST, **kwargs})


def test_happy_path_sends_native_chat_with_schema_options_and_think(server):
    answer = provider(server, seed=7).complete(CHAT, temperature=0.0, max_tokens=256,
                                               json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    body = server.generation_requests()[-1].body
    assert body["model"] == "qwen3:30b"
    assert body["stream"] is False
    assert body["format"] == SCHEMA
    assert body["think"] is False
    assert body["messages"] == CHAT
    assert body["options"]["temperature"] == 0.0
    assert body["options"]["num_predict"] == 256
    assert body["options"]["seed"] == 7
    assert body["options"]["num_ctx"] >= 8192


def test_usage_model_and_finish_reason_are_parsed(server):
    answer = provider(server).complete(CHAT)
    assert answer.prompt_tokens == len("Classify.my card") // 4
    assert answer.completion_tokens == len('{"label": "billing"}') // 4
    assert answer.model == "qwen3:30b" and answer.finish_reason == "stop"
    assert answer.retries == 0


def test_missing_prompt_eval_count_means_zero():
    with FakeOllama(report_prompt_tokens=False) as server:
        assert provider(server).complete(CHAT).prompt_tokens == 0


def test_model_checked_once_with_api_tags(server):
    p = provider(server)
    p.complete(CHAT)
    p.complete(CHAT)
    tags = [r for r in server.requests if r.path == "/api/tags"]
    assert len(tags) == 1


def test_missing_model_says_ollama_pull(server):
    with pytest.raises(ModelNotFoundError) as info:
        provider(server, model="qwen3:8b").complete(CHAT)
    assert str(info.value) == (f"model 'qwen3:8b' not found on Ollama at {server.url}: "
                               "run `ollama pull qwen3:8b`")
    assert server.generation_requests() == []


def test_model_without_tag_matches_latest(server):
    assert provider(server, model="llama3.2", think=None).complete(CHAT)


def test_404_from_chat_also_says_ollama_pull(server):
    p = provider(server, model="gone:1b", check_model=False)
    with pytest.raises(ModelNotFoundError, match="ollama pull gone:1b"):
        p.complete(CHAT)


def test_think_dropped_for_models_without_thinking(server):
    p = provider(server, model="llama3.2:latest")
    assert p.complete(CHAT) == '{"label": "billing"}'
    first, second = server.generation_requests()
    assert first.body["think"] is False and "think" not in second.body
    p.complete(CHAT)
    assert "think" not in server.generation_requests()[-1].body  # remembered


def test_num_ctx_grows_with_the_prompt_and_never_shrinks(server):
    p = provider(server)
    p.complete([{"role": "user", "content": "x" * 60_000}])
    p.complete(CHAT)
    big, small = (r.body["options"]["num_ctx"] for r in server.generation_requests())
    assert big == 32768 and small == 32768
    p2 = provider(server, num_ctx=4096)
    p2.complete([{"role": "user", "content": "x" * 60_000}])
    assert server.generation_requests()[-1].body["options"]["num_ctx"] == 4096


def test_legacy_api_suffix_in_url_is_removed(server):
    p = OllamaProvider("qwen3:30b", server.url + "/api/", **FAST)
    assert p.base_url == server.url
    assert p.complete(CHAT)


@pytest.mark.parametrize("status, body, expected, calls", [
    (400, {"error": "invalid options"}, BadRequestError, 1),
    (404, {"error": "model 'qwen3:30b' not found"}, ModelNotFoundError, 1),
    (429, {"error": "too many requests"}, RateLimitError, 2),
    (500, {"error": "llama runner process has terminated"}, ProviderUnavailableError, 2),
    (502, {"error": "bad gateway"}, ProviderUnavailableError, 2),
])
def test_error_statuses_map_to_exceptions(server, status, body, expected, calls):
    server.push(status, body, times=2)
    with pytest.raises(expected) as info:
        provider(server).complete(CHAT)
    assert len(server.generation_requests()) == calls
    assert "qwen3:30b" in str(info.value) and server.url in str(info.value)
    assert info.value.provider == "ollama"


def test_unreachable_ollama_says_ollama_serve():
    p = OllamaProvider("qwen3:30b", "http://127.0.0.1:9", max_retries=0)
    with pytest.raises(ProviderUnavailableError, match="ollama serve"):
        p.complete(CHAT)


def test_slow_ollama_times_out(server):
    server.push(200, {}, delay=1.0)
    with pytest.raises(ProviderTimeoutError):
        provider(server, read_timeout=0.2, max_retries=0).complete(CHAT)


def test_error_line_under_200_is_a_response_error(server):
    server.push(200, {"error": "model runner crashed"}, times=2)
    with pytest.raises(ProviderResponseError, match="model runner crashed"):
        provider(server).complete(CHAT)


def test_embed_returns_one_row_per_text_in_batches(server):
    p = provider(server, embed_model="nomic-embed-text")
    vectors = p.embed(["a", "b", "c"], batch_size=2)
    assert vectors.shape == (3, 8)
    batches = [r.body["input"] for r in server.requests if r.path == "/api/embed"]
    assert batches == [["a", "b"], ["c"]]
    again = p.embed(["c"])
    np.testing.assert_allclose(again[0], vectors[2])
    assert p.embed([]).shape == (0, 0)


def test_embed_with_missing_model_says_ollama_pull(server):
    with pytest.raises(ModelNotFoundError, match="ollama pull all-minilm"):
        provider(server, embed_model="all-minilm").embed(["a"])


def test_pickled_provider_works_and_checks_the_model_again(server):
    original = provider(server)
    original.complete(CHAT)
    p = pickle.loads(pickle.dumps(original))
    assert p.complete(CHAT) == '{"label": "billing"}'
    assert [r.path for r in server.requests].count("/api/tags") == 2


def test_retry_after_is_waited(server):
    server.push(429, {"error": "too many requests"}, headers={"Retry-After": "0.2"})
    provider(server, backoff=5.0, max_backoff=5.0).complete(CHAT)
    first, second = server.generation_requests()
    assert 0.2 <= second.at - first.at < 1.0


def test_custom_responder_text_is_returned_verbatim():
    with FakeOllama(responder=fixed_responder("plain words")) as server:
        assert provider(server).complete(CHAT) == "plain words"
