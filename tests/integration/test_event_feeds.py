"""Event feeds in the shapes real ones have: an OpenAgenda list answer with ``firstTiming``/``lastTiming`` and no
``timings``; an iCalendar feed with DTSTAMP and no LAST-MODIFIED, and an event of another continent (TZID
America/Los_Angeles, no GEO). Served over HTTP on 127.0.0.1, the real pipeline, a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Bus
from tests.integration.faults import Fault, FaultServer
from tests.integration.test_faults import write_registry
from transiscope import cli, jobs, runs
from transiscope.core.files import iter_jsonl
from transiscope.ingest import pipeline
from transiscope.settings import Settings

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


@pytest.fixture
def server():
    server = FaultServer()
    yield server
    server.close()


def _run(
    server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source_id: str,
    path: str,
    body: bytes,
    **entry,
) -> pipeline.RunSummary:
    url = server.set(path, Fault(body=body))
    registry = write_registry(tmp_path, {source_id: url}, **{source_id: {"min_interval": 0, **entry}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    return jobs.run_source(source_id)


def _valid(summary: pipeline.RunSummary) -> dict[str, dict]:
    return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / "valid.jsonl")}


def test_openagenda_list_answers_with_first_and_last_timing_load(
    bus: Bus, server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FEEDS / "openagenda-list-first-last-timing.json").read_bytes()
    summary = _run(server, tmp_path, monkeypatch, "agenda-transition", "/v2/agendas/transition-citoyenne/events", body)
    assert summary.outcome == "success", summary.error
    assert (summary.counts["loaded"], summary.counts["quarantined"]) == (2, 0)
    events = _valid(summary)
    one_day = events["52170401"]
    assert (one_day["start"], one_day["end"]) == ("2027-03-13T10:00:00+01:00", "2027-03-13T12:00:00+01:00")
    series = events["52170402"]  # from the first timing's begin to the last one's end, no sub-events
    assert (series["start"], series["end"]) == ("2027-03-20T14:00:00+01:00", "2027-05-22T17:00:00+02:00")
    assert not any(r.get("parent_id") for r in events.values())


def test_ical_dtstamp_is_the_update_date_and_an_event_of_another_continent_is_set_aside(
    bus: Bus, server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FEEDS / "ical-dtstamp-and-other-continents.ics").read_bytes()
    summary = _run(server, tmp_path, monkeypatch, "mobilizon-alternatiba", "/feed.ics", body)
    assert summary.outcome == "success", summary.error
    events = _valid(summary)
    assert events["rc-2027-001@repaircafes.example.org"]["updated_at"].startswith("2027-02-15T08:30:00")
    # a neighbour's zone (Paris' offsets all year) is not judged by its time zone; its address or point decides
    assert "rc-2027-002@repaircafes.example.org" in events
    reasons = {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(summary.run_dir))}
    assert list(reasons) == ["rc-2027-003@repaircafes.example.org"]
    (reason,) = reasons["rc-2027-003@repaircafes.example.org"]
    assert "America/Los_Angeles" in reason and "outside France" in reason and "international" in reason


def test_an_international_ical_source_loads_the_event_of_another_continent_with_a_note(
    bus: Bus, server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FEEDS / "ical-dtstamp-and-other-continents.ics").read_bytes()
    summary = _run(server, tmp_path, monkeypatch, "mobilizon-alternatiba", "/feed.ics", body, international=True)
    assert summary.outcome == "success", summary.error
    far = _valid(summary)["rc-2027-003@repaircafes.example.org"]
    assert far["start"] == "2027-04-03T10:00:00-07:00"
    assert any("America/Los_Angeles" in note for note in far["notes"])


def test_an_events_source_with_every_record_set_aside_records_its_run_and_shows_its_quarantine(
    bus: Bus,
    server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 21, defect 7: validation used to look up the initiatives suite when no record was left, and failed
    with "expectation suite not found"; the run was not recorded and ``quarantine`` showed none."""
    body = (FEEDS / "openagenda-all-set-aside.json").read_bytes()
    url = server.set("/v2/agendas/transition-citoyenne/events", Fault(body=body))
    registry = write_registry(tmp_path, {"agenda-transition": url}, **{"agenda-transition": {"min_interval": 0}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    cli.main(["run", "--jobs", "1", "agenda-transition"])
    run_output = capsys.readouterr()
    assert "expectation suite not found" not in run_output.out + run_output.err
    assert cli.main(["quarantine", "--format", "json", "agenda-transition"]) == 0
    shown = capsys.readouterr()
    entries = {e["source_id"]: e["reasons"] for e in json.loads(shown.out)}
    assert entries == {
        "61880301": ["state 0 on OpenAgenda: not a published event"],
        "61880302": ["state -1 on OpenAgenda: not a published event"],
    }
    run_dir = runs.latest_processed_run(Settings.from_env(), "agenda-transition")
    assert run_dir is not None and {e["run_id"] for e in json.loads(shown.out)} == {runs.read_run(run_dir)["run_id"]}
    assert cli.main(["quarantine", "agenda-transition"]) == 0
    shown = capsys.readouterr()
    assert "agenda-transition: 2 quarantined in run" in shown.err and "state -1 on OpenAgenda" in shown.out
    validation = json.loads(next((tmp_path / "home").rglob("validation.json")).read_text(encoding="utf-8"))
    assert validation["suite"] == "agenda-transition.events"  # the events suite, not the initiatives one
