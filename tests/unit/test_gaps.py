"""Gap analysis on a small hand-made geography with answers worked out by hand.

The geography is drawn in Lambert-93 (the CRS distances are measured in) and written as WGS84 GeoJSON, in the
formats of the real shared files, so the same parser reads it:

    x (km from 700 000 m) 0        10        20        30        40        50
                          |   A    |    B    |    C    |    D    |    E    |     (each 10 km × 10 km)
    population              1000     2000      3000      4000     10000
    EPCI                  <-- 200000001 (A, B, C) --> <-- 200000002 (D, E) -->

G (01006, 500 inhabitants) has no polygon of its own: it lies inside E (as the 7 real ones do). H (97101,
5000 inhabitants) is a square in Guadeloupe, with nothing around: it must never get a "nearest" across the ocean.
Two repair cafés sit at the centres of A and E.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest
from pyproj import Transformer

from tests.conftest import PayloadServer, Reply
from tests.integration.geojson_rings import ring_errors
from transiscope.core import vocab
from transiscope.core.errors import ConfigError
from transiscope.downstream.gaps.concepts import load_taxonomy
from transiscope.downstream.gaps.files import priorities, write_csv, write_geojson
from transiscope.downstream.gaps.graphs import write_cube_ntriples, write_links_ntriples
from transiscope.downstream.gaps.indicators import compute
from transiscope.downstream.gaps.items import Items
from transiscope.downstream.gaps.placing import place
from transiscope.settings import PROJECT_ROOT, GapsSettings, parse_thresholds
from transiscope.territories.graph import (
    FILES,
    build_territories,
    load_territories,
    territory_files,
    write_territories_ntriples,
)

BASE = "https://w3id.org/transiscope/"
X0, Y0 = 700_000.0, 6_600_000.0
TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)
POPULATION = {"01001": 1000, "01002": 2000, "01003": 3000, "01004": 4000, "01005": 10000, "01006": 500, "97101": 5000}
EPCI = {
    "01001": "200000001",
    "01002": "200000001",
    "01003": "200000001",
    "01004": "200000002",
    "01005": "200000002",
    "01006": "200000002",
    "97101": "",
}
NAMES = {
    "01001": "Alpha",
    "01002": "Bravo",
    "01003": "Charlie",
    "01004": "Delta",
    "01005": "Écho",
    "01006": "Golf",
    "97101": "Hôtel",
}


def lonlat(x_km: float, y_km: float) -> tuple[float, float]:
    """A point of the drawing (km from the origin, Lambert-93) in WGS84."""
    lon, lat = TO_WGS84.transform(X0 + x_km * 1000, Y0 + y_km * 1000)
    return float(lon), float(lat)


def square(x0_km: float, x1_km: float) -> dict:
    # dense edges, so that the WGS84 outline follows the Lambert-93 square closely
    steps = [x0_km + (x1_km - x0_km) * i / 10 for i in range(11)]
    ring = (
        [lonlat(x, 0) for x in steps]
        + [lonlat(x1_km, 10 * i / 10) for i in range(1, 11)]
        + [lonlat(x, 10) for x in reversed(steps[:-1])]
        + [lonlat(x0_km, 10 * i / 10) for i in range(9, -1, -1)]
    )
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def feature(geometry: dict, **properties: object) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write_geography(directory: Path) -> Path:
    """The hand-made geography as the territories folder's files."""
    for relative in FILES.values():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
    rows = [
        "code_insee,type,nom,code_commune_parent,code_departement,code_region,code_arrondissement,epci_siren,"
        "epci_nom,epci_nature,population_municipale,population_comptee_a_part,population_totale,source_population"
    ]
    for code, population in POPULATION.items():
        dep, reg = ("971", "01") if code.startswith("97") else ("01", "84")
        epci = EPCI[code]
        rows.append(
            f"{code},COM,{NAMES[code]},,{dep},{reg},011,{epci},{'CC ' + epci if epci else ''},CC,"
            f"{population},0,{population},test"
        )
    rows.append("01050,ARM,Écho 1er,01005,01,84,011,200000002,CC 200000002,CC,0,0,0,test")
    (directory / FILES["communes_csv"]).write_text("\n".join(rows) + "\n", encoding="utf-8")
    communes = [
        feature(
            square(10 * i, 10 * (i + 1)),
            code=code,
            nom=NAMES[code],
            communes_sans_contour_incluses=["01006"] if code == "01005" else [],
        )
        for i, code in enumerate(["01001", "01002", "01003", "01004", "01005"])
    ]
    guadeloupe = {
        "type": "Polygon",
        "coordinates": [[[-61.60, 16.20], [-61.50, 16.20], [-61.50, 16.30], [-61.60, 16.30], [-61.60, 16.20]]],
    }
    communes.append(feature(guadeloupe, code="97101", nom="Hôtel"))
    collections = {
        "communes_geojson": communes,
        "epci_geojson": [feature(square(0, 30), siren="200000001"), feature(square(30, 50), siren="200000002")],
        "departements_geojson": [feature(square(0, 50), code="01"), feature(guadeloupe, code="971")],
        "regions_geojson": [feature(square(0, 50), code="84"), feature(guadeloupe, code="01")],
    }
    for role, features in collections.items():
        (directory / FILES[role]).write_text(
            json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
        )
    (directory / FILES["departements_csv"]).write_text(
        "DEP,REG,CHEFLIEU,TNCC,NCC,NCCENR,LIBELLE\n01,84,01001,5,AIN,Ain,Ain\n"
        "971,01,97101,3,GUADELOUPE,Guadeloupe,Guadeloupe\n",
        encoding="utf-8",
    )
    (directory / FILES["regions_csv"]).write_text(
        "REG,CHEFLIEU,TNCC,NCC,NCCENR,LIBELLE\n01,97105,3,GUADELOUPE,Guadeloupe,Guadeloupe\n"
        "84,69123,1,AUVERGNE RHONE ALPES,Auvergne-Rhône-Alpes,Auvergne-Rhône-Alpes\n",
        encoding="utf-8",
    )
    # 01099 merged into 01002 (commune nouvelle), and 01098 into 01099 earlier: a chain of two events
    (directory / FILES["mouvements_csv"]).write_text(
        "MOD,DATE_EFF,TYPECOM_AV,COM_AV,TNCC_AV,NCC_AV,NCCENR_AV,LIBELLE_AV,TYPECOM_AP,COM_AP,TNCC_AP,NCC_AP,"
        "NCCENR_AP,LIBELLE_AP\n"
        "32,2019-01-01,COM,01099,0,VIEUX,Vieux,Vieux,COM,01002,0,BRAVO,Bravo,Bravo\n"
        "32,2019-01-01,COM,01099,0,VIEUX,Vieux,Vieux,COMD,01099,0,VIEUX,Vieux,Vieux\n"
        "31,2001-01-01,COM,01098,0,TRES VIEUX,Très-Vieux,Très-Vieux,COM,01099,0,VIEUX,Vieux,Vieux\n",
        encoding="utf-8",
    )
    (directory / FILES["postcodes_csv"]).write_text(
        "Code_commune_INSEE;Nom_de_la_commune;Code_postal;Libellé_d_acheminement;Ligne_5\n"
        "01001;ALPHA;01100;ALPHA;\n01002;BRAVO;01100;BRAVO;\n01004;DELTA;01400;DELTA;\n"
        "01005;ECHO;01500;ECHO;\n01050;ECHO 1ER;01500;ECHO;\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture(scope="module")
def geography(tmp_path_factory: pytest.TempPathFactory):
    directory = write_geography(tmp_path_factory.mktemp("geography"))
    return build_territories(territory_files(directory, directory / "cache", url=""))


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(PROJECT_ROOT / "ontology" / "taxonomy.ttl")


def items(
    points: list[tuple[float, float] | None],
    concepts: list[tuple[str, ...]] | None = None,
    insee: list[str | None] | None = None,
    postcode: list[str | None] | None = None,
    country: list[str | None] | None = None,
) -> Items:
    n = len(points)
    return Items(
        iris=[f"{BASE}id/initiative/test/{i}" for i in range(n)],
        kinds=["initiative"] * n,
        lon=np.array([p[0] if p else math.nan for p in points]),
        lat=np.array([p[1] if p else math.nan for p in points]),
        insee=insee or [None] * n,
        postcode=postcode or [None] * n,
        concepts=concepts or [("repair-cafes",)] * n,
        sources=["test"] * n,
        country=country or [None] * n,
    )


SETTINGS = GapsSettings(
    thresholds_km=(5.0, 15.0),
    white_zone_km=15.0,
    catchment_km=12.0,
    min_population=1000,
    cube_levels=("france", "region", "departement", "epci", "commune"),
)


@pytest.fixture(scope="module")
def result(geography, taxonomy):
    cafes = items([lonlat(5, 5), lonlat(45, 5)])
    placement = place(geography, cafes)
    return cafes, placement, compute(geography, cafes, placement, taxonomy, SETTINGS)


def value(geography, result, level: str, code: str, measure: str, concept: str = "repair-cafes") -> float:
    _, _, gaps = result
    return gaps.values[level][measure][geography.levels[level].index[code], gaps.concepts.index(concept)]


# -- the territories -------------------------------------------------------------------------------------------
def test_hierarchy_population_and_area(geography) -> None:
    levels = geography.levels
    assert len(levels["commune"]) == 7 and len(levels["epci"]) == 2
    assert levels["france"].population[0] == sum(POPULATION.values())
    assert levels["epci"].population[levels["epci"].index["200000002"]] == 14_500  # D + E + G (inside E)
    assert levels["region"].population[levels["region"].index["01"]] == 5000
    assert levels["departement"].area_km2[levels["departement"].index["01"]] == pytest.approx(500, rel=2e-3)
    assert np.isnan(levels["commune"].area_km2[levels["commune"].index["01006"]])  # no polygon of its own
    assert geography.parent["epci"][levels["commune"].index["97101"]] == -1


def test_old_codes_and_arrondissements_are_recoded(geography) -> None:
    codes = geography.communes.codes
    assert codes[geography.commune_index("01099")] == "01002"
    assert codes[geography.commune_index("01098")] == "01002"  # two events in a row
    assert codes[geography.commune_index("01050")] == "01005"  # municipal arrondissement -> its commune
    assert geography.commune_index("99999") == -1 and geography.commune_index("") == -1


def test_population_points_are_inside_and_projected(geography) -> None:
    a = geography.communes.index["01001"]
    assert geography.x[a] == pytest.approx(X0 + 5000, abs=30) and geography.y[a] == pytest.approx(Y0 + 5000, abs=30)
    g, e = geography.communes.index["01006"], geography.communes.index["01005"]
    assert (geography.x[g], geography.y[g]) == (geography.x[e], geography.y[e])  # the host's point


# -- placing ---------------------------------------------------------------------------------------------------
def test_place_by_point_code_postcode_and_report_disagreements(geography) -> None:
    things = items(
        [lonlat(25, 5), None, None, None, lonlat(45, 5), lonlat(-0.5, 5), lonlat(-300, 5), lonlat(15, 5), None],
        insee=["01001", "01099", None, None, "01006", None, None, None, "75056"],
        postcode=[None, None, "01100", "01400", None, None, None, "01400", "99999"],
    )
    placement = place(geography, things, snap_km=1.0)
    codes = geography.communes.codes

    def commune(i: int) -> str | None:
        return codes[placement.commune[i]] if placement.commune[i] >= 0 else None

    assert [commune(i) for i in range(9)] == ["01003", "01002", None, "01004", "01006", "01001", None, "01002", None]
    assert list(placement.method) == [
        "point",
        "insee",
        "postcode",
        "postcode",
        "point",
        "point-snapped",
        "outside-france",  # 300 km from every département of the drawing
        "point",
        "none",
    ]
    # postcode 01100 is shared by Alpha and Bravo: no commune, but the EPCI, département and région they share
    epci = geography.levels["epci"]
    assert epci.codes[placement.unit["epci"][2]] == "200000001" and placement.unit["region"][2] >= 0
    # the point in Charlie declaring Alpha, and the point in Bravo declaring postcode 01400 (Delta): reported
    found = {d.position: d for d in placement.disagreements}
    assert set(found) == {0, 7}
    assert found[0].point_commune == "01003" and found[0].declared == "INSEE 01001"
    assert found[0].km == pytest.approx(15.0, abs=0.1)  # from x = 25 km to Alpha's edge at x = 10 km
    assert found[7].declared == "postcode 01400" and found[7].km == pytest.approx(15.0, abs=0.1)
    assert placement.counts() == {
        "insee": 1,
        "none": 1,
        "outside-france": 1,
        "point": 3,
        "point-snapped": 1,
        "postcode": 2,
    }


def test_records_abroad_never_fall_back_to_a_french_code(geography) -> None:
    """A point outside France keeps its foreign postcode or INSEE-looking code to itself; a record declared
    abroad (an international source's) is placed nowhere, even with a point inside France."""
    things = items(
        [lonlat(-300, 5), lonlat(-300, 5), lonlat(25, 5), None, lonlat(-0.5, 5), lonlat(25, 5)],
        insee=[None, "01001", None, "01001", None, None],
        postcode=["01400", None, None, "01400", None, None],
        country=[None, None, "BE", "DE", None, "FR"],
    )
    placement = place(geography, things, snap_km=1.0)
    assert list(placement.method) == ["outside-france", "outside-france", "abroad", "abroad", "point-snapped", "point"]
    assert list(placement.commune[:4]) == [-1, -1, -1, -1]
    for level in ("epci", "departement", "region", "france"):
        assert list(placement.unit[level][:4]) == [-1, -1, -1, -1]
    assert placement.unit["france"][4] >= 0 and placement.unit["france"][5] >= 0  # the coast's tolerance, France


# -- indicators ------------------------------------------------------------------------------------------------
def test_distances_by_hand(geography, result) -> None:
    _, _, gaps = result
    k = gaps.concepts.index("repair-cafes")
    expected = {"01001": 0, "01002": 10, "01003": 20, "01004": 10, "01005": 0, "01006": 0}
    for code, km in expected.items():
        assert gaps.distance_km[geography.communes.index[code], k] == pytest.approx(km, abs=0.05), code
    assert math.isinf(gaps.distance_km[geography.communes.index["97101"], k])  # never across the ocean


def test_shares_means_medians_and_white_zones(geography, result) -> None:
    total = sum(POPULATION.values())
    assert value(geography, result, "france", "FR", "share_beyond_5km") == pytest.approx(14_000 / total)
    assert value(geography, result, "france", "FR", "share_beyond_15km") == pytest.approx(8_000 / total)
    assert value(geography, result, "region", "84", "share_beyond_5km") == pytest.approx(9_000 / 20_500)
    assert value(geography, result, "region", "84", "mean_km") == pytest.approx(120_000 / 20_500, abs=1e-2)
    assert value(geography, result, "region", "84", "median_km") == pytest.approx(0, abs=0.05)
    assert value(geography, result, "epci", "200000001", "median_km") == pytest.approx(10, abs=0.05)
    assert math.isnan(value(geography, result, "region", "01", "median_km"))  # nothing at all in Guadeloupe
    assert value(geography, result, "region", "84", "white_communes") == 1  # Charlie, 20 km > 15 km
    assert value(geography, result, "region", "84", "white_population") == 3000
    assert value(geography, result, "france", "FR", "white_population") == 8000  # + Guadeloupe


def test_two_step_floating_catchment_by_hand(geography, result) -> None:
    # café A reaches A and B (3000 people); café E reaches D, E and G (14 500 people) within 12 km
    expected = {
        "01001": 1 / 3000,
        "01002": 1 / 3000,
        "01003": 0,
        "01004": 1 / 14_500,
        "01005": 1 / 14_500,
        "01006": 1 / 14_500,
        "97101": 0,
    }
    for code, score in expected.items():
        assert value(geography, result, "commune", code, "access_2sfca") == pytest.approx(score * 10_000), code
    # supply is conserved: population-weighted accessibility sums back to the number of cafés
    national = value(geography, result, "france", "FR", "access_2sfca")
    assert national * sum(POPULATION.values()) / 10_000 == pytest.approx(2)


def test_counts_ratios_and_priorities(geography, result, taxonomy) -> None:
    total = sum(POPULATION.values())
    assert value(geography, result, "departement", "01", "count") == 2
    assert value(geography, result, "epci", "200000001", "count") == 1
    assert value(geography, result, "epci", "200000001", "count", "consommer-produire") == 1  # the broader concept
    assert value(geography, result, "epci", "200000001", "count", "culture") == 0
    assert value(geography, result, "epci", "200000001", "per_10k") == pytest.approx(10_000 / 6000)
    assert value(geography, result, "departement", "01", "per_100km2") == pytest.approx(0.4, rel=2e-3)
    expected = 20_500 * 2 / total
    assert value(geography, result, "region", "84", "oe_ratio") == pytest.approx(2 / expected)
    assert value(geography, result, "region", "84", "z_score") == pytest.approx((2 - expected) / math.sqrt(expected))
    assert math.isnan(value(geography, result, "commune", "01006", "z_score"))  # under the minimum population
    # priorities: Guadeloupe (5000 people in a zone blanche) before Auvergne-Rhône-Alpes (3000)
    rows = [r for r in priorities(geography, result[2], taxonomy, ["region"]) if r["concept"] == "repair-cafes"]
    assert [(r["code"], r["rank"], r["white_zone_population"]) for r in rows] == [("01", 1, 5000), ("84", 2, 3000)]
    assert all(r["caveat"] for r in rows)
    # by share: Guadeloupe 100 %, ARA 3000 / 20 500; the rank by population stays beside it
    assert [r["white_zone_share"] for r in rows] == [1.0, round(3000 / 20500, 4)]
    assert [r["population_rank"] for r in rows] == [1, 2]
    label = taxonomy.labels["repair-cafes"]["fr"]
    assert rows[1]["sentence"] == (
        f"{rows[1]['name']} : 15 % des habitants vivent à plus de 15 km à vol d'oiseau de toute initiative "
        f"recensée « {label} »."
    )
    # the broader concept is fed by repair cafés alone: it says so
    assert result[2].measured_through == {"consommer-produire": "repair-cafes"}
    broader = [r for r in priorities(geography, result[2], taxonomy, ["region"]) if r["concept"] != "repair-cafes"]
    assert broader and all(r["measured_through"] == "repair-cafes" for r in broader)


def test_share_ranking_differs_from_the_population_ranking(geography, result) -> None:
    """EPCI 200000001 (A, B, C: 6000 people) has 3000 in zones blanches (C), half; 200000002 (D, E, G: 14 500)
    has none; Guadeloupe's commune is in no EPCI. At commune level: the share ranks 01003 (C, all its people)
    and 97101 (H, all) before the rest by population concerned; every commune above 1000 people is ranked."""
    _, _, gaps = result
    k = gaps.concepts.index("repair-cafes")
    communes = geography.communes
    share = {c: gaps.values["commune"]["priority_rank"][communes.index[c], k] for c in communes.codes}
    by_population = {c: gaps.values["commune"]["population_rank"][communes.index[c], k] for c in communes.codes}
    assert (share["97101"], share["01003"]) == (1, 2)  # both 100 %: more people first (5000, then 3000)
    assert all(np.isfinite(share[c]) for c, p in POPULATION.items() if p >= 1000)
    assert math.isnan(share["01006"])  # 500 inhabitants: under the minimum population
    assert math.isnan(by_population["01001"])  # nobody in a zone blanche: not in the population ranking


def test_metropole_aggregate(geography, result) -> None:
    """France hors DROM: the communes of Auvergne-Rhône-Alpes here (20 500 people), not Guadeloupe's 5000."""
    from transiscope.downstream.gaps.files import aggregates

    _, _, gaps = result
    k = gaps.concepts.index("repair-cafes")
    found = aggregates(geography, gaps)
    assert found["metropole"]["label"]["fr"] == "France hors DROM"
    assert found["metropole"]["population"] == 20_500 and found["france"]["population"] == 25_500
    metro = found["metropole"]["concepts"]["repair-cafes"]
    assert metro["count"] == 2 and metro["white_population"] == 3000
    assert metro["share_beyond_15km"] == round(3000 / 20500, 4)
    assert found["france"]["concepts"]["repair-cafes"]["white_population"] == 8000
    assert gaps.values["metropole"]["per_10k"][0, k] == pytest.approx(2 / 20500 * 10_000)


def test_records_linked_by_same_as_count_once(geography, result, taxonomy) -> None:
    """The café of A listed again by a second record (one a little into B) and linked to it by owl:sameAs, the
    link stated both ways as the link step writes it: counts, rates and 2SFCA are those of the two cafés alone."""
    cafes = items([lonlat(5, 5), lonlat(45, 5), lonlat(10.5, 5)])
    used = cafes.link_same_as([(cafes.iris[0], cafes.iris[2]), (cafes.iris[2], cafes.iris[0]), ("x", cafes.iris[1])])
    assert used == 2 and list(cafes.cluster) == [0, 1, 0]
    linked = compute(geography, cafes, place(geography, cafes), taxonomy, SETTINGS)
    _, _, alone = result
    k = alone.concepts.index("repair-cafes")
    for level in ("france", "region", "departement", "epci", "commune"):
        for measure in ("count", "per_10k", "oe_ratio", "access_2sfca"):
            np.testing.assert_allclose(linked.values[level][measure][:, k], alone.values[level][measure][:, k])
    bravo = geography.communes.index["01002"]
    assert linked.values["commune"]["count"][bravo, k] == 0  # counted at its first member's point, in A
    assert linked.distance_km[bravo, k] < alone.distance_km[bravo, k]  # but its point is still a point
    three = items([lonlat(5, 5), lonlat(45, 5), lonlat(10.5, 5)])
    unlinked = compute(geography, three, place(geography, three), taxonomy, SETTINGS)
    assert unlinked.values["france"]["count"][0, k] == 3  # without the link, three


# -- outputs ---------------------------------------------------------------------------------------------------
def test_files_cube_and_links(geography, result, taxonomy, tmp_path: Path) -> None:
    import rdflib

    from tests.unit.test_ontology import ONTOLOGY, undeclared

    cafes, placement, gaps = result
    csv_files = write_csv(geography, gaps, tmp_path)
    assert {p.name for p in csv_files} == {f"gaps-{level}.csv" for level in geography.levels}
    lines = (tmp_path / "gaps-region.csv").read_text(encoding="utf-8").splitlines()
    active = [gaps.concepts[k] for k in gaps.active]
    assert active == ["consommer-produire", "repair-cafes"]  # concepts without any initiative are left out
    assert lines[0].startswith("# Non recensé") and len(lines) == 2 + 2 * len(active)
    write_geojson(geography, gaps, taxonomy, tmp_path)
    for level in ("commune", "epci", "departement", "region"):  # RFC 7946 ring orientation, checked independently
        assert ring_errors(json.loads((tmp_path / f"gaps-{level}.geojson").read_text(encoding="utf-8"))) == []
    communes = json.loads((tmp_path / "gaps-commune.geojson").read_text(encoding="utf-8"))
    assert len(communes["features"]) == 6  # Golf has no outline of its own
    alpha = next(f for f in communes["features"] if f["properties"]["code"] == "01001")
    assert alpha["properties"]["indicators"]["repair-cafes"]["count"] == 1
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert index["files"]["region"] == "gaps-region.geojson" and "vol d'oiseau" in index["caveat"]["fr"]

    cube = tmp_path / "gaps.nt"
    write_cube_ntriples(geography, gaps, BASE, cube, generated="2026-01-01T00:00:00+00:00")
    store = ox.Store()
    store.load(path=str(cube), format=ox.RdfFormat.N_TRIPLES)
    share = list(
        store.query(
            f"""SELECT ?v ?t WHERE {{ ?o a <http://purl.org/linked-data/cube#Observation> ;
                <{vocab.TS}refTerritory> <{BASE}id/territory/cog2026/region/84> ;
                <{vocab.TS}refConcept> <{vocab.TX}repair-cafes> ; <{vocab.TS}populationShareBeyond> ?v ;
                <{vocab.TS}thresholdKm> ?t }} ORDER BY ?t"""
        )
    )
    assert [(float(r["t"].value), float(r["v"].value)) for r in share] == [
        (5.0, pytest.approx(9000 / 20500, abs=1e-6)),
        (15.0, pytest.approx(3000 / 20500, abs=1e-6)),
    ]
    finite = sum(
        int(np.isfinite(m[:, gaps.active]).sum())
        for level in SETTINGS.cube_levels
        for m in gaps.values[level].values()
        if m is not gaps.values[level]["expected"]
    )
    observations = list(
        store.query("SELECT (COUNT(*) AS ?n) WHERE { ?o a <http://purl.org/linked-data/cube#Observation> }")
    )
    assert int(observations[0]["n"].value) == finite

    links = tmp_path / "links.nt"
    territories_nt = tmp_path / "territories.nt"
    write_links_ntriples(geography, cafes, placement, BASE, links)
    write_territories_ntriples(geography, BASE, territories_nt)
    for path in (links, territories_nt):
        store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    linked = {
        r["t"].value.rsplit("/", 2)[-2]
        for r in store.query(f"SELECT ?t WHERE {{ <{cafes.iris[0]}> <{vocab.TS}inTerritory> ?t }}")
    }
    assert linked == {"commune", "epci", "departement", "region", "cog2026"}  # cog2026/france
    terms = {q.predicate.value for q in store} | {
        q.object.value for q in store if q.predicate.value == vocab.RDF + "type"
    }

    ontology = rdflib.Graph().parse(ONTOLOGY / "transiscope.ttl")
    assert undeclared(terms, ontology) == set()


# -- settings and downloads ----------------------------------------------------------------------------------------
def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="thresholds"):
        parse_thresholds("5,dix")
    with pytest.raises(ConfigError, match="positive"):
        parse_thresholds("-5")
    with pytest.raises(ConfigError, match="catchment_km"):
        GapsSettings(catchment_km=0)
    with pytest.raises(ConfigError, match="unknown territory level"):
        GapsSettings(cube_levels=("canton",))


