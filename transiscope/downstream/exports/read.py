"""What the exports publish, read from the triplestore through the store interface (never from run files).

Three SELECT queries shape the *read model* every writer shares: the initiatives (one row each, single
values), their multi-valued properties (normalised categories, source labels, keywords), the events of the
agenda, and the catalogue of sources (DCAT datasets of the metadata graph) for the credits. Every text is
cleaned again on the way out (:func:`transiscope.core.text.clean_text`: no tag survives, whatever another writer
put in the store), and everything is sorted, so that unchanged data gives the same model, hence the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pyoxigraph as ox

from transiscope.core.text import clean_text
from transiscope.core.vocab import DCAT, DCT, FOAF, GEO, PROV, SCHEMA, SKOS, TS, TX
from transiscope.store.base import TripleStore, solutions

IGEO = "http://rdf.insee.fr/def/geo#"
SPDX = "https://spdx.org/licenses/"
#: a fixed colour per top domain of the taxonomy, in the order of their notations (the map's legend)
PALETTE = ("#2e7d32", "#6d4c41", "#f9a825", "#1565c0", "#c62828", "#6a1b9a", "#00838f", "#ef6c00", "#455a64", "#ad1457")
OTHER_COLOUR = "#757575"
_POINT = re.compile(r"POINT\s*\(\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s+(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*\)", re.I)


@dataclass
class Concept:
    notation: str
    iri: str
    labels: dict[str, str]
    definitions: dict[str, str]
    broader: str | None  # notation of the parent concept
    top: str  # notation of the top domain it belongs to (itself for a top concept)
    colour: str = OTHER_COLOUR


@dataclass
class SourceCredit:
    id: str
    iri: str
    name: str
    licence: str  # licence IRI
    publisher: str = ""
    landing_page: str = ""
    modified: str = ""
    initiatives: int = 0
    events: int = 0


@dataclass
class ReadModel:
    initiatives: list[dict[str, Any]]
    events: list[dict[str, Any]]
    sources: dict[str, SourceCredit]  # by source IRI
    concepts: dict[str, Concept]  # by notation
    top_order: list[str] = field(default_factory=list)
    #: consolidated initiatives of the link step (clusters of records linked by sameAs), for one marker each
    clusters: list[dict[str, Any]] = field(default_factory=list)


def _v(row: dict[str, Any], name: str) -> str | None:
    term = row.get(name)
    return term.value if term is not None else None


def _text(value: str | None, multiline: bool = False) -> str | None:
    return clean_text(value, multiline=multiline) if value is not None else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def licence_id(iri: str) -> str:
    """``https://spdx.org/licenses/ODbL-1.0`` -> ``ODbL-1.0``; any other IRI stays itself."""
    return iri[len(SPDX) :] if iri.startswith(SPDX) else iri


def is_odbl(licence: str | None) -> bool:
    return licence is not None and "odbl" in licence.lower()


def departement_from_postcode(postcode: str | None) -> str | None:
    """The département a French postcode belongs to (an approximation, used when the store has no
    ``ts:inTerritory`` link): two digits, three overseas (971-988), Corsica 2A (200xx-201xx) or 2B."""
    if not postcode or not re.fullmatch(r"\d{5}", postcode) or postcode.startswith("00"):
        return None
    if postcode.startswith(("97", "98")):
        return postcode[:3]
    if postcode.startswith("20"):
        return "2A" if int(postcode) < 20200 else "2B"
    return postcode[:2]


