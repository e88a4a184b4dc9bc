"""``llmcluster``: the command line.

``main`` is the console script's entry point; it returns the exit code
(0 success, 1 failure, 2 usage error) instead of exiting, so tests and
other programs can call it directly.
"""

from __future__ import annotations

import sys
import traceback
from typing import Sequence

from .commands import COMMANDS
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, one_line
from .parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmcluster`` with ``argv`` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : sequence of str, optional

    Returns
    -------
    int
        The exit code. Usage errors exit through argparse with code 2.
    """
    for stream in (sys.stdout, sys.stderr):
        # A console that cannot show Cyrillic must not turn a finished run into a crash.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("llmcluster: interrupted; no result files were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"llmcluster {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_FAILURE)
