"""Exports read from a real embedded store: each format checked by a parser or validator of its own."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import geojson
import pytest
import rdflib
from icalendar import Calendar

from tests.conftest import SOURCE_IDS, PayloadServer
from tests.integration.exported import EVENT_SOURCE, HOSTILE_HOURS, HOSTILE_IRI, build_site
from transiscope import cli, runs
from transiscope.downstream.exports import export_all
from transiscope.downstream.exports.jsonld import CONTEXT
from transiscope.downstream.exports.tables import PROPERTIES, neutralise
from transiscope.ingest.formats import gogocarto as connector
from transiscope.registry.sources import Mapping, Source
from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.store.embedded import EmbeddedStore

INITIATIVES = 12 + 10 + 9 + 1  # the three samples as loaded, + the hostile one written into the store


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, payload_server: PayloadServer):
    tmp = tmp_path_factory.mktemp("exports")
    with pytest.MonkeyPatch.context() as mp:
        settings, events = build_site(tmp, payload_server, mp)
        summary = export_all(settings, split=("category", "departement"))
        yield {"settings": settings, "events": events, "summary": summary, "out": Path(summary.out_dir)}


def _read(site, relative: str) -> str:
    return (site["out"] / relative).read_text(encoding="utf-8")


def _files(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "reports" not in p.parts and "vocabulary" not in p.parts
    }


def test_counts_and_manifest(site) -> None:
    summary = site["summary"]
    assert summary.initiatives == INITIATIVES
    assert summary.events == 5  # the parent of two sub-events is represented by them
    index = json.loads(_read(site, "index.json"))
    listed = {f["path"] for f in index["files"]}
    assert {
        "gogocarto/elements.json",
        "initiatives.geojson",
        "initiatives.jsonld",
        "initiatives.csv",
        "agenda.ics",
        "agenda.json",
        "agenda/departement/69.ics",
        "geojson/departement/69.geojson",
    } <= listed
    for entry in index["files"]:
        data = (site["out"] / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert gzip.decompress((site["out"] / (entry["path"] + ".gz")).read_bytes()) == data
    assert not [p for p in site["out"].rglob("*.tmp")], "temporary files left behind"
    assert (site["out"] / "reports" / "index.en.html").is_file()


def test_gogocarto_round_trip_through_the_bus_connector(site) -> None:
    """The export, read back by the bus's own GoGoCarto connector, gives the records the pipeline loaded."""
    raw = (site["out"] / "gogocarto" / "elements.json").read_bytes()
    taxonomy = json.loads(_read(site, "gogocarto/taxonomy.json"))
    crosswalk: dict[str, tuple[str, ...]] = {}

    def walk(options):
        for option in options:
            crosswalk[option["name"]] = (option["id"],)
            for sub in option.get("subcategories", []):
                walk(sub["options"])

    walk(next(g for g in taxonomy["taxonomy"] if g["id"] == "domaines")["options"])
    source = Source(
        id="reimport",
        name="Re-import",
        format="gogocarto",
        url="http://127.0.0.1/api/elements.json",
        licence="ODbL-1.0",
        mapping_path=Path("-"),
    )
    mapping = Mapping(format="gogocarto", shape="2021", fields={}, categories=crosswalk, path=Path("-"))
    elements = connector.parse(raw, source)
    back = {r["source_id"]: r for r in (connector.normalise(e, i, source, mapping) for i, e in enumerate(elements))}
    compared = 0
    for source_id in SOURCE_IDS:
        run_dir = runs.latest_processed_run(site["settings"], source_id)
        for original in (json.loads(line) for line in (run_dir / "valid.jsonl").read_text().splitlines() if line):
            again = back.pop(f"{source_id}:{original['source_id']}")
            for key in (
                "name",
                "description",
                "lat",
                "lon",
                "street",
                "postcode",
                "city",
                "country",
                "website",
                "phone",
                "email",
                "opening_hours",
                "created_at",
                "updated_at",
            ):
                assert again[key] == original[key], (original["source_id"], key)
            assert sorted(again["concepts"]) == sorted(original["concepts"]), original["source_id"]
            # the only label outside the domains is the source's credit (the "Sources" group)
            assert again["unmapped_categories"] == [again["upstream_source"]], original["source_id"]
            compared += 1
    assert compared == INITIATIVES - 1
    assert list(back) == [f"{EVENT_SOURCE}:evil"]  # the hostile one, written outside the pipeline
    assert "<script" not in back[f"{EVENT_SOURCE}:evil"]["name"] and "<" not in raw.decode()


