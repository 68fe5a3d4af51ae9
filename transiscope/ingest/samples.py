"""Serve the bundled sample payloads over HTTP on 127.0.0.1, so offline runs take the real HTTP path.

Each source's sample (``sample = ...`` in the registry) is served under ``/<source id>/`` followed by
the path and query of the source's real URL, so the extract code cannot tell the difference.

A multi-request source (tiling, pagination, index then profiles) has as sample a recorded run: the
JSON list of pages its connector fetched (``{"url", "params", "payload"}``). Each request is answered
with the page recorded for the same host, path and query, under ``/<source id>/_/<host>/<path>``, and
every recorded origin in the answers points back to this server, so links between pages (profile URLs,
next pages) stay on 127.0.0.1. A recorded page may name ``volatile`` parameters (Karte von morgen's
``start_min``, which depends on the day of the run): they are left out when requests and pages are compared.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from transiscope.core.errors import ConfigError
from transiscope.registry.sources import Registry, Source


class SampleServer:
    """A loopback HTTP server for the samples of a registry; use as a context manager."""

    def __init__(self, registry: Registry, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files: dict[str, Path] = {s.id: s.sample_path for s in registry.sources if s.sample_path is not None}
        self.recorded: dict[str, dict[tuple[str, str, str], Any]] = {}
        self.origins: dict[str, set[str]] = {}
        self.volatile: dict[str, frozenset[str]] = {}
        for source_id, path in self.files.items():
            pages = _recorded_pages(path)
            if pages is not None:
                volatile = frozenset(name for p in pages for name in p.get("volatile") or ())
                self.volatile[source_id] = volatile
                self.recorded[source_id] = {
                    _key(p["url"], _without(p.get("params"), volatile)): p["payload"] for p in pages
                }
                self.origins[source_id] = {f"{urlsplit(p['url']).scheme}://{urlsplit(p['url']).netloc}" for p in pages}
        files = self.files
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source_id = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
                path = files.get(source_id)
                if path is None or not path.exists():
                    self.send_error(404, "no sample for this source")
                    return
                if source_id in server.recorded:
                    body = server.recorded_answer(source_id, self.path)
                    if body is None:
                        self.send_error(404, "no recorded page for this request")
                        return
                else:
                    body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", _content_type(path))
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
        assert isinstance(host, str)  # an AF_INET server's address is (host, port)
        return f"http://{host}:{port}"

    def local_prefix(self, source_id: str, origin: str) -> str:
        return f"{self.base_url}/{source_id}/_/{urlsplit(origin).netloc}"

    def recorded_answer(self, source_id: str, request_path: str) -> bytes | None:
        """The recorded page for ``/<id>/_/<host>/<path>?<query>``, its origins pointing back here."""
        rest = request_path.split("/", 3)[3] if request_path.count("/") >= 3 else ""
        host, _, path_query = rest.partition("/")
        path, _, query = ("/" + path_query).partition("?")
        pairs = [(k, v) for k, v in parse_qsl(query) if k not in self.volatile.get(source_id, frozenset())]
        payload = None
        for scheme in ("https", "http"):
            payload = self.recorded[source_id].get(_key(f"{scheme}://{host}{path}", dict(pairs), pairs))
            if payload is not None:
                break
        if payload is None:
            return None
        text = json.dumps(payload, ensure_ascii=False)
        for origin in self.origins[source_id]:
            text = text.replace(origin, self.local_prefix(source_id, origin))
        return text.encode("utf-8")

    def url_for(self, source: Source) -> str:
        if source.id not in self.files:
            raise ConfigError(f"source {source.id!r} has no bundled sample (add `sample = ...` to the registry)")
        parts = urlsplit(source.url)
        if source.id in self.recorded:
            query = f"?{parts.query}" if parts.query else ""
            return f"{self.local_prefix(source.id, source.url)}{parts.path}{query}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}/{source.id}{parts.path}{query}"

    def __enter__(self) -> SampleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _recorded_pages(path: Path) -> list[dict[str, Any]] | None:
    """The pages of a recorded multi-request run, or None for a plain one-request sample."""
    if path.suffix != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if isinstance(data, list) and data and all(isinstance(p, dict) and "url" in p and "payload" in p for p in data):
        return data
    return None


def _without(params: dict[str, Any] | None, names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if k not in names}


def _key(url: str, params: dict[str, Any] | None, pairs: list[tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """(host, path, canonical query) of a request: recorded params and parsed query strings compare equal."""
    parts = urlsplit(url)
    if pairs is None:
        pairs = parse_qsl(parts.query)
        for name, value in (params or {}).items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((name, str(item)))
    else:
        pairs = list(pairs)
    return parts.netloc, parts.path, urlencode(sorted(pairs))


def _content_type(path: Path) -> str:
    return {".ics": "text/calendar; charset=utf-8", ".csv": "text/csv", ".geojson": "application/geo+json"}.get(
        path.suffix, "application/json; charset=utf-8"
    )
