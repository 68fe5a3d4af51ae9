"""The SPARQL 1.1 Protocol on ``transiscope serve``, case by case, after the W3C test manifest
(``sparql11/protocol/manifest.ttl``): each test is named after the manifest's case it covers, written here over
a small store of our own (three named graphs), with real clients (urllib, SPARQLWrapper, rdflib's SPARQLStore)
on 127.0.0.1.

The update cases run with the endpoint's bearer token (updates are disabled on a public endpoint). The
``using-graph-uri`` / ``using-named-graph-uri`` parameters are refused with 400 by design (the embedded store's
update has no dataset argument), so the manifest's ``update_dataset_*`` cases are tested as refusals.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
import rdflib
from SPARQLWrapper import JSON, SPARQLWrapper

from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.settings import Settings
from transiscope.store.embedded import open_store

TOKEN = "protocol-token"
EX = "http://example.org/"
GRAPHS = {f"{EX}g1": ("a", "1"), f"{EX}g2": ("b", "2"), f"{EX}g3": ("c", "3")}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("protocol")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSISCOPE_HOME", str(home / "home"))
        settings = Settings.from_env()
        with open_store(settings) as store:
            for graph, (subject, value) in GRAPHS.items():
                store.update(f"INSERT DATA {{ GRAPH <{graph}> {{ <{EX}{subject}> <{EX}p> {value} }} }}")
        (settings.exports_dir).mkdir(parents=True, exist_ok=True)
        (settings.exports_dir / "big.csv").write_bytes(b"".join(b"line %06d\n" % i for i in range(100_000)))
        server = Endpoint(settings, ServeSettings(port=0, workers=1, update_token=TOKEN, map_tiles=""))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host, port = server.server_address
        yield f"http://{host}:{port}"
        server.shutdown()
        server.server_close()


def _call(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Message, bytes]:
    """Status, headers (names in any case) and body of one request."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _get(base: str, query: str, **params: str | list[str]) -> tuple[int, Message, bytes]:
    pairs: list[tuple[str, str]] = [("query", query)]
    for key, value in params.items():
        for one in [value] if isinstance(value, str) else value:
            pairs.append((key.replace("_", "-"), one))
    return _call(
        f"{base}/sparql?{urllib.parse.urlencode(pairs)}", headers={"Accept": "application/sparql-results+json"}
    )


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return urllib.parse.urlencode(pairs).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"}
VALUES = "SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o"


def _values(body: bytes) -> list[str]:
    return [b["o"]["value"] for b in json.loads(body)["results"]["bindings"]]


# -- queries ---------------------------------------------------------------------------------------------------
def test_query_get(endpoint: str) -> None:
    status, headers, body = _get(endpoint, "ASK {}")
    assert status == 200 and headers["Content-Type"] == "application/sparql-results+json"
    assert json.loads(body)["boolean"] is True


def test_query_post_form(endpoint: str) -> None:
    status, _, body = _call(f"{endpoint}/sparql", _form([("query", VALUES)]), FORM)
    assert status == 200 and _values(body) == ["1", "2", "3"]  # the default graph: the union of the graphs


