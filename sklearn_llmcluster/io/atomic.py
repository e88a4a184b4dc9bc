"""Writing result files so that a run killed half-way never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_bytes"]


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, rather
    # than racing other threads that create files on every write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _mode_for(path: Path) -> int:
    """Permissions ``open(path, "w")`` would leave: the old file's, or 0o666 less umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success.

    A reader sees the old file or the complete new one, never a partial file;
    on an exception the temporary file is removed and ``path`` is untouched.
    The file gets the permissions it had, or those of a newly created file
    (mkstemp's private 0o600 would make shared results unreadable to others).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        os.chmod(tmp, _mode_for(path))
        text_options = {} if binary else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **text_options) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 through :func:`atomic_open`."""
    with atomic_open(path, "w", newline="\n") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` through :func:`atomic_open`."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
