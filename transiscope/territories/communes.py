"""French communes and postcodes, for checking that a point lies where its record says it does.

Reads the official open data kept in a territories folder (``TRANSISCOPE_TERRITORIES_DIR``): commune
polygons (COG, WGS84 GeoJSON), the La Poste postcode table and the commune list (to send municipal
arrondissements of Paris, Lyon and Marseille to their commune). Distances are geodesic (pyproj.Geod on
WGS84), so they hold in the metropole and overseas alike; the point-to-polygon work is shapely 2's
vectorised functions over arrays, never a Python loop over geometries.

This module is the one reader of the commune table, the commune polygons and the postcode table, and owns their
disk cache; :mod:`transiscope.territories.graph` builds the whole hierarchy on what it reads.
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
from transiscope.core.files import atomic_open

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


def _parents(table: list[dict[str, str]]) -> dict[str, str]:
    """Municipal arrondissement -> its commune, from the COG commune table."""
    return {
        row["code_insee"]: row["code_commune_parent"]
        for row in table
        if row.get("type") == "ARM" and row.get("code_commune_parent")
    }


class Communes:
    """The COG commune table, the commune polygons by INSEE code and the communes of each postcode.

    The one reader of these three files: :mod:`transiscope.territories.graph` builds the whole hierarchy on the
    tables read here (:func:`read_communes`), through the same disk cache.
    """

    def __init__(
        self,
        table: list[dict[str, str]],
        outlines: dict[str, Any],
        hosts: list[tuple[str, str]],
        postcodes: dict[str, tuple[str, ...]],
    ) -> None:
        #: the rows of the COG commune table (communes, municipal arrondissements...), as read
        self.table = table
        #: INSEE code -> the commune's own polygon, in the order of the GeoJSON file
        self.outlines = outlines
        #: (commune without a polygon of its own, commune whose polygon holds it), in the order of the file
        self.hosts = hosts
        self.postcodes = postcodes
        #: municipal arrondissement -> its commune
        self.parents = _parents(table)
        # communes without a polygon of their own (re-established inside a commune nouvelle) use the host's
        self.geometries: dict[str, Any] = dict(outlines)
        for inner, host in hosts:
            self.geometries.setdefault(inner, outlines[host])
        self._postcode_areas: dict[str, Any] = {}

    def to_cache(self, path: Path) -> None:
        """Write the parsed tables (polygons as WKB): reading them back takes a tenth of the GeoJSON."""
        import shapely

        payload = {
            "table": self.table,
            "codes": list(self.outlines),
            "wkb": [bytes(b) for b in shapely.to_wkb(list(self.outlines.values()))],
            "hosts": self.hosts,
            "postcodes": self.postcodes,
        }
        with atomic_open(path, "wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_cache(cls, path: Path) -> Communes:
        import shapely

        with path.open("rb") as handle:
            payload = pickle.load(handle)
        shapes = shapely.from_wkb(payload["wkb"])
        outlines = dict(zip(payload["codes"], shapes, strict=True))
        return cls(payload["table"], outlines, payload["hosts"], payload["postcodes"])

    @classmethod
    def from_files(cls, table_csv: Path, outlines_geojson: Path, postcodes_csv: Path) -> Communes:
        """Parse the COG commune table, the commune polygons and the La Poste postcode table."""
        import shapely

        with table_csv.open(encoding="utf-8-sig", newline="") as handle:
            table = list(csv.DictReader(handle))
        with outlines_geojson.open(encoding="utf-8") as handle:
            features = json.load(handle)["features"]
        codes = [f["properties"]["code"] for f in features]
        shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
        outlines = dict(zip(codes, shapes, strict=True))
        hosts = [
            (inner, code)
            for code, feature in zip(codes, features, strict=True)
            for inner in feature["properties"].get("communes_sans_contour_incluses") or ()
        ]
        parents = _parents(table)
        postcodes: dict[str, set[str]] = {}
        with postcodes_csv.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                code = row["Code_commune_INSEE"].strip()
                postcodes.setdefault(row["Code_postal"].strip(), set()).add(parents.get(code, code))
        return cls(table, outlines, hosts, {k: tuple(sorted(v)) for k, v in postcodes.items()})

    @classmethod
    def from_dir(cls, directory: Path) -> Communes:
        return cls.from_files(*_present(directory))

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


def commune_files(directory: Path) -> tuple[Path, Path, Path]:
    """The commune table, the commune polygons and the postcode table of a territories folder."""
    return directory / COMMUNES_CSV, directory / COMMUNES_GEOJSON, directory / POSTCODES_CSV


def _present(directory: Path) -> tuple[Path, Path, Path]:
    paths = commune_files(directory)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"territories data incomplete in {directory}: missing {', '.join(missing)}")
    return paths


#: raised each time the cached payload changes shape, so that an older cache file is never read
_CACHE_FORMAT = 2


def _cache_key(paths: tuple[Path, ...]) -> str:
    stats = [(p.resolve(), p.stat()) for p in paths]
    text = "|".join(f"{path}:{s.st_size}:{s.st_mtime_ns}" for path, s in stats) + f"|{_CACHE_FORMAT}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_communes(
    table_csv: Path, outlines_geojson: Path, postcodes_csv: Path, cache_dir: Path | None = None
) -> Communes:
    """The three tables, parsed, through the disk cache in ``cache_dir`` (the GeoJSON takes ~3 s to parse, the
    cache ~0.1 s); the files must exist. Keyed on the files' path, size and date."""
    paths = (table_csv, outlines_geojson, postcodes_csv)
    if cache_dir is None:
        return Communes.from_files(*paths)
    cache = cache_dir / f"communes-{_cache_key(paths)}.pickle"
    if cache.exists():
        try:
            return Communes.from_cache(cache)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, AttributeError, TypeError):
            log.warning("ignoring the unreadable cache %s", cache)
    communes = Communes.from_files(*paths)
    try:
        communes.to_cache(cache)
    except OSError as exc:
        log.warning("could not write the cache %s: %s", cache, exc)
    return communes


@functools.lru_cache(maxsize=2)
def load_communes(directory: Path, cache_dir: Path | None = None) -> Communes:
    """The tables of a territories folder, cached per process and on disk in ``cache_dir`` (:func:`read_communes`);
    a :class:`ConfigError` names the files missing."""
    return read_communes(*_present(directory), cache_dir=cache_dir)
