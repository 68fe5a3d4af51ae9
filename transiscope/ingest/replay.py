"""A stored run's payload through the stages again (after the mapping, the crosswalk, the expectations or the
shapes were fixed, or to put back the data of an earlier payload), without asking the source."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.ingest import stages
from transiscope.ingest.pipeline import RunSummary, summary_of
from transiscope.ingest.run_context import start_run
from transiscope.runs import iter_quarantine, now, read_run, write_run
from transiscope.settings import Settings

NOT_LOADED = "not-loaded"
#: the files of a stored run a replay starts from (the extract's output, its HTTP validators and what the
#: format fetched besides the payload, such as GoGoCarto's taxonomy)
REPLAY_INPUTS = ("raw.json", "raw.json.meta.json", "companions.json")


def replay_run(
    run_dir: Path | str,
    *,
    settings: Settings | None = None,
    load_store: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run the stages after the extract again on a copy of a stored run's raw payload.

    Why: the raw payload of every run is kept so that a run can be redone without asking the source
    again, after the mapping, the crosswalk, the expectations or the shapes were fixed, or to put back the
    data of an earlier payload. The stored run is never modified: a new run of the same source is started
    (runner ``replay``, ``replay_of`` naming the stored run) with a copy of its ``raw.json``, and goes
    through normalise, geocode, validate, to_rdf, shapes and, unless ``load_store`` is False, load, with
    the current registry, mapping and suites and the same safety valves as any run.
    """
    settings = settings or Settings.from_env()
    stored = Path(run_dir).resolve()
    try:
        original = read_run(stored)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{stored} is not a run directory of the bus (no readable run.json: {exc})") from None
    if not (stored / "raw.json").exists():
        raise ConfigError(
            f"run {original['run_id']} of {original['source']} kept no raw.json (it failed at "
            f"{original.get('failed_stage') or 'extract'}): there is no payload to replay"
        )
    say = progress or (lambda _message: None)
    new_dir = start_run(
        original["source"],
        settings=settings,
        runner="replay",
        url=original.get("url"),
        mode=original.get("mode", "live"),
    )
    for name in REPLAY_INPUTS:
        if (stored / name).exists():
            shutil.copy2(stored / name, new_dir / name)
    run = read_run(new_dir)
    run["replay_of"] = {"run_id": original["run_id"], "run_dir": str(stored), "started": original.get("started")}
    write_run(new_dir, run)
    say(f"{original['source']}: replaying the payload of run {original['run_id']} as run {run['run_id']}")
    # the stages after the fetch; without the load, the store is not touched
    replayed = [stage for stage in stages.REPLAYED if load_store or not stage.writes_store]
    try:
        for stage in replayed:
            say(f"{original['source']}: {stage.name}")
            stage(new_dir, settings)
    except TransiscopeError:
        return summary_of(new_dir)  # recorded in run.json and the metadata graph by the stage wrapper
    if not load_store:
        run = read_run(new_dir)
        run.update(
            outcome=NOT_LOADED,
            ended=now(),
            counts=_replay_counts(new_dir, run),
            note="replayed without the load: the store was not touched",
        )
        write_run(new_dir, run)
    return summary_of(new_dir)


def _replay_counts(run_dir: Path, run: dict[str, Any]) -> dict[str, int]:
    """The counts of a replay that stopped before the load, in the convention of a run that did not load
    (``record_failure``): nothing loaded, the records that would have been are ``not_loaded``, so that
    fetched = loaded + quarantined + not_loaded still holds."""
    fetched = run["stages"]["normalise"]["fetched"]
    quarantined = sum(1 for _ in iter_quarantine(run_dir))
    return {
        "fetched": fetched,
        "loaded": 0,
        "quarantined": quarantined,
        "not_loaded": fetched - quarantined,
        "warnings": run["stages"]["validate"]["warnings"],
        "triples": run["stages"]["to_rdf"]["triples"],
    }
