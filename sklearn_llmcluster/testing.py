"""Deterministic stand-ins for an LLM, for tests and benchmarks.

Not a user-facing default: :class:`ScriptedProvider` answers the library's
own prompts by a simple keyword rule, :class:`OracleProposer` and
:class:`OracleJudge` know the gold labels (optionally with injected errors,
failures and latency) and measure the engine rather than a model.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from typing import Callable, Mapping

from .exceptions import ProviderUnavailableError
from .prompts import NONE_ID
from .records import Cluster, Proposal
from .text_normalization import dedup_key, name_key

__all__ = ["ScriptedProvider", "OracleProposer", "OracleJudge", "first_keyword"]

_WORD = re.compile(r"[^\W\d_]{4,}")
_BLOCK = re.compile(r"<(requests|clusters)>\n(.*?)\n</\1>", re.DOTALL)
_MAX_NEW = re.compile(r"at most (\d+) NEW clusters")


def first_keyword(text: str) -> str | None:
    """The first word of four or more letters, lower-cased: the scripted "intent"."""
    match = _WORD.search(text)
    return match.group(0).casefold() if match else None


class _CallCounter:
    """Thread-safe call counter.

    The count is run-time telemetry, not configuration: it is left out of
    pickles (and so of ``joblib.hash``), so an estimator holding a fake
    still counts as not having mutated its parameters during ``fit``.
    """

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state.pop("calls", None)
        state.pop("_attempts", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.calls = 0
        self._lock = threading.Lock()
        if hasattr(type(self), "_attempt"):
            self._attempts = defaultdict(int)


def _parse_block(content: str, name: str) -> list[dict]:
    for block, body in _BLOCK.findall(content):
        if block == name:
            if body.strip() == "(none yet)":
                return []
            return [json.loads(line) for line in body.splitlines() if line.strip()]
    return []


class ScriptedProvider(_CallCounter):
    """A fake LLM that follows the prompts' contract deterministically.

    It reads the ``<requests>`` and ``<clusters>`` blocks of the library's
    prompts. As proposer it groups requests by ``topic(text)`` and proposes
    one cluster per topic not yet present (largest first); as judge it
    assigns each request to the cluster named like its topic, else ``"none"``.

    Parameters
    ----------
    topic : callable, optional
        ``topic(text) -> str | None``; defaults to :func:`first_keyword`.
    """

    name = "scripted"
    model = "scripted-1"
    is_remote = False

    def __init__(self, topic: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.topic = topic

    def _topic(self, text: str) -> str | None:
        return (self.topic or first_keyword)(text)

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None) -> str:
        self._count()
        data = next((m["content"] for m in messages
                     if m.get("role") == "user" and "<requests>" in m.get("content", "")), "")
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        requests = _parse_block(data, "requests")
        clusters = _parse_block(data, "clusters")
        is_judge = (json_schema is not None and "assignments" in json_schema.get("properties", {})) \
            or (json_schema is None and "assign customer requests" in system)
        if is_judge:
            by_name = {name_key(c["name"]): c["cluster_id"] for c in clusters}
            answers = []
            for item in requests:
                topic = self._topic(item["text"])
                answers.append({"i": item["i"],
                                "cluster_id": by_name.get(name_key(topic or ""), NONE_ID)})
            return json.dumps({"assignments": answers}, ensure_ascii=False)
        existing = {name_key(c["name"]) for c in clusters}
        groups: dict[str, list[int]] = defaultdict(list)
        for item in requests:
            topic = self._topic(item["text"])
            if topic and name_key(topic) not in existing:
                groups[topic].append(item["i"])
        match = _MAX_NEW.search(system)
        limit = int(match.group(1)) if match else len(groups)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
        return json.dumps({"clusters": [
            {"name": topic, "summary": f"Requests about {topic}.",
             "criteria": f"The request is about {topic}.", "members": members}
            for topic, members in ordered]}, ensure_ascii=False)

    def __repr__(self) -> str:
        return "ScriptedProvider()"


def _unit_hash(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same draw in any thread or process."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class OracleProposer(_CallCounter):
    """Proposes one cluster per gold label among the texts it is shown.

    Parameters
    ----------
    gold : mapping of str to label
        Gold label of each text (looked up after case/whitespace folding).
    latency : float, default=0.0
        Seconds each call sleeps, to simulate an LLM.
    """

    def __init__(self, gold: Mapping[str, object], latency: float = 0.0) -> None:
        super().__init__()
        self.gold = {dedup_key(k): str(v) for k, v in gold.items()}
        self.latency = latency

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        self._count()
        if self.latency:
            time.sleep(self.latency)
        existing = {name_key(c.name) for c in clusters}
        groups: dict[str, list[int]] = defaultdict(list)
        for i, text in enumerate(texts):
            label = self.gold.get(dedup_key(text))
            if label is not None and name_key(label) not in existing:
                groups[label].append(i)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return [Proposal(name=label, summary=f"Requests labelled {label}.",
                         criteria=f"gold label is {label}", members=members)
                for label, members in ordered]


class OracleJudge(_CallCounter):
    """Assigns each text to the cluster named after its gold label.

    Parameters
    ----------
    gold : mapping of str to label
    error_rate : float, default=0.0
        Share of texts answered wrongly (another cluster or none), drawn
        deterministically per text.
    fail_rate : float, default=0.0
        Share of calls that raise :class:`ProviderUnavailableError`, drawn
        deterministically per batch and attempt (a retried batch draws anew,
        like a transient server error).
    latency : float, default=0.0
        Seconds each call sleeps.
    seed : int, default=0
        Changes which texts and calls are hit.
    """

    def __init__(self, gold: Mapping[str, object], *, error_rate: float = 0.0,
                 fail_rate: float = 0.0, latency: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        self.gold = {dedup_key(k): str(v) for k, v in gold.items()}
        self.error_rate = error_rate
        self.fail_rate = fail_rate
        self.latency = latency
        self.seed = seed
        self._attempts: dict[str, int] = defaultdict(int)

    def _attempt(self, texts: list[str]) -> int:
        key = hashlib.blake2b("\x1f".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            self._attempts[key] += 1
            return self._attempts[key]

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        self._count()
        if self.latency:
            time.sleep(self.latency)
        if self.fail_rate and _unit_hash("fail", self.seed, self._attempt(texts),
                                         *texts) < self.fail_rate:
            raise ProviderUnavailableError("simulated failure", provider="oracle")
        by_name = {name_key(c.name): c.id for c in clusters}
        ids = [c.id for c in clusters]
        answers: list[str | None] = []
        for text in texts:
            right = by_name.get(name_key(self.gold.get(dedup_key(text), "")))
            if self.error_rate and _unit_hash("err", self.seed, text) < self.error_rate:
                wrong = [cid for cid in ids if cid != right]
                pick = int(_unit_hash("pick", self.seed, text) * (len(wrong) + 1))
                answers.append(wrong[pick] if pick < len(wrong) else None)
            else:
                answers.append(right)
        return answers
