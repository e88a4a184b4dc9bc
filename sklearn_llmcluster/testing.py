"""Deterministic stand-ins for an LLM, for tests and benchmarks.

Not a user-facing default: :class:`ScriptedProvider` answers the library's
own prompts by a simple keyword rule, :class:`OracleProposer` and
:class:`OracleJudge` know the gold labels (optionally with injected errors,
failures and latency) and measure the engine rather than a model.
:class:`OracleProvider` is the same oracle behind the provider protocol: it
reads the library's real prompts and answers in JSON, so a run through it
exercises prompts, parsing, the response cache, budgets and token counting
too (tokens are estimated at 4 characters each, as for any provider that
reports none).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from typing import Callable, Mapping, Union

from .exceptions import ProviderUnavailableError
from .discovery.prompts import NONE_ID
from .records import Cluster, Proposal
from .representation.normalization import clean_for_prompt, dedup_key, name_key

__all__ = ["ScriptedProvider", "OracleProposer", "OracleJudge", "OracleProvider",
           "first_keyword"]

#: Gold labels: a mapping ``text -> label``, or a callable ``text -> label | None``
#: (handy for millions of generated texts that derive their label from their content).
Gold = Union[Mapping[str, object], Callable[[str], object]]

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
        self._attempts: dict[str, int] = defaultdict(int)

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def _attempt(self, content: list[str]) -> int:
        """How often this exact content was asked, this one included."""
        key = hashlib.blake2b("\x1f".join(content).encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            self._attempts[key] += 1
            return self._attempts[key]

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
        is_judge = (json_schema is not None
                    and "assignments" in json_schema.get("properties", {})) \
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


class _GoldLookup:
    """Gold label of a text as the judge or proposer sees it.

    Texts are matched after the folding the engine applies before a prompt
    (case, whitespace, control characters), so a text found in ``X`` is
    found again in a prompt. A text that a prompt cut (it ends with "…") is
    matched by its prefix.
    """

    def __init__(self, gold: Gold) -> None:
        if callable(gold) and not isinstance(gold, Mapping):
            self.func, self.table = gold, None
        else:
            self.func = None
            self.table = {self.key(k): str(v) for k, v in gold.items()}
        self._prefixes: dict[int, dict[str, str]] = {}

    @staticmethod
    def key(text: str) -> str:
        return dedup_key(clean_for_prompt(text))

    def __call__(self, text: str) -> str | None:
        if self.func is not None:
            label = self.func(text)
            return None if label is None else str(label)
        key = self.key(text)
        label = self.table.get(key)
        if label is None and key.endswith("…"):
            prefix = key[:-1]
            table = self._prefixes.get(len(prefix))
            if table is None:
                table = self._prefixes[len(prefix)] = {
                    k[:len(prefix)]: v for k, v in self.table.items() if len(k) > len(prefix)}
            label = table.get(prefix)
        return label

    def __getstate__(self) -> dict:
        return {"func": self.func, "table": self.table}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._prefixes = {}


def _simulate(call: "_CallCounter", latency: float, fail_rate: float, seed: int,
              content: list[str]) -> None:
    """Sleep like an LLM and fail like one, deterministically per content and attempt."""
    if latency:
        time.sleep(latency)
    if fail_rate and _unit_hash("fail", seed, call._attempt(content), *content) < fail_rate:
        raise ProviderUnavailableError("simulated failure", provider="oracle")


class OracleProposer(_CallCounter):
    """Proposes one cluster per gold label among the texts it is shown.

    Parameters
    ----------
    gold : mapping of str to label, or callable
        Gold label of each text (looked up after case/whitespace folding), or
        ``gold(text) -> label | None``.
    latency : float, default=0.0
        Seconds each call sleeps, to simulate an LLM.
    fail_rate : float, default=0.0
        Share of calls that raise :class:`ProviderUnavailableError`, drawn
        deterministically per sample and attempt.
    seed : int, default=0
        Changes which calls fail.
    """

    def __init__(self, gold: Gold, latency: float = 0.0, *, fail_rate: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        self.gold = _GoldLookup(gold)
        self.latency = latency
        self.fail_rate = fail_rate
        self.seed = seed

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        self._count()
        _simulate(self, self.latency, self.fail_rate, self.seed, texts)
        ordered = _oracle_proposals(self.gold, texts, {name_key(c.name) for c in clusters},
                                    None)
        return [Proposal(name=label, summary=f"Requests labelled {label}.",
                         criteria=f"gold label is {label}", members=members)
                for label, members in ordered]


class OracleJudge(_CallCounter):
    """Assigns each text to the cluster named after its gold label.

    Parameters
    ----------
    gold : mapping of str to label, or callable
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

    def __init__(self, gold: Gold, *, error_rate: float = 0.0,
                 fail_rate: float = 0.0, latency: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        self.gold = _GoldLookup(gold)
        self.error_rate = error_rate
        self.fail_rate = fail_rate
        self.latency = latency
        self.seed = seed

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        self._count()
        _simulate(self, self.latency, self.fail_rate, self.seed, texts)
        return _oracle_answers(self.gold, self.error_rate, self.seed, texts,
                               [(c.id, c.name) for c in clusters])


def _oracle_answers(gold: _GoldLookup, error_rate: float, seed: int, texts: list[str],
                    clusters: list[tuple[str, str]]) -> list[str | None]:
    """The cluster id named after each text's gold label; ``error_rate`` of them wrong."""
    by_name = {name_key(name): cid for cid, name in clusters}
    ids = [cid for cid, _ in clusters]
    answers: list[str | None] = []
    for text in texts:
        right = by_name.get(name_key(gold(text) or ""))
        # Drawn on the folded text, so the same request errs the same way
        # whether it came from ``X`` or from a prompt.
        key = _GoldLookup.key(text)
        if error_rate and _unit_hash("err", seed, key) < error_rate:
            wrong = [cid for cid in ids if cid != right]
            pick = int(_unit_hash("pick", seed, key) * (len(wrong) + 1))
            answers.append(wrong[pick] if pick < len(wrong) else None)
        else:
            answers.append(right)
    return answers


def _oracle_proposals(gold: _GoldLookup, texts: list[str], existing: set[str],
                      limit: int | None) -> list[tuple[str, list[int]]]:
    """One (label, member indices) per gold label not yet a cluster, largest first."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        label = gold(text)
        if label is not None and name_key(label) not in existing:
            groups[label].append(i)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return ordered if limit is None else ordered[:limit]


class OracleProvider(_CallCounter):
    """A simulated LLM provider that knows the gold labels.

    It answers the library's own prompts (like :class:`ScriptedProvider`):
    as proposer it proposes one cluster per gold label among the requests
    it is shown, named after the label (at most the number the prompt asks
    for, largest first); as judge it picks the cluster named after each
    request's gold label, else ``"none"``. Every call goes through
    :class:`~sklearn_llmcluster.llm.client.LLMClient`, so prompts, answer
    parsing, the cache, budgets and token counts are all exercised.

    Safe to call from many threads; picklable (for process-based joblib
    backends such as Dask) when ``gold`` is a mapping or a module-level
    function.

    Parameters
    ----------
    gold : mapping of str to label, or callable
        Gold label of each text, or ``gold(text) -> label | None``.
    error_rate : float, default=0.0
        Share of requests the judge answers wrongly (another cluster or
        "none"), drawn deterministically per text.
    fail_rate : float, default=0.0
        Share of calls (judge and proposer) that raise
        :class:`~sklearn_llmcluster.exceptions.ProviderUnavailableError`,
        drawn deterministically per prompt and attempt: a retried call draws
        anew, like a transient server error.
    latency : float, default=0.0
        Seconds each call sleeps.
    seed : int, default=0
        Changes which texts and calls are hit.

    Examples
    --------
    >>> from sklearn_llmcluster import LLMClusterer
    >>> gold = {"card blocked": "card", "card lost": "card", "login fails": "login"}
    >>> model = LLMClusterer(provider=OracleProvider(gold), random_state=0).fit(list(gold))
    >>> sorted(c.name for c in model.clusters_)
    ['card', 'login']
    """

    name = "oracle"
    model = "oracle-1"
    is_remote = False

    def __init__(self, gold: Gold, *, error_rate: float = 0.0, fail_rate: float = 0.0,
                 latency: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        self.gold = _GoldLookup(gold)
        self.error_rate = error_rate
        self.fail_rate = fail_rate
        self.latency = latency
        self.seed = seed

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None) -> str:
        self._count()
        data = next((m["content"] for m in messages
                     if m.get("role") == "user" and "<requests>" in m.get("content", "")), "")
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        # A retry after an invalid answer repeats the same request: same draw
        # of content, next attempt number.
        _simulate(self, self.latency, self.fail_rate, self.seed, [system, data])
        requests = _parse_block(data, "requests")
        clusters = _parse_block(data, "clusters")
        properties = (json_schema or {}).get("properties", {})
        is_judge = "assignments" in properties \
            or (json_schema is None and "assign customer requests" in system)
        texts = [item["text"] for item in requests]
        if is_judge:
            answers = _oracle_answers(self.gold, self.error_rate, self.seed, texts,
                                      [(c["cluster_id"], c["name"]) for c in clusters])
            return json.dumps({"assignments": [
                {"i": item["i"], "cluster_id": NONE_ID if cid is None else cid}
                for item, cid in zip(requests, answers)]}, ensure_ascii=False)
        match = _MAX_NEW.search(system)
        proposals = _oracle_proposals(self.gold, texts, {name_key(c["name"]) for c in clusters},
                                      int(match.group(1)) if match else None)
        return json.dumps({"clusters": [
            {"name": label, "summary": f"Requests labelled {label}.",
             "criteria": f"The request's intent is {label}.",
             "members": [requests[i]["i"] for i in members]}
            for label, members in proposals]}, ensure_ascii=False)

    def __repr__(self) -> str:
        return (f"OracleProvider(error_rate={self.error_rate}, fail_rate={self.fail_rate}, "
                f"latency={self.latency})")
