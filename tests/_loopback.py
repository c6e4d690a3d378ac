"""A loopback HTTP server for the tests that closes, when it is closed,
the connections clients keep alive: their handler threads end with it.

gofutures.http keeps idle connections in Go's pool for 90 s, and
http.server serves each one on a thread until the client closes it; a
module's server left a thread per idle connection behind for later tests
that count threads."""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Any


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening, and end every connection still open (the handler
        threads see their end and exit)."""
        super().server_close()
        with self._open_lock:
            open_now = list(self._open)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
