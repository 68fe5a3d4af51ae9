"""Communes and postcodes from the shared open data (real files, read through TRANSISCOPE_SHARED_DATA)."""

from __future__ import annotations

import pytest

from transiscope.core.errors import ConfigError
from transiscope.territories.communes import Communes, load_communes


@pytest.fixture(scope="module")
def communes(territories_dir) -> Communes:
    return load_communes(territories_dir)


def test_layers_are_complete(communes: Communes) -> None:
    assert len(communes.geometries) == 34_875  # 34 868 polygons + 7 communes inside a host polygon
    assert communes.postcodes["42000"] == ("42218",)  # Saint-Étienne


def test_arrondissements_go_to_their_commune(communes: Communes) -> None:
    assert communes.postcodes["75011"] == ("75056",)
    label, _ = communes.declared({"insee": "69381"})
    assert label == "INSEE 69381"


def test_commune_without_polygon_uses_its_host(communes: Communes) -> None:
    assert communes.geometries["14666"] is communes.geometries["14712"]  # Sannerville inside Troarn


def test_far_from_declared_in_metropole_and_overseas(communes: Communes) -> None:
    records = [
        {"lat": 45.7640, "lon": 4.8357, "postcode": "69001"},  # Lyon 1er, inside
        {"lat": 48.8566, "lon": 2.3522, "postcode": "69001"},  # Paris declaring Lyon
        {"lat": -20.8823, "lon": 55.4504, "postcode": "97400"},  # Saint-Denis de La Réunion, inside
        {"lat": -21.3393, "lon": 55.4781, "postcode": "97400"},  # Saint-Pierre declaring Saint-Denis
        {"lat": 45.0, "lon": 4.0},  # declares nothing
        {"lat": 123.4, "lon": 4.0, "postcode": "69001"},  # invalid point: not measured
    ]
    far = {f.position: f for f in communes.far_from_declared(records, threshold_km=5)}
    assert set(far) == {1, 3}
    assert 380 < far[1].km < 400 and 30 < far[3].km < 55


def test_missing_data_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="territories data incomplete"):
        Communes.from_dir(tmp_path)


def test_disk_cache_round_trip(territories_dir, tmp_path) -> None:
    load_communes.cache_clear()
    first = load_communes(territories_dir, tmp_path)
    assert len(list(tmp_path.glob("communes-*.pickle"))) == 1
    load_communes.cache_clear()
    again = load_communes(territories_dir, tmp_path)  # from the cache file this time
    assert set(again.geometries) == set(first.geometries) and again.postcodes == first.postcodes
    assert again.geometries["69123"].equals(first.geometries["69123"])
    record = [{"lat": 48.8566, "lon": 2.3522, "postcode": "69001"}]
    assert again.far_from_declared(record)[0].km == first.far_from_declared(record)[0].km
