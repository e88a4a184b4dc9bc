"""resolve_provider: spec strings, environment and .env, the Ollama probe, objects."""

from __future__ import annotations

import socket
import time

import pytest
from fake_llm_servers import FakeOllama

from sklearn_llmcluster.exceptions import ConfigurationError
from sklearn_llmcluster.llm.providers import (
    AnthropicProvider,
    CallableProvider,
    LlamaCppProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    OpenRouterProvider,
    TritonProvider,
    parse_provider_spec,
    resolve_provider,
)


@pytest.mark.parametrize("spec, parts", [
    ("ollama:qwen3:30b", ("ollama", "qwen3:30b", None)),
    ("ollama", ("ollama", None, None)),
    ("Ollama:llama3.2@http://gpu:11434/", ("ollama", "llama3.2", "http://gpu:11434")),
    ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini", None)),
    ("openrouter:anthropic/claude-3.5-haiku", ("openrouter", "anthropic/claude-3.5-haiku", None)),
    ("anthropic:claude-haiku-4-5", ("anthropic", "claude-haiku-4-5", None)),
    ("triton:ensemble@http://host:8000", ("triton", "ensemble", "http://host:8000")),
    ("openai-compatible:model@http://host:9000/v1", ("openai-compatible", "model",
                                                     "http://host:9000/v1")),
    ("openai_compatible:m@https://h/v1", ("openai-compatible", "m", "https://h/v1")),
    ("llamacpp:/models/a@b.gguf", ("llamacpp", "/models/a@b.gguf", None)),
    ("offline", ("offline", None, None)),
    ("none", ("offline", None, None)),
])
def test_parse_provider_spec(spec, parts):
    assert parse_provider_spec(spec) == parts


@pytest.mark.parametrize("spec, cls, model, base_url", [
    ("ollama:qwen3:30b", OllamaProvider, "qwen3:30b", "http://localhost:11434"),
    ("openai:gpt-4o-mini", OpenAIProvider, "gpt-4o-mini", "https://api.openai.com/v1"),
    ("openrouter:anthropic/claude-3.5-haiku", OpenRouterProvider, "anthropic/claude-3.5-haiku",
     "https://openrouter.ai/api/v1"),
    ("anthropic:claude-haiku-4-5", AnthropicProvider, "claude-haiku-4-5",
     "https://api.anthropic.com"),
    ("triton:ensemble@http://host:8000", TritonProvider, "ensemble", "http://host:8000"),
    ("openai-compatible:m@http://host:9000/v1", OpenAICompatibleProvider, "m",
     "http://host:9000/v1"),
    ("llamacpp:/models/m.gguf", LlamaCppProvider, "m.gguf", "file:///models/m.gguf"),
])
def test_each_spec_builds_its_provider(spec, cls, model, base_url):
    provider = resolve_provider(spec, env={})
    assert type(provider) is cls
    assert (provider.model, provider.base_url) == (model, base_url)
    assert provider.name == spec.split(":")[0]


def test_offline_spec_is_none():
    assert resolve_provider("offline", env={}) is None


def test_spec_without_model_uses_the_settings():
    env = {"OPENAI_MODEL": "gpt-4.1-nano", "TRITON_URL": "http://t:8000",
           "TRITON_MODEL": "vllm_model", "TRITON_BACKEND": "vllm"}
    assert resolve_provider("openai", env=env).model == "gpt-4.1-nano"
    triton = resolve_provider("triton", env=env)
    assert (triton.model, triton.base_url, triton.backend) == ("vllm_model", "http://t:8000",
                                                               "vllm")


