"""Back to the commons: the PAIR view of each source and its Murmurations profile, written by
``transiscope downstream export`` over the samples loaded by the real pipeline, parsed back, validated against
the network's schema with the JSON Schema library, and served at their stable addresses."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from tests.conftest import PROJECT, SOURCE_IDS, PayloadServer
from tests.integration.exported import BASE, EVENT_SOURCE, build_site
from transiscope import cli
from transiscope.downstream.exports.murmurations import local_point
from transiscope.serve.endpoint import Endpoint, ServeSettings

PAIR = rdflib.Namespace("http://virtual-assembly.org/ontologies/pair#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
SCHEMA_FILE = PROJECT / "tests" / "fixtures" / "murmurations" / "organizations_schema-v1.0.0.json"
#: the sample record whose e-mail the source keeps private (transforms/samples/README.md): no e-mail, a phone
PRIVATE = rdflib.URIRef(f"{BASE}id/initiative/transiscope/3cM")
#: a record of the same source that publishes its e-mail
PUBLIC = rdflib.URIRef(f"{BASE}id/initiative/transiscope/3dP")
LOADED = {"transiscope": 12, "presdecheznous": 10, "francetierslieux": 9}


@pytest.fixture(scope="module")
def commons(tmp_path_factory: pytest.TempPathFactory, payload_server: PayloadServer):
    tmp = tmp_path_factory.mktemp("commons")
    with pytest.MonkeyPatch.context() as mp:
        settings, _events = build_site(tmp, payload_server, mp)
        assert cli.main(["downstream", "export"]) == 0
        yield {"settings": settings, "out": Path(settings.exports_dir)}


def _graph(path: Path, form: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(path, format=form)
    return graph


def _profile(commons: dict[str, Any], source: str) -> dict[str, Any]:
    return json.loads((commons["out"] / "murmurations" / f"{source}.json").read_text(encoding="utf-8"))


def test_pair_files_per_source_parse_and_agree(commons) -> None:
    out = commons["out"]
    for source in (*SOURCE_IDS, EVENT_SOURCE):
        turtle = _graph(out / "pair" / f"{source}.ttl", "turtle")
        jsonld = _graph(out / "pair" / f"{source}.jsonld", "json-ld")
        assert len(turtle) > 0 and isomorphic(turtle, jsonld), source
        # every record of the file is the source's own, and every one of its loaded records is there
        records = set(turtle.subjects(RDF.type, PAIR.Organization)) | set(turtle.subjects(RDF.type, PAIR.Event))
        assert {str(o) for r in records for o in turtle.objects(r, DCT.source)} == {f"{BASE}id/source/{source}"}
        if source in LOADED:
            assert len(set(turtle.subjects(RDF.type, PAIR.Organization))) == LOADED[source]
    listed = {f["path"] for f in json.loads((out / "index.json").read_text(encoding="utf-8"))["files"]}
    assert {"pair/transiscope.ttl", "pair/transiscope.jsonld", "murmurations/transiscope.json"} <= listed


def test_known_record_has_the_pair_classes_and_no_private_contact(commons) -> None:
    graph = _graph(commons["out"] / "pair" / "transiscope.ttl", "turtle")
    assert (PRIVATE, RDF.type, PAIR.Organization) in graph
    assert str(graph.value(PRIVATE, PAIR.label)) == "Épicerie coopérative du Lez"
    place = graph.value(PRIVATE, PAIR.hasLocation)
    assert {PAIR.Place, PAIR.PhysicalPlace} <= set(graph.objects(place, RDF.type))
    assert graph.value(place, PAIR.latitude) is not None and graph.value(place, PAIR.longitude) is not None
    address = graph.value(place, PAIR.hasPostalAddress)
    assert (address, RDF.type, PAIR.PostalAddress) in graph and graph.value(address, PAIR.addressZipCode)
    topics = set(graph.objects(PRIVATE, PAIR.hasTopic))
    assert topics and all((t, RDF.type, PAIR.Topic) in graph and graph.value(t, PAIR.label) for t in topics)
    # the e-mail the source keeps private is absent (never the placeholder); a published one travels
    assert graph.value(PRIVATE, PAIR.phone) is not None
    assert graph.value(PRIVATE, PAIR["e-mail"]) is None
    assert str(graph.value(PUBLIC, PAIR["e-mail"])) == "bonjour@energies-gresivaudan.example.org"
    for source in SOURCE_IDS:
        text = (commons["out"] / "pair" / f"{source}.ttl").read_text(encoding="utf-8")
        emails = {
            str(o).lower()
            for o in _graph(commons["out"] / "pair" / f"{source}.ttl", "turtle").objects(None, PAIR["e-mail"])
        }
        assert all("@" in e for e in emails) and not emails & {"private", "hidden", "masqué", "privé"}, source
        assert '"private"' not in text and '"hidden"' not in text


def test_events_are_pair_events(commons) -> None:
    graph = _graph(commons["out"] / "pair" / f"{EVENT_SOURCE}.ttl", "turtle")
    events = set(graph.subjects(RDF.type, PAIR.Event))
    assert len(events) == 6  # every event of the fixture, the parent festival and its two days included
    repair = rdflib.URIRef(f"{BASE}id/event/{EVENT_SOURCE}/repair")
    assert graph.value(repair, PAIR.startDate) is not None and graph.value(repair, PAIR.endDate) is not None
    assert (graph.value(repair, PAIR.hasLocation), RDF.type, PAIR.Place) in graph


def test_murmurations_profiles_validate_against_the_schema(commons) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    jsonschema.Draft7Validator.check_schema(schema)
    for source in (*SOURCE_IDS, EVENT_SOURCE):
        document = _profile(commons, source)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, (source, errors)
        assert document["linked_schemas"] == ["organizations_schema-v1.0.0"]
    # the validation is not vacuous: a profile without a name, or with a tag list that is empty, fails
    broken = {**_profile(commons, "transiscope"), "tags": []}
    del broken["name"]
    assert {e.validator for e in validator.iter_errors(broken)} == {"required", "minItems"}


def test_murmurations_profile_lists_what_the_bus_holds(commons) -> None:
    profile = _profile(commons, "transiscope")
    assert profile["name"] == "Transiscope"
    assert profile["primary_url"] == "https://transiscope.org/"
    assert profile["description"].startswith("La carte collaborative des alternatives en France")
    assert profile["transiscope"]["initiatives"] == LOADED["transiscope"]
    assert profile["transiscope"]["licence"] == "ODbL-1.0" and profile["transiscope"]["events"] == 0
    assert {"Agriculture et alimentation", "AMAP et circuits courts", "Repair cafés"} <= set(profile["tags"])
    assert profile["country_iso_3166"] == "FR"
    assert "geolocation" not in profile  # a national map: no single place
    assert [u["url"] for u in profile["urls"]] == [
        f"{BASE}exports/pair/transiscope.ttl",
        f"{BASE}exports/pair/transiscope.jsonld",
    ]
    events = _profile(commons, EVENT_SOURCE)
    assert events["transiscope"]["events"] > 0 and events["transiscope"]["initiatives"] == 1


def test_local_point_only_for_a_local_source() -> None:
    rennes = [(48.1173, -1.6778), (48.1100, -1.6800), (48.0900, -1.6500)]
    assert local_point(rennes) == {"lat": 48.11, "lon": -1.6778}
    assert local_point([*rennes, (43.6, 1.44)]) is None  # Toulouse is 560 km away
    assert local_point([]) is None


def test_served_at_stable_addresses(commons) -> None:
    endpoint = Endpoint(commons["settings"], ServeSettings(port=0, workers=1, map_tiles=""))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{endpoint.server_address[1]}"
    out = commons["out"]
    try:
        with urllib.request.urlopen(base + "/murmurations/transiscope.json", timeout=10) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert response.read() == (out / "murmurations" / "transiscope.json").read_bytes()
        for path, media in (
            ("pair/transiscope.ttl", "text/turtle"),
            ("pair/transiscope.jsonld", "application/ld+json"),
        ):
            with urllib.request.urlopen(f"{base}/exports/{path}", timeout=10) as response:
                assert response.headers["Content-Type"].startswith(media)
                assert response.read() == (out / path).read_bytes()
        for path in ("/murmurations/nope.json", "/murmurations/../index.json", "/murmurations/transiscope.ttl"):
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(base + path, timeout=10)
            assert missing.value.code == 404
    finally:
        endpoint.shutdown()
        endpoint.server_close()
