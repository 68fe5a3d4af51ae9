"""The HTTP application of ``transiscope serve`` (Starlette): the SPARQL 1.1 Protocol on ``/sparql``, the pages
for analysts and the map, the files of the exports and the quality reports.

Why an ASGI application on a real server: request parsing (framing, Content-Length, chunked bodies), connection
and keep-alive timeouts, the backlog, streaming files with Range are the server's and Starlette's jobs, done
well there; this module holds only what is the endpoint's own: who may update, which queries are refused
before they run, how long a request may wait for a worker, which format answers, what the pages may load.

Routes: ``/sparql`` and ``/sparql/`` (GET, POST; a bare GET is the service description, or the query page for a
browser), ``/`` (the query page), ``/queries.json`` (the example queries), ``/health``, ``/reports/...``,
``/exports/...``, ``/gaps/`` and ``/gaps/en/`` (where alternatives are missing), ``/map/`` (the map page, its
``config.json`` and npm assets under ``vendor/``), ``/murmurations/<source>.json`` (each source's Murmurations
profile, the export's ``murmurations/`` folder; the PAIR views stay under ``/exports/pair/``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from transiscope.core.taxonomy import read_taxonomy
from transiscope.core.vocab import PREFIXES
from transiscope.serve.map_api import LIST_PAGE, BadRequest, MapIndex, parse_view
from transiscope.serve.options import ServeSettings
from transiscope.serve.protocol import (
    GRAPH_FORMATS,
    DatasetParameters,
    NotAcceptable,
    choose_format,
    prefers_html,
    service_description,
)
from transiscope.serve.sparql import QueryRefused, check_query
from transiscope.serve.static_files import MAP_PACKAGES, StaticFiles, map_assets_missing
from transiscope.serve.verifier import (
    PAGE_TEXT,
    SHOWN,
    CheckRequest,
    RateLimit,
    Refused,
    check_target,
    run_check,
    too_large,
)
from transiscope.serve.workers import Answer, SparqlRequest, WorkerPool
from transiscope.settings import PROJECT_ROOT, Settings
from transiscope.store.base import QueryDataset

log = logging.getLogger(__name__)

QUERIES_DIR = PROJECT_ROOT / "queries"
#: the pages of the package (transiscope/templates/)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MAX_REQUEST_BYTES = 1024 * 1024
ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"


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


def text_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


# -- the pages and their Content-Security-Policy ----------------------------------------------------------------
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def tile_origins(template: str) -> str:
    """The origins the map's tiles come from, for ``img-src`` (``{s}`` subdomains as a wildcard).

    >>> tile_origins("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://*.tile.openstreetmap.org'
    >>> tile_origins("")
    ''
    """
    if not template:
        return ""
    parts = urlsplit(template.replace("{s}", "subdomain-wildcard"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.replace('subdomain-wildcard', '*')}"


@dataclass(frozen=True)
class Page:
    """An HTML page of the package with the policy that lets its own inline scripts run and nothing else: a
    result that smuggles markup into the page cannot run script nor load from elsewhere."""

    body: bytes
    policy: str

    @classmethod
    def load(cls, path: Path, img_sources: str = "") -> Page:
        body = path.read_bytes()
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
            for script in _INLINE_SCRIPT.findall(body)
        )
        policy = (
            f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: {img_sources}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
        return cls(body, re.sub(" +", " ", policy))

    def response(self, method: str) -> Response:
        headers = {
            "Content-Security-Policy": self.policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        }
        return Response(b"" if method == "HEAD" else self.body, 200, headers, media_type="text/html; charset=utf-8")


#: the policy of the static HTML files (the quality reports): no script at all
REPORT_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class EndpointApp:
    """The routes over one worker pool; :meth:`starlette` builds the ASGI application."""

    def __init__(self, settings: Settings, serve: ServeSettings, pool: WorkerPool) -> None:
        self.settings = settings
        self.serve = serve
        self.pool = pool
        self.exports_dir = settings.exports_dir
        self.files = StaticFiles("public, max-age=300")
        self.asset_files = StaticFiles("public, max-age=86400")
        self.query_page = Page.load(TEMPLATES / "query.html")
        self.map_page = Page.load(TEMPLATES / "map.html", tile_origins(serve.map_tiles))
        self.gaps_page = Page.load(TEMPLATES / "gaps.html")
        self.map_index = MapIndex(self.exports_dir)
        self._map_threads = anyio.CapacityLimiter(2)  # the map's numpy passes, beside the SPARQL workers
        # requests waiting for a worker beyond the pool's size wait here, each for at most serve.queue_wait
        self._slots = anyio.Semaphore(max(pool.size, 1))
        self._threads = anyio.CapacityLimiter(max(pool.size, 1))
        # the self-check: a process per check, two at a time, a few per client
        self._checks = anyio.CapacityLimiter(2)
        self._check_rate = RateLimit(serve.verifier_per_client)

    def starlette(self) -> Starlette:
        sparql_methods = ["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]
        routes = [
            Route("/sparql", self.sparql, methods=sparql_methods),
            Route("/sparql/", self.sparql, methods=sparql_methods),
            Route("/", self.index, methods=["GET", "HEAD"]),
            Route("/index.html", self.index, methods=["GET", "HEAD"]),
            Route("/health", self.health, methods=["GET", "HEAD"]),
            Route("/queries.json", self.queries, methods=["GET", "HEAD"]),
            Route("/reports", self.reports, methods=["GET", "HEAD"]),
            Route("/reports/{path:path}", self.reports, methods=["GET", "HEAD"]),
            Route("/exports/{path:path}", self.exports, methods=["GET", "HEAD"]),
            Route("/murmurations/{path:path}", self.murmurations, methods=["GET", "HEAD"]),
            Route("/map", lambda request: RedirectResponse("/map/", 301), methods=["GET", "HEAD"]),
            Route("/map/{path:path}", self.map, methods=["GET", "HEAD"]),
            Route("/vendor/{path:path}", self.vendor, methods=["GET", "HEAD"]),
            Route("/gaps", lambda request: RedirectResponse("/gaps/", 301), methods=["GET", "HEAD"]),
            Route("/gaps/", self.gaps, methods=["GET", "HEAD"]),
            Route("/gaps/en", lambda request: RedirectResponse("/gaps/en/", 301), methods=["GET", "HEAD"]),
            Route("/gaps/en/", self.gaps, methods=["GET", "HEAD"]),
            Route("/verifier", lambda request: RedirectResponse("/verifier/", 301), methods=["GET", "HEAD"]),
            Route("/verifier/", self.verifier, methods=["GET", "HEAD", "POST"]),
            Route("/verifier/en/", self.verifier, methods=["GET", "HEAD", "POST"]),
            Route("/prefixes.json", self.prefixes, methods=["GET", "HEAD"]),
        ]
        middleware = [
            Middleware(
                CORSMiddleware,
                allow_origins=[self.serve.cors_origin],
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "Accept", "Authorization"],
                expose_headers=["Content-Type", "Retry-After"],
                max_age=600,
            )
        ]
        handlers = {404: self._not_found, 405: self._not_allowed}
        return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)

    # -- errors ------------------------------------------------------------------------------------------------
    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return text_error(404, "not found; the SPARQL endpoint is /sparql, the map /map/")

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        allowed = exc.headers.get("Allow", ALLOWED_METHODS) if isinstance(exc, HTTPException) and exc.headers else ""
        allowed = allowed or "GET, HEAD"
        return text_error(405, f"{request.method} is not allowed here: {allowed}", {"Allow": allowed})

    # -- SPARQL ------------------------------------------------------------------------------------------------
    async def sparql(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": ALLOWED_METHODS})
        if request.method not in ("GET", "HEAD", "POST"):
            return text_error(
                405, f"{request.method} is not allowed here: {ALLOWED_METHODS}", {"Allow": ALLOWED_METHODS}
            )
        params = parse_qs(request.url.query, keep_blank_values=True)
        if request.method != "POST":
            if "update" in params:
                return text_error(400, "SPARQL Update must be sent with POST (SPARQL 1.1 Protocol)")
            if len(params.get("query", ())) > 1:
                return text_error(400, "give exactly one query parameter (SPARQL 1.1 Protocol)")
            if "query" in params:
                return await self._run(request, "query", params["query"][0], params)
            return self._description(request)
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return text_error(400, "the request body is not UTF-8 (SPARQL 1.1 Protocol)")
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media in ("application/sparql-query", "application/sparql-update"):
            return await self._run(request, media.rsplit("-", 1)[1], text, params)
        if media == "application/x-www-form-urlencoded":
            form = parse_qs(text, keep_blank_values=True)
            operations = [name for name in ("query", "update") if name in form]
            if len(operations) != 1 or len(form[operations[0]]) != 1:
                return text_error(400, "give exactly one query or one update parameter (SPARQL 1.1 Protocol)")
            merged = {key: params.get(key, []) + form.get(key, []) for key in {*params, *form}}
            return await self._run(request, operations[0], form[operations[0]][0], merged)
        if media == "":
            return text_error(
                400,
                "missing Content-Type: application/x-www-form-urlencoded, application/sparql-query "
                "or application/sparql-update",
            )
        return text_error(415, f"unsupported Content-Type {media!r}")

    async def _body(self, request: Request) -> bytes | Response:
        """The body, read while it stays under the cap; a refusal closes the connection (an unread body is
        never read as a next request)."""
        close = {"Connection": "close"}
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            return text_error(413, f"requests are limited to {MAX_REQUEST_BYTES:,} bytes", close)
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_REQUEST_BYTES:
                    return text_error(413, f"requests are limited to {MAX_REQUEST_BYTES:,} bytes", close)
                parts.append(chunk)
        except ClientDisconnect:
            return text_error(400, "the client went away before sending its whole request", close)
        return b"".join(parts)

    def _description(self, request: Request) -> Response:
        """A bare ``GET /sparql``: the service description, or the query page for a browser."""
        accept = request.headers.get("accept") or ""
        if prefers_html(accept):
            return RedirectResponse("/", 303)
        try:
            name = choose_format("graph", accept, None)
        except NotAcceptable as exc:
            return text_error(exc.status, str(exc))
        endpoint_url = str(request.url.replace(query=""))
        turtle = service_description(
            endpoint_url, updates=bool(self.serve.update_token), federated=bool(self.serve.allowed_services)
        )
        media, attr = GRAPH_FORMATS[name]
        body = ox.serialize(ox.parse(turtle, format=ox.RdfFormat.TURTLE), format=getattr(ox.RdfFormat, attr))
        assert body is not None  # serialize returns the bytes when given no output
        return Response(b"" if request.method == "HEAD" else body, 200, {"Vary": "Accept"}, media_type=media)

    async def _run(self, request: Request, kind: str, text: str, params: dict[str, list[str]]) -> Response:
        serve = self.serve
        if kind == "update":
            refused = self._update_refusal(request)
            if refused is not None:
                return refused
        if len(params.get("format", ())) > 1:
            return text_error(400, "give at most one format parameter")
        dataset = DatasetParameters.from_params(params, kind)
        invalid = dataset.invalid()
        if invalid:
            return text_error(400, f"a dataset parameter is not usable: {invalid}")
        if kind == "update" and dataset.given:
            return text_error(
                400,
                "using-graph-uri and using-named-graph-uri are not supported by this endpoint: "
                "write USING or WITH in the update itself",
            )
        try:
            check_query(text, allowed_services=serve.allowed_services, max_depth=serve.max_depth)
        except QueryRefused as refused:
            log.info("%s refused before execution: %s", kind, refused)
            return text_error(400, str(refused))
        sparql_request = SparqlRequest(
            kind=kind,
            text=text,
            max_bytes=serve.max_bytes,
            accept=request.headers.get("accept") or "",
            explicit_format=params["format"][0] if params.get("format") else None,
            dataset=QueryDataset(
                dataset.default_graphs, dataset.named_graphs, base_iri=str(request.url.replace(query=""))
            ),
        )
        started = time.monotonic()
        answer = await self._in_worker(sparql_request)
        log.info("%s answered %s in %.3f s", kind, answer.status, time.monotonic() - started)
        body = b"" if request.method == "HEAD" else answer.body
        return Response(body, answer.status, answer.headers, media_type=answer.content_type)

    def _update_refusal(self, request: Request) -> Response | None:
        token = self.serve.update_token
        if not token:
            return text_error(403, "this endpoint is read-only: SPARQL Update is disabled")
        given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return text_error(401, "SPARQL Update needs the endpoint's bearer token", {"WWW-Authenticate": "Bearer"})
        return None

    async def _in_worker(self, sparql_request: SparqlRequest) -> Answer:
        """The worker's answer; a request that cannot get a worker within ``queue_wait`` is told so (503)."""
        wait = self.serve.queue_wait
        with anyio.move_on_after(wait) as scope:
            await self._slots.acquire()
        if scope.cancelled_caught:
            return Answer(
                503,
                "text/plain; charset=utf-8",
                f"all {self.pool.size} query workers stayed busy for {wait:g} s; try again shortly\n".encode(),
                {"Retry-After": "5"},
            )
        try:
            return await anyio.to_thread.run_sync(
                self.pool.run, sparql_request, self.serve.timeout, wait, limiter=self._threads
            )
        finally:
            self._slots.release()

    # -- pages and files ---------------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return self.query_page.response(request.method)

    async def health(self, request: Request) -> Response:
        pool = self.pool
        state = {"workers": pool.size, "idle": pool.idle.qsize(), "missing": pool.missing}
        status = 503 if pool.missing >= pool.size else 200
        return Response(json.dumps(state), status, {"Cache-Control": "no-cache"}, media_type="application/json")

    async def queries(self, request: Request) -> Response:
        body = json.dumps(example_queries(), ensure_ascii=False)
        return Response(body, 200, media_type="application/json")

    async def prefixes(self, request: Request) -> Response:
        """The prefixes every query may use undeclared (the query page declares them in the editor)."""
        return Response(json.dumps(PREFIXES), 200, media_type="application/json")

    async def verifier(self, request: Request) -> Response:
        """``/verifier/``: the self-check's form (GET) and its result (POST: a file or a URL); the result is the
        page, or with ``Accept: application/json`` the ``check-source --json`` document."""
        lang = "en" if request.url.path.startswith("/verifier/en") else "fr"
        wants_json = "application/json" in (request.headers.get("accept") or "") and not prefers_html(
            request.headers.get("accept") or ""
        )
        serve = self.serve
        if request.method != "POST":
            return self._verifier_page(lang, request.method)
        declared = request.headers.get("content-length")
        if declared is None or not declared.isdigit():
            return self._verifier_answer(lang, wants_json, 411, refused="Content-Length ?")
        if int(declared) > serve.verifier_max_bytes + 64 * 1024:
            return self._verifier_answer(lang, wants_json, 413, refused=too_large(serve.verifier_max_bytes), close=True)
        wait = self._check_rate.wait(request.client.host if request.client else "?")
        if wait:
            message = (
                f"trop de vérifications depuis votre adresse : réessayez dans {wait / 60:.0f} min / too many "
                f"checks from your address: try again in {wait / 60:.0f} min"
            )
            return self._verifier_answer(lang, wants_json, 429, refused=message, headers={"Retry-After": f"{wait:.0f}"})
        try:
            form = await request.form(max_files=1, max_fields=8, max_part_size=serve.verifier_max_bytes + 1)
        except (HTTPException, ValueError, ClientDisconnect) as exc:
            return self._verifier_answer(
                lang, wants_json, 400, refused=f"formulaire illisible / unreadable form ({exc})"
            )
        upload, url = form.get("file"), str(form.get("url") or "").strip()
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(serve.verifier_max_bytes + 1)
            if len(data) > serve.verifier_max_bytes:
                return self._verifier_answer(lang, wants_json, 413, refused=too_large(serve.verifier_max_bytes))
            check = CheckRequest(origin=Path(upload.filename).name[:200], data=data)
        elif url:
            try:
                await anyio.to_thread.run_sync(check_target, url, serve.verifier_allow)
            except Refused as refused:
                return self._verifier_answer(lang, wants_json, refused.status, refused=str(refused), url=url)
            check = CheckRequest(origin=url, url=url, max_bytes=serve.verifier_max_bytes, allowed=serve.verifier_allow)
        else:
            return self._verifier_answer(lang, wants_json, 400, refused=PAGE_TEXT[lang]["missing"])
        status, document, mapping = await anyio.to_thread.run_sync(
            lambda: run_check(check, timeout=serve.verifier_timeout, memory_mb=serve.verifier_mb),
            limiter=self._checks,
        )
        log.info("self-check of %s: %s (%s records)", check.origin, status, document.get("records"))
        return self._verifier_answer(lang, wants_json, status, document=document, mapping=mapping, url=url)

    def _verifier_page(self, lang: str, method: str = "GET", status: int = 200, **context: Any) -> Response:
        from transiscope.reports.templating import template_environment

        env = template_environment()
        if "concept_label" not in env.filters:
            taxonomy = read_taxonomy(self.settings.ontology_dir / "taxonomy.ttl")

            def concept_label(iri: str, language: str) -> str:
                concept = taxonomy.get(iri.rsplit("/", 1)[-1])
                return concept.label(language) if concept else iri

            env.filters["concept_label"] = concept_label
        own = "/verifier/en/" if lang == "en" else "/verifier/"
        html = env.get_template("verifier.html.j2").render(
            t=PAGE_TEXT[lang],
            lang=lang,
            other="fr" if lang == "en" else "en",
            own_path=own,
            other_path="/verifier/" if lang == "en" else "/verifier/en/",
            max_mb=f"{self.serve.verifier_max_bytes / 2**20:.2g}",
            shown=SHOWN,
            doc=context.get("document"),
            mapping=context.get("mapping"),
            refused=context.get("refused"),
            url=context.get("url"),
        )
        headers = {
            "Content-Security-Policy": REPORT_POLICY,
            "X-Content-Type-Options": "nosniff",
            **context.get("headers", {}),
        }
        if context.get("close"):
            headers["Connection"] = "close"
        body = b"" if method == "HEAD" else html.encode()
        return Response(body, status, headers, media_type="text/html; charset=utf-8")

    def _verifier_answer(self, lang: str, wants_json: bool, status: int, **context: Any) -> Response:
        if not wants_json:
            return self._verifier_page(lang, "POST", status, **context)
        document = context.get("document")
        if document is None:
            from transiscope.reports.check_source import error_document

            document = error_document(context.get("url") or "", str(context.get("refused") or ""))
        headers = dict(context.get("headers", {}))
        if context.get("close"):
            headers["Connection"] = "close"
        return Response(json.dumps(document, ensure_ascii=False), status, headers, media_type="application/json")

    async def reports(self, request: Request) -> Response:
        return await self._static(request, self.settings.home / "reports", request.path_params.get("path", ""))

    async def exports(self, request: Request) -> Response:
        return await self._static(
            request,
            self.exports_dir,
            request.path_params["path"],
            default="index.json",
            missing="no such export (run `transiscope export`)",
        )

    async def murmurations(self, request: Request) -> Response:
        """A source's Murmurations profile at a stable address of its own (the index keeps a profile's URL)."""
        relative = request.path_params["path"]
        if not relative.endswith(".json") or "/" in relative:
            return text_error(404, "no such profile: /murmurations/<source>.json")
        return await self._static(
            request,
            self.exports_dir / "murmurations",
            relative,
            missing="no such Murmurations profile (run `transiscope export`)",
        )

    async def _static(
        self,
        request: Request,
        root: Path,
        relative: str,
        default: str = "index.en.html",
        missing: str = "no such report (run `transiscope run` or `transiscope report`)",
        files: StaticFiles | None = None,
    ) -> Response:
        """A file under ``root``, streamed, with ETag, Cache-Control, Range and the gzip copy when taken."""
        found = await anyio.to_thread.run_sync((files or self.files).answer, root, relative or default, request.headers)
        if found is None:
            return text_error(404, missing)
        headers = dict(found.headers)
        if found.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = REPORT_POLICY
        if found.path is None:
            return Response(status_code=304, headers=headers)
        return FileResponse(found.path, headers=headers, media_type=found.content_type)

    async def map(self, request: Request) -> Response:
        """The map page (``/map/``), its settings (``config.json``) and its npm assets (``vendor/<package>/``)."""
        relative = request.path_params["path"]
        if relative in ("", "index.html"):
            return self.map_page.response(request.method)
        if relative == "config.json":
            return Response(json.dumps(self._map_config()), 200, {"Cache-Control": "no-cache"}, "application/json")
        if relative.startswith("vendor/"):
            return await self._vendor(request, relative.removeprefix("vendor/"))
        if relative.startswith("api/"):
            return await self._map_api(relative.removeprefix("api/"), dict(request.query_params))
        return text_error(404, "not found; the map page is /map/")

    async def _map_api(self, what: str, params: dict[str, str]) -> Response:
        """The map's view requests (:mod:`transiscope.serve.map_api`), each a bounded numpy pass in a thread."""

        def answer() -> dict[str, Any] | Response:
            index = self.map_index.current()
            if index is None:
                return text_error(404, "no map index yet: run `transiscope export`")
            if what == "meta":
                return index.summary()
            if what.startswith("initiative/") and what.removeprefix("initiative/").isdigit():
                return index.detail(int(what.removeprefix("initiative/")))
            if what == "points":
                return index.points(parse_view(params))
            if what == "list":
                offset = params.get("offset", "0")
                if not offset.isdigit() or int(offset) > 10_000_000:
                    raise BadRequest("offset: a number of rows")
                return index.listing(parse_view(params), int(offset) // LIST_PAGE * LIST_PAGE)
            return text_error(404, "map API: meta, points, list, initiative/<row>")

        try:
            result = await anyio.to_thread.run_sync(answer, limiter=self._map_threads)
        except BadRequest as error:
            return text_error(400, str(error))
        if isinstance(result, Response):
            return result
        body = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        return Response(body, 200, {"Cache-Control": "no-cache"}, "application/json")

    async def gaps(self, request: Request) -> Response:
        """``/gaps/`` (French) and ``/gaps/en/``: "where are alternatives missing?", one page that reads the gaps
        files under ``/exports/gaps/`` and picks its language from the path."""
        return self.gaps_page.response(request.method)

    async def vendor(self, request: Request) -> Response:
        return await self._vendor(request, request.path_params["path"])

    async def _vendor(self, request: Request, relative: str) -> Response:
        """A built file of one of the pages' npm packages (``<package>/<file>``)."""
        package, _, rest = relative.partition("/")
        if package not in MAP_PACKAGES or not rest:
            return text_error(404, "not a page asset")
        return await self._static(
            request,
            self.serve.map_assets / MAP_PACKAGES[package],
            rest,
            default="-",
            files=self.asset_files,
            missing="page asset missing: run `make map-assets` (npm packages of map/package.json)",
        )

    def _map_config(self) -> dict[str, object]:
        gaps_dir = self.exports_dir / "gaps"
        # sizes let the page offer only the levels a browser can take (the commune level is ~130 MB)
        sizes = (
            {p.relative_to(self.exports_dir).as_posix(): p.stat().st_size for p in sorted(gaps_dir.glob("*.geojson"))}
            if gaps_dir.is_dir()
            else {}
        )
        return {
            "tiles": self.serve.map_tiles,
            "gaps_index": "gaps/index.json" if (gaps_dir / "index.json").is_file() else None,
            "gaps_sizes": sizes,
            "missing_assets": map_assets_missing(self.serve.map_assets),
        }
