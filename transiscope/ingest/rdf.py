"""Canonical records -> RDF, with stable IRIs (minted from the source id and the record's own id, so a record
keeps its IRI from run to run) and no blank nodes (every node can be named, linked and diffed).

The bulk path writes N-Triples lines itself: every constant term (predicates, classes, the base IRIs, the
datatype suffixes) is serialised once per run (:class:`Terms`), and the values of a record go through one
escaping function for literals (:func:`literal`) and one checker for the IRIs that come from a source
(:func:`iri`, pyoxigraph's own IRI parser). Why not pyoxigraph terms and its serialiser: building one
``NamedNode``/``Literal``/``Triple`` per value cost 2× the whole mapping floor (issue 26); the escaping is
tested against pyoxigraph's writer on hostile strings (tests/unit/test_ntriples_escaping.py), so the
output is the bytes pyoxigraph would write. rdflib stays for the small graphs (ontology, taxonomy, tests).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from transiscope.core.vocab import (
    DCT,
    GEO,
    PROV,
    RDF,
    SCHEMA,
    SF,
    TS,
    XSD,
    concept_iri,
    initiative_iri,
    licence_iri,
    quote_id,
    source_iri,
)

# -- N-Triples terms ---------------------------------------------------------------------------------------
#: the characters a literal cannot hold as they are: N-Triples' ECHAR set, the other C0 controls, DEL and the
#: non-characters U+FFFE and U+FFFF as ``\\uXXXX`` (upper-case hex, as pyoxigraph writes them), and lone
#: surrogates (no UTF-8 form, and no RDF string may hold one: they become U+FFFD, the replacement character,
#: rather than fail the whole batch)
_LITERAL_ESCAPES: dict[int, str] = {
    **{c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F, 0xFFFE, 0xFFFF)},
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    **{c: "\ufffd" for c in range(0xD800, 0xE000)},
}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f\ud800-\udfff\ufffe\uffff]')


def literal(value: str) -> str:
    """The N-Triples form of a plain string literal, quotes included (``"a \\"b\\""``).

    Most values need no escaping: one regular-expression search (in C) says so, and only the others go
    through ``str.translate``.
    """
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    return f'"{value.translate(_LITERAL_ESCAPES)}"'


def iri(value: str) -> str | None:
    """``<value>`` when ``value`` is an absolute IRI that N-Triples can hold, else None.

    pyoxigraph's own IRI parser decides (the one its writer relies on), so a source's page URL with a space
    or a ``<`` is left out exactly as before.
    """
    if not value:
        return None
    try:
        return str(ox.NamedNode(value))
    except ValueError:
        return None


#: the same, cached: for the few IRIs every record of a run shares (licences)
constant_iri = lru_cache(maxsize=1024)(iri)


def _node(value: str) -> str:
    """``<value>`` for an IRI the bus mints itself (from percent-encoded parts): it must be valid."""
    checked = constant_iri(value)
    if checked is None:
        raise ValueError(f"not an IRI: {value!r}")
    return checked


A = f"<{RDF}type>"
_DECIMAL = f"^^<{XSD}decimal>"
_DATE = f"^^<{XSD}date>"
_DATETIME = f"^^<{XSD}dateTime>"
_ANYURI = f"^^<{XSD}anyURI>"
_WKT = f"^^<{GEO}wktLiteral>"


def decimal_text(value: float) -> str:
    """A float as an ``xsd:decimal`` lexical form: the shortest digits that round-trip, never ``2.9e-05``.

    ``repr()`` switches to exponent notation below 1e-4, which is not a valid ``xsd:decimal`` (SHACL and
    SPARQL casts reject it) and not what a reader expects in a WKT point.
    """
    text = repr(float(value))
    if "e" not in text and "n" not in text:  # the common case: repr is already the positional form
        return text
    text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def _date_literal(value: str) -> str:
    return literal(value) + (_DATE if len(value) == 10 else _DATETIME)


_time_literal = _date_literal  # an all-day date stays xsd:date; a time is an xsd:dateTime with its offset


class Terms:
    """The predicates and classes of initiative triples, serialised once per run (``<…>`` strings)."""

    Organization: str
    PostalAddress: str
    GeoCoordinates: str
    name: str
    description: str
    url: str
    email: str
    telephone: str
    openingHours: str
    address: str
    streetAddress: str
    postalCode: str
    addressLocality: str
    addressCountry: str
    geo: str
    latitude: str
    longitude: str
    dateCreated: str
    dateModified: str
    identifier: str
    keywords: str

    def __init__(self) -> None:
        for name in (
            "Organization",
            "PostalAddress",
            "GeoCoordinates",
            "name",
            "description",
            "url",
            "email",
            "telephone",
            "openingHours",
            "address",
            "streetAddress",
            "postalCode",
            "addressLocality",
            "addressCountry",
            "geo",
            "latitude",
            "longitude",
            "dateCreated",
            "dateModified",
            "identifier",
            "keywords",
        ):
            setattr(self, name, f"<{SCHEMA}{name}>")
        self.Initiative = f"<{TS}Initiative>"
        self.category = f"<{TS}category>"
        self.sourceCategory = f"<{TS}sourceCategory>"
        self.source = f"<{TS}source>"
        self.sourceId = f"<{TS}sourceId>"
        self.upstreamSource = f"<{TS}upstreamSource>"
        self.Geometry = f"<{GEO}Geometry>"
        self.Point = f"<{SF}Point>"
        self.hasGeometry = f"<{GEO}hasGeometry>"
        self.positionPrecision = f"<{TS}positionPrecision>"
        self.positionMethod = f"<{TS}positionMethod>"
        self.asWKT = f"<{GEO}asWKT>"
        self.license = f"<{DCT}license>"
        self.wasDerivedFrom = f"<{PROV}wasDerivedFrom>"
        self.concepts: dict[str, str] = {}
        self.sources: dict[tuple[str, str], str] = {}
        self.prefixes: dict[tuple[str, str, str], str] = {}
        self.licences: dict[str, str | None] = {}

    def concept(self, notation: str) -> str:
        """``<concept IRI>`` of a taxonomy notation, built once per notation and run."""
        node = self.concepts.get(notation)
        if node is None:
            node = self.concepts[notation] = _node(concept_iri(notation))
        return node

    def prefix(self, base: str, source: str, kind: str = "initiative") -> str:
        """``{base}id/{kind}/{source}/``: the start of the IRIs of a source's records, built once."""
        key = (base, source, kind)
        node = self.prefixes.get(key)
        if node is None:
            node = self.prefixes[key] = f"{base}id/{kind}/{quote_id(source)}/"
        return node

    def licence(self, licence: str) -> str | None:
        """``<licence IRI>`` of an SPDX id or a licence IRI (None when it makes no IRI), built once."""
        try:
            return self.licences[licence]
        except KeyError:
            node = self.licences[licence] = iri(licence_iri(licence))
            return node

    def source_node(self, base: str, source: str) -> str:
        node = self.sources.get((base, source))
        if node is None:
            node = self.sources[(base, source)] = _node(source_iri(base, source))
        return node


