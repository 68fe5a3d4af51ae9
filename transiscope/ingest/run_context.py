"""A run directory and what every stage does around its own work: the run's context, the stage wrapper
(timing, state in ``run.json``, failures recorded where operators look), the quarantine entries.

``start_run`` creates ``runs/<source>/<run id>/run.json``; each stage reads what the previous one wrote
there and adds its own file, so a stage can run in another process (an Airflow task) and a run can be
replayed and audited from its files. A stage that fails records the failure in ``run.json`` and in the
store's metadata graph (or, when the store cannot be written, in the run folder until the next writer
writes it: :mod:`transiscope.ingest.run_records`), and the live graph of the source is left as it was.
A stage that starts again after a failure (an Airflow retry, a cleared task) takes the failure off
``run.json``: the run's outcome is the one its end records.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transiscope.core.errors import BatchRejected, TransiscopeError
from transiscope.core.files import append_jsonl, read_jsonl
from transiscope.ingest.formats import connector
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.run_records import record_run
from transiscope.registry.sources import Registry, Source
from transiscope.runs import clear_pending, iter_quarantine, new_run_id, now, read_run, write_run
from transiscope.settings import Settings

#: outcome of a run whose conditional request was answered 304: nothing to load, the live graph kept
NOT_MODIFIED = "not-modified"
#: the outcomes a stage's failure leaves in run.json (see record_failure)
FAILED_OUTCOMES = ("failed", "rejected")
#: the fields of run.json that say how a run failed: cleared when a stage starts again
FAILURE_FIELDS = ("failed_stage", "error", "error_kind")


@dataclass(frozen=True)
class Context:
    settings: Settings
    registry: Registry
    source: Source
    run_dir: Path
    run: dict[str, Any]


def context_of(run_dir: Path | str, settings: Settings | None = None) -> Context:
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    settings = settings or Settings.from_env()
    registry = load_registry(Path(run["registry"]))
    return Context(settings, registry, registry.get(run["source"]), run_dir, run)


def start_run(
    source_id: str,
    *,
    settings: Settings | None = None,
    runner: str = "cli",
    airflow: dict[str, str] | None = None,
    url: str | None = None,
    mode: str = "live",
    force: bool = False,
) -> Path:
    """Create the run directory of a new run of ``source_id`` and return it.

    ``force``: go through every stage even when the payload and the rules are the same as for the live
    graph's run (see :mod:`transiscope.ingest.fingerprint`); a conditional request answered 304 still ends the run.
    """
    settings = settings or Settings.from_env()
    registry = load_registry(settings.registry_path)
    source = registry.get(source_id)
    run_id = new_run_id()
    run_dir = settings.runs_dir / source.id / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    run = {
        "source": source.id,
        "run_id": run_id,
        "registry": str(registry.path),
        "runner": runner,
        "airflow": airflow or {},
        "mode": mode,
        "url": url or source.url,
        "force": force,
        "started": now(),
        "ended": None,
        "outcome": "running",
        "stages": {},
        "counts": {},
    }
    write_run(run_dir, run)
    return run_dir


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None


def release_memory() -> None:
    """Give the heap freed by a stage back to the operating system.

    Why: ``transiscope run`` takes every source through every stage in one process. A stage's working set
    (a parsed payload, a DataFrame, the in-memory store of the shapes stage) is freed when it ends, but
    glibc keeps the freed pages, so the process's footprint grew to the sum of the largest stages of every
    source. Measured on 45,000 + 31,000 initiatives: peak 1.9 GB without, 1.3 GB with, for a few ms each (no
    ``gc.collect()``: with Great Expectations loaded it costs 0.4 s, and the stages leave no cycles worth it).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def stage(name: str) -> Callable[[Callable[[Context], dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Wrap a stage: timing, state in run.json, and failures recorded where operators look."""

    def decorate(func: Callable[[Context], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(func)
        def wrapper(
            run_dir: Path | str, settings: Settings | None = None, *, record_failures: bool = True, **kwargs: Any
        ) -> dict[str, Any]:
            ctx = context_of(run_dir, settings)
            if ctx.run.get("outcome") in FAILED_OUTCOMES:
                ctx = _started_again(ctx)
            if name != "extract" and ctx.run.get("outcome") == NOT_MODIFIED:
                return {"run_dir": str(ctx.run_dir), "stage": name, "skipped": "source not modified"}
            started = time.monotonic()
            try:
                stats = func(ctx, **kwargs)
            except Exception as exc:  # bugs too are recorded; their traceback still goes through
                if record_failures:
                    record_failure(ctx, name, exc)
                raise
            finally:
                release_memory()
            run = read_run(ctx.run_dir)
            run["stages"][name] = {"seconds": round(time.monotonic() - started, 3), **stats}
            write_run(ctx.run_dir, run)
            return {"run_dir": str(ctx.run_dir), "stage": name, **stats}

        return wrapper

    return decorate


def _started_again(ctx: Context) -> Context:
    """A stage starts again in a run that failed (an Airflow retry, a cleared task): the run is running
    again, so run.json loses the failure's outcome, end time, stage and error.

    Why: the retry's success left ``outcome: success`` next to the failed try's ``failed_stage`` and error,
    and the reports and the DAG's summary showed a failure for a run that loaded. The store's record of
    the failure is replaced by the one the run's end writes (load or failure), and a record still pending
    for the failed try is dropped (the marker first, so no writer records a run that is running again).
    """
    clear_pending(ctx.run_dir)
    run = read_run(ctx.run_dir)
    for key in FAILURE_FIELDS:
        run.pop(key, None)
    run.update(outcome="running", ended=None)
    write_run(ctx.run_dir, run)
    return dataclasses.replace(ctx, run=run)


def _quarantine_rejected_batch(ctx: Context, exc: BatchRejected) -> dict[str, int]:
    """Nothing lost: every record of a rejected batch not already quarantined is, with the batch reason."""
    try:
        elements = raw_elements(ctx)
    except TransiscopeError:
        return {}
    path = ctx.run_dir / "quarantine.jsonl"
    already = {entry["record_index"] for entry in read_jsonl(path)}
    rest = [
        quarantine_entry(
            ctx,
            index,
            element.get("id") if isinstance(element, dict) else None,
            "batch",
            [f"the whole batch was rejected: {exc}"],
            element,
            element.get("name") if isinstance(element, dict) else None,
        )
        for index, element in enumerate(elements)
        if index not in already
    ]
    append_jsonl(path, rest)
    (ctx.run_dir / "valid.jsonl").unlink(missing_ok=True)
    return {"fetched": len(elements), "loaded": 0, "quarantined": len(already) + len(rest)}


def record_failure(ctx: Context, stage_name: str, exc: BaseException) -> None:
    counts = _quarantine_rejected_batch(ctx, exc) if isinstance(exc, BatchRejected) else {}
    run = read_run(ctx.run_dir)
    if counts:
        run["counts"] = counts
    elif "normalise" in run["stages"]:
        # Not a verdict on the data (store busy, bug...): the records the run did not get to load are
        # counted as such, with the run's error as their reason, so the counts still add up.
        fetched = run["stages"]["normalise"]["fetched"]
        quarantined = sum(1 for _ in iter_quarantine(ctx.run_dir))
        run["counts"] = {
            "fetched": fetched,
            "loaded": 0,
            "quarantined": quarantined,
            "not_loaded": fetched - quarantined,
        }
    run.update(
        outcome="rejected" if isinstance(exc, BatchRejected) else "failed",
        ended=now(),
        failed_stage=stage_name,
        error=str(exc),
        error_kind=getattr(exc, "kind", type(exc).__name__),
    )
    write_run(ctx.run_dir, run)
    # The failure goes to the metadata graph too; if the store is busy, the next writer writes it there.
    record_run(ctx.settings, ctx.run_dir, run)


def quarantine_entry(
    ctx: Context, index: int, source_id: Any, stage_name: str, reasons: list[str], raw: Any, name: Any = None
) -> dict[str, Any]:
    return {
        "source": ctx.source.id,
        "run_id": ctx.run["run_id"],
        "record_index": index,
        "source_id": None if source_id is None else str(source_id),
        "name": name,
        "stage": stage_name,
        "reasons": reasons,
        "raw": raw,
    }


def raw_elements(ctx: Context) -> list[Any]:
    return connector(ctx.source.format).parse((ctx.run_dir / "raw.json").read_bytes(), ctx.source)
