"""Reading request tables (CSV, TSV, JSONL, Parquet, Excel) and writing results.

Contact-centre exports come from everywhere: Excel saves CSV in cp1251 with
``;`` between fields, BI tools write UTF-8 with a BOM, pipelines write JSONL
or Parquet. :func:`read_table` takes any of them and fails with one clear
sentence (:class:`TableReadError`) instead of a parser traceback.

Encoding detection is deliberately simple: a byte-order mark wins, then
strict UTF-8, then cp1251 when the result reads like Russian text (no
words mixing Latin and Cyrillic letters, as a cp1252 file read as cp1251
gives; letters distributed like Russian ones rather than like a KOI8-R
file's). Anything else asks for ``encoding=`` rather than guessing and
silently garbling the requests (charset-normalizer, when installed, only
suggests a name).

Delimited text is parsed with :mod:`csv`, so that nothing is lost without a
word: a row with more fields than the header is an error naming the line
(an unquoted delimiter inside a text, most often), a quote that is never
closed is an error, a trailing delimiter on every line is ignored, and a
file whose header is a single column is read one line per text.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .atomic import atomic_open
from ..exceptions import LLMClusterError

__all__ = [
    "TableReadError",
    "read_table",
    "decode_bytes",
    "sniff_delimiter",
    "require_column",
    "column_as_texts",
    "column_as_ids",
    "write_csv",
    "write_workbook",
    "excel_safe",
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
_REAL_ENCODING_ADVICE = "pass the real encoding of the file with --encoding (e.g. utf-8 or cp1251)"
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# Characters a real cp1251 Russian text is made of, beyond ASCII.
_CP1251_PLAUSIBLE = set("«»—–№…“”„‘’•\u00a0ёЁ") | {chr(c) for c in range(0x0410, 0x0450)}
# Share of each letter in Russian text, in percent (ё counted as е).
_RUSSIAN_LETTERS = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47, "р": 4.73,
    "в": 4.54, "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81, "у": 2.62, "я": 2.01,
    "ы": 1.90, "ь": 1.74, "г": 1.70, "з": 1.65, "б": 1.59, "ч": 1.44, "й": 1.21, "х": 0.97,
    "ж": 0.94, "ш": 0.73, "ю": 0.64, "ц": 0.48, "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04,
}
_LETTER_LOG_P = {letter: math.log(share / 100) for letter, share in _RUSSIAN_LETTERS.items()}
#: How much likelier (natural log, summed over the letters) the KOI8-R reading
#: of a file must be than the cp1251 one before cp1251 is refused. A real cp1251
#: text is far likelier in cp1251: ``-0.7`` per letter over a whole export.
_KOI8_MARGIN = 3.0
_WORD = re.compile(r"[^\W\d_]+")
_LOWER_THEN_UPPER = re.compile(r"[а-яё][А-ЯЁ]")
#: Excel's first line naming the delimiter: ``sep=;``.
_SEP_LINE = re.compile(r"sep=(.)\s*", re.IGNORECASE)
# Appended to delimited text: a quote never closed swallows it.
_END_MARK = "\ue000llmclusterendofdata\ue000"


class TableReadError(LLMClusterError, ValueError):
    """A table cannot be read; the message says why in one sentence and what to do."""


def _source_name(path: str | os.PathLike) -> str:
    return os.fspath(path)


def decode_bytes(data: bytes, encoding: str | None = None, *, source: str = "input",
                 advice: str | None = None) -> tuple[str, str]:
    """Decode the bytes of a text file, detecting the encoding when not given.

    Parameters
    ----------
    data : bytes
        The whole file.
    encoding : str, optional
        Use this codec and nothing else.
    source : str, default="input"
        Name used in error messages.
    advice : str, optional
        What the error messages tell the user to do; by default to pass the
        encoding with ``--encoding`` (and, for a binary file, the suffixes
        of Excel and Parquet files). Files that take no ``--encoding`` (the
        CLI's business context) say something else.

    Returns
    -------
    text : str
    encoding : str
        The codec used: ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"``, ``"cp1251"`` or ``encoding``.

    Raises
    ------
    TableReadError
        Unknown codec, bytes invalid in the given codec, a binary file, or
        bytes that are neither UTF-8 nor plausible cp1251 Russian text (a
        cp1252/Latin-1 or KOI8-R file read as cp1251 is refused, with the
        probable encoding in the message).

    Examples
    --------
    >>> decode_bytes("Не работает карта".encode("cp1251"))
    ('Не работает карта', 'cp1251')
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise TableReadError(f"unknown encoding {encoding!r} (try utf-8 or cp1251)") from None
        except UnicodeDecodeError as exc:
            raise TableReadError(
                f"{source} is not valid {encoding}: byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start} cannot be decoded; "
                f"{advice or _REAL_ENCODING_ADVICE}"
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
            f"{source} looks like a binary file, not text; "
            f"{advice or 'Excel and Parquet files need their .xlsx or .parquet extension'}"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        problem, likely = "bytes undefined in cp1251", None
    else:
        problem, likely = _cp1251_problem(text, data)
        if problem is None:
            return text, "cp1251"
    example = f"e.g. --encoding {likely}" if likely else "e.g. --encoding cp866, koi8-r or cp1252"
    raise TableReadError(
        f"{source} is not UTF-8 (byte 0x{data[utf8_error.start]:02x} at offset "
        f"{utf8_error.start}) and does not look like cp1251 Cyrillic text ({problem})"
        # charset-normalizer's guess only when no check named an encoding:
        # it often names an unrelated one (shift_jis for KOI8-R Russian).
        f"{'' if likely else _guess_hint(data)}; "
        f"{advice or f'pass its encoding with --encoding ({example})'}"
    )


def _letter_log_p(char: str) -> float:
    """Log-probability of ``char`` as a Russian letter (0 for anything else)."""
    return _LETTER_LOG_P.get(char.lower().replace("ё", "е"), 0.0)


#: Word-level checks look at this much text, in evenly spread pieces.
_WORD_SAMPLE = 1 << 20


def _word_sample(text: str) -> str:
    if len(text) <= _WORD_SAMPLE:
        return text
    piece = _WORD_SAMPLE // 16
    step = len(text) // 16
    return "\n".join(text[i:i + piece] for i in range(0, len(text), step))


def _cp1251_problem(text: str, data: bytes) -> tuple[str | None, str | None]:
    """Why ``text`` (``data`` read as cp1251) is not cp1251 Russian text, and the likely codec.

    ``(None, None)`` when it reads like Russian text. The checks look for the
    marks other encodings leave when read as cp1251: characters Russian text
    does not use (UTF-8 bytes, DOS cp866), words mixing Latin and Cyrillic
    letters (cp1252/Latin-1: ``café`` reads ``cafй``), and letters far from
    Russian frequencies that the KOI8-R reading explains better (KOI8-R:
    ``Привет`` reads ``рТЙЧЕФ``, a lower-case letter before capitals).
    Character statistics come from a byte histogram of the whole file, word
    statistics from up to a megabyte of it.
    """
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    high = [int(b) for b in np.flatnonzero(counts[128:]) + 128]
    as_cp1251 = {b: bytes([b]).decode("cp1251") for b in high}
    odd = sorted((b for b in high if as_cp1251[b] not in _CP1251_PLAUSIBLE),
                 key=lambda b: -counts[b])
    if sum(counts[b] for b in odd) > 0.2 * counts[128:].sum():
        shown = "".join(as_cp1251[b] for b in odd[:6])
        return f"it would contain characters like {shown!r} that Russian text does not use", None
    sample = _word_sample(text)
    words = [w for w in _WORD.findall(sample) if any(ord(ch) > 127 for ch in w)]
    mixed = [w for w in words if any(ch.isascii() for ch in w)]
    if mixed and len(mixed) > 0.3 * len(words):
        return (f"read as cp1251, words would mix Latin and Cyrillic letters, like {mixed[0]!r}, "
                "as in a Western European file"), "cp1252"
    camel = [w for w in words if _LOWER_THEN_UPPER.search(w)]
    # Every byte is defined in KOI8-R; ASCII bytes read the same in both.
    gain = sum(counts[b] * (_letter_log_p(bytes([b]).decode("koi8-r"))
                            - _letter_log_p(as_cp1251[b])) for b in high)
    if gain > _KOI8_MARGIN or (gain > 0 and len(camel) >= 2 and len(camel) > 0.2 * len(words)):
        example = (camel or words or [""])[0]
        return (f"read as cp1251, letters would not be distributed like Russian ones"
                f"{f', with words like {example!r}' if example else ''}; "
                "it reads better as KOI8-R"), "koi8-r"
    return None, None


def _guess_hint(data: bytes) -> str:
    """charset-normalizer's guess, as a hint for the error message, when it is installed."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return ""
    best = from_bytes(data[:65536]).best()
    return f" (charset-normalizer guesses {best.encoding})" if best is not None else ""


def _first_line(text: str) -> str:
    """The first line of ``text`` that is not blank (the header of a table)."""
    for line in io.StringIO(text[1:] if text.startswith("\ufeff") else text, newline=""):
        if line.strip():
            return line.rstrip("\r\n")
    return ""


def _header_width(header: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([header], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 0


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
    header = _first_line(text)
    widths = {delimiter: _header_width(header, delimiter) for delimiter in _DELIMITERS}
    best = max(widths.values())
    winners = [d for d, width in widths.items() if width == best]
    if best > 1 and len(winners) == 1:
        return winners[0]
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        return winners[0] if best > 1 else ","


def _delimiter_name(delimiter: str) -> str:
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _unused_character(text: str) -> str:
    """A character that does not occur in ``text``: the delimiter of one-column files."""
    for code in (0x1F, 0x1E, 0x1D, 0x1C, *range(0xE001, 0xF8FF)):
        if chr(code) not in text:
            return chr(code)
    raise TableReadError("the file uses every private-use character; pass --delimiter")


def _csv_records(text: str, delimiter: str, source: str,
                 first_line: int, strict: bool = False) -> list[tuple[int, list[str]]]:
    """Records of delimited ``text``, each with the line of the file it starts on.

    ``first_line`` is the file's line number of the first line of ``text``.

    Blank lines are left out. A quote that is never closed would make the
    rest of the file one field; it is an error instead. ``strict``: a quote
    that does not enclose a whole field (``"Sber" app fails``) is an error too.
    """
    ending = "" if text.endswith(("\n", "\r")) else "\n"
    stream = io.StringIO(f"{text}{ending}{_END_MARK}\n", newline="")
    reader = csv.reader(stream, delimiter=delimiter, strict=strict)
    records: list[tuple[int, list[str]]] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 64))  # a long text is a text, not an error
    try:
        start = 1
        for fields in reader:
            records.append((first_line + start - 1, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TableReadError(
            f"{source} is not well-formed delimited text (delimiter {_delimiter_name(delimiter)}) "
            f"at line {first_line + reader.line_num - 1}: {exc}; check the quoting, or pass "
            "--delimiter"
        ) from None
    finally:
        csv.field_size_limit(limit)
    line, last = records.pop()
    if delimiter.join(last) != _END_MARK:
        raise TableReadError(
            f"{source} is not well-formed delimited text: the quote (\") that opens a field on "
            f"line {line} is never closed, so the rest of the file would be one text; close it "
            "(a quote inside a quoted text is written twice: \"\") or remove it")
    return [(line, fields) for line, fields in records
            if fields and not (len(fields) == 1 and not fields[0].strip())]


def _read_delimited(data: bytes, source: str, encoding: str | None,
                    delimiter: str | None, skip_rows: int = 0) -> pd.DataFrame:
    text, _ = decode_bytes(data, encoding, source=source)
    text = text.lstrip("\ufeff")
    skipped = 0
    first, _, rest = text.partition("\n")
    excel_sep = _SEP_LINE.fullmatch(first.rstrip("\r"))
    if excel_sep:  # Excel's "sep=;" line: the delimiter, then the table
        delimiter = delimiter or excel_sep.group(1)
        text, skipped = rest, 1
    for _ in range(skip_rows):
        text = text.partition("\n")[2]
        skipped += 1
    if not text.strip():
        rows_note = f" below the {skip_rows} skipped rows" if skip_rows else ""
        raise TableReadError(f"{source} is empty{rows_note}")
    header = _first_line(text)
    if delimiter is None and all(_header_width(header, d) == 1 for d in _DELIMITERS):
        sep = _unused_character(text)  # one column: a line is a text, commas included
        try:
            records = _csv_records(text, sep, source, skipped + 1, strict=True)
        except TableReadError:
            # Quotes that are not CSV quoting ('"Sber" app fails', one never
            # closed) are part of the texts: every line is a text, as it is.
            records = [(skipped + number, [line])
                       for number, line in enumerate(text.splitlines(), start=1)
                       if line.strip()]
    else:
        sep = delimiter or sniff_delimiter(text)
        records = _csv_records(text, sep, source, skipped + 1)
    if not records:
        raise TableReadError(f"{source} is empty")
    header_line, names = records[0]
    names = [name.strip() for name in names]
    width = len(names)
    while width and not names[width - 1]:
        width -= 1  # a trailing delimiter on the header line
    if not width:
        raise TableReadError(f"{source} line {header_line}, the header, names no column")
    rows = []
    overfull = []
    for line, fields in records[1:]:
        if len(fields) > width:
            if any(value.strip() for value in fields[width:]):
                overfull.append((line, len(fields)))
                continue
            fields = fields[:width]  # trailing delimiters, nothing after them
        elif len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        rows.append(fields)
    if overfull:
        line, count = overfull[0]
        name = _delimiter_name(sep)
        more = f" (and {len(overfull) - 1} more lines)" if len(overfull) > 1 else ""
        other = [d for d in _DELIMITERS if d != sep and _header_width(header, d) > width]
        if other:
            raise TableReadError(
                f"{source} line {line} has {count} fields but the header names {width} "
                f"column(s) with the delimiter {name}{more}; the header looks delimited by "
                f"{_delimiter_name(other[0])}: pass --delimiter {other[0]!r}")
        title = (f" (or, if line {header_line} is a title above the header, skip it with "
                 "--skip-rows)") if width == 1 else ""
        raise TableReadError(
            f"{source} line {line} has {count} fields but the header names {width} "
            f"column(s){more}, with the delimiter {name}: a text probably contains an unquoted "
            f"{name}; put such texts in double quotes, or save the file with another delimiter "
            f"(tab) and pass --delimiter{title}")
    columns = [name or f"Unnamed: {i}" for i, name in enumerate(names[:width])]
    return pd.DataFrame(rows, columns=columns, dtype=str)


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
        raise TableReadError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not all(isinstance(r, dict) for r in records):
        raise TableReadError(f"{source} must be a JSON array of objects like {{\"text\": \"...\"}}")
    return pd.DataFrame.from_records(records)


def _missing_extra(what: str, module: str, extra: str) -> TableReadError:
    return TableReadError(
        f"reading {what} files needs {module}, which is not installed: "
        f'pip install "sklearn-llmcluster[{extra}]" (from a checkout: pip install -e ".[{extra}]")'
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


def _pick_sheet(names: list[str], sheet: str | int | None, source: str) -> str:
    """The sheet to read: the first, the one named ``sheet``, or number ``sheet`` (0-based)."""
    if sheet is None:
        return names[0]
    if isinstance(sheet, str) and sheet in names:
        return sheet  # a sheet named "2" wins over the third sheet
    if isinstance(sheet, int) or str(sheet).strip().isdigit():
        index = int(sheet)
        if not 0 <= index < len(names):
            raise TableReadError(
                f"{source} has {len(names)} sheet(s) ({', '.join(names)}); no sheet named "
                f"{str(sheet)!r} and no sheet number {index}")
        return names[index]
    raise TableReadError(f"{source} has no sheet {sheet!r}; its sheets are: {', '.join(names)}")


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip()


def _read_excel(path: Path, source: str, sheet: str | int | None,
                skip_rows: int = 0) -> pd.DataFrame:
    try:
        import openpyxl
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise _missing_extra("Excel", "openpyxl", "excel") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise TableReadError(f"{source} is not a readable .xlsx file: {exc}") from None
    try:
        name = _pick_sheet(book.sheetnames, sheet, source)
        worksheet = book[name]
        if hasattr(worksheet, "reset_dimensions"):
            # Read-only mode trusts the sheet's <dimension> record, which
            # other programs write wrong (A1) or leave out; read every cell.
            worksheet.reset_dimensions()
        rows = [(number, row) for number, row in
                enumerate(worksheet.iter_rows(min_row=skip_rows + 1, values_only=True),
                          start=skip_rows + 1)
                if any(not _blank(v) for v in row)]
    finally:
        book.close()
    where = f"{source} sheet {name!r}"
    if not rows:
        below = f" below the {skip_rows} skipped rows" if skip_rows else ""
        raise TableReadError(f"{where} is empty{below}")
    header = ["" if _blank(v) else str(v).strip() for v in rows[0][1]]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    data = []
    for number, row in rows[1:]:
        beyond = [i for i, v in enumerate(row[width:], start=width) if not _blank(v)]
        if beyond:
            title = (f" (or, if row {rows[0][0]} is a title above the header, skip it with "
                     "--skip-rows)") if width == 1 else ""
            raise TableReadError(
                f"{where} row {number} has a value in column {get_column_letter(beyond[0] + 1)}, "
                f"right of the header (which ends at column {get_column_letter(width)}); give "
                f"that column a header, or delete it{title}")
        row = list(row[:width])
        data.append(row + [None] * (width - len(row)))
    columns = [title or f"Unnamed: {i}" for i, title in enumerate(header[:width])]
    return pd.DataFrame(data, columns=columns, dtype=object)


def read_table(path: str | os.PathLike, *, encoding: str | None = None,
               sheet: str | int | None = None, delimiter: str | None = None,
               skip_rows: int = 0) -> pd.DataFrame:
    """Read a table of requests from CSV, TSV, JSONL, JSON, Parquet or Excel.

    The format follows the file's suffix (see :data:`SUPPORTED_SUFFIXES`;
    unknown suffixes are read as delimited text). Delimited files are read
    with every column as ``str``, so ids keep leading zeros and a text
    ``"NA"`` stays a text. Column names are stripped of surrounding spaces;
    a name that occurs twice is kept twice (:func:`require_column` refuses
    to pick one of them), a missing name becomes ``"Unnamed: <position>"``.

    Delimited text: an Excel ``sep=;`` first line sets the delimiter and is
    skipped; a row with more fields than the header is an error (unless the
    extra fields are empty: a trailing delimiter), a shorter row is padded
    with ``""``; a header of one column makes every line one text, commas
    and semicolons included. Excel: every cell is read whatever the sheet's
    size record says; a value right of the header is an error.

    Parameters
    ----------
    path : str or path-like
    encoding : str, optional
        Codec of a text file; detected when omitted (BOM, UTF-8, cp1251).
    sheet : str or int, optional
        Excel sheet name or 0-based number (a name first, for a string);
        the first sheet by default.
    delimiter : str, optional
        Field delimiter of a CSV file; sniffed when omitted.
    skip_rows : int, default=0
        Lines of a delimited file, or rows of an Excel sheet, above the
        header (a title, an export date); an Excel ``sep=`` line does not count.

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
    if skip_rows and kind in ("parquet", "json", "jsonl"):
        raise TableReadError(f"skipping rows applies to delimited text and Excel files, "
                             f"not to {source}")
    try:
        if kind == "parquet":
            frame = _read_parquet(path, source)
        elif kind == "excel":
            frame = _read_excel(path, source, sheet, skip_rows)
        else:
            data = path.read_bytes()
            if kind == "jsonl":
                frame = _read_json_lines(data, source, encoding)
            elif kind == "json":
                frame = _read_json(data, source, encoding)
            else:
                frame = _read_delimited(data, source, encoding,
                                        "\t" if kind == "tsv" and delimiter is None else delimiter,
                                        skip_rows)
    except PermissionError:
        raise TableReadError(f"cannot read {source}: permission denied") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise TableReadError(f"{source} has a header but no data rows")
    return frame


def require_column(frame: pd.DataFrame, column: str, *, source: str = "input",
                   option: str = "--text-column") -> None:
    """Check that ``frame`` has ``column`` once, or say which columns it does have.

    When the frame has a single column whose name contains another
    delimiter, the message says the file was split on the wrong delimiter;
    when the names look like a title row, it mentions ``--skip-rows``.

    Parameters
    ----------
    frame : pandas.DataFrame
    column : str
    source : str, default="input"
        Name of the file, for the message.
    option : str, default="--text-column"
        The option that chooses the column, for the message.

    Raises
    ------
    TableReadError
        The column is missing, or ``frame`` has two columns of that name.
    """
    names = [str(c) for c in frame.columns]
    count = names.count(column)
    if count == 1:
        return
    if count > 1:
        times = "twice" if count == 2 else f"{count} times"
        raise TableReadError(f"column {column!r} appears {times} in {source}; rename one")
    shown = ", ".join(repr(n) for n in names[:20])
    if len(names) > 20:
        shown += f" and {len(names) - 20} more"
    message = f"column {column!r} not found in {source}; its columns are: {shown}"
    found = [d for d in _DELIMITERS if d in names[0]] if len(names) == 1 else []
    if found:
        message += (f" (the header looks delimited by {_DELIMITER_NAMES[found[0]]}; "
                    f"pass --delimiter {found[0]!r} if the delimiter is wrong)")
    elif (len(names) == 1 and " " in names[0].strip()) or \
            any(n.startswith("Unnamed: ") for n in names):
        # A title ("Обращения за неделю") read as the header.
        message += (" (if the header is not the first row, skip the rows above it with "
                    "--skip-rows N)")
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


#: First characters that make Excel read a cell as a formula (and run it).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: Any) -> Any:
    """``value`` with a ``'`` in front when Excel would read it as a formula.

    A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return becomes a live formula when a CSV file is opened in Excel
    (``=HYPERLINK(...)``), or ``#NAME?`` (``+7 916 ...``); the ``'`` makes it
    text. Anything else is returned as it is.

    Examples
    --------
    >>> excel_safe("=1+1"), excel_safe("+7 916 123 45 67"), excel_safe("карта")
    ("'=1+1", "'+7 916 123 45 67", 'карта')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, delimiter: str = ",",
              excel_safe_cells: bool = False) -> None:
    """Write ``frame`` as CSV atomically (old file or complete new one, never half).

    The file is UTF-8 with a byte-order mark, so that Excel shows Cyrillic
    text instead of mojibake; :func:`read_table`, ``pandas.read_csv`` and
    ``csv`` with ``encoding="utf-8-sig"`` read it back unchanged.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or path-like
    delimiter : str, default=","
        Field delimiter; ``";"`` is what Excel expects in locales with a
        decimal comma (Russian, German ...).
    excel_safe_cells : bool, default=False
        Put a ``'`` in front of texts Excel would run as formulas (see
        :func:`excel_safe`). Off by default: it changes the data.
    """
    if excel_safe_cells:
        frame = frame.copy()
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].map(excel_safe)
    with atomic_open(path, "w", encoding="utf-8-sig", newline="") as fh:
        frame.to_csv(fh, index=False, sep=delimiter, lineterminator="\n")


#: Most characters an Excel cell holds; longer texts are split over extra columns.
EXCEL_CELL_LIMIT = 32_767


def _excel_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    return value


def write_workbook(sheets: dict[str, pd.DataFrame], path: str | os.PathLike | io.BytesIO, *,
                   excel_safe_cells: bool = False) -> None:
    """Write frames as sheets of one ``.xlsx`` workbook, atomically.

    Every text stays text: a request starting with ``=`` is never stored as
    a formula (openpyxl would store it as one). Characters a workbook cannot
    hold (control characters other than tab and line breaks) become U+FFFD,
    and a text longer than an Excel cell (32,767 characters) goes on in the
    next columns (``text (2)`` ...), so nothing is lost.

    Parameters
    ----------
    sheets : dict of str to pandas.DataFrame
        Sheet name -> table, in order.
    path : str, path-like or binary file
    excel_safe_cells : bool, default=False
        Also put a ``'`` in front, as :func:`write_csv` does (for files that
        are later saved as CSV).

    Raises
    ------
    ImportError
        Without openpyxl (``pip install "sklearn-llmcluster[excel]"``).
    """
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    except ImportError:
        raise ImportError('writing .xlsx needs openpyxl: pip install '
                          '"sklearn-llmcluster[excel]" (from a checkout: pip install -e '
                          '".[excel]")') from None
    book = Workbook(write_only=True)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        columns, pieces = _split_long_columns(frame)
        sheet.append(columns)
        for row in pieces:
            cells = []
            for value in row:
                value = _excel_value(value)
                if isinstance(value, str):
                    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
                    if excel_safe_cells:
                        value = excel_safe(value)
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    if hasattr(path, "write"):
        path.write(buffer.getvalue())
        return
    with atomic_open(path, "wb") as fh:
        fh.write(buffer.getvalue())


def _split_long_columns(frame: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """Header and rows, a text column over the cell limit spread over extra columns."""
    widths = []
    for name in frame.columns:
        longest = max((len(v) for v in frame[name] if isinstance(v, str)), default=0)
        widths.append(max(1, -(-longest // EXCEL_CELL_LIMIT)))
    header = []
    for name, width in zip(frame.columns, widths):
        header += [str(name)] + [f"{name} ({i})" for i in range(2, width + 1)]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        row = []
        for value, width in zip(values, widths):
            if width == 1:
                row.append(value)
                continue
            text = value if isinstance(value, str) else None
            step = EXCEL_CELL_LIMIT
            parts = [text[i:i + step] for i in range(0, len(text), step)] if text else [value]
            row += parts + [None] * (width - len(parts))
        rows.append(row)
    return header, rows
