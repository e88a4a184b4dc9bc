"""How the CLI fails: one line on stderr and an exit code, a traceback only with ``--debug``."""

from __future__ import annotations

import re

from ..exceptions import LLMClusterError

__all__ = ["CLIError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED", "one_line"]

EXIT_OK = 0
EXIT_FAILURE = 1
#: argparse's own code for a command line it cannot parse.
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A failure the user can fix; its message is printed as is.

    Parameters
    ----------
    message : str
    exit_code : int, default=EXIT_FAILURE
        :data:`EXIT_USAGE` for a command line that asks for something refused
        before any work (an ``--out`` folder that is not empty).
    """

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# The providers' advice for Python users; a CLI user sets the variable.
_API_KEY_ADVICE = re.compile(r"set (\w+) in the environment or \.env, or pass api_key=")


def _for_the_command_line(text: str) -> str:
    return _API_KEY_ADVICE.sub(
        lambda m: (f"set the environment variable {m[1]} (export {m[1]}=...), or put a line "
                   f"{m[1]}=... in a .env file in the folder you run llmcluster from"), text)


def one_line(exc: BaseException) -> str:
    """The message printed for ``exc``: one line, saying what went wrong."""
    if isinstance(exc, (CLIError, LLMClusterError)):
        text = _for_the_command_line(str(exc))
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = f"{type(exc).__name__}: {exc} (rerun with --debug to see the traceback)"
    return " ".join(text.split())
