"""What each subcommand does: read, check, run the estimator, write, summarise."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..io.assignments import assignments_frame, generated_ids, new_batch_id
from ..estimator import OFFLINE_WARNING, LLMClusterer
from ..exceptions import LLMClusterWarning
from ..io.tables import (column_as_ids, column_as_texts, decode_bytes, read_table,
                         require_column)
from ..report import trends, write_report
from ..report.html import _describe_provider
from ..report.trends import parse_times
from .errors import EXIT_OK, CLIError
from .output import OutputFolder, attach_run_resources
from .parser import DEMO_FOLDER
from .progress import CallLog, Progress
from .summary import summary_lines

__all__ = ["COMMANDS"]


@dataclass
class Requests:
    """The rows a run works on."""

    ids: list[str]
    texts: list[str]
    labels: pd.Series | None = None  # reference labels (the demo data has them)
    times: pd.Series | None = None  # --time-column, parsed
    extra: pd.DataFrame | None = None  # input columns kept in assignments.csv


def _say(args: argparse.Namespace, line: str = "") -> None:
    if not args.quiet:
        print(line, flush=True)


def _warn(line: str) -> None:
    """A warning line on stderr; shown with ``--quiet`` too."""
    print(f"warning: {line}", file=sys.stderr, flush=True)


def _warn_about_duplicate_ids(ids: list[str], source: str) -> None:
    counts = Counter(i for i in ids if i)
    repeated = {i: n for i, n in counts.items() if n > 1}
    if repeated:
        example, times = next(iter(repeated.items()))
        _warn(f"{len(repeated)} request id(s) appear more than once in {source} "
              f"(e.g. {example!r}, {times} times); every row is kept and labelled, but "
              "assignments.csv cannot tell these rows apart by request_id")


def _read_requests(args: argparse.Namespace, batch_id: str) -> Requests:
    frame = read_table(args.input, encoding=args.encoding, sheet=args.sheet,
                       delimiter=args.delimiter, skip_rows=args.skip_rows)
    source = str(args.input)
    require_column(frame, args.text_column, source=source, option="--text-column")
    id_column = args.id_column
    if id_column:
        require_column(frame, id_column, source=source, option="--id-column")
    elif "request_id" in frame.columns and args.text_column != "request_id":
        # The column our own outputs have: predicting or updating on a file
        # written by an earlier run keeps its ids without being told.
        id_column = "request_id"
        require_column(frame, id_column, source=source, option="--id-column")
    start = args.start_from
    stop = len(frame) if args.limit is None else min(len(frame), start + args.limit)
    if start >= len(frame):
        raise CLIError(f"--start-from {start} is past the last row of {source} "
                       f"({len(frame)} rows, numbered from 0)")
    part = frame.iloc[start:stop]
    texts = column_as_texts(part[args.text_column].tolist())
    fallback = generated_ids(batch_id, range(start, stop))
    if id_column:
        own = column_as_ids(part[id_column].tolist())
        _warn_about_duplicate_ids(own, source)
        ids = [mine or made for mine, made in zip(own, fallback)]
    else:
        ids = fallback
    times = None
    if args.time_column:
        require_column(frame, args.time_column, source=source, option="--time-column")
        try:
            times = parse_times(part[args.time_column].tolist(),
                                source=f"--time-column {args.time_column!r} of {source}")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    return Requests(ids=ids, texts=texts, times=times,
                    extra=_kept_columns(args, part, source, (args.text_column, id_column)))


def _kept_columns(args: argparse.Namespace, part: pd.DataFrame, source: str,
                  own: tuple[str | None, ...]) -> pd.DataFrame | None:
    """The input columns ``--keep-columns`` asks for, besides the text and id."""
    choice = args.keep_columns
    if choice == "none":
        return None
    if choice == "all":
        names = [c for c in part.columns if c not in own]
    else:
        names = [n.strip() for n in choice.split(",") if n.strip()]
        for name in names:
            require_column(part, name, source=source, option="--keep-columns")
        names = [n for n in dict.fromkeys(names) if n not in own]
    return part[names] if names else None


def _read_context(path: str | None) -> str | None:
    """The ``--business-context`` file, decoded like an input file (BOM, UTF-8, cp1251).

    ``--encoding`` is the input's, not this file's: a file that is none of
    those encodings is asked to be saved as UTF-8.
    """
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"business context file not found: {path}")
    text, _ = decode_bytes(file.read_bytes(), source=f"business context file {path}",
                           advice="save it as UTF-8 (--encoding applies to --input only)")
    return text.strip() or None


def _cache_path(args: argparse.Namespace, out: OutputFolder) -> str | None:
    if args.no_cache:
        return None
    return args.cache or out.cache_path()


def _redact(value: str) -> Any:
    return {"auto": "auto", "yes": True, "no": False}[value]


def _report_options(args: argparse.Namespace, requests: Requests | None = None) -> dict:
    options: dict[str, Any] = {}
    if getattr(args, "price", None):
        options["price_per_million"] = tuple(args.price)
    if getattr(args, "redact_report", False):
        options["redact_pii"] = True
    if getattr(args, "report_language", "auto") != "auto":
        options["language"] = args.report_language
    if requests is not None:
        options["texts"] = requests.texts
        if requests.times is not None:
            options["times"] = requests.times
            options["period"] = args.period
    return options


def _trends(args: argparse.Namespace, requests: Requests, labels: Any,
            model: LLMClusterer) -> pd.DataFrame | None:
    if requests.times is None:
        return None
    return trends(labels, requests.times, model.clusters_, period=args.period)


def _trend_lines(table: pd.DataFrame | None) -> list[str]:
    """What trends.csv says in a sentence: the periods, and what emerged when."""
    if table is None:
        return []
    if table.empty:
        return ["Trends: no request has a time (--time-column), so trends.csv is empty."]
    periods = list(dict.fromkeys(table["period"]))
    lines = [f"Trends by {table.attrs['period']}, {periods[0]} to {periods[-1]} "
             f"({len(periods)} periods) in trends.csv."]
    if table.attrs.get("undated"):
        lines.append(f"  {table.attrs['undated']} requests have no time and are not counted.")
    emerging = table[table["emerging"]]
    if len(emerging):
        shown = ", ".join(f"{name} ({period})" for name, period in
                          zip(emerging["cluster_name"][:5], emerging["period"][:5]))
        more = f" and {len(emerging) - 5} more" if len(emerging) > 5 else ""
        lines.append(f"  Emerging: {shown}{more}.")
    return lines


def _output_folder(args: argparse.Namespace) -> OutputFolder:
    path, overwrite = args.out, args.overwrite
    if path is None and args.command == "demo":
        # The demo's own folder: rerunning the demo replaces what it wrote there.
        path, overwrite = DEMO_FOLDER, True
    return OutputFolder(path, csv_delimiter=args.out_delimiter, excel_safe=args.excel_safe,
                        overwrite=overwrite, table_format=args.format)


@dataclass
class RunOutcome:
    """What :func:`_run` saw besides the result."""

    result: Any
    budget_ran_out: bool = False


def _run(args: argparse.Namespace, out: OutputFolder, progress: Progress,
         work: Callable[[], Any]) -> RunOutcome:
    """Run ``work`` with progress, turning the library's warnings into stderr lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always" if args.debug else "ignore")
        # Inserted last, so it wins: the library's own warnings always show.
        warnings.simplefilter("always", LLMClusterWarning)
        with progress:
            outcome = RunOutcome(work())
    for warning in caught:
        message = str(warning.message)
        if message == OFFLINE_WARNING:
            if not args.quiet:
                print("note: no LLM provider is configured, so the offline engine named the "
                      "clusters after their typical requests; pass --provider (e.g. "
                      "ollama:qwen3:30b) for LLM-named clusters.", file=sys.stderr)
        elif issubclass(warning.category, LLMClusterWarning) or args.debug:
            print(f"warning: {' '.join(message.split())}", file=sys.stderr)
            if issubclass(warning.category, LLMClusterWarning) and "budget ran out" in message:
                outcome.budget_ran_out = True
    return outcome


