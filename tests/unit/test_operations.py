"""Pools, public links and run summaries of transiscope/operations.py (no Airflow needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transiscope import operations
from transiscope.core.errors import ConfigError
from transiscope.ingest.mappings import load_registry
from transiscope.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]


def test_pools_one_per_host_plus_store_writes(monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_GEOCODER_URL", "https://api-adresse.data.gouv.fr")
    monkeypatch.delenv("TRANSISCOPE_STORE_WRITE_SLOTS", raising=False)
    registry = load_registry(PROJECT / "transforms" / "sources.toml")
    pools = operations.airflow_pools(registry, Settings.from_env())
    assert pools[operations.STORE_WRITE_POOL]["slots"] == 1
    hosts = {operations.host_pool(source.url) for source in registry.sources}
    assert hosts | {operations.STORE_WRITE_POOL, "transiscope_http_api-adresse.data.gouv.fr"} == set(pools)
    for name, pool in pools.items():  # the format `airflow pools import` reads
        assert set(pool) == {"slots", "description", "include_deferred"}, name
        assert pool["slots"] >= 1 and pool["description"]
    assert "transiscope" in pools["transiscope_http_transiscope.gogocarto.fr"]["description"]


def test_store_write_slots(monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_STORE_WRITE_SLOTS", "4")
    assert Settings.from_env().store_write_slots == 4
    for bad in ("0", "many"):
        monkeypatch.setenv("TRANSISCOPE_STORE_WRITE_SLOTS", bad)
        with pytest.raises(ConfigError, match="TRANSISCOPE_STORE_WRITE_SLOTS"):
            Settings.from_env()


def test_host_pool_and_dag_ids() -> None:
    assert operations.host_pool("https://Example.org:8443/api?x=1") == "transiscope_http_example.org"
    assert operations.host_pool("file:///data/x.json") is None
    assert operations.source_of_dag_id("ingest_kvm-france") == "kvm-france"
    assert operations.source_of_dag_id("transiscope_export") is None


def test_public_links(monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_PUBLIC_URL", "https://bus.example.org/")
    base = operations.public_url()
    assert base == "https://bus.example.org"
    assert operations.report_url(base, "a b/c") == "https://bus.example.org/reports/a%20b%2Fc.en.html"
    assert operations.sparql_page_url(base) == "https://bus.example.org/"
    monkeypatch.setenv("TRANSISCOPE_PUBLIC_URL", "javascript:alert(1)")
    with pytest.raises(ConfigError):
        operations.public_url()


def _run(tmp_path: Path, **run) -> Path:
    run_dir = tmp_path / "runs" / "s" / run["run_id"]
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"source": "s", "stages": {}, **run}), encoding="utf-8")
    return run_dir


def test_run_summary_success_and_failure(tmp_path: Path, monkeypatch) -> None:
    ok = _run(
        tmp_path,
        run_id="20260101T000000.000Z-aaaaaa",
        outcome="success",
        airflow={"run_id": "a1"},
        counts={"fetched": 14, "loaded": 12, "quarantined": 2, "warnings": 1, "triples": 372},
        stages={"extract": {"seconds": 0.5}, "load": {"seconds": 1.25}},
    )
    summary = operations.run_summary(ok)
    assert summary["outcome"] == "success" and summary["loaded"] == 12 and summary["seconds"] == 1.75
    assert operations.summary_line(summary) == (
        "run 20260101T000000.000Z-aaaaaa of s: success (fetched 14, loaded 12, quarantined 2, warnings 1, "
        "triples 372; 1.75 s)"
    )
    bad = _run(
        tmp_path,
        run_id="20260102T000000.000Z-bbbbbb",
        outcome="failed",
        airflow={"run_id": "a2"},
        failed_stage="extract",
        error_kind="http",
        error="HTTP 404 from the source",
    )
    line = operations.summary_line(operations.run_summary(bad))
    assert line.endswith(
        "failed (fetched -, loaded -, quarantined -, warnings -, triples -; 0 s); "
        "failed at extract (http): HTTP 404 from the source"
    )
    assert len(json.dumps(operations.run_summary(bad))) < 1000  # small enough for XCom

    monkeypatch.setenv("TRANSISCOPE_HOME", str(tmp_path))
    settings = Settings.from_env()
    assert operations.find_airflow_run(settings, "s", "a1") == ok
    assert operations.find_airflow_run(settings, "s", "zz") is None
    assert operations.last_successful_run(settings, "s") == "20260101T000000.000Z-aaaaaa"
    assert operations.last_successful_run(settings, "other") is None


def test_stale_sources(tmp_path: Path, monkeypatch) -> None:
    """Stale: K failed runs in a row, or no confirmation for N days; a first run still going is not stale."""
    from datetime import UTC, datetime, timedelta

    from transiscope.registry.sources import Registry

    monkeypatch.setenv("TRANSISCOPE_HOME", str(tmp_path))
    settings = Settings.from_env()
    registry = load_registry(PROJECT / "transforms" / "sources.toml")
    one = Registry(registry.path, tuple(s for s in registry.sources if s.id == "transiscope"))
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)

    def at(days_ago: float) -> str:
        return (now - timedelta(days=days_ago)).isoformat()

    def run(run_id: str, outcome: str, days_ago: float) -> None:
        run_dir = tmp_path / "runs" / "transiscope" / run_id
        run_dir.mkdir(parents=True)
        state = {"source": "transiscope", "run_id": run_id, "outcome": outcome, "started": at(days_ago)}
        (run_dir / "run.json").write_text(json.dumps({**state, "ended": at(days_ago), "error": "HTTP 503"}))

    assert operations.stale_sources(settings, one, now) == []  # never ran: nothing expected yet
    run("20261202T110000Z-a", "running", 0.04)
    assert operations.stale_sources(settings, one, now) == []  # its first run is still going
    run("20261201T110000Z-b", "success", 1)
    run("20261202T100000Z-c", "failed", 0.08)
    run("20261202T103000Z-d", "failed", 0.06)
    assert operations.stale_sources(settings, one, now) == []  # two failures, confirmed yesterday
    run("20261202T104500Z-e", "rejected", 0.05)
    (alert,) = operations.stale_sources(settings, one, now)
    assert alert["consecutive_failures"] == 3 and alert["reasons"][0].startswith("3 failed runs in a row")
    assert operations.stale_sources(settings, one, now + timedelta(days=10))[0]["reasons"][1] == (
        "data last confirmed 11 days ago"
    )
