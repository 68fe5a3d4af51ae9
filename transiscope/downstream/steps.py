"""The steps that follow the loads: link the sources, analyse territorial gaps, write the exports.

Why one module: the CLI (``transiscope run`` after its sources, ``transiscope downstream``) and the three
Airflow DAGs scheduled on the source Assets (``dags/transiscope_downstream.py``) must run the same steps
the same way and report them the same way. Each step reads the store, never the run files.

Order matters where both run: links first (the exports credit every source of a consolidated
initiative), gaps second (the map's gap layer), exports last.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.core.files import write_json
from transiscope.settings import Settings

#: in the order they run
STEPS = ("link", "gaps", "export")


@dataclass
class StepResult:
    """What one downstream step did, in a line a person reads and in figures for XCom."""

    step: str
    #: success or failed
    outcome: str
    line: str
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "outcome": self.outcome,
            "line": self.line,
            "seconds": round(self.seconds, 2),
            **self.figures,
        }


def parse_steps(text: str) -> tuple[str, ...]:
    """``link,export`` -> the steps, in their running order; an unknown step is a configuration error."""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(wanted) - set(STEPS))
    if unknown:
        raise ConfigError(f"unknown downstream step(s) {', '.join(unknown)}: choose among {', '.join(STEPS)}")
    return tuple(step for step in STEPS if step in wanted)


def link_step(settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    from transiscope.downstream.link.linker import run_link

    started = time.monotonic()
    summary = run_link(settings, progress=progress)
    figures = {
        "records": summary.records,
        "compared_pairs": summary.compared_pairs,
        "same_as": summary.same_as,
        "candidates": summary.candidates,
        "clusters": summary.clusters,
        "triples": summary.triples,
    }
    line = (
        f"{summary.records:,} records, {summary.compared_pairs:,} pairs compared: {summary.same_as:,} sameAs, "
        f"{summary.candidates:,} candidates for review, {summary.clusters:,} consolidated initiatives"
    )
    return StepResult("link", "success", line, time.monotonic() - started, figures)


def gaps_step(
    settings: Settings, progress: Callable[[str], None] | None = None, *, write_files: bool = True
) -> StepResult:
    from transiscope.downstream.gaps.step import run_gaps
    from transiscope.ingest.run_records import write_pending_now

    started = time.monotonic()
    # the gaps step holds the store for a while: the runs that could not be recorded are written first
    write_pending_now(settings)
    summary = run_gaps(settings, progress=progress, write_files=write_files)
    figures = {
        "items": summary.items,
        "disagreements": summary.disagreements,
        "concepts": len(summary.national),
        "triples": sum(summary.triples.values()),
    }
    line = (
        f"{summary.items:,} initiatives and events placed, {len(summary.national)} concepts measured, "
        f"{summary.disagreements:,} points in another commune than declared"
    )
    return StepResult("gaps", "success", line, time.monotonic() - started, figures)


def gaps_store_step(settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    """The gaps step without its files: what must hold the store's writer slot."""
    return gaps_step(settings, progress, write_files=False)


