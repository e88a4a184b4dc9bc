"""Reading request tables in every format contact centres export, and failing clearly."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_llmcluster.io.tables import (
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


# Realistic cp1251 exports: names, Latin brand names, e-mails, all-caps texts, camel-case brands.
CONTACT_CENTRE = [
    "Здравствуйте, меня зовут Иванова Ольга Петровна, не могу войти через iPhone 15 Pro",
    "Wi-Fi роутер TP-Link не раздаёт интернет, МегаФон, договор №12345",
    "напишите ответ на ivan.petrov@mail.ru или olga_s@yandex.ru",
    "СберБанк Онлайн не открывается на Android 14, ошибка 500",
    "ЗДРАВСТВУЙТЕ, КУРЬЕР НЕ ОТВЕЧАЕТ НА ЗВОНКИ, ДОСТАВКА ОПАЗДЫВАЕТ НА 3 ЧАСА",
    "Списали повторно 3 999,00 руб. за коммуналку — хотя платёж уже был!",
    "кешбэк пришёл только за половину покупок. ФИО: Артём Сергеевич Ёлкин",
    "СМС с кодом не приходит уже час, «Мой МТС» пишет: повторите позже…",
]


@pytest.mark.parametrize("text", CONTACT_CENTRE)
def test_real_cp1251_exports_are_accepted_row_by_row(text):
    data = f"id;text\n1;{text}\n".encode("cp1251")
    assert decode_bytes(data) == (f"id;text\n1;{text}\n", "cp1251")


def test_real_cp1251_export_is_accepted_whole():
    body = "id;text\n" + "".join(f"{i};{t}\n" for i, t in enumerate(CONTACT_CENTRE))
    assert decode_bytes(body.encode("cp1251"))[1] == "cp1251"


@pytest.mark.parametrize("texts, codec, suggested", [
    (["café fermé, naïve résumé", "zurück, Gebühr zu hoch", "¿Dónde está mi pedido?"],
     "cp1252", "cp1252"),
    (["Ça ne marche pas", "Straße gesperrt"], "latin-1", "cp1252"),
    (CONTACT_CENTRE, "koi8-r", "koi8-r"),
    (["Привет, не работает интернет", "Верните деньги за заказ"], "koi8-r", "koi8-r"),
])
def test_other_single_byte_encodings_are_not_garbled_as_cp1251(tmp_path, texts, codec, suggested):
    # Before, any text of Cyrillic-looking characters passed: cp1252 "café" became
    # "cafй" and KOI8-R "Привет" became "рТЙЧЕФ", silently.
    body = "request_id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts))
    path = write(tmp_path / "a.csv", body.encode(codec, errors="replace"))
    with pytest.raises(TableReadError) as info:
        read_table(path)
    message = str(info.value)
    assert "does not look like cp1251" in message and "\n" not in message
    assert f"pass its encoding with --encoding (e.g. --encoding {suggested})" in message
    expected = [t.encode(codec, errors="replace").decode(codec) for t in texts]  # № is not KOI8-R
    assert read_table(path, encoding=suggested)["text"].tolist() == expected


def test_explicit_encoding_that_does_not_fit_names_byte_and_offset(tmp_path):
    path = write(tmp_path / "a.csv", RUSSIAN.encode("cp1251"))
    with pytest.raises(TableReadError,
                       match=r"not valid utf-8: byte 0x\w\w at offset \d+.*--encoding"):
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
    # Not the rest of the file swallowed into one text.
    path = write(tmp_path / "a.csv", b'id,text\n1,ok\n2,"unclosed\n3,x\n')
    with pytest.raises(TableReadError, match=r"not well-formed delimited text: the quote .* "
                                             r"line 3 is never closed"):
        read_table(path)


def test_row_with_extra_fields_names_the_line_the_counts_and_the_cause(tmp_path):
    path = write(tmp_path / "a.csv", b"id,text\n1,a\n2,b,c\n3,d\n4,e,f\n")
    with pytest.raises(TableReadError) as info:
        read_table(path)
    message = str(info.value)
    assert "line 3 has 3 fields but the header names 2 column(s) (and 1 more lines)" in message
    assert "unquoted ','" in message and "double quotes" in message and "--delimiter" in message


def test_wrong_delimiter_shows_up_as_a_hint(tmp_path):
    path = write(tmp_path / "a.csv", RUSSIAN.encode("cp1251"))
    with pytest.raises(TableReadError, match="the header looks delimited by ';': "
                                             "pass --delimiter ';'"):
        read_table(path, delimiter=",")
    path = write(tmp_path / "b.csv", b"request_id;text\n1;a\n")
    frame = read_table(path, delimiter=",")
    with pytest.raises(TableReadError) as info:
        require_column(frame, "text", source="b.csv")
    message = str(info.value)
    assert "'request_id;text'" in message
    assert "delimited by ';'" in message and "--delimiter ';'" in message


# The reviewer's repro (A): the first data row had one field too many, so pandas
# took the ids for an index, shifted the texts into request_id, and exited 0.
def test_extra_field_in_the_first_data_row_is_an_error_not_an_index(tmp_path):
    path = write(tmp_path / "f.csv", "id;text\n001;Здравствуйте; карта заблокирована\n"
                                     "002;не работает интернет\n003;верните деньги\n".encode())
    with pytest.raises(TableReadError) as info:
        read_table(path)
    message = str(info.value)
    assert f"{path} line 2 has 3 fields but the header names 2 column(s)" in message
    assert "unquoted ';'" in message


def test_trailing_delimiter_on_every_line_is_dropped(tmp_path):
    path = write(tmp_path / "crm.csv", "id;text\n001;карта заблокирована;\n"
                                       "002;не работает интернет;\n".encode("cp1251"))
    frame = read_table(path)
    assert frame.columns.tolist() == ["id", "text"]
    assert frame["id"].tolist() == ["001", "002"]
    assert frame["text"].tolist() == ["карта заблокирована", "не работает интернет"]
    header_too = write(tmp_path / "crm2.csv", b"id;text;\n1;a;\n2;b\n")
    assert read_table(header_too).to_dict("list") == {"id": ["1", "2"], "text": ["a", "b"]}


def test_short_rows_are_padded_with_empty_texts(tmp_path):
    path = write(tmp_path / "a.csv", b"id,text,channel\n1,a\n2,b,chat\n")
    assert read_table(path).to_dict("list") == {"id": ["1", "2"], "text": ["a", "b"],
                                                "channel": ["", "chat"]}


@pytest.mark.parametrize("body", [
    "text\nЗдравствуйте, карта заблокирована\nне работает; совсем\n"
    "верните деньги, пожалуйста, срочно\n",
    "text\r\nЗдравствуйте, карта заблокирована\r\nне работает; совсем\r\n"
    "верните деньги, пожалуйста, срочно\r\n",
])
def test_one_column_file_is_read_line_by_line(tmp_path, body):
    frame = read_table(write(tmp_path / "one.csv", body.encode()))
    assert frame.columns.tolist() == ["text"]
    assert frame["text"].tolist() == ["Здравствуйте, карта заблокирована", "не работает; совсем",
                                      "верните деньги, пожалуйста, срочно"]


def test_one_column_file_honours_csv_quoting(tmp_path):
    path = write(tmp_path / "one.csv", b'text\n"two\nlines, quoted"\n"say ""hi"""\nplain\n')
    assert read_table(path)["text"].tolist() == ["two\nlines, quoted", 'say "hi"', "plain"]


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_excel_sep_line_sets_the_delimiter_and_is_skipped(tmp_path, ending):
    body = ending.join(["sep=;", "request_id;text", "ru-1;Здравствуйте, карта", "ru-2;ок", ""])
    frame = read_table(write(tmp_path / "sep.csv", body.encode("cp1251")))
    assert frame.to_dict("list") == {"request_id": ["ru-1", "ru-2"],
                                     "text": ["Здравствуйте, карта", "ок"]}


