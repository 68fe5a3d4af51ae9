"""The pipeline of one source, as plain functions over a run directory.

``start_run`` creates ``runs/<source>/<run id>/run.json``; each stage reads what the previous one
wrote there and adds its own file, so a stage can run in another process (an Airflow task) and a run
can be replayed and audited from its files:

    raw.json -> records.jsonl (points placed and checked by the geocode stage) -> valid.jsonl
    (+ quarantine.jsonl, warnings.jsonl) -> triples.nt
    -> SHACL shapes (violating records moved to quarantine, triples written again) -> store

Nothing is lost: every fetched record ends in ``valid.jsonl`` (loaded) or ``quarantine.jsonl`` with
readable reasons, and ``load`` checks ``fetched == loaded + quarantined`` before it swaps graphs.
A stage that fails records the failure in ``run.json`` and in the store's metadata graph, and the live
graph of the source is left as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from transiscope.core import vocab
from transiscope.core.errors import BatchRejected, ConfigError, StoreError, TransiscopeError
from transiscope.core.files import append_jsonl, iter_jsonl, read_jsonl, write_jsonl
from transiscope.ingest import rdf
from transiscope.ingest.extract import extract_source
from transiscope.ingest.fingerprint import file_digest, inputs_digest, payload_digest
from transiscope.ingest.formats import RecordRejected, connector
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.ingest.validate import validate_by_kind
from transiscope.registry.sources import Registry, Source
from transiscope.runs import (
    iter_quarantine,
    new_run_id,
    now,
    previous_loaded_run,
    read_run,
    write_run,
)
from transiscope.settings import Settings
from transiscope.store import provenance
from transiscope.store.base import TripleStore
from transiscope.store.embedded import open_store
from transiscope.store.vocabularies import load_vocabularies, vocabulary_files

log = logging.getLogger(__name__)

#: outcome of a run whose conditional request was answered 304: nothing to load, the live graph kept
NOT_MODIFIED = "not-modified"
STAGES = ("extract", "normalise", "geocode", "validate", "to_rdf", "shapes", "load")


@dataclass(frozen=True)
class Context:
    settings: Settings
    registry: Registry
    source: Source
    run_dir: Path
    run: dict[str, Any]


def _context(run_dir: Path | str, settings: Settings | None = None) -> Context:
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
            ctx = _context(run_dir, settings)
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


def _quarantine_rejected_batch(ctx: Context, exc: BatchRejected) -> dict[str, int]:
    """Nothing lost: every record of a rejected batch not already quarantined is, with the batch reason."""
    try:
        elements = _raw_elements(ctx)
    except TransiscopeError:
        return {}
    path = ctx.run_dir / "quarantine.jsonl"
    already = {entry["record_index"] for entry in read_jsonl(path)}
    rest = [
        _quarantine_entry(
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
    # The failure goes to the metadata graph too; if the store is busy, run.json still has it.
    with contextlib.suppress(TransiscopeError, OSError), open_store(ctx.settings) as store:
        store.update(provenance.failure_update(ctx.source, run, ctx.settings.base_iri))


# -- stages ----------------------------------------------------------------------------------------
@stage("extract")
def extract(ctx: Context, connect_retries: int | None = None) -> dict[str, Any]:
    """Fetch the source (one request, or the pages of a multi-request format) into ``raw.json``.

    A conditional request answered 304 ends the run here: outcome ``not-modified``, nothing loaded, the
    live graph as it was; the later stages see it and do nothing (see :func:`stage`).
    """
    previous = previous_loaded_run(ctx.settings, ctx.source.id, ctx.run["url"], ctx.run_dir)
    stats = extract_source(
        ctx.source, ctx.run["url"], ctx.run_dir, ctx.settings.http, previous=previous, connect_retries=connect_retries
    )
    if stats.get("not_modified"):
        note = f"not modified since run {stats['since_run']}: nothing to load, the live graph is kept"
    else:
        try:
            payload = payload_digest(ctx.run_dir / "raw.json", ctx.source)
        except TransiscopeError:
            payload = None  # unreadable: the normalise stage says why, with its usual message
        digest = payload and inputs_digest(payload, ctx.source, ctx.settings, ctx.run["mode"])
        run = read_run(ctx.run_dir)
        run["inputs_digest"] = digest
        write_run(ctx.run_dir, run)
        if (
            digest
            and not run.get("force")
            and previous
            and previous.get("inputs_digest") == digest
            and _is_live(ctx.settings, ctx.source.id, previous["run_id"])
        ):
            stats.update(not_modified=True, since_run=previous["run_id"], unchanged_inputs=True)
            note = (
                f"payload, mapping and rules unchanged since run {previous['run_id']} (same inputs digest, "
                "same day): it would load the same graph; nothing to load, the live graph is kept"
            )
    if stats.get("not_modified"):
        stats["note"] = note
        run = read_run(ctx.run_dir)
        run.update(outcome=NOT_MODIFIED, ended=now(), counts={"fetched": 0, "loaded": 0, "quarantined": 0}, note=note)
        write_run(ctx.run_dir, run)
        with contextlib.suppress(TransiscopeError, OSError), open_store(ctx.settings) as store:
            store.update(provenance.failure_update(ctx.source, run, ctx.settings.base_iri))
    return stats


def _is_live(settings: Settings, source_id: str, run_id: str) -> bool:
    """Whether the store's live graph of the source is the one run ``run_id`` loaded (the metadata graph
    says so). Not sure (store busy, missing, wiped): False, and the run goes through every stage."""
    try:
        with open_store(settings, read_only=True) as store:
            live = previous_good_load(store, settings.base_iri, source_id)
    except (TransiscopeError, OSError):
        return False
    return live is not None and live[0] == run_id


def _quarantine_entry(
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


def _raw_elements(ctx: Context) -> list[Any]:
    return connector(ctx.source.format).parse((ctx.run_dir / "raw.json").read_bytes(), ctx.source)


@stage("normalise")
def normalise(ctx: Context) -> dict[str, Any]:
    fmt = connector(ctx.source.format)
    mapping = load_mapping(ctx.source)
    elements = _raw_elements(ctx)
    known = set(fmt.KNOWN_FIELDS) | {path.split(".")[0] for paths in mapping.fields.values() for path in paths}
    required = fmt.required_fields(mapping) if hasattr(fmt, "required_fields") else fmt.REQUIRED_FIELDS
    check_schema(ctx.source, elements, mapping.required or required, known)
    records: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for index, element in enumerate(elements):
        element_id = (
            fmt.element_id(element, mapping)
            if hasattr(fmt, "element_id")
            else element.get("id")
            if isinstance(element, dict)
            else None
        )
        inactive = fmt.is_inactive(element) if hasattr(fmt, "is_inactive") else None
        if inactive:
            quarantine.append(
                _quarantine_entry(ctx, index, element_id, "normalise", [inactive], element, element.get("name"))
            )
            continue
        try:
            records.append(fmt.normalise(element, index, ctx.source, mapping))
        except RecordRejected as exc:
            quarantine.append(_quarantine_entry(ctx, index, element_id, "normalise", [str(exc)], element))

    # Same id twice in one payload: keep the most recently updated copy, quarantine the others.
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_id.setdefault(record["source_id"], []).append(record)
    dropped: set[int] = set()
    for copies in by_id.values():
        if len(copies) < 2:
            continue
        kept = max(copies, key=lambda r: (r["updated_at"] or "", -r["record_index"]))
        for record in copies:
            if record is not kept:
                dropped.add(record["record_index"])
                reason = (
                    f"id {record['source_id']!r} appears {len(copies)} times in the payload; "
                    f"kept the copy at position {kept['record_index']} (most recently updated)"
                )
                quarantine.append(
                    _quarantine_entry(
                        ctx,
                        record["record_index"],
                        record["source_id"],
                        "normalise",
                        [reason],
                        elements[record["record_index"]],
                        record["name"],
                    )
                )
    records = [r for r in records if r["record_index"] not in dropped]
    write_jsonl(ctx.run_dir / "records.jsonl", records)
    write_jsonl(ctx.run_dir / "quarantine.jsonl", sorted(quarantine, key=lambda q: q["record_index"]))
    return {"fetched": len(elements), "normalised": len(records), "quarantined": len(quarantine)}


@stage("geocode")
def geocode(ctx: Context) -> dict[str, Any]:
    """Place records without usable coordinates and check the points given (see ``transiscope.ingest.geocode.placing``).

    ``records.jsonl`` is rewritten with the points, their precision and method, and the consistency flags;
    a second run of the same addresses is served by the on-disk cache and sends no request.
    """
    from transiscope.ingest.geocode.placing import place_records

    path = ctx.run_dir / "records.jsonl"
    records = read_jsonl(path)
    settings = ctx.settings
    if ctx.run.get("mode") == "sample":
        # a run on the bundled samples (offline demo, tests) never sends a request beyond this machine
        settings = dataclasses.replace(settings, geocode=dataclasses.replace(settings.geocode, provider="none"))
    stats = place_records(records, settings, log.info)
    if settings is not ctx.settings:
        stats["note"] = "sample run: no geocoding service asked (offline fallback and cache only)"
    write_jsonl(path, records)
    return stats


@stage("validate")
def validate(ctx: Context) -> dict[str, Any]:
    from transiscope.ingest.geocode.checks import reasons as place_reasons

    records = read_jsonl(ctx.run_dir / "records.jsonl")
    suite, outcome = validate_by_kind(
        records, ctx.settings.expectations_dir, ctx.source.id, international=bool(ctx.source.extra.get("international"))
    )
    # the geocode stage's flags on a point (swapped, null island, far...) are warnings, or more reasons
    for i, record in enumerate(records):
        flagged = place_reasons(record)
        if flagged:
            (outcome.quarantined if i in outcome.quarantined else outcome.warnings).setdefault(i, []).extend(flagged)
    elements = _raw_elements(ctx) if outcome.quarantined else []
    quarantine = [
        _quarantine_entry(
            ctx,
            records[i]["record_index"],
            records[i]["source_id"],
            "validate",
            reasons,
            elements[records[i]["record_index"]],
            records[i]["name"],
        )
        for i, reasons in sorted(outcome.quarantined.items())
    ]
    append_jsonl(ctx.run_dir / "quarantine.jsonl", quarantine)
    write_jsonl(ctx.run_dir / "valid.jsonl", [records[i] for i in outcome.valid])
    write_jsonl(
        ctx.run_dir / "warnings.jsonl",
        [
            {
                "record_index": records[i]["record_index"],
                "source_id": records[i]["source_id"],
                "name": records[i]["name"],
                "reasons": reasons,
            }
            for i, reasons in sorted(outcome.warnings.items())
            if i not in outcome.quarantined
        ],
    )
    (ctx.run_dir / "validation.json").write_text(
        json.dumps({"suite": suite["name"], "expectations": outcome.expectations}, indent=2, ensure_ascii=False),
        encoding="utf-8",
    )
    return {
        "valid": len(outcome.valid),
        "quarantined": len(quarantine),
        "warnings": len([i for i in outcome.warnings if i not in outcome.quarantined]),
    }


@stage("to_rdf")
def to_rdf(ctx: Context) -> dict[str, Any]:
    classes: Counter[str] = Counter()
    triples = rdf.write_ntriples(
        iter_jsonl(ctx.run_dir / "valid.jsonl"), ctx.settings.base_iri, ctx.run_dir / "triples.nt", classes
    )
    return {"triples": triples, "classes": dict(sorted(classes.items()))}


@stage("shapes")
def shapes(ctx: Context) -> dict[str, Any]:
    """SHACL (``ontology/shapes.ttl``) on the triples about to be loaded; violating records go to quarantine.

    The records are taken out of ``valid.jsonl`` with the shape's messages as reasons and the triples are
    written again without them, so the load never sees a violation. Warnings are counted, not quarantined.
    """
    from transiscope.ingest import shapes as shacl  # compiled once per shapes file

    triples_path = ctx.run_dir / "triples.nt"
    results = shacl.validate(
        triples_path,
        ctx.settings.ontology_dir / "shapes.ttl",
        vocabularies=list(vocabulary_files(ctx.settings).values()),
    )
    violations: dict[str, list[shacl.ShapeResult]] = {}
    warnings = 0
    for result in results:
        if result.severity == "Violation":
            violations.setdefault(result.owner, []).append(result)
        else:
            warnings += 1
    stats: dict[str, Any] = {
        "checked_triples": ctx.run["stages"]["to_rdf"]["triples"],
        "violations": sum(len(found) for found in violations.values()),
        "warnings": warnings,
        "quarantined": 0,
    }
    if not violations:
        return stats
    records = list(iter_jsonl(ctx.run_dir / "valid.jsonl"))
    base = ctx.settings.base_iri
    owned = {rdf.record_iri(base, r): r for r in records}
    stray = sorted(set(violations) - set(owned))
    if stray:  # every triple written comes from a record: anything else is a bug, never a silent pass
        raise RuntimeError(f"SHACL violations on nodes no record owns: {', '.join(stray[:5])}")
    elements = _raw_elements(ctx)
    quarantine = []
    for iri, found in sorted(violations.items(), key=lambda item: owned[item[0]]["record_index"]):
        record = owned[iri]
        entry = _quarantine_entry(
            ctx,
            record["record_index"],
            record["source_id"],
            "shapes",
            list(dict.fromkeys(r.message for r in found)),
            elements[record["record_index"]],
            record["name"],
        )
        entry["reasons_fr"] = list(dict.fromkeys(r.message_fr for r in found))
        quarantine.append(entry)
    append_jsonl(ctx.run_dir / "quarantine.jsonl", quarantine)
    write_jsonl(ctx.run_dir / "valid.jsonl", [r for iri, r in owned.items() if iri not in violations])
    classes: Counter[str] = Counter()
    triples = rdf.write_ntriples(iter_jsonl(ctx.run_dir / "valid.jsonl"), base, triples_path, classes)
    run = read_run(ctx.run_dir)
    run["stages"]["to_rdf"].update(triples=triples, classes=dict(sorted(classes.items())))
    write_run(ctx.run_dir, run)
    return {**stats, "quarantined": len(quarantine), "triples": triples}


def _counts(ctx: Context) -> dict[str, int]:
    fetched = ctx.run["stages"]["normalise"]["fetched"]
    loaded = sum(1 for _ in iter_jsonl(ctx.run_dir / "valid.jsonl"))
    quarantined = sum(1 for _ in iter_jsonl(ctx.run_dir / "quarantine.jsonl"))
    warnings = ctx.run["stages"]["validate"]["warnings"]
    if fetched != loaded + quarantined:  # an accounting bug must never pass silently
        raise RuntimeError(f"counts do not add up: fetched {fetched} != loaded {loaded} + quarantined {quarantined}")
    if "shapes" not in ctx.run["stages"]:  # the shapes are what keeps a malformed node out of the store
        raise RuntimeError("the shapes stage has not run on this run's triples; run it before load")
    return {
        "fetched": fetched,
        "loaded": loaded,
        "quarantined": quarantined,
        "warnings": warnings,
        "shape_violations": ctx.run["stages"]["shapes"]["violations"],
        "triples": ctx.run["stages"]["to_rdf"]["triples"],
    }


def check_schema(source: Source, elements: list[Any], required: tuple[str, ...], known: set[str]) -> None:
    """Schema drift: a field the mapping relies on is absent from every record (renamed upstream?)."""
    objects = [e for e in elements if isinstance(e, dict)]
    if not objects:
        return
    seen: set[str] = set()
    for element in objects:
        seen.update(map(str, element))
    missing = [name for name in required if name not in seen]
    if missing:
        unknown = sorted(seen - known)
        hint = (
            f"fields the mapping does not know: {', '.join(unknown[:12])}"
            if unknown
            else f"fields present: {', '.join(sorted(seen)[:12])}"
        )
        raise BatchRejected(
            f"source {source.id!r}: schema drift: field(s) {', '.join(map(repr, missing))} missing from all "
            f"{len(objects)} records ({hint}); update the mapping {source.mapping_path.name} "
            "if the source renamed them"
        )


class LiveLoad(NamedTuple):
    """The run whose data is the source's live graph, as the metadata graph records it."""

    run_id: str
    loaded: int
    #: ``sha256:…`` of the N-Triples file that run loaded (None for runs before digests were recorded)
    triples_digest: str | None = None