# -- taxonomy ---------------------------------------------------------------------------------------------------
def read_concepts(store: TripleStore) -> tuple[dict[str, Concept], list[str]]:
    """The concepts of the taxonomy with their labels, definitions, parent and top domain."""
    rows = store.select(f"""
        SELECT ?c ?notation ?label ?def ?broader ?top WHERE {{
          ?c a <{SKOS}Concept> ; <{SKOS}notation> ?notation .
          FILTER(STRSTARTS(STR(?c), "{TX}"))
          OPTIONAL {{ ?c <{SKOS}prefLabel> ?label }}
          OPTIONAL {{ ?c <{SKOS}definition> ?def }}
          OPTIONAL {{ ?c <{SKOS}broader> ?broader }}
          OPTIONAL {{ ?c <{SKOS}topConceptOf> ?top }}
        }}""")
    concepts: dict[str, Concept] = {}
    parents: dict[str, str] = {}
    tops: set[str] = set()
    by_iri: dict[str, str] = {}
    for row in rows:
        notation = row["notation"].value
        concept = concepts.get(notation)
        if concept is None:
            concept = concepts[notation] = Concept(notation, row["c"].value, {}, {}, None, notation)
            by_iri[concept.iri] = notation
        for key, target in (("label", concept.labels), ("def", concept.definitions)):
            term = row.get(key)
            if isinstance(term, ox.Literal):
                lang = term.language or "fr"
                target[lang] = min(target.get(lang, term.value), term.value)  # stable if several
        if row.get("broader") is not None:
            parents[notation] = row["broader"].value
        if row.get("top") is not None and row["top"].value == TX + "domaines":
            tops.add(notation)
    for notation, concept in concepts.items():
        parent_iri = parents.get(notation)
        concept.broader = by_iri.get(parent_iri) if parent_iri else None
        top, seen = notation, set()
        while top in parents and by_iri.get(parents[top]) and top not in seen:  # bounded by the cycle check
            seen.add(top)
            top = by_iri[parents[top]]
        concept.top = top
    top_order = sorted(tops)
    for index, notation in enumerate(top_order):
        concepts[notation].colour = PALETTE[index % len(PALETTE)]
    for concept in concepts.values():
        if concept.top in concepts:
            concept.colour = concepts[concept.top].colour
    return concepts, top_order


# -- sources ------------------------------------------------------------------------------------------------------
def read_sources(store: TripleStore) -> dict[str, SourceCredit]:
    """The DCAT datasets of the metadata graph: who to credit, under which licence."""
    rows = store.select(f"""
        SELECT ?s ?id ?title ?licence ?publisher ?landing ?modified WHERE {{
          ?s a <{DCAT}Dataset> ; <{DCT}identifier> ?id .
          OPTIONAL {{ ?s <{DCT}title> ?title }}
          OPTIONAL {{ ?s <{DCT}license> ?licence }}
          OPTIONAL {{ ?s <{DCT}publisher>/<{FOAF}name> ?publisher }}
          OPTIONAL {{ ?s <{DCAT}landingPage> ?landing }}
          OPTIONAL {{ ?s <{DCT}modified> ?modified }}
        }} ORDER BY ?s""")
    sources: dict[str, SourceCredit] = {}
    for row in rows:
        iri = row["s"].value
        if iri in sources:
            continue
        sources[iri] = SourceCredit(
            id=row["id"].value,
            iri=iri,
            name=_text(_v(row, "title")) or row["id"].value,
            licence=_v(row, "licence") or "",
            publisher=_text(_v(row, "publisher")) or "",
            landing_page=_v(row, "landing") or "",
            modified=_v(row, "modified") or "",
        )
    return sources


def _source_for(sources: dict[str, SourceCredit], iri: str) -> SourceCredit:
    """The credit of a source IRI; a source missing from the catalogue is credited by its IRI's last segment."""
    if iri not in sources:
        from urllib.parse import unquote

        ident = unquote(iri.rstrip("/").rsplit("/", 1)[-1])
        sources[iri] = SourceCredit(id=ident, iri=iri, name=ident, licence="")
    return sources[iri]


# -- the streamed read: each graph's triples once, spooled to disk by subject --------------------------------------
#: predicates whose objects are the nodes a record's description continues in (address, geometry, place)
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_SUB_EVENT, _SUPER_EVENT = SCHEMA + "subEvent", SCHEMA + "superEvent"
Description = dict[str, list[Any]]  # predicate IRI -> object terms


def _key(term: Any) -> str:
    """A node's key in the spool: its IRI, or its blank node label."""
    return str(term.value)


