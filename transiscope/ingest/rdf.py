"""Canonical records -> RDF, with stable IRIs (minted from the source id and the record's own id, so a record
keeps its IRI from run to run) and no blank nodes (every node can be named, linked and diffed).

The bulk path builds pyoxigraph terms (which check and escape IRIs and literals) and lets
pyoxigraph serialise N-Triples: close to the f-string floor in speed, without writing our own
serialiser. rdflib stays for the small graphs (ontology, taxonomy, tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from transiscope.core.vocab import (
    DCT,
    GEO,
    PROV,
    SCHEMA,
    SF,
    TS,
    XSD,
    A,
    concept_iri,
    initiative_iri,
    licence_iri,
    quote_id,
    source_iri,
)

_XSD_DECIMAL = ox.NamedNode(XSD + "decimal")
_XSD_DATE = ox.NamedNode(XSD + "date")
_XSD_DATETIME = ox.NamedNode(XSD + "dateTime")
_XSD_ANYURI = ox.NamedNode(XSD + "anyURI")
_WKT = ox.NamedNode(GEO + "wktLiteral")


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


class Terms:
    """The predicate and class nodes, built once (building NamedNodes in the loop costs time)."""

    Organization: ox.NamedNode
    PostalAddress: ox.NamedNode
    GeoCoordinates: ox.NamedNode
    name: ox.NamedNode
    description: ox.NamedNode
    url: ox.NamedNode
    email: ox.NamedNode
    telephone: ox.NamedNode
    openingHours: ox.NamedNode
    address: ox.NamedNode
    streetAddress: ox.NamedNode
    postalCode: ox.NamedNode
    addressLocality: ox.NamedNode
    addressCountry: ox.NamedNode
    geo: ox.NamedNode
    latitude: ox.NamedNode
    longitude: ox.NamedNode
    dateCreated: ox.NamedNode
    dateModified: ox.NamedNode
    identifier: ox.NamedNode
    keywords: ox.NamedNode

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
            setattr(self, name, _n(SCHEMA + name))
        self.Initiative = _n(TS + "Initiative")
        self.category = _n(TS + "category")
        self.sourceCategory = _n(TS + "sourceCategory")
        self.source = _n(TS + "source")
        self.sourceId = _n(TS + "sourceId")
        self.upstreamSource = _n(TS + "upstreamSource")
        self.Geometry = _n(GEO + "Geometry")
        self.Point = _n(SF + "Point")
        self.hasGeometry = _n(GEO + "hasGeometry")
        self.positionPrecision = _n(TS + "positionPrecision")
        self.positionMethod = _n(TS + "positionMethod")
        self.asWKT = _n(GEO + "asWKT")
        self.license = _n(DCT + "license")
        self.wasDerivedFrom = _n(PROV + "wasDerivedFrom")


def decimal_text(value: float) -> str:
    """A float as an ``xsd:decimal`` lexical form: the shortest digits that round-trip, never ``2.9e-05``.

    ``repr()`` switches to exponent notation below 1e-4, which is not a valid ``xsd:decimal`` (SHACL and
    SPARQL casts reject it) and not what a reader expects in a WKT point.
    """
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def _date_literal(value: str) -> ox.Literal:
    return ox.Literal(value, datatype=_XSD_DATE if len(value) == 10 else _XSD_DATETIME)


def _iri_or_none(value: str | None) -> ox.NamedNode | None:
    if not value:
        return None
    try:
        return ox.NamedNode(value)
    except ValueError:
        return None


def initiative_triples(record: dict[str, Any], base: str, t: Terms) -> Iterator[ox.Triple]:
    """The triples of one valid canonical initiative record."""
    T = ox.Triple
    iri = initiative_iri(base, record["source"], record["source_id"])
    s = ox.NamedNode(iri)
    yield T(s, A, t.Organization)
    yield T(s, A, t.Initiative)
    yield T(s, t.name, ox.Literal(record["name"]))
    yield T(s, t.source, ox.NamedNode(source_iri(base, record["source"])))
    yield T(s, t.sourceId, ox.Literal(record["source_id"]))
    if record.get("description"):
        yield T(s, t.description, ox.Literal(record["description"]))
    for label in record.get("categories") or ():
        yield T(s, t.sourceCategory, ox.Literal(label))
    for notation in record.get("concepts") or ():
        yield T(s, t.category, ox.NamedNode(concept_iri(notation)))
    lat, lon = record.get("lat"), record.get("lon")
    if lat is not None and lon is not None:
        g = ox.NamedNode(iri + "/geometry")
        yield T(s, t.hasGeometry, g)
        yield T(s, t.geo, g)
        yield T(g, A, t.Geometry)
        yield T(g, A, t.Point)
        yield T(g, A, t.GeoCoordinates)
        # CRS84 WKT is lon lat; every digit the source gave is kept, never in exponent form
        lat_text, lon_text = decimal_text(lat), decimal_text(lon)
        yield T(g, t.asWKT, ox.Literal(f"POINT({lon_text} {lat_text})", datatype=_WKT))
        yield T(g, t.latitude, ox.Literal(lat_text, datatype=_XSD_DECIMAL))
        yield T(g, t.longitude, ox.Literal(lon_text, datatype=_XSD_DECIMAL))
        # an exact pin or a commune's reference point, and how it was obtained (the geocode stage)
        if record.get("geo_precision"):
            yield T(g, t.positionPrecision, ox.Literal(record["geo_precision"]))
        if record.get("geo_method"):
            yield T(g, t.positionMethod, ox.Literal(record["geo_method"]))
    address = [
        (t.streetAddress, record.get("street")),
        (t.postalCode, record.get("postcode")),
        (t.addressLocality, record.get("city")),
        (t.addressCountry, record.get("country")),
    ]
    if any(value for _, value in address):
        a = ox.NamedNode(iri + "/address")
        yield T(s, t.address, a)
        yield T(a, A, t.PostalAddress)
        for predicate, value in address:
            if value:
                yield T(a, predicate, ox.Literal(value))
    if record.get("website"):
        yield T(s, t.url, ox.Literal(record["website"], datatype=_XSD_ANYURI))
    if record.get("email"):
        yield T(s, t.email, ox.Literal(record["email"]))
    if record.get("phone"):
        yield T(s, t.telephone, ox.Literal(record["phone"]))
    if record.get("opening_hours"):
        yield T(s, t.openingHours, ox.Literal(record["opening_hours"]))
    for tag in record.get("tags") or ():
        yield T(s, t.keywords, ox.Literal(tag))
    if record.get("upstream_source"):
        yield T(s, t.upstreamSource, ox.Literal(record["upstream_source"]))
    yield from _origin_triples(s, record, t)


def _origin_triples(s: ox.NamedNode, record: dict[str, Any], t: Any) -> Iterator[ox.Triple]:
    """Licence, the record's page at its source and its dates: the same for initiatives and events."""
    T = ox.Triple
    if record.get("licence"):
        yield T(s, t.license, ox.NamedNode(licence_iri(record["licence"])))
    page = _iri_or_none(record.get("source_url"))
    if page is not None:
        yield T(s, t.wasDerivedFrom, page)
    if record.get("created_at"):
        yield T(s, t.dateCreated, _date_literal(record["created_at"]))
    if record.get("updated_at"):
        yield T(s, t.dateModified, _date_literal(record["updated_at"]))


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