def test_skip_rows_skips_title_lines_and_line_numbers_stay_true(tmp_path):
    body = "Выгрузка обращений за неделю\nСформирована 01.03.2025\n\nid;text\n1;a\n2;b;c\n"
    path = write(tmp_path / "a.csv", body.encode())
    with pytest.raises(TableReadError, match="line 6 has 3 fields"):
        read_table(path, skip_rows=2)
    path = write(tmp_path / "b.csv", body.replace("2;b;c", "2;b").encode())
    assert read_table(path, skip_rows=2).to_dict("list") == {"id": ["1", "2"], "text": ["a", "b"]}
    with pytest.raises(TableReadError, match="is empty below the 9 skipped rows"):
        read_table(path, skip_rows=9)
    with pytest.raises(TableReadError, match="applies to delimited text and Excel"):
        read_table(write(tmp_path / "a.jsonl", b'{"text": "a"}\n'), skip_rows=1)


def test_title_row_is_hinted_at_in_the_missing_column_message(tmp_path):
    frame = read_table(write(tmp_path / "a.csv", "Отчёт за неделю\nid;text\n1;a\n".encode()))
    with pytest.raises(TableReadError, match=r"--skip-rows N\); choose one with --text-column"):
        require_column(frame, "text", source="a.csv")


def test_duplicate_column_names_are_refused_when_used(tmp_path):
    path = write(tmp_path / "d.csv", "id;text ;text\n1;карта;x\n".encode())
    frame = read_table(path)
    with pytest.raises(TableReadError, match=f"column 'text' appears twice in {path}; rename one"):
        require_column(frame, "text", source=str(path))
    require_column(frame, "id", source=str(path))  # the other columns are usable


