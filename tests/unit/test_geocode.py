"""Geocoding pieces on their own: address keys, the cache, the offline fallback and the consistency checks on
the real territories data, the providers' answers over a real loopback server, the RDF of a placed point."""

from __future__ import annotations

import json

import pytest
import shapely

from tests.conftest import PayloadServer, Reply
from transiscope.core import vocab
from transiscope.core.errors import ConfigError
from transiscope.ingest.geocode import checks as geochecks
from transiscope.ingest.geocode import providers as geocoders
from transiscope.ingest.geocode.placing import (
    Fallback,
    GeocodeCache,
    _name_key,
    address_key,
    commune_names,
    load_fallback,
)
from transiscope.settings import GeocodeSettings, HttpSettings, Settings
from transiscope.territories.communes import load_communes


@pytest.fixture(scope="module")
def communes(territories_dir):
    return load_communes(territories_dir)


@pytest.fixture(scope="module")
def fallback(communes, territories_dir) -> Fallback:
    return Fallback(communes, commune_names(territories_dir))


def test_address_key_ignores_case_accents_and_spacing() -> None:
    one = {"street": "16 rue de la Résistance", "postcode": "42000", "city": "Saint-Étienne"}
    two = {"street": " 16, RUE DE LA RESISTANCE ", "postcode": "42000 ", "city": "saint etienne"}
    assert address_key(one) == address_key(two) == "16 rue de la resistance|42000|saint etienne|fr"
    assert address_key({**one, "postcode": "42100"}) != address_key(one)


def test_cache_keeps_answers_and_no_result(tmp_path) -> None:
    cache = GeocodeCache(tmp_path / "c.sqlite3")
    answer = geocoders.Answer(45.4, 4.3, "address", 0.93, "16 Rue de la Résistance", "42000", "42218", "housenumber")
    cache.put_many("ban", {"a": answer, "b": None})
    cache.close()
    again = GeocodeCache(tmp_path / "c.sqlite3")
    assert again.get_many("ban", ["a", "b", "c"]) == {"a": answer, "b": None}
    assert again.get_many("photon", ["a"]) == {}  # answers are per service
    again.close()


def test_fallback_by_insee_postcode_and_name(fallback: Fallback, communes) -> None:
    lat, lon, precision, method, _ = fallback.place({"insee": "69381"})  # Lyon 1er -> Lyon
    assert (precision, method) == ("commune", "territories-insee")
    assert communes.geometries["69123"].covers(shapely.Point(lon, lat))
    lat, lon, precision, method, what = fallback.place({"postcode": "26150", "city": "Die"})  # 1 of 14 communes
    assert (precision, method) == ("commune", "territories-postcode") and "26113" in what
    assert communes.geometries["26113"].covers(shapely.Point(lon, lat))
    assert _name_key("Saint-Étienne") == _name_key("ST ETIENNE") and _name_key("Lyon 1er") == "lyon"
    lat, lon, precision, _, what = fallback.place({"postcode": "26150", "city": "Ailleurs"})
    assert precision == "postcode" and "14 communes" in what
    assert fallback.place({"postcode": "99999", "city": "Nulle-part"}) is None
    assert fallback.place({"city": "Lyon"}) is None  # a name alone is ambiguous: not guessed


def test_fallback_unavailable_without_territories(tmp_path) -> None:
    settings = Settings.from_env()
    from dataclasses import replace

    found, why = load_fallback(replace(settings, territories_dir=None))
    assert found is None and why.startswith("offline fallback unavailable: no territories data")
    found, why = load_fallback(replace(settings, territories_dir=tmp_path))
    assert found is None and "territories data incomplete" in why


def _source_point(lat: float, lon: float, **fields) -> dict:
    return {
        "source_id": "x",
        "lat": lat,
        "lon": lon,
        "geo_method": "source",
        "geo_precision": "source",
        "geo_flags": [],
        "notes": [],
        **fields,
    }


def test_consistency_checks_on_real_communes(communes) -> None:
    records = [
        _source_point(4.8924, 44.9334, postcode="26000"),  # swapped, lands in Valence: fixed
        _source_point(0.0, 0.0, postcode="63000"),  # null island
        _source_point(46.227638, 2.213749, postcode="75020"),  # Google's "France"
        _source_point(48.8566, 2.3522, postcode="69004"),  # Paris declaring Lyon 4e
        _source_point(45.7712, 4.8305, postcode="69001"),  # right where it says
        _source_point(2.3522, 48.8566, postcode="69004"),  # swapped, but lands in Paris, not in Lyon: not fixed
    ]
    counts = geochecks.check_points(records, communes, far_km=5.0)
    assert counts == {"swapped-fixed": 1, "null-island": 1, "france-centroid": 1, "far": 1, "swapped": 1}
    assert (records[0]["lat"], records[0]["lon"]) == (44.9334, 4.8924)
    assert [f["code"] for f in records[3]["geo_flags"]] == ["far"] and records[3]["geo_flags"][0]["km"] > 380
    assert records[4]["geo_flags"] == []
    assert (records[5]["lat"], records[5]["lon"]) == (2.3522, 48.8566)  # left as the source gave it
    assert geochecks.reasons(records[0])[0].startswith("latitude and longitude were swapped (4.8924, 44.9334)")
    assert geochecks.reasons(records[3], "fr")[0].startswith("le point est à")


