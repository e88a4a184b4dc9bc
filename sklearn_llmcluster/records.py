"""Plain records passed between the parts of the engine.

``Cluster`` describes one cluster of a fitted model, ``Category`` a named
group of clusters, ``Proposal`` is what a
:class:`~sklearn_llmcluster.protocols.Proposer` returns, and ``LLMUsage`` counts
what the LLM calls of one run cost.
"""

from __future__ import annotations

import json
import numbers
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


__all__ = ["Cluster", "Category", "Proposal", "LLMUsage", "utc_now", "ORIGINS",
           "TOMBSTONE_STATUSES"]

# The values of Cluster.status: the first two are live clusters, the others
# tombstones that keep their place (label k is cluster k forever) but are
# never a label again.
_STATUSES = ("tentative", "active", "merged", "removed")
#: Statuses of clusters that are no longer labels.
TOMBSTONE_STATUSES = ("merged", "removed")

#: The values of Cluster.origin: found by the model, given as a seed
#: taxonomy, or made by an analyst's edit (a split).
ORIGINS = ("discovered", "seed", "edit")
# The values of Cluster.kind.
_KINDS = ("topic", "no_intent")


def utc_now() -> str:
    """Current time as an ISO 8601 string in UTC, second precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Proposal:
    """A new cluster suggested by a proposer.

    Parameters
    ----------
    name : str
        Short, human-readable cluster name.
    summary : str
        One or two sentences on what the requests in the cluster are about.
    criteria : str
        The inclusion rule a judge applies to decide membership.
    members : list of int
        Indices into the ``texts`` the proposer was given that belong to the
        cluster. Out-of-range or duplicate indices are ignored by the engine.
    kind : {"topic", "no_intent"}, default="topic"
        ``"no_intent"`` for requests with no intent of their own (greetings,
        thanks, noise); such clusters never take topic requests.
    """

    name: str
    summary: str = ""
    criteria: str = ""
    members: list[int] = field(default_factory=list)
    kind: str = "topic"


@dataclass
class Cluster:
    """One cluster of a fitted model.

    Parameters
    ----------
    id : str
        Stable identifier; never reused or renumbered within a model.
    name : str
        Unique (after case and whitespace normalisation) within a model.
    summary : str
        What the requests in this cluster are about.
    criteria : str
        The inclusion rule the judge applies.
    size : int
        Number of input rows assigned to the cluster over the model's life
        (``fit`` resets it, ``partial_fit`` adds to it).
    examples : list of str
        A few member texts, kept locally (never redacted).
    status : {"tentative", "active", "merged", "removed"}
        ``"tentative"`` until ``size`` reaches the model's ``min_cluster_size``,
        then ``"active"``. ``"merged"`` (folded into the cluster
        ``merged_into``) and ``"removed"`` mark tombstones: they keep their
        place in the list, so labels keep their meaning, but are never a
        label again.
    created_at, updated_at : str
        ISO 8601 UTC timestamps.
    category_id : str or None
        Id of the :class:`Category` the cluster belongs to, if any.
    locked : bool
        A locked cluster is never renamed, merged or removed automatically
        (analysts' edits still apply); seed clusters start locked.
    origin : {"discovered", "seed", "edit"}
        Found by the model, given as a seed taxonomy (``init_clusters``), or
        made by an analyst's edit (``LLMClusterer.split_cluster``).
    kind : {"topic", "no_intent"}
        ``"no_intent"`` for a cluster of requests with no intent of their own
        (greetings, thanks, "???", table footers); reports can hide them.
    merged_into : str or None
        For a ``"merged"`` cluster, the id of the cluster it was merged into
        (follow the chain with :meth:`ClusterRegistry.resolve
        <sklearn_llmcluster.taxonomy.registry.ClusterRegistry.resolve>`).

    Notes
    -----
    ``cluster_id``, ``count`` and ``sample_requests`` are read-only aliases of
    ``id``, ``size`` and ``examples`` for users of the earlier
    ``llm_clustering`` library.
    """

    id: str
    name: str
    summary: str = ""
    criteria: str = ""
    size: int = 0
    examples: list[str] = field(default_factory=list)
    status: str = "tentative"
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    category_id: str | None = None
    locked: bool = False
    origin: str = "discovered"
    kind: str = "topic"
    merged_into: str | None = None

    @property
    def is_live(self) -> bool:
        """Whether the cluster can still be a label (not merged, not removed)."""
        return self.status not in TOMBSTONE_STATUSES

    def __setstate__(self, state: dict) -> None:
        # Pickles of earlier versions lack the taxonomy fields: defaults.
        self.__dict__.update(state)
        for name, value in (("category_id", None), ("locked", False), ("origin", "discovered"),
                            ("kind", "topic"), ("merged_into", None)):
            self.__dict__.setdefault(name, value)

    # Aliases used by the earlier ``llm_clustering`` API.
    @property
    def cluster_id(self) -> str:
        return self.id

    @property
    def count(self) -> int:
        return self.size

    @property
    def sample_requests(self) -> list[str]:
        return self.examples

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the record's fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Cluster":
        """Build a cluster from :meth:`to_dict` output, or a hand-edited copy, checking every field.

        Parameters
        ----------
        data : dict
            ``id`` and ``name`` are required: ``id`` non-empty text without
            spaces at its ends, ``name`` text that is not blank (its
            surrounding whitespace is removed). ``summary``, ``criteria``,
            ``created_at`` and ``updated_at`` are text, ``size`` a whole
            number of 0 or more, ``examples`` a list of texts, ``status``
            ``"tentative"``, ``"active"``, ``"merged"`` or ``"removed"``,
            ``kind`` ``"topic"`` or ``"no_intent"``, ``merged_into`` the id
            of another cluster (required for, and only for, ``"merged"``),
            ``category_id`` text or ``null``, ``locked`` ``true``/``false``,
            ``origin`` ``"discovered"``, ``"seed"`` or ``"edit"``. An optional
            field that is missing or ``null`` takes its default (``""``,
            ``0``, ``[]``, ``"tentative"``, ``"topic"``, ``null``, the current
            time, ``false``, ``"discovered"``). Unknown keys are ignored.

        Returns
        -------
        Cluster

        Raises
        ------
        ValueError
            If ``data`` is not a dict, or a field is missing or has a wrong
            type or value; the message names the field, shows the value and
            an example of a valid one.
        """
        return cls(**_checked_fields(data))


@dataclass
class Category:
    """A named group of clusters, one level above them.

    Parameters
    ----------
    id : str
        Stable identifier (``"g1"``, ``"g2"`` ...).
    name : str
        Unique (after case and whitespace normalisation) among categories.
    summary : str
        What the clusters of the category have in common.
    cluster_ids : list of str
        Ids of the clusters in the category; each cluster is in at most one.
    """

    id: str
    name: str
    summary: str = ""
    cluster_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the record's fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Category":
        """Build a category from :meth:`to_dict` output, checking every field.

        Raises
        ------
        ValueError
            If ``data`` is not a dict or a field is missing or wrong; the
            message names the field and shows a valid one.
        """
        if not isinstance(data, dict):
            raise ValueError('a category must be an object, like {"id": "g1", "name": '
                             f'"Cards", "cluster_ids": ["c1"]}}; got {_shown(data)}')
        for name, example in (("id", '"id": "g1"'), ("name", '"name": "Cards"')):
            value = data.get(name)
            if not isinstance(value, str) or not value.strip() or value != value.strip() \
                    and name == "id":
                raise ValueError(f'"{name}" must be text that is not blank, like {example}; '
                                 f"got {_shown(value)}")
        summary = data.get("summary")
        if summary is not None and not isinstance(summary, str):
            raise ValueError(f'"summary" must be text; got {_shown(summary)}')
        ids = data.get("cluster_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError('"cluster_ids" must be a list of cluster ids, like '
                             f'"cluster_ids": ["c1", "c4"]; got {_shown(ids)}')
        return cls(id=data["id"], name=data["name"].strip(), summary=summary or "",
                   cluster_ids=list(ids))


def _checked_fields(data: Any, *, free_id: str = "c1") -> dict[str, Any]:
    """The arguments of :class:`Cluster` from ``data``, checked as :meth:`Cluster.from_dict` says.

    ``free_id`` is the id the messages suggest for a missing or wrong ``id``.
    """
    valid = dict(_EXAMPLES, id=f'"id": "{free_id}"')

    def wrong(name: str, expected: str, value: Any) -> ValueError:
        return ValueError(f'"{name}" must be {expected}, like {valid[name]}; '
                          f"got {_shown(value)}")

    if not isinstance(data, dict):
        raise ValueError(f'a cluster must be an object, like {{{valid["id"]}, '
                         f'{valid["name"]}, ...}}; got {_shown(data)}')
    values: dict[str, Any] = {}
    for name in ("id", "name"):
        if name not in data:
            raise ValueError(f'"{name}" is missing; add it, like {valid[name]}')
        if not isinstance(data[name], str):
            raise wrong(name, "text", data[name])
        values[name] = data[name]
    if not values["id"] or values["id"] != values["id"].strip():
        raise wrong("id", "non-empty text without spaces at its ends", values["id"])
    values["name"] = values["name"].strip()
    if not values["name"]:
        raise wrong("name", "text that is not blank", data["name"])
    # An optional field that is null counts as missing: it takes its default.
    for name in ("summary", "criteria", "created_at", "updated_at"):
        value = data.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise wrong(name, "text", value)
            values[name] = value
    size = data.get("size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
            raise wrong("size", "a whole number of 0 or more", size)
        values["size"] = int(size)
    texts = data.get("examples")
    if texts is not None:
        if not isinstance(texts, (list, tuple)):
            raise wrong("examples", "a list of texts", texts)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f'"examples" must be a list of texts, like {valid["examples"]}; '
                                 f"item {position} is {_shown(text)}")
        values["examples"] = list(texts)
    status = data.get("status")
    if status is not None:
        if not isinstance(status, str) or status not in _STATUSES:
            raise wrong("status", '"tentative", "active", "merged" or "removed"', status)
        values["status"] = status
    kind = data.get("kind")
    if kind is not None:
        if not isinstance(kind, str) or kind not in _KINDS:
            raise wrong("kind", '"topic" or "no_intent"', kind)
        values["kind"] = kind
    merged_into = data.get("merged_into")
    if merged_into is not None:
        if not isinstance(merged_into, str) or not merged_into \
                or merged_into != merged_into.strip():
            raise wrong("merged_into", "the id of the cluster this one was merged into",
                        merged_into)
        if merged_into == values["id"]:
            raise ValueError(f'"merged_into" must name another cluster, not the cluster itself '
                             f'({_shown(merged_into)}); like {valid["merged_into"]}')
        values["merged_into"] = merged_into
    if (values.get("status") == "merged") != (merged_into is not None):
        raise ValueError('"status": "merged" and "merged_into" go together: a merged cluster '
                         f'names its survivor, like {valid["merged_into"]}, and a cluster that '
                         'names one has "status": "merged"; got '
                         f'"status" {_shown(values.get("status", "tentative"))} and '
                         f'"merged_into" {_shown(merged_into)}')
    category = data.get("category_id")
    if category is not None:
        if not isinstance(category, str) or not category.strip():
            raise wrong("category_id", "the id of a category, or null", category)
        values["category_id"] = category
    locked = data.get("locked")
    if locked is not None:
        if not isinstance(locked, bool):
            raise wrong("locked", "true or false", locked)
        values["locked"] = locked
    origin = data.get("origin")
    if origin is not None:
        if not isinstance(origin, str) or origin not in ORIGINS:
            raise wrong("origin", '"discovered", "seed" or "edit"', origin)
        values["origin"] = origin
    return values


# A valid value of each field of a cluster, as it reads in a clusters file.
_EXAMPLES = {
    "id": '"id": "c1"',
    "name": '"name": "Card blocked"',
    "summary": '"summary": "The card is blocked."',
    "criteria": '"criteria": "The request is about a blocked card."',
    "size": '"size": 3',
    "examples": '"examples": ["my card is blocked"]',
    "status": '"status": "active"',
    "kind": '"kind": "topic"',
    "merged_into": '"merged_into": "c2"',
    "created_at": '"created_at": "2025-01-31T12:00:00+00:00"',
    "updated_at": '"updated_at": "2025-01-31T12:00:00+00:00"',
    "category_id": '"category_id": "g1"',
    "locked": '"locked": true',
    "origin": '"origin": "seed"',
}


def _shown(value: Any) -> str:
    """``value`` as it reads in a JSON file, cut to 60 characters, and its JSON type."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > 60:
        text = text[:59] + "…"
    if value is None or isinstance(value, bool):
        return text
    if isinstance(value, str):
        kind = "text"
    elif isinstance(value, numbers.Number):
        kind = "a number"
    elif isinstance(value, (list, tuple)):
        kind = "a list"
    elif isinstance(value, dict):
        kind = "an object"
    else:
        kind = type(value).__name__
    return f"{text} ({kind})"


_USAGE_COUNTERS = (
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "retries",
    "failed_calls",
    "cache_hits",
    "partial_answers",
    "texts_judged_by_llm",
    "texts_judged_by_fast_path",
    "shortlisted_judge_calls",
    "texts_shortlisted",
    "texts_rechecked",
)


@dataclass
class LLMUsage:
    """What the LLM work of one run cost.

    All counters are integers and start at zero; :meth:`add` is thread-safe so
    parallel judge calls can share one instance.

    Attributes
    ----------
    calls : int
        Requests that reached the provider (cache hits excluded).
    prompt_tokens, completion_tokens : int
        Tokens as reported by the provider, or estimated (4 characters per
        token) when it reports none.
    cached_prompt_tokens : int
        The part of ``prompt_tokens`` the server read from its prompt cache
        (OpenAI and OpenRouter ``cached_tokens``, Anthropic
        ``cache_read_input_tokens``, llama.cpp's reused prompt); vendors
        bill it at a discount (see :class:`~sklearn_llmcluster.llm.budget.PriceTable`).
    retries : int
        Extra attempts after a transport error or an invalid answer.
    failed_calls : int
        Requests that failed for good; their texts stay at -1.
    cache_hits : int
        Answers served from the response cache.
    partial_answers : int
        Answers still partly invalid after every retry; the affected texts stay -1.
    texts_judged_by_llm, texts_judged_by_fast_path : int
        Unique texts answered for by the LLM judge (once, however many passes
        judged them) and assigned by the fast-path classifier.
    shortlisted_judge_calls : int
        Judge batches shown a shortlist of candidate clusters instead of the
        whole catalogue.
    texts_shortlisted : int
        Texts in those batches.
    texts_rechecked : int
        Texts answered "none" from a shortlist and judged again against a
        wider list (``ShortlistSettings.recheck_none``).
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    retries: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    partial_answers: int = 0
    texts_judged_by_llm: int = 0
    texts_judged_by_fast_path: int = 0
    shortlisted_judge_calls: int = 0
    texts_shortlisted: int = 0
    texts_rechecked: int = 0

    #: Most distinct problem notes kept for the end-of-run warning.
    max_notes = 20

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        """Remember a problem (distinct messages, at most ``max_notes``) for the run's warning."""
        with self._lock:
            if message not in self.notes and len(self.notes) < self.max_notes:
                self.notes.append(message)

    def add(self, **counts: int) -> None:
        """Add to one or more counters atomically."""
        with self._lock:
            for name, value in counts.items():
                if name not in _USAGE_COUNTERS:
                    raise AttributeError(f"LLMUsage has no counter {name!r}")
                setattr(self, name, getattr(self, name) + int(value))

    def merge(self, other: "LLMUsage") -> None:
        """Add every counter and note of ``other`` to this one."""
        self.add(**other.as_dict())
        for message in other.notes:
            self.note(message)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict."""
        return {name: getattr(self, name) for name in _USAGE_COUNTERS}

    def copy(self) -> "LLMUsage":
        new = LLMUsage(**self.as_dict())
        new.notes = list(self.notes)
        return new

    def __getstate__(self) -> dict:
        # Locks do not pickle; counters and notes are all there is to keep.
        return {**self.as_dict(), "notes": list(self.notes)}

    def __setstate__(self, state: dict) -> None:
        for name in _USAGE_COUNTERS:
            setattr(self, name, state.get(name, 0))
        self.notes = list(state.get("notes", []))
        self._lock = threading.Lock()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LLMUsage):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __getitem__(self, name: str) -> int:
        # Dict-style access reads naturally in notebooks: model.llm_usage_["calls"].
        if name not in _USAGE_COUNTERS and name != "total_tokens":
            raise KeyError(name)
        return getattr(self, name)
