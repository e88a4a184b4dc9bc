"""Reading request tables (CSV, TSV, JSONL, Parquet, Excel) and writing results.

Contact-centre exports come from everywhere: Excel saves CSV in cp1251 with
``;`` between fields, BI tools write UTF-8 with a BOM, pipelines write JSONL
or Parquet. :func:`read_table` takes any of them and fails with one clear
sentence (:class:`TableReadError`) instead of a parser traceback.

Encoding detection is deliberately simple: a byte-order mark wins, then
strict UTF-8, then cp1251 when the result looks like Cyrillic text. Anything
else asks for ``encoding=`` rather than guessing and silently garbling the
requests (charset-normalizer, when installed, only suggests a name).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .atomic_io import atomic_open
from .exceptions import LLMClusterError

__all__ = [
    "TableReadError",
    "read_table",
    "decode_bytes",
    "sniff_delimiter",
    "require_column",
    "column_as_texts",
    "column_as_ids",
    "write_csv",
    "SUPPORTED_SUFFIXES",
]

#: File name suffixes :func:`read_table` knows, and the format each means.
#: Any other suffix is read as delimited text.
SUPPORTED_SUFFIXES = {
    ".csv": "csv", ".txt": "csv",
    ".tsv": "tsv", ".tab": "tsv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel",
}

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# Characters a real cp1251 Russian text is made of, beyond ASCII.
_CP1251_PLAUSIBLE = set("«»—–№…“”„‘’•\u00a0ёЁ") | {chr(c) for c in range(0x0410, 0x0450)}


class TableReadError(LLMClusterError, ValueError):
    """A table cannot be read; the message says why in one sentence and what to do."""


def _source_name(path: str | os.PathLike) -> str:
    return os.fspath(path)


def decode_bytes(data: bytes, encoding: str | None = None, *, source: str = "input") -> tuple[str, str]:
    """Decode the bytes of a text file, detecting the encoding when not given.

    Parameters
    ----------
    data : bytes
        The whole file.
    encoding : str, optional
        Use this codec and nothing else.
    source : str, default="input"
        Name used in error messages.

    Returns
    -------
    text : str
    encoding : str
        The codec used: ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"``, ``"cp1251"`` or ``encoding``.

    Raises
    ------
    TableReadError
        Unknown codec, bytes invalid in the given codec, a binary file, or
        bytes that are neither UTF-8 nor plausible cp1251.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise TableReadError(f"unknown encoding {encoding!r} (try utf-8 or cp1251)") from None
        except UnicodeDecodeError as exc:
            raise TableReadError(
                f"{source} is not valid {encoding}: byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start} cannot be decoded; pass the file's real encoding with "
                "--encoding (e.g. utf-8 or cp1251)"
            ) from None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise TableReadError(
                    f"{source} starts with a {codec} byte-order mark but byte offset "
                    f"{exc.start} is not valid {codec}; the file is damaged"
                ) from None
    if b"\x00" in data[:8192]:
        raise TableReadError(
            f"{source} looks like a binary file, not text; Excel and Parquet files "
            "need their .xlsx or .parquet extension"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        non_ascii = [ch for ch in text if ord(ch) > 127]
        plausible = sum(ch in _CP1251_PLAUSIBLE for ch in non_ascii)
        if plausible >= 0.8 * len(non_ascii):
            return text, "cp1251"
    raise TableReadError(
        f"{source} is not UTF-8 (byte 0x{data[utf8_error.start]:02x} at offset "
        f"{utf8_error.start}) and does not look like cp1251 Cyrillic text"
        f"{_guess_hint(data)}; pass its encoding with --encoding"
    )


def _guess_hint(data: bytes) -> str:
    """charset-normalizer's guess, as a hint for the error message, when it is installed."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return ""
    best = from_bytes(data[:65536]).best()
    return f" (charset-normalizer guesses {best.encoding})" if best is not None else ""


def sniff_delimiter(text: str) -> str:
    """Guess the field delimiter of delimited text among ``,`` ``;`` tab and ``|``.

    The header line decides when one candidate splits it into more fields
    than the others (headers rarely contain delimiters); otherwise
    :class:`csv.Sniffer` looks at the first lines. Defaults to ``,``.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    widths = {}
    for delimiter in _DELIMITERS:
        try:
            widths[delimiter] = len(next(csv.reader([header], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            widths[delimiter] = 0
    best = max(widths.values())
    winners = [d for d, width in widths.items() if width == best]
    if best > 1 and len(winners) == 1:
        return winners[0]
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        return winners[0] if best > 1 else ","


def _read_delimited(data: bytes, source: str, encoding: str | None,
                    delimiter: str | None) -> pd.DataFrame:
    text, _ = decode_bytes(data, encoding, source=source)
    if not text.strip():
        raise TableReadError(f"{source} is empty")
    sep = delimiter or sniff_delimiter(text)
    try:
        # Everything as str: ids like "007" and texts like "NA" must survive.
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           na_filter=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise TableReadError(f"{source} is empty") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        detail = " ".join(str(exc).split())
        raise TableReadError(
            f"{source} is not well-formed delimited text (delimiter {_DELIMITER_NAMES.get(sep, repr(sep))}): "
            f"{detail}; check the quoting, or pass --delimiter"
        ) from None


def _read_json_lines(data: bytes, source: str, encoding: str | None) -> pd.DataFrame:
    text, _ = decode_bytes(data, encoding, source=source)
    if not text.strip():
        raise TableReadError(f"{source} is empty")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableReadError(f"{source} line {number} is not valid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise TableReadError(
                f"{source} line {number} is a JSON {type(record).__name__}, "
                "not an object like {\"text\": \"...\"}")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_json(data: bytes, source: str, encoding: str | None) -> pd.DataFrame:
    text, _ = decode_bytes(data, encoding, source=source)
    stripped = text.strip()
    if not stripped:
        raise TableReadError(f"{source} is empty")
    if not stripped.startswith("["):
        return _read_json_lines(data, source, encoding)
    try:
        records = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise TableReadError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not all(isinstance(r, dict) for r in records):
        raise TableReadError(f"{source} must be a JSON array of objects like {{\"text\": \"...\"}}")
    return pd.DataFrame.from_records(records)


def _missing_extra(what: str, module: str, extra: str) -> TableReadError:
    return TableReadError(
        f"reading {what} files needs {module}, which is not installed: "
        f"pip install 'sklearn-llmcluster[{extra}]'"
    )


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise _missing_extra("Parquet", "pyarrow", "parquet") from None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise TableReadError(f"{source} is not a readable Parquet file: {exc}") from None


def _read_excel(path: Path, source: str, sheet: str | int | None) -> pd.DataFrame:
    try:
        import openpyxl
    except ImportError:
        raise _missing_extra("Excel", "openpyxl", "excel") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise TableReadError(f"{source} is not a readable .xlsx file: {exc}") from None
    try:
        names = book.sheetnames
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int) or str(sheet).isdigit():
            index = int(sheet)
            if not 0 <= index < len(names):
                raise TableReadError(
                    f"{source} has {len(names)} sheet(s) ({', '.join(names)}); no sheet number {index}")
            name = names[index]
        elif sheet in names:
            name = sheet
        else:
            raise TableReadError(
                f"{source} has no sheet {sheet!r}; its sheets are: {', '.join(names)}")
        rows = list(book[name].iter_rows(values_only=True))
    finally:
        book.close()
    rows = [r for r in rows if any(v is not None and str(v).strip() for v in r)]
    if not rows:
        raise TableReadError(f"{source} sheet {name!r} is empty")
    header = ["" if v is None else str(v) for v in rows[0]]
    return pd.DataFrame([list(r) for r in rows[1:]], columns=header, dtype=object)


def read_table(path: str | os.PathLike, *, encoding: str | None = None,
               sheet: str | int | None = None, delimiter: str | None = None) -> pd.DataFrame:
    """Read a table of requests from CSV, TSV, JSONL, JSON, Parquet or Excel.

    The format follows the file's suffix (see :data:`SUPPORTED_SUFFIXES`;
    unknown suffixes are read as delimited text). Delimited files are read
    with every column as ``str``, so ids keep leading zeros and a text
    ``"NA"`` stays a text. Column names are stripped of surrounding spaces.

    Parameters
    ----------
    path : str or path-like
    encoding : str, optional
        Codec of a text file; detected when omitted (BOM, UTF-8, cp1251).
    sheet : str or int, optional
        Excel sheet name or 0-based number; the first sheet by default.
    delimiter : str, optional
        Field delimiter of a CSV file; sniffed when omitted.

    Returns
    -------
    pandas.DataFrame
        At least one row.

    Raises
    ------
    TableReadError
        Missing, empty or malformed file, undecodable bytes, a format whose
        optional dependency is missing; the message is one sentence.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "requests.csv")
    >>> _ = open(path, "wb").write("id;text\\n1;Не работает карта\\n".encode("cp1251"))
    >>> read_table(path)["text"].tolist()
    ['Не работает карта']
    """
    path = Path(path)
    source = _source_name(path)
    if not path.exists():
        raise TableReadError(f"input file not found: {source}")
    if path.is_dir():
        raise TableReadError(f"{source} is a folder, not a file")
    suffix = path.suffix.lower()
    kind = SUPPORTED_SUFFIXES.get(suffix, "csv")
    if suffix == ".xls":
        raise TableReadError(f"{source} is an old .xls workbook; save it as .xlsx or CSV first")
    if path.stat().st_size == 0:
        raise TableReadError(f"{source} is empty")
    try:
        if kind == "parquet":
            frame = _read_parquet(path, source)
        elif kind == "excel":
            frame = _read_excel(path, source, sheet)
        else:
            data = path.read_bytes()
            if kind == "jsonl":
                frame = _read_json_lines(data, source, encoding)
            elif kind == "json":
                frame = _read_json(data, source, encoding)
            else:
                frame = _read_delimited(data, source, encoding,
                                        "\t" if kind == "tsv" and delimiter is None else delimiter)
    except PermissionError:
        raise TableReadError(f"cannot read {source}: permission denied") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise TableReadError(f"{source} has a header but no data rows")
    return frame


def require_column(frame: pd.DataFrame, column: str, *, source: str = "input",
                   option: str = "--text-column") -> None:
    """Check that ``frame`` has ``column``, or say which columns it does have.

    When the frame has a single column whose name contains another
    delimiter, the message says the file was split on the wrong delimiter.

    Raises
    ------
    TableReadError
    """
    if column in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    shown = ", ".join(repr(n) for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    message = f"column {column!r} not found in {source}; its columns are: {shown}"
    if len(names) == 1:
        found = [d for d in _DELIMITERS if d in names[0]]
        if found:
            message += (f" (the header looks delimited by {_DELIMITER_NAMES[found[0]]}; "
                        f"pass --delimiter {found[0]!r} if the delimiter is wrong)")
    raise TableReadError(message + f"; choose one with {option}")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def column_as_texts(values: Sequence[Any]) -> list[str]:
    """Texts of a column: missing cells become ``""`` (label -1), the rest ``str``."""
    return ["" if _is_missing(v) else str(v) for v in values]


def column_as_ids(values: Sequence[Any]) -> list[str]:
    """Request ids of a column as ``str``; ``12.0`` (Excel's numbers) becomes ``"12"``."""
    ids = []
    for v in values:
        if _is_missing(v):
            ids.append("")
        elif isinstance(v, float) and v.is_integer():
            ids.append(str(int(v)))
        else:
            ids.append(str(v))
    return ids


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` as UTF-8 CSV atomically (old file or complete new one, never half).

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or path-like
    """
    with atomic_open(path, "w", newline="") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
