"""The single path to a provider: cache, redaction, budget, retries, usage and log."""

from __future__ import annotations

import json
import threading

import pytest

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.llm.cache import ResponseCache
from sklearn_llmcluster.exceptions import BudgetExceededError, ResponseParseError
from sklearn_llmcluster.llm.client import LLMClient, collect_usage
from sklearn_llmcluster.llm.providers.base import LLMResponse
from sklearn_llmcluster.testing import ScriptedProvider


class Replay:
    """Answers from a list, recording what it was sent."""

    name, model = "replay", "r1"

    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def complete(self, messages, **kw):
        self.sent.append(messages)
        return self.answers.pop(0)


def _validate(answer, final):
    if "ok" not in answer:
        raise ResponseParseError("missing ok")
    return answer["ok"]


def test_invalid_answer_is_retried_with_the_error_shown():
    provider = Replay(["garbage", '{"ok": 1}'])
    client = LLMClient(provider, max_retries=2)
    with collect_usage() as usage:
        assert client.request("judge", [{"role": "user", "content": "q"}], None, _validate) == 1
    assert usage.calls == 2 and usage.retries == 1
    assert provider.sent[1][-2] == {"role": "assistant", "content": "garbage"}
    assert "not valid" in provider.sent[1][-1]["content"]


def test_gives_up_after_max_retries():
    client = LLMClient(Replay(["x", "y", "z"]), max_retries=2)
    with pytest.raises(ResponseParseError):
        client.request("judge", [{"role": "user", "content": "q"}], None, _validate)


def test_usage_comes_from_the_response_or_is_estimated():
    reported = LLMResponse('{"ok": 1}', prompt_tokens=11, completion_tokens=3, retries=2)
    client = LLMClient(Replay([reported, '{"ok": 2}']))
    with collect_usage() as usage:
        client.request("judge", [{"role": "user", "content": "q" * 40}], None, _validate)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.retries) == (11, 3, 2)
    with collect_usage() as usage:
        client.request("judge", [{"role": "user", "content": "q" * 40}], None, _validate)
    assert usage.prompt_tokens == 10 and usage.completion_tokens == 2


def test_cache_replays_answers_without_calls(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    first = Replay(['{"ok": 1}'])
    LLMClient(first, cache=cache).request("judge", [{"role": "user", "content": "q"}], None,
                                          _validate)
    again = Replay([])
    with collect_usage() as usage:
        value = LLMClient(again, cache=cache).request(
            "judge", [{"role": "user", "content": "q"}], None, _validate)
    assert value == 1 and again.sent == [] and usage.cache_hits == 1 and usage.calls == 0


def test_cache_is_shared_safely_by_threads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def work(k):
        for i in range(50):
            cache.set(f"{k}-{i}", str(i))
            assert cache.get(f"{k}-{i}") == str(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 400


def test_redaction_applies_before_sending_and_logging():
    provider = Replay(['{"ok": 1}'])
    records = []
    client = LLMClient(provider, redact=lambda s: s.replace("secret", "<X>"), log=records.append)
    client.request("judge", [{"role": "user", "content": "my secret"}], None, _validate)
    assert provider.sent[0][0]["content"] == "my <X>"
    assert records[0]["messages"][0]["content"] == "my <X>"


def test_budget_caps_calls():
    client = LLMClient(Replay(['{"ok": 1}'] * 5), max_calls=2)
    msg = [{"role": "user", "content": "q"}]
    client.request("judge", msg, None, _validate)
    client.request("judge", msg, None, _validate)
    with pytest.raises(BudgetExceededError, match="max_llm_calls=2"):
        client.request("judge", msg, None, _validate)


def test_estimator_writes_one_log_line_per_call(tmp_path):
    log = tmp_path / "llm_log.jsonl"
    texts = ["card a", "card b", "login c", "refund d", "refund e"]
    model = LLMClusterer(provider=ScriptedProvider(), llm_log=log, random_state=0).fit(texts)
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == model.llm_usage_.calls
    fields = {"step", "messages", "response", "prompt_tokens", "latency_s", "retries"}
    assert fields <= set(lines[0])


def test_rerun_with_cache_makes_no_calls(tmp_path):
    texts = [f"{w} request {i}" for w in ("card", "login", "refund") for i in range(10)]
    cache = tmp_path / "cache.sqlite"
    first = LLMClusterer(provider=ScriptedProvider(), cache=cache, random_state=0,
                         batch_size=4, proposal_size=5).fit(texts)
    provider = ScriptedProvider()
    second = LLMClusterer(provider=provider, cache=cache, random_state=0, batch_size=4,
                          proposal_size=5).fit(texts)
    assert provider.calls == 0
    assert second.llm_usage_.cache_hits == first.llm_usage_.calls
    assert list(second.labels_) == list(first.labels_)