def _point_lines(out: list[str], subject: str, g: str, lat: float, lon: float, t: Any) -> None:
    """geo:hasGeometry and schema:geo to one node that is a WKT point and schema:GeoCoordinates."""
    # CRS84 WKT is lon lat; every digit the source gave is kept, never in exponent form
    lat_text, lon_text = decimal_text(lat), decimal_text(lon)
    out.append(
        f"{subject} {t.hasGeometry} {g} .\n"
        f"{subject} {t.geo} {g} .\n"
        f"{g} {A} {t.Geometry} .\n"
        f"{g} {A} {t.Point} .\n"
        f"{g} {A} {t.GeoCoordinates} .\n"
        f'{g} {t.asWKT} "POINT({lon_text} {lat_text})"{_WKT} .\n'
        f'{g} {t.latitude} "{lat_text}"{_DECIMAL} .\n'
        f'{g} {t.longitude} "{lon_text}"{_DECIMAL} .\n'
    )


def _address_lines(out: list[str], subject: str, a: str, record: dict[str, Any], t: Any) -> bool:
    """schema:address to a schema:PostalAddress, when the record has some part of one."""
    street, postcode, city, country = (
        record.get("street"),
        record.get("postcode"),
        record.get("city"),
        record.get("country"),
    )
    if not (street or postcode or city or country):
        return False
    out.append(f"{subject} {t.address} {a} .\n{a} {A} {t.PostalAddress} .\n")
    if street:
        out.append(f"{a} {t.streetAddress} {literal(street)} .\n")
    if postcode:
        out.append(f"{a} {t.postalCode} {literal(postcode)} .\n")
    if city:
        out.append(f"{a} {t.addressLocality} {literal(city)} .\n")
    if country:
        out.append(f"{a} {t.addressCountry} {literal(country)} .\n")
    return True


