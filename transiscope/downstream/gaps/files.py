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
from transiscope.downstream.gaps.indicators import GapResult
from transiscope.downstream.gaps.measures import CAVEAT_EN, CAVEAT_FR, MEASURES, measure_keys, output_value
from transiscope.territories.graph import VINTAGE, Territories


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
        for key in keys:
            column = result.values[level][key][:, active].reshape(-1)
            if key in ("count", "white_communes", "white_population", "priority_rank"):
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
    """The ranked priority territories of each concept and level (the top ``priority_count``)."""
    rows = []
    for level in levels:
        units = territories.levels[level]
        values = result.values[level]
        ranks = values["priority_rank"]
        for k in result.active:
            concept = result.concepts[k]
            ranked = np.flatnonzero(ranks[:, k] <= result.settings.priority_count)
            for u in ranked[np.argsort(ranks[ranked, k])]:
                rows.append(
                    {
                        "level": level,
                        "concept": concept,
                        "concept_label": taxonomy.labels[concept]["fr"],
                        "rank": int(ranks[u, k]),
                        "code": units.codes[u],
                        "name": units.names[u],
                        "population": int(units.population[u]),
                        "white_zone_population": int(values["white_population"][u, k]),
                        "white_zone_communes": int(values["white_communes"][u, k]),
                        "count": int(values["count"][u, k]),
                        "z_score": output_value("z_score", values["z_score"][u, k]),
                        "caveat": "non recensé ≠ absent",
                    }
                )
    return rows


def write_priorities(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "level",
        "concept",
        "concept_label",
        "rank",
        "code",
        "name",
        "population",
        "white_zone_population",
        "white_zone_communes",
        "count",
        "z_score",
        "caveat",
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"# {CAVEAT_FR} / {CAVEAT_EN}\n")
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


#: measures shown per concept in the commune GeoJSON (the full set would make a file of hundreds of MB)
COMMUNE_MAP_MEASURES = ("count", "mean_km", "access_2sfca", "white_communes")


def write_geojson(territories: Territories, result: GapResult, taxonomy: GapConcepts, out_dir: Path) -> list[Path]:
    """``gaps-<level>.geojson`` for the map's choropleth, plus ``index.json`` describing concepts and measures.

    Each feature: ``code``, ``nom``, ``population``, ``area_km2`` and ``indicators``: {concept: {measure: value}}.
    At commune level, ``mean_km`` is the commune's own distance and only :data:`COMMUNE_MAP_MEASURES` are written.
    Every polygon is written with the ring orientation RFC 7946 requires (exterior counter-clockwise).
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
        labels[key] = {"fr": fr.format(**fmt), "en": en.format(**fmt), "unit": unit}
    index = {
        "vintage": VINTAGE,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "caveat": {"fr": CAVEAT_FR, "en": CAVEAT_EN},
        "files": {level: f"gaps-{level}.geojson" for level in map_levels},
        "features_without_outline": skipped,
        "concepts": [
            {"notation": c, "label": taxonomy.labels[c], "broader": taxonomy.broader.get(c)}
            for c in (result.concepts[k] for k in result.active)
        ],
        "concepts_without_data": [c for k, c in enumerate(result.concepts) if k not in set(result.active)],
        "measures": labels,
        "commune_measures": list(COMMUNE_MAP_MEASURES),
        "settings": {
            "thresholds_km": list(settings.thresholds_km),
            "white_zone_km": settings.white_zone_km,
            "catchment_km": settings.catchment_km,
            "min_population": settings.min_population,
        },
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