def previous_good_load(store: TripleStore, base: str, source_id: str) -> LiveLoad | None:
    """The source's last successful run (run id, loaded count, triples digest), from the metadata graph."""
    rows = store.select(
        f"SELECT ?id ?n ?digest WHERE {{ GRAPH <{vocab.metadata_graph(base)}> {{ "
        f"<{vocab.source_iri(base, source_id)}> <{vocab.TS}lastSuccessfulRun> ?r . "
        f"?r <{vocab.TS}loaded> ?n ; <{vocab.DCT}identifier> ?id . "
        f"OPTIONAL {{ ?r <{vocab.TS}triplesDigest> ?digest }} }} }}"
    )
    if not rows:
        return None
    digest = rows[0].get("digest")
    return LiveLoad(rows[0]["id"].value, int(rows[0]["n"].value), digest.value if digest else None)


def check_batch(source: Source, counts: dict[str, int], previous: LiveLoad | None, settings: Settings) -> None:
    """Batch-level safety valves: refuse to replace a live graph with an empty or collapsed batch."""
    kept = f"; the live graph from run {previous[0]} ({previous[1]} initiatives) was kept" if previous else ""
    if counts["fetched"] == 0:
        raise BatchRejected(f"source {source.id!r} returned no records{kept}")
    if counts["loaded"] == 0:
        raise BatchRejected(
            f"source {source.id!r}: all {counts['fetched']} records were quarantined, none can be loaded{kept}"
        )
    max_share = float(source.extra.get("max_quarantine_share", settings.max_quarantine_share))
    share = counts["quarantined"] / counts["fetched"]
    if share > max_share:
        raise BatchRejected(
            f"source {source.id!r}: {counts['quarantined']} of {counts['fetched']} records quarantined "
            f"({share:.0%}, more than the allowed {max_share:.0%}, TRANSISCOPE_MAX_QUARANTINE_SHARE){kept}"
        )
    max_shrink = float(source.extra.get("max_shrink", settings.max_shrink))
    if previous and previous[1] > 0:
        drop = 1 - counts["loaded"] / previous[1]
        if drop > max_shrink:
            raise BatchRejected(
                f"source {source.id!r} shrank from {previous[1]} to {counts['loaded']} loadable records "
                f"(-{drop:.0%}, more than the allowed {max_shrink:.0%}, TRANSISCOPE_MAX_SHRINK){kept}"
            )


