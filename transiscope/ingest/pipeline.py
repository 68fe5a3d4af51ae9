"""Every stage of one source in this process (the CLI's path; Airflow runs them as tasks), and the summary
of a run: the stages are those of :mod:`transiscope.ingest.stages`, in their order, each over the run
directory :func:`transiscope.ingest.run_context.start_run` creates.
"""

from __future__ import annotations

from collections.abc import Callable
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
) -> RunSummary:
    """Run every stage of one source in this process (the CLI's path; Airflow runs them as tasks).

    ``fallback_url``: when the source is unreachable, fetch from this URL instead (the bundled
    sample served on 127.0.0.1) and say so in the summary and the provenance.
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
        for stage in stages.REPLAYED:
            say(f"{source_id}: {stage.name}")
            stats = stage(run_dir, settings)
            if stage.name == "geocode":
                say(f"{source_id}: geocode: {geocode_line(stats)}")
                for message in stats["messages"]:
                    say(f"{source_id}: geocode: {message}")
    except TransiscopeError:
        pass  # recorded in run.json and the metadata graph by the stage wrapper
    return summary_of(run_dir)