def _stopped_early_line(args: argparse.Namespace, assignments: pd.DataFrame,
                        model: LLMClusterer) -> str:
    """Says that the LLM budget stopped the run, and how many rows it left without a cluster.

    The engine does not say which texts it never judged, so the count is of
    every unassigned row, those it did not get to among them.
    """
    left = int((assignments["status"] == "unassigned").sum())
    cap = getattr(model, "max_llm_calls", None)
    budget = f"the LLM budget (--max-llm-calls {cap})" if cap else "the LLM budget"
    rerun = "; rerun with a larger --max-llm-calls"
    if not args.no_cache:
        rerun += ": the cache replays the calls already made"
    return (f"Stopped early: {budget} ran out before every request was processed; {left} "
            f"of {len(assignments)} requests are left unassigned, including those it did "
            f"not get to{rerun}.")


def _cluster_file(args: argparse.Namespace, out: OutputFolder, requests: Requests,
                  *, lang: str | None = None) -> int:
    """``fit`` and ``demo``: a fresh model on ``requests``; every result file."""
    context = _read_context(args.business_context)
    out.prepare()
    progress = Progress(enabled=not args.quiet)
    try:
        params: dict[str, Any] = dict(
            provider=args.provider, business_context=context, random_state=args.seed,
            redact_pii=_redact(args.redact_pii), cache=_cache_path(args, out),
            llm_log=CallLog(out.staged_log(), progress), max_llm_calls=args.max_llm_calls)
        if args.batch_size:
            params["batch_size"] = args.batch_size
        if args.jobs:
            params["n_jobs"] = args.jobs
        model = LLMClusterer(**params)
        _say(args, f"Clustering {len(requests.texts)} requests ...")
        outcome = _run(args, out, progress, lambda: model.fit(requests.texts))
        assignments = assignments_frame(requests.ids, requests.texts, model.labels_,
                                        model.clusters_, extra=requests.extra)
        table = _trends(args, requests, model.labels_, model)
        files = out.write_results(model, assignments,
                                  report_options=_report_options(args, requests), trends=table)
    except BaseException:
        out.abandon()
        raise
    for line in summary_lines(assignments, model=model, out=out.path, files=files,
                              calls=progress.calls - progress.cache_hits,
                              cache_hits=progress.cache_hits,
                              provider=_describe_provider(model)):
        _say(args, line)
    for line in _trend_lines(table):
        _say(args, line)
    if outcome.budget_ran_out:
        _say(args, _stopped_early_line(args, assignments, model))
    if requests.labels is not None and not args.quiet:
        from sklearn.metrics import adjusted_rand_score

        score = adjusted_rand_score(requests.labels.astype(str), model.labels_)
        _say(args, f"Agreement with the demo's reference labels ({lang}): "
                   f"adjusted Rand index {score:.2f} (1 = identical, 0 = chance).")
    return EXIT_OK