@stage("load")
def load(ctx: Context) -> dict[str, Any]:
    """Swap the source's live graph for the run's triples, with the run's provenance, in one transaction.

    When the triples file is byte for byte the one the live graph was loaded from (same digest, same
    count in the store), only the provenance is written: rewriting a graph with itself is the most
    expensive no-op of the bus (see :mod:`transiscope.store.graph_diff`).
    """
    counts = _counts(ctx)
    base = ctx.settings.base_iri
    triples_path = ctx.run_dir / "triples.nt"
    graph = vocab.source_graph(base, ctx.source.id)
    with open_store(ctx.settings) as store:
        previous = previous_good_load(store, base, ctx.source.id)
        check_batch(ctx.source, counts, previous, ctx.settings)
        run = read_run(ctx.run_dir)
        run.update(counts=counts, outcome="success", ended=now(), triples_digest=file_digest(triples_path))
        run["classes"] = ctx.run["stages"]["to_rdf"].get("classes", {})
        validation = ctx.run_dir / "validation.json"
        if validation.exists():
            run["checks"] = json.loads(validation.read_text(encoding="utf-8"))["expectations"]
        then = provenance.success_update(ctx.source, run, base)
        unchanged = (
            previous is not None
            and previous.triples_digest == run["triples_digest"]
            and store.count(graph) == counts["triples"]
        )
        if unchanged:
            store.update(then)
            in_graph = counts["triples"]
        else:
            in_graph = store.replace_graph(graph, vocab.staging_graph(base, ctx.source.id), triples_path, then=then)
        if in_graph != counts["triples"]:
            raise StoreError(f"the live graph holds {in_graph} triples, {counts['triples']} were written")
        load_vocabularies(store, ctx.settings, ctx.registry)
    write_run(ctx.run_dir, run)
    return {
        **counts,
        "graph": "unchanged: same triples as run " + previous.run_id if unchanged and previous else "replaced",
    }