def test_without_territories_a_swap_is_reported_never_fixed() -> None:
    records = [_source_point(4.8924, 44.9334, postcode="26000"), _source_point(46.0, 2.0)]
    counts = geochecks.check_points(records, None, far_km=5.0)
    assert counts == {"swapped": 1, "france-centroid": 1}
    assert records[0]["lat"] == 4.8924 and "GeoNames" in geochecks.reasons(records[1])[0]


def test_a_centroid_inside_its_declared_commune_is_not_flagged(communes) -> None:
    # the Google "France" point lies in a real commune: a record declaring that commune may stand there
    code = next(c for c, g in communes.geometries.items() if g.covers(shapely.Point(2.213749, 46.227638)))
    records = [_source_point(46.227638, 2.213749, insee=code)]
    assert geochecks.check_points(records, communes, far_km=5.0) == {}


def _client(url: str) -> geocoders.Client:
    return geocoders.Client(GeocodeSettings(url=url, rate=1000, max_requests=5), HttpSettings(retries=0))


def test_nominatim_and_photon_answers(payload_server: PayloadServer) -> None:
    nominatim = [
        {
            "lat": "45.4397120",
            "lon": "4.3871590",
            "addresstype": "house",
            "importance": 0.3,
            "display_name": "16, Rue de la Résistance, Saint-Étienne, Loire, 42000, France",
        }
    ]
    payload_server.set("/nominatim/search", Reply(200, json.dumps(nominatim).encode()), Reply(200, b"[]"))
    photon = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [4.387159, 45.439712]},
                "properties": {
                    "type": "street",
                    "name": "Rue de la Résistance",
                    "postcode": "42000",
                    "city": "Saint-Étienne",
                },
            }
        ],
    }
    payload_server.set("/photon/api", Reply(200, json.dumps(photon).encode()))
    query = geocoders.Query("k", "16 rue de la Résistance 42000 Saint-Étienne", "42000")
    client = _client(payload_server.url("/nominatim"))
    found = geocoders.provider("nominatim").geocode([query, query], client)
    assert found[0].lat == 45.439712 and found[0].precision == "address" and found[1] is None
    assert client.requests == 2
    client = _client(payload_server.url("/photon"))
    (answer,) = geocoders.provider("photon").geocode([query], client)
    assert (answer.lon, answer.precision, answer.postcode) == (4.387159, "street", "42000")


def test_budget_refuses_the_request_past_it(payload_server: PayloadServer) -> None:
    payload_server.set("/budget/search", Reply(200, b"[]"))
    client = geocoders.Client(
        GeocodeSettings(url=payload_server.url("/budget"), rate=1000, max_requests=1), HttpSettings(retries=0)
    )
    query = geocoders.Query("k", "nowhere")
    from transiscope.core.errors import GeocodeBudgetExhausted

    with pytest.raises(GeocodeBudgetExhausted, match="TRANSISCOPE_GEOCODER_MAX_REQUESTS=1"):
        geocoders.provider("nominatim").geocode([query, query], client)
    assert payload_server.hits["/budget/search"] == 1


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_GEOCODER", "Nominatim")
    monkeypatch.delenv("TRANSISCOPE_GEOCODER_URL", raising=False)
    settings = Settings.from_env().geocode
    assert settings.provider == "nominatim" and settings.rate == 1.0 and settings.url.startswith("https://")
    monkeypatch.setenv("TRANSISCOPE_GEOCODER", "google")
    with pytest.raises(ConfigError, match="TRANSISCOPE_GEOCODER='google' is not one of"):
        Settings.from_env()
    monkeypatch.setenv("TRANSISCOPE_GEOCODER", "ban")
    monkeypatch.setenv("TRANSISCOPE_GEOCODER_URL", "ftp://example.org")
    with pytest.raises(ConfigError, match="not an http"):
        Settings.from_env()


def test_precision_and_method_in_the_rdf() -> None:
    import pyoxigraph as ox

    from transiscope.ingest import rdf
    from transiscope.ingest.records import empty_record

    record = empty_record()
    record.update(
        source="s",
        source_id="a",
        name="Atelier",
        lat=45.26,
        lon=5.88,
        geo_precision="commune",
        geo_method="territories-postcode",
        licence="ODbL-1.0",
    )
    triples = list(rdf.initiative_triples(record, "https://w3id.org/transiscope/", rdf.Terms()))
    geometry = ox.NamedNode("https://w3id.org/transiscope/id/initiative/s/a/geometry")
    found = {(t.predicate.value, t.object.value) for t in triples if t.subject == geometry}
    assert (vocab.TS + "positionPrecision", "commune") in found
    assert (vocab.TS + "positionMethod", "territories-postcode") in found
