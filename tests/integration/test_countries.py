"""Foreign records kept out of France: an OSM export of book boxes, served on 127.0.0.1, through the whole bus.

The fixture (``countries_data/``, README there) holds nodes in France near its borders, on its coast and
overseas, nodes declaring another country, and nodes with no country just beyond the borders. The real
territories data decides where France is; the real store and the real gaps step say where each one is placed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PROJECT, PayloadServer
from transiscope import jobs
from transiscope.core import vocab
from transiscope.core.files import iter_jsonl
from transiscope.core.geo import BOXES
from transiscope.ingest import pipeline
from transiscope.ingest.france import fix_swapped, points_in_france
from transiscope.settings import Settings

DATA = Path(__file__).parent / "countries_data"
SOURCE = "bookcases"

#: in France: near a border, on the coast (two just off the simplified outline), overseas -> their département
IN_FRANCE = {
    "node/3301010001": "59",  # Lille, declared FR
    "node/3301010002": "67",  # Strasbourg, no country
    "node/3301010003": "06",  # Menton, "France"
    "node/3301010004": "74",  # Annemasse, next to Geneva, no country
    "node/3301010005": "974",  # Saint-Denis de La Réunion, "RE"
    "node/3301010006": "64",  # Hendaye's beach, just off the outline: the coastal tolerance
    "node/3301010007": "64",  # Bayonne, "Pays Basque": no such country, the value is dropped
    "node/3301010008": "971",  # Pointe-à-Pitre, "Guadeloupe"
    "node/3301010009": "13",  # Marseille's breakwater, off the outline, "fr"
}
#: declaring another country -> the sentence of the quarantine
DECLARED_ABROAD = {
    "node/3301020001": "outside France: declared country Belgium (BE)",  # Bruxelles, "Belgique"
    "node/3301020002": "outside France: declared country Belgium (BE)",  # Liège, "BE"
    "node/3301020003": "outside France: declared country Belgium (BE)",  # Seraing 4100, "Belgique"
    "node/3301020004": "outside France: declared country Switzerland (CH)",  # Lausanne 1004, "Suisse"
    "node/3301020005": "outside France: declared country Germany (DE)",  # Freiburg, "Deutschland"
    "node/3301020006": "outside France: declared country Germany (DE)",  # Karlsruhe 76133 (Épouville's), "DE"
    "node/3301020007": "outside France: declared country Italy (IT)",  # Imperia 18100 (Méry-sur-Cher's), "Italia"
    "node/3301020008": "outside France: declared country Belgium (BE)",  # Comines: the point in France, "Belgium"
}
#: no country, the point just beyond a border
POINT_ABROAD = {
    "node/3301030001": "the point (50.4542, 3.9523) is outside France",  # Mons
    "node/3301030002": "the point (46.21, 6.148) is outside France",  # Geneva
    "node/3301030003": "the point (49.6, 6.134) is outside France",  # Luxembourg
    "node/3301030004": "the point (49.235, 6.995) is outside France",  # Saarbrücken
    "node/3301030005": "the point (41.387, 2.17) is outside France",  # Barcelona
    "node/3301030006": "the point (45.737, 7.3201) is outside France",  # Aosta 11100 (Bages')
}


def _reasons(entry: dict) -> str:
    return " | ".join(entry["reasons"])


@pytest.fixture
def bookcases(
    tmp_path: Path, payload_server: PayloadServer, territories_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[bool], pipeline.RunSummary]]:
    """Run the OSM export as a source (``international`` or not) into a store of its own."""
    url = payload_server.serve_file(f"/osm/{tmp_path.name}/bookcases.geojson", DATA / "bookcases-osm.geojson")
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    shutil.copy(PROJECT / "expectations" / "initiatives.json", expectations)
    (expectations / f"{SOURCE}.json").write_text('{"expectations": []}', encoding="utf-8")
    env = {
        "TRANSISCOPE_HOME": tmp_path / "home",
        "TRANSISCOPE_REGISTRY": tmp_path / "sources.toml",
        "TRANSISCOPE_EXPECTATIONS_DIR": expectations,
        "TRANSISCOPE_TERRITORIES_DIR": territories_dir,
        "TRANSISCOPE_GEOCODER": "none",
        "TRANSISCOPE_MAX_QUARANTINE_SHARE": "0.9",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))

    def run(international: bool) -> pipeline.RunSummary:
        (tmp_path / "sources.toml").write_text(
            "[[source]]\n"
            f'id = "{SOURCE}"\nname = "Boîtes à livres (OpenStreetMap)"\nformat = "geojson"\nurl = "{url}"\n'
            f'licence = "ODbL-1.0"\nmapping = "{(DATA / "bookcases.toml").as_posix()}"\n'
            f"international = {'true' if international else 'false'}\n",
            encoding="utf-8",
        )
        return jobs.run_source(SOURCE, force=True)

    yield run


def _lines(summary: pipeline.RunSummary, name: str) -> dict[str, dict]:
    return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / name)}


def test_records_abroad_are_quarantined_with_a_reason_and_countries_become_iso_codes(bookcases) -> None:
    summary = bookcases(False)
    assert summary.outcome == "success", summary.error
    loaded = _lines(summary, "valid.jsonl")
    quarantine = _lines(summary, "quarantine.jsonl")
    assert set(loaded) == set(IN_FRANCE)
    assert set(quarantine) == set(DECLARED_ABROAD) | set(POINT_ABROAD)
    for sid, reason in {**DECLARED_ABROAD, **POINT_ABROAD}.items():
        assert reason in _reasons(quarantine[sid]), sid
    # the declared country decides even when the point lies in France (Comines), and a point abroad is not
    # excused by declaring no country
    assert "the point" not in _reasons(quarantine["node/3301020008"])
    assert "declared country" not in _reasons(quarantine["node/3301030002"])
    # the countries as ISO 3166-1 alpha-2: France's DROM are France; an unknown name is dropped with a warning
    assert {sid: r["country"] for sid, r in loaded.items()} == {
        "node/3301010001": "FR",
        "node/3301010002": None,
        "node/3301010003": "FR",
        "node/3301010004": None,
        "node/3301010005": "FR",
        "node/3301010006": None,
        "node/3301010007": None,
        "node/3301010008": "FR",
        "node/3301010009": "FR",
    }
    warnings = _lines(summary, "warnings.jsonl")
    assert "unreadable value(s): country='Pays Basque'" in " | ".join(warnings["node/3301010007"]["reasons"])
    assert any("'Pays Basque' is not a known country" in n for n in loaded["node/3301010007"]["notes"])
    # the sentences the maintainers read, in French
    checks = json.loads((Path(summary.run_dir) / "validation.json").read_text(encoding="utf-8"))["expectations"]
    by_column = {c["column"]: c for c in checks}
    assert by_column["country_in_france"]["failed"] == len(DECLARED_ABROAD)
    assert by_column["in_france"]["failed"] == len(POINT_ABROAD) + len(DECLARED_ABROAD) - 1  # Comines is in France
    french = {e["source_id"]: e["reason_fr"] for e in by_column["country_in_france"]["examples"]}
    assert french["node/3301020001"] == "hors de France : pays déclaré Belgique (BE)"
    run = json.loads((Path(summary.run_dir) / "run.json").read_text(encoding="utf-8"))
    assert run["stages"]["validate"]["france"] == "outlines" and "note" not in run["stages"]["validate"]
    # schema:addressCountry holds the code
    from transiscope.store.embedded import EmbeddedStore

    settings = Settings.from_env()
    with EmbeddedStore(settings.home / "store", read_only=True) as store:
        rows = store.select(
            f"SELECT DISTINCT ?c WHERE {{ GRAPH <{vocab.source_graph(settings.base_iri, SOURCE)}> {{ "
            f"?a <{vocab.SCHEMA}addressCountry> ?c }} }}"
        )
    assert {r["c"].value for r in rows} == {"FR"}


def test_without_the_territories_data_the_boxes_decide_and_the_run_says_so(
    bookcases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(tmp_path / "absent"))
    summary = bookcases(False)
    assert summary.outcome == "success", summary.error
    run = json.loads((Path(summary.run_dir) / "run.json").read_text(encoding="utf-8"))
    assert run["stages"]["validate"]["france"] == "boxes"
    assert "bounding boxes, not the départements' outlines" in run["stages"]["validate"]["note"]
    assert any("bounding boxes" in m for m in run["stages"]["geocode"]["messages"])
    quarantine = _lines(summary, "quarantine.jsonl")
    assert set(quarantine) == set(DECLARED_ABROAD)  # the declared country still keeps them out
    assert set(POINT_ABROAD) <= set(_lines(summary, "valid.jsonl"))  # the boxes cover Mons... Aosta: said above


def test_an_international_source_loads_them_and_gaps_places_none_abroad(bookcases) -> None:
    from transiscope.downstream.gaps.graphs import links_graph
    from transiscope.downstream.gaps.step import run_gaps
    from transiscope.store.embedded import EmbeddedStore
    from transiscope.territories.graph import territories_graph

    summary = bookcases(True)
    assert summary.outcome == "success", summary.error
    assert summary.counts["loaded"] == 23 and summary.counts["quarantined"] == 0
    settings = Settings.from_env()
    run_gaps(settings, write_store=True, write_files=False)
    base = settings.base_iri
    with EmbeddedStore(settings.home / "store", read_only=True) as store:
        rows = store.select(f"""SELECT ?i ?code WHERE {{
            GRAPH <{links_graph(base)}> {{ ?i <{vocab.TS}inTerritory> ?t }}
            GRAPH <{territories_graph(base)}> {{ ?t a <http://rdf.insee.fr/def/geo#Departement> ;
                                                   <http://rdf.insee.fr/def/geo#codeINSEE> ?code }} }}""")
    placed = {vocab.initiative_iri(base, SOURCE, sid): code for sid, code in IN_FRANCE.items()}
    found = {r["i"].value: r["code"].value for r in rows}
    assert found == placed  # every one in France in its département; none of the others anywhere
    with EmbeddedStore(settings.home / "store", read_only=True) as store:
        abroad = [vocab.initiative_iri(base, SOURCE, sid) for sid in {**DECLARED_ABROAD, **POINT_ABROAD}]
        linked = store.select(
            f"SELECT DISTINCT ?i WHERE {{ GRAPH <{links_graph(base)}> {{ ?i <{vocab.TS}inTerritory> ?t }} }}"
        )
    assert not {r["i"].value for r in linked} & set(abroad)  # not even France: no commune, EPCI, région


def test_the_geocode_stage_places_records_in_france_only(
    territories_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records without a point: one declaring another country is never sent to the (French) geocoder nor put at
    the commune of a French postcode that happens to be its own (Karlsruhe 76133 = Épouville, Aosta 11100 =
    Bages, Seraing 4100); the same postcodes declared in France are placed."""
    from tests.integration.ban_server import BanServer
    from transiscope.ingest.geocode.placing import place_records
    from transiscope.ingest.records import INITIATIVE_COLUMNS, empty_record

    ban = BanServer()  # knows no address: every answer is "no result", then the commune fallback
    try:
        for key, value in {
            "TRANSISCOPE_TERRITORIES_DIR": territories_dir,
            "TRANSISCOPE_GEOCODER": "ban",
            "TRANSISCOPE_GEOCODER_URL": ban.url,
            "TRANSISCOPE_GEOCODE_CACHE": tmp_path / "geocode.sqlite3",
            "TRANSISCOPE_GEOCODER_RATE": 1000,
        }.items():
            monkeypatch.setenv(key, str(value))

        def record(sid: str, country: str | None, postcode: str, city: str, street: str | None = None) -> dict:
            found = empty_record(INITIATIVE_COLUMNS)
            found.update(source_id=sid, name=sid, country=country, postcode=postcode, city=city, street=street)
            return found

        records = [
            record("karlsruhe", "DE", "76133", "Karlsruhe", "Kaiserstraße 12"),
            record("aosta", "IT", "11100", "Aosta", "Via Festaz 3"),
            record("seraing", "BE", "4100", "Seraing"),
            record("epouville", "FR", "76133", "Épouville", "Rue de la Mare aux Clercs"),
            record("bages", None, "11100", "Bages"),
        ]
        stats = place_records(records, Settings.from_env())
    finally:
        ban.close()
    by_id = {r["source_id"]: r for r in records}
    for sid in ("karlsruhe", "aosta", "seraing"):
        assert by_id[sid]["lat"] is None and by_id[sid]["geo_method"] is None, sid
        assert "the geocoders and the commune fallback place records in France only" in by_id[sid]["notes"][-1]
    assert "declares Germany (DE)" in by_id["karlsruhe"]["notes"][-1]
    assert stats["addresses"] == 1 and ban.requests == 1  # Épouville's address only
    assert stats["abroad_not_placed"] == 3
    assert by_id["epouville"]["geo_method"] == "territories-postcode" and by_id["epouville"]["lat"] is not None
    assert by_id["bages"]["geo_method"] == "territories-postcode"
    assert stats["placed"] == {"territories-postcode": 2, "unplaced": 3}


def test_outlines_keep_the_neighbours_out_that_the_boxes_let_in(territories_dir: Path, tmp_path: Path) -> None:
    from transiscope.territories.france import france_outline

    outline = france_outline(territories_dir / "departements-avec-outre-mer.geojson", tmp_path)
    places = {  # (lat, lon), in France?
        "Lille": (50.6372, 3.0633, True),
        "Strasbourg": (48.5839, 7.7455, True),
        "Menton": (43.7764, 7.5048, True),
        "Annemasse": (46.1934, 6.2342, True),
        "Ajaccio": (41.9192, 8.7386, True),
        "Saint-Denis (La Réunion)": (-20.8823, 55.4504, True),
        "Cayenne": (4.9372, -52.326, True),
        "Mamoudzou": (-12.7806, 45.2279, True),
        "Hendaye's beach, off the simplified coast": (43.3740, -1.7745, True),
        "Bruxelles": (50.8467, 4.3525, False),
        "Liège": (50.6451, 5.5734, False),
        "Mons": (50.4542, 3.9523, False),
        "Tournai": (50.6056, 3.3878, False),
        "Luxembourg": (49.6116, 6.1319, False),
        "Saarbrücken": (49.2402, 6.9969, False),
        "Freiburg": (47.9959, 7.8522, False),
        "Geneva": (46.2044, 6.1432, False),
        "Lausanne": (46.5197, 6.6323, False),
        "Aosta": (45.7370, 7.3201, False),
        "Ventimiglia": (43.7903, 7.6083, False),
        "Barcelona": (41.3874, 2.1686, False),
        "Saint-Pierre (not in the territories data)": (46.7811, -56.1764, False),
    }
    lat = np.array([p[0] for p in places.values()])
    lon = np.array([p[1] for p in places.values()])
    inside = outline.contains(lat, lon)
    assert dict(zip(places, inside.tolist(), strict=True)) == {name: p[2] for name, p in places.items()}
    boxed = BOXES.contains(lat, lon)
    assert [n for n, b, i in zip(places, boxed, inside, strict=True) if b and not i] == [
        "Bruxelles",
        "Liège",
        "Mons",
        "Tournai",
        "Luxembourg",
        "Saarbrücken",
        "Freiburg",
        "Geneva",
        "Lausanne",
        "Aosta",
        "Ventimiglia",
        "Barcelona",
    ]
    # the disk cache gives the same area
    france_outline.cache_clear()
    again = france_outline(territories_dir / "departements-avec-outre-mer.geojson", tmp_path)
    assert again.contains(lat, lon).tolist() == inside.tolist()
    assert outline.contains(np.array([np.nan]), np.array([2.0])).tolist() == [False]


def test_swaps_are_fixed_on_the_outlines(territories_dir: Path, tmp_path: Path) -> None:
    """Given as (lon, lat): Valence swapped is fixed; Brussels swapped lands in Belgium, so the boxes would
    have 'fixed' it into France and the outlines leave it (its point is then quarantined as abroad)."""
    from transiscope.territories.france import france_outline

    outline = france_outline(territories_dir / "departements-avec-outre-mer.geojson", tmp_path)
    records = [{"lat": 4.8924, "lon": 44.9334}, {"lat": 4.3525, "lon": 50.8467}, {"lat": None, "lon": 2.0}]
    assert fix_swapped(records, outline) == 1
    assert (records[0]["lat"], records[0]["lon"]) == (44.9334, 4.8924)
    assert (records[1]["lat"], records[1]["lon"]) == (4.3525, 50.8467)
    assert points_in_france(records, outline) == [True, False, None]
    boxed = [{"lat": 4.3525, "lon": 50.8467}]
    assert fix_swapped(boxed, BOXES) == 1  # what the boxes did
