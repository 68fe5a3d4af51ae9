"""Serve the bundled sample payloads over HTTP on 127.0.0.1, so offline runs take the real HTTP path.

Each source's sample (``sample = ...`` in the registry) is served under ``/<source id>/`` followed by
the path and query of the source's real URL, so the extract code cannot tell the difference.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from transiscope.errors import ConfigError
from transiscope.registry import Registry, Source


class SampleServer:
    """A loopback HTTP server for the samples of a registry; use as a context manager."""

    def __init__(self, registry: Registry, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files: dict[str, Path] = {
            s.id: s.sample_path for s in registry.sources if s.sample_path is not None
        }
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                source_id = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
                path = files.get(source_id)
                if path is None or not path.exists():
                    self.send_error(404, "no sample for this source")
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # keep the CLI output clean
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, source: Source) -> str:
        if source.id not in self.files:
            raise ConfigError(f"source {source.id!r} has no bundled sample (add `sample = ...` to the registry)")
        parts = urlsplit(source.url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}/{source.id}{parts.path}{query}"

    def __enter__(self) -> SampleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def serve_samples(registry: Registry) -> Iterator[SampleServer]:
    with SampleServer(registry) as server:
        yield server
