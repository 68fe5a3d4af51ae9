"""The stage functions of one source's run, each over a run directory (wrapped by
:func:`transiscope.ingest.run_context.stage`); their order and scheduling are in
:mod:`transiscope.ingest.stages`:

    raw.json -> records.jsonl (points placed and checked by the geocode stage) -> valid.jsonl
    (+ quarantine.jsonl, warnings.jsonl) -> triples.nt
    -> SHACL shapes (violating records moved to quarantine, triples written again) -> store

Nothing is lost: every fetched record ends in ``valid.jsonl`` (loaded) or ``quarantine.jsonl`` with
readable reasons, and ``load`` checks ``fetched == loaded + quarantined`` before it swaps graphs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from typing import Any

from transiscope.core import vocab
from transiscope.core.errors import BatchRejected, StoreError, TransiscopeError
from transiscope.core.files import append_jsonl, iter_jsonl, read_jsonl, write_jsonl
from transiscope.ingest import rdf
from transiscope.ingest.extract import COMPANIONS, extract_source, read_companions
from transiscope.ingest.fingerprint import file_digest, inputs_digest, payload_digest
from transiscope.ingest.formats import RecordRejected, connector
from transiscope.ingest.france import normalise_batch
from transiscope.ingest.mappings import load_mapping
from transiscope.ingest.run_context import NOT_MODIFIED, Context, quarantine_entry, raw_elements, stage
from transiscope.ingest.run_records import record_run, write_pending
from transiscope.ingest.safety_valves import check_batch
from transiscope.ingest.validate import validate_by_kind
from transiscope.registry.sources import DECLARATIVE_FORMATS, Mapping, Source
from transiscope.runs import now, previous_loaded_run, read_run, write_run
from transiscope.settings import Settings
from transiscope.store import provenance, statistics
from transiscope.store.embedded import open_store
from transiscope.store.vocabularies import load_vocabularies, vocabulary_files
from transiscope.territories.france import france_area

log = logging.getLogger(__name__)


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
        if payload and (ctx.run_dir / COMPANIONS).exists():  # a new taxonomy.json changes the records too
            payload += "+" + file_digest(ctx.run_dir / COMPANIONS)
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
        record_run(ctx.settings, ctx.run_dir, run)  # a busy store: the next writer records it
    return stats


def _is_live(settings: Settings, source_id: str, run_id: str) -> bool:
    """Whether the store's live graph of the source is the one run ``run_id`` loaded (the metadata graph
    says so). Not sure (store busy, missing, wiped): False, and the run goes through every stage."""
    try:
        with open_store(settings, read_only=True) as store:
            live = provenance.previous_good_load(store, settings.base_iri, source_id)
    except (TransiscopeError, OSError):
        return False
    return live is not None and live[0] == run_id


@stage("normalise")
def normalise(ctx: Context) -> dict[str, Any]:
    fmt = connector(ctx.source.format)
    mapping = load_mapping(ctx.source)
    companions = read_companions(ctx.run_dir)
    bind_run = getattr(fmt, "bind_run", None)  # optional: what the run's payload says for every record
    if bind_run is not None:
        mapping = bind_run(mapping, companions or {}, ctx.source)
    elements = raw_elements(ctx)
    known = set(fmt.KNOWN_FIELDS) | {path.split(".")[0] for paths in used_paths(mapping).values() for path in paths}
    required = fmt.required_fields(mapping)
    check_schema(ctx.source, elements, mapping.required or required, known)
    records: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for index, element in enumerate(elements):
        element_id = fmt.element_id(element, mapping)
        is_inactive = getattr(fmt, "is_inactive", None)  # optional: a format with deleted or duplicate elements
        inactive = is_inactive(element) if is_inactive else None
        if inactive:
            quarantine.append(
                quarantine_entry(ctx, index, element_id, "normalise", [inactive], element, element.get("name"))
            )
            continue
        try:
            records.append(fmt.normalise(element, index, ctx.source, mapping))
        except RecordRejected as exc:
            quarantine.append(quarantine_entry(ctx, index, element_id, "normalise", [str(exc)], element))

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
                    quarantine_entry(
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
    area, note = france_area(ctx.settings)
    where = normalise_batch(records, area, swaps=ctx.source.format in DECLARATIVE_FORMATS)
    write_jsonl(ctx.run_dir / "records.jsonl", records)
    write_jsonl(ctx.run_dir / "quarantine.jsonl", sorted(quarantine, key=lambda q: q["record_index"]))
    empty = empty_mapped_fields(ctx.source, mapping, records)
    for warning in empty:
        log.warning("%s", warning["message"])
    stats = {
        "fetched": len(elements),
        "normalised": len(records),
        "quarantined": len(quarantine),
        **where,
        "empty_fields": empty,
    }
    return {**stats, "note": note} if note else stats


def used_paths(mapping: Mapping) -> dict[str, tuple[str, ...]]:
    """Canonical column -> the source fields (dotted paths) the mapping reads it from, defaults included."""
    if mapping.spec is None:
        return dict(mapping.fields)
    return {column: tuple(".".join(p) for p in spec.paths) for column, spec in mapping.spec.fields.items()}


def mapped_paths(mapping: Mapping) -> dict[str, tuple[str, ...]]:
    """Canonical column -> the source fields the mapping reads it from (dotted paths), for the columns the
    mapping file sets itself: GoGoCarto's ``[fields]``, or a declarative mapping's own ``[fields]``."""
    if mapping.spec is None:
        return dict(mapping.fields)
    used = used_paths(mapping)
    return {column: used[column] for column in mapping.spec.mapped if column in used}


def empty_mapped_fields(source: Source, mapping: Mapping, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A warning of the run for each column the mapping file maps that is empty in every record.

    Why: unlike a missing id or name (schema drift, the run fails), a lost optional column loads every record
    without it and no check on one record notices; a source that renamed ``catégorie``, or a payload whose
    header lost its accents, then empties the whole column silently."""
    if not records:
        return []
    out = []
    for column, paths in mapped_paths(mapping).items():
        if not paths or any(record.get(column) not in (None, "", [], {}) for record in records):
            continue
        fields = ", ".join(map(repr, paths))
        out.append(
            {
                "field": column,
                "paths": list(paths),
                "records": len(records),
                "message": f"source {source.id!r}: mapped field {column!r} (from {fields}) is empty in every one "
                f"of the {len(records)} records: did the source rename or drop it? check the mapping "
                f"{mapping.path.name}",
            }
        )
    return out


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
    area, note = france_area(ctx.settings)
    suite, outcome = validate_by_kind(
        records,
        ctx.settings.expectations_dir,
        ctx.source.id,
        international=ctx.source.international,
        france=area,
        kind=load_mapping(ctx.source).kind,
    )
    # the geocode stage's flags on a point (swapped, null island, far...) are warnings, or more reasons
    for i, record in enumerate(records):
        flagged = place_reasons(record)
        if flagged:
            (outcome.quarantined if i in outcome.quarantined else outcome.warnings).setdefault(i, []).extend(flagged)
    elements = raw_elements(ctx) if outcome.quarantined else []
    quarantine = [
        quarantine_entry(
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
    stats = {
        "valid": len(outcome.valid),
        "quarantined": len(quarantine),
        "warnings": len([i for i in outcome.warnings if i not in outcome.quarantined]),
        "france": area.kind,
    }
    return {**stats, "note": note} if note else stats


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
    elements = raw_elements(ctx)
    quarantine = []
    for iri, found in sorted(violations.items(), key=lambda item: owned[item[0]]["record_index"]):
        record = owned[iri]
        entry = quarantine_entry(
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
        unused = sorted(seen - known - set(required))
        hint = (
            f"fields of the payload the mapping does not use: {', '.join(unused[:12])}"
            if unused
            else f"fields present: {', '.join(sorted(seen)[:12])}"
        )
        raise BatchRejected(
            f"source {source.id!r}: schema drift: mapped field(s) {', '.join(map(repr, missing))} missing from "
            f"all {len(objects)} records ({hint}); update the mapping {source.mapping_path.name} "
            "if the source renamed them"
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
        write_pending(store, ctx.settings)  # the runs that could not be recorded when they ended
        previous = provenance.previous_good_load(store, base, ctx.source.id)
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
        if not unchanged or not statistics.are_current(store, base, ctx.source.id):
            statistics.write_source_statistics(store, base, ctx.source.id)  # the example queries read them
        load_vocabularies(store, ctx.settings, ctx.registry)
    write_run(ctx.run_dir, run)
    return {
        **counts,
        "graph": "unchanged: same triples as run " + previous.run_id if unchanged and previous else "replaced",
    }
