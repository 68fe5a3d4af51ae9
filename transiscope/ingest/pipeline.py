"""Every stage of one source in this process (the CLI's path; Airflow runs them as tasks), and the summary
of a run: the stages are those of :mod:`transiscope.ingest.stages`, in their order, each over the run
directory :func:`transiscope.ingest.run_context.start_run` creates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transiscope.core.errors import TransiscopeError
from transiscope.ingest import stages
from transiscope.ingest.run_context import NOT_MODIFIED, context_of, record_failure, start_run
from transiscope.runs import read_run, write_run
from transiscope.settings import Settings


@dataclass
class RunSummary:
    source: str
    run_id: str
    run_dir: str
    mode: str
    outcome: str
    counts: dict[str, int]
    seconds: float
    error: str | None = None
    #: the geocode stage's figures (requests, cache hits, points placed by method), when it ran
    geocode: dict[str, Any] | None = None
    #: why a run loaded nothing without failing (not modified, same inputs as the live graph's run)
    note: str | None = None


def summary_of(run_dir: Path) -> RunSummary:
    run = read_run(run_dir)
    seconds = sum(s.get("seconds", 0) for s in run["stages"].values())
    return RunSummary(
        run["source"],
        run["run_id"],
        str(run_dir),
        run["mode"],
        run["outcome"],
        run.get("counts", {}),
        round(seconds, 2),
        run.get("error"),
        run["stages"].get("geocode"),
        run.get("note"),
    )


def geocode_line(stats: dict[str, Any]) -> str:
    """The geocode stage in one line: what was placed, and what it cost."""
    placed = ", ".join(f"{n} by {method}" for method, n in stats["placed"].items() if method != "unplaced") or "none"
    if stats["placed"].get("unplaced"):
        placed += f" ({stats['placed']['unplaced']} could not be placed)"
    rate = "" if stats["cache_hit_rate"] is None else f" ({stats['cache_hit_rate']:.0%})"
    return (
        f"{stats['without_point']} record(s) without a point, placed: {placed}; {stats['addresses']} address(es), "
        f"{stats['cache_hits']} cache hit(s){rate}, {stats['requests']} request(s) to {stats['provider']}"
    )


def run_source(
    source_id: str,
    *,
    settings: Settings | None = None,
    url: str | None = None,
    mode: str = "live",
    fallback_url: Callable[[], str] | None = None,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    until_store: bool = False,
) -> RunSummary:
    """Run every stage of one source in this process (the CLI's path; Airflow runs them as tasks).

    ``fallback_url``: when the source is unreachable, fetch from this URL instead (the bundled
    sample served on 127.0.0.1) and say so in the summary and the provenance. ``until_store``: stop before
    the first stage that writes the store (:func:`run_sources` runs it in the parent process); the summary
    then says ``running``.
    """
    settings = settings or Settings.from_env()
    say = progress or (lambda _message: None)
    run_dir = start_run(source_id, settings=settings, url=url, mode=mode, force=force)
    fetch = stages.FETCH  # the stage that asks the source: its fallback to the bundled sample is handled here
    try:
        say(f"{source_id}: {fetch.name} {read_run(run_dir)['url']}")
        try:
            fetch(run_dir, settings, connect_retries=0 if fallback_url else None, record_failures=fallback_url is None)
        except TransiscopeError as exc:
            if fallback_url is None or exc.kind != "unreachable":
                if fallback_url is not None:
                    record_failure(context_of(run_dir, settings), fetch.name, exc)
                raise
            run = read_run(run_dir)
            run.update(mode="sample", url=fallback_url(), fallback_reason=str(exc))
            write_run(run_dir, run)
            say(f"{source_id}: unreachable, falling back to the bundled sample")
            fetch(run_dir, settings)
        if read_run(run_dir)["outcome"] == NOT_MODIFIED:
            say(f"{source_id}: {read_run(run_dir)['note']}")
            return summary_of(run_dir)
        _run_stages(run_dir, settings, say, (s for s in stages.REPLAYED if not (until_store and s.writes_store)))
    except TransiscopeError:
        pass  # recorded in run.json and the metadata graph by the stage wrapper
    return summary_of(run_dir)


def _run_stages(run_dir: Path, settings: Settings, say: Callable[[str], None], chosen: Iterable[stages.Stage]) -> None:
    source_id = read_run(run_dir)["source"]
    for stage in chosen:
        say(f"{source_id}: {stage.name}")
        stats = stage(run_dir, settings)
        for warning in stats.get("empty_fields", []) if stage.name == "normalise" else ():
            say(f"{source_id}: warning: {warning['message']}")  # a mapped column no record has
        if stage.name == "geocode":
            say(f"{source_id}: geocode: {geocode_line(stats)}")
            for message in stats["messages"]:
                say(f"{source_id}: geocode: {message}")


@dataclass(frozen=True)
class SourceJob:
    """One source for :func:`run_sources`: what :func:`run_source` takes, in a form that crosses processes
    (the fallback is a URL already served, not a function)."""

    source_id: str
    url: str | None = None
    mode: str = "live"
    fallback_url: str | None = None
    force: bool = False


def _prepare(job: SourceJob, settings: Settings, progress: Callable[[str], None] | None) -> RunSummary:
    fallback = job.fallback_url
    return run_source(
        job.source_id,
        settings=settings,
        url=job.url,
        mode=job.mode,
        fallback_url=(lambda: fallback) if fallback else None,
        progress=progress,
        force=job.force,
        until_store=True,
    )


def run_sources(
    jobs: list[SourceJob],
    *,
    settings: Settings,
    workers: int,
    progress: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Run several sources, the stages before the load in ``workers`` processes at once, the loads one at a
    time in this process as each source gets there (the embedded store takes one writer).

    Why processes: the stages are CPU-bound Python (mapping, validation, shapes) and a source's stages are
    independent of the others'; on two cores two sources run in about the time of the longer one. With one
    worker, everything runs in this process, source after source. Summaries come in the order of ``jobs``.
    """
    say = progress or (lambda _message: None)
    if workers <= 1 or len(jobs) <= 1:
        return [_finish(_prepare(job, settings, progress), settings, say) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads and a store
    summaries: dict[int, RunSummary] = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {pool.submit(_prepare, job, settings, progress): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                prepared = future.result()
            except Exception as exc:  # a worker that died (killed, out of memory): the run must say so
                job = jobs[index]
                say(f"{job.source_id}: its worker process failed: {type(exc).__name__}: {exc}")
                prepared = _lost_worker(job, settings, exc)
            summaries[index] = _finish(prepared, settings, say)
    return [summaries[index] for index in range(len(jobs))]


def _finish(prepared: RunSummary, settings: Settings, say: Callable[[str], None]) -> RunSummary:
    """The stages left to a prepared run (the load): the run's outcome is known when it is not ``running``."""
    if prepared.outcome != "running":
        return prepared
    run_dir = Path(prepared.run_dir)
    with contextlib.suppress(TransiscopeError):  # recorded in run.json and the metadata graph by the stage wrapper
        _run_stages(run_dir, settings, say, (s for s in stages.REPLAYED if s.writes_store))
    return summary_of(run_dir)


def _lost_worker(job: SourceJob, settings: Settings, exc: BaseException) -> RunSummary:
    """A run whose worker process died: recorded as failed at the stage it was in, with the reason."""
    from transiscope.runs import recent_runs

    error = TransiscopeError(f"the worker process running this source died: {type(exc).__name__}: {exc}")
    for run_dir, run in recent_runs(settings, job.source_id, newest=1):
        if run.get("outcome") == "running":
            stage = next((s.name for s in stages.REPLAYED if s.name not in run["stages"]), stages.NAMES[-1])
            record_failure(context_of(run_dir, settings), stage, error)
            return summary_of(run_dir)
    return RunSummary(job.source_id, "", "", job.mode, "failed", {}, 0.0, str(error))