class EventTerms:
    """The nodes of event triples, built once per run (see :class:`Terms`)."""

    Event: ox.NamedNode
    Place: ox.NamedNode
    Organization: ox.NamedNode
    PostalAddress: ox.NamedNode
    GeoCoordinates: ox.NamedNode
    name: ox.NamedNode
    description: ox.NamedNode
    url: ox.NamedNode
    startDate: ox.NamedNode
    endDate: ox.NamedNode
    location: ox.NamedNode
    eventStatus: ox.NamedNode
    superEvent: ox.NamedNode
    subEvent: ox.NamedNode
    organizer: ox.NamedNode
    address: ox.NamedNode
    streetAddress: ox.NamedNode
    postalCode: ox.NamedNode
    addressLocality: ox.NamedNode
    addressCountry: ox.NamedNode
    geo: ox.NamedNode
    latitude: ox.NamedNode
    longitude: ox.NamedNode
    keywords: ox.NamedNode
    dateCreated: ox.NamedNode
    dateModified: ox.NamedNode
    email: ox.NamedNode
    telephone: ox.NamedNode

    def __init__(self) -> None:
        for name in (
            "Event",
            "Place",
            "Organization",
            "PostalAddress",
            "GeoCoordinates",
            "name",
            "description",
            "url",
            "startDate",
            "endDate",
            "location",
            "eventStatus",
            "superEvent",
            "subEvent",
            "organizer",
            "address",
            "streetAddress",
            "postalCode",
            "addressLocality",
            "addressCountry",
            "geo",
            "latitude",
            "longitude",
            "keywords",
            "dateCreated",
            "dateModified",
            "email",
            "telephone",
        ):
            setattr(self, name, _n(SCHEMA + name))
        self.status = {key: _n(SCHEMA + value) for key, value in EVENT_STATUS.items()}
        self.category = _n(TS + "category")
        self.sourceCategory = _n(TS + "sourceCategory")
        self.source = _n(TS + "source")
        self.sourceId = _n(TS + "sourceId")
        self.Geometry = _n(GEO + "Geometry")
        self.Point = _n(SF + "Point")
        self.hasGeometry = _n(GEO + "hasGeometry")
        self.asWKT = _n(GEO + "asWKT")
        self.license = _n(DCT + "license")
        self.wasDerivedFrom = _n(PROV + "wasDerivedFrom")