def initiative_lines(record: dict[str, Any], base: str, t: Terms, out: list[str]) -> None:
    """The N-Triples lines of one valid canonical initiative record, appended to ``out``."""
    source, source_id = record["source"], record["source_id"]
    node = t.prefix(base, source) + quote_id(source_id)  # initiative_iri, its constant part built once
    s = f"<{node}>"  # a checked base and percent-encoded parts (quote_id): always an IRI
    out.append(
        f"{s} {A} {t.Organization} .\n"
        f"{s} {A} {t.Initiative} .\n"
        f"{s} {t.name} {literal(record['name'])} .\n"
        f"{s} {t.source} {t.source_node(base, source)} .\n"
        f"{s} {t.sourceId} {literal(source_id)} .\n"
    )
    if record.get("description"):
        out.append(f"{s} {t.description} {literal(record['description'])} .\n")
    for label in record.get("categories") or ():
        out.append(f"{s} {t.sourceCategory} {literal(label)} .\n")
    for notation in record.get("concepts") or ():
        out.append(f"{s} {t.category} {t.concept(notation)} .\n")
    lat, lon = record.get("lat"), record.get("lon")
    if lat is not None and lon is not None:
        g = f"<{node}/geometry>"
        _point_lines(out, s, g, lat, lon, t)
        # an exact pin or a commune's reference point, and how it was obtained (the geocode stage)
        if record.get("geo_precision"):
            out.append(f"{g} {t.positionPrecision} {literal(record['geo_precision'])} .\n")
        if record.get("geo_method"):
            out.append(f"{g} {t.positionMethod} {literal(record['geo_method'])} .\n")
    _address_lines(out, s, f"<{node}/address>", record, t)
    if record.get("website"):
        out.append(f"{s} {t.url} {literal(record['website'])}{_ANYURI} .\n")
    if record.get("email"):
        out.append(f"{s} {t.email} {literal(record['email'])} .\n")
    if record.get("phone"):
        out.append(f"{s} {t.telephone} {literal(record['phone'])} .\n")
    if record.get("opening_hours"):
        out.append(f"{s} {t.openingHours} {literal(record['opening_hours'])} .\n")
    for tag in record.get("tags") or ():
        out.append(f"{s} {t.keywords} {literal(tag)} .\n")
    if record.get("upstream_source"):
        out.append(f"{s} {t.upstreamSource} {literal(record['upstream_source'])} .\n")
    _origin_lines(out, s, record, t)


def _origin_lines(out: list[str], s: str, record: dict[str, Any], t: Any) -> None:
    """Licence, the record's page at its source and its dates: the same for initiatives and events."""
    if record.get("licence"):
        licence = t.licence(record["licence"])
        if licence is not None:
            out.append(f"{s} {t.license} {licence} .\n")
    page = iri(record["source_url"]) if record.get("source_url") else None
    if page is not None:
        out.append(f"{s} {t.wasDerivedFrom} {page} .\n")
    if record.get("created_at"):
        out.append(f"{s} {t.dateCreated} {_date_literal(record['created_at'])} .\n")
    if record.get("updated_at"):
        out.append(f"{s} {t.dateModified} {_date_literal(record['updated_at'])} .\n")


