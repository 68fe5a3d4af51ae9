"""Shared fixtures: a real HTTP server on 127.0.0.1 serving recorded payloads, and an isolated bus.

Nothing is mocked: the bus fetches over real HTTP from :class:`PayloadServer`, writes a real
pyoxigraph store in a temporary ``TRANSISCOPE_HOME``, and reads a registry pointing at the server.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.servers import serve_on_loopback

if TYPE_CHECKING:
    from tests.integration.webhook_receiver import WebhookReceiver

PROJECT = Path(__file__).resolve().parents[1]
TRANSFORMS = PROJECT / "transforms"
SAMPLES = TRANSFORMS / "samples"
SOURCE_IDS = ("transiscope", "presdecheznous", "francetierslieux")

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
#: the settings every test starts from, whatever the environment of the person or machine running the suite
SUITE_ENV = {
    # one cache of parsed open data for the whole session, outside the user's home
    "TRANSISCOPE_CACHE_DIR": tempfile.mkdtemp(prefix="transiscope-test-cache-"),
    # no test may reach a real geocoding service: by default the geocoder is a closed port on 127.0.0.1
    # (the geocoding tests start a local BAN-speaking server and point TRANSISCOPE_GEOCODER_URL at it)
    "TRANSISCOPE_GEOCODER_URL": "http://127.0.0.1:9",
}
#: kept from the outer environment: where the shared open data is (a machine may keep it elsewhere), and
#: where the end-to-end test keeps the REST answers it records
OUTER_KEPT = frozenset({"TRANSISCOPE_SHARED_DATA", "TRANSISCOPE_TERRITORIES_DIR", "TRANSISCOPE_E2E_RECORD"})
#: what the shell that started the suite had set (module-scoped fixtures set their own later: those stay)
OUTER_ENV = frozenset(name for name in os.environ if name.startswith("TRANSISCOPE_"))
for _name in OUTER_ENV - OUTER_KEPT:  # gone before any fixture, module- or session-scoped, reads settings
    del os.environ[_name]
os.environ.update(SUITE_ENV)


@pytest.fixture(autouse=True)
def _clean_transiscope_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the suite's settings: a TRANSISCOPE_* variable left in the shell (a store URL,
    a home, a registry) or by another test never changes what a test sees."""
    for name in list(os.environ):
        if name in OUTER_ENV and name not in SUITE_ENV and name not in OUTER_KEPT:
            monkeypatch.delenv(name)
    for name, value in SUITE_ENV.items():
        monkeypatch.setenv(name, value)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: False: no Content-Length, the body ends when the connection closes (as streamed responses do)
    send_length: bool = True


class PayloadServer:
    """Loopback HTTP server; each path answers a scripted list of replies (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                replies = server.routes.get(path)
                if not replies:
                    self.send_error(404)
                    return
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                if reply.send_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, *replies: Reply) -> str:
        """Script the replies of ``path``; returns its URL."""
        self.routes[path] = list(replies)
        self.hits[path] = 0
        return self.url(path)

    def serve_file(self, path: str, file: Path) -> str:
        return self.set(path, Reply(200, file.read_bytes()))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def territories_dir() -> Path:
    """The shared open data on French territories; a clear failure when it cannot be found."""
    from transiscope.settings import shared_data_dir

    directory = Path(os.environ.get("TRANSISCOPE_TERRITORIES_DIR") or shared_data_dir() / "territories")
    if not (directory / "communes-cog2026-contours-simplifies.geojson").exists():
        pytest.fail(
            f"shared territories data not found in {directory}: set TRANSISCOPE_SHARED_DATA to the folder "
            "holding territories/ (default: ../shared/data next to the checkout)"
        )
    return directory


@pytest.fixture(scope="session")
def payload_server() -> Iterator[PayloadServer]:
    server = PayloadServer()
    yield server
    server.close()


def sample_path(source_id: str) -> Path:
    return SAMPLES / f"{source_id}.json"


def write_registry(directory: Path, urls: dict[str, str]) -> Path:
    """A copy of the project's registry with the given sources only, fetching from ``urls``."""
    with (TRANSFORMS / "sources.toml").open("rb") as handle:
        entries = {entry["id"]: entry for entry in tomllib.load(handle)["source"]}
    lines = []
    for source_id, url in urls.items():
        entry = dict(entries[source_id], url=url)
        entry["mapping"] = str((TRANSFORMS / entry["mapping"]).resolve())
        if "sample" in entry:
            entry["sample"] = str((TRANSFORMS / entry["sample"]).resolve())
        lines.append("[[source]]")
        for key, value in entry.items():
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
        lines.append("")
    path = directory / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Bus:
    """An isolated bus: its own home (store + runs) and registry, sources served by the test server."""

    home: Path
    registry: Path
    server: PayloadServer
    urls: dict[str, str]

    def settings(self):
        from transiscope.settings import Settings

        return Settings.from_env()

    def store(self, read_only: bool = True):
        from transiscope.store.embedded import EmbeddedStore

        return EmbeddedStore(self.home / "store", read_only=read_only)

    def graph_triples(self, source_id: str) -> set[str]:
        """The live graph of a source, as a set of N-Triples lines (empty if never loaded)."""

        from transiscope.core import vocab

        graph = vocab.source_graph(self.settings().base_iri, source_id)
        if not (self.home / "store" / "CURRENT").exists():
            return set()
        with self.store() as store:
            rows = store.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return {f"{r['s']} {r['p']} {r['o']}" for r in rows}


@pytest.fixture
def bus(tmp_path: Path, payload_server: PayloadServer, monkeypatch: pytest.MonkeyPatch) -> Bus:
    """All sample sources served at ``/<test-name>/<source>.json``; fast retries; isolated home."""
    prefix = f"/{tmp_path.name}"
    urls = {sid: payload_server.serve_file(f"{prefix}/{sid}.json", sample_path(sid)) for sid in SOURCE_IDS}
    home = tmp_path / "home"
    registry = write_registry(tmp_path, urls)
    monkeypatch.setenv("TRANSISCOPE_HOME", str(home))
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    monkeypatch.setenv("TRANSISCOPE_HTTP_BACKOFF", "0.05")
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "3")
    monkeypatch.setenv("TRANSISCOPE_HTTP_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("TRANSISCOPE_HTTP_READ_TIMEOUT", "10")
    return Bus(home=home, registry=registry, server=payload_server, urls=urls)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver of the test's own on 127.0.0.1, answering 200 to every notification."""
    from tests.integration.webhook_receiver import WebhookReceiver

    server = WebhookReceiver(200)
    yield server
    server.close()