def _time_literal(value: str) -> ox.Literal:
    """An all-day date stays ``xsd:date``; a time is an ``xsd:dateTime`` with its offset (never floating)."""
    return ox.Literal(value, datatype=_XSD_DATE if len(value) == 10 else _XSD_DATETIME)


def event_triples(
    record: dict[str, Any], base: str, t: EventTerms, links: list[tuple[str, str, str]] | None = None
) -> Iterator[ox.Triple]:
    """The triples of one valid canonical event record.

    ``links``: when given, the link to the parent event is appended there as (source, child id, parent
    id) instead of written, so that :func:`write_ntriples` writes it only when the parent is in the
    batch too (a quarantined parent must leave no dangling ``schema:superEvent``).
    Whether an event is past is not written: it changes with time, not with the data; the agenda
    queries compare ``schema:endDate`` with the time of the query.
    """
    T = ox.Triple
    iri = event_iri(base, record["source"], record["source_id"])
    s = ox.NamedNode(iri)
    yield T(s, A, t.Event)
    yield T(s, t.name, ox.Literal(record["name"]))
    yield T(s, t.source, ox.NamedNode(source_iri(base, record["source"])))
    yield T(s, t.sourceId, ox.Literal(record["source_id"]))
    yield T(s, t.startDate, _time_literal(record["start"]))
    if record.get("end"):
        yield T(s, t.endDate, _time_literal(record["end"]))
    yield T(s, t.eventStatus, t.status.get(record.get("status") or "scheduled", t.status["scheduled"]))
    if record.get("description"):
        yield T(s, t.description, ox.Literal(record["description"]))
    for label in record.get("categories") or ():
        yield T(s, t.sourceCategory, ox.Literal(label))
    for notation in record.get("concepts") or ():
        yield T(s, t.category, ox.NamedNode(concept_iri(notation)))
    for tag in record.get("tags") or ():
        yield T(s, t.keywords, ox.Literal(tag))
    website = record.get("website") or record.get("source_url")
    if website:
        yield T(s, t.url, ox.Literal(website, datatype=_XSD_ANYURI))
    if record.get("email"):
        yield T(s, t.email, ox.Literal(record["email"]))
    if record.get("phone"):
        yield T(s, t.telephone, ox.Literal(record["phone"]))
    parent = record.get("parent_id")
    if parent and links is not None:
        links.append((record["source"], record["source_id"], parent))
    elif parent:
        yield from parent_links(base, record["source"], record["source_id"], parent, t)
    if record.get("organizer"):
        o = ox.NamedNode(iri + "/organizer")
        yield T(s, t.organizer, o)
        yield T(o, A, t.Organization)
        yield T(o, t.name, ox.Literal(record["organizer"]))
    yield from _place_triples(record, iri, t)
    yield from _origin_triples(s, record, t)