def _triples(lines: list[str]) -> Iterator[ox.Triple]:
    """pyoxigraph's triples of N-Triples lines (for callers that want terms, not text)."""
    for quad in ox.parse("".join(lines).encode("utf-8"), format=ox.RdfFormat.N_TRIPLES):
        yield quad.triple if isinstance(quad, ox.Quad) else quad


def initiative_triples(record: dict[str, Any], base: str, t: Terms | None = None) -> Iterator[ox.Triple]:
    """The triples of one valid canonical initiative record, as terms (the lines of
    :func:`initiative_lines`, parsed: one definition of what a record becomes)."""
    lines: list[str] = []
    initiative_lines(record, base, t or Terms(), lines)
    return _triples(lines)


# -- events (the agenda) ---------------------------------------------------------------------------
#: canonical event status -> schema.org EventStatusType
EVENT_STATUS = {
    "scheduled": "EventScheduled",
    "cancelled": "EventCancelled",
    "postponed": "EventPostponed",
    "rescheduled": "EventRescheduled",
    "moved-online": "EventMovedOnline",
}


def event_iri(base: str, source_id: str, record_id: str) -> str:
    return f"{base}id/event/{quote_id(source_id)}/{quote_id(record_id)}"


def is_event(record: dict[str, Any]) -> bool:
    """Event records carry a ``start`` column; initiative records never do."""
    return "start" in record


def record_iri(base: str, record: dict[str, Any]) -> str:
    """The IRI of the entity a canonical record becomes (an initiative or an event)."""
    mint = event_iri if is_event(record) else initiative_iri
    return mint(base, record["source"], record["source_id"])


class EventTerms(Terms):
    """The nodes of event triples, serialised once per run (see :class:`Terms`)."""

    Event: str
    Place: str
    startDate: str
    endDate: str
    location: str
    eventStatus: str
    superEvent: str
    subEvent: str
    organizer: str

    def __init__(self) -> None:
        super().__init__()
        for name in (
            "Event",
            "Place",
            "startDate",
            "endDate",
            "location",
            "eventStatus",
            "superEvent",
            "subEvent",
            "organizer",
        ):
            setattr(self, name, f"<{SCHEMA}{name}>")
        self.status = {key: f"<{SCHEMA}{value}>" for key, value in EVENT_STATUS.items()}


def event_lines(
    record: dict[str, Any], base: str, t: EventTerms, out: list[str], links: list[tuple[str, str, str]] | None = None
) -> None:
    """The N-Triples lines of one valid canonical event record, appended to ``out``.

    ``links``: when given, the link to the parent event is appended there as (source, child id, parent
    id) instead of written, so that :func:`write_ntriples` writes it only when the parent is in the
    batch too (a quarantined parent must leave no dangling ``schema:superEvent``).
    Whether an event is past is not written: it changes with time, not with the data; the agenda
    queries compare ``schema:endDate`` with the time of the query.
    """
    node = t.prefix(base, record["source"], "event") + quote_id(record["source_id"])  # event_iri
    s = f"<{node}>"  # a checked base and percent-encoded parts (quote_id): always an IRI
    out.append(f"{s} {A} {t.Event} .\n")
    out.append(f"{s} {t.name} {literal(record['name'])} .\n")
    out.append(f"{s} {t.source} {t.source_node(base, record['source'])} .\n")
    out.append(f"{s} {t.sourceId} {literal(record['source_id'])} .\n")
    out.append(f"{s} {t.startDate} {_time_literal(record['start'])} .\n")
    if record.get("end"):
        out.append(f"{s} {t.endDate} {_time_literal(record['end'])} .\n")
    status = t.status.get(record.get("status") or "scheduled", t.status["scheduled"])
    out.append(f"{s} {t.eventStatus} {status} .\n")
    if record.get("description"):
        out.append(f"{s} {t.description} {literal(record['description'])} .\n")
    for label in record.get("categories") or ():
        out.append(f"{s} {t.sourceCategory} {literal(label)} .\n")
    for notation in record.get("concepts") or ():
        out.append(f"{s} {t.category} {t.concept(notation)} .\n")
    for tag in record.get("tags") or ():
        out.append(f"{s} {t.keywords} {literal(tag)} .\n")
    website = record.get("website") or record.get("source_url")
    if website:
        out.append(f"{s} {t.url} {literal(website)}{_ANYURI} .\n")
    if record.get("email"):
        out.append(f"{s} {t.email} {literal(record['email'])} .\n")
    if record.get("phone"):
        out.append(f"{s} {t.telephone} {literal(record['phone'])} .\n")
    parent = record.get("parent_id")
    if parent and links is not None:
        links.append((record["source"], record["source_id"], parent))
    elif parent:
        parent_lines(base, record["source"], record["source_id"], parent, t, out)
    if record.get("organizer"):
        o = f"<{node}/organizer>"
        out.append(f"{s} {t.organizer} {o} .\n")
        out.append(f"{o} {A} {t.Organization} .\n")
        out.append(f"{o} {t.name} {literal(record['organizer'])} .\n")
    _place_lines(out, record, node, s, t)
    _origin_lines(out, s, record, t)