def test_missing_column_lists_the_columns_that_exist():
    frame = pd.DataFrame({"id": ["1"], "message": ["x"], "date": ["y"]})
    with pytest.raises(TableReadError,
                       match=r"column 'text' not found in in\.csv; its columns are: "
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
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    jsonl = write(tmp_path / "a.jsonl", lines.encode())
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


def _sheet_with_dimension(path, rows, dimension):
    """A one-sheet workbook whose <dimension> record says ``dimension`` (``None``: no record).

    Programs other than Excel write it wrong or leave it out; openpyxl's
    read-only mode trusted it.
    """
    import re
    import zipfile

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    with zipfile.ZipFile(path) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    record = "" if dimension is None else f'<dimension ref="{dimension}"/>'
    sheet, found = re.subn(r"<dimension [^>]*/>", record, sheet)
    assert found == 1
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)
    return path


@pytest.mark.parametrize("dimension", ["A1", None])
def test_excel_sheet_size_record_is_not_trusted(tmp_path, dimension):
    rows = [["id", "text"], [1, "карта заблокирована"], [2, "не работает интернет", None],
            [3]]
    path = _sheet_with_dimension(tmp_path / "a.xlsx", rows, dimension)
    frame = read_table(path)
    assert column_as_ids(frame["id"].tolist()) == ["1", "2", "3"]
    assert column_as_texts(frame["text"].tolist()) == ["карта заблокирована",
                                                       "не работает интернет", ""]


def test_excel_value_right_of_the_header_is_an_error(tmp_path):
    rows = [["id", "text"], [1, "карта заблокирована"],
            [2, "не работает интернет", None, "комментарий оператора"], [3]]
    path = _sheet_with_dimension(tmp_path / "ragged.xlsx", rows, None)
    with pytest.raises(TableReadError, match=r"sheet 'Sheet' row 3 has a value in column D, "
                                             r"right of the header \(which ends at column B\)"):
        read_table(path)