def parent_links(base: str, source: str, child: str, parent: str, t: EventTerms) -> Iterator[ox.Triple]:
    c, p = ox.NamedNode(event_iri(base, source, child)), ox.NamedNode(event_iri(base, source, parent))
    yield ox.Triple(c, t.superEvent, p)
    yield ox.Triple(p, t.subEvent, c)


def _place_triples(record: dict[str, Any], iri: str, t: EventTerms) -> Iterator[ox.Triple]:
    """``schema:location`` -> a ``schema:Place`` (name, address, point), minted under the event's IRI."""
    T = ox.Triple
    lat, lon = record.get("lat"), record.get("lon")
    address = [
        (t.streetAddress, record.get("street")),
        (t.postalCode, record.get("postcode")),
        (t.addressLocality, record.get("city")),
        (t.addressCountry, record.get("country")),
    ]
    has_point = lat is not None and lon is not None
    if not (record.get("location_name") or has_point or any(v for _, v in address)):
        return
    place = ox.NamedNode(iri + "/place")
    yield T(ox.NamedNode(iri), t.location, place)
    yield T(place, A, t.Place)
    if record.get("location_name"):
        yield T(place, t.name, ox.Literal(record["location_name"]))
    if has_point:
        g = ox.NamedNode(iri + "/place/geometry")
        assert lat is not None and lon is not None  # has_point
        lon_text, lat_text = decimal_text(lon), decimal_text(lat)
        yield T(place, t.hasGeometry, g)
        yield T(place, t.geo, g)
        yield T(g, A, t.Geometry)
        yield T(g, A, t.Point)
        yield T(g, A, t.GeoCoordinates)
        yield T(g, t.asWKT, ox.Literal(f"POINT({lon_text} {lat_text})", datatype=_WKT))
        yield T(g, t.latitude, ox.Literal(lat_text, datatype=_XSD_DECIMAL))
        yield T(g, t.longitude, ox.Literal(lon_text, datatype=_XSD_DECIMAL))
    if any(value for _, value in address):
        a = ox.NamedNode(iri + "/place/address")
        yield T(place, t.address, a)
        yield T(a, A, t.PostalAddress)
        for predicate, value in address:
            if value:
                yield T(a, predicate, ox.Literal(value))


def write_ntriples(
    records: Iterable[dict[str, Any]], base: str, destination: Path, classes: Counter[str] | None = None
) -> int:
    """Write the triples of ``records`` as N-Triples; returns the number of triples written.

    ``classes``, when given, receives the number of entities of each class (for VoID statistics).
    """
    terms = Terms()
    event_terms = EventTerms()
    count = 0
    links: list[tuple[str, str, str]] = []
    events: set[tuple[str, str]] = set()

    def triples() -> Iterator[ox.Triple]:
        for record in records:
            if is_event(record):
                events.add((record["source"], record["source_id"]))
                yield from event_triples(record, base, event_terms, links)
            else:
                yield from initiative_triples(record, base, terms)
        for source, child, parent in links:  # sub-events: only to a parent loaded in the same batch
            if (source, parent) in events:
                yield from parent_links(base, source, child, parent, event_terms)

    def counted() -> Iterator[ox.Triple]:
        nonlocal count
        for triple in triples():
            count += 1
            if classes is not None and triple.predicate == A:
                kind = triple.object
                assert isinstance(kind, ox.NamedNode)  # rdf:type objects are classes
                classes[kind.value] += 1
            yield triple

    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        ox.serialize(counted(), out, ox.RdfFormat.N_TRIPLES)
    return count
