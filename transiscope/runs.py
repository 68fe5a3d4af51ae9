"""The run folder: ``<home>/runs/<source>/<run id>/``, its ``run.json`` and the files the stages leave there.

Why one owner: the run folder is how a stage hands its work to the next one (possibly another Airflow task
on another worker), how a run is replayed and audited, and what the reports and the notifications read. Five
modules read ``run.json`` by its literal path and four listed a source's runs with their own loop; this
module is now the only code that knows the layout.

Run ids start with the UTC time the run started, so sorting a source's run folders by name sorts them by
start time.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from transiscope.core.files import iter_jsonl, write_json
from transiscope.settings import Settings

#: the state of a run, as ``run.json`` holds it (source, run_id, outcome, stages, counts, error...)
RunState = dict[str, Any]

RUN_FILE = "run.json"
RAW = "raw.json"
#: the HTTP validators (ETag, Last-Modified) the extract kept next to the payload
RAW_META = "raw.json.meta.json"
RECORDS = "records.jsonl"
QUARANTINE = "quarantine.jsonl"
VALID = "valid.jsonl"
WARNINGS = "warnings.jsonl"
TRIPLES = "triples.nt"
VALIDATION = "validation.json"
#: present while the run's record (its PROV activity) is not yet in the store's metadata graph
PENDING = "provenance.pending"


def now() -> str:
    """The current UTC time as run.json writes it (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """UTC time to the millisecond, then a random suffix: run ids sort in the order runs started."""
    moment = datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def read_run(run_dir: Path | str) -> RunState:
    """The ``run.json`` of a run folder (``OSError``/``ValueError`` when it is missing or unreadable)."""
    state: RunState = json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
    return state


def write_run(run_dir: Path | str, state: RunState) -> None:
    """Replace a run's ``run.json`` atomically: a reader sees the old state or the new one."""
    write_json(Path(run_dir) / RUN_FILE, state)


def source_runs_dir(settings: Settings, source_id: str) -> Path:
    return settings.runs_dir / source_id


def recent_runs(settings: Settings, source_id: str, newest: int | None = None) -> Iterator[tuple[Path, RunState]]:
    """The source's runs, newest first, with their readable ``run.json`` (``newest`` folders at most looked at;
    a folder without a readable ``run.json`` is skipped)."""
    runs_dir = source_runs_dir(settings, source_id)
    if not runs_dir.is_dir():
        return
    folders = sorted(runs_dir.iterdir(), reverse=True)
    for run_dir in folders if newest is None else folders[:newest]:
        try:
            yield run_dir, read_run(run_dir)
        except (OSError, ValueError):
            continue


def mark_pending(run_dir: Path | str) -> None:
    """Say that the run's record must still be written to the metadata graph.

    Why a file in the run folder: a failure is often caused by the store itself (locked by another
    writer, unreachable), so its record cannot always go there at once; the marker is what the next writer
    finds (:func:`pending_runs`) and writes, so that no run is missing from the metadata graph for long.
    """
    (Path(run_dir) / PENDING).touch()


def clear_pending(run_dir: Path | str) -> None:
    """The run's record is in the metadata graph (or the run started again, and will write its own)."""
    (Path(run_dir) / PENDING).unlink(missing_ok=True)


def is_pending(run_dir: Path | str) -> bool:
    return (Path(run_dir) / PENDING).exists()


def pending_runs(settings: Settings, source_id: str | None = None) -> Iterator[tuple[Path, RunState]]:
    """The runs whose record is not yet in the metadata graph (of one source, or of all), oldest first,
    with their readable ``run.json`` (an unreadable one is skipped: there is nothing to record)."""
    pattern = f"{source_id or '*'}/*/{PENDING}"
    markers = sorted(settings.runs_dir.glob(pattern), key=lambda marker: marker.parent.name)
    for marker in markers:
        try:
            yield marker.parent, read_run(marker.parent)
        except (OSError, ValueError):
            continue


def iter_quarantine(run_dir: Path | str) -> Iterator[dict[str, Any]]:
    """The quarantined records of a run, in the order the stages set them aside."""
    yield from iter_jsonl(Path(run_dir) / QUARANTINE)


def latest_processed_run(settings: Settings, source_id: str) -> Path | None:
    """The newest run of a source that reached a verdict on its records: loaded, or rejected as a batch.

    Its quarantine is the source's current quarantine: a record fixed at the source is simply absent
    from the next run's file, and a run that failed for another reason (source unreachable, store
    busy) does not hide the last verdict.
    """
    for run_dir, run in recent_runs(settings, source_id):
        if run.get("outcome") in ("success", "rejected") and (run_dir / QUARANTINE).exists():
            return run_dir
    return None


def previous_loaded_run(
    settings: Settings, source_id: str, url: str, current: Path | None = None
) -> dict[str, Any] | None:
    """The newest successful run of the source that fetched the same URL: its validators (ETag,
    Last-Modified) make the next request conditional, and its raw file seeds incremental formats."""
    for run_dir, run in recent_runs(settings, source_id):
        if current is not None and run_dir == current:
            continue
        if run.get("outcome") != "success" or run.get("url") != url or not (run_dir / RAW).exists():
            continue
        meta_path = run_dir / RAW_META
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return {
            "run_id": run["run_id"],
            "started": run["started"],
            "url": url,
            "raw_path": str(run_dir / RAW),
            "etag": meta.get("etag"),
            "last_modified": meta.get("last_modified"),
            "inputs_digest": run.get("inputs_digest"),
        }
    return None


#: longer than every stage's execution timeout put together: a run "running" for longer has died
RUNNING_AT_MOST = timedelta(days=1)


def _started_since(run: RunState, when: datetime) -> bool:
    try:
        started = datetime.fromisoformat(str(run.get("started")))
    except ValueError:
        return False
    return (started if started.tzinfo else started.replace(tzinfo=UTC)) >= when


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune_runs` did for one source."""

    source: str
    kept: int
    removed: tuple[str, ...]
    #: folders kept beyond ``keep`` because the bus still needs them, with why
    held: dict[str, str]


def prune_runs(settings: Settings, source_id: str, keep: int, *, dry_run: bool = False) -> PruneResult:
    """Remove the source's run folders but the newest ``keep``, never one the bus still needs.

    Held whatever their age: a run still going (``running`` and started less than :data:`RUNNING_AT_MOST`
    ago: an older one was cut short by a dead worker and is kept only by ``keep``), a run whose record is not
    yet in the metadata graph (:func:`pending_runs`), the newest successful run (its validators make the next
    request conditional; its raw file seeds incremental formats and replays), and the newest run that reached
    a verdict (its quarantine is the source's current one, which the quality report shows).
    """
    if keep < 1:
        raise ValueError("keep at least one run")
    runs = list(recent_runs(settings, source_id))
    newest_success = next((d for d, r in runs if r.get("outcome") == "success"), None)
    processed = latest_processed_run(settings, source_id)
    removed: list[str] = []
    held: dict[str, str] = {}
    now_utc = datetime.now(UTC)
    for position, (run_dir, run) in enumerate(runs):
        if position < keep:
            continue
        reason = (
            "still running"
            if run.get("outcome") in (None, "running") and _started_since(run, now_utc - RUNNING_AT_MOST)
            else "its record is not yet in the store"
            if is_pending(run_dir)
            else "newest successful run"
            if run_dir == newest_success
            else "newest verdict on the records (current quarantine)"
            if run_dir == processed
            else None
        )
        if reason:
            held[run_dir.name] = reason
            continue
        removed.append(run_dir.name)
        if not dry_run:
            shutil.rmtree(run_dir)
    return PruneResult(source_id, len(runs) - len(removed), tuple(removed), held)
