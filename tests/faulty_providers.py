"""In-process LLM stand-ins that misbehave on purpose, for fault-injection tests.

Every provider here starts from :class:`~sklearn_llmcluster.testing.ScriptedProvider`,
which answers the library's prompts correctly, and spoils some of its answers
with one named fault from :data:`FAULTS`. Which calls are spoiled is decided by
a ``when`` rule, so a test can make a fault transient (the retry recovers) or
persistent for some texts (their batch fails for good).

There are also a recording provider (what left the machine), a provider that
raises, and a judge and a proposer that break the engine's contract.
"""

from __future__ import annotations

import json
import threading
from typing import Callable

from sklearn_llmcluster.exceptions import ProviderError
from sklearn_llmcluster.records import Cluster, Proposal
from sklearn_llmcluster.testing import ScriptedProvider


def step_of(json_schema: dict | None) -> str:
    """``"judge"`` or ``"propose"``, read from the answer schema the library sent."""
    props = (json_schema or {}).get("properties", {})
    return "judge" if "assignments" in props else "propose"


# -- faults: (valid answer as a dict, step) -> the text the "model" sends -------

def _truncated(answer: dict, step: str) -> str:
    text = json.dumps(answer)
    return text[: max(1, len(text) // 2)]


def _schema_break(answer: dict, step: str) -> str:
    key = "assignments" if step == "judge" else "clusters"
    return json.dumps({key: "everything is fine", "extra": [1, 2, 3]})


def _unknown_ids(answer: dict, step: str) -> str:
    if step == "judge":
        answer["assignments"] = [{**a, "cluster_id": "c-does-not-exist"}
                                 for a in answer["assignments"]]
    return json.dumps(answer)


def _bad_indices(answer: dict, step: str) -> str:
    if step == "judge":
        answer["assignments"] = [{**a, "i": -1 - a["i"]} for a in answer["assignments"]] + \
            [{"i": 10**9, "cluster_id": "none"}]
    else:
        for c in answer["clusters"]:
            c["members"] = [-1, 10**9, *c["members"], -5]
    return json.dumps(answer)


def _duplicate_names(answer: dict, step: str) -> str:
    if step == "propose" and answer["clusters"]:
        first = answer["clusters"][0]
        answer["clusters"].append({**first, "members": []})  # the same cluster twice
        for c in answer["clusters"]:
            c["name"] = first["name"]
    return json.dumps(answer)


def _empty_names(answer: dict, step: str) -> str:
    if step == "propose":
        for c in answer["clusters"]:
            c["name"] = "   "
    return json.dumps(answer)


def _huge_names(answer: dict, step: str) -> str:
    if step == "propose":
        for c in answer["clusters"]:
            c["name"] = c["name"] + " " + "x" * 10_000
            c["summary"] = "s" * 10_000
    return json.dumps(answer)


def _same_text_twice(answer: dict, step: str) -> str:
    if step == "propose" and answer["clusters"]:
        every = sorted({m for c in answer["clusters"] for m in c["members"]})
        for c in answer["clusters"]:
            c["members"] = list(every)  # every text in every cluster
    return json.dumps(answer)


def _fenced(answer: dict, step: str) -> str:
    return "Here you go:\n```json\n" + json.dumps(answer, indent=2) + "\n```\nAnything else?"


def _reasoning(answer: dict, step: str) -> str:
    decoy = json.dumps({"assignments": [], "clusters": [{"name": "DECOY"}]})
    return f"<think>Let me think. Maybe {decoy}? No.</think>\n" + json.dumps(answer)


def _empty(answer: dict, step: str) -> str:
    return ""


def _wrong_count(answer: dict, step: str) -> str:
    if step == "judge":
        answer["assignments"] = answer["assignments"][:-1]  # the last request unanswered
    return json.dumps(answer)


def _not_json(answer: dict, step: str) -> str:
    return "I am sorry, I cannot help with that request."


#: Named ways to spoil a valid answer. Tests parametrize over these names.
FAULTS: dict[str, Callable[[dict, str], str]] = {
    "truncated_json": _truncated,
    "schema_break": _schema_break,
    "unknown_cluster_ids": _unknown_ids,
    "bad_indices": _bad_indices,
    "duplicate_names": _duplicate_names,
    "empty_names": _empty_names,
    "huge_names": _huge_names,
    "same_text_in_two_proposals": _same_text_twice,
    "markdown_fence": _fenced,
    "reasoning_block": _reasoning,
    "empty_string": _empty,
    "wrong_answer_count": _wrong_count,
    "prose": _not_json,
}

#: Faults after which the answer still carries everything: the result must not change.
HARMLESS = {"markdown_fence", "reasoning_block"}


class RecordingProvider(ScriptedProvider):
    """A correct fake LLM that keeps every message it receives.

    Parameters
    ----------
    is_remote : bool, default=False
        What the estimator's ``redact_pii="auto"`` reads.
    """

    name = "recording"

    def __init__(self, is_remote: bool = False) -> None:
        super().__init__()
        self.is_remote = is_remote
        self.received: list[list[dict]] = []

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        with self._lock:
            self.received.append([dict(m) for m in messages])
        return super().complete(messages, temperature=temperature, max_tokens=max_tokens,
                                json_schema=json_schema)

    def all_text(self) -> str:
        """Everything that was sent, one string."""
        return "\n".join(m.get("content", "") for call in self.received for m in call)


class FaultyProvider(ScriptedProvider):
    """A fake LLM whose answers are spoiled by one fault when ``when`` says so.

    Parameters
    ----------
    fault : str
        A key of :data:`FAULTS`.
    steps : tuple of str, default=("judge", "propose")
        Which requests may be spoiled.
    when : callable, default=first attempt only
        ``when(messages, step) -> bool``. The default spoils every first
        attempt (a retry carries the model's previous answer, so it is
        recognisable), which a retry must recover from.

    Attributes
    ----------
    active : bool
        Set to ``False`` to answer correctly (e.g. for a clean first ``fit``).
    spoiled : int
        Answers spoiled so far.
    """

    name = "faulty"

    def __init__(self, fault: str, *, steps: tuple[str, ...] = ("judge", "propose"),
                 when: Callable[[list, str], bool] | None = None) -> None:
        super().__init__()
        self.fault = fault
        self.steps = steps
        self.when = when or first_attempt
        self.active = True
        self.spoiled = 0

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        answer = super().complete(messages, json_schema=json_schema)
        step = step_of(json_schema)
        if self.active and step in self.steps and self.when(messages, step):
            with self._lock:
                self.spoiled += 1
            return FAULTS[self.fault](json.loads(answer), step)
        return answer


def first_attempt(messages: list, step: str) -> bool:
    """True for a request that is not a retry (no earlier answer in the chat)."""
    return not any(m.get("role") == "assistant" for m in messages)


def mentions(word: str) -> Callable[[list, str], bool]:
    """A ``when`` rule: every attempt whose ``<requests>`` block includes ``word``."""

    def rule(messages: list, step: str) -> bool:
        return any(word in m.get("content", "").partition("<requests>")[2]
                   for m in messages if m.get("role") == "user")

    return rule


class RaisingProvider(ScriptedProvider):
    """A fake LLM that raises ``error`` for the calls ``when`` picks (all by default)."""

    name = "raising"

    def __init__(self, error: BaseException,
                 when: Callable[[list, str], bool] | None = None) -> None:
        super().__init__()
        self.error = error
        self.when = when or (lambda messages, step: True)
        self.active = True

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None):
        answer = super().complete(messages, json_schema=json_schema)
        if self.active and self.when(messages, step_of(json_schema)):
            raise self.error
        return answer


def flaky_error(message: str = "simulated outage", retries: int = 0) -> ProviderError:
    """A retryable provider error, optionally saying how many transport retries it made."""
    from sklearn_llmcluster.exceptions import ProviderUnavailableError

    err = ProviderUnavailableError(message, provider="fake")
    err.retries = retries
    return err


# -- judges and proposers that break the engine's contract ------------------------

def _topic(text: str) -> str:
    return text.split()[0].lower() if text.split() else ""


class TopicProposer:
    """Proposes one cluster per first word; ``overlap=True`` also puts every text in every one."""

    def __init__(self, overlap: bool = False) -> None:
        self.overlap = overlap

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        known = {c.name for c in clusters}
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            if _topic(t) not in known:
                groups.setdefault(_topic(t), []).append(i)
        everyone = list(range(len(texts)))
        return [Proposal(name=name, criteria=f"starts with {name}",
                         members=everyone if self.overlap else members)
                for name, members in sorted(groups.items())]


class TopicJudge:
    """Assigns each text to the cluster named like its first word.

    Parameters
    ----------
    wrong_count : bool, default=False
        Answer one item too few for batches containing ``poison``.
    raise_for : str, optional
        Raise ``RuntimeError`` for the one batch holding this text.
    poison : str, default="login"
    """

    def __init__(self, *, wrong_count: bool = False, raise_for: str | None = None,
                 poison: str = "login") -> None:
        self.wrong_count = wrong_count
        self.raise_for = raise_for
        self.poison = poison
        self.calls = 0
        self._lock = threading.Lock()

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        with self._lock:
            self.calls += 1
        if self.raise_for is not None and self.raise_for in texts:
            raise RuntimeError(f"judge crashed on a batch of {len(texts)}")
        by_name = {c.name: c.id for c in clusters}
        answers = [by_name.get(_topic(t)) for t in texts]
        if self.wrong_count and any(self.poison in t for t in texts):
            return answers[:-1]
        return answers

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
