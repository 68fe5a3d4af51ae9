"""Exports for the map and the agenda, read from the triplestore (never from run files).

:func:`export_all` is the one entry point, for ``transiscope export`` and for the export DAG: it reads each
record graph once (:mod:`.read`, a scan spooled to disk) and streams the records to every file, writing
under ``<TRANSISCOPE_HOME>/exports`` by default:

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
exported in its current state. ``index.json`` keeps each record graph's triples digest (``graphs``), each
source's key (``sources``) and a fingerprint of the whole: when the fingerprint is the last export's, no file is
written at all; otherwise a source whose key is unchanged keeps its PAIR and Murmurations files byte for byte.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import heapq
import pickle
import tempfile
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
from transiscope.downstream.exports.attribution import Tally
from transiscope.downstream.exports.files import Body, ExportWriter, Output, json_text
from transiscope.downstream.exports.read import (
    GraphScan,
    Reader,
    ReadModel,
    SourceCredit,
    Spool,
    instant,
    keep_known_members,
    read_clusters,
    read_concepts,
    read_departements,
    read_sources,
    record_graphs,
    scan_graph,
)

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


def _fingerprint(split: tuple[str, ...], scans: list[GraphScan], inputs: str) -> str:
    """What the exports depend on: the shape version, the splits, each record graph's triples digest and the
    small global tables (taxonomy, catalogue, clusters, territory links)."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{','.join(split)}\n{inputs}\n".encode())
    for scan in sorted(scans, key=lambda s: s.graph):
        digest.update(f"{scan.graph} {scan.digest}\n".encode())
    return digest.hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json_text(value).encode("utf-8")).hexdigest()


def _credit_key(credit: SourceCredit) -> dict[str, Any]:
    """A source's credit without the counters the read increments."""
    return {k: v for k, v in asdict(credit).items() if k not in ("initiatives", "events")}