def cmd_fit(args: argparse.Namespace) -> int:
    """``llmcluster fit``."""
    requests = _read_requests(args, args.batch_id or new_batch_id())
    return _cluster_file(args, _output_folder(args), requests)


def cmd_demo(args: argparse.Namespace) -> int:
    """``llmcluster demo``: the bundled requests through the same path as ``fit``."""
    from ..datasets import load_demo

    frame = load_demo(args.lang)
    requests = Requests(ids=column_as_ids(frame["request_id"].tolist()),
                        texts=column_as_texts(frame["text"].tolist()),
                        labels=frame["label"] if "label" in frame.columns else None)
    return _cluster_file(args, _output_folder(args), requests, lang=args.lang)


def _load_model(path: str) -> LLMClusterer:
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"model file not found: {path}")
    import joblib

    try:
        model = joblib.load(file)
    except (ImportError, AttributeError) as exc:
        # A pickle of classes this installation does not have (another version).
        raise CLIError(f"{path} cannot be loaded by this version of sklearn_llmcluster or "
                       f"its dependencies ({type(exc).__name__}: {exc}); rerun "
                       "llmcluster fit") from None
    except Exception:
        # Not a pickle at all: the error would quote its raw bytes.
        raise CLIError(f"{path} is not a model saved by llmcluster fit (pass the "
                       "model.joblib that fit or update wrote)") from None
    if not isinstance(model, LLMClusterer) or not hasattr(model, "registry_"):
        raise CLIError(f"{path} holds a {type(model).__name__}, not a fitted LLMClusterer")
    return model


