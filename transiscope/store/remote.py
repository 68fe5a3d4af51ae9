"""A remote triplestore: any SPARQL 1.1 Protocol + Update server (+ Graph Store Protocol when configured).

Checked against a real Oxigraph server and a real Virtuoso 7.2 (``tests/integration/test_stores.py``).

Replacing a graph (:meth:`RemoteStore.replace_graph`) never touches the live graph until the new one is
complete on the server:

1. ``DROP SILENT`` the staging graph, then parse the RDF file with pyoxigraph and send it to the staging
   graph in chunks of ``TRANSISCOPE_STORE_CHUNK_TRIPLES`` triples, re-serialised by pyoxigraph: a Graph
   Store Protocol ``POST`` when ``TRANSISCOPE_STORE_GRAPH_STORE_URL`` is set (on Oxigraph with its
   non-transactional bulk loader, ``no_transaction``: nobody reads a staging graph), else ``INSERT DATA``.
   A chunk the server refuses (HTTP 400, 413, 414 or 500: Oxigraph caps a SPARQL body at 1 MiB, Virtuoso's
   SPARQL parser runs out of stack on about 1,500 of our triples in one ``INSERT DATA``) is halved, down to
   250 triples, and later chunks keep the smaller size. Triples sharing blank nodes always travel in the
   same request (a server mints new blank nodes per request); Virtuoso refuses blank nodes in
   ``INSERT DATA``, so those chunks go as ``INSERT {...} WHERE {}``, which means the same.
2. Count the staging graph: an empty staging graph is never swapped in (Virtuoso's plain ``MOVE`` from a
   missing graph succeeds and empties the target).
3. ONE update request swaps it in and runs ``then`` (the run's provenance), in this order.

Any failure before step 3 (a line that does not parse, a chunk refused, the connection lost) leaves the
live graph untouched and drops the half-filled staging graph (best effort). An empty or absent live graph
has nothing to protect: the file is then loaded straight into it, ``then`` runs after, and any failure
drops the graph again (readers of the union default graph may see it fill up during that first load).

Atomicity of step 3, as verified on each server:

- Oxigraph runs one update request as one transaction: a failure anywhere in it rolls back everything.
  Its ``MOVE`` rewrites every triple three times in that transaction (20.6 s for 280k triples over a
  full graph, vs 5.5 s by difference), so on Oxigraph the swap is done by difference — ``DELETE`` the
  live triples absent from staging, ``INSERT`` the staged triples absent from the live graph, then a
  plain ``DROP GRAPH`` of staging, which fails (rolling back the whole request) if staging is missing.
- Virtuoso does NOT run a multi-operation request atomically: operations run in order, and those before
  a failing one stay committed. A syntax error anywhere rejects the whole request before anything runs.
  So the swap goes first and ``then`` second: if ``then`` fails at run time, the live graph holds the new,
  complete data and the run is recorded as failed (a re-run converges); the reverse order could record a
  success whose data never arrived. ``MOVE`` is the fastest swap there (2.6 s for 280k triples). One
  operation is one transaction: a ``MOVE`` over the transaction log limit fails with SR325 and is rolled
  back (raise ``TransactionAfterImageLimit``, 50 MB by default, for graphs of millions of triples).
- Any other server gets the standard ``MOVE`` swap.

Queries return pyoxigraph objects like the embedded store: ``QuerySolutions`` / ``QueryBoolean`` (parsed
from SPARQL JSON results) and ``QueryTriples`` for CONSTRUCT/DESCRIBE (N-Triples parsed into a small
in-memory store and returned by a ``CONSTRUCT`` over it). The server's default graph must be the union
of the named graphs, as in the embedded store: Virtuoso does that by default, Oxigraph needs
``oxigraph serve --union-default-graph``, Fuseki ``tdb2:unionDefaultGraph true``.

Retries (urllib3): connection errors, 429, 502, 503, 504 for queries and staging loads, which are
idempotent. Updates — the swap in particular — are only retried when the connection could not be
opened: sent twice, a swap could move an already-emptied staging graph over the live one.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth
from urllib3.util.retry import Retry

from transiscope.core.errors import StoreError
from transiscope.core.sparql_lexer import declares_dataset, split_dataset
from transiscope.settings import StoreSettings
from transiscope.store.base import QueryDataset, Row

log = logging.getLogger(__name__)

_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".nq": ox.RdfFormat.N_QUADS}
#: statuses worth retrying later; 500 is how Oxigraph and Virtuoso report a query or update that failed
RETRY_STATUSES = (429, 502, 503, 504)
#: a refused chunk with one of these statuses is split in two and sent again
_SPLIT_STATUSES = (400, 413, 414, 500)
#: chunks are never split below this many triples
MIN_CHUNK = 250
#: largest INSERT DATA body sent (Oxigraph server refuses SPARQL bodies over 1 MiB)
INSERT_MAX_BYTES = 1_000_000
_CONNECT_TIMEOUT = 10.0
_NT = "application/n-triples"
_RESULTS_JSON = "application/sparql-results+json"
#: a graph IRI the bus never writes: as a ``default-graph-uri`` it gives the empty default graph the Protocol
#: asks for when a query names graphs and no default graph
EMPTY_GRAPH = "urn:x-transiscope:empty-default-graph"
_RDF_ACCEPT = "application/n-triples, text/plain;q=0.9, text/turtle;q=0.8, application/rdf+xml;q=0.5"

# The query form (SELECT, ASK, CONSTRUCT, DESCRIBE) after the prologue: decides what to ask the server
# for. Comments, BASE, PREFIX and Virtuoso's DEFINE pragmas may come first; IRIs there may hold '#'.
_PROLOGUE = re.compile(
    r"""(?:\s+|\#[^\n]*(?:\n|$)|BASE\s*<[^>]*>|PREFIX\s*[^\s:]*:\s*<[^>]*>"""
    r"""|DEFINE\s+\S+\s+(?:"[^"]*"|'[^']*'|<[^>]*>|\S+))*""",
    re.IGNORECASE,
)
_FORM = re.compile(r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


class StoreUnreachable(StoreError):
    """The server could not be reached or did not answer in time: retrying later may succeed."""

    kind = "store-unreachable"
    transient = True


class StoreHTTPError(StoreError):
    """The server answered with an HTTP error; 429 and 502-504 are worth retrying later."""

    kind = "store-http"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.transient = status in RETRY_STATUSES


class _TooLarge(Exception):
    """A chunk that would exceed :data:`INSERT_MAX_BYTES`: split before sending."""

    status = 413


def query_form(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; SELECT when unsure (the server then reports the error)."""
    prologue = _PROLOGUE.match(sparql)
    found = _FORM.match(sparql, prologue.end() if prologue else 0)
    return found.group(1).upper() if found else "SELECT"


def endpoint_name(url: str) -> str:
    """The URL without credentials or query string, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def first_line(response: requests.Response, limit: int = 300) -> str:
    """The first meaningful line of an error body (HTML tags removed), shortened."""
    text = response.text or ""
    if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip().startswith("<"):
        text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
        lines = [" ".join(line.split()) for line in html.unescape(re.sub(r"<[^>]+>", "\n", text)).splitlines()]
        # an HTML error page: its status heading says nothing the status code does not; keep the rest
        line = " ".join(line for line in lines if line and not re.match(r"HTTP/\d", line))
    else:
        line = next((" ".join(line.split()) for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _has_blank(triple: ox.Triple) -> bool:
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)


def blank_node_groups(triples: list[ox.Triple]) -> list[list[ox.Triple]]:
    """Triples linked through shared blank nodes, grouped (union-find): each group must be sent whole."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def ends(triple: ox.Triple) -> list[str]:
        return [term.value for term in (triple.subject, triple.object) if isinstance(term, ox.BlankNode)]

    for triple in triples:
        nodes = ends(triple)
        if len(nodes) == 2:
            parent[find(nodes[0])] = find(nodes[1])
        else:
            find(nodes[0])
    groups: dict[str, list[ox.Triple]] = {}
    for triple in triples:
        groups.setdefault(find(ends(triple)[0]), []).append(triple)
    return list(groups.values())


def _pack(groups: Iterable[list[ox.Triple]], size: int) -> Iterator[tuple[list[ox.Triple], list[int]]]:
    """Groups packed into chunks of about ``size`` triples, with the positions where a chunk may be cut."""
    chunk: list[ox.Triple] = []
    cuts: list[int] = []
    for group in groups:
        if chunk and len(chunk) + len(group) > size:
            yield chunk, cuts
            chunk, cuts = [], []
        if chunk:
            cuts.append(len(chunk))
        chunk.extend(group)
    if chunk:
        yield chunk, cuts


_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def _fix_blank_labels(body: bytes) -> bytes:
    """Virtuoso labels blank nodes ``nodeID://b10004`` in SPARQL JSON, which is not a valid label (pyoxigraph
    refuses it): map each invalid label to a valid one (injectively); other documents are left as they are."""
    try:
        data = json.loads(body)
    except ValueError:
        return body  # the parser will say what is wrong
    changed = False
    for binding in data.get("results", {}).get("bindings", []):
        for term in binding.values():
            if isinstance(term, dict) and term.get("type") == "bnode" and not _LABEL.fullmatch(str(term["value"])):
                term["value"] = "v" + hashlib.blake2b(str(term["value"]).encode(), digest_size=12).hexdigest()
                changed = True
    return json.dumps(data).encode() if changed else body


class RemoteStore:
    """A SPARQL 1.1 Protocol server as the bus's store. Use as a context manager to close its connections."""

    def __init__(
        self, settings: StoreSettings, *, read_only: bool = False, retries: int = 3, backoff: float = 0.3
    ) -> None:
        if not settings.query_url or (not read_only and not settings.update_url):
            raise StoreError("a remote store needs TRANSISCOPE_STORE_QUERY_URL and TRANSISCOPE_STORE_UPDATE_URL")
        self.settings = settings
        self.read_only = read_only
        self.query_url = settings.query_url
        self.update_url = settings.update_url
        self.graph_store_url = settings.graph_store_url
        self.timeout = settings.timeout
        self.chunk_triples = max(1, settings.chunk_triples)
        #: triples per staging request; lowered when the server refuses a chunk as too large
        self.batch_limit = self.chunk_triples
        #: the ``Server`` header of the last response (which swap to use, see the module docstring)
        self.server = ""
        #: staging requests sent by the last :meth:`replace_graph`
        self.requests_sent = 0
        auth: AuthBase | None = None
        if settings.user:
            auth = (HTTPDigestAuth if settings.auth == "digest" else HTTPBasicAuth)(settings.user, settings.password)
        # Queries and staging loads are idempotent: retried on connection errors, read errors and 429/5xx.
        self._session = self._make_session(
            auth,
            Retry(
                total=retries,
                connect=retries,
                read=retries,
                status=retries,
                other=0,
                backoff_factor=backoff,
                backoff_max=10,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=None,
                respect_retry_after_header=True,
                raise_on_status=False,
            ),
        )
        # Updates: only a connection that could not be opened is retried (the request was never sent).
        self._once = self._make_session(
            auth,
            Retry(
                total=retries,
                connect=retries,
                read=0,
                status=0,
                other=0,
                backoff_factor=backoff,
                backoff_max=10,
                allowed_methods=None,
                raise_on_status=False,
            ),
        )

    @staticmethod
    def _make_session(auth: AuthBase | None, retry: Retry) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.auth = auth
        session.headers["User-Agent"] = "transiscope-bus/0.1 (+https://transiscope.org)"
        return session

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self._once.close()

    def __repr__(self) -> str:
        return f"RemoteStore({endpoint_name(self.query_url)!r}, read_only={self.read_only})"

    # -- HTTP ------------------------------------------------------------------------------------
    def _request(self, method: str, url: str, what: str, *, once: bool = False, **kwargs) -> requests.Response:
        session = self._once if once else self._session
        endpoint = endpoint_name(url)
        try:
            response = session.request(method, url, timeout=(_CONNECT_TIMEOUT, self.timeout), **kwargs)
        except requests.exceptions.ReadTimeout:
            outcome = " (its outcome is unknown)" if once else ""
            raise StoreUnreachable(
                f"{what}: {endpoint} did not answer within {self.timeout:g} s{outcome} (TRANSISCOPE_STORE_TIMEOUT)"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            reason = str(exc.args[0]) if exc.args else str(exc)
            if "refused" in reason.lower():
                why = "the connection was refused"
            elif "resolve" in reason.lower() or "name or service" in reason.lower():
                why = "its host name does not resolve"
            elif "timed out" in reason.lower():
                why = f"no connection within {_CONNECT_TIMEOUT:g} s"
            else:
                why = "the connection failed or was lost" + (" (the outcome of the request is unknown)" if once else "")
            raise StoreUnreachable(f"{what}: the store at {endpoint} is unreachable: {why}") from None
        except requests.exceptions.RequestException as exc:
            raise StoreUnreachable(f"{what}: request to {endpoint} failed: {type(exc).__name__}") from None
        self.server = response.headers.get("Server", self.server)
        if response.status_code >= 400:
            raise self._http_error(response, what)
        return response

    def _http_error(self, response: requests.Response, what: str) -> StoreHTTPError:
        status = response.status_code
        endpoint = endpoint_name(response.request.url or "")
        detail = first_line(response)
        user = self.settings.user
        if status == 401:
            message = (
                f"{what}: authentication failed for user {user!r} at {endpoint} (HTTP 401)"
                if user
                else f"{what}: {endpoint} requires authentication (HTTP 401): set TRANSISCOPE_STORE_USER and "
                "TRANSISCOPE_STORE_PASSWORD"
            )
        elif status == 403:
            who = f"user {user!r}" if user else "an anonymous client"
            message = f"{what}: {endpoint} does not allow this to {who} (HTTP 403{': ' + detail if detail else ''})"
        elif status == 400 and what in ("the SPARQL query", "the SPARQL update"):
            # worded as the embedded store words it: the CLI and the endpoint answer it as a client error
            message = f"{what} is not valid: {detail or 'refused'} ({endpoint}, HTTP 400)"
        else:
            reason = f"HTTP {status} {response.reason or ''}".rstrip()
            retried = " after retries" if status in RETRY_STATUSES else ""
            message = f"{what}: {endpoint} answered {reason}{retried}{': ' + detail if detail else ''}"
            if "SR325" in detail:  # Virtuoso rolled the transaction back: its log limit is too small for it
                message += " (raise TransactionAfterImageLimit in virtuoso.ini)"
        return StoreHTTPError(message, status)

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise StoreError(
                f"{what}: the store at {endpoint_name(self.query_url)} was opened read-only, updates are refused"
            )

    # -- reading ---------------------------------------------------------------------------------
    def query(
        self, sparql: str, dataset: QueryDataset | None = None
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Any SPARQL query, as the same pyoxigraph objects the embedded store returns; a chosen dataset is
        forwarded as the Protocol's parameters, a base IRI as a ``BASE`` declaration."""
        graph_form = query_form(sparql) in ("CONSTRUCT", "DESCRIBE")
        form: list[tuple[str, str]] = []
        chosen = dataset is not None and dataset.chosen
        if chosen or declares_dataset(sparql):
            # the dataset always as parameters, never as FROM: servers disagree on FROM (see split_dataset)
            sparql, defaults, named = split_dataset(sparql)
            if dataset is not None and dataset.chosen:
                defaults, named = dataset.default_graphs, dataset.named_graphs
            form += [("default-graph-uri", g) for g in defaults]
            form += [("named-graph-uri", g) for g in named]
            if named and not defaults:
                # the Protocol's empty default graph: a graph IRI no store holds
                form.append(("default-graph-uri", EMPTY_GRAPH))
        if dataset is not None and dataset.base_iri:
            sparql = f"BASE <{dataset.base_iri}>\n{sparql}"
        response = self._request(
            "POST",
            self.query_url,
            "the SPARQL query",
            data=[("query", sparql), *form],
            headers={"Accept": _RDF_ACCEPT if graph_form else _RESULTS_JSON},
        )
        self._check_complete(response)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if graph_form:
            return self._triples(response, media_type)
        fmt = ox.QueryResultsFormat.from_media_type(media_type) or ox.QueryResultsFormat.JSON
        body = response.content
        if fmt == ox.QueryResultsFormat.JSON and b'"bnode"' in body:
            body = _fix_blank_labels(body)  # pyoxigraph parses rows lazily: fix before, not on error
        try:
            return ox.parse_query_results(body, format=fmt)
        except SyntaxError as exc:
            raise StoreError(
                f"the SPARQL query: {endpoint_name(self.query_url)} sent results that cannot be "
                f"read as {media_type or 'SPARQL JSON'}: {exc}"
            ) from None

    def _check_complete(self, response: requests.Response) -> None:
        """Virtuoso cuts results silently (a header says so): a partial answer must not pass for a whole one."""
        endpoint = endpoint_name(self.query_url)
        cap = response.headers.get("X-SPARQL-MaxRows")
        if cap:
            raise StoreError(
                f"the SPARQL query: {endpoint} cut the result at {cap} rows (its result limit, "
                "ResultSetMaxRows in Virtuoso): add a LIMIT or page with OFFSET"
            )
        state = response.headers.get("X-SQL-State")
        if state:
            detail = response.headers.get("X-SQL-Message", "")
            raise StoreError(
                f"the SPARQL query: {endpoint} returned a partial result ({state} {detail})".rstrip()
                + ": it hit the server's time limit"
            )

    def _triples(self, response: requests.Response, media_type: str) -> ox.QueryTriples:
        fmt = ox.RdfFormat.from_media_type(media_type) if media_type else ox.RdfFormat.N_TRIPLES
        if fmt is None:
            raise StoreError(
                f"the SPARQL query: {endpoint_name(self.query_url)} answered a graph query with "
                f"{media_type}, not an RDF format"
            )
        graph = ox.Store()  # in memory: gives a genuine QueryTriples, as the embedded store returns
        try:
            graph.load(response.content, format=fmt)
        except SyntaxError as exc:
            raise StoreError(
                f"the SPARQL query: {endpoint_name(self.query_url)} sent triples that cannot be "
                f"read as {media_type}: {exc}"
            ) from None
        triples = graph.query("CONSTRUCT WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
        assert isinstance(triples, ox.QueryTriples)  # a CONSTRUCT gives triples
        return triples

    def select(self, sparql: str) -> list[Row]:
        """A SELECT as a list of ``{variable: term}`` rows (unbound variables left out)."""
        result = self.query(sparql)
        if not isinstance(result, ox.QuerySolutions):
            raise StoreError("expected a SELECT query")
        names = [v.value for v in result.variables]
        return [{name: row[name] for name in names if row[name] is not None} for row in result]

    def count(self, graph: str) -> int:
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"].value) if rows else 0

    def named_graphs(self) -> Iterator[str]:
        for row in self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"):
            yield row["g"].value

    # -- writing ---------------------------------------------------------------------------------
    def update(self, sparql: str, base_iri: str | None = None) -> None:
        """One SPARQL Update request (one transaction on Oxigraph; on Virtuoso see the module docstring)."""
        self._writable("the SPARQL update")
        if base_iri:
            sparql = f"BASE <{base_iri}>\n{sparql}"
        self._request(
            "POST",
            self.update_url,
            "the SPARQL update",
            once=True,
            data=sparql.encode("utf-8"),
            headers={"Content-Type": "application/sparql-update; charset=utf-8"},
        )

    def _drop(self, graph: str) -> None:
        self._request(
            "POST",
            self.update_url,
            f"dropping <{graph}>",
            data=f"DROP SILENT GRAPH <{graph}>".encode(),
            headers={"Content-Type": "application/sparql-update; charset=utf-8"},
        )

    @property
    def is_oxigraph(self) -> bool:
        return self.server.lower().startswith("oxigraph")

    def replace_graph(self, graph: str, staging: str, data: Path, then: str = "") -> int:
        """Make ``graph`` hold exactly the triples of ``data``, then run ``then``; returns its triple count.

        The triples go to ``staging`` in chunks; one update swaps them in (see the module docstring).
        """
        self._writable(f"replacing <{graph}>")
        data = Path(data)
        fmt = _FORMATS.get(data.suffix)
        if fmt is None:
            raise StoreError(f"cannot load {data.name}: unknown RDF file extension")
        self.requests_sent = 0
        if self.count(graph) == 0:
            return self._first_load(graph, data, fmt, then)
        self._drop(staging)
        try:
            sent = self._load_staging(staging, data, fmt)
            if sent == 0:  # the file holds no triple: the graph is to be emptied, as asked
                swap = f"CLEAR SILENT GRAPH <{graph}>"
            else:
                staged = self.count(staging)
                if staged == 0 or staged > sent:
                    raise StoreError(
                        f"loading {data.name}: the staging graph <{staging}> holds {staged} triples "
                        f"after {sent} were sent; the live graph <{graph}> was left as it was"
                    )
                swap = self._swap(graph, staging)
            self.update(swap + (" ;\n" + then if then else ""))
        except BaseException:
            with contextlib.suppress(Exception):
                self._drop(staging)  # best effort: no half-filled staging graph left behind
            raise
        return self.count(graph)

    def _first_load(self, graph: str, data: Path, fmt: ox.RdfFormat, then: str) -> int:
        """An empty (or absent) live graph has nothing to protect: load straight into it, then run ``then``;
        on any failure the graph is dropped again, leaving it as it was (empty)."""
        try:
            if self._load_staging(graph, data, fmt) and self.count(graph) == 0:
                raise StoreError(f"loading {data.name}: <{graph}> is still empty after the load")
            if then:
                self.update(then)
        except BaseException:
            with contextlib.suppress(Exception):
                self._drop(graph)
            raise
        return self.count(graph)

    def _swap(self, graph: str, staging: str) -> str:
        if self.is_oxigraph:
            pattern = "{ ?s ?p ?o }"
            return " ;\n".join(
                [
                    f"DELETE {{ GRAPH <{graph}> {pattern} }} WHERE {{ GRAPH <{graph}> {pattern} "
                    f"FILTER NOT EXISTS {{ GRAPH <{staging}> {pattern} }} }}",
                    f"INSERT {{ GRAPH <{graph}> {pattern} }} WHERE {{ GRAPH <{staging}> {pattern} "
                    f"FILTER NOT EXISTS {{ GRAPH <{graph}> {pattern} }} }}",
                    f"DROP GRAPH <{staging}>",  # not SILENT: a missing staging graph fails the whole request
                ]
            )
        # Not MOVE SILENT: with a missing staging graph it empties the live graph (and so does Virtuoso's
        # plain MOVE, hence the count of the staging graph before any swap).
        return f"MOVE GRAPH <{staging}> TO GRAPH <{graph}>"

    def _load_staging(self, staging: str, data: Path, fmt: ox.RdfFormat) -> int:
        """Send the file's triples to ``staging`` in chunks; returns how many were sent."""
        plain: list[ox.Triple] = []
        blank: list[ox.Triple] = []
        sent = 0
        try:
            for quad in ox.parse(path=str(data), format=fmt):
                triple = quad.triple
                if _has_blank(triple):
                    blank.append(triple)
                    continue
                plain.append(triple)
                if len(plain) >= self.chunk_triples:
                    self._send(staging, plain, None)
                    sent += len(plain)
                    plain = []
        except (SyntaxError, ValueError) as exc:
            raise StoreError(f"reading {data.name} failed: {exc}") from None
        except OSError as exc:
            raise StoreError(f"reading {data.name} failed: {exc.strerror or exc}") from None
        if plain:
            self._send(staging, plain, None)
            sent += len(plain)
        for chunk, cuts in _pack(blank_node_groups(blank), self.chunk_triples):
            self._send(staging, chunk, cuts)
            sent += len(chunk)
        return sent

    def _send(self, staging: str, triples: list[ox.Triple], cuts: list[int] | None) -> None:
        """Send one chunk; a chunk over the current limit or refused as too large goes as two halves.

        ``cuts``: where a chunk holding blank nodes may be split (between groups); None: anywhere.
        """
        middle = self._middle(triples, cuts)
        if len(triples) > self.batch_limit and middle is not None:
            self._send_halves(staging, triples, cuts, middle)
            return
        try:
            self._post_chunk(staging, triples, blank=cuts is not None)
        except _TooLarge:
            if middle is None:
                raise StoreError(
                    f"a group of {len(triples)} triples linked by blank nodes is over "
                    f"{INSERT_MAX_BYTES:,} bytes as one INSERT: set "
                    "TRANSISCOPE_STORE_GRAPH_STORE_URL"
                ) from None
            self.batch_limit = max(1, min(self.batch_limit, len(triples) // 2))
            self._send_halves(staging, triples, cuts, middle)
        except StoreHTTPError as exc:
            if exc.status not in _SPLIT_STATUSES or middle is None or len(triples) <= MIN_CHUNK:
                raise
            self.batch_limit = max(MIN_CHUNK, min(self.batch_limit, len(triples) // 2))
            log.info(
                "%s refused %d triples in one request; sending at most %d",
                endpoint_name(self.update_url),
                len(triples),
                self.batch_limit,
            )
            self._send_halves(staging, triples, cuts, middle)

    def _send_halves(self, staging: str, triples: list[ox.Triple], cuts: list[int] | None, middle: int) -> None:
        left = None if cuts is None else [c for c in cuts if c < middle]
        right = None if cuts is None else [c - middle for c in cuts if c > middle]
        self._send(staging, triples[:middle], left)
        self._send(staging, triples[middle:], right)

    @staticmethod
    def _middle(triples: list[ox.Triple], cuts: list[int] | None) -> int | None:
        if len(triples) < 2:
            return None
        if cuts is None:
            return len(triples) // 2
        inside = [c for c in cuts if 0 < c < len(triples)]
        return min(inside, key=lambda c: abs(c - len(triples) / 2)) if inside else None

    def _post_chunk(self, staging: str, triples: list[ox.Triple], *, blank: bool) -> None:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        assert body is not None  # without an output, serialize returns the bytes
        what = f"loading {len(triples)} triples into <{staging}>"
        self.requests_sent += 1
        if self.graph_store_url:
            # Oxigraph's non-transactional bulk loader is 2-3x faster; nobody reads a graph being loaded
            params = {"graph": staging, "no_transaction": ""} if self.is_oxigraph else {"graph": staging}
            self._request("POST", self.graph_store_url, what, params=params, data=body, headers={"Content-Type": _NT})
            return
        # N-Triples terms are valid SPARQL terms. Virtuoso refuses blank nodes in INSERT DATA; a template
        # with blank nodes and an empty WHERE inserts them once, with the same meaning.
        head = (f"INSERT {{ GRAPH <{staging}> {{\n" if blank else f"INSERT DATA {{ GRAPH <{staging}> {{\n").encode()
        text = head + body + (b"} } WHERE {}" if blank else b"} }")
        if len(text) > INSERT_MAX_BYTES and len(triples) > 1:
            raise _TooLarge
        self._request(
            "POST",
            self.update_url,
            what,
            data=text,
            headers={"Content-Type": "application/sparql-update; charset=utf-8"},
        )
