"""A store for the export and map tests: the three GoGoCarto samples loaded by the real pipeline, plus a small
agenda and one hostile initiative written straight into the store, as another writer of the store could.

The events follow the model of the event connectors (schema:Event with xsd:dateTime start/end,
schema:location -> schema:Place with schema:geo or geo:hasGeometry, schema:eventStatus, ts:category,
ts:source), with the cases the agenda must handle: an all-day event, a cancelled one, a parent with
sub-events, text with commas and semicolons, and markup in a description.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import SOURCE_IDS, PayloadServer, sample_path, write_registry
from transiscope import jobs
from transiscope.core.vocab import SCHEMA, TS, TX, XSD
from transiscope.settings import Settings
from transiscope.store.embedded import EmbeddedStore

BASE = "https://w3id.org/transiscope/"
EVENT_SOURCE = "agenda-test"
EVENT_GRAPH = f"{BASE}graph/source/{EVENT_SOURCE}"
HOSTILE_IRI = f"{BASE}id/initiative/{EVENT_SOURCE}/evil"
HOSTILE_NAME = '<script>alert("x")</script>=HYPERLINK("http://evil.example/"); Evil & co'
#: opening hours in OSM syntax that GoGoCarto's day map cannot hold (a range of days, public holidays)
HOSTILE_HOURS = "Mo-Fr 09:00-12:30; Sa 10:00-12:00; PH off"
GEO = "http://www.opengis.net/ont/geosparql#"
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"


def _lit(value: str, datatype: str | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return f"{text}^^<{datatype}>" if datatype else text


def event_triples(today: date) -> tuple[str, dict[str, dict]]:
    """N-Triples-like body of the agenda fixture, and what each event should look like in the exports."""
    soon = datetime.combine(today + timedelta(days=10), time(18, 30), tzinfo=ZoneInfo("Europe/Paris"))
    events = {
        "repair": {
            "name": "Repair café, vélo; et couture",
            "start": soon.isoformat(),
            "end": (soon + timedelta(hours=2)).isoformat(),
            "cat": "repair-cafes",
            "lat": "45.7675",
            "lon": "4.8345",
            "postcode": "69001",
            "status": "EventScheduled",
            "description": "<img src=x onerror=alert(1)>Apportez vos objets\nEt vos outils.",
        },
        "allday": {
            "name": "Fête des jardins",
            "start": (today + timedelta(days=20)).isoformat(),
            "end": (today + timedelta(days=21)).isoformat(),
            "cat": "jardins-partages",
            "wkt": True,
            "lat": "48.8566",
            "lon": "2.3522",
            "postcode": "75004",
            "status": "EventScheduled",
        },
        "cancelled": {
            "name": "Marche pour le climat",
            "start": (soon + timedelta(days=3)).isoformat(),
            "cat": "climat-energie",
            "lat": "45.76",
            "lon": "4.84",
            "postcode": "69002",
            "status": "EventCancelled",
        },
        "festival": {
            "name": "Festival des alternatives",
            "start": (soon + timedelta(days=30)).isoformat(),
            "cat": "culture",
            "lat": "43.6",
            "lon": "1.44",
            "postcode": "31000",
            "status": "EventScheduled",
            "children": ["festival-day1", "festival-day2"],
        },
        "festival-day1": {
            "name": "Festival — jour 1",
            "start": (soon + timedelta(days=30)).isoformat(),
            "cat": "culture",
            "lat": "43.6",
            "lon": "1.44",
            "postcode": "31000",
            "status": "EventScheduled",
            "parent": "festival",
        },
        "festival-day2": {
            "name": "Festival — jour 2",
            "start": (soon + timedelta(days=31)).isoformat(),
            "cat": "culture",
            "lat": "43.6",
            "lon": "1.44",
            "postcode": "31000",
            "status": "EventScheduled",
            "parent": "festival",
        },
    }
    source = f"<{BASE}id/source/{EVENT_SOURCE}>"
    lines = [
        f"{source} a <{DCAT}Dataset> , <{TS}Source> ; <{DCT}identifier> {_lit(EVENT_SOURCE)} ; "
        f"<{DCT}title> {_lit('Agenda de test')} ; <{DCT}license> <https://spdx.org/licenses/CC0-1.0> ."
    ]
    for key, e in events.items():
        iri = f"<{BASE}id/event/{EVENT_SOURCE}/{key}>"
        place, geom, address = (f"<{BASE}id/event/{EVENT_SOURCE}/{key}/{part}>" for part in ("place", "geo", "address"))
        kind = XSD + ("date" if len(e["start"]) == 10 else "dateTime")
        lines.append(
            f"{iri} a <{SCHEMA}Event> ; <{SCHEMA}name> {_lit(e['name'])} ; "
            f"<{SCHEMA}startDate> {_lit(e['start'], kind)} ; <{TS}source> {source} ; "
            f"<{TS}category> <{TX}{e['cat']}> ; <{SCHEMA}eventStatus> <{SCHEMA}{e['status']}> ; "
            f"<{SCHEMA}url> {_lit('https://agenda.example.org/' + key, XSD + 'anyURI')} ; "
            f"<{SCHEMA}location> {place} ."
        )
        if e.get("end"):
            lines.append(f"{iri} <{SCHEMA}endDate> {_lit(e['end'], kind)} .")
        if e.get("description"):
            lines.append(f"{iri} <{SCHEMA}description> {_lit(e['description'])} .")
        for child in e.get("children", []):
            lines.append(f"{iri} <{SCHEMA}subEvent> <{BASE}id/event/{EVENT_SOURCE}/{child}> .")
        if e.get("parent"):
            lines.append(f"{iri} <{SCHEMA}superEvent> <{BASE}id/event/{EVENT_SOURCE}/{e['parent']}> .")
        lines.append(
            f"{place} a <{SCHEMA}Place> ; <{SCHEMA}name> {_lit('Lieu ' + key)} ; <{SCHEMA}address> {address} ."
        )
        lines.append(f"{address} <{SCHEMA}postalCode> {_lit(e['postcode'])} .")
        if e.get("wkt"):
            wkt = _lit("POINT(" + e["lon"] + " " + e["lat"] + ")", GEO + "wktLiteral")
            lines.append(f"{place} <{GEO}hasGeometry> {geom} . {geom} <{GEO}asWKT> {wkt} .")
        else:
            lines.append(
                f"{place} <{SCHEMA}geo> {geom} . {geom} "
                f"<{SCHEMA}latitude> {_lit(e['lat'], XSD + 'decimal')} ; "
                f"<{SCHEMA}longitude> {_lit(e['lon'], XSD + 'decimal')} ."
            )
    # one hostile initiative, as a careless writer could put it in the store
    lines.append(
        f"<{HOSTILE_IRI}> a <{SCHEMA}Organization> , <{TS}Initiative> ; <{SCHEMA}name> {_lit(HOSTILE_NAME)} ; "
        f"<{TS}source> {source} ; <{TS}sourceId> {_lit('evil')} ; "
        f"<{SCHEMA}description> {_lit('<iframe src=javascript:alert(1)></iframe>Bonjour')} ; "
        f"<{SCHEMA}url> {_lit('javascript:alert(1)', XSD + 'anyURI')} ; <{TS}category> <{TX}culture> ; "
        f"<{SCHEMA}openingHours> {_lit(HOSTILE_HOURS)} ; "
        f"<{GEO}hasGeometry> <{HOSTILE_IRI}/geometry> . <{HOSTILE_IRI}/geometry> "
        f"<{SCHEMA}latitude> {_lit('45.75', XSD + 'decimal')} ; "
        f"<{SCHEMA}longitude> {_lit('4.85', XSD + 'decimal')} ."
    )
    return "\n".join(lines), events


def build_site(tmp: Path, payload_server: PayloadServer, mp: pytest.MonkeyPatch) -> tuple[Settings, dict[str, dict]]:
    """Load the samples through the pipeline and the agenda fixture into a fresh home; returns settings."""
    urls = {sid: payload_server.serve_file(f"/{tmp.name}/{sid}.json", sample_path(sid)) for sid in SOURCE_IDS}
    mp.setenv("TRANSISCOPE_HOME", str(tmp / "home"))
    mp.setenv("TRANSISCOPE_REGISTRY", str(write_registry(tmp, urls)))
    for source_id in SOURCE_IDS:
        summary = jobs.run_source(source_id)
        assert summary.outcome == "success", summary.error
    settings = Settings.from_env()
    body, events = event_triples(datetime.now(UTC).date())
    with EmbeddedStore(settings.store_path) as store:
        store.update(f"INSERT DATA {{ GRAPH <{EVENT_GRAPH}> {{ {body} }} }}")
    return settings, events
