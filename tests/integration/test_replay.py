"""``transiscope replay``: redo a stored run from its raw.json, without asking the source again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Bus, Reply
from tests.sample_counts import SAMPLE_COUNTS
from transiscope import jobs, runs
from transiscope.cli import main
from transiscope.core.errors import ConfigError
from transiscope.ingest import replay

SOURCE = "transiscope"


def _fingerprint(run_dir: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(run_dir.iterdir())}


def test_replay_reloads_the_stored_payload_while_the_source_is_down(bus: Bus, capsys) -> None:
    first = jobs.run_source(SOURCE)
    assert first.outcome == "success"
    live = bus.graph_triples(SOURCE)
    stored = Path(first.run_dir)
    before = _fingerprint(stored)
    bus.server.set(urlsplit(bus.urls[SOURCE]).path, Reply(404, b"gone"))  # a replay never fetches

    assert main(["replay", str(stored)]) == 0
    out = capsys.readouterr().out
    (new_dir,) = [d for d in (bus.home / "runs" / SOURCE).iterdir() if d != stored]
    run = runs.read_run(new_dir)
    assert run["outcome"] == "success" and run["runner"] == "replay" and run["url"] == bus.urls[SOURCE]
    assert run["replay_of"]["run_id"] == first.run_id
    assert run["counts"]["loaded"] == first.counts["loaded"] and run["counts"]["fetched"] == first.counts["fetched"]
    assert f"run {run['run_id']} (success; fetched 14, loaded 12" in out
    assert (new_dir / "raw.json").read_bytes() == (stored / "raw.json").read_bytes()
    assert _fingerprint(stored) == before  # the stored run is left as it was
    assert bus.graph_triples(SOURCE) == live  # same payload, same graph
    assert bus.server.hits[urlsplit(bus.urls[SOURCE]).path] == 0


def test_replay_without_load_leaves_the_store_alone(bus: Bus, capsys) -> None:
    """--no-load: what the current mapping and checks make of a stored payload, the store untouched."""
    first = jobs.run_source(SOURCE)
    live = bus.graph_triples(SOURCE)
    summary = jobs.replay_run(first.run_dir, load_store=False)
    assert summary.outcome == replay.NOT_LOADED
    counts = summary.counts
    assert (
        counts["loaded"] == 0
        and counts["fetched"] == counts["quarantined"] + counts["not_loaded"] == SAMPLE_COUNTS[SOURCE].fetched
    )
    assert counts["not_loaded"] == first.counts["loaded"]
    assert bus.graph_triples(SOURCE) == live
    # the CLI takes SOURCE/RUN_ID under the runs folder too
    assert main(["replay", "--no-load", f"{SOURCE}/{first.run_id}"]) == 0
    assert "the store was not touched" in capsys.readouterr().err


def test_replay_of_a_run_without_payload_says_so(bus: Bus, capsys) -> None:
    bus.server.set(urlsplit(bus.urls[SOURCE]).path, Reply(404, b"gone"))
    failed = jobs.run_source(SOURCE)
    assert failed.outcome == "failed"
    with pytest.raises(ConfigError, match="kept no raw.json .*failed at extract.*no payload to replay"):
        jobs.replay_run(failed.run_dir)
    assert main(["replay", failed.run_dir]) == 2
    assert "no payload to replay" in capsys.readouterr().err
    assert main(["replay", str(bus.home / "nowhere")]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    runs = [json.loads((d / "run.json").read_text())["runner"] for d in (bus.home / "runs" / SOURCE).iterdir()]
    assert runs == ["cli"]  # nothing started for a payload that does not exist
