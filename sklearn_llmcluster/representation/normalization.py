"""How texts are compared, de-duplicated and shortened for prompts."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["dedup_key", "name_key", "is_blank", "clean_for_prompt", "truncate",
           "MAX_NAME_CHARS"]

#: Longer cluster names are cut: a name is a label in a table, not a paragraph.
MAX_NAME_CHARS = 80

_WS = re.compile(r"\s+")
# Control characters (other than whitespace) and lone surrogates confuse
# tokenisers and JSON encoders; they become spaces before a text goes into a prompt.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def dedup_key(text: str) -> str:
    """Key under which texts count as exact duplicates: case and whitespace folded."""
    return _WS.sub(" ", text).strip().casefold()


def name_key(name: str) -> str:
    """Key under which two cluster names count as the same name."""
    key = dedup_key(unicodedata.normalize("NFKC", name))
    return key.strip(" .,;:!?\"'«»()[]-–—").replace("ё", "е")


def is_blank(text: str) -> bool:
    """Whether a text has nothing to cluster (empty or whitespace only)."""
    return not text.strip()


def truncate(text: str, max_chars: int | None) -> str:
    """Cut ``text`` to ``max_chars`` characters, marking the cut with an ellipsis."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)] + "…"


def clean_for_prompt(text: str, max_chars: int | None = None) -> str:
    """One-line, control-free, length-capped version of ``text`` for a prompt."""
    text = _CONTROL.sub(" ", text)
    return truncate(_WS.sub(" ", text).strip(), max_chars)
