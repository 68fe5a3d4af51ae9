"""Territorial gap analysis: where alternatives are missing, per territory level and taxonomy concept.

Why this shape: the gap analysis reads the triplestore (initiatives and events with their points and concepts),
places each one in its territories at every level, computes the indicators with vectorised shapely/numpy (a
Python loop over 35,000 communes × 100,000 initiatives would never finish in time), and writes its results back:
``ts:inTerritory`` links in their own named graph (source graphs are never modified), the indicators as an RDF
Data Cube dataset in the gaps graph, and CSV/GeoJSON files for the map.

Placing: point-in-polygon over the commune outlines (STRtree, one vectorised query); a point just off a
simplified coastline is snapped to the nearest commune within ``snap_km``; a record without a usable point falls
back to its INSEE code (re-coded through the COG history when old) or its postcode (communes shared by a postcode
give only the levels they agree on). A point lying in another commune than the one its record declares keeps its
point's commune (the point is what the map shows) and is *reported*, never silently resolved.

Indicators (distances are straight lines, "à vol d'oiseau", in each zone's projected CRS; see
:mod:`transiscope.territories.graph`): count, presence, per 10,000 inhabitants, per 100 km²; from each commune's
population point the distance to the nearest initiative of the concept searched in the whole zone (metropole,
Corsica, each DROM; never across the sea), aggregated as the population share beyond thresholds, the
population-weighted mean and median, and the "zones blanches" (communes with nothing within ``white_zone_km``);
2SFCA accessibility (Luo & Wang 2003); observed/expected at the national rate with a Poisson z-score above a
minimum population; and a ranking of priority territories. Absence in the data is not absence on the ground:
every output says "non recensé".
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transiscope.core import vocab
from transiscope.core.errors import ConfigError
from transiscope.core.geo import LEVELS
from transiscope.territories.graph import (
    VINTAGE,
    ZONES,
    Territories,
    load_territories,
    project,
    territories_graph,
    territory_files,
    territory_iri,
    write_territories_ntriples,
)

if TYPE_CHECKING:
    from transiscope.settings import Settings
    from transiscope.store.base import TripleStore

Progress = Callable[[str], None]

CAVEAT_FR = (
    "Non recensé ne veut pas dire absent : une initiative absente des sources n'est pas forcément absente "
    "du territoire. Distances à vol d'oiseau."
)
CAVEAT_EN = (
    "Not listed does not mean absent: an initiative missing from the sources may still exist on the "
    "ground. Straight-line distances."
)

QB = "http://purl.org/linked-data/cube#"


# -- settings ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GapSettings:
    """The knobs of the analysis (``TRANSISCOPE_GAPS_*``); defaults follow design §7."""

    #: population shares beyond these straight-line distances (km)
    thresholds_km: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0)
    #: a commune whose population point has no initiative of the concept within this distance is a "zone blanche"
    white_zone_km: float = 10.0
    #: 2SFCA catchment radius (km)
    catchment_km: float = 20.0
    #: territories under this population get no Poisson z-score nor priority rank (their ratios are noise)
    min_population: int = 5000
    #: a point outside every commune polygon but this close to one is placed in it (simplified coastlines)
    snap_km: float = 1.0
    #: priority territories listed per level and concept
    priority_count: int = 20
    #: levels written as Data Cube observations; EPCI and communes go to the CSV and GeoJSON files by default
    #: (an EPCI cube with every concept is ~4 M triples, a commune one ~100 M)
    cube_levels: tuple[str, ...] = ("france", "region", "departement")
    #: levels written as CSV and GeoJSON files
    file_levels: tuple[str, ...] = LEVELS

    def __post_init__(self) -> None:
        if not self.thresholds_km or any(not (t > 0 and math.isfinite(t)) for t in self.thresholds_km):
            raise ConfigError(f"gap thresholds must be positive distances in km, not {self.thresholds_km}")
        for name in ("white_zone_km", "catchment_km", "snap_km"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)) or (name == "catchment_km" and value == 0):
                raise ConfigError(f"gap setting {name}={value!r} must be a positive distance in km")
        if self.min_population < 0 or self.priority_count < 0:
            raise ConfigError("gap settings min_population and priority_count must not be negative")
        unknown = [level for level in self.cube_levels + self.file_levels if level not in LEVELS]
        if unknown:
            raise ConfigError(f"unknown territory level(s) {', '.join(unknown)}: use {', '.join(LEVELS)}")

    @classmethod
    def from_env(cls) -> GapSettings:
        """``TRANSISCOPE_GAPS_THRESHOLDS_KM`` (comma list), ``_WHITE_ZONE_KM``, ``_CATCHMENT_KM``,
        ``_MIN_POPULATION``, ``_SNAP_KM``, ``_PRIORITY_COUNT``, ``_CUBE_LEVELS``, ``_FILE_LEVELS`` (comma lists)."""

        def number(name: str, default: float) -> float:
            value = os.environ.get(f"TRANSISCOPE_GAPS_{name}", "")
            try:
                return float(value) if value.strip() else default
            except ValueError:
                raise ConfigError(f"TRANSISCOPE_GAPS_{name}={value!r} is not a number") from None

        return cls(
            thresholds_km=parse_thresholds(os.environ.get("TRANSISCOPE_GAPS_THRESHOLDS_KM") or "5,10,20,30"),
            white_zone_km=number("WHITE_ZONE_KM", cls.white_zone_km),
            catchment_km=number("CATCHMENT_KM", cls.catchment_km),
            min_population=int(number("MIN_POPULATION", cls.min_population)),
            snap_km=number("SNAP_KM", cls.snap_km),
            priority_count=int(number("PRIORITY_COUNT", cls.priority_count)),
            cube_levels=parse_levels(os.environ.get("TRANSISCOPE_GAPS_CUBE_LEVELS") or ",".join(cls.cube_levels)),
            file_levels=parse_levels(os.environ.get("TRANSISCOPE_GAPS_FILE_LEVELS") or ",".join(cls.file_levels)),
        )


def parse_thresholds(text: str) -> tuple[float, ...]:
    """``"5,10,20"`` -> (5.0, 10.0, 20.0), sorted, with a clear error for anything else."""
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"distance thresholds {text!r} must be numbers in km separated by commas") from None
    if not values or any(not (v > 0 and math.isfinite(v)) for v in values):
        raise ConfigError(f"distance thresholds {text!r} must be positive numbers in km")
    return tuple(values)


def parse_levels(text: str) -> tuple[str, ...]:
    levels = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ConfigError(f"unknown territory level(s) {', '.join(unknown)}: use {', '.join(LEVELS)}")
    return levels


# -- taxonomy --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Taxonomy:
    """The concepts of the "Domaines" scheme: top concepts first, each followed by its narrower ones."""

    notations: tuple[str, ...]
    broader: dict[str, str]
    labels: dict[str, dict[str, str]]  # notation -> {"fr": ..., "en": ...}

    def closure(self, notation: str) -> list[str]:
        """The concept and all its broader concepts (bounded by the taxonomy's size, so a cycle cannot hang)."""
        chain = [notation]
        while chain[-1] in self.broader and len(chain) <= len(self.notations):
            chain.append(self.broader[chain[-1]])
        return chain


def load_taxonomy(path: Path) -> Taxonomy:
    """Read ``ontology/taxonomy.ttl`` (rdflib: a small graph)."""
    import rdflib
    from rdflib.namespace import SKOS

    graph = rdflib.Graph()
    try:
        graph.parse(path, format="turtle")
    except (OSError, SyntaxError, ValueError) as exc:
        raise ConfigError(f"cannot read the taxonomy {path}: {exc}") from None
    scheme = rdflib.URIRef(vocab.TX + "domaines")
    concepts = set(graph.subjects(SKOS.inScheme, scheme))

    def notation(node: Any) -> str:
        return str(graph.value(node, SKOS.notation) or str(node).removeprefix(vocab.TX))

    broader = {notation(c): notation(b) for c in concepts for b in graph.objects(c, SKOS.broader) if b in concepts}
    tops = sorted(notation(c) for c in concepts if notation(c) not in broader)
    ordered: list[str] = []
    for top in tops:
        ordered.append(top)
        ordered.extend(sorted(n for n, b in broader.items() if b == top))
    ordered.extend(sorted(notation(c) for c in concepts if notation(c) not in ordered))  # deeper levels, if any
    labels = {}
    for c in concepts:
        found = {lit.language: str(lit) for lit in graph.objects(c, SKOS.prefLabel) if lit.language}
        labels[notation(c)] = {"fr": found.get("fr", notation(c)), "en": found.get("en", found.get("fr", notation(c)))}
    return Taxonomy(tuple(ordered), broader, labels)


# -- the things to place ---------------------------------------------------------------------------------------------
@dataclass
class Items:
    """Initiatives and events to place, as parallel columns."""

    iris: list[str]
    kinds: list[str]  # "initiative" or "event"
    lon: np.ndarray
    lat: np.ndarray
    insee: list[str | None]
    postcode: list[str | None]
    concepts: list[tuple[str, ...]]
    sources: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.iris)

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], base: str, kind: str = "initiative") -> Items:
        """From canonical records (``records.jsonl`` of a run)."""

        def number(value: Any) -> float:
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan

        return cls(
            iris=[vocab.initiative_iri(base, r["source"], str(r["source_id"])) for r in records],
            kinds=[kind] * len(records),
            lon=np.array([number(r.get("lon")) for r in records], dtype=float),
            lat=np.array([number(r.get("lat")) for r in records], dtype=float),
            insee=[r.get("insee") or None for r in records],
            postcode=[r.get("postcode") or None for r in records],
            concepts=[tuple(r.get("concepts") or ()) for r in records],
            sources=[r.get("source") or "" for r in records],
            names=[r.get("name") or "" for r in records],
        )