def test_settings_reach_the_provider():
    env = {"LLM_CONNECT_TIMEOUT": "1.5", "LLM_REQUEST_TIMEOUT": "42", "LLM_MAX_RETRIES": "7",
           "DEFAULT_TEMPERATURE": "0.4", "OPENAI_API_KEY": "sk-from-env",
           "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}
    provider = resolve_provider("openai:gpt-4o-mini", env=env)
    assert (provider.connect_timeout, provider.read_timeout, provider.max_retries) == (1.5, 42, 7)
    assert provider.temperature == 0.4
    assert provider.base_url == "http://127.0.0.1:1/v1"
    assert provider._api_key_value() == "sk-from-env"


@pytest.mark.parametrize("spec, needs", [
    ("bogus:model", "unknown provider"),
    ("openai-compatible:m", "URL"),
    ("openai-compatible", "model"),
    ("llamacpp", "LLAMACPP_MODEL_PATH"),
])
def test_bad_specs_are_configuration_errors(spec, needs):
    with pytest.raises(ConfigurationError, match=needs):
        resolve_provider(spec, env={})


def test_objects_and_callables_pass_through():
    class Mine:
        def complete(self, messages, **kwargs):
            return "{}"

    mine = Mine()
    assert resolve_provider(mine) is mine
    wrapped = resolve_provider(lambda messages: "{}")
    assert isinstance(wrapped, CallableProvider)
    assert wrapped.base_url is None and wrapped.is_remote is False
    assert wrapped.complete([{"role": "user", "content": "x"}]) == "{}"
    with pytest.raises(ConfigurationError, match="int"):
        resolve_provider(42)


# -- provider=None: environment, .env, Ollama probe, offline ---------------------------

def test_default_llm_provider_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEFAULT_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-sonnet-4-5")
    provider = resolve_provider()
    assert isinstance(provider, AnthropicProvider) and provider.model == "claude-sonnet-4-5"


def test_default_llm_provider_may_be_a_full_spec():
    provider = resolve_provider(env={"DEFAULT_LLM_PROVIDER": "openai-compatible:q@http://h:1/v1"})
    assert isinstance(provider, OpenAICompatibleProvider) and provider.model == "q"


def test_default_llm_provider_with_default_model():
    provider = resolve_provider(env={"DEFAULT_LLM_PROVIDER": "ollama",
                                     "DEFAULT_MODEL": "dengcao/Qwen3-30B-A3B-Instruct-2507"})
    assert provider.model == "dengcao/Qwen3-30B-A3B-Instruct-2507"


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DEFAULT_LLM_PROVIDER=openai\nOPENAI_MODEL=gpt-4o\n")
    monkeypatch.chdir(tmp_path)
    provider = resolve_provider()
    assert isinstance(provider, OpenAIProvider) and provider.model == "gpt-4o"
    assert resolve_provider(env={}, dotenv_path=tmp_path / ".env").model == "gpt-4o"


def test_explicit_argument_wins_over_the_environment():
    env = {"DEFAULT_LLM_PROVIDER": "openai"}
    assert resolve_provider("offline", env=env) is None
    assert isinstance(resolve_provider("ollama", env=env), OllamaProvider)


def test_default_offline_in_environment_skips_the_probe():
    with FakeOllama() as server:
        env = {"DEFAULT_LLM_PROVIDER": "offline", "OLLAMA_API_URL": server.url}
        assert resolve_provider(env=env) is None
        assert server.requests == []


def test_ollama_with_the_model_is_found_by_the_probe():
    with FakeOllama(models=["qwen3:30b"]) as server:
        provider = resolve_provider(env={"OLLAMA_API_URL": server.url})
        assert isinstance(provider, OllamaProvider)
        assert (provider.model, provider.base_url) == ("qwen3:30b", server.url)
        provider.complete([{"role": "user", "content": "x"}])
        # The probe's tag list counts as the model check: no second /api/tags.
        assert [r.path for r in server.requests].count("/api/tags") == 1


def test_ollama_without_the_model_means_offline():
    with FakeOllama(models=["llama3.2:latest"]) as server:
        assert resolve_provider(env={"OLLAMA_API_URL": server.url}) is None
        assert resolve_provider(env={"OLLAMA_API_URL": server.url,
                                     "OLLAMA_MODEL": "llama3.2"}).model == "llama3.2"


def test_no_ollama_means_offline_quickly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    assert resolve_provider(env={"OLLAMA_API_URL": f"http://127.0.0.1:{port}"}) is None
    assert time.monotonic() - started < 2.0  # no retries or backoff on a refused probe


class _SlowTags(FakeOllama):
    generation_paths = (r"/api/tags",)


def test_hanging_ollama_is_given_up_after_the_probe_timeout():
    with _SlowTags() as server:
        server.push(200, {"models": [{"name": "qwen3:30b"}]}, delay=5.0)
        started = time.monotonic()
        env = {"OLLAMA_API_URL": server.url, "OLLAMA_PROBE_TIMEOUT": "0.2"}
        assert resolve_provider(env=env) is None
        assert time.monotonic() - started < 3.0  # well before the 5 s answer
