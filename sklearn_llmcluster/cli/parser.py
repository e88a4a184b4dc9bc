"""The ``llmcluster`` command line: subcommands, options and their help."""

from __future__ import annotations

import argparse

from .._version import __version__

__all__ = ["build_parser", "DEMO_FOLDER", "EXAMPLES"]

#: Where ``llmcluster demo`` writes without ``--out``; every demo run replaces it.
DEMO_FOLDER = "llmcluster-demo"

_DESCRIPTION = """\
Turn customer requests into named clusters with an LLM (or the offline
engine when none is configured). Start with `llmcluster demo`.
"""

_EXIT_CODES = """\
exit codes: 0 success, 1 failure (a one-line message; --debug shows the
traceback), 2 command-line usage error, 130 interrupted (Ctrl-C).
"""

#: What a run that clusters and saves a model writes (fit, update, demo).
_FILES = f"""\
files written to --out: assignments.csv (request_id, text, cluster_id,
cluster_name, status, then the input's other columns; UTF-8 with a
byte-order mark, so that Excel reads it), clusters.csv, trends.csv (with
--time-column), clusters.json, model.joblib, report.html and llm_log.jsonl
(one JSON line per LLM call), all UTF-8; with --format xlsx the three
tables are sheets of results.xlsx instead. A failed run writes none of them;
only the response cache (cache.sqlite) stays, so that a rerun resumes
without repeating LLM calls.

{_EXIT_CODES}"""

_PREDICT_FILES = f"""\
files written to --out: assignments.csv (request_id, text, cluster_id,
cluster_name, status, then the input's other columns; UTF-8 with a
byte-order mark, so that Excel reads it), trends.csv with --time-column,
and the run's own LLM log (one JSON line per LLM call). The model is not
changed. A failed run writes neither; only the response cache
(cache.sqlite) stays, so that a rerun resumes without repeating LLM calls.

{_EXIT_CODES}"""

_REPORT_FILES = f"""\
file written: report.html, one self-contained page (its script and data
inline, nothing fetched from the network), next to the model unless --out
says otherwise. The requests come from the assignments.csv next to the
model when it is there. No LLM is called.

{_EXIT_CODES}"""

_OVERVIEW = f"""\
fit, update and demo write to --out: assignments.csv, clusters.csv,
clusters.json, model.joblib, report.html, llm_log.jsonl and, with
--time-column, trends.csv; predict writes assignments.csv and its own LLM
log; report writes report.html. --out must be a new or empty folder unless
--overwrite. `llmcluster COMMAND --help`
says more.

{_EXIT_CODES}"""


#: Two or three real command lines per subcommand, shown by ``--help``
#: (tests/test_cli.py parses every one of them).
EXAMPLES = {
    "fit": [
        ("cluster a CRM export (cp1251, ';') with a local LLM; keep its columns",
         "llmcluster fit -i export.csv --text-column text --id-column request_id "
         "--provider ollama:qwen3:30b --out results/"),
        ("this week's Excel export, with trends by the 'created' column",
         "llmcluster fit -i week48.xlsx --time-column created --period week "
         "--business-context context.txt --out week48/"),
        ("no LLM, one workbook instead of CSV files, into a folder used before",
         "llmcluster fit -i requests.csv --provider offline --format xlsx --out results/ "
         "--overwrite"),
    ],
    "predict": [
        ("label next week's requests with last week's clusters (no new cluster)",
         "llmcluster predict -m week48/model.joblib -i week49.csv --out week49-labels/"),
        ("only some columns of the export, and ';' for Excel",
         "llmcluster predict -m results/model.joblib -i new.csv --keep-columns date,channel "
         "--out-delimiter ';' --out labelled/"),
    ],
    "update": [
        ("the weekly loop: add this week to last week's model, new clusters only for what "
         "is new",
         "llmcluster update -m week48/model.joblib -i week49.xlsx --time-column created "
         "--out week49/"),
        ("cap the LLM calls of the run (a rerun resumes from the cache)",
         "llmcluster update -m results/model.joblib -i next.csv --max-llm-calls 200 "
         "--out results2/"),
    ],
    "report": [
        ("rebuild report.html next to the model, with trends from its assignments.csv",
         "llmcluster report -m week49/model.joblib --time-column created"),
        ("a copy to mail around: personal data as placeholders, English headings",
         "llmcluster report -m results/model.joblib --redact-report --report-language en "
         "--out shared/report.html"),
    ],
    "demo": [
        ("the bundled Russian requests, no LLM needed",
         "llmcluster demo"),
        ("the English ones, with a local LLM, into another folder",
         "llmcluster demo --lang en --provider ollama:qwen3:30b --out demo-en/"),
    ],
}