def test_gogocarto_export_is_plain_text_credits_the_source_and_keeps_osm_hours(site) -> None:
    """What GoGoCarto's importer reads: names and categories as in taxonomy.json (it matches them by slug),
    the source as a category of the "Sources" group and as ``source``, OSM hours beside the day map."""
    raw = _read(site, "gogocarto/elements.json")
    for entity in ("&#x27;", "&#39;", "&quot;", "&amp;", "&lt;", "&gt;"):
        assert entity not in raw
    elements = {e["id"]: e for e in json.loads(raw)["data"]}
    assert elements["transiscope:3fT"]["name"] == "Comptoir L'Escargot – monnaie locale dijonnaise"
    assert elements["transiscope:3eR"]["name"] == 'Café associatif "Le Zinc"'
    assert elements["presdecheznous:2Xk"]["name"] == "L'Épi Vert – épicerie vrac"
    assert elements[f"{EVENT_SOURCE}:evil"]["name"].endswith("Evil & co")
    taxonomy = json.loads(_read(site, "gogocarto/taxonomy.json"))["taxonomy"]
    names: set[str] = set()

    def walk(options):
        for option in options:
            names.add(option["name"])
            for sub in option.get("subcategories", []):
                walk(sub["options"])

    walk(next(g for g in taxonomy if g["id"] == "domaines")["options"])
    sources = next(g for g in taxonomy if g["name"] == "Sources")["options"]
    credit = {o["id"]: o["name"] for o in sources}
    assert "Systèmes d'échange alternatifs" in names
    for element in elements.values():
        source_id = element["id"].split(":", 1)[0]
        assert element["source"] == credit[source_id]
        assert element["categories"][-1] == credit[source_id]
        assert element["categoriesFull"][-1] == {
            "id": source_id,
            "name": credit[source_id],
            "description": "",
            "index": len(element["categoriesFull"]) - 1,
        }
        assert set(element["categories"][:-1]) <= names
        assert [c["name"] for c in element["categoriesFull"]] == element["categories"]
    hostile = elements[f"{EVENT_SOURCE}:evil"]
    assert hostile["osm_opening_hours"] == HOSTILE_HOURS and "openHours" not in hostile
    day_map = next(e for e in elements.values() if "openHours" in e)
    assert isinstance(day_map["openHours"], dict) and "osm_opening_hours" not in day_map


def test_geojson_is_valid_rfc7946(site) -> None:
    document = geojson.loads(_read(site, "initiatives.geojson"))
    assert document.is_valid, document.errors()
    assert "crs" not in document  # RFC 7946 dropped it: WGS84 lon/lat only
    features = document["features"]
    assert len(features) == INITIATIVES
    for feature in features:
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert lat == feature["properties"]["lat"] and lon == feature["properties"]["lon"]
        assert list(feature["properties"]) == list(PROPERTIES)
        assert not any(isinstance(v, dict) for v in feature["properties"].values())  # flat
        assert feature["properties"]["source_name"] and feature["properties"]["licence"]
    lyon = geojson.loads(_read(site, "geojson/departement/69.geojson"))
    assert lyon.is_valid and lyon["features"]
    assert all(f["properties"]["departement"] == "69" for f in lyon["features"])
    repair = geojson.loads(_read(site, "geojson/category/culture.geojson"))
    assert all("culture" in f["properties"]["categories"] for f in repair["features"])