class Spool:
    """The triples of the graphs read so far, on disk, grouped by subject; in memory only one offset per subject.

    Why: the on-disk store answers one sequential scan of a graph (``GRAPH <g> { ?s ?p ?o }``) far faster than
    joins or an ``ORDER BY`` (each comparison decodes terms through RocksDB lookups), and a scan gives each
    subject's triples together but in no useful order. Each run of one subject's triples is pickled to a
    temporary file; a record is then described by reading its node and the nodes it links to (address,
    geometry, place) back by offset, in whatever order the exports need. Memory holds the offsets and the
    sorted keys, not the records."""

    def __init__(self, folder: Path | None = None) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder, prefix=".export-spool-")  # noqa: SIM115
        self._index: dict[str, int | list[int]] = {}
        self._writing = True

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, subject: str, pairs: list[tuple[str, Any]]) -> bytes:
        """Keep one run of ``subject``'s (predicate, object) pairs; returns the bytes written (for digests)."""
        data = pickle.dumps(pairs, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self._file.seek(0, os.SEEK_END) if not self._writing else self._file.tell()
        self._writing = True
        self._file.write(data)
        known = self._index.get(subject)
        if known is None:
            self._index[subject] = offset
        elif isinstance(known, list):
            known.append(offset)
        else:
            self._index[subject] = [known, offset]
        return data

    def __contains__(self, subject: str) -> bool:
        return subject in self._index

    def describe(self, subject: str) -> Description:
        """Every (predicate -> objects) the spool holds about ``subject``, in the order the store gave them."""
        known = self._index.get(subject)
        if known is None:
            return {}
        self._writing = False
        out: Description = {}
        for offset in known if isinstance(known, list) else (known,):
            self._file.seek(offset)
            for predicate, term in pickle.load(self._file):  # our own temporary file, written above
                out.setdefault(predicate, []).append(term)
        return out


@dataclass
class GraphScan:
    """What one graph's scan found: its digest and the subjects the exports describe."""

    graph: str
    digest: str
    triples: int
    initiatives: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)  # events with sub-events (represented by them)


def scan_graph(store: TripleStore, graph: str, spool: Spool) -> GraphScan:
    """Read ``graph`` once, unordered, into ``spool``; its digest is order-independent (a sum of one hash per run
    of a subject's triples), so the same triples give the same digest however the store returns them."""
    total, triples, mask = 0, 0, (1 << 256) - 1
    found = GraphScan(graph, "", 0)
    current: str | None = None
    pairs: list[tuple[str, Any]] = []

    def flush() -> None:
        nonlocal total
        if current is not None and pairs:
            data = spool.add(current, pairs)
            total = (total + int.from_bytes(hashlib.sha256(current.encode() + b"\0" + data).digest())) & mask

    for row in solutions(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"):
        subject, predicate, term = row[0], row[1], row[2]
        key = subject.value
        if key != current:
            flush()
            current, pairs = key, []
        p = predicate.value
        pairs.append((p, term))
        triples += 1
        if p == _RDF_TYPE:
            kind = term.value
            if kind == TS + "Initiative":
                found.initiatives.add(key)
            elif kind == SCHEMA + "Event":
                found.events.add(key)
        elif p == _SUB_EVENT:
            found.parents.add(key)
        elif p == _SUPER_EVENT:
            found.parents.add(term.value)
    flush()
    found.digest = f"{total:064x}"
    found.triples = triples
    return found


def record_graphs(store: TripleStore, base: str) -> list[str]:
    """The named graphs that hold initiatives or events (the source graphs, and any graph a writer put records
    in), sorted; the staging graphs of a load in progress are not read."""
    rows = store.select(
        f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s a ?t }} VALUES ?t {{ <{TS}Initiative> <{SCHEMA}Event> }} }}"
    )
    staging = f"{base}graph/staging/"
    return sorted(g for g in (row["g"].value for row in rows) if not g.startswith(staging))


def read_departements(store: TripleStore) -> dict[str, str]:
    """node -> the smallest INSEE code of the départements it is placed in (``ts:inTerritory``, the gaps step's
    links, which live in their own graph): one small key per placed node."""
    codes: dict[str, str] = {}
    query = f"SELECT ?s ?code WHERE {{ ?s <{TS}inTerritory> ?t . ?t a <{IGEO}Departement> ; <{IGEO}codeINSEE> ?code }}"
    for row in solutions(store, query):
        node, code = row[0].value, row[1].value
        if node not in codes or code < codes[node]:
            codes[node] = code
    return codes


