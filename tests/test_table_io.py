"""Reading request tables in every format contact centres export, and failing clearly."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_llmcluster.table_io import (
    TableReadError,
    column_as_ids,
    column_as_texts,
    decode_bytes,
    read_table,
    require_column,
    sniff_delimiter,
    write_csv,
)

RUSSIAN = "request_id;text\n1;Не работает карта, помогите\n2;\"Где мой; перевод\"\n"


def write(path, data: bytes):
    path.write_bytes(data)
    return path


# -- encodings ----------------------------------------------------------------

def test_reads_cp1251_excel_export_with_semicolons(tmp_path):
    path = write(tmp_path / "export.csv", RUSSIAN.encode("cp1251"))
    frame = read_table(path)
    assert frame.columns.tolist() == ["request_id", "text"]
    assert frame["text"].tolist() == ["Не работает карта, помогите", "Где мой; перевод"]


@pytest.mark.parametrize("bom, codec", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")])
def test_byte_order_mark_is_honoured_and_stripped(tmp_path, bom, codec):
    path = write(tmp_path / "bom.csv", bom + "id,text\n1,привет\n".encode(codec))
    frame = read_table(path)
    assert frame.columns.tolist() == ["id", "text"]
    assert frame["text"].tolist() == ["привет"]


def test_utf8_wins_over_cp1251():
    text, codec = decode_bytes("ёжик".encode("utf-8"))
    assert (text, codec) == ("ёжик", "utf-8")


def test_explicit_encoding_that_does_not_fit_names_byte_and_offset(tmp_path):
    path = write(tmp_path / "a.csv", RUSSIAN.encode("cp1251"))
    with pytest.raises(TableReadError, match=r"not valid utf-8: byte 0x\w\w at offset \d+.*--encoding"):
        read_table(path, encoding="utf-8")


def test_unknown_encoding_name_is_reported(tmp_path):
    path = write(tmp_path / "a.csv", b"text\nx\n")
    with pytest.raises(TableReadError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")


def test_bytes_neither_utf8_nor_cyrillic_cp1251_are_refused(tmp_path):
    # 0x98 is undefined in cp1251; the rest decode to Ђ‚ѓ„… — not Russian text.
    path = write(tmp_path / "a.csv", b"id,text\n1,\x98\x81\x82\x83\x84\x85\n")
    with pytest.raises(TableReadError, match="is not UTF-8 .* does not look like cp1251"):
        read_table(path)


def test_binary_file_with_csv_suffix_is_refused(tmp_path):
    path = write(tmp_path / "a.csv", b"PK\x03\x04\x00\x00binary")
    with pytest.raises(TableReadError, match="looks like a binary file"):
        read_table(path)


# -- delimiters and malformed CSV -------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("id,text\n1,a\n", ","),
    ("id;text\n1;a, b, c\n", ";"),
    ("id\ttext\n1\ta;b\n", "\t"),
    ("id|text\n1|a\n", "|"),
    ("text\nhello, world\n", ","),
])
def test_sniff_delimiter(text, expected):
    assert sniff_delimiter(text) == expected


def test_tsv_suffix_means_tabs(tmp_path):
    path = write(tmp_path / "a.tsv", "id\ttext\n1\tone, two; three\n".encode())
    assert read_table(path)["text"].tolist() == ["one, two; three"]


def test_unclosed_quote_is_a_malformed_csv_error(tmp_path):
    path = write(tmp_path / "a.csv", b'id,text\n1,"unclosed\n2,x\n')
    with pytest.raises(TableReadError, match="not well-formed delimited text.*EOF inside string"):
        read_table(path)


def test_row_with_extra_fields_is_a_malformed_csv_error(tmp_path):
    path = write(tmp_path / "a.csv", b"id,text\n1,a\n2,b,c\n")
    with pytest.raises(TableReadError, match="Expected 2 fields in line 3, saw 3"):
        read_table(path)


def test_wrong_delimiter_shows_up_as_a_hint_in_the_missing_column_message(tmp_path):
    path = write(tmp_path / "a.csv", RUSSIAN.encode("cp1251"))
    frame = read_table(path, delimiter=",")
    with pytest.raises(TableReadError) as info:
        require_column(frame, "text", source="a.csv")
    message = str(info.value)
    assert "'request_id;text'" in message
    assert "delimited by ';'" in message and "--delimiter ';'" in message


def test_missing_column_lists_the_columns_that_exist():
    frame = pd.DataFrame({"id": ["1"], "message": ["x"], "date": ["y"]})
    with pytest.raises(TableReadError, match=r"column 'text' not found in in\.csv; its columns are: "
                                             r"'id', 'message', 'date'; choose one with --text-column"):
        require_column(frame, "text", source="in.csv")


def test_values_stay_strings(tmp_path):
    path = write(tmp_path / "a.csv", b"id,text\n007,NA\n008,\n")
    frame = read_table(path)
    assert frame["id"].tolist() == ["007", "008"]
    assert frame["text"].tolist() == ["NA", ""]


# -- empty and missing -----------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"\n\n  \n", "is empty"),
    (b"id,text\n", "has a header but no data rows"),
])
def test_empty_files(tmp_path, data, message):
    with pytest.raises(TableReadError, match=message):
        read_table(write(tmp_path / "a.csv", data))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(TableReadError, match="input file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(TableReadError, match="is a folder"):
        read_table(tmp_path)


# -- JSON, Parquet, Excel -----------------------------------------------------------

def test_jsonl_and_json_array(tmp_path):
    rows = [{"id": 1, "text": "карта"}, {"id": 2, "text": "вход"}]
    jsonl = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())
    array = write(tmp_path / "a.json", json.dumps(rows).encode())
    for path in (jsonl, array):
        assert read_table(path)["text"].tolist() == ["карта", "вход"]


def test_jsonl_error_names_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", b'{"text": "a"}\n{"text": \n')
    with pytest.raises(TableReadError, match="line 2 is not valid JSON"):
        read_table(path)
    path = write(tmp_path / "b.jsonl", b'{"text": "a"}\n["x"]\n')
    with pytest.raises(TableReadError, match="line 2 is a JSON list"):
        read_table(path)


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "a.parquet"
    pd.DataFrame({"text": ["карта", "вход"], "n": [1, 2]}).to_parquet(path)
    assert read_table(path)["text"].tolist() == ["карта", "вход"]
    broken = write(tmp_path / "b.parquet", b"not parquet at all")
    with pytest.raises(TableReadError, match="not a readable Parquet file"):
        read_table(broken)


def _workbook(path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["ignored"])
    book.active.append(["x"])
    sheet = book.create_sheet("Обращения")
    sheet.append(["request_id", "text "])
    sheet.append([12, "Не приходит СМС"])
    sheet.append([None, None])  # blank rows Excel leaves behind are dropped
    sheet.append([13.0, "Списали дважды"])
    book.save(path)
    return path


def test_excel_sheet_by_name_and_number(tmp_path):
    path = _workbook(tmp_path / "a.xlsx")
    for sheet in ("Обращения", 1, "1"):
        frame = read_table(path, sheet=sheet)
        assert frame.columns.tolist() == ["request_id", "text"]  # header spaces stripped
        assert column_as_ids(frame["request_id"].tolist()) == ["12", "13"]
    assert read_table(path).columns.tolist() == ["ignored"]


def test_excel_unknown_sheet_lists_sheets(tmp_path):
    path = _workbook(tmp_path / "a.xlsx")
    with pytest.raises(TableReadError, match="no sheet 'Data'; its sheets are: Sheet1, Обращения"):
        read_table(path, sheet="Data")
    with pytest.raises(TableReadError, match="no sheet number 5"):
        read_table(path, sheet=5)


def test_old_xls_and_broken_xlsx(tmp_path):
    with pytest.raises(TableReadError, match=r"old \.xls workbook"):
        read_table(write(tmp_path / "a.xls", b"\xd0\xcf\x11\xe0"))
    pytest.importorskip("openpyxl")
    with pytest.raises(TableReadError, match=r"not a readable \.xlsx file"):
        read_table(write(tmp_path / "b.xlsx", b"not a zip"))


@pytest.mark.parametrize("suffix, module, extra", [(".parquet", "pyarrow", "parquet"),
                                                   (".xlsx", "openpyxl", "excel")])
def test_missing_optional_reader_says_which_extra_to_install(tmp_path, monkeypatch, suffix,
                                                             module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    path = write(tmp_path / f"a{suffix}", b"whatever")
    with pytest.raises(TableReadError, match=rf"needs {module}.*sklearn-llmcluster\[{extra}\]"):
        read_table(path)


# -- columns and writing ----------------------------------------------------------

def test_column_helpers_turn_missing_cells_into_empty_strings():
    assert column_as_texts(["a", None, float("nan"), pd.NA, 5]) == ["a", "", "", "", "5"]
    assert column_as_ids([1, 2.0, 2.5, None, "x-1"]) == ["1", "2", "2.5", "", "x-1"]


def test_write_csv_is_utf8_and_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    write_csv(pd.DataFrame({"text": ["Привет, мир"]}), path)
    assert path.read_bytes().decode("utf-8") == 'text\n"Привет, мир"\n'

    def explode(self, fh, **kwargs):
        fh.write("half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"text": ["new"]}), path)
    assert path.read_bytes().decode("utf-8") == 'text\n"Привет, мир"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_reading_arbitrary_bytes_returns_a_table_or_a_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "in.csv"
    path.write_bytes(data)
    try:
        frame = read_table(path)
    except TableReadError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(frame) >= 1