def test_jsonld_parses_back_to_the_store_triples(site) -> None:
    document = json.loads(_read(site, "initiatives.jsonld"))
    assert document["@context"]["@vocab"] == "http://schema.org/"
    graph = rdflib.Graph().parse(data=json.dumps(document), format="json-ld")
    export_node = rdflib.URIRef(site["settings"].base_iri + "exports/initiatives.jsonld")
    exported = {t for t in graph if t[0] != export_node}
    with EmbeddedStore(site["settings"].store_path, read_only=True) as store:
        construct = store.query("""CONSTRUCT { ?s ?p ?o } WHERE {
            ?i a <https://w3id.org/transiscope/ontology#Initiative> .
            { ?i ?p ?o . BIND(?i AS ?s) } UNION { ?i <http://schema.org/address> ?s . ?s ?p ?o }
            UNION { ?i <http://www.opengis.net/ont/geosparql#hasGeometry> ?s . ?s ?p ?o }
            # the statistics' grid keys index the points for the queries: not data of the record
            FILTER (?p != <https://w3id.org/transiscope/ontology#gridCell>) }""")
        from pyoxigraph import RdfFormat, serialize

        stored = rdflib.Graph().parse(data=serialize(construct, format=RdfFormat.N_TRIPLES), format="nt")
    hostile = rdflib.URIRef(HOSTILE_IRI)
    assert {t for t in exported if t[0] != hostile} == {t for t in stored if t[0] != hostile}
    names = {str(o) for o in graph.objects(hostile, rdflib.URIRef("http://schema.org/name"))}
    assert names and not any("<script" in n for n in names)  # markup stripped, the text kept
    assert (
        export_node,
        rdflib.URIRef("http://purl.org/dc/terms/license"),
        rdflib.URIRef("https://opendatacommons.org/licenses/odbl/1-0/"),
    ) in graph
    assert set(CONTEXT) >= {"@vocab", "ts", "geo"}


def test_csv_columns_and_formula_injection(site) -> None:
    text = _read(site, "initiatives.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == INITIATIVES and list(rows[0]) == list(PROPERTIES)
    evil = next(r for r in rows if r["id"] == HOSTILE_IRI)
    assert "<script" not in evil["name"] and evil["website"] == ""  # javascript: URL dropped
    assert all(
        not cell.startswith(("=", "+", "@")) or cell[1:].replace(".", "").isdigit()
        for row in rows
        for cell in row.values()
    )
    assert neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)" and neutralise("-1.55") == "-1.55"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)" and neutralise("+33 1 23") == "'+33 1 23"
    meta = json.loads(_read(site, "initiatives.csv-metadata.json"))
    assert [c["name"] for c in meta["tableSchema"]["columns"]] == list(PROPERTIES)
    assert meta["dc:license"]["@id"].startswith("https://opendatacommons.org/")


