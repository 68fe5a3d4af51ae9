"""The ``transiscope`` command: runs the same code as the DAGs, in-process, without Airflow.

Errors caused by input (config, sources, queries) print one line and exit with status 2; a run
where some source failed prints the summary, then one line per failure, and exits with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from transiscope import __version__
from transiscope.core import vocab
from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.downstream.steps import STEPS as DOWNSTREAM_STEPS
from transiscope.downstream.steps import parse_steps
from transiscope.ingest.mappings import load_registry
from transiscope.reports.quality import write_reports
from transiscope.serve.sparql import user_position, with_prefixes
from transiscope.settings import Settings


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# -- run -----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.ingest.samples import SampleServer
    from transiscope.jobs import run_source
    from transiscope.store.embedded import compaction_deferred

    registry = load_registry(settings.registry_path)
    sources = registry.select(args.sources)
    steps = parse_steps(args.downstream)  # a typo fails before any source is fetched
    summaries = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(compaction_deferred(settings))  # one store compaction after the last load
        server: SampleServer | None = None

        def samples() -> SampleServer:
            nonlocal server
            if server is None:
                server = stack.enter_context(SampleServer(registry))
            return server

        for source in sources:
            if args.sample:
                summaries.append(
                    run_source(
                        source.id,
                        settings=settings,
                        url=samples().url_for(source),
                        mode="sample",
                        progress=_progress,
                        force=args.force,
                    )
                )
            else:
                fallback = None
                if args.offline_fallback and source.sample_path:

                    def fallback(source=source) -> str:
                        return samples().url_for(source)

                summaries.append(
                    run_source(
                        source.id, settings=settings, fallback_url=fallback, progress=_progress, force=args.force
                    )
                )
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
    print(_table(headers, rows, numeric={3, 4, 5, 6, 7, 8}))
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

    results = run_downstream(settings, steps, progress=_progress)
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


# -- sources, status -----------------------------------------------------------------------------
def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    if args.check:
        from transiscope.ingest.mappings import check_registry

        problems = check_registry(
            settings.registry_path, settings.expectations_dir, settings.ontology_dir / "taxonomy.ttl"
        )
        for problem in problems:
            print(problem)
        print(
            f"{len(problems)} problem(s) in {settings.registry_path}"
            if problems
            else f"{settings.registry_path}: every source, mapping, crosswalk, sample and suite is valid"
        )
        return 1 if problems else 0
    registry = load_registry(settings.registry_path)
    rows = [(s.id, s.name, s.format, s.schedule or "-", s.licence, s.url) for s in registry.sources]
    print(_table(("id", "name", "format", "schedule", "licence", "url"), rows))
    return 0


def _open_read_only(settings: Settings):
    from transiscope.store.embedded import open_store

    return open_store(settings, read_only=True)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(settings.registry_path)
    base = settings.base_iri
    query = f"""
        SELECT ?run ?id ?started ?ended ?outcome ?mode ?fetched ?loaded ?quarantined ?error WHERE {{
          GRAPH <{vocab.metadata_graph(base)}> {{
            ?run <{vocab.TS}ofSource> <SOURCE> ; <{vocab.DCT}identifier> ?id ;
                 <{vocab.PROV}startedAtTime> ?started ; <{vocab.TS}outcome> ?outcome ; <{vocab.TS}mode> ?mode .
            OPTIONAL {{ ?run <{vocab.PROV}endedAtTime> ?ended }}
            OPTIONAL {{ ?run <{vocab.TS}fetched> ?fetched }}
            OPTIONAL {{ ?run <{vocab.TS}loaded> ?loaded }}
            OPTIONAL {{ ?run <{vocab.TS}quarantined> ?quarantined }}
            OPTIONAL {{ ?run <{vocab.TS}errorMessage> ?error }}
          }} }} ORDER BY DESC(?started) DESC(?id) LIMIT 1"""
    rows = []
    errors = []
    with _open_read_only(settings) as store:
        for source in registry.sources:
            found = store.select(query.replace("SOURCE", vocab.source_iri(base, source.id)))
            if not found:
                rows.append((source.id, "never run", "", "", "", "", "", ""))
                continue
            r = {k: v.value for k, v in found[0].items()}
            rows.append(
                (
                    source.id,
                    r["outcome"],
                    r["mode"],
                    r.get("ended") or r["started"],
                    r.get("fetched"),
                    r.get("loaded"),
                    r.get("quarantined"),
                    r["id"],
                )
            )
            if r.get("error"):
                errors.append(f"{source.id}: {r['error']}")
    print(
        _table(
            ("source", "last outcome", "mode", "at", "fetched", "loaded", "quarantined", "run"), rows, numeric={4, 5, 6}
        )
    )
    for line in errors:
        print(line)
    return 0


def cmd_quarantine(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.runs import iter_quarantine, latest_processed_run, read_run

    registry = load_registry(settings.registry_path)
    entries: list[dict[str, Any]] = []
    runs: list[tuple[str, str, str]] = []
    for source in registry.select(args.sources):
        run_dir = latest_processed_run(settings, source.id)
        if run_dir is None:
            runs.append((source.id, "no run has read this source yet", ""))
            continue
        run = read_run(run_dir)
        found = list(iter_quarantine(run_dir))
        runs.append(
            (
                source.id,
                f"{len(found)} quarantined in run {run['run_id']} ({run['outcome']})",
                str(run_dir / "quarantine.jsonl"),
            )
        )
        entries.extend(found)
    if args.format == "json":
        print(json.dumps(entries, ensure_ascii=False, indent=2))
        return 0
    rows = [
        (
            e["source"],
            e["source_id"] if e["source_id"] is not None else f"#{e['record_index']}",
            (e.get("name") or "")[:40],
            e["stage"],
            "; ".join(e["reasons"]),
        )
        for e in entries
    ]
    if rows:
        print(_table(("source", "id", "name", "stage", "reasons"), rows))
    for source_id, line, path in runs:
        print(f"{source_id}: {line}" + (f"  ({path})" if path else ""), file=sys.stderr)
    return 0


# -- query ----------------------------------------------------------------------------------------
def _compact(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        for prefix, namespace in vocab.PREFIXES.items():
            if term.value.startswith(namespace) and "/" not in term.value[len(namespace) :]:
                return f"{prefix}:{term.value[len(namespace) :]}"
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    sparql = args.sparql
    if sparql == "-":
        sparql = sys.stdin.read()
    elif sparql.startswith("@"):
        try:
            sparql = Path(sparql[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the query file {sparql[1:]}: {exc.strerror}") from None
    with _open_read_only(settings) as store:
        try:
            result = store.query(with_prefixes(sparql))
        except TransiscopeError as exc:
            raise type(exc)(user_position(str(exc))) from None
        if isinstance(result, ox.QueryBoolean):
            print("true" if bool(result) else "false")
            return 0
        if isinstance(result, ox.QueryTriples):
            fmt = ox.RdfFormat.TURTLE if args.format == "table" else ox.RdfFormat.N_TRIPLES
            sys.stdout.write(result.serialize(format=fmt).decode("utf-8"))
            return 0
        if args.format in ("json", "csv", "tsv"):
            fmt = {
                "json": ox.QueryResultsFormat.JSON,
                "csv": ox.QueryResultsFormat.CSV,
                "tsv": ox.QueryResultsFormat.TSV,
            }[args.format]
            sys.stdout.write(result.serialize(format=fmt).decode("utf-8"))
            if args.format == "json":
                sys.stdout.write("\n")
            return 0
        names = [v.value for v in result.variables]
        rows = [[_compact(solution[name]) for name in names] for solution in result]
    print(_table(names, rows))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)
    return 0


# -- link -----------------------------------------------------------------------------------------
def cmd_link(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.jobs import run_link

    decide = [("confirmed", *pair) for pair in args.confirm or ()] + [("rejected", *pair) for pair in args.reject or ()]
    summary = run_link(settings, progress=_progress, decide=decide)
    print(
        _table(
            ("records", "pairs compared", "sameAs", "candidates", "rejected", "clusters", "triples", "seconds"),
            [
                (
                    summary.records,
                    summary.compared_pairs,
                    summary.same_as,
                    summary.candidates,
                    summary.rejected,
                    summary.clusters,
                    summary.triples,
                    f"{sum(summary.seconds.values()):.2f}",
                )
            ],
            numeric=set(range(8)),
        )
    )
    if summary.stale_decisions:
        print(
            f"{summary.stale_decisions} decision(s) name a record no longer in the store: kept in "
            f"{settings.link.decisions_path}",
            file=sys.stderr,
        )
    if args.candidates_csv:
        import shutil

        shutil.copyfile(summary.out_dir / "candidates.csv", args.candidates_csv)
    print(
        f"review list: {args.candidates_csv or summary.out_dir / 'candidates.csv'}   "
        f"decisions: {settings.link.decisions_path}",
        file=sys.stderr,
    )
    return 0


# -- export ---------------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.downstream.exports import export_all

    split = [part.strip() for value in args.split or () for part in value.split(",") if part.strip()]
    summary = export_all(settings, out_dir=args.out, split=split, gzip_copies=not args.no_gzip, progress=_progress)
    state = "unchanged since the last export (same bytes)" if summary.unchanged else "new data"
    print(
        f"{summary.initiatives:,} initiatives ({summary.with_point:,} with a point), {summary.events:,} events: "
        f"{summary.files} files, {summary.bytes / 1e6:.1f} MB in {summary.out_dir} ({state}; export date "
        f"{summary.generated})"
    )
    print("seconds: " + ", ".join(f"{name} {value:.2f}" for name, value in summary.seconds.items()))
    for path in summary.removed:
        print(f"removed (no longer in the data): {path}", file=sys.stderr)
    return 0


# -- serve ----------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from transiscope.serve.endpoint import ServeSettings, serve_forever

    serve = ServeSettings(
        host=args.host,
        port=args.port,
        timeout=args.timeout,
        max_bytes=args.max_mb * 1024 * 1024,
        workers=args.workers,
        update_token=os.environ.get("TRANSISCOPE_SERVE_UPDATE_TOKEN", ""),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"transiscope: warning: listening on {args.host}, not only on this machine", file=sys.stderr)
    try:
        print(
            f"SPARQL endpoint: http://{args.host}:{args.port}/sparql   query page: http://{args.host}:{args.port}/"
            f"   (store: {settings.store.kind}, timeout {serve.timeout:g} s, max {args.max_mb:g} MB per result, "
            f"updates {'with token' if serve.update_token else 'disabled'})",
            file=sys.stderr,
            flush=True,
        )
        print(
            f"map: http://{args.host}:{args.port}/map/   exports: http://{args.host}:{args.port}/exports/ "
            f"(from {settings.exports_dir}; `transiscope export` writes them)",
            file=sys.stderr,
            flush=True,
        )
        serve_forever(settings, serve)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


# -- gaps -----------------------------------------------------------------------------------------
def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from transiscope.downstream.gaps.step import run_gaps
    from transiscope.settings import parse_levels, parse_thresholds

    gap = settings.gaps
    changes: dict[str, Any] = {}
    if args.thresholds:
        changes["thresholds_km"] = parse_thresholds(args.thresholds)
    for name in ("white_zone_km", "catchment_km", "min_population"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.cube_levels:
        changes["cube_levels"] = parse_levels(args.cube_levels)
    if args.file_levels:
        changes["file_levels"] = parse_levels(args.file_levels)
    gap = replace(gap, **changes)
    summary = run_gaps(settings, gap, out_dir=args.out, write_store=not args.no_store, progress=_progress)
    placed = ", ".join(f"{n:,} by {how}" for how, n in sorted(summary.placement.items()))
    print(f"{summary.items:,} initiatives and events placed: {placed}")
    print(
        f"{summary.disagreements:,} points lie in another commune than the one declared "
        "(see gaps-disagreements.csv and the quality reports)"
    )
    rows = [
        (
            concept,
            v["count"],
            v["median_km"],
            *(f"{100 * v[k]:.1f} %" if v[k] is not None else "-" for k in v if k.startswith("share_beyond_")),
        )
        for concept, v in summary.national.items()
    ]
    shares = [f"beyond {t:g} km" for t in gap.thresholds_km]
    if rows:
        print(_table(("concept", "initiatives", "median km", *shares), rows, numeric=set(range(1, 3 + len(shares)))))
    print("distances are straight lines (à vol d'oiseau); not listed does not mean absent (non recensé)")
    for graph, count in summary.triples.items():
        print(f"graph {graph}: {count:,} triples")
    print(f"files: {Path(summary.files[0]).parent}", file=sys.stderr)
    return 0


# -- replay ---------------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Redo a stored run from its raw.json (the run directory, or SOURCE/RUN_ID under the runs folder)."""
    from transiscope.jobs import replay_run

    run_dir = args.run_dir if args.run_dir.exists() else settings.runs_dir / args.run_dir
    summary = replay_run(run_dir, settings=settings, load_store=not args.no_load, progress=_progress)
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


