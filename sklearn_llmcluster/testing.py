"""Deterministic stand-ins for an LLM, for tests and benchmarks.

Not a user-facing default: :class:`ScriptedProvider` answers the library's
own prompts by a simple keyword rule, :class:`OracleProposer` and
:class:`OracleJudge` know the gold labels (optionally with injected errors,
failures and latency) and measure the engine rather than a model.
A provider is the same oracle behind the provider protocol: it
reads the library's real prompts and answers in JSON, so a run through it
exercises prompts, parsing, the response cache, budgets and token counting
too (tokens are estimated at 4 characters each, as for any provider that
reports none). :class:`OracleProvider` answers perfectly (or with random
judge errors); :class:`SimulatedLLM` errs the way real models do (duplicate
clusters under paraphrased names, partial member lists, confusable judge
errors, JSON wrapped in fences and prose) at preset levels.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter, defaultdict
from typing import Callable, Mapping, Union

import numpy as np

from .exceptions import ProviderError, ProviderUnavailableError
from .discovery.prompts import NONE_ID
from .records import Cluster, Proposal
from .representation.normalization import clean_for_prompt, dedup_key, name_key

__all__ = ["ScriptedProvider", "OracleProposer", "OracleJudge", "OracleProvider",
           "SimulatedLLM", "SimulatorTaskError", "LEVELS", "TASKS", "first_keyword"]

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


def _data_message(messages) -> str:
    """The user message that carries the ``<requests>`` or ``<clusters>`` data."""
    return next((m["content"] for m in messages if m.get("role") == "user"
                 and ("<requests>" in m.get("content", "")
                      or "<clusters>" in m.get("content", ""))), "")


def _merge_answer(clusters: list[dict], label: Callable[[str], object]) -> str:
    """A merge answer that merges the shown clusters whose examples share a label.

    A cluster's label is the most common ``label(example)`` of its examples
    (its name when none has one); clusters with the same label are merged
    into the first shown, named after the label. Like a careful model, it
    never merges clusters of different labels, whatever target the prompt gives.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    for cluster in clusters:
        votes: dict[str, int] = defaultdict(int)
        for example in cluster.get("examples", []):
            value = label(example)
            if value is not None:
                votes[str(value)] += 1
        key = max(sorted(votes), key=votes.get) if votes else cluster["name"]
        groups[name_key(key)].append(cluster["cluster_id"])
        names.setdefault(name_key(key), key)
    merges = []
    for key, ids in groups.items():
        if len(ids) > 1:
            name = names[key]
            merges.append({"into": ids[0], "ids": ids[1:], "name": name,
                           "summary": f"Requests about {name}.",
                           "criteria": f"The request is about {name}."})
    return json.dumps({"merges": merges}, ensure_ascii=False)


def _parse_block(content: str, name: str) -> list[dict]:
    for block, body in _BLOCK.findall(content):
        if block == name:
            if body.strip() == "(none yet)":
                return []
            return [json.loads(line) for line in body.splitlines() if line.strip()]
    return []


def _categories_answer(messages, json_schema) -> str | None:
    """A deterministic answer to the categories prompt, or ``None`` for other prompts.

    Clusters whose names start with the same word share a category named
    after that word; existing categories of that name are reused.
    """
    if "categories" not in (json_schema or {}).get("properties", {}):
        return None
    data = next((m["content"] for m in messages
                 if m.get("role") == "user" and "<clusters>" in m.get("content", "")), "")
    groups: dict[str, list[str]] = defaultdict(list)
    for cluster in _parse_block(data, "clusters"):
        words = re.findall(r"[^\W_]+", cluster["name"].lower())
        groups[words[0] if words else "other"].append(cluster["cluster_id"])
    return json.dumps({"categories": [
        {"name": word, "summary": f"Clusters about {word}.", "cluster_ids": ids}
        for word, ids in sorted(groups.items())]}, ensure_ascii=False)


