"""A full LLMClusterer.fit through every provider spec, each against its fake server.

The fakes decode the vendor request back into messages and a schema, let
ScriptedProvider answer, and wrap the answer in the vendor's response shape,
so these tests cover spec resolution, request layout, structured-output
fields, response parsing and usage end to end.
"""

from __future__ import annotations

import io
import json
import pickle

import joblib
import numpy as np
import pytest
from fake_llm_servers import (
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeOpenRouter,
    FakeTriton,
    scripted_responder,
)

from sklearn_llmcluster.estimator import LLMClusterer
from sklearn_llmcluster.exceptions import ConfigurationError

INTENTS = {
    "card": ["card blocked after payment", "card stolen yesterday", "card not arriving",
             "card declined in shop", "card pin forgotten", "card expired last week",
             "card limit too low", "card charged twice", "card locked abroad"],
    "login": ["login fails with error", "login page is blank", "login code never arrives",
              "login blocked after attempts", "login with fingerprint broken",
              "login redirects forever", "login password reset loop",
              "login from new phone denied", "login session expires"],
    "refund": ["refund for cancelled order", "refund still not received",
               "refund request twice", "refund amount is wrong", "refund to old card",
               "refund denied without reason", "refund status unknown",
               "refund promised last month", "refund partial only"],
    "delivery": ["delivery is late again", "delivery went to wrong address",
                 "delivery courier rude", "delivery slot missed", "delivery box damaged",
                 "delivery tracking stuck", "delivery fee too high",
                 "delivery cancelled without notice", "delivery left outside"],
}
TEXTS = [text for items in INTENTS.values() for text in items]
GOLD = [intent for intent, items in INTENTS.items() for _ in items]
OPENAI_KEY = "sk-e2e-openai-SECRET"


def _schema_sent(vendor, body):
    if vendor == "ollama":
        return body.get("format")
    if vendor in ("openai", "openrouter", "openai-compatible"):
        return body["response_format"]["json_schema"]["schema"]
    if vendor == "anthropic":
        return body["output_config"]["format"]["schema"]
    if vendor == "triton-trtllm":
        return json.loads(body["guided_decoding_guide"])
    return json.loads(body["parameters"]["structured_outputs"])["json"]


def _start(vendor):
    respond = scripted_responder()
    if vendor == "ollama":
        return FakeOllama(models=["qwen3:30b"], responder=respond)
    if vendor == "openai":
        return FakeOpenAI(api_key=OPENAI_KEY, models=["gpt-4o-mini"], responder=respond)
    if vendor == "openai-compatible":
        return FakeOpenAI(api_key=None, responder=respond)
    if vendor == "openrouter":
        return FakeOpenRouter(api_key="sk-or-e2e", responder=respond)
    if vendor == "anthropic":
        return FakeAnthropic(api_key="sk-ant-e2e", responder=respond)
    if vendor == "triton-trtllm":
        return FakeTriton(models={"ensemble": "tensorrtllm"}, responder=respond)
    return FakeTriton(models={"vllm_model": "vllm"}, responder=respond)


def _configure(vendor, url, monkeypatch):
    """Point the environment at the fake and return the spec a user would write."""
    if vendor == "ollama":
        monkeypatch.setenv("OLLAMA_API_URL", url)
        return "ollama:qwen3:30b"
    if vendor == "openai":
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        return "openai:gpt-4o-mini"
    if vendor == "openai-compatible":
        return f"openai-compatible:qwen2.5-7b@{url}/v1"
    if vendor == "openrouter":
        monkeypatch.setenv("OPENROUTER_BASE_URL", url + "/api/v1")
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-e2e")
        return "openrouter:anthropic/claude-3.5-haiku"
    if vendor == "anthropic":
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-e2e")
        return "anthropic:claude-haiku-4-5"
    if vendor == "triton-trtllm":
        return f"triton:ensemble@{url}"
    monkeypatch.setenv("TRITON_BACKEND", "vllm")
    return f"triton:vllm_model@{url}"


VENDORS = ["ollama", "openai", "openai-compatible", "openrouter", "anthropic", "triton-trtllm",
           "triton-vllm"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_fit_through_each_provider_spec(vendor, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    with _start(vendor) as server:
        spec = _configure(vendor, server.url, monkeypatch)
        # The proposer sees a sample, so the judge labels the rest in parallel batches.
        model = LLMClusterer(provider=spec, batch_size=8, n_jobs=4, proposal_size=12,
                             random_state=0)
        model.fit(TEXTS)

        assert model.labels_.shape == (len(TEXTS),)
        assert ((model.labels_ >= -1) & (model.labels_ < model.n_clusters_)).all()
        assert model.n_clusters_ == 4
        assert [model.clusters_[k].name for k in model.labels_] == GOLD
        assert model.provider_.name == spec.split(":")[0]

        calls = server.generation_requests()
        assert model.llm_usage_.calls == len(calls) >= 2
        assert model.llm_usage_.prompt_tokens > 0 and model.llm_usage_.completion_tokens > 0
        sent = [_schema_sent(vendor, request.body) for request in calls]
        kinds = {name for schema in sent for name in schema["properties"]}
        assert {"clusters", "assignments"} <= kinds  # proposer and judge schemas both sent


def test_provider_none_finds_the_local_ollama(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with FakeOllama(models=["qwen3:30b"], responder=scripted_responder()) as server:
        monkeypatch.setenv("OLLAMA_API_URL", server.url)
        model = LLMClusterer(batch_size=8, random_state=0).fit(TEXTS)
        assert model.provider_.name == "ollama" and model.provider_.base_url == server.url
        assert [model.clusters_[k].name for k in model.labels_] == GOLD


def test_default_llm_provider_in_dotenv_is_used_by_fit(monkeypatch, tmp_path):
    with FakeOpenAI(api_key=None, responder=scripted_responder()) as server:
        (tmp_path / ".env").write_text(
            f"DEFAULT_LLM_PROVIDER=openai-compatible:qwen@{server.url}/v1\n")
        monkeypatch.chdir(tmp_path)
        model = LLMClusterer(batch_size=8, random_state=0).fit(TEXTS)
        assert model.provider_.name == "openai-compatible"
        assert len(server.generation_requests()) == model.llm_usage_.calls


def test_spec_is_resolved_in_fit_not_in_init():
    model = LLMClusterer(provider="bogus:model")
    assert model.provider == "bogus:model"
    with pytest.raises(ConfigurationError, match="unknown provider"):
        model.fit(TEXTS)


def test_fitted_model_pickles_without_the_key_and_predicts_after(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with _start("openai") as server:
        spec = _configure("openai", server.url, monkeypatch)
        model = LLMClusterer(provider=spec, batch_size=8, random_state=0).fit(TEXTS)
        blob = pickle.dumps(model)
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        assert OPENAI_KEY.encode() not in blob
        assert OPENAI_KEY.encode() not in buffer.getvalue()
        assert OPENAI_KEY not in repr(model) and OPENAI_KEY not in repr(model.provider_)

        restored = pickle.loads(blob)  # the key comes back from OPENAI_API_KEY
        labels = restored.predict(["card blocked at the cash machine", "refund not paid"])
        names = [restored.clusters_[k].name for k in np.asarray(labels)]
        assert names == ["card", "refund"]
