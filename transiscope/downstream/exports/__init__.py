"""Exports for the map and the agenda, read from the triplestore (never from run files).

:func:`export_all` is the one entry point, for ``transiscope export`` and for the export DAG: it reads the
store once (:mod:`.read`), then writes, under ``<TRANSISCOPE_HOME>/exports`` by default:

=====================================  ==============================================================
``gogocarto/elements.json``            GoGoCarto ``gogofull`` elements, for a GoGoCarto map to import
``gogocarto/taxonomy.json``            the category tree (domains with their colours, sources)
``initiatives.geojson``                RFC 7946 FeatureCollection, flat documented properties
``geojson/category/<notation>.geojson``  optional split (``split=("category",)``)
``geojson/departement/<code>.geojson``   optional split (``split=("departement",)``)
``initiatives.jsonld``                 JSON-LD with a schema.org context
``initiatives.csv`` (+ ``-metadata.json``)  one row per initiative, CSVW metadata with columns and credits
``agenda.ics``                         the whole agenda (iCalendar)
``agenda/departement/<code>.ics``      per département
``agenda/category/<notation>.ics``     per category
``agenda.json``                        the agenda for a calendar view
``pair/<source>.ttl``, ``.jsonld``     the PAIR view of each source, for SemApps / Archipelago (:mod:`.pair`)
``murmurations/<source>.json``         each source's Murmurations profile (:mod:`.murmurations`)
``attribution.json``                   licence and per-source credits of the whole export
``index.json``                         what was written: sizes, SHA-256, counts, export date
``reports/``, ``vocabulary/``          the quality reports and the vocabulary page, published alongside
=====================================  ==============================================================

Each file is written atomically with a gzip copy (``.gz``). The export date is the date the data was first
exported in its current state: when the read data is the same as last time (same fingerprint in
``index.json``), the previous date is kept, so unchanged data gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transiscope.core.errors import ConfigError
from transiscope.core.files import atomic_write
from transiscope.downstream.exports import agenda, gogocarto, jsonld, murmurations, tables
from transiscope.downstream.exports.attribution import attribution
from transiscope.downstream.exports.files import ExportWriter, json_text
from transiscope.downstream.exports.read import ReadModel, read_model

#: bump when an export's shape changes, so that the next export gets a new date
EXPORT_VERSION = "1"
SPLITS = ("category", "departement")
#: folders the exports own entirely (files not written by a run are removed from them)
MANAGED = ("geojson", "agenda", "pair", "murmurations")


@dataclass
class ExportSummary:
    out_dir: str
    generated: str
    unchanged: bool
    initiatives: int
    with_point: int
    events: int
    files: int
    bytes: int
    seconds: dict[str, float] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fingerprint(model: ReadModel, nodes: dict[str, Any], split: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{','.join(split)}\n".encode())
    digest.update(json_text([model.initiatives, model.events, model.clusters]).encode())
    digest.update(json_text(sorted([asdict(c) for c in model.concepts.values()], key=lambda c: c["notation"])).encode())
    digest.update(json_text(sorted([asdict(s) for s in model.sources.values()], key=lambda s: s["iri"])).encode())
    for initiative in sorted(nodes):
        for subject in sorted(nodes[initiative]):
            for predicate, values in sorted(nodes[initiative][subject].items()):
                digest.update(f"{subject} {predicate} {sorted(map(str, values))}\n".encode())
    return digest.hexdigest()


def _previous(out_dir: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads((out_dir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _groups(records: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        values = record[key] if isinstance(record[key], list) else [record[key]]
        for value in values:
            if value:
                groups[value].append(record)
    return groups


def _safe_name(value: str) -> str:
    """A file name from a notation or a département code (they are slugs; anything else is encoded)."""
    from urllib.parse import quote

    return quote(value, safe="-_").replace(".", "%2E")


def export_all(
    settings: Any,
    *,
    out_dir: Path | None = None,
    split: Iterable[str] = (),
    gzip_copies: bool = True,
    progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> ExportSummary:
    """Read the store and write every export under ``out_dir`` (default ``<home>/exports``).

    ``split`` may hold ``"category"`` and/or ``"departement"`` to also write one GeoJSON per value. A plain
    function of the settings, so the export DAG and the CLI call the same thing.
    """
    from transiscope.store.embedded import open_store

    split = tuple(sorted(set(split)))
    unknown = set(split) - set(SPLITS)
    if unknown:
        raise ConfigError(f"unknown split {', '.join(sorted(unknown))}: choose among {', '.join(SPLITS)}")
    say = progress or (lambda message: None)
    out = Path(out_dir) if out_dir else Path(settings.exports_dir)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    say("reading the store")
    with open_store(settings, read_only=True) as store:
        model = read_model(store, settings.base_iri)
        nodes = jsonld.read_nodes(store)
        commons = murmurations.read_commons(store)
        # the map's points index (map/), read by its own streamed queries: see downstream/map_points.py
        from transiscope.downstream.map_points import write_points

        write_points(store, out, settings)
    lap("read")
    fingerprint = _fingerprint(model, nodes, split)
    previous = _previous(out)
    unchanged = previous.get("fingerprint") == fingerprint and bool(previous.get("generated"))
    generated = previous["generated"] if unchanged else (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    lap("fingerprint")
    initiatives, events = model.initiatives, model.events
    writer = ExportWriter(out, gzip_copies=gzip_copies)
    whole = attribution(initiatives, model, generated)

    say(f"GoGoCarto: {len(initiatives):,} initiatives")
    writer.write("gogocarto/elements.json", gogocarto.elements_json(initiatives, model, whole), "application/json")
    writer.write("gogocarto/taxonomy.json", gogocarto.taxonomy_json(model, whole), "application/json")
    lap("gogocarto")

    say("GeoJSON")
    writer.write("initiatives.geojson", tables.geojson(initiatives, whole, "initiatives"), "application/geo+json")
    # the map's markers: one per initiative, one per cluster of linked records (every source credited)
    writer.write(
        "consolidated.geojson", tables.consolidated_geojson(initiatives, model.clusters, whole), "application/geo+json"
    )
    for kind in split:
        for value, group in sorted(_groups(initiatives, "categories" if kind == "category" else kind).items()):
            writer.write(
                f"geojson/{kind}/{_safe_name(value)}.geojson",
                tables.geojson(group, attribution(group, model, generated), f"{kind} {value}"),
                "application/geo+json",
            )
    lap("geojson")

    say("JSON-LD")
    document = jsonld.jsonld(nodes, whole, f"{settings.base_iri}exports/initiatives.jsonld")
    writer.write("initiatives.jsonld", document, "application/ld+json")
    del document, nodes
    lap("jsonld")

    say("CSV")
    writer.write("initiatives.csv", tables.csv_text(initiatives), "text/csv")
    writer.write(
        "initiatives.csv-metadata.json", tables.csvw_metadata("initiatives.csv", whole), "application/csvm+json"
    )
    lap("csv")

    say(f"agenda: {len(events):,} events")
    agenda_credit = attribution(events, model, generated, "events")
    writer.write("agenda.ics", agenda.ical(events, agenda_credit, "Agenda Transiscope"), "text/calendar")
    writer.write("agenda.json", agenda.agenda_json(events, agenda_credit), "application/json")
    for kind, key in (("departement", "departement"), ("category", "categories")):
        for value, group in sorted(_groups(events, key).items()):
            label = (
                value
                if kind == "departement"
                else (model.concepts[value].labels.get("fr", value) if value in model.concepts else value)
            )
            writer.write(
                f"agenda/{kind}/{_safe_name(value)}.ics",
                agenda.ical(group, attribution(group, model, generated, "events"), f"Agenda Transiscope — {label}"),
                "text/calendar",
            )
    lap("agenda")

    murmurations.write_commons(writer, model, commons, settings.base_iri)
    lap("commons")

    writer.write(
        "attribution.json",
        json_text({"initiatives": whole, "events": agenda_credit}, indent=1) + "\n",
        "application/json",
    )
    removed = [path for folder in MANAGED for path in writer.prune(folder)]
    _publish_alongside(settings, out)
    lap("reports")
    files = dict(sorted(writer.written.items()))
    with_point = sum(1 for r in initiatives if r["lat"] is not None)
    index = {
        "generated": generated,
        "fingerprint": fingerprint,
        "version": EXPORT_VERSION,
        "counts": {
            "initiatives": len(initiatives),
            "with_point": with_point,
            "events": len(events),
        },
        "files": list(files.values()),
    }
    atomic_write(out / "index.json", (json_text(index, indent=1) + "\n").encode("utf-8"))
    say(f"wrote {len(files)} files (+ gzip copies) to {out}")
    return ExportSummary(
        out_dir=str(out),
        generated=generated,
        unchanged=unchanged,
        initiatives=len(initiatives),
        with_point=with_point,
        events=len(events),
        files=len(files),
        bytes=sum(f["bytes"] for f in files.values()),
        seconds=seconds,
        removed=removed,
    )


def _publish_alongside(settings: Any, out: Path) -> None:
    """The quality reports (``<home>/reports``, written by every run) and the vocabulary page, next to the data."""
    from transiscope.downstream.exports.vocabulary import write_vocabulary_page

    reports = Path(settings.home) / "reports"
    if reports.is_dir():
        for path in sorted(reports.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                atomic_write(out / "reports" / path.name, path.read_bytes())
    write_vocabulary_page(out / "vocabulary", settings.ontology_dir)
