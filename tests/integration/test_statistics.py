"""The statistics graphs follow the loads: a source loaded again with fewer records has its counts, grid keys
and modification days recomputed by that load, and a load whose triples did not change writes them when they
are missing or of an older version."""

from __future__ import annotations

import json

from tests.conftest import Bus, Reply, sample_path
from transiscope import jobs
from transiscope.store import statistics

COUNTS = """PREFIX ts: <https://w3id.org/transiscope/ontology#>
SELECT ?category (SUM(?n) AS ?count) WHERE { ?c a ts:CategoryCount ; ts:countedConcept ?category ; ts:recordCount ?n }
GROUP BY ?category"""
SCAN = """PREFIX ts: <https://w3id.org/transiscope/ontology#>
SELECT ?category (COUNT(?i) AS ?count) WHERE { ?i a ts:Initiative ; ts:category ?category } GROUP BY ?category"""


#: the keys and days the statistics hold, against those computed from the live source graphs
INDEXED = """PREFIX ts: <https://w3id.org/transiscope/ontology#>
SELECT ?s ?key WHERE {
  { ?s ts:gridCell ?key } UNION { ?day ts:modifiedRecord ?s ; ts:modificationDay ?key }
}"""
EXPECTED = """PREFIX ts: <https://w3id.org/transiscope/ontology#>
PREFIX schema: <http://schema.org/>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT ?s ?key WHERE {
  { ?i a ts:Initiative ; geo:hasGeometry ?s . ?s schema:latitude ?lat ; schema:longitude ?lon .
    VALUES ?per_degree { 10 1 0.1 }
    BIND(CONCAT(STR(?per_degree), " ", STR(xsd:integer(FLOOR(xsd:double(?lat) * ?per_degree))), " ",
                STR(xsd:integer(FLOOR(xsd:double(?lon) * ?per_degree)))) AS ?key) }
  UNION
  { ?s a ts:Initiative ; schema:dateModified ?m . BIND(SUBSTR(STR(?m), 1, 10) AS ?key) }
}"""


def _pairs(bus: Bus, query: str) -> set[tuple[str, str]]:
    with bus.store() as store:
        return {(row["s"].value, row["key"].value) for row in store.select(query)}


def _counts(bus: Bus, query: str) -> dict[str, int]:
    with bus.store() as store:
        return {row["category"].value: int(row["count"].value) for row in store.select(query)}


def test_statistics_follow_the_loads(bus: Bus) -> None:
    assert jobs.run_source("transiscope").outcome == "success"
    first = _counts(bus, COUNTS)
    assert first and first == _counts(bus, SCAN)
    indexed = _pairs(bus, INDEXED)
    assert indexed and indexed == _pairs(bus, EXPECTED)
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"] = payload["data"][:-3]  # three records fewer: under the shrink valve
    bus.server.set(f"/{bus.home.parent.name}/transiscope.json", Reply(200, json.dumps(payload).encode()))
    assert jobs.run_source("transiscope").outcome == "success"
    second = _counts(bus, COUNTS)
    assert second == _counts(bus, SCAN) and sum(second.values()) < sum(first.values())
    assert _pairs(bus, INDEXED) == _pairs(bus, EXPECTED) < indexed  # the removed records' keys and days went
    # the statistics graph lost: the next load of unchanged triples (forced: the payload did not change) writes it
    base = bus.settings().base_iri
    with bus.store(read_only=False) as store:
        store.update(f"DROP GRAPH <{statistics.source_statistics_graph(base, 'transiscope')}>")
    assert _counts(bus, COUNTS) == {}
    assert jobs.run_source("transiscope", force=True).outcome == "success"
    assert _counts(bus, COUNTS) == second
    # a graph of an older version (no version marker, no grid): the next unchanged load rewrites it
    with bus.store(read_only=False) as store:
        graph = statistics.source_statistics_graph(base, "transiscope")
        store.update(
            "PREFIX ts: <https://w3id.org/transiscope/ontology#>\n"
            f"DELETE WHERE {{ GRAPH <{graph}> {{ ?s ts:gridCell ?k }} }};\n"
            f"DELETE WHERE {{ GRAPH <{graph}> {{ ?s ts:statisticsVersion ?v }} }}"
        )
    assert jobs.run_source("transiscope", force=True).outcome == "success"
    assert _pairs(bus, INDEXED) == _pairs(bus, EXPECTED)
