"""The geocode stage end to end: a GoGoCarto source with addresses only, a BAN-speaking server on 127.0.0.1,
the real territories data, a real store. Cache, budget, retries, offline fallback and consistency flags."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT, PayloadServer
from tests.integration.ban_server import BanServer
from tests.sample_counts import SAMPLE_COUNTS
from transiscope import jobs
from transiscope.core import vocab
from transiscope.core.files import iter_jsonl
from transiscope.ingest import pipeline
from transiscope.settings import Settings

DATA = Path(__file__).parent / "geocode_data"
SOURCE = "geotest"
#: records with a street and no point: asked to the geocoder
ASKED = 6


@dataclass
class Geo:
    home: Path
    ban: BanServer
    cache: Path

    def run(self) -> pipeline.RunSummary:
        return jobs.run_source(SOURCE, force=True)  # the tests rerun the same payload on purpose

    def records(self, summary: pipeline.RunSummary) -> dict[str, dict]:
        return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / "records.jsonl")}

    def lines(self, summary: pipeline.RunSummary, name: str) -> dict[str, dict]:
        return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / name)}


@pytest.fixture
def geo(
    tmp_path: Path, payload_server: PayloadServer, territories_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Geo]:
    url = payload_server.serve_file(f"/geo/{tmp_path.name}/elements.json", DATA / "addresses.json")
    registry = tmp_path / "sources.toml"
    registry.write_text(
        "[[source]]\n"
        f'id = "{SOURCE}"\nname = "Carte de test du géocodage"\nformat = "gogocarto"\nurl = "{url}"\n'
        'licence = "ODbL-1.0"\n'
        f'mapping = "{(DATA / "addresses.toml").as_posix()}"\n',
        encoding="utf-8",
    )
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    shutil.copy(PROJECT / "expectations" / "initiatives.json", expectations)
    (expectations / f"{SOURCE}.json").write_text('{"expectations": []}', encoding="utf-8")
    ban = BanServer.from_file(DATA / "ban_answers.json")
    env = {
        "TRANSISCOPE_HOME": tmp_path / "home",
        "TRANSISCOPE_REGISTRY": registry,
        "TRANSISCOPE_EXPECTATIONS_DIR": expectations,
        "TRANSISCOPE_TERRITORIES_DIR": territories_dir,
        "TRANSISCOPE_GEOCODER": "ban",
        "TRANSISCOPE_GEOCODER_URL": ban.url,
        "TRANSISCOPE_GEOCODE_CACHE": tmp_path / "geocode.sqlite3",
        "TRANSISCOPE_GEOCODER_RATE": 1000,
        "TRANSISCOPE_HTTP_BACKOFF": 0.01,
        "TRANSISCOPE_HTTP_RETRIES": 2,
        "TRANSISCOPE_HTTP_READ_TIMEOUT": 10,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    yield Geo(tmp_path / "home", ban, tmp_path / "geocode.sqlite3")
    ban.close()


def _precisions_in_store(home: Path) -> dict[str, int]:
    from transiscope.store.embedded import EmbeddedStore

    settings = Settings.from_env()
    with EmbeddedStore(home / "store", read_only=True) as store:
        rows = store.select(
            f"SELECT ?p (COUNT(?g) AS ?n) WHERE {{ GRAPH <{vocab.source_graph(settings.base_iri, SOURCE)}> {{ "
            f"?i <{vocab.GEO}hasGeometry> ?g . ?g <{vocab.TS}positionPrecision> ?p }} }} GROUP BY ?p"
        )
    return {row["p"].value: int(row["n"].value) for row in rows}


def test_addresses_only_source_is_loaded_with_points_and_precisions(geo: Geo) -> None:
    first = geo.run()
    assert first.outcome == "success", first.error
    assert (first.counts["fetched"], first.counts["loaded"], first.counts["quarantined"]) == SAMPLE_COUNTS[
        "transiscope"
    ]
    stats = first.geocode
    assert (stats["addresses"], stats["cache_hits"], stats["requests"]) == (ASKED, 0, 1)  # one batch request
    assert geo.ban.hits == {"/search/csv/": 1}
    assert stats["placed"] == {"ban": 4, "territories-postcode": 4, "unplaced": 1}
    assert stats["answers_not_used"] == {"low-score": 1, "no-result": 1}
    assert stats["precision"] == {"address": 3, "commune": 4, "none": 1, "source": 5, "street": 1}
    assert stats["flags"] == {"far": 1, "france-centroid": 1, "null-island": 1, "swapped-fixed": 1}

    records = geo.records(first)
    assert (records["g01"]["lat"], records["g01"]["lon"], records["g01"]["geo_precision"]) == (
        45.771231,
        4.830489,
        "address",
    )
    assert records["g01"]["geo_method"] == "ban" and records["g01"]["insee"] == "69381"
    assert records["g02"]["geo_precision"] == "street"
    for sid in ("g03", "g04", "g07", "g08"):
        assert (records[sid]["geo_precision"], records[sid]["geo_method"]) == ("commune", "territories-postcode")
    assert "no result" in records["g03"]["notes"][-1] and "below the minimum score" in records["g04"]["notes"][-1]
    assert records["g09"]["lat"] == 44.9334 and records["g09"]["lon"] == 4.8924  # swapped back: inside Valence

    # the offline points lie in the right commune of the real territories data (Die among 14 communes of 26150)
    import shapely

    from transiscope.territories.communes import load_communes

    communes = load_communes(Settings.from_env().territories_dir, Settings.from_env().cache_dir)
    for sid, code in (("g03", "38140"), ("g04", "86194"), ("g07", "24322"), ("g08", "26113")):
        assert communes.geometries[code].covers(shapely.Point(records[sid]["lon"], records[sid]["lat"])), sid

    warnings = geo.lines(first, "warnings.jsonl")
    assert "swapped back" in " ".join(warnings["g09"]["reasons"])
    assert any("km (straight line) from the declared postcode 69004" in r for r in warnings["g10"]["reasons"])
    assert any("centre of France" in r for r in warnings["g11"]["reasons"])
    quarantine = geo.lines(first, "quarantine.jsonl")
    assert set(quarantine) == {"g12", "g13"}
    assert any("null island" in r for r in quarantine["g12"]["reasons"])
    assert any("no usable latitude" in r for r in quarantine["g13"]["reasons"])
    assert _precisions_in_store(geo.home) == {"address": 3, "street": 1, "commune": 4, "source": 4}

    second = geo.run()  # the same addresses: everything from the cache
    assert second.outcome == "success"
    again = second.geocode
    assert (again["requests"], again["cache_hits"], again["cache_hit_rate"]) == (0, ASKED, 1.0)
    assert geo.ban.hits == {"/search/csv/": 1}

    def places(summary: pipeline.RunSummary) -> dict[str, tuple]:
        return {
            sid: (r["lat"], r["lon"], r["geo_precision"], r["geo_method"]) for sid, r in geo.records(summary).items()
        }

    assert places(second) == places(first)
    assert _precisions_in_store(geo.home) == {"address": 3, "street": 1, "commune": 4, "source": 4}

    report = json.loads((geo.home / "reports" / f"{SOURCE}.json").read_text(encoding="utf-8"))
    positions = report["positions"]
    assert positions["geocode"]["cache_hits"] == ASKED and positions["geocode"]["requests"] == 0
    assert {f["code"]: f["count"] for f in positions["flags"]} == {
        "france-centroid": 1,
        "null-island": 1,
        "swapped-fixed": 1,
    }
    assert report["far_from_declared"]["count"] == 1
    french = (geo.home / "reports" / f"{SOURCE}.fr.html").read_text(encoding="utf-8")
    assert "remises dans l&#39;ordre" in french and "Positions : précision, méthode et contrôles" in french


def test_one_search_per_address_when_batches_hold_one(geo: Geo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_GEOCODER_BATCH", "1")
    summary = geo.run()
    assert summary.outcome == "success"
    assert geo.ban.hits == {"/search/": ASKED} and summary.geocode["requests"] == ASKED
    assert summary.geocode["placed"] == {"ban": 4, "territories-postcode": 4, "unplaced": 1}
    assert geo.records(summary)["g06"]["lat"] == 45.439712


def test_budget_stops_geocoding_and_the_next_run_goes_on(geo: Geo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_GEOCODER_BATCH", "1")
    monkeypatch.setenv("TRANSISCOPE_GEOCODER_MAX_REQUESTS", "2")
    first = geo.run()
    assert first.outcome == "success"
    stats = first.geocode
    assert stats["requests"] == 2 and geo.ban.requests == 2 and stats["budget_exhausted"] is True
    assert any("geocoding budget reached" in m and "4 address(es) not geocoded" in m for m in stats["messages"])
    records = geo.records(first)
    waiting = [sid for sid in ("g01", "g02", "g03", "g04", "g05", "g06") if records[sid]["geo_method"] != "ban"]
    assert len(waiting) == 4  # placed at their commune meanwhile, and said so
    assert all("geocoding stopped" in records[sid]["notes"][-1] for sid in waiting)

    monkeypatch.setenv("TRANSISCOPE_GEOCODER_MAX_REQUESTS", "10")
    second = geo.run()
    assert (second.geocode["cache_hits"], second.geocode["requests"]) == (2, 4)
    assert second.geocode["placed"]["ban"] == 4 and not second.geocode["budget_exhausted"]


def test_429_and_5xx_are_retried(geo: Geo) -> None:
    geo.ban.fail_with = [(429, {"Retry-After": "0"}), (503, {})]
    summary = geo.run()
    assert summary.outcome == "success"
    assert summary.geocode["requests"] == 1 and geo.ban.hits == {"/search/csv/": 3}
    assert summary.geocode["placed"]["ban"] == 4


def test_a_geocoder_down_falls_back_and_caches_nothing(geo: Geo) -> None:
    geo.ban.fail_with = [(500, {})] * 3  # more than TRANSISCOPE_HTTP_RETRIES=2
    first = geo.run()
    assert first.outcome == "success"
    assert any("answered HTTP 500 after 2 retries" in m for m in first.geocode["messages"])
    assert first.geocode["placed"] == {"territories-postcode": 8, "unplaced": 1}
    second = geo.run()  # the service is back: the addresses are asked again, as nothing was cached
    assert (second.geocode["cache_hits"], second.geocode["requests"]) == (0, 1)
    assert second.geocode["placed"]["ban"] == 4


def test_without_territories_the_fallback_is_unavailable_not_a_crash(
    geo: Geo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("TRANSISCOPE_MAX_QUARANTINE_SHARE", "0.9")
    summary = geo.run()
    assert summary.outcome == "success", summary.error
    assert any(m.startswith("offline fallback unavailable") for m in summary.geocode["messages"])
    assert summary.geocode["placed"] == {"ban": 4, "unplaced": 5}  # g03, g04, g07, g08, g13
    assert summary.geocode["flags"] == {"france-centroid": 1, "null-island": 1, "swapped": 1}
    quarantine = geo.lines(summary, "quarantine.jsonl")
    assert set(quarantine) == {"g03", "g04", "g07", "g08", "g09", "g12", "g13"}
    assert any("look swapped" in r for r in quarantine["g09"]["reasons"])  # reported, not fixed
