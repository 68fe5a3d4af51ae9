"""The map page's API over the points index (:mod:`transiscope.downstream.map_points`): what is in a view.

``/map/api/meta``: the concept tree, sources and départements with their counts, the number of points;
``/map/api/points?bbox=W,S,E,N&zoom=Z[&concept=…&source=…&dep=…&q=…]``: grid clusters (web-mercator cells of
:data:`CELL_PX` pixels at that zoom: count and mean position) or the points themselves when at most
:data:`POINT_LIMIT` are in view; ``/map/api/list?bbox=…&offset=…``: the initiatives in view, alphabetically, a
page at a time; ``/map/api/initiative/<row>``: one popup's details.

Why server-side clustering in numpy rather than vector tiles: a view is answered in a few vectorised passes over
the arrays (milliseconds at 500,000 points), so the browser receives at most a few hundred features whatever
the corpus; no native tile builder, no WebGL in the browser (headless Chromium without a GPU draws Leaflet's
DOM markers at once), and filters and search need no re-tiling. Every answer is bounded in size.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from transiscope.core.errors import ConfigError
from transiscope.core.text import fold
from transiscope.downstream.map_points import FOLDER, FORMAT, INDEX_FILE

#: cluster cell size on screen
CELL_PX = 64
#: at most this many points in view are sent as points, not clusters
POINT_LIMIT = 400
#: beyond this zoom every point is sent (the cells would be a few metres wide)
POINTS_ZOOM = 17
LIST_PAGE = 50
MAX_CELLS = 4000
MAX_QUERY = 100


class BadRequest(ValueError):
    """A request the API cannot answer; the message says what to send instead."""


@dataclass(frozen=True)
class View:
    west: float
    south: float
    east: float
    north: float
    zoom: int
    concept: str = ""
    source: str = ""
    dep: str = ""
    q: str = ""


def _mercator(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web-mercator position in [0, 1) × [0, 1) (the unit square of zoom 0)."""
    clipped = np.radians(np.clip(lat, -85.05112878, 85.05112878))
    x = (lon + 180.0) / 360.0
    y = (1.0 - np.log(np.tan(clipped) + 1.0 / np.cos(clipped)) / math.pi) / 2.0
    return x, y


def parse_view(params: dict[str, str]) -> View:
    """The view of a request's query parameters, or :class:`BadRequest` naming what is wrong."""
    try:
        west, south, east, north = (float(v) for v in params.get("bbox", "").split(","))
    except ValueError:
        raise BadRequest("bbox=west,south,east,north in degrees is required") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or south > north:
        raise BadRequest("bbox: four finite numbers, south <= north")
    try:
        zoom = int(params.get("zoom", ""))
    except ValueError:
        raise BadRequest("zoom=<integer 0-22> is required") from None
    if not 0 <= zoom <= 22:
        raise BadRequest("zoom: an integer from 0 to 22")
    q = params.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise BadRequest(f"q: at most {MAX_QUERY} characters")
    return View(
        max(west, -180.0),
        max(south, -90.0),
        min(east, 180.0),
        min(north, 90.0),
        zoom,
        params.get("concept", ""),
        params.get("source", ""),
        params.get("dep", ""),
        q,
    )


