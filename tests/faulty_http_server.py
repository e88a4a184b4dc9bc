"""Fake vendor servers that can also break the connection, for transport-fault tests.

:mod:`fake_llm_servers` already scripts statuses, bodies, headers and delays
with ``server.push(...)``: 429 with ``Retry-After``, 5xx, Anthropic's 529,
a truncated body, a delay longer than the client's read timeout. What it
cannot do is drop the connection. The servers here add
:meth:`FaultsMixin.push_reset`: the next generation requests are read,
recorded and answered with a TCP reset (``SO_LINGER`` 0, then close), which
the client sees as ``ConnectionResetError``.

Usage::

    with FaultyOpenAI(api_key=None, responder=scripted_responder()) as server:
        server.push_reset(times=2)
        server.push(503, {"error": {"message": "overloaded"}})
        ...
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

from fake_llm_servers import (
    FakeAnthropic,
    FakeOpenAI,
    Recorded,
    _Handler,
    _QuietServer,
)

__all__ = ["FaultsMixin", "FaultyOpenAI", "FaultyAnthropic", "closed_port_url"]


class _FaultyHandler(_Handler):
    def _handle(self, method: str) -> None:
        if self.fake._is_generation(self.path) and self.fake._take_reset():
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            self.fake._record(Recorded(method, self.path,
                                       {k.lower(): v for k, v in self.headers.items()},
                                       None, raw))
            # Linger 0 makes close() send RST instead of FIN: a reset, not an
            # orderly end of the response.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        super()._handle(method)

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the socket was reset above


class FaultsMixin:
    """Adds connection resets to a :class:`fake_llm_servers.FakeServer` subclass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resets = 0
        self._reset_lock = threading.Lock()

    def push_reset(self, times: int = 1) -> None:
        """Reset the connection of the next ``times`` generation requests.

        Resets are served before anything queued with ``push``.
        """
        with self._reset_lock:
            self._resets += times

    def _take_reset(self) -> bool:
        with self._reset_lock:
            if self._resets:
                self._resets -= 1
                return True
            return False

    def start(self):
        handler = type("Handler", (_FaultyHandler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self


class FaultyOpenAI(FaultsMixin, FakeOpenAI):
    """:class:`fake_llm_servers.FakeOpenAI` with connection resets."""


class FaultyAnthropic(FaultsMixin, FakeAnthropic):
    """:class:`fake_llm_servers.FakeAnthropic` with connection resets."""


def closed_port_url() -> str:
    """``http://127.0.0.1:<port>`` of a port nothing listens on (connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