class Reader:
    """Builds the read model's records one at a time from a :class:`Spool` (and the small global tables)."""

    def __init__(
        self,
        spool: Spool,
        sources: dict[str, SourceCredit],
        concepts: dict[str, Concept],
        departements: dict[str, str],
    ) -> None:
        self.spool = spool
        self.sources = sources
        self.concepts = concepts
        self.departements = departements
        self.by_iri = {c.iri: c for c in concepts.values()}
        #: the last nodes read: the JSON-LD node and the record of one initiative read the same few nodes
        self._recent: dict[str, Description] = {}

    def describe(self, node: str) -> Description:
        found = self._recent.get(node)
        if found is None:
            if len(self._recent) >= 16:
                self._recent.clear()
            found = self._recent[node] = self.spool.describe(node)
        return found

    def _fields(self, subject: str, paths: dict[str, tuple[_Path, ...]]) -> tuple[dict[str, str | None], Description]:
        """One value per field (the smallest when a property is given twice, so that the choice does not depend
        on the store's order), following each path through the spool; ``dep`` from the territory links."""
        describe = self.describe

        row: dict[str, str | None] = {}
        for name, alternatives in paths.items():
            values: list[str] = []
            for path in alternatives:
                if path and path[-1] == _DEPARTEMENT_STEP:
                    nodes = [subject]
                    for step in path[:-1]:
                        nodes = [_key(o) for n in nodes for o in describe(n).get(step, ())]
                    values += [self.departements[n] for n in nodes if n in self.departements]
                    continue
                nodes = [subject]
                for step in path[:-1]:
                    nodes = [_key(o) for n in nodes for o in describe(n).get(step, ())]
                values += [str(o.value) for n in nodes for o in describe(n).get(path[-1], ())]
            row[name] = min(values) if values else None
        return row, describe(subject)

    def _notations(self, own: Description) -> list[str]:
        by_iri = self.by_iri
        return sorted(
            {
                by_iri[c].notation if c in by_iri else c.rsplit("/", 1)[-1]
                for c in {str(t.value) for t in own.get(TS + "category", ())}
            }
        )

    def initiative(self, iri: str) -> dict[str, Any] | None:
        """The published record of one initiative, or None when it has no name or no source."""
        row, own = self._fields(iri, _INITIATIVE_FIELDS)
        if row["name"] is None or row["source"] is None:
            return None
        concepts = self.concepts
        source = _source_for(self.sources, row["source"] or "")
        source.initiatives += 1
        lat, lon = _point(row["lat"], row["lon"], row["wkt"])
        notations = self._notations(own)
        domains = sorted({concepts[n].top for n in notations if n in concepts})
        postcode = _text(row["postcode"])
        labels = sorted({str(t.value) for t in own.get(TS + "sourceCategory", ())})
        keywords = sorted({str(t.value) for t in own.get(SCHEMA + "keywords", ())})
        return {
            "id": iri,
            "source": source.id,
            "source_name": source.name,
            "source_record_id": row["sid"] or "",
            "name": _text(row["name"]) or "",
            "description": _text(row["description"], multiline=True),
            "categories": notations,
            "category_labels": [concepts[n].labels.get("fr", n) if n in concepts else n for n in notations],
            "domains": domains,
            "domain": domains[0] if domains else None,
            "source_categories": [t for t in (_text(v) for v in labels) if t],
            "lat": lat,
            "lon": lon,
            "position_precision": _text(row["precision"]),
            "street": _text(row["street"]),
            "postcode": postcode,
            "city": _text(row["city"]),
            "country": _text(row["country"]),
            "departement": row["dep"] or departement_from_postcode(postcode),
            "website": safe_url(row["url"]),
            "email": _text(row["email"]),
            "phone": _text(row["phone"]),
            "opening_hours": _text(row["hours"]),
            "keywords": [t for t in (_text(v) for v in keywords) if t],
            "upstream_source": _text(row["upstream"]),
            "licence": licence_id(row["licence"] or source.licence),
            "source_url": safe_url(row["page"]),
            "created": row["created"],
            "modified": row["modified"],
        }

    def event(self, iri: str) -> dict[str, Any] | None:
        """The agenda record of one event, or None when it has no name or no start."""
        row, own = self._fields(iri, _EVENT_FIELDS)
        if row["name"] is None or row["start"] is None:
            return None
        concepts = self.concepts
        source = _source_for(self.sources, row["source"] or "") if row["source"] else None
        if source is not None:
            source.events += 1
        lat, lon = _point(row["lat"], row["lon"], row["wkt"])
        notations = self._notations(own)
        status = (row["status"] or "").rsplit("/", 1)[-1]
        postcode = _text(row["postcode"])
        return {
            "id": iri,
            "name": _text(row["name"]) or "",
            "description": _text(row["description"], multiline=True),
            "start": row["start"],
            "end": row["end"],
            "all_day": len(row["start"] or "") == 10,
            "status": STATUSES.get(status, "scheduled"),
            "categories": notations,
            "category_labels": [concepts[n].labels.get("fr", n) if n in concepts else n for n in notations],
            "domains": sorted({concepts[n].top for n in notations if n in concepts}),
            "location_name": _text(row["placeName"]),
            "lat": lat,
            "lon": lon,
            "street": _text(row["street"]),
            "postcode": postcode,
            "city": _text(row["city"]),
            "departement": row["dep"] or departement_from_postcode(postcode),
            "url": safe_url(row["url"]),
            "source": source.id if source else None,
            "source_name": source.name if source else None,
            "licence": licence_id(row["licence"] or (source.licence if source else "")),
            "source_url": safe_url(row["page"]) or safe_url(row["url"]),
            "modified": row["modified"],
        }

    def nodes(self, iri: str) -> dict[str, Description]:
        """The initiative's own triples and those of its address and geometry nodes (the JSON-LD node)."""
        own = self.describe(iri)
        out = {iri: own}
        for link in (SCHEMA + "address", GEO + "hasGeometry"):
            for term in own.get(link, ()):
                node = _key(term)
                if node != iri and node in self.spool:
                    out[node] = self.describe(node)
        return out