# -- whole runs ----------------------------------------------------------------------------------
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
    try:
        say(f"{source_id}: extract {read_run(run_dir)['url']}")
        try:
            extract(
                run_dir, settings, connect_retries=0 if fallback_url else None, record_failures=fallback_url is None
            )
        except TransiscopeError as exc:
            if fallback_url is None or exc.kind != "unreachable":
                if fallback_url is not None:
                    record_failure(_context(run_dir, settings), "extract", exc)
                raise
            run = read_run(run_dir)
            run.update(mode="sample", url=fallback_url(), fallback_reason=str(exc))
            write_run(run_dir, run)
            say(f"{source_id}: unreachable, falling back to the bundled sample")
            extract(run_dir, settings)
        if read_run(run_dir)["outcome"] == NOT_MODIFIED:
            say(f"{source_id}: {read_run(run_dir)['note']}")
            return summary_of(run_dir)
        for name, func in (
            ("normalise", normalise),
            ("geocode", geocode),
            ("validate", validate),
            ("to_rdf", to_rdf),
            ("shapes", shapes),
            ("load", load),
        ):
            say(f"{source_id}: {name}")
            stats = func(run_dir, settings)
            if name == "geocode":
                say(f"{source_id}: geocode: {geocode_line(stats)}")
                for message in stats["messages"]:
                    say(f"{source_id}: geocode: {message}")
    except TransiscopeError:
        pass  # recorded in run.json and the metadata graph by the stage wrapper
    return summary_of(run_dir)


