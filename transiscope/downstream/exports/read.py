"""What the exports publish, read from the triplestore through the store interface (never from run files).

Three SELECT queries shape the *read model* every writer shares: the initiatives (one row each, single
values), their multi-valued properties (normalised categories, source labels, keywords), the events of the
agenda, and the catalogue of sources (DCAT datasets of the metadata graph) for the credits. Every text is
cleaned again on the way out (:func:`transiscope.core.text.clean_text`: no tag survives, whatever another writer
put in the store), and everything is sorted, so that unchanged data gives the same model, hence the same bytes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
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


class _Scans:
    """Each predicate read once, as a whole, and joined in Python.

    Why: on the on-disk store a join such as ``?s a ts:Initiative ; schema:name ?o`` becomes one index lookup
    per initiative; over 100,000 initiatives and twenty fields that was most of an export. Reading each
    predicate once is a sequential scan of one index, and the joins are dictionary lookups.
    """

    def __init__(self, store: TripleStore) -> None:
        self.store = store
        self._by_predicate: dict[str, dict[str, list[str]]] = {}
        self._typed: dict[str, set[str]] = {}

    def objects(self, predicate: str) -> dict[str, list[str]]:
        found = self._by_predicate.get(predicate)
        if found is None:
            found = defaultdict(list)
            for row in solutions(self.store, f"SELECT ?s ?o WHERE {{ ?s <{predicate}> ?o }}"):
                found[row["s"].value].append(row["o"].value)
            self._by_predicate[predicate] = found = dict(found)
        return found

    def typed(self, cls: str) -> set[str]:
        if cls not in self._typed:
            self._typed[cls] = {r["s"].value for r in solutions(self.store, f"SELECT ?s WHERE {{ ?s a <{cls}> }}")}
        return self._typed[cls]

    def follow(self, subject: str, path: tuple[str, ...]) -> list[str]:
        """The values at the end of ``path`` (predicates; ``a <class>`` steps filter the nodes reached)."""
        nodes = [subject]
        for step in path:
            if step.startswith("a "):
                kept = self.typed(step[2:])
                nodes = [n for n in nodes if n in kept]
            else:
                table = self.objects(step)
                nodes = [o for n in nodes for o in table.get(n, ())]
            if not nodes:
                break
        return nodes


def _multi(scans: _Scans, cls: str, predicate: str) -> dict[str, list[str]]:
    members = scans.typed(cls)
    return {s: sorted(set(v)) for s, v in scans.objects(predicate).items() if s in members}


# -- initiatives ---------------------------------------------------------------------------------------------------
#: field -> paths from the record to its values (several: the smallest value of any of them); a step is a
#: predicate IRI, or ``a <class>`` to keep only the nodes of that class
_Path = tuple[str, ...]
_DEPARTEMENT: _Path = (TS + "inTerritory", "a " + IGEO + "Departement", IGEO + "codeINSEE")
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


def _fields(
    scans: _Scans, cls: str, paths: dict[str, tuple[_Path, ...]], required: tuple[str, ...]
) -> dict[str, dict[str, str | None]]:
    """One row of plain values per subject of ``cls`` that has every ``required`` field; when a field has
    several values (a property given twice), the smallest is kept, so the choice does not depend on the
    store's order."""
    rows: dict[str, dict[str, str | None]] = {}
    for subject in scans.typed(cls):
        row: dict[str, str | None] = {}
        for name, alternatives in paths.items():
            values = [v for path in alternatives for v in scans.follow(subject, path)]
            row[name] = min(values) if values else None
        if all(row[name] is not None for name in required):
            rows[subject] = row
    return rows


def _point(lat: str | None, lon: str | None, wkt: str | None) -> tuple[float | None, float | None]:
    flat, flon = _number(lat), _number(lon)
    if (flat is None or flon is None) and wkt:
        match = _POINT.search(wkt)
        if match:  # CRS84 WKT is lon lat
            flon, flat = float(match.group(1)), float(match.group(2))
    if flat is None or flon is None or not (-90 <= flat <= 90 and -180 <= flon <= 180):
        return None, None
    return flat, flon


