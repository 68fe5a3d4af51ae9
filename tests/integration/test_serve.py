"""The read-only SPARQL endpoint, queried by real clients (SPARQLWrapper, rdflib) over 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from calendar import monthrange
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rdflib
from pyproj import Geod
from SPARQLWrapper import CSV, JSON, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

from tests.conftest import SOURCE_IDS, PayloadServer, Reply, sample_path, write_registry
from transiscope import jobs, runs
from transiscope.serve.app import QUERIES_DIR, example_queries
from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.settings import Settings
from transiscope.store import statistics
from transiscope.store.embedded import EmbeddedStore

TOKEN = "s3cret-token"
LOADED = 12 + 11 + 9  # transiscope, presdecheznous (with the twin record), francetierslieux
QUERIES = {q["id"]: q["query"] for q in example_queries()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, payload_server: PayloadServer):
    """All samples loaded (+ one record shared by two sources, + events), and an endpoint serving them."""
    tmp = tmp_path_factory.mktemp("serve")
    urls = {sid: payload_server.serve_file(f"/serve/{sid}.json", sample_path(sid)) for sid in SOURCE_IDS}
    twin_source = json.loads(sample_path("presdecheznous").read_text(encoding="utf-8"))
    shared = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))["data"][0]
    twin_source["data"].append(
        {
            **twin_source["data"][0],
            "id": "twin1",
            "name": shared["name"].upper(),
            "geo": {"latitude": shared["geo"]["latitude"] + 0.001, "longitude": shared["geo"]["longitude"]},
        }
    )
    urls["presdecheznous"] = payload_server.set("/serve/pdcn-twin.json", Reply(200, json.dumps(twin_source).encode()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSISCOPE_HOME", str(tmp / "home"))
        mp.setenv("TRANSISCOPE_REGISTRY", str(write_registry(tmp, urls)))
        for source_id in SOURCE_IDS:
            assert jobs.run_source(source_id).outcome == "success"
        settings = Settings.from_env()
        jobs.run_link(settings)  # the overlap statistics come with the links
        _load_events(settings)
        endpoint = Endpoint(settings, ServeSettings(port=0, timeout=3, max_bytes=64_000, workers=2, update_token=TOKEN))
        thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
        thread.start()
        host, port = endpoint.server_address[:2]
        yield {"url": f"http://{host}:{port}", "settings": settings}
        endpoint.shutdown()
        endpoint.server_close()


def _load_events(settings: Settings) -> None:
    """Hand-written events around now: one later this month in the Rhône, others that must not match."""
    now = datetime.now(UTC)
    end_of_month = now.replace(day=monthrange(now.year, now.month)[1], hour=23, minute=59, second=0, microsecond=0)
    soon = now + (end_of_month - now) / 2
    events = {
        "soon-69": (soon, "69001"),
        "past-69": (now - timedelta(days=40), "69001"),
        "next-month-69": (end_of_month + timedelta(days=2), "69001"),
        "soon-75": (soon, "75011"),
    }
    triples = []
    for key, (start, postcode) in events.items():
        e, p, a = (
            f"<https://example.org/event/{key}>",
            f"<https://example.org/place/{key}>",
            f"<https://example.org/address/{key}>",
        )
        triples.append(
            f'{e} a <http://schema.org/Event> ; <http://schema.org/name> "Atelier {key}" ; '
            f'<http://schema.org/startDate> "{start.isoformat()}"^^<http://www.w3.org/2001/XMLSchema#dateTime> ; '
            f'<http://schema.org/location> {p} . {p} <http://schema.org/name> "Salle {key}" ; '
            f'<http://schema.org/address> {a} . {a} <http://schema.org/postalCode> "{postcode}" .'
        )
    with EmbeddedStore(settings.store_path) as store:
        store.update("INSERT DATA { GRAPH <https://example.org/graph/events> { " + " ".join(triples) + " } }")


def _wrapper(site, query: str, fmt=JSON) -> SPARQLWrapper:
    client = SPARQLWrapper(site["url"] + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    client.setMethod("POST")
    return client


def _rows(site, query: str) -> list[dict[str, str]]:
    data = _wrapper(site, query).query().convert()
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


def _valid_records(settings: Settings) -> list[dict]:
    records = []
    for source_id in SOURCE_IDS:
        run_dir = runs.latest_processed_run(settings, source_id)
        records += [json.loads(line) for line in (Path(run_dir) / "valid.jsonl").read_text().splitlines()]
    return records


# -- the example queries, against results computed from the canonical records --------------------------
def test_initiatives_per_category(site) -> None:
    rows = _rows(site, QUERIES["initiatives-per-category"])
    expected = Counter(c for r in _valid_records(site["settings"]) for c in set(r["concepts"]))
    assert {r["category"].rsplit("/", 1)[1]: int(r["initiatives"]) for r in rows} == dict(expected)
    assert rows[0]["label"] == "Tiers-lieux" and rows[0]["domainLabel"] == "Vivre ensemble"


def test_initiatives_per_departement(site) -> None:
    rows = _rows(site, QUERIES["initiatives-per-departement"])
    expected: Counter = Counter()
    for r in _valid_records(site["settings"]):
        pc = r["postcode"] or ""
        if len(pc) == 5 and pc.isdigit():
            dep = pc[:3] if pc.startswith("97") else "2A/2B" if pc.startswith("20") else pc[:2]
            for concept in set(r["concepts"]):
                expected[(dep, concept)] += 1
    assert {(r["departement"], r["category"].rsplit("/", 1)[1]): int(r["initiatives"]) for r in rows} == dict(expected)


def test_within_distance(site) -> None:
    rows = _rows(site, QUERIES["within-distance"])
    geod = Geod(ellps="WGS84")
    expected = {}
    for r in _valid_records(site["settings"]):
        km = geod.inv(4.8357, 45.764, r["lon"], r["lat"])[2] / 1000
        if km <= 10:
            expected[r["name"]] = km
    assert {r["name"] for r in rows} == set(expected) and len(expected) >= 2
    for r in rows:
        assert float(r["km_approx"]) == pytest.approx(expected[r["name"]], abs=0.15)
    assert [float(r["km_approx"]) for r in rows] == sorted(float(r["km_approx"]) for r in rows)


def test_upcoming_events(site) -> None:
    rows = _rows(site, QUERIES["upcoming-events"])
    assert [r["name"] for r in rows] == ["Atelier soon-69"]
    assert rows[0]["placeName"] == "Salle soon-69" and rows[0]["postcode"] == "69001"


def test_source_overlap(site) -> None:
    rows = _rows(site, QUERIES["source-overlap"])
    assert [(r["sourceA"].rsplit("/", 1)[1], r["sourceB"].rsplit("/", 1)[1], r["shared"]) for r in rows] == [
        ("presdecheznous", "transiscope", "1")
    ]


def test_changed_since(site) -> None:
    rows = _rows(site, QUERIES["changed-since"])
    since = re.search(r'STR\(\?modified\) >= "([^"]+)"', QUERIES["changed-since"]).group(1)
    expected = {
        (r["source"], r["source_id"])
        for r in _valid_records(site["settings"])
        if r["updated_at"] and r["updated_at"] >= since
    }
    got = {(r["source"].rsplit("/", 1)[1], r["initiative"].rsplit("/", 1)[1]) for r in rows}
    assert got == expected and expected
    assert all("/map#/fiche/" in r["page"] for r in rows)  # the record's page on the map that published it


def test_quality_per_source(site) -> None:
    rows = {r["title"]: r for r in _rows(site, QUERIES["quality-per-source"])}
    assert (rows["Transiscope"]["fetched"], rows["Transiscope"]["loaded"], rows["Transiscope"]["quarantined"]) == (
        "14",
        "12",
        "2",
    )
    assert rows["Près de chez nous"]["fetched"] == "13"  # the sample plus its twin record
    assert float(rows["France Tiers-Lieux"]["quarantined_percent"]) == 10.0


# -- the protocol ------------------------------------------------------------------------------------------
def test_result_formats(site) -> None:
    query = "SELECT ?s WHERE { ?s a ts:Initiative } ORDER BY ?s LIMIT 3"
    assert _wrapper(site, query, CSV).query().convert().decode().startswith("s\r\n")
    for fmt, media in (("xml", "application/sparql-results+xml"), ("tsv", "text/tab-separated-values")):
        url = f"{site['url']}/sparql?format={fmt}&query={urllib.parse.quote(query)}"
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://example.org"})) as r:
            assert r.headers["Content-Type"].split(";")[0] == media and r.headers["Access-Control-Allow-Origin"] == "*"
    construct = "CONSTRUCT { ?s schema:name ?n } WHERE { ?s a ts:Initiative ; schema:name ?n }"
    graph = _wrapper(site, construct, TURTLE).query().convert()
    assert len(rdflib.Graph().parse(data=graph, format="turtle")) == LOADED
    request = urllib.request.Request(
        f"{site['url']}/sparql?query={urllib.parse.quote(construct)}", headers={"Accept": "application/ld+json"}
    )
    with urllib.request.urlopen(request) as r:
        assert len(rdflib.Graph().parse(data=r.read(), format="json-ld")) == LOADED
    ask = _wrapper(site, "ASK { ?s a ts:Initiative }").query().convert()
    assert ask["boolean"] is True


def test_rdflib_sparqlstore_client(site) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(site["url"] + "/sparql", returnFormat="json")
    graph = rdflib.Graph(store)
    rows = list(
        graph.query(
            "PREFIX ts: <https://w3id.org/transiscope/ontology#> SELECT (COUNT(?i) AS ?n) WHERE { ?i a ts:Initiative }"
        )
    )
    assert int(rows[0][0]) == LOADED


def test_cors_preflight(site) -> None:
    """What a browser sends before a cross-origin POST of SPARQL (a query page on another site)."""
    request = urllib.request.Request(
        site["url"] + "/sparql",
        method="OPTIONS",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    with urllib.request.urlopen(request) as r:
        assert r.status == 200 and "POST" in r.headers["Access-Control-Allow-Methods"]
        assert r.headers["Access-Control-Allow-Origin"] == "*"


# -- hostile queries: clean HTTP errors, and the server keeps serving ---------------------------------
def _http_error(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {})):
            pass
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    raise AssertionError("expected an HTTP error")


def test_update_is_refused_without_the_token(site) -> None:
    url = site["url"] + "/sparql"
    code, message = _http_error(url, b"update=DROP%20ALL")
    assert code == 401 and "bearer token" in message
    code, message = _http_error(
        url, b"DROP ALL", {"Content-Type": "application/sparql-update", "Authorization": "Bearer wrong"}
    )
    assert code == 401
    code, message = _http_error(url + "?query=" + urllib.parse.quote("DROP ALL"))
    assert code == 400 and "not valid" in message  # an update is not a query
    assert _rows(site, "SELECT (COUNT(*) AS ?n) WHERE { ?s a ts:Initiative }")[0]["n"] == str(LOADED)


def test_update_with_the_token(site) -> None:
    url = site["url"] + "/sparql"
    request = urllib.request.Request(
        url,
        data=b"INSERT DATA { GRAPH <https://example.org/g> { <https://example.org/a> <https://example.org/p> 1 } }",
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request) as r:
        assert r.status == 204
    assert _wrapper(site, "ASK { <https://example.org/a> ?p ?o }").query().convert()["boolean"] is True


def test_read_only_without_a_configured_token(site) -> None:
    endpoint = Endpoint(site["settings"], ServeSettings(port=0, workers=1))
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = endpoint.server_address[:2]
        code, message = _http_error(
            f"http://{host}:{port}/sparql", b"update=DROP%20ALL", {"Authorization": f"Bearer {TOKEN}"}
        )
        assert code == 403 and "read-only" in message
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def test_malformed_query(site) -> None:
    with pytest.raises(QueryBadFormed) as caught:
        _wrapper(site, "SELECT ?s WHERE { ?s ?p }").query()
    assert "line 1, column" in str(caught.value)


def test_query_that_never_ends_is_stopped(site) -> None:
    endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    code, message = _http_error(site["url"] + "/sparql", ("query=" + urllib.parse.quote(endless)).encode())
    assert code == 503 and "ran longer than the limit of 3 s" in message
    assert _rows(site, "SELECT (COUNT(*) AS ?n) WHERE { ?s a ts:Initiative }")[0]["n"] == str(LOADED)


def test_huge_result_hits_the_cap(site) -> None:
    with pytest.raises(SPARQLWrapperException) as caught:
        _wrapper(site, "SELECT * WHERE { ?s ?p ?o }").query()
    assert "larger than 64,000 bytes, the cap of this endpoint" in str(caught.value)
    assert len(_rows(site, "SELECT * WHERE { ?s ?p ?o } LIMIT 200")) == 200


def test_pages_and_reports(site) -> None:
    with urllib.request.urlopen(site["url"] + "/") as r:
        assert b"Transiscope" in r.read()
    with urllib.request.urlopen(site["url"] + "/reports/index.fr.html") as r:
        assert "Qualité des sources" in r.read().decode()
    assert _http_error(site["url"] + "/reports/../../../etc/passwd")[0] == 404
    assert _http_error(site["url"] + "/nothing")[0] == 404
    with urllib.request.urlopen(site["url"] + "/queries.json") as r:
        titles = {q["title"] for q in json.loads(r.read())}
    assert "Initiatives within N km of a point" in titles


class _Listener:
    """An HTTP server of the test's own on 127.0.0.1 that records every request and answers one SPARQL JSON
    solution: what a federated call from the endpoint would reach."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                listener.requests.append(f"{self.command} {self.path} {self.rfile.read(length)[:200]!r}")
                body = json.dumps(
                    {"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "far"}}]}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


def _sparql_error(site_url: str, query: str) -> tuple[int, str]:
    return _http_error(site_url + "/sparql", ("query=" + urllib.parse.quote(query)).encode())


def test_service_is_refused_and_no_request_leaves(site, listener: _Listener) -> None:
    """SERVICE would make the endpoint send requests wherever a client says (loopback and private addresses
    included): refused with 400 before anything runs, whatever its spelling."""
    for query in (
        f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent <{listener.url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND(<{listener.url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c FILTER EXISTS {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }} }}",
    ):
        code, message = _sparql_error(site["url"], query)
        assert code == 400 and "is refused: this endpoint does not send requests to other servers" in message, query
    assert listener.requests == []
    # the word in a literal, an IRI or a comment is not a SERVICE clause
    assert _rows(site, 'SELECT ?x WHERE { BIND("SERVICE <http://x/>" AS ?x) } # SERVICE <http://y/>') == [
        {"x": "SERVICE <http://x/>"}
    ]


def test_deep_nesting_is_refused_before_parsing(site) -> None:
    """A query nested thousands deep crashes the parser of the store: refused unparsed, the workers untouched."""
    deep = "SELECT * WHERE { " + "{ " * 5000 + "?s ?p ?o " + "} " * 5000 + "}"
    code, message = _sparql_error(site["url"], deep)
    assert code == 400 and "nested more than 64 levels deep" in message
    assert _rows(site, "SELECT (COUNT(*) AS ?n) WHERE { ?s a ts:Initiative }")[0]["n"] == str(LOADED)


def test_an_allowed_service_is_called(site, listener: _Listener) -> None:
    """The operator may list the endpoints a federated query can reach (TRANSISCOPE_SERVE_SERVICE_ALLOW)."""
    endpoint = Endpoint(site["settings"], ServeSettings(port=0, workers=1, allowed_services=frozenset({listener.url})))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    try:
        host, port = endpoint.server_address[:2]
        sparql = SPARQLWrapper(f"http://{host}:{port}/sparql")
        sparql.setQuery(f"SELECT ?x WHERE {{ SERVICE <{listener.url}> {{ ?x ?p ?o }} }}")
        sparql.setReturnFormat(JSON)
        bindings = sparql.queryAndConvert()["results"]["bindings"]  # type: ignore[index]
        assert [b["x"]["value"] for b in bindings] == ["far"]
        assert len(listener.requests) == 1
        other = f"SELECT * WHERE {{ SERVICE <{listener.url}/other> {{ ?s ?p ?o }} }}"
        assert _sparql_error(f"http://{host}:{port}", other)[0] == 400 and len(listener.requests) == 1
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def test_a_query_over_the_memory_limit_ends_its_worker_not_the_server(site) -> None:
    """Each worker has its own address-space limit: a query that doubles a string past it crashes that worker
    only; the client is told it crashed (not that it ran too long), the pool refills, /health says so."""
    endpoint = Endpoint(site["settings"], ServeSettings(port=0, workers=1, timeout=60, worker_mb=1500))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    try:
        host, port = endpoint.server_address[:2]
        base = f"http://{host}:{port}"
        doublings = " ".join(f"BIND(CONCAT(?s{i}, ?s{i}) AS ?s{i + 1})" for i in range(30))
        code, message = _sparql_error(
            base, f'SELECT (STRLEN(?s30) AS ?n) WHERE {{ BIND("xxxxxxxx" AS ?s0) {doublings} }}'
        )
        assert code == 500 and "worker crashed" in message and "1,500 MB per query" in message, message
        sparql = SPARQLWrapper(f"{base}/sparql")
        sparql.setQuery("SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/transiscope/ontology#Initiative> }")
        sparql.setReturnFormat(JSON)
        assert sparql.queryAndConvert()["results"]["bindings"][0]["n"]["value"] == str(LOADED)  # type: ignore[index]
        with urllib.request.urlopen(f"{base}/health") as health:
            assert json.loads(health.read()) == {"workers": 1, "idle": 1, "missing": 0}
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def test_a_query_the_engine_cannot_evaluate_is_the_clients_error(site) -> None:
    """An unknown function is the query's problem: 400 with the engine's reason, not 503 "try again later"."""
    code, message = _sparql_error(site["url"], "SELECT (<http://example.org/no-such-function>(1) AS ?x) {}")
    assert code == 400 and "cannot be evaluated" in message and "no-such-function" in message, message


def _raw(site_url: str, request: bytes) -> bytes:
    """Send bytes as they are on a new connection; what the server answered, until it closed or went quiet."""
    import socket

    host, port = urllib.parse.urlsplit(site_url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.settimeout(3)
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    return received


def test_request_framing_is_strict(site) -> None:
    """A negative or doubled Content-Length, or a chunked body, is refused and the connection closed: what
    follows on it is never read as another request (no smuggled query gets an answer)."""
    smuggled = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
    for headers in (
        b"Content-Length: -1\r\n",
        b"Content-Length: 10\r\nContent-Length: 12\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 99999999\r\n",
    ):
        request = (
            b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + headers
            + b"\r\nquery=ASK%7B%7D"
            + smuggled
        )
        answer = _raw(site["url"], request)
        assert answer.count(b"HTTP/1.") == 1, (headers, answer)  # one answer, the refusal
        assert answer.split(b" ", 2)[1] in (b"400", b"411", b"413"), (headers, answer)


def test_protocol_details(site) -> None:
    url = site["url"]
    ask = urllib.parse.quote("ASK {}")
    # /sparql/ is the endpoint too
    with urllib.request.urlopen(f"{url}/sparql/?query={ask}") as reply:
        assert json.loads(reply.read())["boolean"] is True
    # repeated operations, a missing or unknown Content-Type, a body that is not UTF-8, other methods
    assert _http_error(f"{url}/sparql?query={ask}&query={ask}")[0] == 400
    assert _http_error(f"{url}/sparql", f"query={ask}&query={ask}".encode())[0] == 400
    assert _http_error(f"{url}/sparql", f"query={ask}&update=x".encode())[0] == 400
    request = urllib.request.Request(f"{url}/sparql", data=b"ASK {}", headers={"Content-Type": ""})
    code, message = _http_error_of(request)
    assert code == 400 and "missing Content-Type" in message
    code, _ = _http_error(f"{url}/sparql", b"ASK {}", {"Content-Type": "text/plain"})
    assert code == 415
    code, message = _http_error(f"{url}/sparql", b"ASK { \xff }", {"Content-Type": "application/sparql-query"})
    assert code == 400 and "not UTF-8" in message
    code, message = _http_error_of(urllib.request.Request(f"{url}/sparql", method="DELETE"))
    assert code == 405 and "not allowed" in message


def _http_error_of(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request):
            pass
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    raise AssertionError("expected an HTTP error")


def test_a_silent_client_is_disconnected(site) -> None:
    """A client that opens a connection and sends half a request does not hold a server thread for ever."""
    import socket

    endpoint = Endpoint(site["settings"], ServeSettings(port=0, workers=1, connection_timeout=1))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(endpoint.server_address[:2], timeout=10) as sock:
            sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            assert sock.recv(1024) == b""  # closed by the server (the client's own time-out would raise)
    finally:
        endpoint.shutdown()
        endpoint.server_close()


# -- the fast example queries against the scans they replace -------------------------------------------------------
#: what the example queries computed by scanning every record before the statistics graphs (their definitions)
SCANS = {
    **{path.stem: path.read_text(encoding="utf-8") for path in sorted((QUERIES_DIR / "scans").glob("*.rq"))},
    "source-overlap": "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"
    + statistics.OVERLAP_SCAN
    + "ORDER BY DESC(?shared)",
}


@pytest.mark.parametrize("name", sorted(SCANS))
def test_a_fast_query_answers_as_its_scan(site, name: str) -> None:
    """Each example query that reads the statistics graphs gives the rows the full scan gives (same order where
    the query orders), on the sample data with its links."""
    fast, scan = _rows(site, QUERIES[name]), _rows(site, SCANS[name])
    assert fast, name
    assert sorted(map(repr, fast)) == sorted(map(repr, scan)), name
    assert fast == scan, name  # same order too: each query breaks its ties by IRI


def _with_values(query: str, pattern: str, values: str) -> str:
    changed, n = re.subn(pattern, values, query, count=1)
    assert n == 1, pattern
    return changed


def _distance_cases(site) -> list[tuple[float, float, float]]:
    """Points and radii around the sample records: at a record (radius 0 and 300 m), boxes whose edges fall on
    the 0.1° and 1° cell borders, a radius served by the 1° and by the 10° grid, a point with nothing near."""
    records = [r for r in _valid_records(site["settings"]) if r.get("lat") is not None]
    lat, lon = records[0]["lat"], records[0]["lon"]
    on_border = (round(lat, 1), round(lon, 1))
    return [
        (lat, lon, 0),
        (lat, lon, 0.3),
        (on_border[0], on_border[1], 11.132),  # the box's north and south edges on the 0.1° rows' borders
        (float(round(lat)), float(round(lon)), 111.32),  # on the 1° rows' borders
        (45.764, 4.8357, 60),  # 1° cells
        (46.5, 2.5, 900),  # 10° cells: the whole of metropolitan France
        (46.0, -9.0, 25),  # the Atlantic: no initiative
    ]


def test_within_distance_answers_as_its_scan_around_cell_borders(site) -> None:
    """The grid query gives the scan's rows, in the same order, wherever the box's edges fall."""
    found = 0
    for lat0, lon0, km in _distance_cases(site):
        values = f"VALUES (?lat0 ?lon0 ?km) {{ ({lat0!r} {lon0!r} {km!r}) }}"
        pattern = r"VALUES \(\?lat0 \?lon0 \?km\) \{[^}]*\}"
        fast = _rows(site, _with_values(QUERIES["within-distance"], pattern, values))
        scan = _rows(site, _with_values(SCANS["within-distance"], pattern, values))
        assert fast == scan, (lat0, lon0, km)
        found += bool(fast)
    assert found >= 4  # the cases do find initiatives (all but the sea one, with radius 0 at a record)


@pytest.mark.parametrize("since", ["2018-01-01", "2023-06-21", "2023-06-21T14:30:00", "2024-06-01T08:00", "2031-01-01"])
def test_changed_since_answers_as_its_scan(site, since: str) -> None:
    """The day index gives the scan's rows for plain dates and date-times, up to a date after every record."""
    example = re.search(r'STR\(\?modified\) >= "([^"]+)"', QUERIES["changed-since"]).group(1)
    fast_query = QUERIES["changed-since"].replace(f'"{example}"', f'"{since}"')
    assert fast_query.count(f'"{since}"') == 2  # the fast query gives its date twice (no VALUES: see its comment)
    fast = _rows(site, fast_query)
    scan = _rows(
        site, _with_values(SCANS["changed-since"], r'VALUES \?since \{ "[^"]+" \}', f'VALUES ?since {{ "{since}" }}')
    )
    assert fast == scan, since
    assert (since == "2031-01-01") == (not fast), since
