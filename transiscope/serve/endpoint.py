"""A read-only SPARQL 1.1 Protocol endpoint over the configured store, for analysts and the map.

Why worker processes: neither pyoxigraph nor a remote store lets a running query be cancelled from
Python, and one runaway query must not take the endpoint down. Each query runs in a worker process
that the server kills when it exceeds the time limit (and replaces). Workers open the store read-only
for each query (≈10 ms on the embedded store), so the endpoint never holds the writer's lock and the
pipeline can load while it serves; on the embedded store that is the latest snapshot the last writer
published (:mod:`transiscope.store.snapshots`), so a query never reads files a running load compacts.

Routes: ``/sparql`` (GET and POST, SPARQL 1.1 Protocol; updates only with the configured token),
``/`` (the query page for analysts), ``/queries.json`` (the example queries of ``queries/``),
``/reports/...`` (the quality reports), ``/exports/...`` (the files of ``transiscope export``, with ETag,
Cache-Control and gzip), ``/map/`` (the map page over those exports; its Leaflet assets come from npm).
"""

from __future__ import annotations

import hmac
import json
import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import parse_qs, urlsplit

from transiscope.core.errors import StoreLocked, TransiscopeError
from transiscope.serve.sparql import QueryRefused, check_query
from transiscope.serve.static_files import MAP_PACKAGES, StaticFiles, map_assets_missing
from transiscope.settings import DEFAULT_MAP_ASSETS, DEFAULT_TILES, PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

QUERIES_DIR = PROJECT_ROOT / "queries"
#: the pages of the package (transiscope/templates/)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MAX_REQUEST_BYTES = 1024 * 1024

#: result formats: short name -> (media type, pyoxigraph format attribute name)
RESULT_FORMATS = {
    "json": ("application/sparql-results+json", "JSON"),
    "xml": ("application/sparql-results+xml", "XML"),
    "csv": ("text/csv", "CSV"),
    "tsv": ("text/tab-separated-values", "TSV"),
}
GRAPH_FORMATS = {
    "turtle": ("text/turtle", "TURTLE"),
    "ntriples": ("application/n-triples", "N_TRIPLES"),
    "jsonld": ("application/ld+json", "JSON_LD"),
}
_MEDIA = {media: name for name, (media, _) in {**RESULT_FORMATS, **GRAPH_FORMATS}.items()}
_MEDIA.update(
    {
        "application/json": "json",
        "application/xml": "xml",
        "text/xml": "xml",
        "text/plain": "ntriples",
        "application/x-turtle": "turtle",
    }
)


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8890
    #: seconds a query may run before its worker is killed
    timeout: float = 30.0
    #: bytes a response may hold (the result cap): results are streamed into a buffer that stops there
    max_bytes: int = 100 * 1024 * 1024
    workers: int = 2
    #: bearer token that allows SPARQL Update; empty = no update of any kind
    update_token: str = ""
    cors_origin: str = "*"
    #: tile URL template of the map page (``TRANSISCOPE_MAP_TILES``; empty: no tiles, the page still works)
    map_tiles: str = DEFAULT_TILES
    #: the npm packages of the map page (``TRANSISCOPE_MAP_ASSETS``; ``make map-assets`` installs them)
    map_assets: Path = DEFAULT_MAP_ASSETS
    #: the endpoints a SERVICE clause may call (``TRANSISCOPE_SERVE_SERVICE_ALLOW``); none: SERVICE is refused
    allowed_services: frozenset[str] = frozenset()
    #: brackets a query may nest before it is refused unparsed
    max_depth: int = 64
    #: address space of each query worker, in MB (0: no limit)
    worker_mb: int = 4096
    #: seconds a connection may stay silent (a request not sent whole, an idle keep-alive) before it is closed
    connection_timeout: float = 30.0


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