def items_from_store(store: TripleStore, base: str, insee: dict[str, str] | None = None) -> Items:
    """Every initiative and event of the store with its point, postcode and concepts (one SPARQL query).

    The INSEE code is not in the RDF; ``insee`` (IRI -> code, from the runs' canonical records) supplies it.
    """
    query = f"""
        SELECT ?s ?kind ?lat ?lon ?pc ?cat ?src WHERE {{
          VALUES ?kind {{ <{vocab.TS}Initiative> <{vocab.SCHEMA}Event> }}
          ?s a ?kind .
          OPTIONAL {{ ?s <{vocab.GEO}hasGeometry>|(<{vocab.SCHEMA}location>/<{vocab.GEO}hasGeometry>) ?g .
                     ?g <{vocab.SCHEMA}latitude> ?lat ; <{vocab.SCHEMA}longitude> ?lon }}
          OPTIONAL {{ ?s <{vocab.SCHEMA}address>|(<{vocab.SCHEMA}location>/<{vocab.SCHEMA}address>) ?a .
                     ?a <{vocab.SCHEMA}postalCode> ?pc }}
          OPTIONAL {{ ?s <{vocab.TS}category> ?cat }}
          OPTIONAL {{ ?s <{vocab.TS}source> ?src }}
        }}"""
    rows: dict[str, dict[str, Any]] = {}
    for row in store.query(query):  # type: ignore[union-attr]
        iri = row["s"].value
        entry = rows.get(iri)
        if entry is None:
            entry = rows[iri] = {
                "kind": "event" if row["kind"].value.endswith("Event") else "initiative",
                "lat": math.nan,
                "lon": math.nan,
                "pc": None,
                "concepts": [],
                "src": "",
            }
        for key in ("lat", "lon"):
            if row[key] is not None and math.isnan(entry[key]):
                with contextlib.suppress(ValueError):
                    entry[key] = float(row[key].value)
        if row["pc"] is not None and entry["pc"] is None:
            entry["pc"] = row["pc"].value
        if row["cat"] is not None and row["cat"].value.startswith(vocab.TX):
            notation = row["cat"].value[len(vocab.TX) :]
            if notation not in entry["concepts"]:
                entry["concepts"].append(notation)
        if row["src"] is not None and not entry["src"]:
            entry["src"] = row["src"].value.rsplit("/", 1)[-1]
    iris = sorted(rows)
    insee = insee or {}
    return Items(
        iris=iris,
        kinds=[rows[i]["kind"] for i in iris],
        lon=np.array([rows[i]["lon"] for i in iris], dtype=float),
        lat=np.array([rows[i]["lat"] for i in iris]),
        insee=[insee.get(i) for i in iris],
        postcode=[rows[i]["pc"] for i in iris],
        concepts=[tuple(rows[i]["concepts"]) for i in iris],
        sources=[rows[i]["src"] for i in iris],
        names=[""] * len(iris),
    )


