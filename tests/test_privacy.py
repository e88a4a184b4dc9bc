"""Personal data never leaves the machine unredacted; it stays intact locally.

``redact_pii="auto"`` redacts for providers that declare ``is_remote`` and
not for local ones; ``True``/``False`` override it. Every message is
redacted before it is sent and before it is logged; the judge's cluster
examples are redacted too, and texts are redacted *before* prompts cut them,
so a cut never leaves a fragment of a number the redactor cannot recognise.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fake_llm_servers import FakeOpenAI, scripted_responder
from faulty_providers import RecordingProvider

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.llm.providers import (
    AnthropicProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    OpenRouterProvider,
    TritonProvider,
)

PII = ["+7 916 123-45-67", "89161234567", "4111 1111 1111 1111", "5500000000000004",
       "ivan.petrov@example.com", "olga_s@yandex.ru", "8(916)765-43-21"]
TEXTS = [
    "card blocked, call me +7 916 123-45-67",
    "card 4111 1111 1111 1111 stolen yesterday",
    "login broken, write to ivan.petrov@example.com",
    "login fails, тел. 89161234567",
    "refund to card 5500000000000004 please",
    "refund for olga_s@yandex.ru order",
    # PII that straddles the max_text_chars=40 cut below:
    "refund " + "x" * 25 + " ivan.petrov@example.com",
    "card " + "y" * 26 + " 8(916)765-43-21 again",
    "card\x00number\x004111\x001111\x001111\x001111",
]
NEW = ["login again from olga_s@yandex.ru", "weather today, call 89161234567",
       "weather is bad +7 916 123-45-67"]


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def sent_values(provider: RecordingProvider) -> list[str]:
    """Every request text and cluster field the provider received, decoded from the prompts."""
    values = []
    for call in provider.received:
        for message in call:
            for line in message.get("content", "").splitlines():
                line = line.strip()
                if line.startswith("{") and line.endswith("}"):
                    item = json.loads(line)
                    values += [str(v) for k, v in item.items() if k != "examples"]
                    values += item.get("examples", [])
    return values


def assert_no_pii(text: str, values: list[str]) -> None:
    for pii in PII:
        assert pii not in text
        # Nor any fragment of its digits long enough to identify someone.
        for value in values:
            if digits(pii):
                assert digits(pii)[:7] not in digits(value), (pii, value)
    assert "ivan.pe" not in text and "olga_s" not in text


def run(provider, **params) -> LLMClusterer:
    params.setdefault("random_state", 0)
    params.setdefault("max_text_chars", 40)
    params.setdefault("batch_size", 2)
    params.setdefault("proposal_size", 4)
    model = LLMClusterer(provider=provider, **params).fit(TEXTS)
    model.partial_fit(NEW)
    model.predict(TEXTS + NEW)
    return model


def test_remote_provider_receives_no_phone_card_or_email():
    provider = RecordingProvider(is_remote=True)
    model = run(provider)
    text = provider.all_text()
    assert "\\u003cPHONE\\u003e" in text and "\\u003cCARD\\u003e" in text
    assert "\\u003cEMAIL\\u003e" in text
    assert_no_pii(text, sent_values(provider))
    # Redaction changed what was sent, not the result.
    local = run(RecordingProvider(is_remote=False))
    assert np.array_equal(model.labels_, local.labels_)
    assert [c.name for c in model.clusters_] == [c.name for c in local.clusters_]


def test_judge_prompt_shows_cluster_examples_redacted():
    provider = RecordingProvider(is_remote=True)
    model = run(provider)
    assert any("4111 1111 1111 1111" in e for c in model.clusters_ for e in c.examples)
    provider.received.clear()
    model.predict(["card something new"])
    (call,) = provider.received
    clusters_block = call[-1]["content"].split("<clusters>")[1].split("</clusters>")[0]
    assert '"examples"' in clusters_block
    assert "\\u003cCARD\\u003e" in clusters_block
    assert_no_pii(clusters_block, sent_values(provider))


def test_examples_assignments_and_saved_clusters_keep_the_original_text(tmp_path):
    model = run(RecordingProvider(is_remote=True))
    examples = [e for c in model.clusters_ for e in c.examples]
    assert "card blocked, call me +7 916 123-45-67" in examples
    assert not any("<PHONE>" in e or "<CARD>" in e or "<EMAIL>" in e for e in examples)
    model.save_clusters(tmp_path / "clusters.json")
    assert "ivan.petrov@example.com" in (tmp_path / "clusters.json").read_text(encoding="utf-8")


def test_local_provider_receives_the_text_unchanged():
    provider = RecordingProvider(is_remote=False)
    run(provider, max_text_chars=500)
    text = provider.all_text()
    assert "+7 916 123-45-67" in text and "ivan.petrov@example.com" in text
    assert "PHONE" not in text


@pytest.mark.parametrize("is_remote, redact_pii, redacted", [
    (False, True, True), (True, False, False), (True, "auto", True), (False, "auto", False),
])
def test_redact_pii_true_and_false_override_auto(is_remote, redact_pii, redacted):
    provider = RecordingProvider(is_remote=is_remote)
    run(provider, redact_pii=redact_pii, max_text_chars=500)
    text = provider.all_text()
    assert ("4111 1111 1111 1111" not in text) is redacted
    assert ("\\u003cCARD\\u003e" in text) is redacted


def test_llm_log_holds_redacted_prompts_only(tmp_path):
    log = tmp_path / "llm_log.jsonl"
    model = run(RecordingProvider(is_remote=True), llm_log=log)
    raw = log.read_bytes()
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert len(records) >= model.llm_usage_.calls > 0
    logged = "\n".join(m["content"] for r in records for m in r["messages"])
    assert "CARD" in logged
    for pii in PII:
        assert pii.encode() not in raw
        assert json.dumps(pii)[1:-1].encode() not in raw  # nor JSON-escaped


def test_retry_conversation_is_redacted_too():
    class BadThenGood(RecordingProvider):
        def complete(self, messages, **kw):
            answer = super().complete(messages, **kw)
            first = not any(m["role"] == "assistant" for m in messages)
            return "oops, not json" if first else answer

    provider = BadThenGood(is_remote=True)
    LLMClusterer(provider=provider, random_state=0).fit(TEXTS)
    retries = [call for call in provider.received if len(call) > 2]
    assert retries
    assert_no_pii(provider.all_text(), sent_values(provider))


def test_vendor_providers_declare_where_texts_go():
    assert OpenAIProvider("gpt-4o-mini", api_key="k").is_remote
    assert AnthropicProvider("claude-haiku-4-5", api_key="k").is_remote
    assert OpenRouterProvider("openai/gpt-4o-mini", api_key="k").is_remote
    assert not OllamaProvider("qwen3:30b").is_remote
    assert not OpenAICompatibleProvider("m", "http://localhost:8000").is_remote
    assert not TritonProvider("ensemble", "http://10.0.0.5:8000").is_remote
    # The estimator reads the flag: remote means a redacting client.
    for provider, redacts in [(OpenAIProvider("gpt-4o-mini", api_key="k"), True),
                              (OllamaProvider("qwen3:30b"), False)]:
        client = LLMClusterer(provider=provider)._build_client(provider)
        assert (client.redact is not None) is redacts


def test_nothing_personal_reaches_a_remote_openai_server_over_http():
    key = "sk-test-privacy"
    with FakeOpenAI(api_key=key, responder=scripted_responder()) as server:
        provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key=key,
                                  is_remote=True)
        model = run(provider)
        raw = b"\n".join(r.raw for r in server.generation_requests())
    assert model.n_clusters_ > 0 and len(server.generation_requests()) > 0
    assert b"CARD" in raw
    for pii in PII:
        assert pii.encode() not in raw
        assert json.dumps(pii).encode()[1:-1] not in raw
        if digits(pii):
            assert digits(pii).encode() not in raw


def test_an_openai_compatible_server_on_localhost_gets_the_text_unchanged():
    with FakeOpenAI(api_key=None, responder=scripted_responder()) as server:
        provider = OpenAICompatibleProvider("qwen", server.url + "/v1")
        run(provider, max_text_chars=500)
        bodies = [r.body for r in server.generation_requests()]
    sent = "\n".join(m["content"] for b in bodies for m in b["messages"])
    assert "ivan.petrov@example.com" in sent


# -- names -------------------------------------------------------------------------------

NAMED = [
    "Меня зовут Иванова Анна Сергеевна, карта заблокирована",
    "Карта заблокирована. С уважением, Петров И.И.",
    "card blocked, my name is John Smith",
    "Передайте Кузнецову Сергею Петровичу, что вход не работает",
    "вход не работает, ФИО: Соколова Мария",
    "login fails. Regards, Emily",
]
NAME_PARTS = ["Иванова", "Анна", "Сергеевна", "Петров", "John", "Smith", "Кузнецов", "Сергею",
              "Петрович", "Соколова", "Мария", "Emily"]


def test_names_never_reach_a_remote_llm_nor_the_log(tmp_path):
    provider = RecordingProvider(is_remote=True)
    log = tmp_path / "llm_log.jsonl"
    model = LLMClusterer(provider=provider, random_state=0, llm_log=log).fit(NAMED)
    model.predict(NAMED)
    sent = provider.all_text()
    assert "\\u003cNAME\\u003e" in sent
    logged = log.read_text(encoding="utf-8")
    for part in NAME_PARTS:
        assert part not in sent and json.dumps(part)[1:-1] not in sent, part
        assert part not in logged and json.dumps(part)[1:-1] not in logged, part
    # Locally the texts stay as given.
    assert any("Иванова Анна Сергеевна" in e for c in model.clusters_ for e in c.examples)


def test_offline_features_and_cluster_names_leave_out_names():
    from sklearn_llmcluster.representation.tfidf import _preprocess

    assert "васильева" not in _preprocess("Пишет Наталья Васильева. Карта заблокирована")
    assert "smith" not in _preprocess("my name is John Smith, card blocked")
    # One customer signs requests of three intents (the demo's "мобильный /
    # васильева / наталья" cluster): her name must not make a cluster or name one.
    intents = ["карта заблокирована, не могу оплатить", "не приходит смс с кодом для входа",
               "верните деньги за двойное списание"]
    texts = [f"{intent} {i}. С уважением, Наталья Васильева" if i % 2 else f"{intent} {i}"
             for intent in intents for i in range(8)]
    model = LLMClusterer(provider="offline", random_state=0).fit(texts)
    assert model.n_clusters_ >= 2
    for c in model.clusters_:
        assert "наталья" not in c.name.lower() and "васильев" not in c.name.lower(), c.name
