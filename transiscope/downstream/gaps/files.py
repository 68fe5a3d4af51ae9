"""The gap analysis as files for the map and for people: CSV per level, priority territories, GeoJSON.

Why files besides the Data Cube: the map's choropleth reads ``gaps-<level>.geojson`` and ``index.json``
(concepts, measures, their labels) as static files, and the CSV files open in a spreadsheet; the commune
level, too large for the cube, is only here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from transiscope.core.geo import LEVELS
from transiscope.downstream.gaps.concepts import GapConcepts
from transiscope.downstream.gaps.indicators import METROPOLE, GapResult, metropole_region
from transiscope.downstream.gaps.measures import (
    CAVEAT_EN,
    CAVEAT_FR,
    INTEGER_MEASURES,
    MEASURES,
    measure_classes,
    measure_keys,
    output_value,
)
from transiscope.territories.graph import FILES, VINTAGE, Territories


def write_csv(territories: Territories, result: GapResult, out_dir: Path) -> list[Path]:
    """``gaps-<level>.csv``: one row per territory × concept, one column per measure."""
    import pandas as pd

    keys = measure_keys(result.settings)
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for level in (lv for lv in LEVELS if lv in result.settings.file_levels):
        units = territories.levels[level]
        active = result.active
        n_units, n_concepts = len(units), len(active)
        frame = pd.DataFrame(
            {
                "level": level,
                "code": np.repeat(np.array(units.codes, dtype=object), n_concepts),
                "name": np.repeat(np.array(units.names, dtype=object), n_concepts),
                "population": np.repeat(units.population.astype(int), n_concepts),
                "area_km2": np.repeat(np.round(units.area_km2, 3), n_concepts),
                "concept": np.tile(np.array(result.concepts, dtype=object)[active], n_units),
            }
        )
        # a concept fed by one narrower concept only repeats its figures: the column says which
        frame["measured_through"] = frame["concept"].map(lambda c: result.measured_through.get(c, ""))
        for key in keys:
            column = result.values[level][key][:, active].reshape(-1)
            if key in INTEGER_MEASURES:
                frame[key] = pd.array(np.where(np.isfinite(column), np.round(column), np.nan), dtype="Float64").astype(
                    "Int64"
                )
            elif key == "presence":
                frame[key] = column.astype(int)
            else:
                frame[key] = np.round(column, 4)
        path = out_dir / f"gaps-{level}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(f"# {CAVEAT_FR} / {CAVEAT_EN}\n")
            frame.to_csv(handle, index=False)
        written.append(path)
    return written


def priorities(
    territories: Territories,
    result: GapResult,
    taxonomy: GapConcepts,
    levels: Iterable[str] = ("epci", "departement", "region"),
) -> list[dict[str, Any]]:
    """The territories where alternatives are most missing, per concept and level (the top ``priority_count``).

    Why by share: "where is it missing" is about the people who live far, relative to the territory, so the rank
    is the share of the population in zones blanches, with the population concerned beside it; the rank by that
    population (the former ranking, which favours large territories) stays as a column. The Poisson z-score is
    left to the analysts' per-level files.
    """
    rows = []
    white_km = f"{result.settings.white_zone_km:g}"
    for level in levels:
        units = territories.levels[level]
        values = result.values[level]
        ranks = values["priority_rank"]
        for k in result.active:
            concept = result.concepts[k]
            through = result.measured_through.get(concept, "")
            ranked = np.flatnonzero(ranks[:, k] <= result.settings.priority_count)
            for u in ranked[np.argsort(ranks[ranked, k])]:
                share = output_value("white_share", values["white_share"][u, k])
                rows.append(
                    {
                        "level": level,
                        "concept": concept,
                        "concept_label": taxonomy.labels[concept]["fr"],
                        "measured_through": through,
                        "rank": int(ranks[u, k]),
                        "code": units.codes[u],
                        "name": units.names[u],
                        "population": int(units.population[u]),
                        "white_zone_share": share,
                        "white_zone_population": int(values["white_population"][u, k]),
                        "white_zone_communes": int(values["white_communes"][u, k]),
                        "population_rank": output_value("population_rank", values["population_rank"][u, k]),
                        "count": int(values["count"][u, k]),
                        "sentence": sentence(units.names[u], share, white_km, taxonomy.labels[concept]["fr"]),
                        "sentence_en": sentence(
                            units.names[u], share, white_km, taxonomy.labels[concept].get("en", concept), "en"
                        ),
                        "caveat": "non recensé ≠ absent",
                    }
                )
    return rows


def sentence(name: str, share: float | int | bool | None, km: str, label: str, language: str = "fr") -> str:
    """The rank in plain words: "À X, 61 % des habitants vivent à plus de 10 km à vol d'oiseau d'un tiers-lieu
    recensé" (the concept's label as the taxonomy gives it)."""
    if share is None:
        return ""
    percent = f"{float(share) * 100:.0f}"
    if language == "en":
        return (
            f"{name}: {percent}% of the inhabitants live more than {km} km as the crow flies from any listed "
            f'initiative "{label}".'
        )
    return (
        f"{name} : {percent.replace('.', ',')} % des habitants vivent à plus de {km} km à vol d'oiseau "
        f"de toute initiative recensée « {label} »."
    )