def event_triples(
    record: dict[str, Any], base: str, t: EventTerms | None = None, links: list[tuple[str, str, str]] | None = None
) -> Iterator[ox.Triple]:
    """The triples of one valid canonical event record, as terms (:func:`event_lines`, parsed)."""
    lines: list[str] = []
    event_lines(record, base, t or EventTerms(), lines, links)
    return _triples(lines)


def parent_lines(base: str, source: str, child: str, parent: str, t: EventTerms, out: list[str]) -> None:
    c, p = _node(event_iri(base, source, child)), _node(event_iri(base, source, parent))
    out.append(f"{c} {t.superEvent} {p} .\n")
    out.append(f"{p} {t.subEvent} {c} .\n")


def _place_lines(out: list[str], record: dict[str, Any], node: str, s: str, t: EventTerms) -> None:
    """``schema:location`` -> a ``schema:Place`` (name, address, point), minted under the event's IRI."""
    lat, lon = record.get("lat"), record.get("lon")
    has_point = lat is not None and lon is not None
    has_address = any(record.get(column) for column in ("street", "postcode", "city", "country"))
    if not (record.get("location_name") or has_point or has_address):
        return
    place = f"<{node}/place>"
    out.append(f"{s} {t.location} {place} .\n")
    out.append(f"{place} {A} {t.Place} .\n")
    if record.get("location_name"):
        out.append(f"{place} {t.name} {literal(record['location_name'])} .\n")
    if has_point:
        assert lat is not None and lon is not None  # has_point
        _point_lines(out, place, f"<{node}/place/geometry>", lat, lon, t)
    _address_lines(out, place, f"<{node}/place/address>", record, t)


#: an rdf:type line (the subject holds no space, so the type is the predicate): its class
_TYPE_LINE = re.compile(f"^<[^ ]*> {re.escape(A)} <([^>]*)> \\.$", re.MULTILINE)


def write_ntriples(
    records: Iterable[dict[str, Any]], base: str, destination: Path, classes: Counter[str] | None = None
) -> int:
    """Write the triples of ``records`` as N-Triples; returns the number of triples written.

    ``classes``, when given, receives the number of entities of each class (for VoID statistics).
    """
    _node(base + "id/")  # a base IRI that is no IRI fails here, once, not in every record's lines
    terms = Terms()
    event_terms = EventTerms()
    count = 0
    links: list[tuple[str, str, str]] = []
    events: set[tuple[str, str]] = set()
    lines: list[str] = []

    def flush(handle: Any) -> None:
        nonlocal count
        text = "".join(lines)
        count += text.count("\n")  # one triple a line: no literal holds a line break unescaped
        if classes is not None:
            classes.update(_TYPE_LINE.findall(text))
        handle.write(text)
        lines.clear()

    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8", newline="") as out:
        for record in records:
            if is_event(record):
                events.add((record["source"], record["source_id"]))
                event_lines(record, base, event_terms, lines, links)
            else:
                initiative_lines(record, base, terms, lines)
            if len(lines) > 5_000:
                flush(out)
        for source, child, parent in links:  # sub-events: only to a parent loaded in the same batch
            if (source, parent) in events:
                parent_lines(base, source, child, parent, event_terms, lines)
        flush(out)
    return count