def test_missing_files_are_downloaded_once_from_the_configured_url(tmp_path: Path) -> None:
    source = write_geography(tmp_path / "mirror")
    server = PayloadServer()
    try:
        for relative in FILES.values():
            server.set(f"/territories/{relative}", Reply(200, (source / relative).read_bytes()))
        cache = tmp_path / "cache"
        files = territory_files(None, cache, url=server.url("/territories"))
        assert all(path.is_relative_to(cache) for path in files.values())
        again = territory_files(None, cache, url=server.url("/territories"))
        assert again == files and all(server.hits[f"/territories/{r}"] == 1 for r in FILES.values())
        assert len(load_territories(files, cache).communes) == 7
        with pytest.raises(ConfigError, match="TRANSISCOPE_TERRITORIES_URL"):
            territory_files(tmp_path / "nowhere", tmp_path / "other-cache", url="")
    finally:
        server.close()


def test_items_from_the_store_carry_their_same_as_clusters() -> None:
    """The store's owl:sameAs links (both ways, as the link step writes them) group the items read."""
    from transiscope.downstream.gaps.items import items_from_store

    store = ox.Store()
    lines = []
    for n in range(3):
        s = f"<{BASE}id/initiative/test/{n}>"
        lines += [
            f"{s} <{vocab.RDF}type> <{vocab.TS}Initiative> .",
            f"{s} <{vocab.GEO}hasGeometry> <{BASE}g{n}> .",
            f'<{BASE}g{n}> <{vocab.SCHEMA}latitude> "45.{n}"^^<{vocab.XSD}decimal> .',
            f'<{BASE}g{n}> <{vocab.SCHEMA}longitude> "5.{n}"^^<{vocab.XSD}decimal> .',
        ]
    same = "http://www.w3.org/2002/07/owl#sameAs"
    lines += [
        f"<{BASE}id/initiative/test/2> <{same}> <{BASE}id/initiative/test/0> .",
        f"<{BASE}id/initiative/test/0> <{same}> <{BASE}id/initiative/test/2> .",
    ]
    store.load(("\n".join(lines) + "\n").encode(), format=ox.RdfFormat.N_TRIPLES)
    found = items_from_store(store, BASE)  # type: ignore[arg-type]
    assert found.iris == [f"{BASE}id/initiative/test/{n}" for n in range(3)]
    assert list(found.cluster) == [0, 1, 0]