def read_initiatives(
    store: TripleStore, sources: dict[str, SourceCredit], concepts: dict[str, Concept]
) -> list[dict[str, Any]]:
    scans = _Scans(store)
    rows = _fields(scans, TS + "Initiative", _INITIATIVE_FIELDS, required=("name", "source"))
    categories = _multi(scans, TS + "Initiative", TS + "category")
    labels = _multi(scans, TS + "Initiative", TS + "sourceCategory")
    keywords = _multi(scans, TS + "Initiative", SCHEMA + "keywords")
    by_iri = {c.iri: c for c in concepts.values()}
    out = []
    for iri in sorted(rows):
        row = rows[iri]
        source = _source_for(sources, row["source"] or "")
        source.initiatives += 1
        lat, lon = _point(row["lat"], row["lon"], row["wkt"])
        notations = sorted(
            {by_iri[c].notation if c in by_iri else c.rsplit("/", 1)[-1] for c in categories.get(iri, [])}
        )
        domains = sorted({concepts[n].top for n in notations if n in concepts})
        postcode = _text(row["postcode"])
        out.append(
            {
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
                "source_categories": [t for t in (_text(v) for v in labels.get(iri, [])) if t],
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
                "keywords": [t for t in (_text(v) for v in keywords.get(iri, [])) if t],
                "upstream_source": _text(row["upstream"]),
                "licence": licence_id(row["licence"] or source.licence),
                "source_url": safe_url(row["page"]),
                "created": row["created"],
                "modified": row["modified"],
            }
        )
    return out


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


def read_events(
    store: TripleStore, sources: dict[str, SourceCredit], concepts: dict[str, Concept]
) -> list[dict[str, Any]]:
    """The agenda: every leaf event (a parent with sub-events is represented by its sub-events)."""
    scans = _Scans(store)
    rows = _fields(scans, SCHEMA + "Event", _EVENT_FIELDS, required=("name", "start"))
    # a parent with sub-events is represented by its sub-events
    parents = set(scans.objects(SCHEMA + "subEvent"))
    parents |= {o for objects in scans.objects(SCHEMA + "superEvent").values() for o in objects}
    rows = {iri: row for iri, row in rows.items() if iri not in parents}
    categories = _multi(scans, SCHEMA + "Event", TS + "category")
    by_iri = {c.iri: c for c in concepts.values()}
    out: list[dict[str, Any]] = []
    for iri, row in rows.items():
        source = _source_for(sources, row["source"] or "") if row["source"] else None
        if source is not None:
            source.events += 1
        lat, lon = _point(row["lat"], row["lon"], row["wkt"])
        notations = sorted(
            {by_iri[c].notation if c in by_iri else c.rsplit("/", 1)[-1] for c in categories.get(iri, [])}
        )
        status = (row["status"] or "").rsplit("/", 1)[-1]
        postcode = _text(row["postcode"])
        out.append(
            {
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
        )
    out.sort(key=lambda e: (instant(e["start"]), e["id"]))
    return out


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


def read_model(store: TripleStore, base: str | None = None) -> ReadModel:
    """Everything the exports publish, in a stable order; with ``base``, the link step's clusters too."""
    concepts, top_order = read_concepts(store)
    sources = read_sources(store)
    initiatives = read_initiatives(store, sources, concepts)
    events = read_events(store, sources, concepts)
    clusters: list[dict[str, Any]] = []
    if base is not None:
        from transiscope.downstream.link.linker import consolidated_initiatives

        known = {r["id"] for r in initiatives}  # a member quarantined since the link step is left out
        for cluster in consolidated_initiatives(store, base):
            members = [m for m in cluster["members"] if m in known]
            if len(members) > 1:
                clusters.append({**cluster, "members": members})
    return ReadModel(
        initiatives=initiatives,
        events=events,
        sources=sources,
        concepts=concepts,
        top_order=top_order,
        clusters=clusters,
    )
