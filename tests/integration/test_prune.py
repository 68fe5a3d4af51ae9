"""``transiscope prune``: old run folders go, the newest stay, and so does every run the bus still needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Bus, Reply, write_registry
from transiscope import jobs
from transiscope.cli import main
from transiscope.runs import recent_runs

SOURCE = "transiscope"


def _runs(bus: Bus) -> list[str]:
    return [run_dir.name for run_dir, _ in recent_runs(bus.settings(), SOURCE)]


def test_prune_keeps_the_newest_and_what_the_bus_needs(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    oldest, success = (jobs.run_source(SOURCE, force=True) for _ in range(2))
    assert oldest.outcome == success.outcome == "success"
    # then the source breaks: two failed runs, newer than the last success
    write_registry(bus.registry.parent, {**bus.urls, SOURCE: bus.server.set("/gone.json", Reply(404, b"gone"))})
    failed = [jobs.run_source(SOURCE, force=True) for _ in range(2)]
    assert [f.outcome for f in failed] == ["failed", "failed"]
    before = _runs(bus)
    assert len(before) == 4

    assert main(["prune", "--keep", "1", "--dry-run", SOURCE]) == 0
    out = capsys.readouterr().out
    assert "newest successful run" in out and _runs(bus) == before  # a dry run removes nothing

    assert main(["prune", "--keep", "1", SOURCE]) == 0
    # kept: the newest run, and the newest successful one (next request's validators, the current quarantine)
    assert _runs(bus) == [Path(failed[1].run_dir).name, Path(success.run_dir).name]
    assert "removed 2 run folder(s)" in capsys.readouterr().err
    # the source comes back: the run after a prune is conditional on the kept success, as before
    write_registry(bus.registry.parent, bus.urls)
    assert jobs.run_source(SOURCE).outcome in ("success", "not-modified")


def test_prune_refuses_to_keep_nothing(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--keep", "0"]) == 2
    assert "keep at least one run per source" in capsys.readouterr().err
