"""Commands that run the bus: ``run``, ``downstream``, ``report``, ``replay``, ``airflow-pools``.

They call :mod:`transiscope.jobs`, the same entry points the DAGs call, in-process and without Airflow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from transiscope.cli.output import progress, table
from transiscope.downstream.steps import parse_steps
from transiscope.ingest.mappings import load_registry
from transiscope.reports.quality import write_reports
from transiscope.settings import Settings


# -- run -----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.ingest.pipeline import SourceJob
    from transiscope.ingest.samples import SampleServer
    from transiscope.jobs import run_sources
    from transiscope.store.embedded import compaction_deferred

    registry = load_registry(settings.registry_path)
    sources = registry.select(args.sources)
    steps = parse_steps(args.downstream)  # a typo fails before any source is fetched
    with contextlib.ExitStack() as stack:
        stack.enter_context(compaction_deferred(settings))  # one store compaction after the last load
        server: SampleServer | None = None

        def samples() -> SampleServer:
            nonlocal server
            if server is None:
                server = stack.enter_context(SampleServer(registry))
            return server

        jobs: list[SourceJob] = []
        for source in sources:
            if args.sample:
                jobs.append(SourceJob(source.id, url=samples().url_for(source), mode="sample", force=args.force))
            else:
                fallback = samples().url_for(source) if args.offline_fallback and source.sample_path else None
                jobs.append(SourceJob(source.id, fallback_url=fallback, force=args.force))
        workers = args.jobs if args.jobs is not None else os.cpu_count() or 1
        summaries = run_sources(jobs, settings=settings, workers=workers, progress=progress)
    headers = ("source", "mode", "outcome", "fetched", "loaded", "quarantined", "warnings", "triples", "seconds")
    rows = [
        (
            s.source,
            s.mode,
            s.outcome,
            s.counts.get("fetched"),
            s.counts.get("loaded"),
            s.counts.get("quarantined"),
            s.counts.get("warnings"),
            s.counts.get("triples"),
            f"{s.seconds:.2f}",
        )
        for s in summaries
    ]
    print(table(headers, rows, numeric={3, 4, 5, 6, 7, 8}))
    from transiscope.ingest.pipeline import geocode_line

    for s in summaries:
        if s.geocode and s.geocode.get("without_point"):
            print(f"{s.source}: geocode: {geocode_line(s.geocode)}", file=sys.stderr)
    failed = [s for s in summaries if s.outcome not in ("success", "not-modified")]
    for s in summaries:
        if s.outcome == "not-modified":
            print(f"{s.source}: {s.note or 'not modified since its last load: nothing to load'}", file=sys.stderr)
    for s in failed:
        print(f"{s.source}: {s.outcome}: {s.error}", file=sys.stderr)
    reports = settings.home / "reports"  # refreshed by every run, failed or not
    store = settings.store_path if settings.store.kind == "embedded" else settings.store.query_url
    print(f"store: {store}   runs: {settings.runs_dir}   quality reports: {reports / 'index.en.html'}", file=sys.stderr)
    downstream_ok = _run_downstream(settings, steps) if steps else True
    return 1 if failed or not downstream_ok else 0


def _run_downstream(settings: Settings, steps: tuple[str, ...]) -> bool:
    """Run the steps after the loads; print one line each; False when one failed."""
    from transiscope.jobs import run_downstream

    results = run_downstream(settings, steps, progress=progress)
    for result in results:
        stream = sys.stdout if result.outcome == "success" else sys.stderr
        print(f"{result.step}: {result.outcome}: {result.line} ({result.seconds:.1f} s)", file=stream)
    return all(result.outcome == "success" for result in results)


def cmd_downstream(args: argparse.Namespace, settings: Settings) -> int:
    return 0 if _run_downstream(settings, parse_steps(args.steps)) else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(settings.registry_path)
    ids = [s.id for s in registry.select(args.sources)]
    out = write_reports(settings, registry, ids, args.out)
    for source_id in ids:
        report = json.loads((out / f"{source_id}.json").read_text(encoding="utf-8"))
        score = "not read yet" if report.get("score") is None else f"score {report['score']}"
        print(f"{source_id}: {score}  {out / f'{source_id}.fr.html'}  {out / f'{source_id}.en.html'}")
    print(f"index: {out / 'index.fr.html'}  {out / 'index.en.html'}")
    return 0


# -- replay ---------------------------------------------------------------------------------------
def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    """Remove old run folders; say, per source, what went and what was held and why."""
    from transiscope.jobs import prune

    results = prune(settings, args.sources, args.keep, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    rows = [(r.source, r.kept, len(r.removed), ", ".join(f"{k} ({v})" for k, v in r.held.items())) for r in results]
    print(table(("source", "kept", verb, "held beyond --keep"), rows, numeric={1, 2}))
    total = sum(len(r.removed) for r in results)
    print(f"{verb} {total} run folder(s) in {settings.runs_dir}", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Redo a stored run from its raw.json (the run directory, or SOURCE/RUN_ID under the runs folder)."""
    from transiscope.jobs import replay_run

    run_dir = args.run_dir if args.run_dir.exists() else settings.runs_dir / args.run_dir
    summary = replay_run(run_dir, settings=settings, load_store=not args.no_load, progress=progress)
    counts = summary.counts
    figures = ", ".join(
        f"{name} {counts.get(name, '-')}" for name in ("fetched", "loaded", "quarantined", "warnings", "triples")
    )
    print(
        f"{summary.source}: run {summary.run_id} ({summary.outcome}; {figures}; {summary.seconds:.2f} s) "
        f"in {summary.run_dir}"
    )
    if summary.outcome == "not-loaded":
        print(
            f"{summary.source}: not loaded (--no-load): {counts.get('not_loaded')} record(s) would have been; "
            "the store was not touched",
            file=sys.stderr,
        )
        return 0
    if summary.outcome != "success":
        print(f"{summary.source}: {summary.outcome}: {summary.error}", file=sys.stderr)
        return 1
    return 0


# -- airflow-pools --------------------------------------------------------------------------------
def cmd_airflow_pools(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.operations import airflow_pools

    pools = airflow_pools(load_registry(settings.registry_path), settings)
    text = json.dumps(pools, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(
            f"{len(pools)} pools written to {args.out}; create them with: airflow pools import {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0