#: outcome of a replay asked to stop before the load: the stages ran, the store was not touched
NOT_LOADED = "not-loaded"
#: the files of a stored run a replay starts from (the extract's output and its HTTP validators)
REPLAY_INPUTS = ("raw.json", "raw.json.meta.json")


def replay_run(
    run_dir: Path | str,
    *,
    settings: Settings | None = None,
    load_store: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run the stages after the extract again on a copy of a stored run's raw payload.

    Why: the raw payload of every run is kept so that a run can be redone without asking the source
    again, after the mapping, the crosswalk, the expectations or the shapes were fixed, or to put back the
    data of an earlier payload. The stored run is never modified: a new run of the same source is started
    (runner ``replay``, ``replay_of`` naming the stored run) with a copy of its ``raw.json``, and goes
    through normalise, geocode, validate, to_rdf, shapes and, unless ``load_store`` is False, load, with
    the current registry, mapping and suites and the same safety valves as any run.
    """
    settings = settings or Settings.from_env()
    stored = Path(run_dir).resolve()
    try:
        original = read_run(stored)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{stored} is not a run directory of the bus (no readable run.json: {exc})") from None
    if not (stored / "raw.json").exists():
        raise ConfigError(
            f"run {original['run_id']} of {original['source']} kept no raw.json (it failed at "
            f"{original.get('failed_stage') or 'extract'}): there is no payload to replay"
        )
    say = progress or (lambda _message: None)
    new_dir = start_run(
        original["source"],
        settings=settings,
        runner="replay",
        url=original.get("url"),
        mode=original.get("mode", "live"),
    )
    for name in REPLAY_INPUTS:
        if (stored / name).exists():
            shutil.copy2(stored / name, new_dir / name)
    run = read_run(new_dir)
    run["replay_of"] = {"run_id": original["run_id"], "run_dir": str(stored), "started": original.get("started")}
    write_run(new_dir, run)
    say(f"{original['source']}: replaying the payload of run {original['run_id']} as run {run['run_id']}")
    stages = [
        ("normalise", normalise),
        ("geocode", geocode),
        ("validate", validate),
        ("to_rdf", to_rdf),
        ("shapes", shapes),
    ]
    if load_store:
        stages.append(("load", load))
    try:
        for name, func in stages:
            say(f"{original['source']}: {name}")
            func(new_dir, settings)
    except TransiscopeError:
        return summary_of(new_dir)  # recorded in run.json and the metadata graph by the stage wrapper
    if not load_store:
        run = read_run(new_dir)
        run.update(
            outcome=NOT_LOADED,
            ended=now(),
            counts=_replay_counts(new_dir, run),
            note="replayed without the load: the store was not touched",
        )
        write_run(new_dir, run)
    return summary_of(new_dir)


def _replay_counts(run_dir: Path, run: dict[str, Any]) -> dict[str, int]:
    """The counts of a replay that stopped before the load, in the convention of a run that did not load
    (``record_failure``): nothing loaded, the records that would have been are ``not_loaded``, so that
    fetched = loaded + quarantined + not_loaded still holds."""
    fetched = run["stages"]["normalise"]["fetched"]
    quarantined = sum(1 for _ in iter_quarantine(run_dir))
    return {
        "fetched": fetched,
        "loaded": 0,
        "quarantined": quarantined,
        "not_loaded": fetched - quarantined,
        "warnings": run["stages"]["validate"]["warnings"],
        "triples": run["stages"]["to_rdf"]["triples"],
    }
