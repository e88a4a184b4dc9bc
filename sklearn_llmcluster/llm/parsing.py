"""Tolerant parsing of JSON answers from LLMs.

Models wrap JSON in markdown fences, put prose or ``<think>`` blocks before it,
or stop half-way. :func:`parse_json_response` finds the JSON value that is
there and raises :class:`~sklearn_llmcluster.exceptions.ResponseParseError`
(and nothing else) when there is none.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..exceptions import ResponseParseError

__all__ = ["parse_json_response"]

# Reasoning models (qwen3, deepseek-r1 ...) emit their chain of thought first.
_THINK_TAGS = ("think", "thinking", "reasoning")
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = {tag: re.compile(f"</{tag}>", re.IGNORECASE) for tag in _THINK_TAGS}
_UNCLOSED_THINK = re.compile(r"^\s*<(think|thinking|reasoning)>.*", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
# Candidate starts tried at most; a hostile answer full of braces must not cost seconds.
_MAX_CANDIDATES = 50


def _strip_reasoning(text: str) -> str:
    """Remove every closed ``<think>...</think>`` (or thinking/reasoning) block.

    A scan rather than one lazy regex: ``<think>.*?</think>`` backtracks from
    every opening tag to the end of the text, so an answer that repeats
    ``<think>`` thousands of times took minutes. Here a tag name found to have
    no closing tag is never searched for again, which keeps the scan linear.
    """
    parts: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    for match in _THINK_OPEN.finditer(text):
        if match.start() < pos:
            continue  # inside a block already removed
        tag = match.group(1).lower()
        if tag in unclosed:
            continue
        close = _THINK_CLOSE[tag].search(text, match.end())
        if close is None:
            unclosed.add(tag)
            continue
        parts.append(text[pos:match.start()])
        pos = close.end()
    parts.append(text[pos:])
    return "".join(parts)


def _candidates(text: str) -> list[str]:
    stripped = _strip_reasoning(text)
    if _UNCLOSED_THINK.match(stripped):
        # An unclosed reasoning block: the JSON, if any, follows the last '>'.
        stripped = stripped[stripped.rfind(">") + 1:]
    found = [m.group(1) for m in _FENCE.finditer(stripped)]
    found.append(stripped)
    return found


def parse_json_response(text: Any, *, expect: type | None = dict) -> Any:
    """Extract the JSON value an LLM answered with.

    Parameters
    ----------
    text : str
        The raw completion.
    expect : type or None, default=dict
        The type the top-level value must have (``dict`` or ``list``);
        ``None`` accepts any JSON value.

    Returns
    -------
    object
        The first JSON value of the expected type found in fenced blocks, then
        in the text itself, after reasoning blocks are removed.

    Raises
    ------
    ResponseParseError
        If no such value is found. This is the only exception raised.
    """
    if not isinstance(text, str):
        raise ResponseParseError(f"expected the answer as text, got {type(text).__name__}")
    if not text.strip():
        raise ResponseParseError("the answer is empty")
    try:
        for chunk in _candidates(text):
            starts = [m.start() for m in re.finditer(r"[{\[]", chunk)][:_MAX_CANDIDATES]
            for start in starts:
                try:
                    value, _ = _DECODER.raw_decode(chunk, start)
                except ValueError:
                    continue
                if expect is None or isinstance(value, expect):
                    return value
    except RecursionError:
        raise ResponseParseError("the answer nests JSON too deeply to parse") from None
    except ResponseParseError:
        raise
    except Exception as exc:  # pragma: no cover - defensive: the contract is one error type
        raise ResponseParseError(f"could not parse the answer: {exc}") from None
    what = {dict: "a JSON object", list: "a JSON array"}.get(expect, "JSON")
    preview = text.strip()[:120].replace("\n", " ")
    raise ResponseParseError(f"no {what} found in the answer (starts with {preview!r})")