# -- initiatives ---------------------------------------------------------------------------------------------------
#: field -> paths from the record to its values (several: the smallest value of any of them); a step is a
#: predicate IRI, the last one may be :data:`_DEPARTEMENT_STEP`
_Path = tuple[str, ...]
#: the last step of a path to a département code: the territory links read once (:func:`read_departements`)
_DEPARTEMENT_STEP = "departement"
_DEPARTEMENT: _Path = (_DEPARTEMENT_STEP,)
_INITIATIVE_FIELDS: dict[str, tuple[_Path, ...]] = {
    "name": ((SCHEMA + "name",),),
    "source": ((TS + "source",),),
    "sid": ((TS + "sourceId",),),
    "description": ((SCHEMA + "description",),),
    "lat": ((GEO + "hasGeometry", SCHEMA + "latitude"),),
    "lon": ((GEO + "hasGeometry", SCHEMA + "longitude"),),
    "wkt": ((GEO + "hasGeometry", GEO + "asWKT"),),
    "precision": ((GEO + "hasGeometry", TS + "positionPrecision"),),
    "street": ((SCHEMA + "address", SCHEMA + "streetAddress"),),
    "postcode": ((SCHEMA + "address", SCHEMA + "postalCode"),),
    "city": ((SCHEMA + "address", SCHEMA + "addressLocality"),),
    "country": ((SCHEMA + "address", SCHEMA + "addressCountry"),),
    "url": ((SCHEMA + "url",),),
    "email": ((SCHEMA + "email",),),
    "phone": ((SCHEMA + "telephone",),),
    "hours": ((SCHEMA + "openingHours",),),
    "upstream": ((TS + "upstreamSource",),),
    "licence": ((DCT + "license",),),
    "page": ((PROV + "wasDerivedFrom",),),
    "created": ((SCHEMA + "dateCreated",),),
    "modified": ((SCHEMA + "dateModified",),),
    "dep": (_DEPARTEMENT,),
}


def _point(lat: str | None, lon: str | None, wkt: str | None) -> tuple[float | None, float | None]:
    flat, flon = _number(lat), _number(lon)
    if (flat is None or flon is None) and wkt:
        match = _POINT.search(wkt)
        if match:  # CRS84 WKT is lon lat
            flon, flat = float(match.group(1)), float(match.group(2))
    if flat is None or flon is None or not (-90 <= flat <= 90 and -180 <= flon <= 180):
        return None, None
    return flat, flon


def safe_url(value: str | None) -> str | None:
    """Only http(s) links, or links without any scheme (``www.example.org``, as some sources give them), are
    published: a ``javascript:`` or ``data:`` URL in the store never reaches a page."""
    if not value:
        return None
    text = value.strip()
    if re.match(r"(?i)^https?://[^\s<>\"']+$", text) or re.match(r"^[^\s<>\"':]+$", text):
        return text
    return None