class PointsIndex:
    """The arrays of one ``points.npz``, loaded once, plus the open details file its offsets point into."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self.meta: dict[str, Any] = json.loads(str(data["meta"]))
            if self.meta.get("format") != FORMAT:
                raise ConfigError(f"{path.name}: written by another version of the bus; run `transiscope export`")
            self.lat = data["lat"]
            self.lon = data["lon"]
            self.domain = data["domain"]
            self.concepts = data["concepts"]
            self.sources = data["sources"]
            self.dep = data["dep"]
            self.search = data["search"]
            self.names = data["names"].tobytes()
            self.name_at = data["name_at"]
            self.detail_at = data["detail_at"]
        self.x, self.y = _mercator(self.lat, self.lon)
        # kept open: the next export may replace the file, this index keeps reading its own
        self._details: BinaryIO = (path.parent / self.meta["details"]).open("rb")
        self._details_lock = threading.Lock()
        self._concept_col = {c: k for k, c in enumerate(self.meta["concepts"])}
        self._source_col = {s["id"]: k for k, s in enumerate(self.meta["sources"])}
        self._dep_code = {d: k for k, d in enumerate(self.meta["departements"])}
        self._searches: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._search_lock = threading.Lock()

    def close(self) -> None:
        self._details.close()

    @property
    def size(self) -> int:
        return int(self.lat.shape[0])

    def name(self, row: int) -> str:
        return self.names[int(self.name_at[row]) : int(self.name_at[row + 1])].decode()

    def summary(self) -> dict[str, Any]:
        """The page's filters with their counts over the whole index (tree, sources, départements)."""
        concept_counts = self.concepts.sum(axis=0) if self.size else np.zeros(len(self._concept_col), int)
        count = {c: int(concept_counts[k]) for c, k in self._concept_col.items()}
        tree = [
            {
                **top,
                "count": count.get(top["id"], 0),
                "children": [{**c, "count": count.get(c["id"], 0)} for c in top["children"]],
            }
            for top in self.meta["tree"]
        ]
        source_counts = self.sources.sum(axis=0) if self.size else np.zeros(len(self._source_col), int)
        dep_counts = np.bincount(self.dep[self.dep >= 0], minlength=len(self._dep_code))
        return {
            "total": self.size,
            "tree": tree,
            "sources": [{**s, "count": int(source_counts[k])} for k, s in enumerate(self.meta["sources"])],
            "departements": [
                {"code": d, "name": self.meta.get("departement_names", {}).get(d, ""), "count": int(dep_counts[k])}
                for d, k in self._dep_code.items()
            ],
        }

    def _text_mask(self, q: str) -> np.ndarray:
        folded = fold(q).encode()
        with self._search_lock:
            if folded in self._searches:
                self._searches.move_to_end(folded)
                return self._searches[folded]
        mask = np.ones(self.size, dtype=bool)
        for word in folded.split():
            mask &= np.char.find(self.search, word) >= 0
        with self._search_lock:
            self._searches[folded] = mask
            while len(self._searches) > 16:
                self._searches.popitem(last=False)
        return mask

    def matching(self, view: View) -> np.ndarray:
        """The rows that pass the view's filters (anywhere on the map)."""
        mask = np.ones(self.size, dtype=bool)
        if view.concept:
            if view.concept not in self._concept_col:
                raise BadRequest(f"concept: unknown notation {view.concept!r}")
            mask &= self.concepts[:, self._concept_col[view.concept]]
        if view.source:
            if view.source not in self._source_col:
                raise BadRequest(f"source: unknown source {view.source!r}")
            mask &= self.sources[:, self._source_col[view.source]]
        if view.dep:
            if view.dep not in self._dep_code:
                raise BadRequest(f"dep: unknown département {view.dep!r}")
            mask &= self.dep == self._dep_code[view.dep]
        if view.q:
            mask &= self._text_mask(view.q)
        return mask

    def _in_view(self, view: View, mask: np.ndarray) -> np.ndarray:
        inside = mask & (self.lat >= view.south) & (self.lat <= view.north)
        if view.west <= view.east:
            inside &= (self.lon >= view.west) & (self.lon <= view.east)
        return np.flatnonzero(inside)

    def _point(self, row: int) -> dict[str, Any]:
        return {
            "row": row,
            "lat": round(float(self.lat[row]), 6),
            "lon": round(float(self.lon[row]), 6),
            "domain": int(self.domain[row]),
            "name": self.name(row),
        }

    def points(self, view: View) -> dict[str, Any]:
        """Clusters or points in the view, with the number matching the filters anywhere and in view."""
        mask = self.matching(view)
        rows = self._in_view(view, mask)
        answer: dict[str, Any] = {"matching": int(mask.sum()), "in_view": int(rows.size), "zoom": view.zoom}
        if rows.size <= POINT_LIMIT or view.zoom >= POINTS_ZOOM:
            answer["points"] = [self._point(int(r)) for r in rows[: POINT_LIMIT * 4]]
            answer["clusters"] = []
            return answer
        cell = CELL_PX / (256.0 * 2**view.zoom)
        cx = np.floor(self.x[rows] / cell).astype(np.int64)
        cy = np.floor(self.y[rows] / cell).astype(np.int64)
        while True:  # a very wide bbox at a high zoom: coarser cells, so the answer stays bounded
            keys, first, inverse, counts = np.unique(
                cx * (1 << 31) + cy, return_index=True, return_inverse=True, return_counts=True
            )
            if keys.size <= MAX_CELLS:
                break
            cx, cy = cx // 2, cy // 2
        lat = np.bincount(inverse, weights=self.lat[rows]) / counts
        lon = np.bincount(inverse, weights=self.lon[rows]) / counts
        singles = counts == 1
        first_row = rows[first]  # a cell of one point: that point
        answer["clusters"] = [
            {"lat": round(float(a), 6), "lon": round(float(o), 6), "count": int(c)}
            for a, o, c, s in zip(lat, lon, counts, singles, strict=True)
            if not s
        ]
        answer["points"] = [self._point(int(r)) for r in first_row[singles]]
        return answer

    def listing(self, view: View, offset: int) -> dict[str, Any]:
        """The initiatives in view in name order, :data:`LIST_PAGE` from ``offset``."""
        rows = self._in_view(view, self.matching(view))
        page = rows[offset : offset + LIST_PAGE]
        return {"in_view": int(rows.size), "offset": offset, "items": [self.detail(int(r)) for r in page]}

    def detail(self, row: int) -> dict[str, Any]:
        if not 0 <= row < self.size:
            raise BadRequest(f"no point {row}: rows are 0 to {self.size - 1}")
        with self._details_lock:
            self._details.seek(int(self.detail_at[row]))
            line = self._details.readline()
        detail: dict[str, Any] = json.loads(line)
        detail.update(row=row, lat=float(self.lat[row]), lon=float(self.lon[row]), domain=int(self.domain[row]))
        return detail


class MapIndex:
    """The index of an exports folder, reloaded when a new export replaced ``points.npz``."""

    def __init__(self, exports_dir: Path) -> None:
        self.path = exports_dir / FOLDER / INDEX_FILE
        self._loaded: tuple[tuple[int, int], PointsIndex] | None = None
        self._lock = threading.Lock()

    def current(self) -> PointsIndex | None:
        """The index, or None when there is none yet (the page then says to run `transiscope export`)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded[0] != key:
                # the previous index is left to the requests still using it (its file closes with it)
                self._loaded = (key, PointsIndex(self.path))
            return self._loaded[1]