def _examples(command: str) -> str:
    lines = ["examples:"]
    for what, line in EXAMPLES[command]:
        lines += [f"  # {what}", f"  {line}"]
    return "\n".join(lines) + "\n\n"


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def _positive_int(value: str) -> int:
    number = _whole_number(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _non_negative_int(value: str) -> int:
    number = _whole_number(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def _jobs(value: str) -> int:
    number = _whole_number(value)
    if number == 0 or number < -1:
        raise argparse.ArgumentTypeError(
            f"must be a positive number or -1 (all cores), got {number}")
    return number


def _price(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a price in dollars, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"a price cannot be negative, got {number}")
    return number


def _delimiter(value: str) -> str:
    value = {"tab": "\t", "\\t": "\t"}.get(value, value)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {value!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output and diagnostics")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="print nothing but warnings and errors")
    group.add_argument("--debug", action="store_true",
                       help="show the full traceback when something fails")


def _input(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input")
    group.add_argument("--input", "-i", required=True, metavar="FILE",
                       help="requests: .csv (delimiter sniffed), .tsv, .jsonl, .json, "
                            ".parquet (pyarrow) or .xlsx (openpyxl)")
    group.add_argument("--text-column", default="text", metavar="NAME",
                       help="column with the request texts (default: %(default)s)")
    group.add_argument("--id-column", metavar="NAME",
                       help="column with request ids (default: a 'request_id' column when the "
                            "file has one, else ids are req-<batch-id>-<row>)")
    group.add_argument("--limit", type=_positive_int, metavar="N", help="only N rows")
    group.add_argument("--start-from", type=_non_negative_int, default=0, metavar="ROW",
                       help="first row to use, 0-based (default: 0)")
    group.add_argument("--batch-id", metavar="ID",
                       help="name of this batch, used in generated ids "
                            "(default: batch-<UTC time>-<random>)")
    group.add_argument("--encoding", metavar="CODEC",
                       help="encoding of a text file, e.g. cp1252 or koi8-r (default: "
                            "detected: BOM, UTF-8, cp1251)")
    group.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                       help="CSV field delimiter, e.g. ';' or tab (default: an Excel "
                            "'sep=;' first line, else sniffed)")
    group.add_argument("--sheet", metavar="NAME",
                       help="Excel sheet name, or 0-based number when no sheet has that "
                            "name (default: the first)")
    group.add_argument("--time-column", metavar="NAME",
                       help="column with when each request came (2026-11-02, 02.11.2026 "
                            "10:15, Excel dates ...): adds trends.csv and the report's trend "
                            "chart (counts per period, change, emerging clusters)")
    group.add_argument("--period", choices=("day", "week", "month"),
                       help="period of the trends (default: from the span of the times: up "
                            "to two weeks by day, up to half a year by week, else by month)")
    group.add_argument("--keep-columns", default="all", metavar="NAMES",
                       help="input columns copied into assignments.csv after its own: 'all' "
                            "(default), 'none', or names separated by commas "
                            "(e.g. date,channel)")
    group.add_argument("--skip-rows", type=_non_negative_int, default=0, metavar="N",
                       help="rows above the header (a title, an export date) to skip in a "
                            "CSV or Excel file; an Excel 'sep=;' line does not count "
                            "(default: 0)")


def _llm(parser: argparse.ArgumentParser, *, provider: bool) -> None:
    group = parser.add_argument_group("LLM work")
    if provider:
        group.add_argument("--provider", metavar="SPEC",
                           help="LLM to use: 'ollama:qwen3:30b', 'openai:gpt-4o-mini', "
                                "'anthropic:claude-haiku-4-5', 'offline' ... (default: from "
                                "DEFAULT_LLM_PROVIDER / .env, else a local Ollama, else offline)")
        group.add_argument("--business-context", metavar="FILE",
                           help="text file (UTF-8 or cp1251) describing the business; goes "
                                "into every prompt")
        group.add_argument("--seed", type=int, default=0,
                           help="random seed for reproducible runs (default: %(default)s)")
        group.add_argument("--redact-pii", choices=("auto", "yes", "no"), default="auto",
                           help="replace e-mails, phones, cards ... before texts are sent "
                                "(auto: for remote providers only; default: %(default)s)")
    group.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="requests per LLM judge call (default: 30, or the model's)")
    group.add_argument("--jobs", type=_jobs, metavar="N",
                       help="parallel LLM calls (default: 4, or the model's; -1: all cores)")
    group.add_argument("--max-llm-calls", type=_positive_int, metavar="N",
                       help="stop calling the LLM after N calls; the rest stays unassigned")
    cache = group.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="FILE",
                       help="SQLite response cache, so a rerun resumes (default: OUT/cache.sqlite)")
    cache.add_argument("--no-cache", action="store_true", help="do not cache LLM responses")


def _csv_output(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tables (assignments, clusters, trends)")
    group.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                       help="csv: assignments.csv, clusters.csv and trends.csv; xlsx: one "
                            "workbook results.xlsx with a sheet for each (needs openpyxl; "
                            "default: %(default)s)")
    group.add_argument("--out-delimiter", type=_delimiter, default=",", metavar="CHAR",
                       help="field delimiter of assignments.csv (default: ','; ';' is what "
                            "Excel expects where the decimal separator is a comma)")
    group.add_argument("--excel-safe", action="store_true",
                       help="put a ' before texts starting with = + - or @, so that Excel "
                            "shows them instead of running them as formulas (changes the data)")


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", required=True, metavar="FILE",
                        help="model.joblib written by fit or update")


