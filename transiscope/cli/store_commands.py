"""Commands over the store and what is built from it: ``query``, ``link``, ``export``, ``serve``, ``gaps``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from transiscope.cli.output import progress, table
from transiscope.core import vocab
from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.serve.sparql import user_position, with_prefixes
from transiscope.settings import Settings

if TYPE_CHECKING:
    from transiscope.store.base import TripleStore


def open_read_only(settings: Settings) -> TripleStore:
    """The store, opened for reading only: a command that reads never blocks a run that writes."""
    from transiscope.store.embedded import open_store

    return open_store(settings, read_only=True)


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
    with open_read_only(settings) as store:
        try:
            result = store.query(with_prefixes(sparql))
        except TransiscopeError as exc:
            raise type(exc)(user_position(str(exc))) from None
        if isinstance(result, ox.QueryBoolean):
            print("true" if bool(result) else "false")
            return 0
        if isinstance(result, ox.QueryTriples):
            rdf_format = ox.RdfFormat.TURTLE if args.format == "table" else ox.RdfFormat.N_TRIPLES
            sys.stdout.write((result.serialize(format=rdf_format) or b"").decode("utf-8"))
            return 0
        if args.format in ("json", "csv", "tsv"):
            fmt = {
                "json": ox.QueryResultsFormat.JSON,
                "csv": ox.QueryResultsFormat.CSV,
                "tsv": ox.QueryResultsFormat.TSV,
            }[args.format]
            sys.stdout.write((result.serialize(format=fmt) or b"").decode("utf-8"))
            if args.format == "json":
                sys.stdout.write("\n")
            return 0
        names = [v.value for v in result.variables]
        rows = [[_compact(solution[name]) for name in names] for solution in result]
    print(table(names, rows))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)
    return 0


# -- link -----------------------------------------------------------------------------------------
def cmd_link(args: argparse.Namespace, settings: Settings) -> int:
    from transiscope.jobs import run_link

    decide = [("confirmed", *pair) for pair in args.confirm or ()] + [("rejected", *pair) for pair in args.reject or ()]
    summary = run_link(settings, progress=progress, decide=decide)
    print(
        table(
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
    summary = export_all(settings, out_dir=args.out, split=split, gzip_copies=not args.no_gzip, progress=progress)
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

    defaults = settings.serve
    host = args.host if args.host is not None else defaults.host
    port = args.port if args.port is not None else defaults.port
    max_mb = args.max_mb if args.max_mb is not None else defaults.max_mb
    serve = ServeSettings(
        host=host,
        port=port,
        timeout=args.timeout if args.timeout is not None else defaults.timeout,
        max_bytes=int(max_mb * 1024 * 1024),
        workers=args.workers,
        update_token=defaults.update_token,
        map_tiles=defaults.map_tiles,
        map_assets=defaults.map_assets,
        allowed_services=frozenset(defaults.service_allow),
        max_depth=defaults.max_depth,
        worker_mb=defaults.worker_mb,
        verifier_allow=frozenset(defaults.verifier_allow),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"transiscope: warning: listening on {host}, not only on this machine", file=sys.stderr)
    try:
        print(
            f"SPARQL endpoint: http://{host}:{port}/sparql   query page: http://{host}:{port}/"
            f"   (store: {settings.store.kind}, timeout {serve.timeout:g} s, max {max_mb:g} MB per result, "
            f"updates {'with token' if serve.update_token else 'disabled'})",
            file=sys.stderr,
            flush=True,
        )
        print(
            f"map: http://{host}:{port}/map/   exports: http://{host}:{port}/exports/ "
            f"(from {settings.exports_dir}; `transiscope export` writes them)",
            file=sys.stderr,
            flush=True,
        )
        serve_forever(settings, serve)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
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
    summary = run_gaps(settings, gap, out_dir=args.out, write_store=not args.no_store, progress=progress)
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
        print(table(("concept", "initiatives", "median km", *shares), rows, numeric=set(range(1, 3 + len(shares)))))
    print("distances are straight lines (à vol d'oiseau); not listed does not mean absent (non recensé)")
    for graph, count in summary.triples.items():
        print(f"graph {graph}: {count:,} triples")
    print(f"files: {Path(summary.files[0]).parent}", file=sys.stderr)
    return 0