PRIORITY_FIELDS = [
    "level",
    "concept",
    "concept_label",
    "measured_through",
    "rank",
    "code",
    "name",
    "population",
    "white_zone_share",
    "white_zone_population",
    "white_zone_communes",
    "population_rank",
    "count",
    "sentence",
    "caveat",
]


def write_priorities(rows: list[dict[str, Any]], path: Path) -> Path:
    """``gaps-priorities.csv`` for spreadsheets and, beside it, ``gaps-priorities.json`` for the ``/gaps/`` page
    (the same rows with the English sentence too), so the page shows exactly what the file says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"caveat": {"fr": CAVEAT_FR, "en": CAVEAT_EN}, "rows": rows}
    path.with_suffix(".json").write_text(json.dumps(document, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"# {CAVEAT_FR} / {CAVEAT_EN}\n")
        writer = csv.DictWriter(handle, fieldnames=PRIORITY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


#: the national aggregates: France entière and France hors DROM (metropole and Corsica)
AGGREGATES = {
    "france": {"fr": "France entière", "en": "All of France"},
    METROPOLE: {"fr": "France hors DROM", "en": "France without its overseas départements"},
}


def aggregates(territories: Territories, result: GapResult) -> dict[str, dict[str, Any]]:
    """France entière and France hors DROM, every measure per active concept (for ``index.json`` and a CSV)."""
    keys = [k for k in measure_keys(result.settings) if not k.endswith("_rank")]
    population = {
        "france": int(territories.levels["france"].population[0]),
        METROPOLE: int(territories.communes.population[_metropole_communes(territories)].sum()),
    }
    return {
        name: {
            "label": label,
            "population": population[name],
            "concepts": {
                result.concepts[k]: {key: output_value(key, result.values[name][key][0, k]) for key in keys}
                for k in result.active
            },
        }
        for name, label in AGGREGATES.items()
    }


def _metropole_communes(territories: Territories) -> np.ndarray:
    region = territories.parent["region"]
    inside = region >= 0
    inside[inside] = metropole_region(territories)[region[inside]]
    return inside


def write_aggregates(found: dict[str, dict[str, Any]], result: GapResult, path: Path) -> Path:
    """``gaps-aggregates.csv``: one row per aggregate × concept."""
    keys = [k for k in measure_keys(result.settings) if not k.endswith("_rank")]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"# {CAVEAT_FR} / {CAVEAT_EN}\n")
        writer = csv.writer(handle)
        writer.writerow(["aggregate", "label", "population", "concept", "measured_through", *keys])
        for name, entry in found.items():
            for concept, measures in entry["concepts"].items():
                writer.writerow(
                    [
                        name,
                        entry["label"]["fr"],
                        entry["population"],
                        concept,
                        result.measured_through.get(concept, ""),
                        *("" if measures[k] is None else measures[k] for k in keys),
                    ]
                )
    return path


#: measures shown per concept in the commune GeoJSON (the full set would make a file of hundreds of MB)
COMMUNE_MAP_MEASURES = ("count", "mean_km", "access_2sfca", "white_communes")


def write_geojson(
    territories: Territories,
    result: GapResult,
    taxonomy: GapConcepts,
    out_dir: Path,
    sources: dict[str, int] | None = None,
) -> list[Path]:
    """``gaps-<level>.geojson`` for the map's choropleth, plus ``index.json`` describing concepts and measures.

    Each feature: ``code``, ``nom``, ``population``, ``area_km2`` and ``indicators``: {concept: {measure: value}}.
    At commune level, ``mean_km`` is the commune's own distance and only :data:`COMMUNE_MAP_MEASURES` are written.
    Every polygon is written with the ring orientation RFC 7946 requires (exterior counter-clockwise).
    ``sources`` (source id -> initiatives placed) goes into ``index.json`` so the pages can say where the
    data comes from.
    """
    import shapely

    out_dir.mkdir(parents=True, exist_ok=True)
    keys = measure_keys(result.settings)
    written = []
    skipped: dict[str, int] = {}
    map_levels = [level for level in LEVELS[:-1] if level in result.settings.file_levels]
    for level in map_levels:
        units = territories.levels[level]
        has = np.array([g is not None for g in units.geometry], dtype=bool)
        skipped[level] = int((~has).sum())
        geometry_json = np.full(len(units), None, dtype=object)
        if has.any():
            # RFC 7946 §3.1.6: exterior rings counter-clockwise, holes clockwise (the shared outlines are not)
            geometry_json[has] = shapely.to_geojson(shapely.orient_polygons(units.geometry[has], exterior_cw=False))
        level_keys = [k for k in keys if k in COMMUNE_MAP_MEASURES] if level == "commune" else keys
        columns = {key: result.values[level][key] for key in level_keys}
        path = out_dir / f"gaps-{level}.geojson"
        with path.open("w", encoding="utf-8") as handle:
            handle.write('{"type":"FeatureCollection","name":' + json.dumps(f"gaps-{level}") + ',"features":[\n')
            first = True
            for u in np.flatnonzero(has):
                indicators = {
                    result.concepts[k]: {key: output_value(key, columns[key][u, k]) for key in level_keys}
                    for k in result.active
                }
                properties = {
                    "code": units.codes[u],
                    "nom": units.names[u],
                    "level": level,
                    "population": int(units.population[u]),
                    "area_km2": output_value("area", units.area_km2[u]),
                    "indicators": indicators,
                }
                handle.write(
                    ("" if first else ",\n")
                    + '{"type":"Feature","geometry":'
                    + geometry_json[u]
                    + ',"properties":'
                    + json.dumps(properties, ensure_ascii=False, allow_nan=False)
                    + "}"
                )
                first = False
            handle.write("\n]}\n")
        written.append(path)
    settings = result.settings
    labels = {}
    for key in keys:
        base_key = "share_beyond" if key.startswith("share_beyond_") else key
        _, fr, en, unit = MEASURES[base_key]
        t = key.removeprefix("share_beyond_").removesuffix("km") if base_key == "share_beyond" else ""
        fmt = {"t": t, "w": f"{settings.white_zone_km:g}", "c": f"{settings.catchment_km:g}"}
        # the direction and fixed classes the map colours by (measures.SCALES)
        labels[key] = {"fr": fr.format(**fmt), "en": en.format(**fmt), "unit": unit, **measure_classes(key)}
    index = {
        "vintage": VINTAGE,
        "sources": dict(sorted((sources or {}).items())),
        "territory_files": sorted(set(FILES.values())),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "caveat": {"fr": CAVEAT_FR, "en": CAVEAT_EN},
        "files": {level: f"gaps-{level}.geojson" for level in map_levels},
        "features_without_outline": skipped,
        "concepts": [
            {
                "notation": c,
                "label": taxonomy.labels[c],
                "broader": taxonomy.broader.get(c),
                "measured_through": result.measured_through.get(c),
            }
            for c in (result.concepts[k] for k in result.active)
        ],
        "concepts_without_data": [c for k, c in enumerate(result.concepts) if k not in set(result.active)],
        "measures": labels,
        "commune_measures": list(COMMUNE_MAP_MEASURES),
        # the measures each level's GeoJSON carries: the map offers only those
        "level_measures": {
            level: [k for k in keys if k in COMMUNE_MAP_MEASURES] if level == "commune" else list(keys)
            for level in map_levels
        },
        "settings": {
            "thresholds_km": list(settings.thresholds_km),
            "white_zone_km": settings.white_zone_km,
            "catchment_km": settings.catchment_km,
            "min_population": settings.min_population,
        },
        "aggregates": aggregates(territories, result),
        "national": {
            c: {
                "count": int(result.values["france"]["count"][0, k]),
                "per_10k": output_value("per_10k", result.values["france"]["per_10k"][0, k]),
            }
            for k, c in enumerate(result.concepts)
        },
    }
    (out_dir / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    return written
