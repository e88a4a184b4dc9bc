"""Turn whatever the user passed as ``X`` into a list of str, or say clearly why not."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import math
import re
import warnings
from typing import Any

import numpy as np

from ..exceptions import LLMClusterWarning

__all__ = ["validate_texts", "is_chunk_stream", "split_stream"]

# Lone surrogates (from bytes decoded with errors="surrogateescape", or broken
# JSON) are not Unicode text: no UTF-8 file, prompt or report can hold them.
_SURROGATE = re.compile("[\ud800-\udfff]")

_HOW_TO_SELECT = (
    "pass one text column, e.g. df['text'], or in a Pipeline use "
    "ColumnTransformer([('text', 'passthrough', ['text'])]) before the clusterer"
)


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return repr(value)
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{article} {kind} ({value!r:.40})"


def _bad_element(index: int, value: Any, label: Any = None) -> TypeError:
    what = _describe(value)
    if isinstance(value, (bytes, bytearray)):
        hint = "decode it first, e.g. value.decode('utf-8')"
    elif what in ("None", "NaN", "<NA>", "NaT"):
        hint = "fill missing texts first, e.g. X.fillna('') (empty texts get label -1)"
    else:
        hint = "convert it first, e.g. X.astype(str)"
    # A Series or DataFrame row is easier to find by its index label.
    if hasattr(label, "item"):
        label = label.item()  # np.int64(20) -> 20 in the message
    where = f"X[{index}]" if label is None or label == index else \
        f"X[{index}] (index label {label!r})"
    return TypeError(f"{where} is {what}; every element of X must be a str: {hint}")


def validate_texts(X: Any) -> list[str]:
    """Check ``X`` and return its texts as a list of str.

    Parameters
    ----------
    X : array-like of str
        A list, tuple, 1-D or ``(n, 1)`` ndarray, pandas Series or one-column
        DataFrame of texts.

    Returns
    -------
    list of str
        Lone surrogate characters are replaced by U+FFFD, with a warning
        naming the first row that had one.

    Raises
    ------
    TypeError
        If ``X`` is a single string or bytes, or an element is not a str
        (``None``, NaN, bytes, numbers); the message names the first bad index.
    ValueError
        If ``X`` is empty or has more than one column.
    """
    if isinstance(X, (str, bytes, bytearray)):
        raise TypeError(
            "X must be an array-like of texts, not a single "
            f"{type(X).__name__}; wrap it in a list: [text]"
        )
    if X is None:
        raise TypeError("X is None; pass an array-like of texts")
    if isinstance(X, Mapping):
        raise TypeError(f"X is a {type(X).__name__}; pass its texts as a list, "
                        "e.g. list(X.values()), so that labels line up with them")
    if isinstance(X, (set, frozenset)):
        raise TypeError(f"X is a {type(X).__name__}, which has no order, so labels could not "
                        "be matched to its texts; pass a list (e.g. sorted(X))")

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None

    labels = None
    if pd is not None and isinstance(X, (pd.DataFrame, pd.Series)):
        labels = X.index
    if pd is not None and isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            cols = ", ".join(map(str, list(X.columns)[:10]))
            raise ValueError(
                f"X has {X.shape[1]} columns ({cols}); the clusterer needs one text column: "
                + _HOW_TO_SELECT
            )
        values = X.iloc[:, 0].tolist()
    elif pd is not None and isinstance(X, pd.Series):
        values = X.tolist()
    elif isinstance(X, np.ndarray) or hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
        arr = np.asarray(X, dtype=object)
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise ValueError(
                    f"X has shape {arr.shape}; the clusterer needs one text column: "
                    + _HOW_TO_SELECT
                )
            arr = arr[:, 0]
        elif arr.ndim != 1:
            raise ValueError(f"X must be 1-D or (n, 1), got an array of shape {arr.shape}")
        values = arr.tolist()
    else:
        try:
            values = list(X)
        except TypeError:
            raise TypeError(
                f"X must be an array-like of texts, got {type(X).__name__}"
            ) from None

    if len(values) == 0:
        raise ValueError("X is empty; pass at least one text")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _bad_element(i, value, None if labels is None else labels[i])
    # numpy.str_ is a str subclass; plain str keeps pickles and JSON simple.
    texts = [v if type(v) is str else str(v) for v in values]
    if _SURROGATE.search("".join(texts)):
        bad = [i for i, t in enumerate(texts) if _SURROGATE.search(t)]
        warnings.warn(
            f"{len(bad)} texts contain lone surrogate characters, which are not valid "
            f"Unicode (first: X[{bad[0]}]); they were replaced by U+FFFD. Decode the "
            "source with errors='replace' to avoid this.",
            LLMClusterWarning, stacklevel=3,
        )
        for i in bad:
            texts[i] = _SURROGATE.sub("\ufffd", texts[i])
    return texts


def is_chunk_stream(X: Any) -> bool:
    """Whether ``X`` is an iterator of chunks rather than an array-like of texts.

    Generators and other one-shot iterators are streams; lists, arrays, Series
    and DataFrames are not.
    """
    return hasattr(X, "__next__") and not isinstance(X, (str, bytes))


def split_stream(X: Any) -> tuple[Any, bool]:
    """``(X, is_stream)``, telling an iterator of texts from an iterator of chunks.

    An iterator whose first item is a str (``(t.strip() for t in texts)``,
    ``map(str.strip, texts)``) holds texts, not chunks: it is read into a
    list. Any other iterator is a stream of chunks, returned with its first
    item put back. Array-likes come back unchanged.
    """
    if not is_chunk_stream(X):
        return X, False
    first = next(X, _NOTHING)
    if first is _NOTHING:
        return [], False  # an empty iterator is empty input
    if isinstance(first, str):
        return [first, *X], False
    return itertools.chain([first], X), True


_NOTHING = object()
