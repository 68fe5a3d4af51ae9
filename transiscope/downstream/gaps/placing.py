"""Placing each initiative and event in its territories: commune, EPCI, département, région, France.

Why this way: point-in-polygon over the commune outlines is one vectorised STRtree query; a point just off a
simplified coastline is snapped to the nearest commune within ``snap_km``; a record without a usable point falls
back to its INSEE code (re-coded through the COG history when old) or its postcode (communes shared by a postcode
give only the levels they agree on). A point lying in another commune than the one its record declares keeps its
point's commune (the point is what the map shows) and is *reported* (:class:`Disagreement`), never silently
resolved.

Only records in France are placed. One that declares another country (an international source's, method
``abroad``) is placed nowhere, whatever its point; one whose point lies outside France's outlines (with their
coastal tolerance, :mod:`transiscope.territories.france`; method ``outside-france``) never falls back to its
postcode or INSEE code: a foreign postcode that exists in France (Karlsruhe's 76133 is Épouville's) says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transiscope.core.countries import FRANCE
from transiscope.core.geo import LEVELS, FranceArea
from transiscope.downstream.gaps.items import Items
from transiscope.territories.france import FranceOutline
from transiscope.territories.graph import Territories, project


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
    method: np.ndarray  # "point", "point-snapped", "insee", "postcode", "abroad", "outside-france", "none"
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
_OUTLINES: dict[int, tuple[Territories, FranceOutline]] = {}


def _commune_index(territories: Territories) -> _CommuneIndex:
    found = _INDEXES.get(id(territories))
    if found is None or found[0] is not territories:
        found = (territories, _CommuneIndex(territories))
        _INDEXES.clear()
        _INDEXES[id(territories)] = found
    return found[1]


def _outline(territories: Territories) -> FranceOutline:
    """France from the territories' own département outlines, when the caller gives none (built once)."""
    found = _OUTLINES.get(id(territories))
    if found is None or found[0] is not territories:
        level = territories.levels["departement"]
        found = (territories, FranceOutline.from_departements(dict(zip(level.codes, level.geometry, strict=True))))
        _OUTLINES.clear()
        _OUTLINES[id(territories)] = found
    return found[1]


def place(territories: Territories, items: Items, snap_km: float = 1.0, france: FranceArea | None = None) -> Placement:
    """Put every item in its commune (and EPCI, département, région, France); see the module docstring.

    ``france`` decides which points may fall back to their postcode or INSEE code (by default the outline of the
    territories' départements; :func:`transiscope.territories.france.france_outline` gives the same, cached).
    """
    import shapely

    n = len(items)
    index = _commune_index(territories)
    commune = np.full(n, -1)
    method = np.full(n, "none", dtype="<U14")
    abroad = np.array([c is not None and c != FRANCE for c in items.country], dtype=bool)
    method[abroad] = "abroad"
    valid = _valid_points(items) & ~abroad
    outside = valid & ~(france or _outline(territories)).contains(items.lat, items.lon)
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
        if abroad[i]:
            continue
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
        elif outside[i]:
            method[i] = "outside-france"  # a point abroad: its postcode or INSEE code is not a French one
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
