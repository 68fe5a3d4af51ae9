"""The same store behaviour on the three stores: embedded pyoxigraph, a real Oxigraph server, a real Virtuoso.

The servers are started by this module on 127.0.0.1 (``tests/integration/servers.py``) and stopped at the
end of the session; a server that cannot start makes its tests FAIL with the reason. Every test writes
to graphs of its own (a unique IRI prefix), so tests sharing a server never see each other's data.

Facts the tests pin down (see ``transiscope/remote_store.py``): Oxigraph applies a whole update request
or nothing; Virtuoso applies the operations of a request one by one and keeps those before a failing one,
and its plain ``MOVE`` from a missing graph empties the target.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import Bus
from tests.integration.servers import FlakyProxy, Server, ServerUnavailable, start_oxigraph, start_virtuoso
from tests.sample_counts import SAMPLE_COUNTS
from transiscope import jobs
from transiscope.core import vocab
from transiscope.core.errors import StoreError
from transiscope.ingest import rdf
from transiscope.settings import DEFAULT_BASE_IRI, Settings, StoreSettings
from transiscope.store.base import QueryDataset, TripleStore
from transiscope.store.embedded import EmbeddedStore, open_store
from transiscope.store.remote import RemoteStore, StoreHTTPError, StoreUnreachable

KINDS = ("embedded", "oxigraph", "virtuoso")
REMOTE = ("oxigraph", "virtuoso")
SH = "http://www.w3.org/ns/shacl#"


# -- servers and stores --------------------------------------------------------------------------------
def _start(start, tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    try:
        server = start(tmp_path_factory.mktemp(name))
    except ServerUnavailable as exc:
        pytest.fail(f"{name} could not be started: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(start_oxigraph, tmp_path_factory, "oxigraph")


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(start_virtuoso, tmp_path_factory, "virtuoso")


@dataclass
class Backend:
    kind: str
    directory: Path
    server: Server | None

    def open(self, *, read_only: bool = False, **overrides) -> TripleStore:
        if self.server is None:
            return EmbeddedStore(self.directory / "store", read_only=read_only)
        return RemoteStore(self.server.settings(**overrides), read_only=read_only)

    def env(self) -> dict[str, str]:
        return self.server.env() if self.server else {"TRANSISCOPE_STORE": "embedded"}


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    server = request.getfixturevalue(f"{request.param}_server") if request.param != "embedded" else None
    return Backend(request.param, tmp_path, server)


@pytest.fixture(params=REMOTE)
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend(request.param, tmp_path, request.getfixturevalue(f"{request.param}_server"))


@pytest.fixture
def graphs() -> tuple[str, str, str]:
    """(live, staging, metadata) graph IRIs no other test uses."""
    prefix = f"https://example.org/test/{uuid.uuid4().hex}/"
    return prefix + "live", prefix + "staging", prefix + "meta"


# -- data ----------------------------------------------------------------------------------------------
def _nt(path: Path, n: int, start: int = 0, tail: str = "") -> Path:
    """``n`` entities with 3 triples each: quotes, accents, a language tag, a typed literal."""
    lines = []
    for i in range(start, start + n):
        s = f"<https://example.org/i/{i:06d}>"
        lines += [
            f'{s} <http://schema.org/name> "Initiative n°{i} \\"l\'Établi\\" ✓" .',
            f'{s} <http://schema.org/description> "Réparer ensemble {i}"@fr .',
            f'{s} <http://schema.org/dateCreated> "2021-06-14"^^<http://www.w3.org/2001/XMLSchema#date> .',
        ]
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return path


def _then(meta: str, marker: str) -> str:
    return f'INSERT DATA {{ GRAPH <{meta}> {{ <https://example.org/run> <https://example.org/mark> "{marker}" }} }}'


def content(store: TripleStore, graph: str) -> set[str]:
    rows = store.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return {f"{r['s']} {r['p']} {r['o']}" for r in rows}


def entity_numbers(store: TripleStore, graph: str) -> set[int]:
    rows = store.select(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return {int(r["s"].value.rsplit("/", 1)[1]) for r in rows}


def marks(store: TripleStore, meta: str) -> list[str]:
    rows = store.select(f"SELECT ?m WHERE {{ GRAPH <{meta}> {{ ?r <https://example.org/mark> ?m }} }}")
    return sorted(r["m"].value for r in rows)


# -- replacement -----------------------------------------------------------------------------------------
def test_replace_is_exact_and_idempotent(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    live, staging, meta = graphs
    a, b = _nt(tmp_path / "a.nt", 100), _nt(tmp_path / "b.nt", 100, start=50)
    with backend.open(chunk_triples=70) as store:
        assert store.replace_graph(live, staging, a, _then(meta, "a")) == 300
        first = content(store, live)
        assert store.replace_graph(live, staging, a, _then(meta, "a")) == 300  # same input, same graph
        assert content(store, live) == first
        assert store.replace_graph(live, staging, b, _then(meta, "b")) == 300
        assert entity_numbers(store, live) == set(range(50, 150))
        assert marks(store, meta) == ["a", "b"]
        assert store.count(staging) == 0
        if backend.server:
            assert store.requests_sent >= 300 // 70  # chunks of at most 70 triples


def test_a_broken_last_chunk_leaves_the_old_graph(
    backend: Backend, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    live, staging, meta = graphs
    with backend.open(chunk_triples=100) as store:
        store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 100), _then(meta, "old"))
        before, meta_before = content(store, live), content(store, meta)
        broken = _nt(
            tmp_path / "new.nt",
            400,
            start=1000,
            tail='<https://example.org/x> <https://example.org/p> "never closed .\n',
        )
        with pytest.raises(StoreError, match="reading new.nt failed"):
            store.replace_graph(live, staging, broken, _then(meta, "new"))
        if backend.server:
            assert store.requests_sent >= 12  # the chunks before the broken line did reach the server
        assert content(store, live) == before
        assert content(store, meta) == meta_before
        assert store.count(staging) == 0  # the half-filled staging graph was dropped


@pytest.mark.parametrize("failure", ["refused", "connection lost"])
def test_a_chunk_refused_or_a_lost_connection_leaves_the_old_graph(
    remote: Backend, graphs: tuple[str, str, str], tmp_path: Path, failure: str
) -> None:
    live, staging, meta = graphs
    server = remote.server
    with remote.open() as store:
        store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 100), _then(meta, "old"))
        before = content(store, live)
    gsp_path = server.graph_store_url[len(server.base) :]
    proxy = FlakyProxy(server.base, path=gsp_path, fail_from=3, status=500 if failure == "refused" else None)
    try:
        settings = server.settings(
            query_url=proxy.url(server.query_url),
            update_url=proxy.url(server.update_url),
            graph_store_url=proxy.url(server.graph_store_url),
            chunk_triples=300,
        )
        with RemoteStore(settings, backoff=0.05) as flaky:
            expected = StoreHTTPError if failure == "refused" else StoreUnreachable
            with pytest.raises(expected) as caught:
                flaky.replace_graph(live, staging, _nt(tmp_path / "new.nt", 1000, start=500), _then(meta, "new"))
        message = str(caught.value)
        assert proxy.base in message and "\n" not in message
        assert proxy.matched >= 3
    finally:
        proxy.close()
    with remote.open() as store:
        assert content(store, live) == before
        assert marks(store, meta) == ["old"]
        assert store.count(staging) == 0


def test_an_invalid_then_leaves_the_old_graph_and_provenance(
    backend: Backend, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    live, staging, meta = graphs
    with backend.open() as store:
        store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 50), _then(meta, "old"))
        before = content(store, live)
        with pytest.raises(StoreError):
            store.replace_graph(
                live, staging, _nt(tmp_path / "new.nt", 50, start=25), "INSERT DATA { this is not SPARQL }"
            )
        assert content(store, live) == before
        assert marks(store, meta) == ["old"]
        assert store.count(staging) == 0


def test_a_then_failing_at_run_time(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    """Valid syntax, failing while it runs: all or nothing on embedded and Oxigraph. Virtuoso keeps the
    operations before the failing one: the new graph (complete) and the first half of ``then``."""
    live, staging, meta = graphs
    then = _then(meta, "new") + f" ;\nDROP GRAPH <{live}/never-created>"
    with backend.open() as store:
        store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 50), _then(meta, "old"))
        before = content(store, live)
        with pytest.raises(StoreError):
            store.replace_graph(live, staging, _nt(tmp_path / "new.nt", 50, start=25), then)
        assert store.count(staging) == 0
        if backend.kind == "virtuoso":
            assert entity_numbers(store, live) == set(range(25, 75))
            assert marks(store, meta) == ["new", "old"]
        else:
            assert content(store, live) == before
            assert marks(store, meta) == ["old"]


def test_one_update_request_is_one_transaction_except_on_virtuoso(
    backend: Backend, graphs: tuple[str, str, str]
) -> None:
    live, _, meta = graphs
    with backend.open() as store:
        with pytest.raises(StoreError):
            store.update(_then(meta, "first") + f" ;\nDROP GRAPH <{live}/never-created>")
        assert marks(store, meta) == (["first"] if backend.kind == "virtuoso" else [])


def test_move_from_a_missing_graph(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    """Why replace_graph counts the staging graph before any swap: Virtuoso's plain MOVE from a graph
    that does not exist succeeds and empties the target, where pyoxigraph and Oxigraph fail."""
    live, staging, meta = graphs
    with backend.open() as store:
        store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 10))
        if backend.kind == "virtuoso":
            store.update(f"MOVE GRAPH <{live}/missing> TO GRAPH <{live}>")
            assert store.count(live) == 0
        else:
            with pytest.raises(StoreError):
                store.update(f"MOVE GRAPH <{live}/missing> TO GRAPH <{live}>")
            assert store.count(live) == 30


def test_virtuoso_rolls_back_a_swap_over_its_transaction_log_limit(
    tmp_path: Path, graphs: tuple[str, str, str]
) -> None:
    live, staging, meta = graphs
    try:
        server = start_virtuoso(tmp_path, parameters={"TransactionAfterImageLimit": "300000"})
    except ServerUnavailable as exc:
        pytest.fail(f"Virtuoso could not be started: {exc}", pytrace=False)
    try:
        with RemoteStore(server.settings(chunk_triples=300)) as store:  # small loads pass, one big MOVE not
            store.replace_graph(live, staging, _nt(tmp_path / "old.nt", 3000))  # first load: no MOVE
            before = content(store, live)
            with pytest.raises(StoreHTTPError, match="SR325.*TransactionAfterImageLimit"):
                store.replace_graph(live, staging, _nt(tmp_path / "new.nt", 3000, start=1500), _then(meta, "new"))
            assert content(store, live) == before
            assert store.count(meta) == 0 and store.count(staging) == 0
    finally:
        server.stop()


# -- blank nodes, chunking -------------------------------------------------------------------------------
def _shapes(path: Path, n: int) -> Path:
    shapes = [
        f"""<https://example.org/shape/{i}> a <{SH}NodeShape> ;
  <{SH}property> [ <{SH}path> <http://schema.org/name> ; <{SH}minCount> 1 ;
                   <{SH}in> ( "a{i}" "b{i}" "c{i}" ) ] ;
  <{SH}property> [ <{SH}path> <http://schema.org/url> ; <{SH}maxCount> {i} ] ."""
        for i in range(n)
    ]
    path.write_text("\n".join(shapes) + "\n", encoding="utf-8")
    return path


