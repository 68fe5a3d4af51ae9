"""Karte von morgen against a server that answers like OpenFairDB's (``tests/integration/ofdb_server.py``):
unknown parameters refused with 400, ``/v0/events`` oldest first and capped, events of an extended box added,
``invisible`` entries outside the box, companies in the commercial category. The real pipeline, a real store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TRANSFORMS, Bus
from tests.integration.ofdb_server import COMMERCIAL, NON_PROFIT, OpenFairDB
from tests.integration.test_faults import write_registry
from transiscope import jobs, runs
from transiscope.core.files import iter_jsonl
from transiscope.ingest import pipeline

#: real French towns (lat, lng, postcode, city), spread so that tiling cuts between them
TOWNS = [
    (48.8566, 2.3522, "75004", "Paris"),
    (45.764, 4.8357, "69001", "Lyon"),
    (47.2184, -1.5536, "44000", "Nantes"),
    (43.6045, 1.444, "31000", "Toulouse"),
    (50.6292, 3.0573, "59000", "Lille"),
    (48.5734, 7.7521, "67000", "Strasbourg"),
    (44.8378, -0.5792, "33000", "Bordeaux"),
    (48.1173, -1.6778, "35000", "Rennes"),
    (47.322, 5.0415, "21000", "Dijon"),
    (43.6108, 3.8767, "34000", "Montpellier"),
]
#: München: outside the France box, inside the box OpenFairDB extends it to
MUNICH = (48.1372, 11.5756, "80331", "München")
DAY = 86400


@pytest.fixture
def ofdb() -> Iterator[OpenFairDB]:
    server = OpenFairDB()
    yield server
    server.close()


def _event(number: int, start: int, town: tuple[float, float, str, str], tags: list[str]) -> dict:
    lat, lng, postcode, city = town
    return {
        "id": f"e{number:031x}",
        "title": f"Atelier {number}",
        "description": "Réparer ensemble.",
        "start": start,
        "end": start + 3 * 3600,
        "lat": lat,
        "lng": lng,
        "zip": postcode,
        "city": city,
        "country": "DE" if town is MUNICH else "FR",
        "tags": tags,
        "created_at": start - 30 * DAY,
    }


def _entry(number: int, town: tuple[float, float, str, str], categories: list[str]) -> dict:
    lat, lng, postcode, city = town
    return {
        "id": f"{number:032x}",
        "version": 1,
        "title": f"Initiative {number}",
        "description": "Une initiative locale.",
        "lat": lat,
        "lng": lng,
        "zip": postcode,
        "city": city,
        "country": "FR",
        "categories": categories,
        "tags": ["amap"],
        "license": "CC0-1.0",
    }


def _run(
    ofdb: OpenFairDB,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source_id: str,
    edits: dict[str, str],
    **entry: object,
) -> pipeline.RunSummary:
    mapping = (TRANSFORMS / "mappings" / f"{source_id}.toml").read_text(encoding="utf-8")
    for before, after in edits.items():
        assert before in mapping
        mapping = mapping.replace(before, after)
    (tmp_path / "kvm.toml").write_text(mapping, encoding="utf-8")
    endpoint = "events" if source_id == "kvm-events" else "search"
    registry = write_registry(
        tmp_path,
        {source_id: f"{ofdb.base}/v0/{endpoint}"},
        **{source_id: {"min_interval": 0, "mapping": str(tmp_path / "kvm.toml"), **entry}},
    )
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    return jobs.run_source(source_id)


def _loaded(summary: pipeline.RunSummary) -> dict[str, dict]:
    return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / "valid.jsonl")}


def test_kvm_events_are_asked_from_start_min_by_tag_tiled_under_the_cap_and_kept_to_the_box(
    bus: Bus, ofdb: OpenFairDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = int(time.time()) // DAY * DAY
    past = [_event(i, today - (40 + i) * DAY, TOWNS[i % 10], ["repaircafe"]) for i in range(30)]
    future = [_event(100 + i, today + (2 + i) * DAY, TOWNS[i % 10], ["repaircafe", "velo"]) for i in range(25)]
    other_tag = [_event(200 + i, today + (3 + i) * DAY, TOWNS[i], ["velo"]) for i in range(3)]
    munich = [_event(300 + i, today + (4 + i) * DAY, MUNICH, ["repaircafe"]) for i in range(3)]
    ofdb.events = past + future + other_tag + munich
    summary = _run(
        ofdb,
        tmp_path,
        monkeypatch,
        "kvm-events",
        {"limit = 2000": "limit = 10\nmax_depth = 4", "past_days = 1": 'past_days = 1\ntags = "repaircafe"'},
    )
    assert summary.outcome == "success", summary.error
    assert ofdb.errors == []  # no parameter the real server would refuse
    assert set(_loaded(summary)) == {e["id"] for e in future}  # not the past, not another tag, not München
    assert summary.counts["fetched"] == len(future) and summary.counts["quarantined"] == 0
    events_requests = [dict(pairs) | {"tag": [v for k, v in pairs if k == "tag"]} for path, pairs in ofdb.requests]
    assert len(events_requests) > 1  # a full answer (10 events) was split into quadrants
    for query in events_requests:
        assert query["tag"] == ["repaircafe"] and "tags" not in query
        assert today - 2 * DAY <= int(query["start_min"]) <= today + DAY  # the run's day minus past_days
    pages = json.loads((Path(summary.run_dir) / "raw.json").read_text(encoding="utf-8"))
    assert sum(p.get("outside_bbox", 0) for p in pages) >= len(munich)  # the extended box, left out


def test_kvm_events_over_the_cap_at_max_depth_fail_saying_so(
    bus: Bus, ofdb: OpenFairDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = int(time.time()) // DAY * DAY
    ofdb.events = [_event(i, today + (1 + i) * DAY, TOWNS[0], ["repaircafe"]) for i in range(12)]
    summary = _run(ofdb, tmp_path, monkeypatch, "kvm-events", {"limit = 2000": "limit = 10\nmax_depth = 1"})
    assert summary.outcome == "failed"
    assert "still holds 10 events (the API's cap) at depth 1" in summary.error and "would be cut" in summary.error
    assert bus.graph_triples("kvm-events") == set()


def test_kvm_companies_are_not_asked_for_by_default_and_load_tagged_when_kept(
    bus: Bus, ofdb: OpenFairDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    initiatives = [_entry(i, TOWNS[i], [NON_PROFIT]) for i in range(5)]
    companies = [_entry(10 + i, TOWNS[5 + i], [COMMERCIAL]) for i in range(2)]
    both = [_entry(20, TOWNS[9], [NON_PROFIT, COMMERCIAL])]
    outside = [_entry(30, MUNICH, [NON_PROFIT])]  # answered in "invisible": not in the box asked
    ofdb.entries = initiatives + companies + both + outside

    dropped = _run(ofdb, tmp_path, monkeypatch, "kvm-france", {})
    assert dropped.outcome == "success", dropped.error
    assert ofdb.errors == []
    searches = [dict(pairs) for path, pairs in ofdb.requests if path.endswith("/search")]
    assert searches and all(q["categories"] == NON_PROFIT for q in searches)
    assert set(_loaded(dropped)) == {e["id"] for e in initiatives}
    reasons = {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(dropped.run_dir))}
    assert list(reasons) == [both[0]["id"]]
    assert "a company on the Karte von morgen" in reasons[both[0]["id"]][0]
    assert 'businesses = "drop"' in reasons[both[0]["id"]][0]

    ofdb.requests.clear()
    (tmp_path / "keep").mkdir()
    kept = _run(ofdb, tmp_path / "keep", monkeypatch, "kvm-france", {}, businesses="keep")
    assert kept.outcome == "success", kept.error
    assert all("categories" not in dict(pairs) for path, pairs in ofdb.requests if path.endswith("/search"))
    loaded = _loaded(kept)
    assert set(loaded) == {e["id"] for e in initiatives + companies + both}
    assert {i for i, r in loaded.items() if "entreprise" in r["tags"]} == {e["id"] for e in companies + both}
    assert outside[0]["id"] not in loaded