# -- events --------------------------------------------------------------------------------------------------------
_PLACE = SCHEMA + "location"
_EVENT_FIELDS: dict[str, tuple[_Path, ...]] = {
    "name": ((SCHEMA + "name",),),
    "start": ((SCHEMA + "startDate",),),
    "end": ((SCHEMA + "endDate",),),
    "description": ((SCHEMA + "description",),),
    "status": ((SCHEMA + "eventStatus",),),
    "url": ((SCHEMA + "url",),),
    "source": ((TS + "source",),),
    "page": ((PROV + "wasDerivedFrom",),),
    "modified": ((SCHEMA + "dateModified",),),
    "licence": ((DCT + "license",),),
    "place": ((_PLACE,),),
    "placeName": ((_PLACE, SCHEMA + "name"),),
    **{
        field: tuple((_PLACE, geo, prop) for geo in (SCHEMA + "geo", GEO + "hasGeometry"))
        for field, prop in (("lat", SCHEMA + "latitude"), ("lon", SCHEMA + "longitude"), ("wkt", GEO + "asWKT"))
    },
    "street": ((_PLACE, SCHEMA + "address", SCHEMA + "streetAddress"),),
    "postcode": ((_PLACE, SCHEMA + "address", SCHEMA + "postalCode"),),
    "city": ((_PLACE, SCHEMA + "address", SCHEMA + "addressLocality"),),
    "dep": ((_PLACE, *_DEPARTEMENT), _DEPARTEMENT),
}
#: schema.org event statuses -> the agenda's status words
STATUSES = {
    "EventScheduled": "scheduled",
    "EventCancelled": "cancelled",
    "EventPostponed": "postponed",
    "EventRescheduled": "rescheduled",
    "EventMovedOnline": "moved-online",
}


PARIS = ZoneInfo("Europe/Paris")


def when(value: str | None) -> datetime | date | None:
    """An ``xsd:dateTime`` (offset kept; Europe/Paris when it has none) or an ``xsd:date``; None if unreadable."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=PARIS)


def instant(value: str | None) -> datetime:
    """A sort key in UTC: a date is its midnight in Paris; an unreadable value sorts last."""
    moment = when(value)
    if moment is None:
        return datetime.max.replace(tzinfo=UTC)
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0), tzinfo=PARIS)
    return moment.astimezone(UTC)


def read_clusters(store: TripleStore, base: str) -> list[dict[str, Any]]:
    """The link step's consolidated initiatives of two or more members (the map draws each as one marker)."""
    from transiscope.downstream.link.linker import consolidated_initiatives

    return [cluster for cluster in consolidated_initiatives(store, base) if len(cluster["members"]) > 1]


def keep_known_members(clusters: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """The clusters restricted to the records still published (a member quarantined since the link step is left
    out); a cluster left with one member is no cluster."""
    out = []
    for cluster in clusters:
        members = [m for m in cluster["members"] if m in known]
        if len(members) > 1:
            out.append({**cluster, "members": members})
    return out


def read_model(store: TripleStore, base: str | None = None) -> ReadModel:
    """Everything the exports publish, as lists in memory, in a stable order; with ``base``, the link step's
    clusters too. The exports themselves stream (:func:`transiscope.downstream.exports.export_all`); this whole
    model is for small stores and tests."""
    concepts, top_order = read_concepts(store)
    sources = read_sources(store)
    initiatives: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    with Spool() as spool:
        scans = [scan_graph(store, graph, spool) for graph in record_graphs(store, base or "")]
        reader = Reader(spool, sources, concepts, read_departements(store))
        parents = {p for scan in scans for p in scan.parents}
        for iri in sorted({i for scan in scans for i in scan.initiatives}):
            record = reader.initiative(iri)
            if record is not None:
                initiatives.append(record)
        for iri in sorted({e for scan in scans for e in scan.events} - parents):
            record = reader.event(iri)
            if record is not None:
                events.append(record)
    events.sort(key=lambda e: (instant(e["start"]), e["id"]))
    clusters: list[dict[str, Any]] = []
    if base is not None:
        clusters = keep_known_members(read_clusters(store, base), {r["id"] for r in initiatives})
    return ReadModel(
        initiatives=initiatives,
        events=events,
        sources=sources,
        concepts=concepts,
        top_order=top_order,
        clusters=clusters,
    )