def test_icalendar_feeds(site) -> None:
    calendar = Calendar.from_ical((site["out"] / "agenda.ics").read_bytes())
    raw = (site["out"] / "agenda.ics").read_bytes()
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), "RFC 5545 folds lines at 75 octets"
    timezones = [c for c in calendar.walk("VTIMEZONE")]
    assert [str(t["TZID"]) for t in timezones] == ["Europe/Paris"]
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert "Festival des alternatives" not in events  # the parent of sub-events
    assert {"Festival — jour 1", "Festival — jour 2", "Fête des jardins", "Marche pour le climat"} <= set(events)
    repair = events["Repair café, vélo; et couture"]  # commas and semicolons escaped and read back
    assert b"SUMMARY:Repair caf\xc3\xa9\\, v\xc3\xa9lo\\; et couture" in raw
    assert repair["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(repair["DTSTART"].dt.tzinfo) == "Europe/Paris" and repair["DTSTART"].dt.hour == 18
    assert "<img" not in str(repair["DESCRIPTION"]) and "Source : Agenda de test" in str(repair["DESCRIPTION"])
    assert str(events["Marche pour le climat"]["STATUS"]) == "CANCELLED"
    allday = events["Fête des jardins"]
    assert (allday["DTEND"].dt - allday["DTSTART"].dt).days == 2  # inclusive end of the 2-day event + 1
    lyon = Calendar.from_ical((site["out"] / "agenda/departement/69.ics").read_bytes())
    assert sorted(str(e["SUMMARY"]) for e in lyon.walk("VEVENT")) == [
        "Marche pour le climat",
        "Repair café, vélo; et couture",
    ]
    gardens = Calendar.from_ical((site["out"] / "agenda/category/jardins-partages.ics").read_bytes())
    assert [str(e["SUMMARY"]) for e in gardens.walk("VEVENT")] == ["Fête des jardins"]
    assert "Agenda de test (CC0-1.0)" in str(gardens["X-WR-CALDESC"])


def test_agenda_json_sorted_with_credits(site) -> None:
    agenda = json.loads(_read(site, "agenda.json"))
    starts = [e["start"] for e in agenda["events"]]
    assert len(starts) == 5 and starts[0].startswith(str(site["events"]["repair"]["start"])[:10])
    assert agenda["attribution"]["sources"][0]["id"] == EVENT_SOURCE
    assert all(e["source"] == EVENT_SOURCE and e["source_url"] for e in agenda["events"])


def test_attribution_in_every_format(site) -> None:
    for name in ("gogocarto/elements.json", "initiatives.geojson", "agenda.json"):
        document = json.loads(_read(site, name))
        block = document["attribution"]
        assert block["generated"] == site["summary"].generated
        assert {s["id"] for s in block["sources"]} >= ({EVENT_SOURCE} if "agenda" in name else set(SOURCE_IDS))
        if "agenda" not in name:
            assert block["licence"] == "ODbL-1.0" and "share-alike" in block["share_alike"]["en"]
    assert "Contient des données sous licence ODbL" not in _read(site, "agenda/category/jardins-partages.ics")
    assert "ODbL" in _read(site, "initiatives.jsonld")


def test_hostile_content_harmless_everywhere(site) -> None:
    for name in (
        "gogocarto/elements.json",
        "initiatives.geojson",
        "initiatives.jsonld",
        "agenda.json",
        "initiatives.csv",
        "agenda.ics",
    ):
        text = _read(site, name)
        for bad in ("<script", "<iframe", "<img", "javascript:", "onerror=alert"):
            assert bad not in text, (name, bad)


def test_unchanged_data_gives_identical_bytes_and_new_data_a_new_date(site) -> None:
    before = _files(site["out"])
    again = export_all(site["settings"], split=("category", "departement"))
    assert again.unchanged and again.generated == site["summary"].generated
    assert _files(site["out"]) == before
    other = site["out"].parent / "other-exports"
    fresh = export_all(site["settings"], out_dir=other, split=("category", "departement"), now=None)
    assert not fresh.unchanged  # no previous export there: a new date, same content otherwise
    first = json.loads(_read(site, "initiatives.geojson"))
    second = json.loads((other / "initiatives.geojson").read_text(encoding="utf-8"))
    assert first["features"] == second["features"]


def test_cli_export_and_served_files(site, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["export", "--out", str(tmp_path / "cli"), "--split", "departement"]) == 0
    out = capsys.readouterr()
    assert f"{INITIATIVES} initiatives" in out.out and "GeoJSON" in out.err
    assert (tmp_path / "cli" / "geojson" / "departement" / "69.geojson").is_file()
    assert not (tmp_path / "cli" / "geojson" / "category").exists()
    assert cli.main(["export", "--split", "nope", "--out", str(tmp_path / "x")]) == 2
    gaps = site["out"] / "gaps"
    gaps.mkdir(exist_ok=True)
    (gaps / "communes.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    endpoint = Endpoint(site["settings"], ServeSettings(port=0, workers=1, map_tiles=""))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{endpoint.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/exports/initiatives.geojson", timeout=10) as response:
            body, etag = response.read(), response.headers["ETag"]
            assert response.headers["Content-Type"] == "application/geo+json"
            assert "max-age" in response.headers["Cache-Control"]
        assert body == (site["out"] / "initiatives.geojson").read_bytes()
        request = urllib.request.Request(base + "/exports/initiatives.geojson", headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request, timeout=10)
        assert not_modified.value.code == 304
        request = urllib.request.Request(base + "/exports/agenda.ics", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(response.read()) == (site["out"] / "agenda.ics").read_bytes()
        for path in ("/exports/../store/CURRENT", "/exports/%2e%2e/store/CURRENT", "/map/vendor/evil/x.js"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 404
        with urllib.request.urlopen(base + "/map/config.json", timeout=10) as response:
            size = (gaps / "communes.geojson").stat().st_size
            assert json.loads(response.read())["gaps_sizes"] == {"gaps/communes.geojson": size}
        with urllib.request.urlopen(base + "/map/", timeout=10) as response:
            page = response.read()
            assert b"vendor/leaflet/leaflet.js" in page and b'const API = "api/"' in page  # the points: /map/api/
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        (gaps / "communes.geojson").unlink()
