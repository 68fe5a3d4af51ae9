"""What the CLI, the DAG tasks and the benchmarks run: one source's stages, a replay, the downstream steps,
each with the quality reports refreshed when it changed what they show.

Why an entry point of its own: the reports read the run folders and the link and gaps files, so they sit
above the stages and the steps in the layers; a stage that wrote its own report would import upward. Here
the stage runs first, then its report is rewritten, and a report problem never fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from transiscope.core.errors import ConfigError
from transiscope.downstream import steps as downstream_steps
from transiscope.downstream.link import linker
from transiscope.ingest import pipeline, replay, stages
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.run_context import NOT_MODIFIED
from transiscope.reports.quality import write_reports
from transiscope.runs import PruneResult, prune_runs, read_run
from transiscope.settings import Settings

log = logging.getLogger(__name__)


def refresh_reports(settings: Settings, source_ids: list[str] | None = None) -> None:
    """Rewrite the quality reports of ``source_ids`` (all sources when None) and the index.

    A report that cannot be written is logged, never raised: the outcome of a run or a step must not depend
    on its report."""
    try:
        write_reports(settings, load_registry(settings.registry_path), source_ids)
    except Exception:
        log.exception("could not write the quality reports of %s", ", ".join(source_ids or ["every source"]))


def run_stage(name: str, run_dir: Path | str, settings: Settings | None = None, **kwargs: Any) -> dict[str, Any]:
    """One stage of a run (an Airflow task), by its name in :data:`transiscope.ingest.stages.STAGES`; the
    source's report is rewritten after a load or a failure."""
    settings = settings or Settings.from_env()
    stage = stages.stage_named(name)  # a stage of transiscope.ingest.stages
    try:
        stats = stage(run_dir, settings, **kwargs)
    except Exception:
        refresh_reports(settings, [read_run(run_dir)["source"]])
        raise
    if stage.writes_store and not stats.get("skipped"):
        refresh_reports(settings, [read_run(run_dir)["source"]])
    return stats


def _after_run(summary: pipeline.RunSummary, settings: Settings | None) -> pipeline.RunSummary:
    if summary.outcome != NOT_MODIFIED:
        refresh_reports(settings or Settings.from_env(), [summary.source])
    return summary


def run_source(source_id: str, **kwargs: Any) -> pipeline.RunSummary:
    """Every stage of one source in this process (:func:`transiscope.ingest.pipeline.run_source`), then its
    report; a run that found nothing new leaves the report as it was."""
    return _after_run(pipeline.run_source(source_id, **kwargs), kwargs.get("settings"))


def run_sources(jobs: list[pipeline.SourceJob], *, settings: Settings, **kwargs: Any) -> list[pipeline.RunSummary]:
    """Several sources, their stages before the load in worker processes
    (:func:`transiscope.ingest.pipeline.run_sources`), then their reports."""
    return [_after_run(summary, settings) for summary in pipeline.run_sources(jobs, settings=settings, **kwargs)]


def replay_run(run_dir: Path | str, **kwargs: Any) -> pipeline.RunSummary:
    """A stored run's payload through the stages again (:func:`transiscope.ingest.replay.replay_run`),
    then the source's report."""
    return _after_run(replay.replay_run(run_dir, **kwargs), kwargs.get("settings"))


def run_link(settings: Settings, **kwargs: Any) -> linker.LinkSummary:
    """The link step, then every report (each shows its source's links and the overlap between sources)."""
    summary = linker.run_link(settings, **kwargs)
    refresh_reports(settings)
    return summary


def _refresh_after_link(settings: Settings) -> Callable[[downstream_steps.StepResult], None]:
    def after(result: downstream_steps.StepResult) -> None:
        if result.step == "link" and result.outcome == "success":
            refresh_reports(settings)

    return after


def run_task(
    task_id: str, settings: Settings, progress: Callable[[str], None] | None = None
) -> downstream_steps.StepResult:
    """One task of a downstream DAG (``downstream.steps.TASKS``); the reports are rewritten after the link."""
    result = downstream_steps.run_task(task_id, settings, progress)
    _refresh_after_link(settings)(result)
    return result


def run_downstream(
    settings: Settings,
    steps: Sequence[str] = downstream_steps.STEPS,
    progress: Callable[[str], None] | None = None,
) -> list[downstream_steps.StepResult]:
    """The steps after the loads, in order, with the reports rewritten after the link (before the export
    copies them)."""
    return downstream_steps.run_downstream(settings, steps, progress, after=_refresh_after_link(settings))


def prune(
    settings: Settings, sources: Sequence[str] | None = None, keep: int | None = None, *, dry_run: bool = False
) -> list[PruneResult]:
    """``transiscope prune`` and the maintenance DAG: the run folders of every source (or of ``sources``) but
    the newest ``keep`` (``settings.keep_runs`` by default) and those the bus still needs
    (:func:`transiscope.runs.prune_runs`). The folders of a source no longer in the registry are pruned too."""
    keep = settings.keep_runs if keep is None else keep
    if keep < 1:
        raise ConfigError(f"--keep {keep}: keep at least one run per source")
    ids = [s.id for s in load_registry(settings.registry_path).select(list(sources or ()))]
    if not sources and settings.runs_dir.is_dir():
        ids += sorted(p.name for p in settings.runs_dir.iterdir() if p.is_dir() and p.name not in ids)
    return [prune_runs(settings, source_id, keep, dry_run=dry_run) for source_id in ids]
