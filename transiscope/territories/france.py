"""Where France is, from the real outlines: the départements with outre-mer, with a small tolerance.

Why outlines and not boxes: the metropole's bounding box covers Belgium, Luxembourg, Switzerland, south-west
Germany, north Italy and Barcelona; an OSM export of book boxes loaded 282 of 343 foreign ones through it.
The départements' outlines (``departements-avec-outre-mer.geojson`` of the territories data, found by
:func:`transiscope.territories.graph.territory_files` like every territories file) are France as the gaps
analysis knows it: metropole, Corsica, Guadeloupe, Martinique, Guyane, La Réunion, Mayotte.

The tolerance (:data:`TOLERANCE_KM`, 1 km) is for the coast: the outlines are simplified (25 %; they stay
within 0.25 km of the commune outlines) and sources put points on piers, beaches and harbour walls. It is
applied in metres, each zone in its own projected CRS (Lambert-93, the DROM's UTM), so it is 1 km everywhere.
It cannot tell the sea from a land border, so it also admits the first kilometre beyond a land border (Kehl's
bank of the Rhine) and Monaco: there the declared country decides, and a point with no country that close to
the border is taken as French. Measured on border towns: at 2 km, the centres of Basel, Kehl and Irun would
pass as French; at 1 km, only Kehl's riverside; Geneva, Saarbrücken, Mons, Tournai and Ventimiglia are out at
either.

The area is one prepared (multi)polygon; a batch is decided by one ``shapely.contains_xy`` call (0.03 s per
100,000 points, 0.09 s from canonical records, ``bench/france.py``). It is built once per process and kept on
disk in the cache folder (buffering takes ~3.5 s, reading the cached WKB a few milliseconds).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from transiscope.core.errors import ConfigError, SourceUnreachable
from transiscope.core.files import atomic_open
from transiscope.core.geo import BOXES, FranceArea
from transiscope.territories.graph import ZONE_CRS, _read_outlines, _transformer, territory_files, zone_of

log = logging.getLogger(__name__)

#: the territories file whose outlines are France
ROLE = "departements_geojson"
#: how far beyond the outlines (km) a point still counts as in France: piers, beaches, simplified coasts
TOLERANCE_KM = 1.0
#: raised when the cached payload changes shape
_CACHE_FORMAT = 1


class FranceOutline:
    """The départements' outlines, widened by the tolerance, as a :class:`~transiscope.core.geo.FranceArea`."""

    kind = "outlines"

    def __init__(self, area: Any) -> None:
        import shapely

        self.area = area
        shapely.prepare(self.area)

    @classmethod
    def from_departements(cls, outlines: dict[str, Any], tolerance_km: float = TOLERANCE_KM) -> FranceOutline:
        """From département code -> outline (WGS84): each zone buffered in metres in its own CRS, then united."""
        import shapely

        by_zone: dict[str, list[Any]] = {}
        for code, shape in outlines.items():
            if shape is not None:
                by_zone.setdefault(zone_of(code), []).append(shape)
        parts = []
        for zone, shapes in by_zone.items():
            forward, back = _transformer(ZONE_CRS[zone]), _back_transformer(ZONE_CRS[zone])
            united = shapely.union_all(shapes)
            planar = shapely.transform(united, lambda xy, t=forward: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
            widened = shapely.buffer(planar, tolerance_km * 1000.0, quad_segs=4)
            parts.append(
                shapely.transform(widened, lambda xy, t=back: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
            )
        if not parts:
            raise ConfigError("the départements' outlines hold no geometry")
        return cls(shapely.union_all(parts))

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        import shapely

        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        known = np.isfinite(lat) & np.isfinite(lon)
        inside = np.zeros(lat.shape, dtype=bool)
        if known.any():
            inside[known] = shapely.contains_xy(self.area, lon[known], lat[known])
        return inside


@functools.lru_cache(maxsize=8)
def _back_transformer(epsg: int) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(epsg, 4326, always_xy=True)


#: what reading a damaged or foreign cache file may raise
_UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError)


def _cache_file(path: Path, cache_dir: Path, tolerance_km: float) -> Path:
    stat = path.stat()
    text = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{tolerance_km}:{_CACHE_FORMAT}"
    return cache_dir / f"france-outline-{hashlib.sha256(text.encode()).hexdigest()[:16]}.pickle"


@functools.lru_cache(maxsize=4)
def france_outline(path: Path, cache_dir: Path | None = None, tolerance_km: float = TOLERANCE_KM) -> FranceOutline:
    """The outline of France from a départements GeoJSON, cached per process and in ``cache_dir``."""
    import shapely

    cache = _cache_file(path, cache_dir, tolerance_km) if cache_dir is not None else None
    if cache is not None and cache.exists():
        try:
            with cache.open("rb") as handle:
                return FranceOutline(shapely.from_wkb(pickle.load(handle)["wkb"]))
        except (*_UNREADABLE, shapely.errors.ShapelyError):
            log.warning("ignoring the unreadable cache %s", cache)
    outline = FranceOutline.from_departements(_read_outlines(path, "code"), tolerance_km)
    if cache is not None:
        try:
            with atomic_open(cache, "wb") as handle:
                pickle.dump({"wkb": shapely.to_wkb(outline.area)}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:
            log.warning("could not write the cache %s: %s", cache, exc)
    return outline


@functools.lru_cache(maxsize=4)
def _said_once(message: str) -> None:
    log.warning("%s", message)


def france_area(settings: Any) -> tuple[FranceArea, str | None]:
    """The outline of France from the territories data, or the boxes and the sentence saying why (logged once
    per process; the stages also put it in their statistics, so that the run says it)."""
    try:
        files = territory_files(
            settings.territories_dir, settings.cache_dir, settings.territories_url, settings.http, roles=(ROLE,)
        )
        return france_outline(files[ROLE], settings.cache_dir), None
    except (ConfigError, SourceUnreachable, OSError, ValueError, KeyError) as exc:
        message = (
            f"'in France' decided with bounding boxes, not the départements' outlines ({exc}): points in "
            "Belgium, Luxembourg, Switzerland, south-west Germany, north Italy or Barcelona pass as French unless "
            "their record declares its country"
        )
        _said_once(message)
        return BOXES, message