# -- check-source, guide -------------------------------------------------------------------------
def cmd_check_source(args: argparse.Namespace, settings: Settings) -> int:
    """Propose a mapping for a source and say what the bus would load of it; never touches the store."""
    from transiscope.reports.check_source import check_source, format_report

    result = check_source(
        args.target, args.format, args.out, name=args.name, licence=args.licence, settings=settings, progress=_progress
    )
    print(format_report(result))
    return 1 if result.verdict or result.counts["loaded"] == 0 else 0


def cmd_guide(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate (``--write``) or check the generated parts of the source maintainers' guide."""
    from transiscope.reports.guide import run_guide

    return run_guide(write=args.write)


# -- entry point ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transiscope",
        description="Transiscope semantic bus: load partner sources into the triplestore and query it.",
    )
    parser.add_argument("--version", action="version", version=f"transiscope {__version__}")
    parser.add_argument("--home", type=Path, help="data directory (store, runs); default $TRANSISCOPE_HOME or ./var")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the pipeline of some or all sources into the store")
    run.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids (default: all)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--sample",
        action="store_true",
        help="fetch the bundled sample payloads (served on 127.0.0.1) instead of the real URLs",
    )
    mode.add_argument(
        "--offline-fallback",
        action="store_true",
        help="fetch the real URLs; a source that cannot be reached falls back to its sample",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run every stage even when a source's payload, mapping and rules are those of its live "
        "graph (by default such a run stops after the extract: nothing would change)",
    )
    run.add_argument(
        "--downstream",
        default=",".join(DOWNSTREAM_STEPS),
        metavar="STEPS",
        help=f"steps after the loads, comma-separated (default: {','.join(DOWNSTREAM_STEPS)})",
    )
    run.add_argument(
        "--no-downstream",
        dest="downstream",
        action="store_const",
        const="",
        help="load the sources only: no link, gaps or export",
    )
    run.set_defaults(func=cmd_run)

    downstream = sub.add_parser("downstream", help="link, gaps and export over the store, as after a run")
    downstream.add_argument(
        "steps",
        nargs="?",
        default=",".join(DOWNSTREAM_STEPS),
        metavar="STEPS",
        help=f"comma-separated (default: {','.join(DOWNSTREAM_STEPS)})",
    )
    downstream.set_defaults(func=cmd_downstream)

    sources = sub.add_parser("sources", help="list the configured sources")
    sources.add_argument(
        "--check",
        action="store_true",
        help="check the registry, every mapping, crosswalk, sample and suite; report all problems",
    )
    sources.set_defaults(func=cmd_sources)

    report = sub.add_parser("report", help="write the quality reports (HTML fr/en + JSON) of the sources")
    report.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids (default: all)")
    report.add_argument("--out", type=Path, help="output folder (default: $TRANSISCOPE_HOME/reports)")
    report.set_defaults(func=cmd_report)

    status = sub.add_parser("status", help="the last run of each source")
    status.set_defaults(func=cmd_status)

    quarantine = sub.add_parser("quarantine", help="the records set aside in the last run of each source, with why")
    quarantine.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids (default: all)")
    quarantine.add_argument(
        "--format", choices=("table", "json"), default="table", help="json includes each record as the source sent it"
    )
    quarantine.set_defaults(func=cmd_quarantine)

    query = sub.add_parser("query", help="run a SPARQL query on the store (usual prefixes predeclared)")
    query.add_argument("sparql", help="the query, @FILE to read it from a file, or - for stdin")
    query.add_argument("--format", choices=("table", "json", "csv", "tsv"), default="table")
    query.set_defaults(func=cmd_query)
    export = sub.add_parser("export", help="write the exports (GoGoCarto, GeoJSON, JSON-LD, CSV, iCal) from the store")
    export.add_argument("--out", type=Path, help="output folder (default: $TRANSISCOPE_HOME/exports)")
    export.add_argument(
        "--split",
        action="append",
        metavar="category,departement",
        help="also write one GeoJSON per category and/or per département",
    )
    export.add_argument("--no-gzip", action="store_true", help="do not write the .gz copies")
    export.set_defaults(func=cmd_export)
    serve = sub.add_parser("serve", help="a read-only SPARQL endpoint, query page, exports and map page")
    serve.add_argument(
        "--host",
        default=os.environ.get("TRANSISCOPE_SERVE_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument("--port", type=int, default=int(os.environ.get("TRANSISCOPE_SERVE_PORT", "8890")))
    serve.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("TRANSISCOPE_SERVE_TIMEOUT", "30")),
        help="seconds a query may run (default 30)",
    )
    serve.add_argument(
        "--max-mb",
        type=float,
        default=float(os.environ.get("TRANSISCOPE_SERVE_MAX_MB", "100")),
        help="size cap of one result in MB (default 100)",
    )
    serve.add_argument("--workers", type=int, default=2, help="queries answered at once (default 2)")
    serve.set_defaults(func=cmd_serve)

    link = sub.add_parser("link", help="link the records of different sources (or of one) that describe one initiative")
    link.add_argument(
        "--confirm",
        nargs=2,
        action="append",
        metavar=("A", "B"),
        help="record that A and B (SOURCE/ID or IRI) are the same initiative, then link",
    )
    link.add_argument(
        "--reject",
        nargs=2,
        action="append",
        metavar=("A", "B"),
        help="record that A and B are different initiatives, then link",
    )
    link.add_argument(
        "--candidates-csv", type=Path, metavar="FILE", help="also write the pairs waiting for review to FILE (CSV)"
    )
    link.set_defaults(func=cmd_link)

    gaps = sub.add_parser("gaps", help="territorial gap analysis: territories, inTerritory links, indicators, files")
    gaps.add_argument("--thresholds", metavar="KM,KM", help="distance thresholds in km (default 5,10,20,30)")
    gaps.add_argument("--white-zone-km", type=float, help="no initiative within this distance: zone blanche (10)")
    gaps.add_argument("--catchment-km", type=float, help="2SFCA catchment radius in km (default 20)")
    gaps.add_argument("--min-population", type=int, help="no z-score nor rank under this population (5000)")
    gaps.add_argument(
        "--cube-levels",
        metavar="LEVELS",
        help="levels written as Data Cube observations (default france,region,departement)",
    )
    gaps.add_argument(
        "--file-levels",
        metavar="LEVELS",
        help="levels written as CSV/GeoJSON (default commune,epci,departement,region,france)",
    )
    gaps.add_argument("--out", type=Path, help="folder of the CSV/GeoJSON files (default: <exports>/gaps)")
    gaps.add_argument("--no-store", action="store_true", help="read the store only; write the files, not the graphs")
    gaps.set_defaults(func=cmd_gaps)

    replay = sub.add_parser(
        "replay",
        help="run the stages after the extract again on a copy of a stored run's "
        "raw.json (the stored run is left as it is)",
    )
    replay.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="a run directory (runs/<source>/<run id>), or SOURCE/RUN_ID under the runs folder",
    )
    replay.add_argument(
        "--no-load",
        action="store_true",
        help="stop after the shapes stage: see what the current mapping and checks make of the "
        "payload without touching the store",
    )
    replay.set_defaults(func=cmd_replay)

    check = sub.add_parser(
        "check-source",
        help="for a source's maintainers: propose a mapping for a URL or a file "
        "and say what the bus would load, quarantine and why (no store)",
    )
    check.add_argument("target", metavar="URL_OR_FILE", help="the source's URL (fetched as the bus does) or a file")
    check.add_argument(
        "--format",
        default="auto",
        metavar="FORMAT",
        help="auto (default: from the content), gogocarto, kvm, openagenda, ical, csv, geojson, "
        "json (any JSON API) or murmurations",
    )
    check.add_argument(
        "--out", type=Path, metavar="PATH", help="where to write the proposed mapping (default: ./<name>.mapping.toml)"
    )
    check.add_argument(
        "--name",
        help="the source's id (default: from the file name or the host); a configured "
        "source's id brings its own expectation suite and licence",
    )
    check.add_argument("--licence", metavar="SPDX", help="the licence the data is published under (e.g. ODbL-1.0)")
    check.set_defaults(func=cmd_check_source)

    guide = sub.add_parser(
        "guide",
        help="check that the generated parts of docs/guide-sources.*.md are up to date (--write: regenerate them)",
    )
    guide.add_argument("--write", action="store_true", help="rewrite the generated parts in place")
    guide.set_defaults(func=cmd_guide)

    pools = sub.add_parser("airflow-pools", help="the Airflow pools the DAGs use, as a file for `airflow pools import`")
    pools.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (default: standard output)")
    pools.set_defaults(func=cmd_airflow_pools)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.home:
            os.environ["TRANSISCOPE_HOME"] = str(args.home.resolve())
        settings = Settings.from_env()
        return args.func(args, settings)
    except TransiscopeError as exc:
        print(f"transiscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("transiscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