def _previous(out_dir: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads((out_dir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _intact(out: Path, entries: list[dict[str, Any]], gzip_copies: bool) -> bool:
    """Every file of a previous manifest is still there, at its size (and its gzip copy, if wanted)."""
    for entry in entries:
        path = out / entry["path"]
        try:
            if path.stat().st_size != entry["bytes"]:
                return False
            if gzip_copies and not path.with_name(path.name + ".gz").is_file():
                return False
        except OSError:
            return False
    return True


def _values(record: dict[str, Any], key: str) -> list[str]:
    value = record[key]
    return [v for v in (value if isinstance(value, list) else [value]) if v]


def _safe_name(value: str) -> str:
    """A file name from a notation or a département code (they are slugs; anything else is encoded)."""
    from urllib.parse import quote

    return quote(value, safe="-_").replace(".", "%2E")


def _collection_head(name: str, credit: dict[str, Any]) -> str:
    return json_text({"type": "FeatureCollection", "name": name, "attribution": credit})[:-1] + ',"features":[\n'


class _Group:
    """One split file being gathered: its spooled features and its attribution tally."""

    def __init__(self) -> None:
        self.body = Body()
        self.tally = Tally()


class _Agenda:
    """One iCalendar feed of the agenda: its tally and the years its timed events span."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.first: int | None = None
        self.last: int | None = None

    def add(self, record: dict[str, Any], spans: list[int]) -> None:
        self.tally.add(record)
        for year in spans:
            self.first = year if self.first is None else min(self.first, year)
            self.last = year if self.last is None else max(self.last, year)

    def span(self) -> tuple[int, int] | None:
        return (self.first, self.last) if self.first is not None and self.last is not None else None


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

    How it scales: each record graph is read once, as a plain scan, into a spool on disk (:class:`Spool`);
    the records are then built one at a time in IRI order and written to every file as they come (a file whose
    head carries the attribution gets its body spooled, the head written once every record is counted). Memory
    holds one key per subject and the small global tables, never the records. When every graph's digest and
    the global tables are those of the last export, nothing is written at all; otherwise a source whose own
    data is unchanged keeps its PAIR and Murmurations files as they are.
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
    base = settings.base_iri

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    say("reading the store")
    previous = _previous(out)
    with open_store(settings, read_only=True) as store, Spool() as spool:
        concepts, top_order = read_concepts(store)
        sources = read_sources(store)
        commons = murmurations.read_commons(store)
        departements = read_departements(store)
        raw_clusters = read_clusters(store, base)
        concepts_digest = _digest(sorted([asdict(c) for c in concepts.values()], key=lambda c: c["notation"]))
        inputs = _digest(
            [
                concepts_digest,
                sorted([_credit_key(c) for c in sources.values()], key=lambda c: c["iri"]),
                sorted(commons.descriptions.items()),
                raw_clusters,
                sorted(departements.items()),
            ]
        )
        scans = [scan_graph(store, graph, spool) for graph in record_graphs(store, base)]
        lap("read")
        fingerprint = _fingerprint(split, scans, inputs)
        unchanged = previous.get("fingerprint") == fingerprint and bool(previous.get("generated"))
        if unchanged and _intact(out, previous.get("files", []), gzip_copies) and (out / "map" / "points.npz").exists():
            say("the data is the same as at the last export: every file is kept as it is")
            _publish_alongside(settings, out)
            lap("reports")
            counts = previous.get("counts", {})
            entries = previous.get("files", [])
            return ExportSummary(
                out_dir=str(out),
                generated=previous["generated"],
                unchanged=True,
                initiatives=int(counts.get("initiatives", 0)),
                with_point=int(counts.get("with_point", 0)),
                events=int(counts.get("events", 0)),
                files=len(entries),
                bytes=sum(int(e["bytes"]) for e in entries),
                seconds=seconds,
            )
        generated = (
            previous["generated"] if unchanged else (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
        )
        model = ReadModel(initiatives=[], events=[], sources=sources, concepts=concepts, top_order=top_order)
        reader = Reader(spool, sources, concepts, departements)
        writer = ExportWriter(out, gzip_copies=gzip_copies)
        facts: dict[str, murmurations.SourceFacts] = defaultdict(murmurations.SourceFacts)
        source_graphs: dict[str, set[int]] = defaultdict(set)

        say("initiatives: GoGoCarto, GeoJSON, JSON-LD, CSV")
        counted = _write_initiatives(
            writer, reader, scans, model, split, generated, base, raw_clusters, facts, source_graphs
        )
        lap("initiatives")

        say("agenda")
        agenda_credit, counted["events"] = _write_agenda(writer, reader, scans, model, generated, facts, source_graphs)
        lap("agenda")

        keep, source_keys = _unchanged_sources(
            previous, scans, sources, commons.descriptions, concepts_digest, source_graphs, base, out, gzip_copies
        )
        murmurations.write_commons(writer, model, commons, base, store=store, facts=facts, keep=keep)
        lap("commons")

        say("the map's points index")
        from transiscope.downstream.map_points import write_points  # imports this package's reader

        write_points(store, out, settings)  # its own streamed scans: see downstream/map_points.py
        lap("map")

    writer.write(
        "attribution.json",
        json_text({"initiatives": counted["whole"], "events": agenda_credit}, indent=1) + "\n",
        "application/json",
    )
    removed = [path for folder in MANAGED for path in writer.prune(folder)]
    _publish_alongside(settings, out)
    lap("reports")
    files = dict(sorted(writer.written.items()))
    index = {
        "generated": generated,
        "fingerprint": fingerprint,
        "version": EXPORT_VERSION,
        "counts": {
            "initiatives": counted["initiatives"],
            "with_point": counted["with_point"],
            "events": counted["events"],
        },
        "graphs": {scan.graph: scan.digest for scan in sorted(scans, key=lambda s: s.graph)},
        "sources": source_keys,
        "files": list(files.values()),
    }
    atomic_write(out / "index.json", (json_text(index, indent=1) + "\n").encode("utf-8"))
    say(f"wrote {len(files)} files (+ gzip copies) to {out}")
    return ExportSummary(
        out_dir=str(out),
        generated=generated,
        unchanged=unchanged,
        initiatives=counted["initiatives"],
        with_point=counted["with_point"],
        events=counted["events"],
        files=len(files),
        bytes=sum(f["bytes"] for f in files.values()),
        seconds=seconds,
        removed=removed,
    )


def _write_initiatives(
    writer: ExportWriter,
    reader: Reader,
    scans: list[GraphScan],
    model: ReadModel,
    split: tuple[str, ...],
    generated: str,
    base: str,
    raw_clusters: list[dict[str, Any]],
    facts: dict[str, murmurations.SourceFacts],
    source_graphs: dict[str, set[int]],
) -> dict[str, Any]:
    """Every initiative file, the records built one by one in IRI order; returns the counts and the whole
    attribution block."""
    iris = sorted({iri for scan in scans for iri in scan.initiatives})
    clustered = {m for c in raw_clusters for m in c["members"]}
    members: dict[str, dict[str, Any]] = {}  # the records of clustered initiatives only (one marker per cluster)
    whole = Tally()
    features, elements, nodes, markers = Body(), Body(","), Body(), Body("\n")
    groups: dict[tuple[str, str], _Group] = {}
    counts = {"initiatives": 0, "with_point": 0}
    try:
        with writer.stream("initiatives.csv", "text/csv") as csv_out:
            rows = csv.writer(csv_out, lineterminator="\r\n")  # RFC 4180 line ends
            rows.writerow(tables.PROPERTIES)
            for iri in iris:
                described = reader.nodes(iri)
                embedded = {node: jsonld.node(node, props, {}) for node, props in described.items() if node != iri}
                nodes.add(json_text(jsonld.node(iri, described.get(iri, {}), embedded)))
                record = reader.initiative(iri)
                if record is None:
                    continue
                counts["initiatives"] += 1
                whole.add(record)
                facts[record["source"]].add(record)
                source_graphs[record["source"]].update(i for i, scan in enumerate(scans) if iri in scan.initiatives)
                rows.writerow(tables.csv_row(record))
                for kind in split:
                    for value in _values(record, "categories" if kind == "category" else kind):
                        group = groups.get((kind, value))
                        if group is None:
                            group = groups[(kind, value)] = _Group()
                        group.tally.add(record)
                        if record["lat"] is not None:
                            group.body.add(json_text(tables.feature(record)))
                if iri in clustered:
                    members[iri] = record
                if record["lat"] is None:
                    continue
                counts["with_point"] += 1
                feature = json_text(tables.feature(record))
                features.add(feature)
                elements.add(json_text(gogocarto.element(record, model)))
                if iri not in clustered:
                    markers.add(iri + "\t" + json_text(tables.marker(record)))
        credit = whole.block(model.sources.values(), generated)
        for body in (features, elements, nodes, markers):
            body.flush()
        with writer.stream("gogocarto/elements.json", "application/json") as target:
            head = {
                "licence": credit["licence_url"] or credit["licence"],
                "ontology": "gogofull",
                "attribution": credit,
            }
            target.write(json_text(head)[:-1] + ',"data":[')
            target.copy_from(elements.file)
            target.write("]}\n")
        writer.write("gogocarto/taxonomy.json", gogocarto.taxonomy_json(model, credit), "application/json")
        with writer.stream("initiatives.geojson", "application/geo+json") as target:
            target.write(_collection_head("initiatives", credit))
            target.copy_from(features.file)
            target.write("\n]}\n")
        clusters = keep_known_members(raw_clusters, set(members))
        in_clusters = {m for c in clusters for m in c["members"]}
        extra = [
            (iri, json_text(tables.marker(record)))
            for iri, record in members.items()
            if iri not in in_clusters and record["lat"] is not None
        ]
        extra += [(c["iri"], json_text(f)) for c in clusters if (f := tables.cluster_marker(c, members)) is not None]
        with writer.stream("consolidated.geojson", "application/geo+json") as target:
            target.write(_collection_head("consolidated", credit))
            markers.file.seek(0)
            spooled = (line.decode("utf-8").rstrip("\n").split("\t", 1) for line in markers.file)
            merged = heapq.merge(((k, v) for k, v in spooled), sorted(extra), key=lambda pair: pair[0])
            for index, (_, text) in enumerate(merged):
                target.write(("," if index else "") + ("\n" if index else "") + text)
            target.write("\n]}\n")
        for (kind, value), group in sorted(groups.items()):
            group.body.flush()
            with writer.stream(f"geojson/{kind}/{_safe_name(value)}.geojson", "application/geo+json") as target:
                target.write(_collection_head(f"{kind} {value}", group.tally.block(model.sources.values(), generated)))
                target.copy_from(group.body.file)
                target.write("\n]}\n")
        with writer.stream("initiatives.jsonld", "application/ld+json") as target:
            target.write(jsonld.document_head(credit, f"{base}exports/initiatives.jsonld"))
            if nodes.count:
                target.write(",\n")
                target.copy_from(nodes.file)
            target.write("\n]}\n")
        writer.write(
            "initiatives.csv-metadata.json", tables.csvw_metadata("initiatives.csv", credit), "application/csvm+json"
        )
    finally:
        for body in (features, elements, nodes, markers, *(g.body for g in groups.values())):
            body.close()
    return {**counts, "whole": credit}


def _write_agenda(
    writer: ExportWriter,
    reader: Reader,
    scans: list[GraphScan],
    model: ReadModel,
    generated: str,
    facts: dict[str, murmurations.SourceFacts],
    source_graphs: dict[str, set[int]],
) -> tuple[dict[str, Any], int]:
    """The agenda files: the events built once and spooled with their sort key (start, IRI), then written in
    that order to every feed at once; returns the agenda's attribution block and the number of events."""
    parents = {p for scan in scans for p in scan.parents}
    iris = sorted({e for scan in scans for e in scan.events} - parents)
    whole = _Agenda()
    feeds: dict[tuple[str, str], _Agenda] = {}
    keys: list[tuple[datetime, str, int]] = []
    stamp = datetime.fromisoformat(generated)
    with tempfile.TemporaryFile(prefix=".export-events-") as spooled:
        for iri in iris:
            record = reader.event(iri)
            if record is None:
                continue
            spans = agenda.years(record)
            whole.add(record, spans)
            if record.get("source"):
                facts[record["source"]].add(record, "events")
                source_graphs[record["source"]].update(i for i, scan in enumerate(scans) if iri in scan.events)
            for kind, key in (("departement", "departement"), ("category", "categories")):
                for value in _values(record, key):
                    feeds.setdefault((kind, value), _Agenda()).add(record, spans)
            keys.append((instant(record["start"]), iri, spooled.tell()))
            pickle.dump(record, spooled, protocol=pickle.HIGHEST_PROTOCOL)
        keys.sort()
        credit = whole.tally.block(model.sources.values(), generated, "events")
        with contextlib.ExitStack() as stack:
            whole_ics = stack.enter_context(writer.stream("agenda.ics", "text/calendar"))
            whole_ics.write(agenda.ical_head("Agenda Transiscope", credit, whole.span()))
            as_json = stack.enter_context(writer.stream("agenda.json", "application/json"))
            as_json.write(json_text({"attribution": credit, "timezone": "Europe/Paris"})[:-1] + ',"events":[\n')
            outputs: dict[tuple[str, str], Output] = {}
            for (kind, value), feed in sorted(feeds.items()):
                label = (
                    value
                    if kind == "departement"
                    else (model.concepts[value].labels.get("fr", value) if value in model.concepts else value)
                )
                target = stack.enter_context(writer.stream(f"agenda/{kind}/{_safe_name(value)}.ics", "text/calendar"))
                target.write(
                    agenda.ical_head(
                        f"Agenda Transiscope — {label}",
                        feed.tally.block(model.sources.values(), generated, "events"),
                        feed.span(),
                    )
                )
                outputs[(kind, value)] = target
            for index, (_, _, offset) in enumerate(keys):
                spooled.seek(offset)
                record = pickle.load(spooled)  # our own temporary file, written above
                as_json.write(("," if index else "") + ("\n" if index else "") + agenda.agenda_line(record))
                text = agenda.vevent(record, stamp)
                if text is None:
                    continue
                whole_ics.write(text)
                for kind, key in (("departement", "departement"), ("category", "categories")):
                    for value in _values(record, key):
                        outputs[(kind, value)].write(text)
            as_json.write("\n]}\n")
            for target in (whole_ics, *outputs.values()):
                target.write(agenda.ICAL_END)
    return credit, len(keys)


def _unchanged_sources(
    previous: dict[str, Any],
    scans: list[GraphScan],
    sources: dict[str, SourceCredit],
    descriptions: dict[str, str],
    concepts_digest: str,
    source_graphs: dict[str, set[int]],
    base: str,
    out: Path,
    gzip_copies: bool,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Which sources keep their PAIR and Murmurations files from the last export, and every source's key.

    A source's key covers its own graph's triples digest, the digests of any other graph holding its records,
    its catalogue entry and description, and the taxonomy: the same key means the same files."""
    from transiscope.core.vocab import source_graph
    from transiscope.downstream.exports.pair import pair_paths

    digests = {scan.graph: scan.digest for scan in scans}
    keys: dict[str, str] = {}
    keep: dict[str, list[dict[str, Any]]] = {}
    entries = {e["path"]: e for e in previous.get("files", [])}
    before = previous.get("sources", {})
    for credit in sources.values():
        graphs = {scans[i].graph for i in source_graphs.get(credit.id, set())} | {source_graph(base, credit.id)}
        keys[credit.id] = _digest(
            [
                EXPORT_VERSION,
                sorted((g, digests.get(g, "")) for g in graphs),
                _credit_key(credit),
                descriptions.get(credit.iri, ""),
                concepts_digest,
            ]
        )
        paths = [murmurations.profile_path(credit.id), *pair_paths(credit.id).values()]
        kept = [entries[p] for p in paths if p in entries]
        if before.get(credit.id) == keys[credit.id] and kept and _intact(out, kept, gzip_copies):
            keep[credit.id] = kept
    return keep, dict(sorted(keys.items()))


def _publish_alongside(settings: Any, out: Path) -> None:
    """The quality reports (``<home>/reports``, written by every run) and the vocabulary page, next to the data."""
    from transiscope.downstream.exports.vocabulary import write_vocabulary_page

    reports = Path(settings.home) / "reports"
    if reports.is_dir():
        for path in sorted(reports.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                atomic_write(out / "reports" / path.name, path.read_bytes())
    write_vocabulary_page(out / "vocabulary", settings.ontology_dir)
