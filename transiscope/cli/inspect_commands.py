"""Commands that look at what the bus knows without changing it: ``sources``, ``status``, ``quarantine``, and,
for source maintainers, ``check-source`` and ``guide``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from transiscope.cli.output import progress, table
from transiscope.cli.store_commands import open_read_only
from transiscope.core import vocab
from transiscope.core.errors import TransiscopeError
from transiscope.ingest.mappings import load_registry
from transiscope.settings import Settings


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
    print(table(("id", "name", "format", "schedule", "licence", "url"), rows))
    return 0


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
    rows: list[tuple[str | None, ...]] = []
    errors = []
    with open_read_only(settings) as store:
        for source in registry.sources:
            found = store.select(query.replace("SOURCE", vocab.source_iri(base, source.id)))
            pending = _newest_pending(settings, source.id)
            if pending and (not found or pending["run_id"] > found[0]["id"].value):
                rows.append(_pending_row(pending))
                if pending.get("error"):
                    errors.append(f"{source.id}: {pending['error']}")
                continue
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
        table(
            ("source", "last outcome", "mode", "at", "fetched", "loaded", "quarantined", "run"), rows, numeric={4, 5, 6}
        )
    )
    for line in errors:
        print(line)
    return 0


def _newest_pending(settings: Settings, source_id: str) -> dict[str, Any] | None:
    """The source's newest run whose record is not yet in the metadata graph (its store was busy)."""
    from transiscope.runs import pending_runs

    newest = None
    for _run_dir, run in pending_runs(settings, source_id):
        newest = run  # oldest first
    return newest


def _pending_row(run: dict[str, Any]) -> tuple[str | None, ...]:
    """A run known only from its run.json: shown as it ended, and said to be not yet in the store (the next
    writer of the store records it), rather than hidden behind an older run or "never run"."""
    counts = run.get("counts") or {}
    return (
        run["source"],
        f"{run['outcome']} (not yet in the store)",
        run.get("mode"),
        run.get("ended") or run.get("started"),
        *(None if counts.get(name) is None else str(counts[name]) for name in ("fetched", "loaded", "quarantined")),
        run["run_id"],
    )


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
        print(table(("source", "id", "name", "stage", "reasons"), rows))
    for source_id, line, path in runs:
        print(f"{source_id}: {line}" + (f"  ({path})" if path else ""), file=sys.stderr)
    return 0


# -- check-source, guide -------------------------------------------------------------------------
def cmd_check_source(args: argparse.Namespace, settings: Settings) -> int:
    """Propose a mapping for a source and say what the bus would load of it; never touches the store.

    ``--json``: the report as one JSON document on standard output and nothing else there (progress and the
    error line go to standard error); a source that cannot be read still gives a document (``ok`` false), so a
    script or the web self-check always has JSON to read. Exit status: 0, 1 (batch rejected or nothing loads),
    2 (the source could not be read)."""
    from transiscope.reports.check_source import check_source, error_document, format_report, report_document

    def run() -> Any:
        return check_source(
            args.target,
            args.format,
            args.out,
            name=args.name,
            licence=args.licence,
            settings=settings,
            progress=progress,
        )

    if not args.json:
        result = run()
        print(format_report(result))
        return 1 if result.verdict or result.counts["loaded"] == 0 else 0
    try:
        result = run()
    except TransiscopeError as exc:
        message = str(exc)
    except Exception as exc:  # a hostile payload met a bug: still one document and one line, never a traceback
        message = f"check-source could not finish ({type(exc).__name__}: {exc})"
    else:
        print(json.dumps(report_document(result), ensure_ascii=False, indent=1))
        return 1 if result.verdict or result.counts["loaded"] == 0 else 0
    print(json.dumps(error_document(args.target, message), ensure_ascii=False, indent=1))
    print(f"transiscope: error: {message}", file=sys.stderr)
    return 2


def cmd_guide(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate (``--write``) or check the generated parts of the source maintainers' guide."""
    from transiscope.reports.guide import run_guide

    return run_guide(write=args.write)
