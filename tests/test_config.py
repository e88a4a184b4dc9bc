"""Settings from the environment and .env (sklearn_llmcluster/config.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sklearn_llmcluster.llm.config as config
from sklearn_llmcluster.llm.config import Settings, get_env_value, load_settings, read_dotenv
from sklearn_llmcluster.exceptions import ConfigurationError


def test_read_dotenv_handles_comments_quotes_and_export(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n"
        "\n"
        "DEFAULT_LLM_PROVIDER=ollama\n"
        "export OLLAMA_MODEL=qwen3:30b   # inline comment\n"
        "OPENAI_API_KEY='sk-a#b'\n"
        'PROMPT="line1\\nline2 \\"quoted\\""\n'
        "EMPTY=\n"
        "not an assignment\n"
        "  SPACED = value with spaces  \n"
    )
    assert read_dotenv(path) == {
        "DEFAULT_LLM_PROVIDER": "ollama",
        "OLLAMA_MODEL": "qwen3:30b",
        "OPENAI_API_KEY": "sk-a#b",
        "PROMPT": 'line1\nline2 "quoted"',
        "EMPTY": "",
        "SPACED": "value with spaces",
    }


def test_missing_dotenv_is_empty(tmp_path):
    assert read_dotenv(tmp_path / "nope.env") == {}


def test_defaults_without_any_configuration():
    s = load_settings(env={})
    assert s.default_provider is None
    assert s.ollama_api_url == "http://localhost:11434"
    assert s.ollama_model == "qwen3:30b"
    assert s.openai_base_url == "https://api.openai.com/v1"
    assert s.triton_url == "http://localhost:8000"
    assert s.temperature is None and s.max_retries == 3
    assert s.ollama_probe_timeout == 0.5


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OLLAMA_MODEL=from-file\nOPENAI_MODEL=gpt-file\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_MODEL", "from-env")
    s = load_settings()
    assert s.ollama_model == "from-env"
    assert s.openai_model == "gpt-file"


def test_explicit_env_mapping_ignores_the_working_directory_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OLLAMA_MODEL=from-file\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}).ollama_model == "qwen3:30b"
    assert load_settings(env={}, dotenv_path=tmp_path / ".env").ollama_model == "from-file"
    assert load_settings(env={"OLLAMA_MODEL": "m"},
                         dotenv_path=tmp_path / ".env").ollama_model == "m"


def test_every_documented_variable_is_read():
    env = {
        "DEFAULT_LLM_PROVIDER": "openai", "DEFAULT_MODEL": "gpt-4o",
        "DEFAULT_TEMPERATURE": "0.3", "DEFAULT_MAX_TOKENS": "900",
        "LLM_CONNECT_TIMEOUT": "2", "LLM_REQUEST_TIMEOUT": "30", "LLM_MAX_RETRIES": "5",
        "LLM_MAX_RETRY_WAIT": "20",
        "OLLAMA_API_URL": "http://gpu:11434/api", "OLLAMA_MODEL": "llama3.2",
        "OLLAMA_EMBED_MODEL": "nomic-embed-text", "OLLAMA_NUM_CTX": "16384",
        "OLLAMA_KEEP_ALIVE": "1h", "OLLAMA_PROBE_TIMEOUT": "0.2",
        "OPENAI_API_KEY": "sk-1", "OPENAI_BASE_URL": "https://proxy/v1/",
        "OPENAI_MODEL": "gpt-4o-mini", "OPENAI_EMBED_MODEL": "text-embedding-3-large",
        "OPENAI_ORG_ID": "org", "OPENAI_PROJECT_ID": "proj",
        "OPENAI_COMPATIBLE_API_KEY": "k2", "OPENAI_COMPATIBLE_BASE_URL": "http://vllm:8000/v1",
        "OPENAI_COMPATIBLE_MODEL": "qwen",
        "OPENROUTER_API_KEY": "sk-or", "OPENROUTER_BASE_URL": "https://or/api/v1",
        "OPENROUTER_MODEL": "x/y", "OPENROUTER_APP_URL": "https://app",
        "OPENROUTER_APP_TITLE": "App",
        "ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": "https://ant",
        "ANTHROPIC_MODEL": "claude-sonnet-4-5",
        "TRITON_URL": "http://triton:8000", "TRITON_MODEL": "vllm_model",
        "TRITON_BACKEND": "VLLM", "TRITON_PROMPT_TEMPLATE": "llama3",
        "LLAMACPP_MODEL_PATH": "/m.gguf", "LLAMACPP_N_GPU_LAYERS": "-1",
    }
    s = load_settings(env=env)
    assert (s.default_provider, s.default_model, s.temperature, s.max_tokens) == (
        "openai", "gpt-4o", 0.3, 900)
    assert (s.connect_timeout, s.read_timeout, s.max_retries, s.max_retry_wait) == (2, 30, 5, 20)
    assert s.ollama_api_url == "http://gpu:11434"  # the legacy /api suffix is dropped
    assert (s.ollama_model, s.ollama_embed_model, s.ollama_num_ctx, s.ollama_keep_alive,
            s.ollama_probe_timeout) == ("llama3.2", "nomic-embed-text", 16384, "1h", 0.2)
    assert (s.openai_api_key, s.openai_base_url, s.openai_model, s.openai_embed_model,
            s.openai_organization, s.openai_project) == (
        "sk-1", "https://proxy/v1", "gpt-4o-mini", "text-embedding-3-large", "org", "proj")
    assert (s.openai_compatible_api_key, s.openai_compatible_base_url,
            s.openai_compatible_model) == ("k2", "http://vllm:8000/v1", "qwen")
    assert (s.openrouter_api_key, s.openrouter_base_url, s.openrouter_model,
            s.openrouter_app_url, s.openrouter_app_title) == (
        "sk-or", "https://or/api/v1", "x/y", "https://app", "App")
    assert (s.anthropic_api_key, s.anthropic_base_url, s.anthropic_model) == (
        "sk-ant", "https://ant", "claude-sonnet-4-5")
    assert (s.triton_url, s.triton_model, s.triton_backend, s.triton_prompt_template) == (
        "http://triton:8000", "vllm_model", "vllm", "llama3")
    assert (s.llamacpp_model_path, s.llamacpp_n_gpu_layers) == ("/m.gguf", -1)


def test_env_example_documents_every_variable_read():
    source = Path(config.__file__).read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source))
    example = (Path(__file__).resolve().parents[1] / "env.example").read_text()
    missing = sorted(name for name in read if name not in example)
    assert not missing, f"env.example does not document {missing}"


def test_legacy_triton_api_url_is_accepted():
    assert load_settings(env={"TRITON_API_URL": "http://t:8001"}).triton_url == "http://t:8001"
    both = {"TRITON_API_URL": "http://old:1", "TRITON_URL": "http://new:2"}
    assert load_settings(env=both).triton_url == "http://new:2"


def test_default_model_applies_to_the_default_vendor_only():
    s = load_settings(env={"DEFAULT_LLM_PROVIDER": "ollama", "DEFAULT_MODEL": "qwen3:8b"})
    assert s.model_for("ollama") == "qwen3:8b"
    assert s.model_for("openai") == "gpt-4o-mini"
    own = load_settings(env={"DEFAULT_LLM_PROVIDER": "ollama", "DEFAULT_MODEL": "qwen3:8b",
                             "OLLAMA_MODEL": "llama3.2"})
    assert own.model_for("ollama") == "llama3.2"


def test_auto_provider_means_not_set():
    assert load_settings(env={"DEFAULT_LLM_PROVIDER": "auto"}).default_provider is None


@pytest.mark.parametrize("name, value", [
    ("DEFAULT_TEMPERATURE", "hot"), ("LLM_MAX_RETRIES", "3.5"), ("LLM_REQUEST_TIMEOUT", "-1"),
    ("OLLAMA_NUM_CTX", "big"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_settings(env={name: value})


def test_keys_are_not_in_the_settings_repr():
    s = load_settings(env={"OPENAI_API_KEY": "sk-secret-1", "ANTHROPIC_API_KEY": "sk-ant-2",
                           "OPENROUTER_API_KEY": "sk-or-3", "OPENAI_COMPATIBLE_API_KEY": "k-4"})
    text = repr(s)
    for secret in ("sk-secret-1", "sk-ant-2", "sk-or-3", "k-4"):
        assert secret not in text
    assert isinstance(s, Settings)


def test_get_env_value_prefers_environment_then_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SOME_KEY=file\nOTHER_KEY=file2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOME_KEY", "env")
    assert get_env_value("SOME_KEY") == "env"
    assert get_env_value("OTHER_KEY") == "file2"
    assert get_env_value("ABSENT_KEY") is None
