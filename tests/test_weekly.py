"""The weekly review: trends over a date column, and exports that keep the export's columns.

Four weeks of generated requests go through ``llmcluster fit`` with a fake
OpenAI-compatible server answering like ScriptedProvider (a cluster per
first word), so which cluster appears in which week is known exactly.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from fake_llm_servers import FakeOpenAI, scripted_responder
from sklearn_llmcluster import Cluster, LLMClusterer, plot_trends, trends
from sklearn_llmcluster.cli import main
from sklearn_llmcluster.io.assignments import assignments_frame, clusters_frame
from sklearn_llmcluster.report.trends import choose_period, parse_times
from sklearn_llmcluster.testing import ScriptedProvider

KEY = "sk-weekly-test"
MONDAY = dt.date(2026, 11, 2)  # ISO week 45


@pytest.fixture(scope="module")
def llm():
    with FakeOpenAI(api_key=KEY, responder=scripted_responder()) as server:
        yield server


@pytest.fixture
def spec(llm, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    return f"openai-compatible:scripted@{llm.url}/v1"


def four_weeks() -> pd.DataFrame:
    """Card and login requests every week; refunds only from week 3, loans in week 4.

    Card requests double each week; dates are written as Russian exports
    write them (day first), with channel and amount columns besides.
    """
    rows = []
    per_week = {"card": [2, 4, 8, 16], "login": [3, 3, 3, 3], "refund": [0, 0, 4, 5],
                "loan": [0, 0, 0, 2]}
    for topic, counts in per_week.items():
        for week, count in enumerate(counts):
            for i in range(count):
                day = MONDAY + dt.timedelta(days=7 * week + i % 5)
                rows.append({"date": day.strftime("%d.%m.%Y") + f" {9 + i % 8}:15",
                             "text": f"{topic} problem number {week}-{i}",
                             "channel": ["chat", "phone"][i % 2], "amount": 100 * i})
    frame = pd.DataFrame(rows)
    frame.insert(0, "request_id", [f"r{i:03d}" for i in range(len(frame))])
    return frame


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_with_a_date_column_writes_trends_and_flags_what_emerged(capsys, tmp_path, spec):
    data = four_weeks()
    path = tmp_path / "export.csv"
    data.to_csv(path, index=False, sep=";")
    out = tmp_path / "results"
    code, stdout, err = run(capsys, "fit", "-i", path, "--provider", spec, "--time-column",
                            "date", "-o", out)
    assert code == 0, err
    assert "Trends by week, 2026-W45 to 2026-W48 (4 periods) in trends.csv." in stdout
    assert "Emerging: refund (2026-W47), loan (2026-W48)." in stdout

    table = pd.read_csv(out / "trends.csv", dtype={"cluster_id": str}, keep_default_na=False)
    assert list(table["period"].unique()) == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    named = table[table["label"] >= 0].set_index(["cluster_name", "period"])
    assert named.loc[("card", "2026-W47"), "count"] == 8
    assert named.loc[("card", "2026-W48"), "change"] == 8  # 8 -> 16
    assert named.loc[("card", "2026-W48"), "previous_count"] == 8
    assert named.loc[("login", "2026-W48"), "change"] == 0
    week3_total = 8 + 3 + 4
    assert named.loc[("refund", "2026-W47"), "share"] == pytest.approx(4 / week3_total)
    emerging = table[table["emerging"]]
    assert sorted(zip(emerging["cluster_name"], emerging["period"])) == [
        ("loan", "2026-W48"), ("refund", "2026-W47")]
    # Each period's counts add up to the requests of that period.
    per_period = table.groupby("period")["count"].sum().tolist()
    assert per_period == [5, 7, 15, 26] and sum(per_period) == len(data)

    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="trend-chart"' in report and "2026-W47" in report
    assert 'data-tags="emerging"' in report  # the refund and loan rows can be filtered on

    # assignments.csv keeps every input column after its own, row for row.
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows.columns.tolist() == ["request_id", "text", "cluster_id", "cluster_name",
                                     "kind", "category_id", "category_name", "status", "date",
                                     "channel", "amount"]
    assert rows[["request_id", "date", "channel", "amount"]].values.tolist() == \
        data[["request_id", "date", "channel", "amount"]].astype(str).values.tolist()

    clusters = pd.read_csv(out / "clusters.csv", dtype=str, keep_default_na=False)
    saved = json.loads((out / "clusters.json").read_text(encoding="utf-8"))["clusters"]
    assert clusters["cluster_id"].tolist() == [c["id"] for c in saved]
    assert {"label", "name", "size", "share", "status", "summary", "criteria",
            "examples"} <= set(clusters.columns)


def _export(kind: str, path) -> None:
    data = four_weeks().head(12).copy()
    data.loc[0, "text"] = "карта заблокирована, верните деньги"
    data["оператор"] = ["Иванова"] * len(data)
    if kind == "xlsx":
        data.to_excel(path, index=False)
    else:
        path.write_bytes(data.to_csv(index=False, sep=";").encode(
            "cp1251" if kind == "cp1251" else "utf-8"))


@pytest.mark.parametrize("kind", ["csv", "cp1251", "xlsx"])
def test_exports_keep_every_input_column(capsys, tmp_path, kind):
    path = tmp_path / ("export.xlsx" if kind == "xlsx" else "export.csv")
    _export(kind, path)
    out = tmp_path / "o"
    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "-o", out, "-q")
    assert code == 0, err
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows.columns.tolist()[4:8] == ["kind", "category_id", "category_name", "status"]
    assert rows.columns.tolist()[8:] == ["date", "channel", "amount", "оператор"]
    assert rows.loc[0, "text"] == "карта заблокирована, верните деньги"
    assert set(rows["оператор"]) == {"Иванова"}
    assert rows["request_id"].tolist() == [f"r{i:03d}" for i in range(12)]

    chosen = tmp_path / "chosen"
    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "-o", chosen, "-q",
                       "--keep-columns", "channel,оператор")
    assert code == 0, err
    rows = pd.read_csv(chosen / "assignments.csv", dtype=str)
    assert rows.columns.tolist()[8:] == ["channel", "оператор"]

    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "-o",
                       tmp_path / "bad", "--keep-columns", "chanel")
    assert code != 0 and "chanel" in err and "--keep-columns" in err
    assert not (tmp_path / "bad" / "assignments.csv").exists()


def test_format_xlsx_writes_one_workbook_with_every_table(capsys, tmp_path):
    import openpyxl

    path = tmp_path / "export.csv"
    data = four_weeks()
    data.loc[0, "text"] = "=HYPERLINK(\"http://x\")"  # stays text in the workbook
    data.to_csv(path, index=False)
    out = tmp_path / "o"
    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "--time-column",
                       "date", "--format", "xlsx", "-o", out, "-q")
    assert code == 0, err
    assert not (out / "assignments.csv").exists() and not (out / "trends.csv").exists()
    book = openpyxl.load_workbook(out / "results.xlsx")
    assert book.sheetnames == ["assignments", "clusters", "trends"]
    sheet = book["assignments"]
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["request_id", "text", "cluster_id", "cluster_name", "kind",
                          "category_id", "category_name", "status"]
    assert header[8:] == ["date", "channel", "amount"]
    assert sheet.max_row == len(data) + 1
    assert sheet["B2"].value == "=HYPERLINK(\"http://x\")" and sheet["B2"].data_type == "s"
    trend_header = [c.value for c in book["trends"][1]]
    assert "emerging" in trend_header and "change" in trend_header


def test_a_bad_date_is_named_before_any_work(capsys, tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame({"text": ["card a", "card b"], "date": ["2026-11-02", "next week"]}).to_csv(
        path, index=False)
    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "--time-column",
                       "date", "-o", tmp_path / "o")
    assert code == 1
    assert "'next week' in row 1" in err and "--time-column 'date'" in err
    assert not (tmp_path / "o").exists()
    code, _, err = run(capsys, "fit", "-i", path, "--provider", "offline", "--time-column",
                       "when", "-o", tmp_path / "o")
    assert code == 1 and "when" in err


def test_report_subcommand_rebuilds_drill_down_and_trends_from_the_folder(capsys, tmp_path):
    path = tmp_path / "export.csv"
    four_weeks().to_csv(path, index=False)
    out = tmp_path / "o"
    assert run(capsys, "fit", "-i", path, "--provider", "offline", "-o", out, "-q")[0] == 0
    (out / "report.html").unlink()
    code, _, err = run(capsys, "report", "-m", out / "model.joblib", "--time-column", "date",
                       "--period", "week", "--report-language", "ru", "-q")
    assert code == 0, err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="trend-chart"' in page and '<html lang="ru">' in page
    assert "refund problem number 2-0" in page  # the requests are in the page's data


# -- the Python API --------------------------------------------------------------------

def test_trends_counts_every_period_and_flags_first_appearances():
    clusters = [Cluster("c1", "card"), Cluster("c2", "refund")]
    labels = [0, 0, -1, 1, 0]
    times = ["2026-11-02", "2026-11-03", "2026-11-16", "2026-11-17", ""]
    table = trends(labels, times, clusters, period="week")
    # Week 46 has no request at all and is still a row (a gap, not a missing week).
    assert list(dict.fromkeys(table["period"])) == ["2026-W45", "2026-W46", "2026-W47"]
    card = table[table["cluster_id"] == "c1"]
    assert card["count"].tolist() == [2, 0, 0] and card["change"].tolist() == [2, -2, 0]
    assert table.loc[table["emerging"], "cluster_id"].tolist() == ["c2"]
    unassigned = table[table["label"] == -1]
    assert unassigned["cluster_name"].unique().tolist() == ["(unassigned)"]
    assert not unassigned["emerging"].any()
    assert table.attrs == {"period": "week", "undated": 1}


def test_trends_validates_its_input():
    clusters = [Cluster("c1", "card")]
    with pytest.raises(ValueError, match="period must be one of 'day', 'week', 'month'"):
        trends([0], ["2026-11-02"], clusters, period="year")
    with pytest.raises(ValueError, match="differ in length"):
        trends([0, 0], ["2026-11-02"], clusters)
    with pytest.raises(ValueError, match="'soon' in row 0"):
        trends([0], ["soon"], clusters)
    with pytest.raises(ValueError, match="5 in row 0"):
        trends([0], [5], clusters)  # a bare number is no date


def test_parse_times_reads_iso_day_first_excel_and_zoned_values():
    values = ["2026-11-02", "2026-11-02T10:00:00+03:00", "03.11.2026", "04.11.2026 10:15",
              dt.datetime(2026, 11, 5, 8), dt.date(2026, 11, 6), pd.Timestamp("2026-11-07"),
              None, "  "]
    stamps = parse_times(values)
    assert stamps.dt.strftime("%Y-%m-%d %H:%M").fillna("").tolist() == [
        "2026-11-02 00:00", "2026-11-02 07:00", "2026-11-03 00:00", "2026-11-04 10:15",
        "2026-11-05 08:00", "2026-11-06 00:00", "2026-11-07 00:00", "", ""]


@pytest.mark.parametrize("days, period", [(0, "day"), (14, "day"), (15, "week"),
                                          (182, "week"), (183, "month")])
def test_the_period_follows_the_span(days, period):
    times = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-01"]) + pd.to_timedelta(
        [0, days], unit="D"))
    assert choose_period(times) == period


def test_trends_of_a_fitted_model_and_plot_trends():
    data = four_weeks()
    model = LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0).fit(data["text"])
    table = trends(model.labels_, data["date"], model.clusters_)
    assert table.attrs["period"] == "week"
    assert set(table.loc[table["emerging"], "cluster_name"]) == {"refund", "loan"}
    fig = plot_trends(table, top=2)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["card", "login", "refund (new 2026-W47)", "loan (new 2026-W48)"]


def test_kept_columns_that_clash_with_ours_get_a_prefix():
    extra = pd.DataFrame({"status": ["open"], "date": ["2026-11-02"]})
    frame = assignments_frame(["r1"], ["card"], np.array([-1]), [], extra=extra)
    assert frame.columns.tolist() == ["request_id", "text", "cluster_id", "cluster_name",
                                      "kind", "status", "input_status", "date"]
    assert frame.loc[0, "input_status"] == "open" and frame.loc[0, "status"] == "unassigned"


def test_clusters_frame_has_every_field_of_a_cluster():
    import dataclasses

    table = clusters_frame([Cluster("c1", "card", size=2, examples=["a", "b"])])
    fields = {f.name for f in dataclasses.fields(Cluster)} - {"id"}
    assert fields <= set(table.columns)
    assert table.loc[0, "examples"] == "a\nb" and table.loc[0, "share"] == 1.0