def test_query_post_direct(endpoint: str) -> None:
    headers = {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"}
    status, _, body = _call(f"{endpoint}/sparql", VALUES.encode(), headers)
    assert status == 200 and _values(body) == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("query", "accept", "media"),
    [
        ("SELECT * WHERE { ?s ?p ?o }", "application/sparql-results+xml", "application/sparql-results+xml"),
        ("ASK { ?s ?p ?o }", "application/sparql-results+json", "application/sparql-results+json"),
        ("DESCRIBE <http://example.org/a>", "application/rdf+xml", "application/rdf+xml"),
        ("CONSTRUCT WHERE { ?s ?p ?o }", "text/turtle", "text/turtle"),
    ],
    ids=["query_content_type_select", "query_content_type_ask", "query_content_type_describe", "construct"],
)
def test_query_content_type(endpoint: str, query: str, accept: str, media: str) -> None:
    status, headers, body = _call(
        f"{endpoint}/sparql?query={urllib.parse.quote(query)}", headers={"Accept": accept + ", */*;q=0.1"}
    )
    assert status == 200 and headers["Content-Type"].split(";")[0] == media
    if media in ("application/rdf+xml", "text/turtle"):
        graph = rdflib.Graph().parse(data=body, format="xml" if "xml" in media else "turtle")
        assert len(graph) >= 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_query_dataset_default_graphs(endpoint: str, method: str) -> None:
    graphs = [f"{EX}g1", f"{EX}g2"]
    if method == "get":
        status, _, body = _get(endpoint, VALUES, default_graph_uri=graphs)
    else:
        pairs = [("query", VALUES)] + [("default-graph-uri", g) for g in graphs]
        status, _, body = _call(f"{endpoint}/sparql", _form(pairs), FORM)
    assert status == 200 and _values(body) == ["1", "2"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_query_dataset_named_graphs(endpoint: str, method: str) -> None:
    query = "SELECT ?g ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?o"
    graphs = [f"{EX}g1", f"{EX}g3"]
    if method == "get":
        status, _, body = _get(endpoint, query, named_graph_uri=graphs)
    else:
        status, _, body = _call(
            f"{endpoint}/sparql?" + urllib.parse.urlencode([("named-graph-uri", g) for g in graphs]),
            query.encode(),
            {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
        )
    assert status == 200 and _values(body) == ["1", "3"]
    # named graphs only: the default graph is empty, not the union
    status, _, body = _get(endpoint, VALUES, named_graph_uri=graphs)
    assert status == 200 and _values(body) == []


def test_query_dataset_full(endpoint: str) -> None:
    query = "SELECT ?o ?n WHERE { ?s ?p ?o GRAPH ?g { ?x ?y ?n } }"
    status, _, body = _get(endpoint, query, default_graph_uri=f"{EX}g3", named_graph_uri=[f"{EX}g1", f"{EX}g2"])
    rows = {(b["o"]["value"], b["n"]["value"]) for b in json.loads(body)["results"]["bindings"]}
    assert status == 200 and rows == {("3", "1"), ("3", "2")}


def test_query_multiple_dataset(endpoint: str) -> None:
    """The Protocol's dataset replaces the query's own FROM."""
    query = f"SELECT ?o FROM <{EX}g1> WHERE {{ ?s ?p ?o }}"
    assert _values(_get(endpoint, query)[2]) == ["1"]
    assert _values(_get(endpoint, query, default_graph_uri=f"{EX}g2")[2]) == ["2"]


def test_bad_query_method(endpoint: str) -> None:
    status, headers, body = _call(f"{endpoint}/sparql?query=ASK%7B%7D", method="PUT")
    assert status == 405 and "POST" in headers["Allow"] and b"not allowed" in body


def test_bad_multiple_queries(endpoint: str) -> None:
    assert _call(f"{endpoint}/sparql?query=ASK%7B%7D&query=ASK%7B%7D")[0] == 400
    assert _call(f"{endpoint}/sparql", _form([("query", "ASK {}"), ("query", "ASK {}")]), FORM)[0] == 400


def test_bad_query_wrong_media_type(endpoint: str) -> None:
    assert _call(f"{endpoint}/sparql", b"ASK {}", {"Content-Type": "text/plain"})[0] == 415


def test_bad_query_missing_form_type(endpoint: str) -> None:
    status, _, body = _call(f"{endpoint}/sparql", b"query=ASK%20%7B%7D", {"Content-Type": ""})
    assert status == 400 and b"missing Content-Type" in body


def test_bad_query_missing_direct_type(endpoint: str) -> None:
    assert _call(f"{endpoint}/sparql", b"ASK {}", {"Content-Type": ""})[0] == 400


def test_bad_query_non_utf8(endpoint: str) -> None:
    status, _, body = _call(
        f"{endpoint}/sparql", "ASK { <x> <y> 'é' }".encode("latin-1"), {"Content-Type": "application/sparql-query"}
    )
    assert status == 400 and b"not UTF-8" in body


def test_bad_query_syntax(endpoint: str) -> None:
    status, _, body = _get(endpoint, "SELECT * WHERE {")
    assert status == 400 and b"not valid" in body


# -- updates -----------------------------------------------------------------------------------------------------
UPDATE = {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"}
UPDATE_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {TOKEN}"}


def test_bad_update_get(endpoint: str) -> None:
    status, _, body = _call(f"{endpoint}/sparql?update=" + urllib.parse.quote("CLEAR ALL"))
    assert status == 400 and b"POST" in body


def test_bad_multiple_updates(endpoint: str) -> None:
    pairs = [("update", "CLEAR SILENT GRAPH <http://example.org/none>")] * 2
    assert _call(f"{endpoint}/sparql", _form(pairs), UPDATE_FORM)[0] == 400


def test_bad_update_wrong_media_type(endpoint: str) -> None:
    headers = {**UPDATE, "Content-Type": "application/sparql-query+update"}
    assert _call(f"{endpoint}/sparql", b"CLEAR SILENT GRAPH <http://example.org/none>", headers)[0] == 415


def test_bad_update_missing_form_type(endpoint: str) -> None:
    headers = {**UPDATE, "Content-Type": ""}
    assert _call(f"{endpoint}/sparql", b"update=CLEAR%20ALL", headers)[0] == 400


def test_bad_update_non_utf8(endpoint: str) -> None:
    body = "INSERT DATA { <http://example.org/x> <http://example.org/p> 'é' }".encode("latin-1")
    assert _call(f"{endpoint}/sparql", body, UPDATE)[0] == 400


def test_bad_update_syntax(endpoint: str) -> None:
    status, _, body = _call(f"{endpoint}/sparql", b"INSERT DATA { <x> }", UPDATE)
    assert status == 400 and b"not valid" in body


@pytest.mark.parametrize(
    "pairs",
    [
        [("using-graph-uri", f"{EX}g1")],
        [("using-named-graph-uri", f"{EX}g1")],
        [("using-graph-uri", f"{EX}g1"), ("using-named-graph-uri", f"{EX}g2")],
    ],
    ids=["update_dataset_default_graph", "update_dataset_named_graphs", "update_dataset_full"],
)
def test_update_dataset_parameters_are_refused(endpoint: str, pairs: list[tuple[str, str]]) -> None:
    """Refused by design, with a sentence; ``bad_update_dataset_conflict`` is refused the same way."""
    update = f"DELETE {{ ?s ?p ?o }} USING <{EX}g1> WHERE {{ ?s ?p ?o FILTER(false) }}"
    status, _, body = _call(f"{endpoint}/sparql", _form([("update", update), *pairs]), UPDATE_FORM)
    assert status == 400 and b"using-graph-uri and using-named-graph-uri are not supported" in body
    assert _values(_get(endpoint, VALUES)[2]) == ["1", "2", "3"]  # nothing was run


def test_update_post_form_and_direct(endpoint: str) -> None:
    graph = f"{EX}written"
    insert = f"INSERT DATA {{ GRAPH <{graph}> {{ <{EX}w> <{EX}p> 9 }} }}"
    assert _call(f"{endpoint}/sparql", _form([("update", insert)]), UPDATE_FORM)[0] == 204
    assert _values(_get(endpoint, VALUES, default_graph_uri=graph)[2]) == ["9"]
    assert _call(f"{endpoint}/sparql", f"DROP GRAPH <{graph}>".encode(), UPDATE)[0] == 204
    assert _values(_get(endpoint, VALUES, default_graph_uri=graph)[2]) == []


def test_update_base_uri(endpoint: str) -> None:
    """A relative IRI resolves against the endpoint's URL, in updates as in queries."""
    graph = f"{EX}based"
    update = f"INSERT DATA {{ GRAPH <{graph}> {{ <relative> <{EX}p> 7 }} }}"
    assert _call(f"{endpoint}/sparql", update.encode(), UPDATE)[0] == 204
    status, _, body = _get(endpoint, f"SELECT ?s WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    assert [b["s"]["value"] for b in json.loads(body)["results"]["bindings"]] == [f"{endpoint}/relative"]
    status, _, body = _get(endpoint, "ASK { <relative> ?p 7 }")
    assert json.loads(body)["boolean"] is True
    _call(f"{endpoint}/sparql", f"DROP GRAPH <{graph}>".encode(), UPDATE)


# -- negotiation, formats, the service description ---------------------------------------------------------------
def test_accept_q_values_and_406(endpoint: str) -> None:
    url = f"{endpoint}/sparql?query=" + urllib.parse.quote("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    status, headers, _ = _call(url, headers={"Accept": "text/csv;q=0.3, application/sparql-results+xml;q=0.9"})
    assert status == 200 and headers["Content-Type"] == "application/sparql-results+xml"
    status, _, body = _call(url, headers={"Accept": "image/png"})
    assert status == 406 and b"application/sparql-results+json" in body
    status, headers, _ = _call(url, headers={"Accept": "text/*;q=0.5, text/csv;q=0"})
    assert status == 200 and headers["Content-Type"].startswith("text/tab-separated-values")


def test_format_parameter_by_short_name_or_media_type(endpoint: str) -> None:
    construct = urllib.parse.quote("CONSTRUCT WHERE { ?s ?p ?o }")
    for given, media in (("ntriples", "application/n-triples"), ("application/rdf+xml", "application/rdf+xml")):
        status, headers, _ = _call(f"{endpoint}/sparql?format={urllib.parse.quote(given)}&query={construct}")
        assert status == 200 and headers["Content-Type"] == media
    status, _, body = _call(f"{endpoint}/sparql?format=csv&query={construct}")
    assert status == 400 and b"not available for a CONSTRUCT" in body


def test_sparqlwrapper_construct_default_is_an_rdflib_graph(endpoint: str) -> None:
    """SPARQLWrapper asks for RDF/XML for CONSTRUCT by default and converts it into an rdflib graph."""
    client = SPARQLWrapper(f"{endpoint}/sparql")
    client.setQuery("CONSTRUCT WHERE { ?s ?p ?o }")
    graph = client.queryAndConvert()
    assert isinstance(graph, rdflib.Graph) and len(graph) == 3
    client.setQuery("SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o")
    client.setReturnFormat(JSON)
    client.addDefaultGraph(f"{EX}g2")
    assert [b["o"]["value"] for b in client.queryAndConvert()["results"]["bindings"]] == ["2"]  # type: ignore[index]


def test_rdflib_sparqlstore_on_a_named_graph(endpoint: str) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(f"{endpoint}/sparql", returnFormat="json")
    graph = rdflib.Graph(store, identifier=rdflib.URIRef(f"{EX}g3"))
    assert [str(o) for o in graph.objects()] == ["3"]


def test_service_description(endpoint: str) -> None:
    status, headers, body = _call(f"{endpoint}/sparql", headers={"Accept": "text/turtle"})
    assert status == 200 and headers["Content-Type"].split(";")[0] == "text/turtle"
    graph = rdflib.Graph().parse(data=body, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (None, sd.endpoint, rdflib.URIRef(f"{endpoint}/sparql")) in graph
    assert (None, sd.supportedLanguage, sd.SPARQL11Update) in graph  # this endpoint has a token
    assert (None, sd.feature, sd.UnionDefaultGraph) in graph
    status, headers, _ = _call(f"{endpoint}/sparql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")  # a browser is sent to the query page


def test_head_and_trailing_slash(endpoint: str) -> None:
    status, headers, body = _call(f"{endpoint}/sparql/?query=ASK%7B%7D", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Type"] == "application/sparql-results+json"


# -- pages and files ---------------------------------------------------------------------------------------------
def test_pages_carry_a_content_security_policy(endpoint: str) -> None:
    for path in ("/", "/map/"):
        status, headers, _ = _call(endpoint + path)
        policy = headers["Content-Security-Policy"]
        assert (
            status == 200 and "default-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
        )
        assert "frame-ancestors 'none'" in policy


def test_exports_are_streamed_with_range_and_etag(endpoint: str, tmp_path: Path) -> None:
    url = f"{endpoint}/exports/big.csv"
    status, headers, body = _call(url, headers={"Range": "bytes=12-22"})
    assert status == 206 and body == b"line 000001" and headers["Content-Range"] == "bytes 12-22/1200000"
    status, headers, body = _call(url)
    assert status == 200 and len(body) == 1_200_000 and headers["Accept-Ranges"] == "bytes"
    status, _, body = _call(url, headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