def _error(status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(int(status), "text/plain; charset=utf-8", (message + "\n").encode(), headers or {})


# -- in the worker process ------------------------------------------------------------------------
class ResultTooLarge(Exception):
    pass


class CappedBuffer:
    """A write-only buffer that refuses to grow past ``cap`` bytes: pyoxigraph serialises into it in one
    pass and stops (the exception propagates) as soon as the result is over the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.cap:
            raise ResultTooLarge
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def execute(settings: Settings, request: dict[str, Any]) -> Answer:
    """Run one query or update against the store; every failure becomes an HTTP answer."""
    import pyoxigraph as ox

    from transiscope.ingest.run_records import write_pending
    from transiscope.serve.sparql import user_position, with_prefixes
    from transiscope.store.embedded import open_store

    try:
        if request["kind"] == "update":
            with open_store(settings) as store:
                write_pending(store, settings)  # every writer writes the run records still pending
                store.update(request["text"])
            return Answer(int(HTTPStatus.NO_CONTENT), "text/plain", b"", {})
        sparql = with_prefixes(request["text"])
        buffer = CappedBuffer(request["max_bytes"])
        with open_store(settings, read_only=True) as store:
            result = store.query(sparql)
            if isinstance(result, ox.QueryTriples):
                name = request["format"] if request["format"] in GRAPH_FORMATS else "turtle"
                media, attr = GRAPH_FORMATS[name]
                result.serialize(cast(IO[bytes], buffer), getattr(ox.RdfFormat, attr))
            else:
                boolean = isinstance(result, ox.QueryBoolean)
                name = (
                    request["format"]
                    if request["format"] in (("json", "xml") if boolean else RESULT_FORMATS)
                    else "json"
                )
                media, attr = RESULT_FORMATS[name]
                result.serialize(cast(IO[bytes], buffer), getattr(ox.QueryResultsFormat, attr))
        return Answer(200, media, buffer.getvalue(), {})
    except ResultTooLarge:
        return _error(
            HTTPStatus.BAD_REQUEST,
            f"the result is larger than {request['max_bytes']:,} bytes, the cap of this endpoint "
            "(transiscope serve --max-mb, TRANSISCOPE_SERVE_MAX_MB): add a LIMIT or narrow the query",
        )
    except StoreLocked as exc:
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "5"})
    except TransiscopeError as exc:
        message = user_position(str(exc)) if request["kind"] == "query" else str(exc)
        if "not valid" in message:
            return _error(HTTPStatus.BAD_REQUEST, message)
        # the store is down or busy (a remote store unreachable, a server error): worth retrying later
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, message, {"Retry-After": "10"})
    except SyntaxError as exc:
        return _error(HTTPStatus.BAD_REQUEST, f"the SPARQL {request['kind']} is not valid: {exc}")
    except (RuntimeError, ValueError) as exc:
        # the query engine cannot evaluate what the query asks (an unknown function...): the client's to change
        return _error(HTTPStatus.BAD_REQUEST, f"the SPARQL {request['kind']} cannot be evaluated: {exc}")
    except OSError as exc:
        # the store's disk or a remote store failed in a way it did not classify: worth retrying soon
        return _error(
            HTTPStatus.SERVICE_UNAVAILABLE, f"the store could not answer right now ({exc})", {"Retry-After": "2"}
        )


def _worker_main(conn: Connection, memory_bytes: int = 0) -> None:
    if memory_bytes > 0:
        import resource

        # the address space of this worker: a query that needs more fails here, never in the server
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    settings = Settings.from_env()
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        answer = execute(settings, request)
        conn.send((answer.status, answer.content_type, answer.body, answer.headers))


# -- in the server process ------------------------------------------------------------------------
class Worker:
    """A child process that executes queries one at a time; killed and replaced on timeout."""

    _context = multiprocessing.get_context("spawn")  # no fork of a threaded server

    def __init__(self, memory_bytes: int = 0) -> None:
        self.conn, child = self._context.Pipe()
        self.process = self._context.Process(target=_worker_main, args=(child, memory_bytes), daemon=True)
        self.process.start()
        child.close()

    def run(self, request: dict[str, Any], timeout: float) -> Answer | None:
        """The answer, or None when the query ran out of time (the worker is then dead); raises
        :class:`WorkerCrashed` when the worker died before answering (out of memory, a crash of the store's
        query engine)."""
        self.conn.send(request)
        ready = wait_ready([self.conn, self.process.sentinel], timeout)
        if self.conn not in ready:
            if self.process.sentinel in ready:
                self.process.join(5)
                code = self.process.exitcode
                self.conn.close()
                raise WorkerCrashed(code)
            self.kill()
            return None
        try:
            status, content_type, body, headers = self.conn.recv()
        except EOFError:  # the pipe closed: the worker died as it answered
            self.process.join(5)
            self.conn.close()
            raise WorkerCrashed(self.process.exitcode) from None
        return Answer(status, content_type, body, headers)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def alive(self) -> bool:
        return self.process.is_alive()


class WorkerCrashed(Exception):
    """The worker process died while it answered a query."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(exitcode)
        self.exitcode = exitcode


class WorkerPool:
    """Query workers, each answering one query at a time; a worker that times out or dies is replaced, and
    a replacement that cannot start (too many open files, no memory) is retried in the background with
    backoff, so that the pool always comes back to its size (``missing`` says how far it is, for /health)."""

    def __init__(self, size: int, memory_bytes: int = 0) -> None:
        self.size = size
        self.memory_bytes = memory_bytes
        self.idle: queue.Queue[Worker] = queue.Queue()
        self.missing = 0
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._replace()

    def _replace(self) -> None:
        """Start one worker into the pool, or count it missing and retry later."""
        try:
            self.idle.put(Worker(self.memory_bytes))
        except OSError as exc:
            log.error("a query worker could not start (%s): retrying in the background", exc)
            with self._lock:
                self.missing += 1
                first = self.missing == 1
            if first:
                threading.Thread(target=self._refill, daemon=True).start()

    def _refill(self) -> None:
        delay = 0.5
        while not self._closed:
            time.sleep(delay)
            with self._lock:
                if self.missing == 0:
                    return
            try:
                worker = Worker(self.memory_bytes)
            except OSError as exc:
                log.error("a query worker still cannot start (%s)", exc)
                delay = min(delay * 2, 30.0)
                continue
            self.idle.put(worker)
            with self._lock:
                self.missing -= 1
            delay = 0.5

    def run(self, request: dict[str, Any], timeout: float) -> Answer:
        try:
            worker = self.idle.get(timeout=timeout)
        except queue.Empty:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE, "all query workers are busy; try again shortly", {"Retry-After": "5"}
            )
        answer = None
        crashed: WorkerCrashed | None = None
        try:
            answer = worker.run(request, timeout)
        except WorkerCrashed as exc:
            crashed = exc
        except (EOFError, OSError, BrokenPipeError):
            worker.kill()
        finally:
            if answer is not None and worker.alive():
                self.idle.put(worker)
            else:
                self._replace()
        if crashed is not None:
            limit = f" (the limit is {self.memory_bytes // 2**20:,} MB per query, TRANSISCOPE_SERVE_WORKER_MB)"
            return _error(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"the query's worker crashed (exit code {crashed.exitcode}) before answering: most often a query "
                f"that needs more memory than a worker may take{limit if self.memory_bytes else ''}; "
                "narrow the query or add a LIMIT",
            )
        if answer is None:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"the query ran longer than the limit of {timeout:g} s (TRANSISCOPE_SERVE_TIMEOUT) "
                "and was stopped: narrow it or add a LIMIT",
            )
        return answer

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self.idle.get_nowait().kill()
            except queue.Empty:
                return