class ScriptedProvider(_CallCounter):
    """A fake LLM that follows the prompts' contract deterministically.

    It reads the ``<requests>`` and ``<clusters>`` blocks of the library's
    prompts. As proposer it groups requests by ``topic(text)`` and proposes
    one cluster per topic not yet present (largest first); as judge it
    assigns each request to the cluster named like its topic (else to one
    whose examples have that topic), else ``"none"``.

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
        categories = _categories_answer(messages, json_schema)
        if categories is not None:
            return categories
        data = _data_message(messages)
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        requests = _parse_block(data, "requests")
        clusters = _parse_block(data, "clusters")
        if "merges" in (json_schema or {}).get("properties", {}):
            return _merge_answer(clusters, self._topic)
        is_judge = (json_schema is not None
                    and "assignments" in json_schema.get("properties", {})) \
            or (json_schema is None and "assign customer requests" in system)
        if is_judge:
            by_name = {name_key(c["name"]): c["cluster_id"] for c in clusters}
            # A cluster named otherwise (a no-intent one that took in a
            # proposal): its examples' topics lead to it too.
            for c in clusters:
                for topic in filter(None, map(self._topic, c.get("examples") or [])):
                    by_name.setdefault(name_key(topic), c["cluster_id"])
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
        data = _data_message(messages)
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        # A retry after an invalid answer repeats the same request: same draw
        # of content, next attempt number.
        _simulate(self, self.latency, self.fail_rate, self.seed, [system, data])
        categories = _categories_answer(messages, json_schema)
        if categories is not None:
            return categories
        requests = _parse_block(data, "requests")
        clusters = _parse_block(data, "clusters")
        properties = (json_schema or {}).get("properties", {})
        if "merges" in properties:
            return _merge_answer(clusters, self.gold)
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


# -- a simulated LLM that errs like real ones -------------------------------------------------

#: Fault rates of :class:`SimulatedLLM`'s levels; a parameter left at ``None`` takes its level's.
LEVELS: dict[str, dict[str, float | int]] = {
    "perfect": dict(duplicate_rate=0.0, merge_rate=0.0, split_rate=0.0, member_recall=1.0,
                    judge_error_rate=0.0, judge_none_rate=0.0, format_noise_rate=0.0,
                    merge_recall=1.0, false_merge_rate=0.0, fail_rate=0.0,
                    duplicate_min_size=2),
    "realistic": dict(duplicate_rate=0.30, merge_rate=0.02, split_rate=0.02, member_recall=0.70,
                      judge_error_rate=0.10, judge_none_rate=0.02, format_noise_rate=0.30,
                      merge_recall=0.90, false_merge_rate=0.02, fail_rate=0.0,
                      duplicate_min_size=2),
    "harsh": dict(duplicate_rate=0.50, merge_rate=0.08, split_rate=0.08, member_recall=0.50,
                  judge_error_rate=0.20, judge_none_rate=0.05, format_noise_rate=0.60,
                  merge_recall=0.75, false_merge_rate=0.05, fail_rate=0.02,
                  duplicate_min_size=1),
}

#: The tasks a simulated LLM tells apart by its answer schema's top-level property.
TASKS = {"clusters": "propose", "assignments": "judge", "merges": "merge",
         "categories": "categorize"}

# Paraphrases a good embedder can still match: prefixes, reordered words, synonyms.
_PREFIXES_EN = ("Question about", "Problem with", "Help with", "Issue:", "Request about")
_PREFIXES_RU = ("Вопрос о", "Проблема с", "Помощь с", "Обращение:", "Жалоба на")
_SYNONYMS = {
    "card": "bank card", "cards": "bank cards", "money": "funds", "cash": "banknotes",
    "cancel": "call off", "cancelled": "called off", "charge": "fee", "charged": "billed",
    "fee": "charge", "transfer": "wire", "transfers": "wires", "account": "profile",
    "change": "modify", "pending": "waiting", "request": "ask for", "problem": "issue",
    "delay": "lateness", "refund": "money back", "reset": "restore", "close": "shut",
    "missing": "absent", "balance": "funds left", "wrong": "incorrect", "failed": "unsuccessful",
    "declined": "rejected", "lost": "misplaced", "update": "edit", "order": "purchase",
    "check": "verify", "book": "reserve", "find": "locate", "payment": "transaction",
    "blocked": "frozen", "crash": "failure", "login": "sign-in", "password": "passcode",
    "delivery": "shipping", "not": "no", "working": "functioning", "receive": "get",
    "received": "got", "top": "fill", "exchange": "conversion", "rate": "ratio",
    "personal": "private", "data": "details", "phone": "mobile", "app": "application",
}
#: Suffixes of the two halves of a split intent (sub 0, sub 1), English and Russian.
_SPLIT_TAGS = (("first contact", "первичное обращение"), ("follow-up", "повторное обращение"))
_MERGED = " / "
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_PROSE_BEFORE = ("Here is the JSON you asked for:", "Sure! Based on the requests:",
                 "Вот результат:")
_PROSE_AFTER = ("Let me know if you need anything else.",
                "Note: some requests were ambiguous; I chose the closest fit.",
                "Надеюсь, это поможет.")


class SimulatorTaskError(ProviderError):
    """A prompt the simulated LLM does not know how to answer (a bug in a test or prompt)."""

    fatal = True


def _label_words(label: str) -> list[str]:
    return [w for w in re.split(r"[_\s]+", label.strip()) if w]


def _name_variants(label: str) -> list[str]:
    """Names a model may give the intent ``label``: the label first, then paraphrases."""
    words = _label_words(label)
    base = " ".join(words)
    forms = [base]
    if len(words) > 1:
        forms += [" ".join(words[::-1]), " ".join(words[1:] + words[:1])]
    # One word swapped for a synonym, as models reword a name rather than replace it.
    swap = next((k for k, w in enumerate(words) if w.casefold() in _SYNONYMS), None)
    synonyms = list(words)
    if swap is not None:
        synonyms[swap] = _SYNONYMS[words[swap].casefold()]
        forms.append(" ".join(synonyms))
        if len(words) > 1:
            forms.append(" ".join(synonyms[::-1]))
    names = [label, *forms]
    names += [f"{prefix} {form}" for prefix in _PREFIXES_EN + _PREFIXES_RU for form in forms]
    seen: set[str] = set()
    unique = []
    for name in names:
        key = name_key(name)
        if key and key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def _trigrams(text: str) -> set[str]:
    text = f"  {text.casefold()} "
    return {text[k:k + 3] for k in range(len(text) - 2)}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


def _most_similar(docs: list[str], queries: list[str]):
    """Cosine similarities (queries × docs) of a char-n-gram TF-IDF fitted on both."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    matrix = vectorizer.fit_transform(docs + queries)
    return (matrix[len(docs):] @ matrix[:len(docs)].T).toarray()


