"""Murmurations as a real federation: an index on 127.0.0.1 whose profiles live on hosts that are up, down
(a closed port: connection refused), failing (HTTP 500 after the retries) or answering truncated JSON.

The healthy profiles load, each broken one is quarantined with its URL and what happened, ended and planned
initiatives are set aside by their status, and the counts add up; the run fails only when the index cannot
be read or when the quarantine valve trips (fixtures: tests/fixtures/murmurations/, the real index and
profile shapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT, Bus
from tests.integration.faults import Fault, FaultServer
from tests.integration.servers import free_port
from tests.integration.test_faults import write_registry
from transiscope import jobs, runs
from transiscope.core import vocab

FIXTURES = PROJECT / "tests" / "fixtures" / "murmurations"
SOURCE = "murmurations-fr"
QUERY = "schema=organizations_schema-v1.0.0&country=FR"


@pytest.fixture
def federation(bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FaultServer, str]]:
    """The index (two pages) and its profiles on one server; one profile host is a closed port."""
    server = FaultServer()
    closed = f"http://127.0.0.1:{free_port()}"

    def body(name: str) -> bytes:
        text = (FIXTURES / name).read_text(encoding="utf-8")
        return text.replace("{base}", server.base).replace("{closed}", closed).encode("utf-8")

    url = server.set(f"/v2/nodes?{QUERY}", Fault(body=body("index-page-1.json")))
    server.set(f"/v2/nodes?{QUERY}&page=2", Fault(body=body("index-page-2.json")))
    for profile in sorted((FIXTURES / "profiles").glob("*.json")):
        server.set(f"/profiles/{profile.name}", Fault(body=profile.read_bytes()))
    server.set("/profiles/broken.json", Fault(status=500, body=b'{"error": "internal"}'))
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "2")
    write = write_registry(tmp_path, {SOURCE: url}, **{SOURCE: {"min_interval": 0}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(write))
    yield server, closed
    server.close()


def _names(bus: Bus) -> set[str]:
    graph = vocab.source_graph(bus.settings().base_iri, SOURCE)
    with bus.store() as store:
        rows = store.select(
            f"SELECT ?n WHERE {{ GRAPH <{graph}> {{ ?i a <{vocab.TS}Initiative> ; <{vocab.SCHEMA}name> ?n }} }}"
        )
    return {row["n"].value for row in rows}


def test_one_member_down_costs_its_profile_not_the_federation(bus: Bus, federation: tuple[FaultServer, str]) -> None:
    server, closed = federation
    summary = jobs.run_source(SOURCE)
    assert summary.outcome == "success", summary.error
    # 11 live entries (the deleted one is skipped): 6 load, 5 are set aside, and nothing is lost
    assert summary.counts["fetched"] == 11
    assert (summary.counts["loaded"], summary.counts["quarantined"]) == (6, 5)
    assert _names(bus) == {
        "Ferme du Bocage",
        "Repair Café de Wazemmes",  # top-level latitude/longitude
        "Habitat partagé La Bastille",  # a "lat,lon" string
        "Tiers-lieu La Passerelle",  # on hold: still exists
        "Énergie citoyenne du Val",  # coordinates as strings
        "La Gonette",  # no point in the profile: the index's geolocation
    }
    quarantine = {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(summary.run_dir))}
    refused = f"{closed}/profiles/atelier-velo.json"
    assert quarantine[refused] == [
        f"the profile {refused} could not be read: {refused} is unreachable: the connection was refused"
    ]
    broken = f"{server.base}/profiles/broken.json"
    assert quarantine[broken][0].startswith(f"the profile {broken} could not be read: ")
    assert "answered HTTP 500" in quarantine[broken][0] and "after retries" in quarantine[broken][0]
    assert server.hits["/profiles/broken.json"] == 3  # the first try and the 2 retries
    truncated = quarantine[f"{server.base}/profiles/not-json.json"][0]
    assert "is not JSON" in truncated and "source 'murmurations-fr'" not in truncated
    assert "no longer an active initiative" in quarantine[f"{server.base}/profiles/projet-termine.json"][0]
    assert "not an active initiative yet" in quarantine[f"{server.base}/profiles/projet-en-preparation.json"][0]
    assert server.hits.get("/profiles/withdrawn.json", 0) == 0


def test_profiles_read_in_their_real_shapes(bus: Bus, federation: tuple[FaultServer, str]) -> None:
    summary = jobs.run_source(SOURCE)
    records = {r["name"]: r for r in map(json.loads, (Path(summary.run_dir) / "valid.jsonl").read_text().splitlines())}
    assert (records["Habitat partagé La Bastille"]["lat"], records["Habitat partagé La Bastille"]["lon"]) == (
        45.1885,
        5.7245,
    )
    assert records["Repair Café de Wazemmes"]["lat"] == 50.6292
    assert records["La Gonette"]["lat"] == 45.764
    # last_updated is in Unix milliseconds: 1767225600000 + 1 day is 2026-01-02 (not year 57,970)
    assert records["Ferme du Bocage"]["updated_at"].startswith("2026-01-02")
    assert any("on hold" in note for note in records["Tiers-lieu La Passerelle"]["notes"])
    assert records["Ferme du Bocage"]["concepts"] == ["agriculture-alimentation"]


def test_the_run_fails_when_too_many_members_are_lost(
    bus: Bus, federation: tuple[FaultServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _closed = federation
    url = f"{server.base}/v2/nodes?{QUERY}"
    registry = write_registry(tmp_path, {SOURCE: url}, **{SOURCE: {"min_interval": 0, "max_quarantine_share": 0.3}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    summary = jobs.run_source(SOURCE)
    assert summary.outcome == "rejected"
    assert "5 of 11 records quarantined (45%, more than the allowed 30%" in (summary.error or "")
    assert not bus.graph_triples(SOURCE)


def test_the_run_fails_when_the_index_cannot_be_read(bus: Bus, federation: tuple[FaultServer, str]) -> None:
    server, _closed = federation
    server.set(f"/v2/nodes?{QUERY}", Fault(status=503, body=b"maintenance"))
    summary = jobs.run_source(SOURCE)
    assert summary.outcome == "failed"
    assert "answered HTTP 503" in (summary.error or "")