def example_queries(directory: Path = QUERIES_DIR) -> list[dict[str, str]]:
    """The documented example queries: ``# title:`` and ``# description:`` header lines, then SPARQL."""
    examples = []
    for path in sorted(directory.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        meta = {"id": path.stem, "title": path.stem, "description": ""}
        for line in text.splitlines():
            for key in ("title", "description"):
                if line.startswith(f"# {key}:"):
                    meta[key] = line.split(":", 1)[1].strip()
        examples.append({**meta, "query": text})
    return examples


def negotiate(accept: str, explicit: str | None) -> str:
    """Short format name from a ``format`` parameter or the Accept header (first known wins)."""
    if explicit:
        return explicit.lower().replace("-", "").replace("_", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _MEDIA:
            return _MEDIA[media]
    return "json"


class Endpoint(ThreadingHTTPServer):
    daemon_threads = True
    #: connections waiting to be accepted (the standard library's 5 drops clients of a busy endpoint)
    request_queue_size = 256

    def __init__(self, settings: Settings, serve: ServeSettings) -> None:
        self.settings = settings
        self.serve = serve
        self.page = (TEMPLATES / "query.html").read_bytes()
        self.map_page = (TEMPLATES / "map.html").read_bytes()
        self.exports_dir = settings.exports_dir
        self.files = StaticFiles("public, max-age=300")
        self.asset_files = StaticFiles("public, max-age=86400")
        super().__init__((serve.host, serve.port), Handler)  # bind first: a busy port fails before workers
        self.pool = WorkerPool(serve.workers, serve.worker_mb * 2**20)

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


class Handler(BaseHTTPRequestHandler):
    server: Endpoint
    protocol_version = "HTTP/1.1"
    #: headers and body go out as two writes: TCP_NODELAY spares keep-alive clients a ~40 ms delayed-ACK stall
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # a client that sends nothing (or too slowly) for this long is disconnected: it holds a thread
        super().setup()
        self.connection.settimeout(self.server.serve.connection_timeout)

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Access-Control-Allow-Origin", self.server.serve.cors_origin)
        self.send_header("Access-Control-Expose-Headers", "Content-Type, Retry-After")
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def do_OPTIONS(self) -> None:
        self._send(
            Answer(
                204,
                "text/plain",
                b"",
                {
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization",
                    "Access-Control-Max-Age": "600",
                },
            )
        )

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        if parts.path in ("/sparql", "/sparql/"):
            if "update" in params:
                self._send(_error(HTTPStatus.BAD_REQUEST, "SPARQL Update must be sent with POST"))
            elif len(params.get("query", ())) > 1:
                self._send(_error(HTTPStatus.BAD_REQUEST, "give exactly one query parameter (SPARQL 1.1 Protocol)"))
            elif "query" in params:
                self._sparql("query", params["query"][0], params)
            else:
                self._send(_error(HTTPStatus.BAD_REQUEST, "missing the query parameter (SPARQL 1.1 Protocol)"))
        elif parts.path in ("/", "/index.html"):
            self._send(Answer(200, "text/html; charset=utf-8", self.server.page, {}))
        elif parts.path == "/health":
            pool = self.server.pool
            state = {"workers": pool.size, "idle": pool.idle.qsize(), "missing": pool.missing}
            status = 503 if pool.missing >= pool.size else 200
            self._send(Answer(status, "application/json", json.dumps(state).encode(), {"Cache-Control": "no-cache"}))
        elif parts.path == "/queries.json":
            body = json.dumps(example_queries(), ensure_ascii=False).encode()
            self._send(Answer(200, "application/json", body, {}))
        elif parts.path.startswith("/reports/") or parts.path == "/reports":
            self._static(self.server.settings.home / "reports", parts.path.removeprefix("/reports").lstrip("/"))
        elif parts.path.startswith("/exports/"):
            self._static(
                self.server.exports_dir,
                parts.path.removeprefix("/exports/"),
                default="index.json",
                missing="no such export (run `transiscope export`)",
            )
        elif parts.path == "/map":
            self._send(Answer(301, "text/plain", b"", {"Location": "/map/"}))
        elif parts.path.startswith("/map/"):
            self._map(parts.path.removeprefix("/map/"))
        else:
            self._send(_error(HTTPStatus.NOT_FOUND, "not found; the SPARQL endpoint is /sparql"))

    do_HEAD = do_GET

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        if parts.path not in ("/sparql", "/sparql/"):
            self._send(_error(HTTPStatus.NOT_FOUND, "not found; the SPARQL endpoint is /sparql"))
            return
        body = self._body()
        if body is None:
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self._send(_error(HTTPStatus.BAD_REQUEST, "the request body is not UTF-8 (SPARQL 1.1 Protocol)"))
            return
        params = parse_qs(parts.query)
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media == "application/sparql-query":
            self._sparql("query", text, params)
        elif media == "application/sparql-update":
            self._sparql("update", text, params)
        elif media == "application/x-www-form-urlencoded":
            form = parse_qs(text)
            params = {**params, **form}
            operations = [name for name in ("query", "update") if name in form]
            if len(operations) != 1 or len(form[operations[0]]) != 1:
                one = "give exactly one query or one update parameter (SPARQL 1.1 Protocol)"
                self._send(_error(HTTPStatus.BAD_REQUEST, one))
                return
            self._sparql(operations[0], form[operations[0]][0], params)
        elif media == "":
            self._send(
                _error(
                    HTTPStatus.BAD_REQUEST,
                    "missing Content-Type: application/x-www-form-urlencoded, application/sparql-query "
                    "or application/sparql-update",
                )
            )
        else:
            self._send(_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {media!r}"))

    def _body(self) -> bytes | None:
        """The request body, read whole only when its declared length is one valid number under the cap; a
        refusal closes the connection, so that an unread body is never read as the next request."""
        lengths = self.headers.get_all("Content-Length") or []
        refusal: tuple[HTTPStatus, str] | None = None
        if self.headers.get("Transfer-Encoding"):
            refusal = (HTTPStatus.BAD_REQUEST, "Transfer-Encoding is not accepted: send a Content-Length")
        elif len(lengths) != 1 or not lengths[0].strip().isdigit():
            refusal = (HTTPStatus.LENGTH_REQUIRED, "one Content-Length header with a whole number is required")
        elif int(lengths[0]) > MAX_REQUEST_BYTES:
            refusal = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"requests are limited to {MAX_REQUEST_BYTES:,} bytes")
        if refusal is not None:
            self.close_connection = True
            self._send(_error(*refusal, {"Connection": "close"}))
            return None
        return self.rfile.read(int(lengths[0]))

    def _not_allowed(self) -> None:
        allowed = "GET, HEAD, POST, OPTIONS"
        self._send(
            _error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed here: {allowed}", {"Allow": allowed})
        )

    do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _sparql(self, kind: str, text: str, params: dict[str, list[str]]) -> None:
        serve = self.server.serve
        if kind == "update":
            if not serve.update_token:
                self._send(_error(HTTPStatus.FORBIDDEN, "this endpoint is read-only: SPARQL Update is disabled"))
                return
            given = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), serve.update_token.encode()):
                self._send(
                    _error(
                        HTTPStatus.UNAUTHORIZED,
                        "SPARQL Update needs the endpoint's bearer token",
                        {"WWW-Authenticate": "Bearer"},
                    )
                )
                return
        try:
            check_query(text, allowed_services=serve.allowed_services, max_depth=serve.max_depth)
        except QueryRefused as refused:
            log.info("%s refused before execution: %s", kind, refused)
            self._send(_error(HTTPStatus.BAD_REQUEST, str(refused)))
            return
        explicit = params["format"][0] if params.get("format") else None
        request = {
            "kind": kind,
            "text": text,
            "max_bytes": serve.max_bytes,
            "format": negotiate(self.headers.get("Accept") or "", explicit),
        }
        started = time.monotonic()
        answer = self.server.pool.run(request, serve.timeout)
        log.info("%s answered %s in %.3f s", kind, answer.status, time.monotonic() - started)
        self._send(answer)

    def _static(
        self,
        root: Path,
        relative: str,
        default: str = "index.en.html",
        missing: str = "no such report (run `transiscope run` or `transiscope report`)",
        files: StaticFiles | None = None,
    ) -> None:
        """A file under ``root`` with ETag, Cache-Control and the gzip copy when the client takes it."""
        found = (files or self.server.files).answer(root, relative or default, dict(self.headers.items()))
        if found is None:
            self._send(_error(HTTPStatus.NOT_FOUND, missing))
            return
        self._send(Answer(found.status, found.content_type, found.body, found.headers))

    def _map(self, relative: str) -> None:
        """The map page (``/map/``), its settings (``config.json``) and its npm assets (``vendor/<package>/``)."""
        if relative in ("", "index.html"):
            self._send(
                Answer(
                    200,
                    "text/html; charset=utf-8",
                    self.server.map_page,
                    {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
                )
            )
        elif relative == "config.json":
            gaps_dir = self.server.exports_dir / "gaps"
            # sizes let the page offer only the levels a browser can take (the commune level is ~130 MB)
            sizes = (
                {
                    p.relative_to(self.server.exports_dir).as_posix(): p.stat().st_size
                    for p in sorted(gaps_dir.glob("*.geojson"))
                }
                if gaps_dir.is_dir()
                else {}
            )
            index = "gaps/index.json" if (gaps_dir / "index.json").is_file() else None
            body = json.dumps(
                {
                    "tiles": self.server.serve.map_tiles,
                    "gaps_index": index,
                    "gaps_sizes": sizes,
                    "missing_assets": map_assets_missing(self.server.serve.map_assets),
                }
            ).encode()
            self._send(Answer(200, "application/json", body, {"Cache-Control": "no-cache"}))
        elif relative.startswith("vendor/") and relative.count("/") >= 2:
            package, _, rest = relative.removeprefix("vendor/").partition("/")
            if package not in MAP_PACKAGES:
                self._send(_error(HTTPStatus.NOT_FOUND, "not a map asset"))
                return
            self._static(
                self.server.serve.map_assets / package / "dist",
                rest,
                default="-",
                files=self.server.asset_files,
                missing="map asset missing: run `make map-assets` (npm packages of map/package.json)",
            )
        else:
            self._send(_error(HTTPStatus.NOT_FOUND, "not found; the map page is /map/"))


def serve_forever(settings: Settings, serve: ServeSettings, ready: threading.Event | None = None) -> None:
    endpoint = Endpoint(settings, serve)
    if ready is not None:
        ready.set()
    try:
        endpoint.serve_forever()
    finally:
        endpoint.server_close()