def _out_folder_option(parser: argparse.ArgumentParser, *, required: bool = True,
                       help_text: str = "output folder; must be empty or new unless "
                                        "--overwrite (a response cache alone is fine)") -> None:
    parser.add_argument("--out", "-o", required=required, metavar="FOLDER", help=help_text)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results already in --out (without it, a folder "
                             "holding files is refused with exit code 2 and nothing is written)")


def _report_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price", nargs=2, type=_price, metavar=("IN", "OUT"),
                        help="dollars per million prompt and completion tokens, "
                             "for the report's cost line")
    parser.add_argument("--report-language", choices=("auto", "ru", "en"), default="auto",
                        help="language of the report's headings (default: %(default)s, that "
                             "of the requests)")
    parser.add_argument("--redact-report", action="store_true",
                        help="show names, e-mails, phones, cards, accounts and other "
                             "personal data in report.html as placeholders (<NAME>, <PHONE>), "
                             "for a report that is mailed around; other outputs keep the "
                             "texts as given")


def build_parser() -> argparse.ArgumentParser:
    """The ``llmcluster`` argument parser with its five subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="llmcluster", description=_DESCRIPTION, epilog=_OVERVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, description: str,
                files: str = _FILES) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=description,
                                   epilog=_examples(name) + files,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    fit = command("fit", "find clusters in a file of requests",
                  "Find clusters in a file of requests and label every request.")
    _input(fit)
    _llm(fit, provider=True)
    _out_folder_option(fit)
    _csv_output(fit)
    _report_option(fit)
    _common(fit)

    predict = command("predict", "label new requests with an existing model's clusters",
                      "Label new requests with the clusters of a saved model; no cluster is "
                      "created and the model is not changed. Writes assignments.csv and "
                      "its own LLM log.", files=_PREDICT_FILES)
    _model_option(predict)
    _input(predict)
    _llm(predict, provider=False)
    _out_folder_option(predict)
    _csv_output(predict)
    _common(predict)

    update = command("update", "add new requests to a model; new clusters may appear",
                     "Label new requests with a saved model's clusters and propose clusters "
                     "for what none covers (partial_fit). The new clusters are listed and "
                     "marked in the report; the updated model goes to --out.")
    _model_option(update)
    _input(update)
    _llm(update, provider=False)
    _out_folder_option(update)
    _csv_output(update)
    _report_option(update)
    _common(update)

    report = command("report", "rebuild report.html from a saved model",
                     "Rebuild the HTML report of a saved model.", files=_REPORT_FILES)
    _model_option(report)
    report.add_argument("--out", "-o", metavar="FILE",
                        help="HTML file to write, or a folder (an existing one, or a name "
                             "ending in /) to write report.html in (default: report.html "
                             "next to the model)")
    report.add_argument("--title", help="page title (default: 'Request clusters' in the "
                                        "report's language)")
    report.add_argument("--time-column", metavar="NAME",
                        help="column of the assignments.csv next to the model with when each "
                             "request came: adds the trend chart")
    report.add_argument("--period", choices=("day", "week", "month"),
                        help="period of the trend chart (default: from the span of the times)")
    _report_option(report)
    _common(report)

    demo = command("demo", "run the whole job on bundled demo requests",
                   "Cluster the bundled demo requests and write every result file. Uses the "
                   "offline engine (no LLM needed) unless a provider is configured.")
    demo.add_argument("--lang", choices=("ru", "en", "all"), default="ru",
                      help="language of the demo requests (default: %(default)s)")
    _out_folder_option(demo, required=False,
                       help_text=f"output folder (default: ./{DEMO_FOLDER}, which each demo "
                                 "run replaces; another folder must be empty or new unless "
                                 "--overwrite)")
    _llm(demo, provider=True)
    _csv_output(demo)
    _report_option(demo)
    _common(demo)
    return parser