def _with_existing_model(args: argparse.Namespace, *, update: bool) -> int:
    """``predict`` and ``update``: a saved model on new requests."""
    model = _load_model(args.model)
    requests = _read_requests(args, args.batch_id or new_batch_id())
    out = _output_folder(args)
    out.prepare()
    # predict writes assignments.csv alone: over fit's, it would no longer match
    # the model, clusters.json and report.html of that folder.
    replaces_fit = not update and (out.path / "assignments.csv").is_file() and \
        (out.path / "model.joblib").is_file()
    progress = Progress(enabled=not args.quiet)
    try:
        attach_run_resources(model, _cache_path(args, out), CallLog(out.staged_log(), progress))
        params: dict[str, Any] = {}
        if args.batch_size:
            params["batch_size"] = args.batch_size
        if args.jobs:
            params["n_jobs"] = args.jobs
        if args.max_llm_calls:
            params["max_llm_calls"] = args.max_llm_calls
        model.set_params(**params)
        _say(args, f"{'Updating the model with' if update else 'Labelling'} "
                   f"{len(requests.texts)} requests ...")
        if update:
            outcome = _run(args, out, progress, lambda: model.partial_fit(requests.texts))
            labels, new_ids = model.labels_, list(model.new_cluster_ids_)
        else:
            outcome = _run(args, out, progress, lambda: model.predict(requests.texts))
            labels, new_ids = outcome.result, []
        assignments = assignments_frame(requests.ids, requests.texts, np.asarray(labels),
                                        model.clusters_, new_cluster_ids=new_ids,
                                        extra=requests.extra)
        table = _trends(args, requests, np.asarray(labels), model)
        files = out.write_results(
            model, assignments, full=update,
            report_options=_report_options(args, requests) if update else None, trends=table)
    except BaseException:
        out.abandon()
        raise
    for line in summary_lines(assignments, model=model, out=out.path, files=files,
                              verb="Updated the model with" if update else "Labelled",
                              new_ids=new_ids, calls=progress.calls - progress.cache_hits,
                              cache_hits=progress.cache_hits, provider=_describe_provider(model)):
        _say(args, line)
    for line in _trend_lines(table):
        _say(args, line)
    if outcome.budget_ran_out:
        _say(args, _stopped_early_line(args, assignments, model))
    elif update and not new_ids:
        _say(args, "No new clusters: every request fits an existing cluster or none.")
    if replaces_fit:
        _warn(f"replaced {out.path / 'assignments.csv'} and llm_log.jsonl, written by the run "
              f"that saved {out.path / 'model.joblib'}; the clusters.json and report.html there "
              "still describe that run (use another --out to keep both)")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    """``llmcluster predict``."""
    return _with_existing_model(args, update=False)


def cmd_update(args: argparse.Namespace) -> int:
    """``llmcluster update``."""
    return _with_existing_model(args, update=True)


def _requests_beside(args: argparse.Namespace, model: LLMClusterer) -> Requests | None:
    """The requests of the run that saved the model, from its assignments.csv.

    They let the rebuilt report open each cluster to its requests; a file
    that does not match the model (another run's, edited) is not used.
    """
    path = Path(args.model).with_name("assignments.csv")
    if not path.is_file():
        if args.time_column:
            raise CLIError(f"--time-column needs the assignments.csv of the run next to "
                           f"{args.model}; it is not there")
        return None
    frame = read_table(path)
    if "text" not in frame.columns or len(frame) != len(model.labels_):
        if args.time_column:
            raise CLIError(f"{path} does not belong to {args.model} (another number of rows); "
                           "--time-column needs the assignments.csv of the run that saved it")
        return None
    times = None
    if args.time_column:
        require_column(frame, args.time_column, source=str(path), option="--time-column")
        try:
            times = parse_times(frame[args.time_column].tolist(),
                                source=f"--time-column {args.time_column!r} of {path}")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    return Requests(ids=[], texts=column_as_texts(frame["text"].tolist()), times=times)


def cmd_report(args: argparse.Namespace) -> int:
    """``llmcluster report``: rebuild ``report.html`` from ``model.joblib``."""
    model = _load_model(args.model)
    target = Path(args.out) if args.out else Path(args.model).with_name("report.html")
    if args.out and (args.out.endswith(("/", os.sep)) or target.is_dir()):
        # A folder, as for the other subcommands' --out: report.html in it.
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"cannot create folder {target}: {exc.strerror or exc}") from None
        target = target / "report.html"
    if not target.parent.is_dir():
        raise CLIError(f"cannot write {target}: folder {target.parent} does not exist")
    options = _report_options(args, _requests_beside(args, model))
    try:
        write_report(model, target, title=args.title, **options)
    except OSError as exc:
        raise CLIError(f"cannot write {target}: {exc.strerror or exc}") from None
    _say(args, f"Wrote {target} ({model.n_clusters_} clusters).")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fit": cmd_fit,
    "predict": cmd_predict,
    "update": cmd_update,
    "report": cmd_report,
    "demo": cmd_demo,
}