def gaps_files_step(settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    """The gaps files (CSV, GeoJSON) from the result the store phase left: no store opened."""
    from transiscope.downstream.gaps.step import write_gaps_files

    started = time.monotonic()
    summary = write_gaps_files(settings, progress=progress)
    line = f"{len(summary.files)} files of {summary.items:,} initiatives and events placed"
    return StepResult("gaps_files", "success", line, time.monotonic() - started, {"files": len(summary.files)})


def export_step(settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    from transiscope.downstream.exports import export_all

    started = time.monotonic()
    summary = export_all(settings, progress=progress)
    state = "unchanged (same bytes)" if summary.unchanged else "new data"
    figures = {
        "initiatives": summary.initiatives,
        "events": summary.events,
        "files": summary.files,
        "bytes": summary.bytes,
        "unchanged": summary.unchanged,
    }
    line = (
        f"{summary.initiatives:,} initiatives, {summary.events:,} events: {summary.files} files in "
        f"{summary.out_dir} ({state})"
    )
    return StepResult("export", "success", line, time.monotonic() - started, figures)


RUNNERS: dict[str, Callable[[Settings, Callable[[str], None] | None], StepResult]] = {
    "link": link_step,
    "gaps": gaps_step,
    "export": export_step,
}


#: the Airflow tasks of each step, in order; the CLI runs a step's tasks as one (``RUNNERS``)
TASKS: dict[str, tuple[str, ...]] = {"link": ("link",), "gaps": ("gaps", "gaps_files"), "export": ("export",)}
#: what each task runs; ``gaps`` there is the store phase only, ``gaps_files`` the files it leaves for later
TASK_RUNNERS: dict[str, Callable[[Settings, Callable[[str], None] | None], StepResult]] = {
    "link": link_step,
    "gaps": gaps_store_step,
    "gaps_files": gaps_files_step,
    "export": export_step,
}
#: the tasks that write the store (the embedded store has one writer: they share the store-writes pool)
WRITES_STORE = frozenset({"link", "gaps"})


#: the last outcome of each downstream task, one JSON file per task under the data home: what a failure
#: notification of a downstream DAG says (the step, the kind of error and its message)
TASK_RESULTS_DIR = "downstream"


def task_result_path(settings: Settings, task_id: str) -> Path:
    return settings.home / TASK_RESULTS_DIR / f"{task_id}.json"


def last_task_result(settings: Settings, task_id: str) -> dict[str, Any] | None:
    """The recorded outcome of the task's last run (None when it never ran or the file is unreadable)."""
    try:
        value = json.loads(task_result_path(settings, task_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_task(task_id: str, settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    """One Airflow task of a downstream DAG (:data:`TASKS`); errors propagate as in :func:`run_step`, after the
    outcome is recorded (:func:`last_task_result`)."""
    if task_id not in TASK_RUNNERS:
        raise ConfigError(f"unknown downstream task {task_id!r}: choose among {', '.join(TASK_RUNNERS)}")
    started = time.monotonic()
    ended: dict[str, Any] = {"task": task_id}
    try:
        result = TASK_RUNNERS[task_id](settings, progress)
    except TransiscopeError as error:
        ended |= {"outcome": "failed", "error_kind": getattr(error, "kind", "error"), "error": str(error)}
        raise
    except Exception as error:  # a bug: still say which step and what, then let Airflow fail the task
        ended |= {"outcome": "failed", "error_kind": type(error).__name__, "error": str(error) or repr(error)}
        raise
    else:
        ended |= {"outcome": "success", "line": result.line}
        return result
    finally:
        ended |= {
            "ended": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 2),
        }
        with contextlib.suppress(OSError):  # the record must not hide the task's own outcome
            write_json(task_result_path(settings, task_id), ended)


def run_step(step: str, settings: Settings, progress: Callable[[str], None] | None = None) -> StepResult:
    """One step; a :class:`TransiscopeError` propagates (Airflow fails the task with its one line)."""
    if step not in RUNNERS:
        raise ConfigError(f"unknown downstream step {step!r}: choose among {', '.join(STEPS)}")
    return RUNNERS[step](settings, progress)


def run_downstream(
    settings: Settings,
    steps: Sequence[str] = STEPS,
    progress: Callable[[str], None] | None = None,
    after: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Every asked step in order; a failed step is reported and the next ones still run (an export of the
    data as it is beats no export), so the caller decides what a failure means. ``after`` is called with each
    step's result before the next step starts (the entry points refresh the quality reports after the link)."""
    results = []
    for step in steps:
        started = time.monotonic()
        try:
            results.append(run_step(step, settings, progress))
            if after is not None:
                after(results[-1])
        except TransiscopeError as error:
            results.append(
                StepResult(
                    step,
                    "failed",
                    str(error),
                    time.monotonic() - started,
                    {"error_kind": getattr(error, "kind", "error")},
                )
            )
    return results
