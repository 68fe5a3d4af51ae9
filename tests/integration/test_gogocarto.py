"""GoGoCarto as real maps serve it, over HTTP on 127.0.0.1: 2018 elements whose categories are option ids in
``optionValues``, resolved through the map's ``/api/taxonomy.json`` (fetched once per run); the statuses the map
shows or hides; the payload's top-level licence (fixtures: tests/fixtures/gogocarto/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT, SAMPLES, Bus, Reply
from tests.integration.test_faults import write_registry
from transiscope import jobs, runs
from transiscope.core import vocab

FIXTURES = PROJECT / "tests" / "fixtures" / "gogocarto"
ELEMENTS_2018 = FIXTURES / "elements-2018-optionvalues.json"


def _valid(run_dir: str) -> dict[str, dict]:
    lines = (Path(run_dir) / "valid.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["source_id"]: r for r in map(json.loads, lines)}


def _serve_map(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, elements: bytes, *taxonomy: Reply
):
    """A GoGoCarto map at ``/<test>/api/``: its elements.json and, when given, its taxonomy.json."""
    prefix = f"/{tmp_path.name}/api"
    url = bus.server.set(f"{prefix}/elements.json", Reply(200, elements)) + "?ontology=gogofull"
    if taxonomy:
        bus.server.set(f"{prefix}/taxonomy.json", *taxonomy)
    registry = write_registry(tmp_path, {source: url}, **{source: {"min_interval": 0}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    return f"{prefix}/taxonomy.json"


def test_2018_option_values_resolve_through_the_maps_taxonomy(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taxonomy = _serve_map(
        bus,
        tmp_path,
        monkeypatch,
        "presdecheznous",
        ELEMENTS_2018.read_bytes(),
        Reply(200, (FIXTURES / "taxonomy.json").read_bytes()),
    )
    summary = jobs.run_source("presdecheznous")
    assert summary.outcome == "success", summary.error
    assert (summary.counts["fetched"], summary.counts["loaded"], summary.counts["quarantined"]) == (12, 12, 0)
    assert bus.server.hits[taxonomy] == 1  # once per run, not once per element
    records = _valid(summary.run_dir)
    assert all(r["categories"] and r["concepts"] for r in records.values())
    # option ids as numbers, as digit strings, as {id, description} objects; nested options; entities decoded
    assert records["p01"]["categories"] == ["Agriculture & Alimentation", "AMAP / Paniers"]
    assert records["p02"]["categories"] == ["Agriculture & Alimentation", "Vente directe producteur"]
    assert records["p03"]["categories"] == ["Agriculture & Alimentation", "Épicerie & Supérette"]
    assert records["p12"]["categories"] == ["Épicerie & Supérette"]
    assert "amap-circuits-courts" in records["p11"]["concepts"] and records["p11"]["unmapped_categories"] == ["Bio"]
    assert records["p05"]["updated_at"] == "2018-06-14"  # the 2018 shape's d/m/Y dates
    stored = json.loads((Path(summary.run_dir) / "companions.json").read_text(encoding="utf-8"))
    assert stored["taxonomy"]["url"].endswith(taxonomy) and isinstance(stored["taxonomy"]["payload"], list)


def test_an_unreadable_taxonomy_costs_the_names_not_the_run(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_map(bus, tmp_path, monkeypatch, "presdecheznous", ELEMENTS_2018.read_bytes(), Reply(500, b"oops"))
    summary = jobs.run_source("presdecheznous")
    assert summary.outcome == "success", summary.error
    assert summary.counts["loaded"] == 12
    record = _valid(summary.run_dir)["p01"]
    assert record["categories"] == ["10", "11"] and record["concepts"] == []
    assert any("could not be resolved to names" in n and "HTTP 500" in n for n in record["notes"])


def _statuses_payload(licence: str) -> bytes:
    """One element per GoGoCarto status, -6 to 7, in the 2021+ shape of the transiscope sample."""
    payload = json.loads((SAMPLES / "transiscope.json").read_text(encoding="utf-8"))
    template = next(e for e in payload["data"] if e["id"] == "3jY")
    statuses = (-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7)
    payload["data"] = [{**template, "id": f"s{s}", "name": f"Initiative {s}", "status": s} for s in statuses]
    payload["licence"] = licence
    return json.dumps(payload).encode("utf-8")


def test_the_statuses_the_map_shows_load_and_the_others_are_set_aside(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_map(bus, tmp_path, monkeypatch, "transiscope", _statuses_payload("ODbL 1.0"))
    summary = jobs.run_source("transiscope")
    assert summary.outcome == "success", summary.error
    loaded = _valid(summary.run_dir)
    assert sorted(loaded) == sorted(f"s{s}" for s in (-1, 1, 2, 3, 4, 5, 6, 7))
    assert any("waits for moderation" in n for n in loaded["s-1"]["notes"])
    quarantine = {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(summary.run_dir))}
    assert quarantine["s0"] == [
        "status 0 (pending addition, never validated by the map's moderators) on the source: not an active initiative"
    ]
    assert "deleted" in quarantine["s-4"][0] and "duplicate" in quarantine["s-6"][0]
    assert len(quarantine) == 6
    # the payload's "ODbL 1.0" is read as the SPDX identifier the registry declares
    assert {r["licence"] for r in loaded.values()} == {"ODbL-1.0"}
    graph = vocab.source_graph(bus.settings().base_iri, "transiscope")
    with bus.store() as store:
        rows = store.select(f"SELECT DISTINCT ?l WHERE {{ GRAPH <{graph}> {{ ?i <{vocab.DCT}license> ?l }} }}")
    assert {row["l"].value for row in rows} == {vocab.licence_iri("ODbL-1.0")}


def test_a_payload_under_another_licence_than_declared_is_not_loaded(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_map(
        bus, tmp_path, monkeypatch, "transiscope", _statuses_payload("https://creativecommons.org/licenses/by-sa/4.0/")
    )
    summary = jobs.run_source("transiscope")
    # the payload's licence is recorded on each record; the source's suite wants the registry's: nothing
    # loads under a licence nobody checked, and the reason says which
    assert summary.outcome == "rejected"
    quarantine = {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(summary.run_dir))}
    assert quarantine["s7"] == ["licence 'CC-BY-SA-4.0' is not the one the source declares (ODbL-1.0)"]
    assert not bus.graph_triples("transiscope")
