"""The real CGET 2019 census of tiers-lieux (1,512 records, from the shared data) read as a CSV source, where one
website, ``http://fablab-vignes.org|fablab-vignes.org]]``, once raised ``ValueError: Invalid IPv6 URL`` and failed
the whole run and ``check-source`` (issue 21, defect 6). Served over HTTP on 127.0.0.1, the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Bus
from tests.integration.faults import Fault, FaultServer
from tests.integration.test_faults import write_registry
from transiscope import cli, jobs
from transiscope.core.files import iter_jsonl
from transiscope.settings import shared_data_dir

MAPPING = Path(__file__).resolve().parents[1] / "fixtures" / "census" / "tiers-lieux-cget-2019.toml"
#: the census's record whose website has a stray bracket
FABLAB = "1023"


@pytest.fixture(scope="module")
def census() -> Path:
    path = shared_data_dir() / "initiatives" / "tiers-lieux-cget-2019.csv"
    if not path.exists():
        pytest.fail(f"the tiers-lieux census is not in {path.parent}: set TRANSISCOPE_SHARED_DATA")
    assert b"fablab-vignes.org|fablab-vignes.org]]" in path.read_bytes(), "not the census this test is about"
    return path


def test_check_source_reads_the_census_with_its_bad_website(
    census: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRANSISCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check-source", str(census), "--json", "--out", str(tmp_path / "census.toml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["format"] == "csv" and report["records"] == 1512
    assert FABLAB in {item["id"] for item in report["would_load"]}
    assert any("website" in note["reason"] and "dropped" in note["reason"] for note in report["notes"])


def test_the_census_loads_with_the_bad_website_dropped_and_noted(
    bus: Bus, census: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FaultServer()
    try:
        url = server.set("/tiers-lieux-cget-2019.csv", Fault(body=census.read_bytes()))
        overrides = {"mapping": str(MAPPING), "min_interval": 0, "max_bytes": 10 * census.stat().st_size}
        registry = write_registry(tmp_path, {"ressourceries": url}, ressourceries=overrides)
        monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        summary = jobs.run_source("ressourceries")
    finally:
        server.close()
    assert summary.outcome == "success", summary.error
    counts = summary.counts
    assert counts["fetched"] == 1512 and counts["loaded"] + counts["quarantined"] == 1512
    loaded = {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / "valid.jsonl")}
    fablab = loaded[FABLAB]
    assert fablab["name"] == "FabLab des Vignes" and fablab["website"] is None
    assert any("fablab-vignes.org" in note and "dropped" in note for note in fablab["notes"]), fablab["notes"]
    assert loaded["1"]["website"] == "https://www.ade-coworking.net"  # the good ones are kept