def insee_codes_from_runs(settings: Settings) -> dict[str, str]:
    """IRI -> INSEE code from the latest processed run of every source (the RDF does not carry the code)."""
    from transiscope.ingest.mappings import load_registry
    from transiscope.runs import latest_processed_run

    codes: dict[str, str] = {}
    try:
        registry = load_registry(settings.registry_path)
    except ConfigError:
        return codes
    for source in registry.sources:
        run_dir = latest_processed_run(settings, source.id)
        if run_dir is None or not (run_dir / "records.jsonl").exists():
            continue
        with (run_dir / "records.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = json.loads(line)
                if record.get("insee"):
                    codes[vocab.initiative_iri(settings.base_iri, source.id, str(record["source_id"]))] = record[
                        "insee"
                    ]
    return codes


# -- placing -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Disagreement:
    """A point lying in another commune than the one its record declares."""

    position: int
    point_commune: str
    declared: str  # "INSEE 59350" or "postcode 69001"
    declared_communes: tuple[str, ...]
    km: float  # straight-line distance from the point to the declared commune(s), geodesic


@dataclass
class Placement:
    """Where each item is: its unit at every level (-1: unknown), how, and its position for distances."""

    unit: dict[str, np.ndarray]
    method: np.ndarray  # "point", "point-snapped", "insee", "postcode", "none"
    x: np.ndarray  # projected metres in the zone's CRS (NaN: no position usable for distances)
    y: np.ndarray
    zone: np.ndarray  # index into ZONES, -1 when unknown
    disagreements: list[Disagreement]

    @property
    def commune(self) -> np.ndarray:
        return self.unit["commune"]

    def counts(self) -> dict[str, int]:
        values, counts = np.unique(self.method, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def _valid_points(items: Items) -> np.ndarray:
    return (
        np.isfinite(items.lon)
        & np.isfinite(items.lat)
        & (np.abs(items.lat) <= 90)
        & (np.abs(items.lon) <= 180)
        & ~((items.lat == 0) & (items.lon == 0))
    )


class _CommuneIndex:
    """An STRtree over the commune outlines, kept with the territories (built once per process)."""

    def __init__(self, territories: Territories) -> None:
        import shapely

        geometry = territories.communes.geometry
        self.tree_to_commune = np.flatnonzero(np.array([g is not None for g in geometry], dtype=bool))
        self.tree = shapely.STRtree(geometry[self.tree_to_commune])


_INDEXES: dict[int, tuple[Territories, _CommuneIndex]] = {}


def _commune_index(territories: Territories) -> _CommuneIndex:
    found = _INDEXES.get(id(territories))
    if found is None or found[0] is not territories:
        found = (territories, _CommuneIndex(territories))
        _INDEXES.clear()
        _INDEXES[id(territories)] = found
    return found[1]


def place(territories: Territories, items: Items, snap_km: float = 1.0) -> Placement:
    """Put every item in its commune (and EPCI, département, région, France); see the module docstring."""
    import shapely

    n = len(items)
    index = _commune_index(territories)
    commune = np.full(n, -1)
    method = np.full(n, "none", dtype="<U13")
    valid = _valid_points(items)
    points = np.full(n, None, dtype=object)
    points[valid] = shapely.points(items.lon[valid], items.lat[valid])
    where = np.flatnonzero(valid)
    if len(where):
        hit_item, hit_tree = index.tree.query(points[where], predicate="intersects")
        first_item, first = np.unique(hit_item, return_index=True)  # a point on a border: the first commune
        commune[where[first_item]] = index.tree_to_commune[hit_tree[first]]
        method[where[first_item]] = "point"
        missed = where[commune[where] < 0]
        if len(missed) and snap_km > 0:  # in degrees: snap_km north-south, a little less east-west
            near_item, near_tree = index.tree.query_nearest(
                points[missed], max_distance=snap_km / 111.0, all_matches=False
            )
            commune[missed[near_item]] = index.tree_to_commune[near_tree]
            method[missed[near_item]] = "point-snapped"

    declared_index = np.array([territories.commune_index(code) for code in items.insee])
    unit = {level: np.full(n, -1) for level in LEVELS}
    postcode_units: dict[int, dict[str, int]] = {}
    disagreements: list[tuple[int, str, tuple[int, ...]]] = []
    owner = territories.owner
    for i in range(n):
        declared = int(declared_index[i])
        postcode = (items.postcode[i] or "").strip()
        candidates = territories.postcodes.get(postcode, ()) if postcode else ()
        if commune[i] >= 0:
            if declared >= 0:
                if owner[declared] != commune[i]:
                    disagreements.append((i, f"INSEE {items.insee[i]}", (declared,)))
                elif declared != commune[i]:
                    commune[i] = declared  # a commune without a polygon of its own, inside its host: trust the code
            elif candidates and commune[i] not in {int(owner[c]) for c in candidates}:
                disagreements.append((i, f"postcode {postcode}", candidates))
        elif declared >= 0:
            commune[i] = declared
            method[i] = "insee"
        elif len(candidates) == 1:
            commune[i] = candidates[0]
            method[i] = "postcode"
        elif candidates:  # several communes: only the levels on which they all agree
            method[i] = "postcode"
            postcode_units[i] = {}
            for level in LEVELS[1:]:
                parents = {int(territories.parent[level][c]) for c in candidates}
                if len(parents) == 1 and -1 not in parents:
                    postcode_units[i][level] = parents.pop()
    placed = commune >= 0
    for level in LEVELS:
        unit[level][placed] = territories.parent[level][commune[placed]]
    for i, units in postcode_units.items():
        for level, value in units.items():
            unit[level][i] = value

    # positions for distances: the point itself, else the commune's population point
    zone = np.full(n, -1)
    zone[placed] = territories.zone[commune[placed]]
    lon = np.where(placed & valid & (method != "insee"), items.lon, np.nan)
    lat = np.where(placed & valid & (method != "insee"), items.lat, np.nan)
    fallback = placed & ~np.isfinite(lon)
    lon[fallback] = territories.lon[commune[fallback]]
    lat[fallback] = territories.lat[commune[fallback]]
    x, y = project(lon, lat, zone)
    return Placement(unit, method, x, y, zone, _measure(territories, items, points, commune, disagreements))


def _measure(
    territories: Territories,
    items: Items,
    points: np.ndarray,
    commune: np.ndarray,
    found: list[tuple[int, str, tuple[int, ...]]],
) -> list[Disagreement]:
    """Geodesic distance from each disagreeing point to the commune(s) it declares."""
    import shapely
    from pyproj import Geod

    if not found:
        return []
    geometry = territories.communes.geometry
    owner = territories.owner
    areas = []
    for _, _, candidates in found:
        shapes = [geometry[owner[c]] for c in candidates if geometry[owner[c]] is not None]
        areas.append(shapes[0] if len(shapes) == 1 else shapely.union_all(shapes))
    lines = shapely.shortest_line(points[[f[0] for f in found]], np.array(areas, dtype=object))
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    _, _, metres = Geod(ellps="WGS84").inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
    codes = territories.communes.codes
    return [
        Disagreement(i, codes[commune[i]], label, tuple(codes[c] for c in candidates), round(float(m) / 1000, 2))
        for (i, label, candidates), m in zip(found, metres, strict=True)
    ]


def commune_disagreements(
    records: Sequence[dict[str, Any]], territories: Territories, base: str = "https://w3id.org/transiscope/"
) -> list[dict[str, Any]]:
    """For the quality report: the records whose point lies in another commune than the one they declare."""
    items = Items.from_records(records, base)
    placement = place(territories, items)
    names = territories.communes.names
    index = territories.communes.index
    return [
        {
            "source_id": records[d.position].get("source_id"),
            "name": records[d.position].get("name"),
            "point_commune": f"{names[index[d.point_commune]]} ({d.point_commune})",
            "declared": d.declared,
            "km": d.km,
        }
        for d in placement.disagreements
    ]


# -- indicators --------------------------------------------------------------------------------------------------------
@dataclass
class GapResult:
    """Indicators per level: ``values[level][measure]`` is an array (units × concepts)."""

    concepts: tuple[str, ...]
    values: dict[str, dict[str, np.ndarray]]
    #: distance (km) from each commune's population point to the nearest initiative, communes × concepts
    distance_km: np.ndarray
    #: 2SFCA score of each commune, communes × concepts (initiatives per 10,000 inhabitants within reach)
    access: np.ndarray
    national_rate: np.ndarray  # initiatives per inhabitant, per concept
    settings: GapSettings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def active(self) -> np.ndarray:
        """The concepts with at least one initiative nationally: the outputs cover only these (a concept without
        any data would only repeat "none, infinitely far" for every territory; ``index.json`` lists them)."""
        return np.flatnonzero(self.values["france"]["count"][0] > 0)


def membership(items: Items, taxonomy: Taxonomy) -> np.ndarray:
    """items × concepts booleans; an item counts in its concepts and all their broader ones."""
    column = {c: k for k, c in enumerate(taxonomy.notations)}
    matrix = np.zeros((len(items), len(column)), dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    cache: dict[tuple[str, ...], list[int]] = {}
    for i, concepts in enumerate(items.concepts):
        found = cache.get(concepts)
        if found is None:
            found = cache[concepts] = sorted({column[c] for n in concepts for c in taxonomy.closure(n) if c in column})
        rows.extend([i] * len(found))
        cols.extend(found)
    matrix[np.array(rows, dtype=int), np.array(cols, dtype=int)] = True
    return matrix


def _nearest_km(territories: Territories, placement: Placement, member: np.ndarray) -> np.ndarray:
    """communes × concepts: distance to the nearest item of the concept in the commune's zone (inf: none)."""
    import shapely

    n_communes, n_concepts = len(territories.communes), member.shape[1]
    distance = np.full((n_communes, n_concepts), np.inf)
    positioned = np.isfinite(placement.x)
    for z in range(len(ZONES)):
        targets = np.flatnonzero(territories.zone == z)
        if not len(targets):
            continue
        origin = shapely.points(territories.x[targets], territories.y[targets])
        in_zone = positioned & (placement.zone == z)
        zone_points = shapely.points(placement.x[in_zone], placement.y[in_zone])
        zone_member = member[in_zone]
        for k in range(n_concepts):
            mine = zone_member[:, k]
            if not mine.any():
                continue
            tree = shapely.STRtree(zone_points[mine])
            (source, _), metres = tree.query_nearest(origin, return_distance=True, all_matches=False)
            distance[targets[source], k] = metres / 1000.0
    return distance


def _two_step_fca(
    territories: Territories, placement: Placement, member: np.ndarray, catchment_km: float
) -> np.ndarray:
    """2SFCA (Luo & Wang 2003), communes × concepts, per 10,000 inhabitants.

    R_j = 1 / Σ_{i: d_ij ≤ d0} P_i for each initiative j (the demand does not depend on the concept, so the
    pairs and R_j are computed once); A_i = Σ_{j: d_ij ≤ d0} R_j over the initiatives of the concept.
    Catchments cross territory borders but never leave their zone.
    """
    import shapely

    population = territories.communes.population
    n_communes, n_concepts = len(population), member.shape[1]
    access = np.zeros((n_communes, n_concepts))
    positioned = np.isfinite(placement.x)
    for z in range(len(ZONES)):
        targets = np.flatnonzero(territories.zone == z)
        sources = np.flatnonzero(positioned & (placement.zone == z))
        if not len(targets) or not len(sources):
            continue
        tree = shapely.STRtree(shapely.points(territories.x[targets], territories.y[targets]))
        pair_item, pair_commune = tree.query(
            shapely.points(placement.x[sources], placement.y[sources]),
            predicate="dwithin",
            distance=catchment_km * 1000.0,
        )
        demand = np.bincount(pair_item, weights=population[targets[pair_commune]], minlength=len(sources))
        ratio = np.divide(1.0, demand, out=np.zeros_like(demand), where=demand > 0)
        if len(pair_item) > 1 and np.any(pair_item[1:] < pair_item[:-1]):
            order = np.argsort(pair_item, kind="stable")
            pair_item, pair_commune = pair_item[order], pair_commune[order]
        weight = ratio[pair_item]
        # pairs grouped by initiative: each concept gathers only the pairs of its own initiatives
        degree = np.bincount(pair_item, minlength=len(sources))
        start = np.concatenate([[0], np.cumsum(degree)[:-1]])
        zone_member = member[sources]
        for k in range(n_concepts):
            mine = np.flatnonzero(zone_member[:, k])
            lengths = degree[mine]
            total = int(lengths.sum())
            if not total:
                continue
            shift = start[mine] - np.concatenate([[0], np.cumsum(lengths)[:-1]])
            picked = np.repeat(shift, lengths) + np.arange(total)
            access[targets, k] = np.bincount(pair_commune[picked], weights=weight[picked], minlength=len(targets))
    return access * 10_000


def _weighted_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Population-weighted median of ``values`` per group (NaN for a group without population)."""
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    cumulative = np.cumsum(w)
    totals = np.bincount(g, weights=w, minlength=n_groups)
    before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    reached = (cumulative - before[g]) >= totals[g] / 2
    reached &= totals[g] > 0
    result = np.full(n_groups, np.nan)
    groups, first = np.unique(g[reached], return_index=True)
    result[groups] = v[reached][first]
    return result


def compute(
    territories: Territories,
    items: Items,
    placement: Placement,
    taxonomy: Taxonomy,
    settings: GapSettings | None = None,
    progress: Progress | None = None,
) -> GapResult:
    """Every indicator at every level for every concept of the taxonomy."""
    settings = settings or GapSettings()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    member = membership(items, taxonomy)
    n_concepts = member.shape[1]
    timings["membership"] = time.perf_counter() - started
    if progress:
        progress(f"distances to the nearest initiative: {len(territories.communes):,} communes × {n_concepts} concepts")
    started = time.perf_counter()
    distance = _nearest_km(territories, placement, member)
    timings["nearest"] = time.perf_counter() - started
    if progress:
        progress(f"2SFCA accessibility (catchment {settings.catchment_km:g} km)")
    started = time.perf_counter()
    access = _two_step_fca(territories, placement, member, settings.catchment_km)
    timings["2sfca"] = time.perf_counter() - started

    started = time.perf_counter()
    population = territories.communes.population
    total_population = population.sum()
    national_count = np.array([member[placement.unit["france"] >= 0, k].sum() for k in range(n_concepts)], dtype=float)
    rate = national_count / total_population if total_population else np.zeros(n_concepts)
    white = distance > settings.white_zone_km
    values: dict[str, dict[str, np.ndarray]] = {}
    for level in LEVELS:
        units = territories.levels[level]
        n_units = len(units)
        group = territories.parent[level]
        in_unit = group >= 0
        g, w = group[in_unit], population[in_unit]
        out: dict[str, np.ndarray] = {}
        unit_of_item = placement.unit[level]
        placed = unit_of_item >= 0
        counts = np.zeros((n_units, n_concepts))
        for k in range(n_concepts):
            counts[:, k] = np.bincount(unit_of_item[placed & member[:, k]], minlength=n_units)
        pop = units.population[:, None]
        area = units.area_km2[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["count"] = counts
            out["presence"] = (counts > 0).astype(float)
            out["per_10k"] = np.where(pop > 0, counts / pop * 10_000, np.nan)
            out["per_100km2"] = np.where(area > 0, counts / area * 100, np.nan)
            weight_total = np.bincount(g, weights=w, minlength=n_units)[:, None]
            mean = np.full((n_units, n_concepts), np.nan)
            median = np.full((n_units, n_concepts), np.nan)
            for k in range(n_concepts):
                d = distance[in_unit, k]
                finite = np.isfinite(d)
                reach = np.bincount(g[finite], weights=w[finite], minlength=n_units)
                summed = np.bincount(g[finite], weights=w[finite] * d[finite], minlength=n_units)
                mean[:, k] = np.where(reach > 0, summed / np.where(reach > 0, reach, 1), np.nan)
                median[:, k] = _weighted_median(g, d, w, n_units)
            median[~np.isfinite(median)] = np.nan  # more than half the population has none in its zone
            out["mean_km"] = mean
            out["median_km"] = median
            for threshold in settings.thresholds_km:
                beyond = np.zeros((n_units, n_concepts))
                for k in range(n_concepts):
                    far = distance[in_unit, k] > threshold
                    beyond[:, k] = np.bincount(g[far], weights=w[far], minlength=n_units)
                out[f"share_beyond_{threshold:g}km"] = np.where(weight_total > 0, beyond / weight_total, np.nan)
            white_population = np.zeros((n_units, n_concepts))
            white_communes = np.zeros((n_units, n_concepts))
            access_mean = np.zeros((n_units, n_concepts))
            for k in range(n_concepts):
                flagged = white[in_unit, k]
                white_population[:, k] = np.bincount(g[flagged], weights=w[flagged], minlength=n_units)
                white_communes[:, k] = np.bincount(g[flagged], minlength=n_units)
                access_mean[:, k] = np.bincount(g, weights=w * access[in_unit, k], minlength=n_units)
            out["white_communes"] = white_communes
            out["white_population"] = white_population
            out["access_2sfca"] = np.where(weight_total > 0, access_mean / weight_total, np.nan)
            expected = pop * rate[None, :]
            big = (pop >= settings.min_population) & (expected > 0)
            out["expected"] = expected
            out["oe_ratio"] = np.where(big, counts / np.where(expected > 0, expected, 1), np.nan)
            out["z_score"] = np.where(big, (counts - expected) / np.sqrt(np.where(expected > 0, expected, 1)), np.nan)
        out["priority_rank"] = _priority_rank(
            white_population, out["z_score"], units.population, settings.min_population
        )
        values[level] = out
    timings["aggregate"] = time.perf_counter() - started
    return GapResult(taxonomy.notations, values, distance, access, rate, settings, timings)


def _priority_rank(
    white_population: np.ndarray, z_score: np.ndarray, population: np.ndarray, min_population: int
) -> np.ndarray:
    """1 = most population in zones blanches (ties: the sparsest for its size first); NaN: not ranked."""
    ranks = np.full(white_population.shape, np.nan)
    eligible_unit = population >= min_population
    for k in range(white_population.shape[1]):
        eligible = np.flatnonzero(eligible_unit & (white_population[:, k] > 0))
        if not len(eligible):
            continue
        z = np.nan_to_num(z_score[eligible, k], nan=0.0)
        order = eligible[np.lexsort((z, -white_population[eligible, k]))]
        ranks[order, k] = np.arange(1, len(order) + 1)
    return ranks


# -- outputs ----------------------------------------------------------------------------------------------------
#: measure key -> (RDF property local name, label fr, label en, unit)
MEASURES: dict[str, tuple[str, str, str, str]] = {
    "count": ("initiativeCount", "nombre d'initiatives recensées", "number of listed initiatives", ""),
    "presence": ("presence", "présence (au moins une initiative recensée)", "presence (at least one listed)", ""),
    "per_10k": ("initiativesPer10000Inhabitants", "initiatives pour 10 000 habitants", "per 10,000 inhabitants", ""),
    "per_100km2": ("initiativesPer100Km2", "initiatives pour 100 km²", "per 100 km²", ""),
    "mean_km": ("meanDistanceKm", "distance moyenne à vol d'oiseau", "mean straight-line distance", "km"),
    "median_km": ("medianDistanceKm", "distance médiane à vol d'oiseau", "median straight-line distance", "km"),
    "share_beyond": (
        "populationShareBeyond",
        "part de la population au-delà de {t} km à vol d'oiseau",
        "population share beyond {t} km (straight line)",
        "",
    ),
    "white_communes": (
        "whiteZoneCommunes",
        "communes en zone blanche (rien à moins de {w} km)",
        "communes in white zones (nothing within {w} km)",
        "",
    ),
    "white_population": (
        "whiteZonePopulation",
        "population en zone blanche (rien à moins de {w} km)",
        "population in white zones (nothing within {w} km)",
        "",
    ),
    "access_2sfca": (
        "accessibilityScore",
        "accessibilité 2SFCA (pour 10 000 hab., rayon {c} km)",
        "2SFCA accessibility (per 10,000 inhabitants, {c} km catchment)",
        "",
    ),
    "oe_ratio": (
        "observedExpectedRatio",
        "rapport observé / attendu (taux national)",
        "observed / expected (national rate)",
        "",
    ),
    "z_score": ("poissonZScore", "score z de Poisson", "Poisson z-score", ""),
    "priority_rank": (
        "priorityRank",
        "rang de priorité (1 = le plus de population en zone blanche)",
        "priority rank (1 = most population in white zones)",
        "",
    ),
}


def measure_keys(settings: GapSettings) -> list[str]:
    keys = []
    for key in MEASURES:
        if key == "share_beyond":
            keys.extend(f"share_beyond_{t:g}km" for t in settings.thresholds_km)
        else:
            keys.append(key)
    return keys


def _value(key: str, value: float) -> float | int | bool | None:
    if value is None or not math.isfinite(value):
        return None
    if key in ("count", "white_communes", "white_population", "priority_rank"):
        return int(round(value))
    if key == "presence":
        return bool(value)
    return round(float(value), 4)


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
    taxonomy: Taxonomy,
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
                        "z_score": _value("z_score", values["z_score"][u, k]),
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


def write_geojson(territories: Territories, result: GapResult, taxonomy: Taxonomy, out_dir: Path) -> list[Path]:
    """``gaps-<level>.geojson`` for the map's choropleth, plus ``index.json`` describing concepts and measures.

    Each feature: ``code``, ``nom``, ``population``, ``area_km2`` and ``indicators``: {concept: {measure: value}}.
    At commune level, ``mean_km`` is the commune's own distance and only :data:`COMMUNE_MAP_MEASURES` are written.
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
            geometry_json[has] = shapely.to_geojson(units.geometry[has])
        level_keys = [k for k in keys if k in COMMUNE_MAP_MEASURES] if level == "commune" else keys
        columns = {key: result.values[level][key] for key in level_keys}
        path = out_dir / f"gaps-{level}.geojson"
        with path.open("w", encoding="utf-8") as handle:
            handle.write('{"type":"FeatureCollection","name":' + json.dumps(f"gaps-{level}") + ',"features":[\n')
            first = True
            for u in np.flatnonzero(has):
                indicators = {
                    result.concepts[k]: {key: _value(key, columns[key][u, k]) for key in level_keys}
                    for k in result.active
                }
                properties = {
                    "code": units.codes[u],
                    "nom": units.names[u],
                    "level": level,
                    "population": int(units.population[u]),
                    "area_km2": _value("area", units.area_km2[u]),
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
                "per_10k": _value("per_10k", result.values["france"]["per_10k"][0, k]),
            }
            for k, c in enumerate(result.concepts)
        },
    }
    (out_dir / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    return written


# -- RDF -------------------------------------------------------------------------------------------------------
def links_graph(base: str) -> str:
    return f"{base}graph/territory-links"


def gaps_graph(base: str) -> str:
    return f"{base}graph/gaps"


def dataset_iri(base: str) -> str:
    return f"{base}id/gaps/{VINTAGE}"


def write_links_ntriples(
    territories: Territories, items: Items, placement: Placement, base: str, destination: Path
) -> int:
    """``<item> ts:inTerritory <unit>`` for every level the item is placed at."""
    import pyoxigraph as ox

    predicate = f"<{vocab.TS}inTerritory>"
    count = 0
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8") as out:
        for level in LEVELS:
            codes = territories.levels[level].codes
            iris = [f"<{territory_iri(base, level, c)}>" for c in codes]
            units = placement.unit[level]
            for i in np.flatnonzero(units >= 0):
                out.write(f"{ox.NamedNode(items.iris[i])} {predicate} {iris[units[i]]} .\n")
                count += 1
    return count


def write_cube_ntriples(
    territories: Territories,
    result: GapResult,
    base: str,
    destination: Path,
    levels: Iterable[str] | None = None,
    generated: str | None = None,
) -> int:
    """The RDF Data Cube: one ``qb:Observation`` per territory × concept × measure (values that exist only).

    Observation IRIs are ``<dataset>/<level>/<code>/<concept>/<measure>``; every part is a checked code, a
    taxonomy notation or a fixed measure key, so the lines are written with f-strings (the fast path, design §6).
    """
    import pyoxigraph as ox

    settings = result.settings
    levels = tuple(levels or settings.cube_levels)
    dataset = dataset_iri(base)
    A = f"<{vocab.RDF}type>"
    obs_class = f"<{QB}Observation>"
    in_set = f"<{QB}dataSet> <{dataset}>"
    ref_t, ref_c, measure_type = f"<{vocab.TS}refTerritory>", f"<{vocab.TS}refConcept>", f"<{QB}measureType>"
    threshold = f"<{vocab.TS}thresholdKm>"
    xsd = vocab.XSD
    generated = generated or datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"<{dataset}> {A} <{QB}DataSet> .",
        f"<{dataset}> <{QB}structure> <{vocab.TS}gapIndicators> .",
        f'<{dataset}> <{vocab.DCT}title> "Manques territoriaux ({VINTAGE})"@fr .',
        f'<{dataset}> <{vocab.DCT}title> "Territorial gaps ({VINTAGE})"@en .',
        f"<{dataset}> <{vocab.DCT}description> {ox.Literal(CAVEAT_FR, language='fr')} .",
        f"<{dataset}> <{vocab.DCT}description> {ox.Literal(CAVEAT_EN, language='en')} .",
        f'<{dataset}> <{vocab.DCT}created> "{generated}"^^<{xsd}dateTime> .',
        f'<{dataset}> <{vocab.TS}catchmentKm> "{settings.catchment_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}whiteZoneKm> "{settings.white_zone_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}minimumPopulation> "{settings.min_population}"^^<{xsd}integer> .',
        f"<{dataset}> <{vocab.PROV}used> <{territories_graph(base)}> .",
    ]
    keys = measure_keys(settings)
    kinds = {}
    for key in keys:
        base_key = "share_beyond" if key.startswith("share_beyond_") else key
        prop = f"<{vocab.TS}{MEASURES[base_key][0]}>"
        if key in ("count", "white_communes", "white_population", "priority_rank"):
            kinds[key] = (prop, "integer", base_key)
        elif key == "presence":
            kinds[key] = (prop, "boolean", base_key)
        else:
            kinds[key] = (prop, "decimal", base_key)
    concept_iris = [f"<{vocab.concept_iri(c)}>" for c in result.concepts]
    count = len(lines)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
        for level in levels:
            units = territories.levels[level]
            values = result.values[level]
            for key in keys:
                prop, kind, base_key = kinds[key]
                matrix = values[key]
                slug = key.replace("_", "-")
                extra = ""
                if base_key == "share_beyond":
                    extra = f'{{s}} {threshold} "{key[len("share_beyond_") : -2]}"^^<{xsd}decimal> .\n'
                finite = np.isfinite(matrix)
                finite[:, np.setdiff1d(np.arange(len(result.concepts)), result.active)] = False
                for u, k in zip(*np.nonzero(finite), strict=True):
                    value = matrix[u, k]
                    if kind == "integer":
                        literal = f'"{int(round(value))}"^^<{xsd}integer>'
                    elif kind == "boolean":
                        literal = f'"{"true" if value else "false"}"^^<{xsd}boolean>'
                    else:
                        literal = f'"{value:.6f}"^^<{xsd}decimal>'
                    code = units.codes[u]
                    s = f"<{dataset}/{level}/{code}/{result.concepts[k]}/{slug}>"
                    out.write(
                        f"{s} {A} {obs_class} .\n{s} {in_set} .\n"
                        f"{s} {ref_t} <{territory_iri(base, level, code)}> .\n{s} {ref_c} {concept_iris[k]} .\n"
                        f"{s} {measure_type} {prop} .\n{s} {prop} {literal} .\n" + (extra.format(s=s) if extra else "")
                    )
                    count += 7 if extra else 6
    return count


# -- the whole step --------------------------------------------------------------------------------------------
@dataclass
class GapsSummary:
    """What ``transiscope gaps`` prints and the Airflow task returns (JSON-friendly)."""

    items: int
    placement: dict[str, int]
    disagreements: int
    concepts: int
    triples: dict[str, int]
    files: list[str]
    seconds: dict[str, float]
    national: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _timed(seconds: dict[str, float], name: str, started: float) -> None:
    seconds[name] = round(time.perf_counter() - started, 3)


def run_gaps(
    settings: Settings,
    gap_settings: GapSettings | None = None,
    *,
    out_dir: Path | None = None,
    write_store: bool = True,
    progress: Progress | None = None,
) -> GapsSummary:
    """The gaps step end to end: territories graph, placing, indicators, links + cube graphs, files.

    A plain function so that the CLI and the future Airflow gaps DAG run the same code; it opens the store
    itself (one writer) and returns a summary. ``out_dir`` defaults to ``<exports>/gaps``.
    """
    from transiscope.store.embedded import open_store

    gap_settings = gap_settings or GapSettings.from_env()
    progress = progress or (lambda message: None)
    out_dir = out_dir or settings.exports_dir / "gaps"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading territories (COG communes, EPCI, départements, régions)")
    files = territory_files(settings.territories_dir, settings.cache_dir, http=settings.http, progress=progress)
    territories = load_territories(files, settings.cache_dir)
    taxonomy = load_taxonomy(settings.ontology_dir / "taxonomy.ttl")
    _timed(seconds, "territories", started)
    base = settings.base_iri
    triples: dict[str, int] = {}
    work = settings.home / "gaps"
    work.mkdir(parents=True, exist_ok=True)
    with open_store(settings, read_only=not write_store) as store:
        started = time.perf_counter()
        if write_store:
            graph = territories_graph(base)
            path = work / "territories.nt"
            expected = write_territories_ntriples(territories, base, path)
            if store.count(graph) != expected:
                progress(f"loading the territories graph ({expected:,} triples)")
                triples["territories"] = store.replace_graph(graph, vocab.staging_graph(base, "territories"), path)
            else:
                triples["territories"] = expected
            path.unlink(missing_ok=True)
        _timed(seconds, "territories_graph", started)
        started = time.perf_counter()
        progress("reading initiatives and events from the store")
        items = items_from_store(store, base, insee_codes_from_runs(settings))
        _timed(seconds, "read", started)
        started = time.perf_counter()
        progress(f"placing {len(items):,} initiatives and events in their territories")
        placement = place(territories, items, gap_settings.snap_km)
        _timed(seconds, "place", started)
        started = time.perf_counter()
        result = compute(territories, items, placement, taxonomy, gap_settings, progress)
        _timed(seconds, "indicators", started)
        if write_store:
            started = time.perf_counter()
            progress("writing the territory links and the Data Cube into the store")
            links = work / "territory-links.nt"
            write_links_ntriples(territories, items, placement, base, links)
            triples["links"] = store.replace_graph(
                links_graph(base), vocab.staging_graph(base, "territory-links"), links
            )
            cube = work / "gaps.nt"
            write_cube_ntriples(territories, result, base, cube)
            triples["gaps"] = store.replace_graph(gaps_graph(base), vocab.staging_graph(base, "gaps"), cube)
            _timed(seconds, "store", started)
    started = time.perf_counter()
    progress(f"writing CSV and GeoJSON to {out_dir}")
    written = write_csv(territories, result, out_dir)
    written += write_geojson(territories, result, taxonomy, out_dir)
    written.append(write_priorities(priorities(territories, result, taxonomy), out_dir / "gaps-priorities.csv"))
    written.append(write_disagreements(territories, items, placement, out_dir / "gaps-disagreements.csv"))
    _timed(seconds, "files", started)
    national = {
        c: {
            "count": int(result.values["france"]["count"][0, k]),
            "median_km": _value("median_km", result.values["france"]["median_km"][0, k]),
            **{
                f"share_beyond_{t:g}km": _value("x", result.values["france"][f"share_beyond_{t:g}km"][0, k])
                for t in gap_settings.thresholds_km
            },
        }
        for k, c in enumerate(result.concepts)
        if result.values["france"]["count"][0, k] > 0
    }
    return GapsSummary(
        len(items),
        placement.counts(),
        len(placement.disagreements),
        len(result.concepts),
        triples,
        [str(p) for p in written],
        seconds,
        national,
    )


def write_disagreements(territories: Territories, items: Items, placement: Placement, path: Path) -> Path:
    """The points lying in another commune than the one declared, for the people who maintain the sources."""
    names = territories.communes.names
    index = territories.communes.index
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iri", "source", "point_commune", "point_commune_name", "declared", "declared_communes", "km"])
        for d in sorted(placement.disagreements, key=lambda d: -d.km):
            writer.writerow(
                [
                    items.iris[d.position],
                    items.sources[d.position] if items.sources else "",
                    d.point_commune,
                    names[index[d.point_commune]],
                    d.declared,
                    " ".join(d.declared_communes),
                    d.km,
                ]
            )
    return path


def quality_disagreements(
    settings: Settings, records: Sequence[dict[str, Any]], examples: int = 10
) -> dict[str, Any] | None:
    """For the quality report: points in another commune than the INSEE code or postcode their record declares.

    Any distance counts (unlike "far from the declared commune", which waits for ``TRANSISCOPE_FAR_KM``): the
    gap analysis places such a record by its point, so its maintainers should know. None when the territories
    data is not complete (the report says it was not checked).
    """
    try:
        files = territory_files(settings.territories_dir, settings.cache_dir, url="")
    except ConfigError:
        return None
    territories = load_territories(files, settings.cache_dir)
    found = commune_disagreements(records, territories, settings.base_iri)
    found.sort(key=lambda d: -d["km"])
    return {"count": len(found), "examples": found[:examples]}
