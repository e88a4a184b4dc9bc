"""``llmcluster edit``: an analyst's edits of a saved model, written back atomically.

``llmcluster edit --model results/model.joblib rename c3 "Блокировка карты"``
changes the model and writes ``model.joblib`` and the ``clusters.json`` next
to it (and ``report.html`` when there is one) only after every file is
rendered, each through a temporary file and a rename: a refused edit, a
failure or Ctrl-C leaves all of them as they were.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

from .errors import EXIT_OK, CLIError

__all__ = ["add_edit_parser", "cmd_edit"]

_EPILOG = """\
files written: the model file given with --model, and clusters.json and
report.html next to it (report.html only when it is there already). All are
rendered first and then replaced together; a refused edit writes nothing.
Every edit goes to the edit log kept in clusters.json, and later update and
predict runs respect it.

exit codes: 0 success, 1 failure (a one-line message; --debug shows the
traceback), 2 command-line usage error, 130 interrupted (Ctrl-C).
"""


def add_edit_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``edit`` subcommand (and its actions) to ``commands``."""
    edit = commands.add_parser(
        "edit", help="rename, merge, split, move, remove or lock clusters of a saved model",
        description="Edit the clusters of a saved model. The edits stick: later update and "
                    "predict runs respect them.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    edit.add_argument("--model", "-m", required=True, metavar="FILE",
                      help="model.joblib written by fit or update (rewritten in place)")
    edit.add_argument("--quiet", "-q", action="store_true",
                      help="print nothing but warnings and errors")
    edit.add_argument("--debug", action="store_true",
                      help="show the full traceback when something fails")
    actions = edit.add_subparsers(dest="action", metavar="ACTION", required=True)

    rename = actions.add_parser("rename", help="give a cluster a new name, summary or criteria")
    rename.add_argument("cluster_id")
    rename.add_argument("name", nargs="?", help="the new name")
    rename.add_argument("--summary", help="a new summary")
    rename.add_argument("--criteria", help="new inclusion criteria (what the judge reads)")

    merge = actions.add_parser("merge", help="merge clusters into the first one given")
    merge.add_argument("cluster_ids", nargs="+", metavar="CLUSTER_ID",
                       help="two or more clusters; the first one stays")
    merge.add_argument("--name", help="name of the merged cluster")

    split = actions.add_parser("split", help="split a cluster into sub-clusters found among "
                                             "its requests in a file")
    split.add_argument("cluster_id")
    _texts_input(split, required=True)

    move = actions.add_parser("move", help="pin requests to a cluster: they always get it")
    move.add_argument("cluster_id")
    move.add_argument("texts", nargs="*", metavar="TEXT", help="requests to move")
    _texts_input(move, required=False)

    for name, what in (("remove", "remove a cluster: its requests go back to unassigned"),
                       ("lock", "lock a cluster: never renamed, merged or removed "
                                "automatically"),
                       ("unlock", "unlock a cluster")):
        action = actions.add_parser(name, help=what)
        action.add_argument("cluster_id")
    return edit


def _texts_input(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--input", "-i", required=required, metavar="FILE",
                        help="file of requests (.csv, .xlsx, .jsonl ...)")
    parser.add_argument("--text-column", default="text", metavar="NAME",
                        help="column with the request texts (default: %(default)s)")


def _read_texts(args: argparse.Namespace) -> list[str]:
    from ..io.tables import column_as_texts, read_table, require_column

    frame = read_table(args.input)
    require_column(frame, args.text_column, source=str(args.input), option="--text-column")
    return column_as_texts(frame[args.text_column].tolist())


def _apply(model: Any, args: argparse.Namespace) -> str:
    """Make the edit; returns the line that says what was done."""
    action = args.action
    if action == "rename":
        if args.name is None and args.summary is None and args.criteria is None:
            raise CLIError("rename needs a new name, --summary or --criteria")
        cluster = model.rename_cluster(args.cluster_id, args.name, summary=args.summary,
                                       criteria=args.criteria)
        return f"Renamed {cluster.id}: {cluster.name}"
    if action == "merge":
        if len(args.cluster_ids) < 2:
            raise CLIError("merge needs two or more cluster ids")
        cluster = model.merge_clusters(args.cluster_ids, name=args.name)
        return f"Merged {', '.join(args.cluster_ids[1:])} into {cluster.id}: {cluster.name}"
    if action == "split":
        made = model.split_cluster(args.cluster_id, _read_texts(args))
        return (f"Split {args.cluster_id} into " +
                ", ".join(f"{c.id} ({c.name})" for c in made))
    if action == "move":
        texts = list(args.texts) + (_read_texts(args) if args.input else [])
        if not texts:
            raise CLIError("move needs requests: give them after the cluster id, or --input")
        cluster = model.move_texts(texts, args.cluster_id)
        return f"Moved {len(texts)} request(s) to {cluster.id}: {cluster.name}"
    if action == "remove":
        cluster = model.remove_cluster(args.cluster_id)
        return f"Removed {cluster.id}: {cluster.name}"
    cluster = (model.lock_cluster if action == "lock" else model.unlock_cluster)(args.cluster_id)
    return f"{'Locked' if action == 'lock' else 'Unlocked'} {cluster.id}: {cluster.name}"


def cmd_edit(args: argparse.Namespace) -> int:
    """``llmcluster edit``."""
    import joblib

    from ..io.atomic import atomic_write_bytes, atomic_write_text
    from ..report import build_report
    from ..taxonomy.registry import clusters_file_text
    from .commands import _load_model

    model_path = Path(args.model)
    model = _load_model(args.model)
    try:
        line = _apply(model, args)
    except KeyError as exc:
        raise CLIError(exc.args[0] if exc.args else str(exc)) from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    # Everything rendered before anything is written.
    clusters_path = model_path.with_name("clusters.json")
    report_path = model_path.with_name("report.html")
    clusters_text = clusters_file_text(model, clusters_path)
    report = build_report(model) if report_path.is_file() else None
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    atomic_write_bytes(model_path, buffer.getvalue())
    atomic_write_text(clusters_path, clusters_text)
    written = [model_path, clusters_path]
    if report is not None:
        atomic_write_text(report_path, report)
        written.append(report_path)
    if not args.quiet:
        print(line)
        print(f"Wrote {', '.join(str(p) for p in written)}.")
    return EXIT_OK
