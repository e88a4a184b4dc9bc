"""A seed taxonomy: clusters the business already has, to start a fit from.

``LLMClusterer(init_clusters=...)`` and ``llmcluster fit --clusters FILE``
take a list of dicts (``name`` and ``criteria`` or ``description``, optional
``summary`` and ``category``), a list of :class:`~sklearn_llmcluster.Cluster`
records, or a file: a clusters file written by ``save_clusters``, a JSON list
of such dicts, CSV or Excel with a ``name`` column (and ``description`` /
``criteria`` / ``category`` columns). Seed clusters are locked, have origin
``"seed"``, come first in the catalogue (so they are judged first), and the
proposer only adds clusters for what they do not cover.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..records import Cluster, Proposal
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt, name_key

__all__ = ["Seed", "read_seeds", "add_seeds"]

#: Columns (or keys) a seed may have; "description" is read as summary and criteria.
_TEXT_FIELDS = ("summary", "criteria", "description")


@dataclass
class Seed:
    """One seed cluster: its name, description, examples and optional category name."""

    name: str
    summary: str = ""
    criteria: str = ""
    examples: tuple[str, ...] = ()
    category: str | None = None


def _where_row(source: str, index: int, kind: str) -> str:
    if kind == "table":
        # Row 0 of the table is line 2 of the file: the header is line 1.
        return f"{source}, line {index + 2}"
    return f"{source}[{index}]" if kind == "list" else f"{source}, item {index + 1}"


def _seed_from_mapping(item: Any, where: str) -> Seed:
    if isinstance(item, Cluster):
        item = item.to_dict()
    if not isinstance(item, dict):
        raise ValueError(f"{where}: a seed cluster must be a dict with a \"name\" (and "
                         f"\"criteria\" or \"description\"), got {type(item).__name__}")
    if "name" not in item:
        raise ValueError(f"{where}: the seed cluster has no \"name\"; give every seed cluster "
                         "a name")
    raw = item.get("name")
    name = clean_for_prompt(str(raw), MAX_NAME_CHARS) if raw is not None else ""
    if not name_key(name) or raw != raw or str(raw).strip().lower() == "nan":
        raise ValueError(f"{where}: the seed cluster's name is empty; give it a name or "
                         "remove the row")
    texts = {}
    for key in _TEXT_FIELDS:
        value = item.get(key)
        if value is None or value != value:  # None or NaN (an empty spreadsheet cell)
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{where}: \"{key}\" of seed cluster {name!r} must be text")
        texts[key] = value.strip()
    description = texts["description"]
    summary = texts["summary"] or description
    criteria = texts["criteria"] or description or summary
    examples = item.get("examples") or ()
    if isinstance(examples, str):
        examples = [examples]
    category = item.get("category")
    category = str(category).strip() if category is not None and category == category \
        and str(category).strip() else None
    return Seed(name=name, summary=summary, criteria=criteria,
                examples=tuple(str(e) for e in examples), category=category)


def _read_file(path: Path) -> tuple[list[Any], str]:
    """Items of a seed file and how rows are numbered (``"table"``, ``"json"``)."""
    source = str(path)
    if not path.is_file():
        raise ValueError(f"seed taxonomy file not found: {source}")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source} is not UTF-8 JSON: {exc}") from None
        if isinstance(data, dict) and data.get("format") is not None:
            from .registry import ClusterRegistry

            registry = ClusterRegistry.from_json_dict(data, source=source)
            names = {c.id: c.name for c in registry.categories}
            return [dict(c.to_dict(), category=names.get(c.category_id))
                    for c in registry.clusters], "json"
        if isinstance(data, dict) and isinstance(data.get("clusters"), list):
            data = data["clusters"]
        if not isinstance(data, list):
            raise ValueError(f"{source}: expected a list of seed clusters (objects with a "
                             "\"name\"), or a clusters file written by save_clusters")
        return data, "json"
    from ..io.tables import read_table

    frame = read_table(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "name" not in frame.columns:
        raise ValueError(f"{source}, line 1: no \"name\" column (the columns are "
                         f"{', '.join(map(str, frame.columns)) or 'none'}); a seed taxonomy "
                         "needs a name column, and description or criteria columns")
    return frame.to_dict("records"), "table"


def read_seeds(spec: Any) -> list[Seed]:
    """The seed clusters of ``spec`` (see the module notes), checked.

    Parameters
    ----------
    spec : list of dict or Cluster, or str or path-like

    Returns
    -------
    list of Seed

    Raises
    ------
    ValueError
        A file that cannot be read or has no name column, a seed without a
        name, or two seeds with the same name; the message names the file
        and the line (or the list position).
    """
    if isinstance(spec, (str, os.PathLike)):
        items, kind = _read_file(Path(spec))
        source = str(spec)
    elif isinstance(spec, (list, tuple)):
        items, kind, source = list(spec), "list", "init_clusters"
    else:
        raise ValueError("init_clusters must be None, a list of dicts (name and criteria or "
                         "description) or Cluster records, or the path of a clusters file "
                         f"(JSON, CSV or Excel); got {type(spec).__name__}")
    seeds: list[Seed] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        where = _where_row(source, index, kind)
        seed = _seed_from_mapping(item, where)
        earlier = first.setdefault(name_key(seed.name), index)
        if earlier != index:
            raise ValueError(f"{where}: seed cluster name {seed.name!r} is also the name at "
                             f"{_where_row(source, earlier, kind)}; names must be unique")
        seeds.append(seed)
    if not seeds:
        raise ValueError(f"{source} has no seed clusters; pass at least one, or "
                         "init_clusters=None")
    return seeds


def add_seeds(registry, seeds: Sequence[Seed]) -> list[Cluster]:
    """Add ``seeds`` to an empty registry as locked clusters of origin ``"seed"``."""
    clusters = []
    for seed in seeds:
        cluster, _ = registry.add(Proposal(name=seed.name, summary=seed.summary,
                                           criteria=seed.criteria))
        cluster.origin = "seed"
        cluster.locked = True
        cluster.examples = list(seed.examples)[:registry.max_examples]
        if seed.category:
            existing = {name_key(c.name): c for c in registry.categories}
            category = existing.get(name_key(seed.category)) \
                or registry.add_category(seed.category)
            registry.set_category(cluster, category.id)
        clusters.append(cluster)
    return clusters