def test_excel_skip_rows_and_duplicate_headers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in [["Отчёт по обращениям за неделю"], [], ["id", "text", "text", None, "дата"],
                [1000, "карта", "доп", None, "2024-01-01"]]:
        book.active.append(row)
    book.save(tmp_path / "dup.xlsx")
    frame = read_table(tmp_path / "dup.xlsx", skip_rows=2)
    assert frame.columns.tolist() == ["id", "text", "text", "Unnamed: 3", "дата"]
    with pytest.raises(TableReadError, match="column 'text' appears twice in dup.xlsx; rename one"):
        require_column(frame, "text", source="dup.xlsx")
    with pytest.raises(TableReadError, match="if row 1 is a title above the header, skip it "
                                             "with --skip-rows"):
        read_table(tmp_path / "dup.xlsx")


def test_excel_sheet_named_like_a_number_is_picked_by_name(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "2"
    book.active.append(["text"])
    book.active.append(["named two"])
    for title in ("a", "b"):
        sheet = book.create_sheet(title)
        sheet.append(["text"])
        sheet.append([f"sheet {title}"])
    book.save(tmp_path / "s.xlsx")
    assert read_table(tmp_path / "s.xlsx", sheet="2")["text"].tolist() == ["named two"]
    assert read_table(tmp_path / "s.xlsx", sheet=2)["text"].tolist() == ["sheet b"]
    assert read_table(tmp_path / "s.xlsx", sheet="1")["text"].tolist() == ["sheet a"]


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


def test_write_csv_is_utf8_with_bom_and_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    write_csv(pd.DataFrame({"text": ["Привет, мир"]}), path)
    # The BOM makes Excel (Russian locale) read UTF-8 instead of cp1251 mojibake.
    assert path.read_bytes().decode("utf-8") == '\ufefftext\n"Привет, мир"\n'

    def explode(self, fh, **kwargs):
        fh.write("half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"text": ["new"]}), path)
    assert path.read_bytes().decode("utf-8") == '\ufefftext\n"Привет, мир"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_written_csv_reads_back_unchanged(tmp_path, delimiter):
    frame = pd.DataFrame({"request_id": ["001", "x-2", "3"],
                          "text": ["Привет, мир; тест", "=HYPERLINK(\"http://x\")",
                                   'две\nстроки "так"'],
                          "status": ["assigned", "empty", "unassigned"]})
    path = tmp_path / "out.csv"
    write_csv(frame, path, delimiter=delimiter)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(read_table(path), frame, check_dtype=False)
    by_pandas = pd.read_csv(path, dtype=str, keep_default_na=False, sep=delimiter)
    pd.testing.assert_frame_equal(by_pandas, frame, check_dtype=False)  # no "\ufeffrequest_id"


def test_excel_safe_prefixes_formula_starts_only_when_asked(tmp_path):
    texts = ["=HYPERLINK(\"http://evil\",\"жми\")", "+7 916 123 45 67 перезвоните", "-5 баллов",
             "@all срочно", "обычный текст", "a=b", ""]
    frame = pd.DataFrame({"text": texts, "n": [1, 2, 3, 4, 5, 6, 7]})
    path = tmp_path / "safe.csv"
    write_csv(frame, path, excel_safe_cells=True)
    assert read_table(path)["text"].tolist() == [
        "'=HYPERLINK(\"http://evil\",\"жми\")", "'+7 916 123 45 67 перезвоните", "'-5 баллов",
        "'@all срочно", "обычный текст", "a=b", ""]
    assert read_table(path)["n"].tolist() == [str(i) for i in range(1, 8)]
    write_csv(frame, path)  # by default the data is written as it is
    assert read_table(path)["text"].tolist() == texts
    assert frame["text"].tolist() == texts  # the caller's frame is not changed


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


def test_quotes_in_a_one_column_file_that_are_not_csv_quoting_stay_in_the_texts(tmp_path):
    plain = write(tmp_path / "a.csv", 'text\n"Sber" app fails\n"карта, помогите\nok\n'.encode())
    assert read_table(plain)["text"].tolist() == ['"Sber" app fails', '"карта, помогите', "ok"]
    quoted = write(tmp_path / "b.csv", 'text\n"card, blocked"\n"two\nlines"\n'.encode())
    assert read_table(quoted)["text"].tolist() == ["card, blocked", "two\nlines"]