def _check_blank_nodes(store: TripleStore, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    live, staging, _ = graphs
    shapes = _shapes(tmp_path / "shapes.ttl", 20)
    triples = sum(1 for _ in ox.parse(path=str(shapes), format=ox.RdfFormat.TURTLE))
    for _ in range(2):  # a second replacement does not duplicate the blank-node triples
        assert store.replace_graph(live, staging, shapes) == triples
    paths = store.select(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{live}> {{ ?s <{SH}property> ?p . ?p <{SH}path> ?path }} }}"
    )
    members = store.select(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{live}> {{ ?s <{SH}property> ?p . "
        f"?p <{SH}in> ?list . ?list <{vocab.RDF}rest>*/<{vocab.RDF}first> ?m }} }}"
    )
    assert int(paths[0]["n"].value) == 40
    assert int(members[0]["n"].value) == 60


def test_blank_nodes_stay_linked_across_chunks(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    with backend.open(chunk_triples=7) as store:  # remote: Graph Store Protocol chunks of 7 triples
        _check_blank_nodes(store, graphs, tmp_path)


def test_blank_nodes_stay_linked_across_insert_chunks(
    remote: Backend, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    with remote.open(chunk_triples=7, graph_store_url="") as store:  # INSERT {...} WHERE {} chunks
        _check_blank_nodes(store, graphs, tmp_path)


def test_insert_data_chunks_are_split_when_the_server_refuses_them(
    remote: Backend, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    """Without the Graph Store Protocol: Oxigraph refuses SPARQL bodies over 1 MiB, Virtuoso's parser gives
    up on a few thousand triples in one INSERT DATA; chunks are halved until the server takes them."""
    live, staging, _ = graphs
    data = _nt(tmp_path / "data.nt", 5000)
    with remote.open(graph_store_url="", chunk_triples=50_000) as store:
        assert store.replace_graph(live, staging, data) == 15_000
        assert store.batch_limit < 15_000 and store.requests_sent > 1


LARGE_INITIATIVES = 20_000


@pytest.fixture(scope="session")
def large_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """20,000 synthetic initiatives as N-Triples (about 560,000 triples, a dozen load chunks), written once per
    session; the load times at 100,000-500,000 initiatives are bench/stores.py's figures, not a test's."""
    from bench.synthetic import records

    path = tmp_path_factory.mktemp("large") / "large.nt"
    return path, rdf.write_ntriples(records(LARGE_INITIATIVES, bad_share=0), DEFAULT_BASE_IRI, path)


def test_a_large_source_loads_in_chunks(
    backend: Backend, graphs: tuple[str, str, str], large_source: tuple[Path, int]
) -> None:
    live, staging, meta = graphs
    path, triples = large_source
    chunk = StoreSettings().chunk_triples
    assert triples > 10 * chunk
    with backend.open() as store:
        assert store.replace_graph(live, staging, path, _then(meta, "large")) == triples
        if backend.server:
            assert store.requests_sent >= triples // chunk  # never one request for the whole graph
        rows = store.select(f"SELECT (COUNT(?i) AS ?n) WHERE {{ GRAPH <{live}> {{ ?i a <{vocab.TS}Initiative> }} }}")
        assert int(rows[0]["n"].value) == LARGE_INITIATIVES
        assert marks(store, meta) == ["large"]


# -- queries, access -------------------------------------------------------------------------------------
def test_query_results_are_pyoxigraph_objects(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    live, staging, _ = graphs
    with backend.open() as store:
        store.replace_graph(live, staging, _shapes(tmp_path / "shapes.ttl", 2))
        solutions = store.query(f"SELECT ?p ?o WHERE {{ GRAPH <{live}> {{ <https://example.org/shape/1> ?p ?o }} }}")
        assert isinstance(solutions, ox.QuerySolutions)
        assert [v.value for v in solutions.variables] == ["p", "o"]
        objects = [row["o"] for row in solutions]
        assert sum(isinstance(o, ox.BlankNode) for o in objects) == 2  # Virtuoso's nodeID:// labels are read
        assert bool(store.query(f"# a comment\nPREFIX sh: <{SH}>\nASK {{ GRAPH <{live}> {{ ?s a sh:NodeShape }} }}"))
        assert isinstance(store.query("ASK { FILTER(false) }"), ox.QueryBoolean)
        triples = store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{live}> {{ ?s ?p ?o }} }}")
        assert isinstance(triples, ox.QueryTriples)
        turtle = triples.serialize(format=ox.RdfFormat.TURTLE).decode()
        assert "https://example.org/shape/0" in turtle and '"a1"' in turtle
        assert isinstance(store.query("DESCRIBE <https://example.org/shape/0>"), ox.QueryTriples)
        with pytest.raises(StoreError, match="the SPARQL query is not valid"):
            store.query("SELECT ?s WHERE { ?s ?p }")


def test_read_only_refuses_updates(backend: Backend, graphs: tuple[str, str, str], tmp_path: Path) -> None:
    live, staging, _ = graphs
    data = _nt(tmp_path / "a.nt", 10)
    with backend.open() as store:
        store.replace_graph(live, staging, data)
    with backend.open(read_only=True) as store:
        with pytest.raises(StoreError):
            store.update(f"DROP GRAPH <{live}>")
        with pytest.raises(StoreError):
            store.replace_graph(live, staging, _nt(tmp_path / "b.nt", 5))
        assert store.count(live) == 30
    if backend.server:
        with backend.open(read_only=True) as store, pytest.raises(StoreError, match="opened read-only"):
            store.update(f"DROP GRAPH <{live}>")


def test_virtuoso_basic_and_digest_authentication(
    virtuoso_server: Server, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    live, staging, _ = graphs
    data = _nt(tmp_path / "a.nt", 10)
    basic_url = virtuoso_server.extra["basic_url"]
    digest = virtuoso_server.settings()  # /sparql-auth and /sparql-graph-crud-auth: HTTP digest
    basic = virtuoso_server.settings(query_url=basic_url, update_url=basic_url, graph_store_url="", auth="basic")
    for settings in (digest, basic):
        with RemoteStore(settings) as store:
            assert store.replace_graph(live, staging, data) == 30
            store.update(f"DROP SILENT GRAPH <{live}>")
    for settings in (digest, basic):
        wrong = StoreSettings(**{**settings.__dict__, "password": "not-the-password"})
        with RemoteStore(wrong) as store, pytest.raises(StoreHTTPError) as caught:
            store.update(f"DROP SILENT GRAPH <{live}>")
        endpoint = settings.update_url
        assert str(caught.value) == f"the SPARQL update: authentication failed for user 'dba' at {endpoint} (HTTP 401)"
        assert caught.value.status == 401 and not caught.value.transient
    anonymous = StoreSettings(**{**digest.__dict__, "user": "", "password": ""})
    with RemoteStore(anonymous) as store, pytest.raises(StoreHTTPError, match="requires authentication"):
        store.update(f"DROP SILENT GRAPH <{live}>")


def test_virtuoso_result_cap_is_an_error_not_a_silent_cut(
    virtuoso_server: Server, graphs: tuple[str, str, str], tmp_path: Path
) -> None:
    live, staging, _ = graphs
    with RemoteStore(virtuoso_server.settings()) as store:
        store.replace_graph(live, staging, _nt(tmp_path / "a.nt", 3400))
        with pytest.raises(StoreError, match="cut the result at 10000 rows"):
            store.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{live}> {{ ?s ?p ?o }} }}")
        assert store.count(live) == 10_200


def test_an_unreachable_store_is_a_transient_error() -> None:
    from tests.integration.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/sparql"
    settings = StoreSettings(kind="remote", query_url=url, update_url=url)
    with RemoteStore(settings, backoff=0.01) as store, pytest.raises(StoreUnreachable) as caught:
        store.count("https://example.org/g")
    assert caught.value.transient
    assert str(caught.value) == f"the SPARQL query: the store at {url} is unreachable: the connection was refused"


# -- the whole pipeline ------------------------------------------------------------------------------------
def test_the_pipeline_runs_on_each_store(
    backend: Backend, bus: Bus, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from transiscope import cli

    base = f"https://example.org/bus/{uuid.uuid4().hex}/"
    for name, value in {**backend.env(), "TRANSISCOPE_BASE_IRI": base}.items():
        monkeypatch.setenv(name, value)
    graph = vocab.source_graph(base, "transiscope")
    snapshots = []
    for _ in range(2):  # the second run is the forced re-run: same triples, only the provenance written
        summary = jobs.run_source("transiscope", force=True)
        assert summary.outcome == "success", summary.error
        counts = summary.counts
        assert (counts["fetched"], counts["loaded"], counts["quarantined"]) == SAMPLE_COUNTS["transiscope"]
        with open_store(Settings.from_env(), read_only=True) as store:  # the store the pipeline wrote to
            snapshots.append(content(store, graph))
            assert len(snapshots[-1]) == counts["triples"]
    assert snapshots[0] == snapshots[1]
    capsys.readouterr()
    assert (
        cli.main(
            [
                "query",
                f"SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?i a ts:Initiative }} }}",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.split() == ["n", "12"]
    assert cli.main(["status"]) == 0
    status = capsys.readouterr().out
    assert "transiscope" in status and "success" in status


# -- the dataset a query chooses ---------------------------------------------------------------------------------
def test_a_query_chooses_its_dataset_and_base(backend: Backend, graphs: tuple[str, str, str]) -> None:
    """What the endpoint forwards from the Protocol's dataset parameters: the given graphs replace the union
    default graph and the query's FROM; named graphs alone leave an empty default graph; a base IRI resolves
    relative IRIs. Same answers on every store."""
    live, staging, meta = graphs
    with backend.open() as store:
        store.update(f"INSERT DATA {{ GRAPH <{live}> {{ <https://example.org/a> <https://example.org/p> 1 }} }}")
        store.update(f"INSERT DATA {{ GRAPH <{meta}> {{ <https://example.org/b> <https://example.org/p> 2 }} }}")
    values = "SELECT ?o WHERE { ?s <https://example.org/p> ?o } ORDER BY ?o"
    with backend.open(read_only=True) as store:

        def answer(sparql: str, dataset: QueryDataset | None = None) -> list[int]:
            result = store.query(sparql, dataset)
            assert isinstance(result, ox.QuerySolutions)
            return [int(row["o"].value) for row in result]

        assert answer(values) == [1, 2]  # the union of the graphs
        assert answer(values, QueryDataset(default_graphs=(meta,))) == [2]
        assert answer(values.replace("WHERE", f"FROM <{live}> WHERE")) == [1]
        assert answer(values.replace("WHERE", f"FROM <{live}> WHERE"), QueryDataset(default_graphs=(meta,))) == [2]
        assert answer(values, QueryDataset(named_graphs=(live,))) == []
        named = "SELECT ?o WHERE { GRAPH ?g { ?s <https://example.org/p> ?o } } ORDER BY ?o"
        assert answer(named, QueryDataset(named_graphs=(live,))) == [1]
        based = "SELECT ?o WHERE { <a> <p> ?o }"
        assert answer(based, QueryDataset(base_iri="https://example.org/")) == [1]
