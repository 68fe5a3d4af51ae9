"""``transiscope serve``: the endpoint's application (:mod:`transiscope.serve.app`) on a real HTTP server.

Why Hypercorn rather than uvicorn (the stack's default ASGI server): uvicorn starts no timer before a request's
headers are complete, so a client that opens a connection and sends half a request holds it for ever (checked
on uvicorn 0.55 with both of its HTTP parsers); Hypercorn's ``read_timeout`` closes it. Both parse HTTP strictly
(a negative or doubled Content-Length, Transfer-Encoding with Content-Length: 400 and the connection closed).

The socket is bound before anything else starts, so a busy port fails at once, and then the query workers start
(:mod:`transiscope.serve.workers`). :class:`Endpoint` runs in the calling thread and is stopped from another
with :meth:`Endpoint.shutdown` (tests, ``make airflow``), or by SIGINT/SIGTERM when it runs in the main thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading

from transiscope.serve.app import EndpointApp
from transiscope.serve.options import ServeSettings
from transiscope.serve.workers import WorkerPool
from transiscope.settings import Settings

__all__ = ["Endpoint", "ServeSettings", "serve_forever"]

log = logging.getLogger(__name__)
#: bytes of request line and headers a connection may send (a SPARQL query in a GET's URL included)
MAX_HEAD_BYTES = 256 * 1024


class Endpoint:
    """The HTTP server of the endpoint: bound at construction (``server_address`` tells the port when 0 was
    asked), serving in :meth:`serve_forever`, stopped by :meth:`shutdown`, released by :meth:`server_close`."""

    def __init__(self, settings: Settings, serve: ServeSettings) -> None:
        self.settings = settings
        self.serve = serve
        self.socket = socket.create_server((serve.host, serve.port), backlog=serve.backlog)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.pool = WorkerPool(serve.workers, serve.worker_mb * 2**20)
        self.app = EndpointApp(settings, serve, self.pool).starlette()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._done = threading.Event()

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or SIGINT/SIGTERM in the main thread)."""
        try:
            asyncio.run(self._main())
        finally:
            self._done.set()

    async def _main(self) -> None:
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(signum, self._stop.set)
        self._started.set()
        config = Config()
        # the server owns (and closes) the descriptor it is given: give it its own copy of the bound socket's
        config.bind = [f"fd://{os.dup(self.socket.fileno())}"]
        config.read_timeout = int(max(self.serve.connection_timeout, 1))
        config.keep_alive_timeout = self.serve.connection_timeout
        config.h11_max_incomplete_size = MAX_HEAD_BYTES
        config.graceful_timeout = 2.0
        config.accesslog = None
        config.errorlog = log
        await hypercorn_serve(self.app, config, shutdown_trigger=self._stop.wait, mode="asgi")  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """Stop serving (from another thread) and wait for the server to finish its open requests."""
        if not self._started.wait(10) or self._loop is None or self._stop is None:
            return
        if not self._done.is_set():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._done.wait(15)

    def server_close(self) -> None:
        self.socket.close()
        self.pool.close()


def serve_forever(settings: Settings, serve: ServeSettings, ready: threading.Event | None = None) -> None:
    endpoint = Endpoint(settings, serve)
    if ready is not None:
        ready.set()
    try:
        endpoint.serve_forever()
    finally:
        endpoint.server_close()
