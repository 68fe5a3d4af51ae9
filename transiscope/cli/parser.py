"""The command line: every sub-command, its options and the function that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from transiscope import __version__
from transiscope.cli.inspect_commands import (
    cmd_check_source,
    cmd_guide,
    cmd_quarantine,
    cmd_sources,
    cmd_status,
)
from transiscope.cli.run_commands import (
    cmd_airflow_pools,
    cmd_downstream,
    cmd_prune,
    cmd_replay,
    cmd_report,
    cmd_run,
)
from transiscope.cli.store_commands import cmd_export, cmd_gaps, cmd_link, cmd_query, cmd_serve
from transiscope.downstream.steps import STEPS as DOWNSTREAM_STEPS


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
    run.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="sources prepared at once in worker processes (default: the number of cores; 1: one after the "
        "other in this process); the loads run one at a time",
    )
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
        help="address to listen on (default $TRANSISCOPE_SERVE_HOST, else 127.0.0.1: this machine only)",
    )
    serve.add_argument("--port", type=int, help="port to listen on (default $TRANSISCOPE_SERVE_PORT, else 8890)")
    serve.add_argument(
        "--timeout",
        type=float,
        help="seconds a query may run (default $TRANSISCOPE_SERVE_TIMEOUT, else 30)",
    )
    serve.add_argument(
        "--max-mb",
        type=float,
        help="size cap of one result in MB (default $TRANSISCOPE_SERVE_MAX_MB, else 100)",
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

    prune = sub.add_parser(
        "prune",
        help="remove old run folders, keeping the newest of each source and every run the bus still needs",
    )
    prune.add_argument("sources", nargs="*", metavar="SOURCE", help="only these sources (default: all)")
    prune.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="run folders kept per source (default $TRANSISCOPE_KEEP_RUNS, else 30)",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    prune.set_defaults(func=cmd_prune)

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
    check.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON document on standard output (progress on standard error); exit 0, "
        "1 (batch rejected or nothing loads) or 2 (source unreadable, the document says why)",
    )
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