_TARGET = re.compile(r"should have (?:about (\d+)|between (\d+) and (\d+)) clusters in all; "
                     r"it has (\d+) now")


def _merge_target_excess(system: str) -> int:
    """How many clusters a merge prompt's target asks to lose (0 without a target)."""
    match = _TARGET.search(system)
    if not match:
        return 0
    about, _, most, now = match.groups()
    return max(int(now) - int(about or most), 0)


def _groups(n: int, pairs) -> list[int]:
    """Union-find over ``pairs``: each item's group, named by its smallest member."""
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(k) for k in range(n)]


def _text_of(message: dict) -> str:
    """A message's text, also when its content is a list of parts (``{"text": ...}``)."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))


def _cluster_doc(cluster: dict) -> str:
    examples = cluster.get("examples") or []
    doc = " ".join([str(cluster.get("name", "")), str(cluster.get("criteria", "")),
                    *map(str, examples)])
    return doc.replace("_", " ")


class SimulatedLLM(_CallCounter):
    """A simulated LLM provider that knows the gold labels and errs like real models.

    It reads only the messages and answer schema it is sent: the
    ``<requests>`` and ``<clusters>`` blocks of the library's prompts, and the
    schema's top-level property, which names the task (``"clusters"``:
    propose, ``"assignments"``: judge, ``"merges"``: decide which clusters
    are duplicates, ``"categories"``: group clusters into categories). A
    task it does not know raises :class:`SimulatorTaskError` (fatal: the run
    stops at once). Cluster names it reads back are matched to intents by the
    names it writes (the gold label, or a paraphrase of it), so clusters named
    otherwise (an analyst's seed, say) are, to it, clusters of no intent.

    Every fault is a parameter; ``None`` takes the value of ``level``
    (:data:`LEVELS`). Each draw is a hash of the seed and the content it is
    about (text, intent, prompt), so answers are the same in any thread or
    process and across pickling, and a repeated prompt (a retry) gets the
    same answer. At ``level="perfect"`` it answers as :class:`OracleProvider`
    does.

    Faults:

    - *duplicates*: an intent that already has a cluster (its texts were
      judged "none" or left out of an earlier member list) is proposed again,
      at ``duplicate_rate`` per intent and prompt when the prompt holds at
      least ``duplicate_min_size`` of its requests, under a paraphrased name
      (words reordered, "Question about …"/"Вопрос о …" prefixes, synonyms);
    - *merged and split intents*: at ``merge_rate`` a new intent is proposed
      together with the most similarly named other new intent in the prompt
      (named ``"A / B"``); at ``split_rate`` one with four or more requests is
      proposed as two clusters (``"A: first contact"``, ``"A: follow-up"``);
      the judge then sends each text where its cluster went;
    - *incomplete member lists*: each member is listed with probability
      ``member_recall`` (at least one per cluster);
    - *judge errors*: ``judge_error_rate`` of the texts go to the most
      confusable wrong cluster (highest char-n-gram TF-IDF similarity between
      the text and the cluster's name, criteria and examples, computed from
      the prompt; never a cluster the prompt marks ``"kind": "no_intent"``:
      models confuse intents, not a request with a greeting), ``judge_none_rate``
      are answered "none"; an intent with two clusters (a duplicate) is
      spread over both;
    - *merge decisions*: a pair of clusters of the same intent is merged with
      probability ``merge_recall``; a cluster is merged with its most
      confusable cluster of another intent (no-intent clusters excepted) at
      ``false_merge_rate`` (the merged cluster is named after both, and
      judged so); when the prompt
      asks for fewer clusters ("about 30 clusters in all; it has 41 now"), the
      most similar pairs of the group are merged as well, up to the excess;
    - *categories*: clusters are grouped by the category of their intent
      (``category_of``, by default the label's first word);
    - *format*: ``format_noise_rate`` of the answers come in a ```json
      fence, after a ``<think>`` block or prose, or followed by prose;
    - *failures*: ``fail_rate`` of the calls raise
      :class:`~sklearn_llmcluster.exceptions.ProviderUnavailableError` (a
      retry draws anew).

    Safe to call from many threads; picklable when ``gold`` and
    ``category_of`` are mappings or module-level functions. The call counts
    (``calls``, ``calls_by_task``, ``prompt_chars_by_task``) are run-time
    telemetry and are left out of pickles.

    Parameters
    ----------
    gold : mapping of str to label, or callable
        Gold label of each text (matched after case/whitespace folding), or
        ``gold(text) -> label | None``. A text with no label has no intent:
        it is never proposed and the judge answers "none" for it.
    level : {"perfect", "realistic", "harsh"}, default="realistic"
        Preset fault rates (:data:`LEVELS`).
    duplicate_rate, merge_rate, split_rate, member_recall, judge_error_rate, \
judge_none_rate, format_noise_rate, merge_recall, false_merge_rate, fail_rate : float, optional
        Fault rates in [0, 1] overriding the level's.
    duplicate_min_size : int, optional
        Fewest requests of an already clustered intent in one prompt that
        the model re-proposes (2 at "realistic": like the prompt asks, a
        lone request makes no cluster; 1 at "harsh").
    latency : float or mapping of str to float, default=0.0
        Seconds each call sleeps: one number for every task, or per task
        (``{"propose": 2.0, "judge": 0.3}``; tasks: ``"propose"``,
        ``"judge"``, ``"merge"``, ``"categorize"``; a missing task sleeps 0).
    category_of : mapping or callable, optional
        Category of an intent label for the ``"categories"`` task; defaults
        to the label's first word.
    seed : int, default=0
        Changes every draw.

    Examples
    --------
    >>> from sklearn_llmcluster import LLMClusterer
    >>> gold = {"card blocked": "card", "card lost": "card", "login fails": "login"}
    >>> llm = SimulatedLLM(gold, level="perfect")
    >>> model = LLMClusterer(provider=llm, random_state=0).fit(list(gold))
    >>> sorted(c.name for c in model.clusters_)
    ['card', 'login']
    >>> llm.calls_by_task["propose"] >= 1
    True
    """

    name = "simulated"
    model = "simulated-1"
    is_remote = False

    def __init__(self, gold: Gold, *, level: str = "realistic",
                 duplicate_rate: float | None = None, merge_rate: float | None = None,
                 split_rate: float | None = None, member_recall: float | None = None,
                 judge_error_rate: float | None = None, judge_none_rate: float | None = None,
                 format_noise_rate: float | None = None, merge_recall: float | None = None,
                 false_merge_rate: float | None = None, fail_rate: float | None = None,
                 duplicate_min_size: int | None = None,
                 latency: float | Mapping[str, float] = 0.0,
                 category_of: Mapping[str, str] | Callable[[str], str] | None = None,
                 seed: int = 0) -> None:
        if level not in LEVELS:
            raise ValueError(f"level={level!r} is not one of {', '.join(map(repr, LEVELS))}")
        super().__init__()
        self.gold = _GoldLookup(gold)
        self.level = level
        overrides = dict(duplicate_rate=duplicate_rate, merge_rate=merge_rate,
                         split_rate=split_rate, member_recall=member_recall,
                         judge_error_rate=judge_error_rate, judge_none_rate=judge_none_rate,
                         format_noise_rate=format_noise_rate, merge_recall=merge_recall,
                         false_merge_rate=false_merge_rate, fail_rate=fail_rate)
        rates = dict(LEVELS[level])
        if duplicate_min_size is not None:
            if isinstance(duplicate_min_size, bool) or not isinstance(duplicate_min_size, int) \
                    or duplicate_min_size < 1:
                raise ValueError(f"duplicate_min_size={duplicate_min_size!r} must be an int >= 1")
            rates["duplicate_min_size"] = duplicate_min_size
        for key, value in overrides.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value <= 1:
                raise ValueError(f"{key}={value!r} must be a number between 0 and 1")
            rates[key] = float(value)
        for key, value in rates.items():
            setattr(self, key, value)
        if isinstance(latency, Mapping):
            unknown = set(latency) - set(TASKS.values())
            if unknown:
                raise ValueError(f"latency for unknown task(s) {sorted(unknown)}; tasks are "
                                 f"{', '.join(TASKS.values())}")
            self.latency = {k: float(v) for k, v in latency.items()}
        else:
            self.latency = float(latency)
        self.category_of = category_of
        self.seed = seed
        self._init_telemetry()

    @property
    def rates(self) -> dict[str, float]:
        """The fault rates in force: the level's, with the overrides."""
        return {key: getattr(self, key) for key in LEVELS["perfect"]}

    # -- telemetry -----------------------------------------------------------
    def _init_telemetry(self) -> None:
        #: Calls per task ("propose", "judge", "merge", "categorize").
        self.calls_by_task: dict[str, int] = defaultdict(int)
        #: Prompt characters per task.
        self.prompt_chars_by_task: dict[str, int] = defaultdict(int)
        self._variants: dict[str, list[str]] = {}
        self._table_all: dict[str, str] | None = None

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for key in ("calls_by_task", "prompt_chars_by_task", "_variants", "_table_all"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._init_telemetry()

    def reset_counts(self) -> None:
        """Set every call count back to zero (between benchmark phases)."""
        with self._lock:
            self.calls = 0
            self.calls_by_task.clear()
            self.prompt_chars_by_task.clear()

    # -- reading names back --------------------------------------------------
    def _names_of(self, label: str) -> list[str]:
        names = self._variants.get(label)
        if names is None:
            names = self._variants[label] = _name_variants(label)
        return names

    def _table(self, labels) -> dict[str, str]:
        """``name_key(variant) -> label`` for ``labels`` (and every gold label of a mapping)."""
        if self.gold.table is not None:
            if self._table_all is None:
                table: dict[str, str] = {}
                for label in sorted(set(self.gold.table.values())):
                    for name in self._names_of(label):
                        table.setdefault(name_key(name), label)
                self._table_all = table
            return self._table_all
        table = {}
        for label in sorted({label for label in labels if label is not None}):
            for name in self._names_of(label):
                table.setdefault(name_key(name), label)
        return table

    @staticmethod
    def _decode(name: str, table: dict[str, str]) -> list[tuple[str, int | None]]:
        """The intents (label, half or None) a cluster name stands for, as this model names."""
        key = name_key(name)
        if key in table:
            return [(table[key], None)]
        parts = []
        for part in name.split(_MERGED) if _MERGED in name else [name]:
            key = name_key(part)
            half = None
            for sub, tags in enumerate(_SPLIT_TAGS):
                for tag in tags:
                    if key.endswith(": " + tag):
                        key, half = name_key(key[:-len(tag) - 2]), sub
                        break
                if half is not None:
                    break
            if key in table:
                parts.append((table[key], half))
        return parts

    def _half(self, text: str) -> int:
        return int(_unit_hash("half", self.seed, _GoldLookup.key(text)) * 2)

    # -- the provider protocol -----------------------------------------------
    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None) -> str:
        system = "\n".join(_text_of(m) for m in messages if m.get("role") == "system")
        # Blocks are read wherever they are (a cache-friendly prompt may put the
        # catalogue in the system message).
        data = "\n".join(_text_of(m) for m in messages if m.get("role") != "system")
        properties = (json_schema or {}).get("properties", {})
        task = next((TASKS[p] for p in properties if p in TASKS), None)
        if task is None and json_schema is None:
            task = "judge" if "assign customer requests" in system else \
                "propose" if "<requests>" in data else None
        with self._lock:
            self.calls += 1
            self.calls_by_task[task or "unknown"] += 1
            self.prompt_chars_by_task[task or "unknown"] += len(system) + len(data)
        if task is None:
            raise SimulatorTaskError(
                "SimulatedLLM cannot tell the task of this prompt: its answer schema has none "
                f"of the top-level properties {', '.join(map(repr, TASKS))} (got "
                f"{sorted(properties) or 'no schema'}); teach testing.SimulatedLLM the new task",
                provider=self.name, model=self.model)
        latency = self.latency.get(task, 0.0) if isinstance(self.latency, dict) else self.latency
        _simulate(self, latency, self.rates["fail_rate"], self.seed, [system, data])
        requests = _parse_block(f"{system}\n{data}", "requests")
        clusters = _parse_block(f"{system}\n{data}", "clusters")
        call_key = hashlib.blake2b(f"{system}\x1f{data}".encode("utf-8", "surrogatepass"),
                                   digest_size=8).hexdigest()
        if task == "judge":
            answer = self._judge(requests, clusters)
        elif task == "propose":
            answer = self._propose(system, requests, clusters, json_schema, call_key)
        elif task == "merge":
            answer = self._merge(system, clusters)
        else:
            answer = self._categorize(clusters, json_schema)
        return self._dress(json.dumps(answer, ensure_ascii=False), call_key, requests)

    def _dress(self, answer: str, call_key: str, requests: list[dict]) -> str:
        """The answer as models wrap it now and then: fences, <think> blocks, prose."""
        if _unit_hash("format", self.seed, call_key) >= self.rates["format_noise_rate"]:
            return answer
        style = int(_unit_hash("style", self.seed, call_key) * 4)
        # The request echoed in the reasoning keeps letters, digits and spaces only:
        # a quoted "</think>" or "{" would make the answer unparseable for any parser.
        first = re.sub(r"[^\w\s]", " ", str(requests[0]["text"])[:40]) if requests \
            else "the clusters"
        prose_before = _PROSE_BEFORE[int(_unit_hash("before", self.seed, call_key) * 3)]
        prose_after = _PROSE_AFTER[int(_unit_hash("after", self.seed, call_key) * 3)]
        if style == 0:
            return f"```json\n{answer}\n```"
        if style == 1:
            return (f"<think>\nThe user wants JSON. Request 0 says \"{first}\"; I compare it "
                    f"with the criteria.\n</think>\n```json\n{answer}\n```")
        if style == 2:
            return f"<think>\nLet me sort these out.\n</think>\n{answer}\n\n{prose_after}"
        return f"{prose_before}\n```json\n{answer}\n```\n{prose_after}"

    # -- judge ---------------------------------------------------------------
    def _judge(self, requests: list[dict], clusters: list[dict]) -> dict:
        texts = [str(item["text"]) for item in requests]
        labels = [self.gold(t) for t in texts]
        example_labels = [self.gold(str(e)) for c in clusters for e in c.get("examples") or []]
        table = self._table(labels + example_labels)
        by_label: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
        for k, cluster in enumerate(clusters):
            for label, half in self._decode(str(cluster.get("name", "")), table):
                by_label[label].append((k, half))
        # A name this model did not write is read from its examples (see _cluster_intents).
        named = {k for places in by_label.values() for k, _ in places}
        unnamed = [k for k in range(len(clusters)) if k not in named]
        for k, read in zip(unnamed, self._cluster_intents([clusters[k] for k in unnamed])):
            for label in read:
                by_label[label].append((k, None))
        none_rate = self.rates["judge_none_rate"]
        error_rate = self.rates["judge_error_rate"]
        picks: list[int | None] = []
        wrong: dict[int, set[int]] = {}
        for j, (text, label) in enumerate(zip(texts, labels)):
            key = _GoldLookup.key(text)
            right: list[int] = []
            if label is not None:
                half = self._half(text)
                places = by_label.get(label, [])
                right = [k for k, h in places if h is None or h == half] or [k for k, _ in places]
                right = sorted(set(right))
            draw = _unit_hash("judge", self.seed, key)
            if draw < none_rate:
                picks.append(None)
            elif draw < none_rate + error_rate:
                picks.append(None)
                wrong[j] = set(right)
            elif right:
                # Two clusters of one intent: the text goes to either, as with a real model.
                picks.append(right[int(_unit_hash("dup", self.seed, key) * len(right))])
            else:
                picks.append(None)
        if wrong and clusters:
            order = sorted(wrong)
            sims = _most_similar([_cluster_doc(c) for c in clusters], [texts[j] for j in order])
            # A model confuses one intent with another, not a request with a
            # cluster the catalogue marks as holding none.
            sims[:, [k for k, c in enumerate(clusters) if c.get("kind") == "no_intent"]] = -np.inf
            for row, j in zip(sims, order):
                row[list(wrong[j])] = -np.inf
                best = int(np.argmax(row))
                if np.isfinite(row[best]):
                    picks[j] = best
        return {"assignments": [
            {"i": item["i"], "cluster_id": NONE_ID if k is None else clusters[k]["cluster_id"]}
            for item, k in zip(requests, picks)]}

    # -- propose -------------------------------------------------------------
    def _propose(self, system: str, requests: list[dict], clusters: list[dict],
                 schema: dict | None, call_key: str) -> dict:
        rates = self.rates
        texts = [str(item["text"]) for item in requests]
        labels = [self.gold(t) for t in texts]
        table = self._table(labels)
        covered = {label for c in clusters
                   for label, _ in self._decode(str(c.get("name", "")), table)}
        taken = {name_key(str(c.get("name", ""))) for c in clusters}
        groups: dict[str, list[int]] = defaultdict(list)
        for j, label in enumerate(labels):
            if label is not None:
                groups[label].append(j)
        russian = sum(bool(_CYRILLIC.search(t)) for t in texts) * 2 > len(texts)
        items: list[tuple[str, list[int]]] = []
        fresh = sorted(((label, js) for label, js in groups.items() if label not in covered),
                       key=lambda kv: (-len(kv[1]), kv[0]))
        consumed: set[str] = set()
        for label, js in fresh:
            if label in consumed:
                continue
            consumed.add(label)
            others = [(other, ojs) for other, ojs in fresh if other not in consumed]
            if others and _unit_hash("merge", self.seed, label) < rates["merge_rate"]:
                grams = _trigrams(" ".join(_label_words(label)))
                other, ojs = max(others, key=lambda kv: (
                    _jaccard(grams, _trigrams(" ".join(_label_words(kv[0])))), kv[0]))
                consumed.add(other)
                items.append((f"{label}{_MERGED}{other}", sorted(js + ojs)))
            elif len(js) >= 4 and _unit_hash("split", self.seed, label) \
                    < rates["split_rate"]:
                halves = ([j for j in js if self._half(texts[j]) == 0],
                          [j for j in js if self._half(texts[j]) == 1])
                if all(halves):
                    tags = [tags[1 if russian else 0] for tags in _SPLIT_TAGS]
                    items += [(f"{label}: {tag}", half) for tag, half in zip(tags, halves)]
                else:
                    items.append((label, js))
            else:
                items.append((label, js))
        for label, js in sorted(groups.items()):
            if label in covered and len(js) >= rates["duplicate_min_size"] and \
                    _unit_hash("duplicate", self.seed, label, call_key) < rates["duplicate_rate"]:
                name = self._paraphrase(label, taken, russian, call_key)
                if name is not None:
                    items.append((name, js))
                    taken.add(name_key(name))
        items.sort(key=lambda kv: (-len(kv[1]), kv[0]))
        limit = None
        try:
            limit = int(schema["properties"]["clusters"]["maxItems"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            match = _MAX_NEW.search(system)
            limit = int(match.group(1)) if match else None
        if limit is not None:
            items = items[:limit]
        recall = rates["member_recall"]
        out = []
        for name, js in items:
            listed = [j for j in js
                      if _unit_hash("member", self.seed, _GoldLookup.key(texts[j]), call_key)
                      < recall] or js[:1]
            # The oracle's wording, so that the perfect level answers as it does.
            out.append({"name": name, "summary": f"Requests labelled {name}.",
                        "criteria": f"The request's intent is {name}.",
                        "members": [requests[j]["i"] for j in listed]})
        return {"clusters": out}

    def _paraphrase(self, label: str, taken: set[str], russian: bool,
                    call_key: str) -> str | None:
        """A name for ``label`` that no cluster has, in the language of the requests."""
        others = _PREFIXES_EN if russian else _PREFIXES_RU
        names = [n for n in self._names_of(label)[1:] if name_key(n) not in taken
                 and not any(n.startswith(p) for p in others)]
        if not names:
            return None
        return names[int(_unit_hash("paraphrase", self.seed, label, call_key) * len(names))]

    # -- merge decisions -----------------------------------------------------
    def _cluster_intents(self, clusters: list[dict]) -> list[set[str]]:
        example_labels = [self.gold(str(e)) for c in clusters for e in c.get("examples") or []]
        table = self._table(example_labels)
        intents = []
        for cluster in clusters:
            named = {label for label, _ in self._decode(str(cluster.get("name", "")), table)}
            if not named:
                # A name this model did not write (a no-intent cluster, a seed,
                # an analyst's rename): it reads the examples, as models do.
                votes = Counter(label for label in map(self.gold, map(str, cluster.get(
                    "examples") or [])) if label is not None)
                named = {max(sorted(votes), key=votes.get)} if votes else set()
            intents.append(named)
        return intents

    def _merge_pairs(self, system: str, clusters: list[dict]) -> list[tuple[int, int]]:
        """Pairs (i, j), i < j, of clusters this model merges."""
        intents = self._cluster_intents(clusters)
        ids = [str(c.get("cluster_id")) for c in clusters]
        pairs = set()
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                if intents[i] & intents[j] and _unit_hash(
                        "merge-recall", self.seed, *sorted((ids[i], ids[j]))) \
                        < self.rates["merge_recall"]:
                    pairs.add((i, j))
        if len(clusters) < 2:
            return sorted(pairs)
        sims = None
        if self.rates["false_merge_rate"]:
            sims = _most_similar([_cluster_doc(c) for c in clusters],
                                 [_cluster_doc(c) for c in clusters])
            for i in range(len(clusters)):
                if not _unit_hash("false-merge", self.seed, ids[i]) \
                        < self.rates["false_merge_rate"]:
                    continue
                row = sims[i].copy()
                row[i] = -np.inf
                no_intent = [c.get("kind") == "no_intent" for c in clusters]
                row[[j for j in range(len(clusters))
                     if intents[i] & intents[j] or no_intent[i] or no_intent[j]]] = -np.inf
                j = int(np.argmax(row))
                if np.isfinite(row[j]):
                    pairs.add((min(i, j), max(i, j)))
        excess = _merge_target_excess(system)
        if excess:
            # Asked for fewer clusters: merge the most similar pairs of different
            # intents too, as many as the target asks (within this group).
            if sims is None:
                sims = _most_similar([_cluster_doc(c) for c in clusters],
                                     [_cluster_doc(c) for c in clusters])
            groups = _groups(len(clusters), pairs)
            candidates = sorted(((float(sims[i, j]), i, j) for i in range(len(clusters))
                                 for j in range(i + 1, len(clusters))), reverse=True)
            made = len(clusters) - len(set(groups))
            for _, i, j in candidates:
                if made >= excess:
                    break
                if groups[i] != groups[j]:
                    pairs.add((i, j))
                    groups = _groups(len(clusters), pairs)
                    made += 1
        return sorted(pairs)

    def _merge(self, system: str, clusters: list[dict]) -> dict:
        groups = _groups(len(clusters), self._merge_pairs(system, clusters))
        intents = self._cluster_intents(clusters)
        members: dict[int, list[int]] = defaultdict(list)
        for k, root in enumerate(groups):
            members[root].append(k)
        merges = []
        for keep, ks in sorted(members.items()):
            if len(ks) < 2:
                continue
            # One intent keeps the survivor's name; several are named together,
            # as models name a merged cluster (and then judge both intents into it).
            names, seen = [], set()
            for k in ks:
                fresh = intents[k] - seen
                if fresh or not intents[k]:
                    names.append(str(clusters[k].get("name", "")))
                    seen |= intents[k]
            name = _MERGED.join(names[:1] if len(seen) <= 1 else names)
            merges.append({"into": clusters[keep]["cluster_id"],
                           "ids": [clusters[k]["cluster_id"] for k in ks[1:]],
                           "name": name, "summary": f"Requests labelled {name}.",
                           "criteria": f"The request's intent is {name}."})
        return {"merges": merges}

    # -- categories ----------------------------------------------------------
    def _category(self, label: str) -> str:
        if self.category_of is None:
            return _label_words(label)[0]
        if callable(self.category_of) and not isinstance(self.category_of, Mapping):
            return str(self.category_of(label))
        return str(self.category_of.get(label, _label_words(label)[0]))

    def _categorize(self, clusters: list[dict], schema: dict | None) -> dict:
        intents = self._cluster_intents(clusters)
        groups: dict[str, list[str]] = defaultdict(list)
        for cluster, labels in zip(clusters, intents):
            category = self._category(sorted(labels)[0]) if labels else "Other"
            groups[category].append(cluster["cluster_id"])
        return {"categories": [{"name": name, "summary": f"Clusters about {name}.",
                                "cluster_ids": ids}
                               for name, ids in sorted(groups.items())]}

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.rates.items() if v != LEVELS[self.level][k]}
        extra = "".join(f", {k}={v}" for k, v in changed.items())
        return f"SimulatedLLM(level={self.level!r}{extra}, seed={self.seed})"
