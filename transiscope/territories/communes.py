"""French communes and postcodes, for checking that a point lies where its record says it does.

Reads the official open data kept in a territories folder (``TRANSISCOPE_TERRITORIES_DIR``): commune
polygons (COG, WGS84 GeoJSON), the La Poste postcode table and the commune list (to send municipal
arrondissements of Paris, Lyon and Marseille to their commune). Distances are geodesic (pyproj.Geod on
WGS84), so they hold in the metropole and overseas alike; the point-to-polygon work is shapely 2's
vectorised functions over arrays, never a Python loop over geometries.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transiscope.core.errors import ConfigError

log = logging.getLogger(__name__)

COMMUNES_GEOJSON = "communes-cog2026-contours-simplifies.geojson"
COMMUNES_CSV = "communes-cog2026-population.csv"
POSTCODES_CSV = "postcodes/laposte-hexasmal-2025.csv"


@dataclass(frozen=True)
class Far:
    """A record whose point lies outside every commune it declares, and by how much."""

    position: int
    km: float
    declared: str  # e.g. "postcode 69001" or "INSEE 69381"


class Communes:
    """Commune polygons by INSEE code, and the communes of each postcode."""

    def __init__(
        self, geometries: dict[str, Any], postcodes: dict[str, tuple[str, ...]], parents: dict[str, str]
    ) -> None:
        self.geometries = geometries
        self.postcodes = postcodes
        self.parents = parents
        self._postcode_areas: dict[str, Any] = {}

    def to_cache(self, path: Path) -> None:
        """Write the parsed layers (geometries as WKB): reading them back takes a tenth of the GeoJSON."""
        import shapely

        codes = list(self.geometries)
        payload = {
            "codes": codes,
            "wkb": [bytes(b) for b in shapely.to_wkb(list(self.geometries.values()))],
            "postcodes": self.postcodes,
            "parents": self.parents,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    @classmethod
    def from_cache(cls, path: Path) -> Communes:
        import shapely

        with path.open("rb") as handle:
            payload = pickle.load(handle)
        shapes = shapely.from_wkb(payload["wkb"])
        return cls(dict(zip(payload["codes"], shapes, strict=True)), payload["postcodes"], payload["parents"])

    @classmethod
    def from_dir(cls, directory: Path) -> Communes:
        import shapely

        paths = [directory / COMMUNES_GEOJSON, directory / POSTCODES_CSV, directory / COMMUNES_CSV]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise ConfigError(f"territories data incomplete in {directory}: missing {', '.join(missing)}")
        with paths[0].open(encoding="utf-8") as handle:
            features = json.load(handle)["features"]
        codes = [f["properties"]["code"] for f in features]
        shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
        geometries = dict(zip(codes, shapes, strict=True))
        # communes without a polygon of their own (re-established inside a commune nouvelle) use the host's
        for feature, shape in zip(features, shapes, strict=True):
            for inner in feature["properties"].get("communes_sans_contour_incluses") or ():
                geometries.setdefault(inner, shape)
        parents: dict[str, str] = {}
        with paths[2].open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("type") == "ARM" and row.get("code_commune_parent"):
                    parents[row["code_insee"]] = row["code_commune_parent"]
        postcodes: dict[str, set[str]] = {}
        with paths[1].open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                code = row["Code_commune_INSEE"].strip()
                postcodes.setdefault(row["Code_postal"].strip(), set()).add(parents.get(code, code))
        return cls(geometries, {k: tuple(sorted(v)) for k, v in postcodes.items()}, parents)

    def declared(self, record: dict[str, Any]) -> tuple[str, Any] | None:
        """The area a record declares (its INSEE commune first, else its postcode's communes)."""
        import shapely

        insee = record.get("insee")
        if insee:
            code = self.parents.get(insee, insee)
            if code in self.geometries:
                return f"INSEE {insee}", self.geometries[code]
        postcode = record.get("postcode")
        if postcode and postcode in self.postcodes:
            if postcode not in self._postcode_areas:
                shapes = [self.geometries[c] for c in self.postcodes[postcode] if c in self.geometries]
                self._postcode_areas[postcode] = (
                    None if not shapes else shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
                )
            if self._postcode_areas[postcode] is not None:
                return f"postcode {postcode}", self._postcode_areas[postcode]
        return None

    def far_from_declared(self, records: list[dict[str, Any]], threshold_km: float = 5.0) -> list[Far]:
        """Records whose point is more than ``threshold_km`` from the commune(s) they declare."""
        import shapely
        from pyproj import Geod

        positions, labels, areas, xs, ys = [], [], [], [], []
        for position, record in enumerate(records):
            lat, lon = record.get("lat"), record.get("lon")
            if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
                continue
            found = self.declared(record)
            if found is None:
                continue
            positions.append(position)
            labels.append(found[0])
            areas.append(found[1])
            xs.append(record["lon"])
            ys.append(record["lat"])
        if not positions:
            return []
        points = shapely.points(np.array(xs), np.array(ys))
        areas_array = np.array(areas, dtype=object)
        outside = ~shapely.covers(areas_array, points)
        if not outside.any():
            return []
        lines = shapely.shortest_line(points[outside], areas_array[outside])
        ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
        _, _, metres = Geod(ellps="WGS84").inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
        index = np.flatnonzero(outside)
        return [
            Far(positions[i], round(float(m) / 1000, 1), labels[i])
            for i, m in zip(index, metres, strict=True)
            if m / 1000 > threshold_km
        ]


def _cache_key(directory: Path) -> str:
    stats = [(directory / name).stat() for name in (COMMUNES_GEOJSON, POSTCODES_CSV, COMMUNES_CSV)]
    text = "|".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats) + f"|{directory.resolve()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def load_communes(directory: Path, cache_dir: Path | None = None) -> Communes:
    """Cached per process, and on disk in ``cache_dir`` (the GeoJSON takes ~3 s to parse, the cache ~0.3 s)."""
    if cache_dir is None:
        return Communes.from_dir(directory)
    try:
        cache = cache_dir / f"communes-{_cache_key(directory)}.pickle"
    except OSError:
        return Communes.from_dir(directory)  # from_dir says which file is missing
    if cache.exists():
        try:
            return Communes.from_cache(cache)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError):
            log.warning("ignoring the unreadable cache %s", cache)
    communes = Communes.from_dir(directory)
    try:
        communes.to_cache(cache)
    except OSError as exc:
        log.warning("could not write the cache %s: %s", cache, exc)
    return communes
