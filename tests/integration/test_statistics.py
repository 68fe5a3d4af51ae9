"""The statistics graphs follow the loads: a source loaded again with fewer records has its counts recomputed
by that load, and a load whose triples did not change writes them when they are missing."""

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


def _counts(bus: Bus, query: str) -> dict[str, int]:
    with bus.store() as store:
        return {row["category"].value: int(row["count"].value) for row in store.select(query)}


def test_statistics_follow_the_loads(bus: Bus) -> None:
    assert jobs.run_source("transiscope").outcome == "success"
    first = _counts(bus, COUNTS)
    assert first and first == _counts(bus, SCAN)
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"] = payload["data"][:-3]  # three records fewer: under the shrink valve
    bus.server.set(f"/{bus.home.parent.name}/transiscope.json", Reply(200, json.dumps(payload).encode()))
    assert jobs.run_source("transiscope").outcome == "success"
    second = _counts(bus, COUNTS)
    assert second == _counts(bus, SCAN) and sum(second.values()) < sum(first.values())
    # the statistics graph lost: the next load of unchanged triples (forced: the payload did not change) writes it
    base = bus.settings().base_iri
    with bus.store(read_only=False) as store:
        store.update(f"DROP GRAPH <{statistics.source_statistics_graph(base, 'transiscope')}>")
    assert _counts(bus, COUNTS) == {}
    assert jobs.run_source("transiscope", force=True).outcome == "success"
    assert _counts(bus, COUNTS) == second
