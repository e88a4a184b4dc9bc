"""The ``llmcluster`` command line.

The main flows and the process-level contract (exit codes, one-line errors,
tracebacks only with --debug, no partial output) run the real console
script in a subprocess. The long table of input errors calls ``main()`` in
process: the same code path, without paying a Python start-up per row.

A fake OpenAI-compatible server (tests/fake_llm_servers.py) answering like
ScriptedProvider stands in for the LLM, so the LLM path, the call log and
the cache are exercised for real; ``demo`` uses the offline engine.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from fake_llm_servers import FakeOpenAI, scripted_responder
from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.cli import main
from sklearn_llmcluster.cli.output import OutputFolder, RESULT_FILES
from sklearn_llmcluster.cli.progress import CallLog, Progress

SECRET = "sk-test-do-not-log-4242"
LLMCLUSTER = shutil.which("llmcluster")
COMMAND = [LLMCLUSTER] if LLMCLUSTER else [sys.executable, "-m", "sklearn_llmcluster.cli"]
REQUESTS = [
    ("r01", "card blocked after payment"), ("r02", "card stolen yesterday"),
    ("r03", "card declined in shop"), ("r04", "login fails with error"),
    ("r05", "login code never arrives"), ("r06", "login page is blank"),
    ("r07", "доставка задерживается третий день"), ("r08", "доставка не пришла"),
    ("r09", ""), ("r10", "refund <script>alert(1)</script> please"),
]


@pytest.fixture(scope="module")
def llm():
    with FakeOpenAI(api_key=SECRET, responder=scripted_responder()) as server:
        yield server


@pytest.fixture
def spec(llm, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", SECRET)
    monkeypatch.chdir(tmp_path)  # no developer .env file
    return f"openai-compatible:scripted@{llm.url}/v1"


@pytest.fixture
def requests_csv(tmp_path) -> Path:
    path = tmp_path / "requests.csv"
    pd.DataFrame(REQUESTS, columns=["request_id", "text"]).to_csv(path, index=False)
    return path


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed console script (``python -m`` when it is not installed)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def run_main(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: usage errors and --help
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def result_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name in RESULT_FILES) \
        if folder.is_dir() else []


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# -- the console script: main flows -------------------------------------------------

def test_console_script_help(tmp_path):
    shown = cli("--help", cwd=tmp_path)
    assert shown.returncode == 0
    for command in ("fit", "predict", "update", "report", "demo"):
        assert command in shown.stdout


@pytest.mark.parametrize("command", ["fit", "predict", "update", "report", "demo"])
def test_every_subcommand_has_help(capsys, command):
    code, out, _ = run_main(capsys, command, "--help")
    assert code == 0
    assert f"usage: llmcluster {command}" in out and "--quiet" in out and "exit codes" in out


@pytest.mark.parametrize("command", ["fit", "predict", "update", "report", "demo"])
def test_help_shows_examples_that_parse(capsys, command):
    import shlex

    from sklearn_llmcluster.cli.parser import EXAMPLES, build_parser

    code, out, _ = run_main(capsys, command, "--help")
    assert code == 0 and "examples:" in out
    assert 2 <= len(EXAMPLES[command]) <= 3
    for _, line in EXAMPLES[command]:
        assert f"  {line}\n" in out
        argv = shlex.split(line)
        assert argv[:2] == ["llmcluster", command]
        args = build_parser().parse_args(argv[1:])  # a usage error would exit
        assert args.command == command


def test_fit_writes_every_result_file(tmp_path, spec, requests_csv, llm):
    out = tmp_path / "results"
    done = cli("fit", "--input", requests_csv, "--text-column", "text", "--id-column",
               "request_id", "--provider", spec, "--jobs", 2, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, "cache.sqlite"])

    assignments = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert assignments.columns.tolist() == ["request_id", "text", "cluster_id", "cluster_name",
                                            "kind", "category_id", "category_name", "status"]
    assert assignments["request_id"].tolist() == [r for r, _ in REQUESTS]
    by_id = assignments.set_index("request_id")
    assert by_id.loc["r01", "cluster_name"] == "card" == by_id.loc["r03", "cluster_name"]
    assert by_id.loc["r07", "text"] == "доставка задерживается третий день"
    assert by_id.loc["r09", "status"] == "empty" and by_id.loc["r09", "cluster_id"] == ""
    assert set(assignments["status"]) == {"assigned", "empty"}

    clusters = json.loads((out / "clusters.json").read_text(encoding="utf-8"))
    assert clusters["format"] == "sklearn_llmcluster.clusters"
    assert "доставка" in (out / "clusters.json").read_text(encoding="utf-8")  # not \u-escaped

    model = joblib.load(out / "model.joblib")
    assert isinstance(model, LLMClusterer) and model.n_clusters_ == len(clusters["clusters"])
    assert model.cache is None and model.llm_log is None  # the run's folder is not baked in

    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in report and report.count('<tr class="cluster-row') == model.n_clusters_
    assert "<script>alert(1)</script>" not in report

    log = [json.loads(line) for line in (out / "llm_log.jsonl").read_text("utf-8").splitlines()]
    assert log and {"step", "messages", "response", "prompt_tokens"} <= set(log[0])
    assert len(log) == model.llm_usage_.calls
    for name in RESULT_FILES:
        assert SECRET.encode() not in (out / name).read_bytes()

    assert "coverage 90.0% (9 assigned, 1 empty)" in done.stdout
    assert f"Files in {out}/: assignments.csv" in done.stdout
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_rerun_resumes_from_the_cache(capsys, tmp_path, spec, requests_csv, llm):
    args = ("fit", "--input", requests_csv, "--provider", spec, "--out", tmp_path / "o", "-q")
    assert run_main(capsys, *args)[0] == 0
    before = len(llm.generation_requests())
    code, out, _ = run_main(capsys, *args, "--overwrite")
    assert code == 0 and out == ""  # --quiet
    assert len(llm.generation_requests()) == before  # every answer came from the cache
    log = (tmp_path / "o" / "llm_log.jsonl").read_text("utf-8").splitlines()
    assert log and all(json.loads(line)["cached"] for line in log)


def test_update_predict_and_report(capsys, tmp_path, spec, requests_csv):
    first = tmp_path / "results"
    code = run_main(capsys, "fit", "-i", requests_csv, "--provider", spec, "-o", first, "-q")[0]
    assert code == 0
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in
                             ["loan overdue", "loan rate too high", "card blocked again"]),
                   encoding="utf-8")

    updated = cli("update", "--model", first / "model.joblib", "--input", new,
                  "--batch-id", "wk2", "--out", tmp_path / "results2", cwd=tmp_path)
    assert updated.returncode == 0, updated.stderr
    assert "New clusters (1): loan" in updated.stdout
    rows = pd.read_csv(tmp_path / "results2" / "assignments.csv", dtype=str)
    assert rows["request_id"].tolist() == ["req-wk2-0", "req-wk2-1", "req-wk2-2"]
    assert rows["status"].tolist() == ["new_cluster", "new_cluster", "assigned"]
    report = (tmp_path / "results2" / "report.html").read_text("utf-8")
    assert report.count('class="badge new"') == 1

    labelled = cli("predict", "-m", tmp_path / "results2" / "model.joblib", "-i", new,
                   "-o", tmp_path / "labelled", cwd=tmp_path)
    assert labelled.returncode == 0, labelled.stderr
    assert result_files(tmp_path / "labelled") == ["assignments.csv", "llm_log.jsonl"]
    predicted = pd.read_csv(tmp_path / "labelled" / "assignments.csv", dtype=str)
    assert predicted["cluster_id"].tolist() == rows["cluster_id"].tolist()
    assert set(predicted["status"]) == {"assigned"}  # predict never creates clusters
    assert joblib.load(first / "model.joblib").n_clusters_ + 1 == \
        joblib.load(tmp_path / "results2" / "model.joblib").n_clusters_

    (first / "report.html").unlink()
    rebuilt = cli("report", "--model", first / "model.joblib", "--price", "0.15", "0.6",
                  cwd=tmp_path)
    assert rebuilt.returncode == 0 and "Wrote" in rebuilt.stdout
    assert "per million tokens in / out" in (first / "report.html").read_text("utf-8")


def test_update_that_runs_out_of_budget_says_it_stopped_early(capsys, tmp_path, spec,
                                                              requests_csv):
    first = tmp_path / "results"
    assert run_main(capsys, "fit", "-i", requests_csv, "--provider", spec, "-o", first,
                    "-q")[0] == 0
    new = tmp_path / "new.csv"
    pd.DataFrame({"text": ["loan overdue", "loan rate too high", "card blocked again",
                           "mortgage papers lost"]}).to_csv(new, index=False)
    code, out, err = run_main(capsys, "update", "-m", first / "model.joblib", "-i", new,
                              "-o", tmp_path / "results2", "--max-llm-calls", 1)
    assert code == 0, err
    assert "budget ran out" in err
    # Not "No new clusters: every request fits ...": the budget stopped the run.
    assert "No new clusters" not in out
    rows = pd.read_csv(tmp_path / "results2" / "assignments.csv", dtype=str)
    left = int((rows["status"] == "unassigned").sum())
    assert left > 0
    assert (f"Stopped early: the LLM budget (--max-llm-calls 1) ran out before every request "
            f"was processed; {left} of 4 requests are left unassigned") in out


def test_predict_into_a_fit_folder_says_it_replaced_assignments(capsys, tmp_path, spec,
                                                                requests_csv):
    results = tmp_path / "results"
    assert run_main(capsys, "fit", "-i", requests_csv, "--provider", spec, "-o", results,
                    "-q")[0] == 0
    code, _, err = run_main(capsys, "predict", "-m", results / "model.joblib", "-i",
                            requests_csv, "-o", results, "-q", "--overwrite")
    assert code == 0, err
    assert f"warning: replaced {results / 'assignments.csv'} and llm_log.jsonl, written by " \
           f"the run that saved {results / 'model.joblib'}" in err
    code, _, err = run_main(capsys, "predict", "-m", results / "model.joblib", "-i",
                            requests_csv, "-o", tmp_path / "labelled", "-q")
    assert code == 0 and "replaced" not in err


@pytest.mark.parametrize("where", ["newdir/", "existing", "nested/deeper/"])
def test_report_out_folder_gets_report_html_inside(capsys, tmp_path, where, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "in.csv"
    pd.DataFrame({"text": [f"card blocked {i}" for i in range(6)]}).to_csv(path, index=False)
    _offline_fit(capsys, tmp_path, path)
    (tmp_path / "existing").mkdir()
    code, out, err = run_main(capsys, "report", "-m", tmp_path / "o" / "model.joblib",
                              "--out", where)
    assert code == 0, err
    folder = tmp_path / where.rstrip("/")
    assert folder.is_dir() and (folder / "report.html").is_file()  # not a file named newdir
    assert f"Wrote {folder.relative_to(tmp_path) / 'report.html'}" in out


@pytest.mark.parametrize("command", ["fit", "update", "predict"])
def test_out_into_a_folder_with_files_refuses_without_overwrite(capsys, tmp_path, command):
    path = tmp_path / "in.csv"
    pd.DataFrame({"text": [f"card blocked {i}" for i in range(6)]}).to_csv(path, index=False)
    _offline_fit(capsys, tmp_path, path)
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    given = ["--provider", "offline"] if command == "fit" else \
        ["-m", tmp_path / "o" / "model.joblib"]
    code, _, err = run_main(capsys, command, *given, "-i", path, "-o", folder)
    assert code == 2
    assert f"output folder {folder} is not empty (notes.txt); pass --overwrite" in err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]  # nothing written
    code, _, err = run_main(capsys, command, *given, "-i", path, "-o", folder,
                            "--overwrite", "-q")
    assert code == 0, err
    assert (folder / "assignments.csv").is_file() and (folder / "notes.txt").is_file()


def test_a_folder_holding_only_the_cache_of_a_failed_run_is_not_refused(capsys, tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"text": [f"card blocked {i}" for i in range(6)]}).to_csv(path, index=False)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "cache.sqlite").write_bytes(b"")
    code, _, err = run_main(capsys, "fit", "-i", path, "--provider", "offline", "-o",
                            tmp_path / "o", "-q")
    assert code == 0, err


def test_demo_replaces_its_own_folder_but_not_another(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, _, err = run_main(capsys, "demo", "--lang", "en", "-q")
        assert code == 0, err
    code, _, err = run_main(capsys, "demo", "--lang", "en", "-q", "--out", "llmcluster-demo")
    assert code == 2 and "--overwrite" in err


def test_demo_works_on_a_fresh_machine_without_an_llm(tmp_path):
    done = cli("demo", "--lang", "en", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "llmcluster-demo"
    assert result_files(out) == sorted(RESULT_FILES)
    assert "offline engine" in done.stderr and "Traceback" not in done.stderr
    assert "coverage" in done.stdout and "  #   size   share  cluster" in done.stdout
    assert "llmcluster-demo/report.html" in done.stdout
    assert "adjusted Rand index" in done.stdout


# -- the console script: failures -------------------------------------------------------

def test_failure_is_one_line_with_exit_code_1_and_debug_shows_the_traceback(
        tmp_path, requests_csv):
    args = ("fit", "--input", requests_csv, "--text-column", "body", "--out", tmp_path / "o")
    failed = cli(*args, cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    assert_one_line_error(failed.stderr, "llmcluster fit: error: column 'body' not found",
                          "'request_id', 'text'")
    debug = cli(*args, "--debug", cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("llmcluster fit: error: column")
    assert not (tmp_path / "o").exists()


def test_usage_error_exits_2_also_through_python_m(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sklearn_llmcluster.cli", "fit", "--input",
                           "x.csv", "--out", "o", "--limit", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--limit: must be at least 1" in done.stderr and "Traceback" not in done.stderr


def test_unwritable_output_folder(tmp_path, requests_csv):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    done = cli("fit", "-i", requests_csv, "-o", blocker / "sub", cwd=tmp_path)
    assert done.returncode == 1
    assert_one_line_error(done.stderr, f"cannot write to output folder {blocker / 'sub'}",
                          "Not a directory")


def test_no_partial_output_when_the_run_fails(tmp_path, requests_csv, llm, monkeypatch):
    out = tmp_path / "results"
    out.mkdir()
    (out / "assignments.csv").write_text("from an earlier run\n")
    # The server rejects this key: the first call fails for good, mid-run.
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-wrong")
    done = cli("fit", "-i", requests_csv, "--provider", f"openai-compatible:m@{llm.url}/v1",
               "-o", out, "--overwrite", cwd=tmp_path)
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "llmcluster fit: error:", "401")
    assert result_files(out) == ["assignments.csv"]
    assert (out / "assignments.csv").read_text() == "from an earlier run\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert "sk-wrong" not in done.stderr


# -- every input error, through main() --------------------------------------------------

def _bytes(text: str, codec: str = "utf-8") -> bytes:
    return text.encode(codec)


INPUT_ERRORS = {
    "missing file": (None, [], "input file not found: {input}"),
    "empty file": (b"", [], "{input} is empty"),
    "header only": (b"request_id,text\n", [], "{input} has a header but no data rows"),
    "undecodable bytes": (_bytes("text\nкарта\n", "cp1251"), ["--encoding", "utf-8"],
                          "{input} is not valid utf-8: byte 0xea at offset 5"),
    "malformed csv": (b'id,text\n1,"unclosed\n', [], "{input} is not well-formed delimited text"),
    "wrong delimiter": (b"request_id;text\n1;a\n", ["--delimiter", ","],
                        "column 'text' not found in {input}; its columns are: 'request_id;text' "
                        "(the header looks delimited by ';'"),
    "missing column": (b"id,message\n1,a\n", [],
                       "column 'text' not found in {input}; its columns are: 'id', 'message'"),
    "missing id column": (b"text\na\n", ["--id-column", "rid"],
                          "column 'rid' not found in {input}; its columns are: 'text'; "
                          "choose one with --id-column"),
    "start past the end": (b"text\na\nb\n", ["--start-from", "2"],
                           "--start-from 2 is past the last row of {input} (2 rows"),
    "missing business context": (b"text\na\n", ["--business-context", "nope.txt"],
                                 "business context file not found: nope.txt"),
    # An unquoted ';' in the first text made pandas take the ids for an index: texts
    # went to request_id, every text was empty, and the run exited 0.
    "unquoted delimiter in a text": (
        _bytes("id;text\n001;Здравствуйте; карта заблокирована\n002;не работает интернет\n"),
        ["--id-column", "id"],
        "{input} line 2 has 3 fields but the header names 2 column(s), with the delimiter "
        "';': a text probably contains an unquoted ';'; put such texts in double quotes"),
    "duplicate column": (_bytes("id;text ;text\n1;карта;x\n"), [],
                         "column 'text' appears twice in {input}; rename one"),
    "cp1252 read as cp1251": (_bytes("text\ncafé fermé, naïve résumé\n", "cp1252"), [],
                              "{input} is not UTF-8 (byte 0xe9 at offset 8) and does not look "
                              "like cp1251 Cyrillic text (read as cp1251, words would mix Latin "
                              "and Cyrillic letters, like 'cafй'"),
    "koi8-r read as cp1251": (_bytes("text\nПривет, не работает интернет\nВерните деньги\n",
                                     "koi8-r"), [],
                              "{input} is not UTF-8 (byte 0xf0 at offset 5) and does not look "
                              "like cp1251 Cyrillic text (read as cp1251, letters would not be "
                              "distributed like Russian ones"),
}


@pytest.mark.parametrize("case", list(INPUT_ERRORS))
def test_input_errors_are_one_line_and_leave_no_output(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data, extra, message = INPUT_ERRORS[case]
    path = tmp_path / "in.csv"
    if data is not None:
        path.write_bytes(data)
    out = tmp_path / "out"
    code, stdout, err = run_main(capsys, "fit", "--input", path, "--out", out, *extra)
    assert code == 1
    assert_one_line_error(err, "llmcluster fit: error: " + message.format(input=path))
    assert not out.exists()


@pytest.mark.parametrize("content, message", [
    (None, "model file not found"),
    (b"not a pickle", "model.joblib is not a model saved by llmcluster fit (pass the "
                      "model.joblib that fit or update wrote)"),
    ("id;text\n1;карта\n".encode("cp1251"), "is not a model saved by llmcluster fit"),
])
def test_bad_model_files(capsys, tmp_path, requests_csv, content, message):
    model = tmp_path / "model.joblib"
    if content is not None:
        model.write_bytes(content)
    code, _, err = run_main(capsys, "predict", "-m", model, "-i", requests_csv,
                            "-o", tmp_path / "o")
    assert code == 1
    assert_one_line_error(err, message)
    assert "load key" not in err and "\\x" not in err  # no raw bytes of the file
    joblib.dump({"not": "a model"}, model)
    code, _, err = run_main(capsys, "report", "-m", model)
    assert code == 1
    assert_one_line_error(err, "holds a dict, not a fitted LLMClusterer")


@pytest.mark.parametrize("codec, prefix", [("cp1251", b""), ("utf-8", b"\xef\xbb\xbf")])
def test_reads_cp1251_and_bom_files(capsys, tmp_path, spec, codec, prefix):
    path = tmp_path / "excel.csv"
    path.write_bytes(prefix + "Номер;Текст\n1;доставка не пришла\n2;доставка опять\n".encode(codec))
    code, out, err = run_main(capsys, "fit", "-i", path, "--text-column", "Текст",
                              "--id-column", "Номер", "--provider", spec, "-o", tmp_path / "o")
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "o" / "assignments.csv", dtype=str, encoding="utf-8")
    assert rows["request_id"].tolist() == ["1", "2"]
    assert rows["cluster_name"].tolist() == ["доставка", "доставка"]


def _offline_fit(capsys, tmp_path, path, *extra):
    out = tmp_path / "o"
    code, stdout, err = run_main(capsys, "fit", "-i", path, "--provider", "offline", "-o", out,
                                 "-q", "--overwrite", *extra)  # tests refit into one folder
    assert code == 0, err
    return out, stdout, err


def test_crm_export_trailing_delimiters_and_one_column_files_keep_every_text(capsys, tmp_path):
    crm = tmp_path / "crm.csv"
    crm.write_bytes("id;text\n001;карта заблокирована;\n002;не работает интернет;\n"
                    "003;верните деньги;\n".encode("cp1251"))
    out, _, _ = _offline_fit(capsys, tmp_path, crm, "--id-column", "id")
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows["request_id"].tolist() == ["001", "002", "003"]
    assert rows["text"].tolist() == ["карта заблокирована", "не работает интернет",
                                     "верните деньги"]

    one = tmp_path / "one.csv"
    one.write_text("text\nЗдравствуйте, карта заблокирована\nне работает, совсем, интернет\n",
                   encoding="utf-8")
    out, _, _ = _offline_fit(capsys, tmp_path, one)
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows["text"].tolist() == ["Здравствуйте, карта заблокирована",
                                     "не работает, совсем, интернет"]


def test_excel_sep_line_and_skip_rows(capsys, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("sep=;\r\nВыгрузка обращений за неделю\r\n\r\nrequest_id;text\r\n"
                     "ru-1;карта, заблокирована\r\nru-2;верните деньги\r\n".encode("cp1251"))
    out, _, _ = _offline_fit(capsys, tmp_path, path, "--skip-rows", "2",
                             "--id-column", "request_id")
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows["request_id"].tolist() == ["ru-1", "ru-2"]
    assert rows["text"].tolist() == ["карта, заблокирована", "верните деньги"]
    code, _, err = run_main(capsys, "fit", "-i", path, "--provider", "offline", "-o",
                            tmp_path / "o2")
    assert code == 1  # the title read as the header
    assert_one_line_error(err, "line 4 has 2 fields but the header names 1 column(s)",
                          "if line 2 is a title above the header, skip it with --skip-rows")


def test_assignments_csv_is_excel_friendly_on_request(capsys, tmp_path):
    path = tmp_path / "in.csv"
    texts = ['=HYPERLINK("http://evil.example","жми")', "+7 916 123 45 67 перезвоните",
             "@оператор помогите", "обычный текст"]
    pd.DataFrame({"text": texts}).to_csv(path, index=False)
    out, _, _ = _offline_fit(capsys, tmp_path, path)
    data = (out / "assignments.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrequest_id,text,")  # BOM: Excel reads UTF-8
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows.columns[0] == "request_id" and rows["text"].tolist() == texts  # default: as is

    out, _, _ = _offline_fit(capsys, tmp_path, path, "--excel-safe", "--out-delimiter", ";")
    assert (out / "assignments.csv").read_bytes().startswith(b"\xef\xbb\xbfrequest_id;text;")
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False, sep=";")
    assert rows["text"].tolist() == ["'" + texts[0], "'" + texts[1], "'" + texts[2], texts[3]]


def test_duplicate_request_ids_are_warned_about(capsys, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text\n001,a\n002,b\n001,c\n003,d\n003,e\n003,f\n,g\n,h\n",
                    encoding="utf-8")
    _, _, err = _offline_fit(capsys, tmp_path, path, "--id-column", "id")
    warning = [line for line in err.splitlines() if "more than once" in line]
    assert warning == [f"warning: 2 request id(s) appear more than once in {path} (e.g. '001', "
                       "2 times); every row is kept and labelled, but assignments.csv cannot "
                       "tell these rows apart by request_id"]


def test_business_context_that_is_not_utf8_gives_advice_that_works(capsys, tmp_path,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("text\na\n", encoding="utf-8")
    (tmp_path / "ctx.txt").write_bytes("Банк. ".encode("utf-8") + b"\x98\x98")
    code, _, err = run_main(capsys, "fit", "-i", "in.csv", "--business-context", "ctx.txt",
                            "--encoding", "utf-8", "-o", tmp_path / "o")
    assert code == 1
    assert_one_line_error(err, "business context file ctx.txt is not UTF-8",
                          "save it as UTF-8 (--encoding applies to --input only)")
    (tmp_path / "ctx.txt").write_bytes("Розничный банк, колл-центр".encode("cp1251"))
    assert run_main(capsys, "fit", "-i", "in.csv", "--business-context", "ctx.txt",
                    "--provider", "offline", "-o", tmp_path / "o", "-q")[0] == 0


def test_missing_api_key_says_which_variable_to_set(capsys, tmp_path, monkeypatch,
                                                    requests_csv):
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = run_main(capsys, "fit", "-i", requests_csv, "--provider",
                            "openai:gpt-4o-mini", "-o", tmp_path / "o")
    assert code == 1
    assert_one_line_error(err, "no API key for OpenAI", "set the environment variable "
                          "OPENAI_API_KEY (export OPENAI_API_KEY=...), or put a line "
                          "OPENAI_API_KEY=... in a .env file")
    assert "api_key=" not in err  # Python advice, not for the command line


def test_limit_start_from_and_generated_ids(capsys, tmp_path, spec):
    texts_only = tmp_path / "texts.csv"  # no id column: ids are generated
    pd.DataFrame({"text": [t for _, t in REQUESTS]}).to_csv(texts_only, index=False)
    code, _, err = run_main(capsys, "fit", "-i", texts_only, "--start-from", 2, "--limit", 3,
                            "--batch-id", "b7", "--provider", spec, "-o", tmp_path / "o", "-q")
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "o" / "assignments.csv", dtype=str)
    assert rows["request_id"].tolist() == ["req-b7-2", "req-b7-3", "req-b7-4"]
    assert rows["text"].tolist() == [t for _, t in REQUESTS[2:5]]


def test_report_name_taken_by_a_folder_fails_before_any_work(capsys, tmp_path, requests_csv, llm):
    out = tmp_path / "o"
    (out / "report.html").mkdir(parents=True)
    calls = len(llm.generation_requests())
    code, _, err = run_main(capsys, "fit", "-i", requests_csv, "-o", out, "--provider",
                            f"openai-compatible:m@{llm.url}/v1", "--overwrite")
    assert code == 1
    assert_one_line_error(err, "a folder has that name")
    assert len(llm.generation_requests()) == calls


def test_library_warnings_become_one_stderr_line_each(capsys, tmp_path, spec, requests_csv, llm):
    nonsense = {"id": "x", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "no JSON here"},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    llm.push(200, nonsense, times=3)  # the first call and both its retries
    # ... and the budget ends there: the run stops early with one warning.
    code, _, err = run_main(capsys, "fit", "-i", requests_csv, "--provider", spec, "-o",
                            tmp_path / "o", "--no-cache", "-q", "--max-llm-calls", "3")
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "budget ran out" in warning[0], err
    assert not (tmp_path / "o" / "cache.sqlite").exists()  # --no-cache


def test_interrupted_run_writes_nothing(capsys, tmp_path, requests_csv, monkeypatch):
    def interrupt(self, X, y=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(LLMClusterer, "fit", interrupt)
    code, _, err = run_main(capsys, "fit", "-i", requests_csv, "--provider", "offline",
                            "-o", tmp_path / "o")
    assert code == 130 and "interrupted; no result files were written" in err
    assert not (tmp_path / "o").exists()


def test_no_subcommand_prints_help_and_exits_2(capsys):
    code, _, err = run_main(capsys)
    assert code == 2 and "usage: llmcluster" in err


# -- progress and the output folder ------------------------------------------------------

def test_progress_prints_plain_lines_without_a_terminal(tmp_path):
    stream = io.StringIO()
    with Progress(enabled=True, stream=stream) as progress:
        log = CallLog(tmp_path / "log.jsonl", progress)
        for i in range(50):
            log({"step": "judge", "cached": i % 2 == 0})
        import logging

        logging.getLogger("sklearn_llmcluster").info("round 1: 3 new clusters")
    assert progress.calls == 50 and progress.cache_hits == 25
    lines = stream.getvalue().splitlines()
    assert "  25 LLM calls so far (13 from the cache)" in lines
    assert "  round 1: 3 new clusters" in lines
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 50


def test_progress_uses_tqdm_when_asked_and_degrades_without_it(monkeypatch):
    stream = io.StringIO()
    with Progress(enabled=True, stream=stream, use_tqdm=True) as progress:
        progress.call(cached=False)
    assert "LLM calls" in stream.getvalue()
    monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = io.StringIO()
    with Progress(enabled=True, stream=stream, use_tqdm=True) as progress:
        progress.message("round 1")
    assert stream.getvalue() == "  round 1\n"
    quiet = io.StringIO()
    with Progress(enabled=False, stream=quiet) as progress:
        progress.call(cached=True)
        progress.message("hidden")
    assert quiet.getvalue() == "" and progress.calls == 1


def test_abandoned_output_folder_leaves_nothing_it_created(tmp_path):
    out = OutputFolder(tmp_path / "new")
    out.prepare()
    staged = out.staged_log()
    staged.write_text("{}\n")
    out.abandon()
    assert not (tmp_path / "new").exists()
    kept = OutputFolder(tmp_path / "with-cache")
    kept.prepare()
    Path(kept.cache_path()).write_bytes(b"cache")
    kept.staged_log()
    kept.abandon()
    assert [p.name for p in (tmp_path / "with-cache").iterdir()] == ["cache.sqlite"]


def test_redact_report_shows_placeholders_in_report_html_only(capsys, tmp_path):
    path = tmp_path / "pii.csv"
    texts = [f"card blocked, call +7 912 345-67-{10 + i:02d}" for i in range(8)] + \
            [f"login fails, mail ivan{i}.petrov@mail.ru. С уважением, Иванова А.С."
             for i in range(8)]
    pd.DataFrame({"text": texts}).to_csv(path, index=False)
    out = tmp_path / "o"
    code, _, _ = run_main(capsys, "fit", "-i", path, "--provider", "offline", "-o", out, "-q",
                          "--redact-report")
    assert code == 0
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "345-67" not in report and "ivan0.petrov" not in report and "&lt;PHONE&gt;" in report
    assert "Иванова" not in report  # names too
    assert "345-67" in (out / "assignments.csv").read_text(encoding="utf-8-sig")
    code, _, _ = run_main(capsys, "report", "--model", out / "model.joblib", "-o",
                          tmp_path / "plain.html", "-q")
    assert code == 0 and "345-67" in (tmp_path / "plain.html").read_text(encoding="utf-8")


def test_a_request_id_column_is_used_without_being_named(capsys, tmp_path, spec, requests_csv):
    results = tmp_path / "results"
    assert run_main(capsys, "fit", "-i", requests_csv, "--provider", spec, "-o", results,
                    "-q")[0] == 0
    for command in ("predict", "update"):
        out = tmp_path / command
        code, _, err = run_main(capsys, command, "-m", results / "model.joblib", "-i",
                                requests_csv, "-o", out, "-q")
        assert code == 0, err
        written = pd.read_csv(out / "assignments.csv", dtype=str)
        given = pd.read_csv(requests_csv, dtype=str)
        assert written["request_id"].tolist() == given["request_id"].tolist()


def test_a_duplicated_request_id_header_is_named_even_when_not_asked_for(capsys, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("request_id,text,request_id\n1,card blocked,2\n", encoding="utf-8")
    code, _, err = run_main(capsys, "fit", "-i", path, "--provider", "offline", "-o",
                            tmp_path / "o")
    assert code != 0 and "request_id" in err and "appears twice" in err and "Traceback" not in err
