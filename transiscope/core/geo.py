"""Where France is: metropole, Corsica and the five DROM; the boxes used when the real outlines are missing.

The real decision is made on the départements' outlines (:mod:`transiscope.territories.france`, which needs the
territories data); this module holds what every layer shares: the :class:`FranceArea` interface the checks call,
and the bounding boxes, the fallback when the territories data is not available. Boxes are generous: the
metropole's covers Belgium, Luxembourg, Switzerland, south-west Germany, north Italy and Barcelona, so with
them only swapped, zeroed or far-away coordinates are caught, and the declared country does the rest.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

#: the territory levels, finest first: the territories data has an outline and a population at each, the gap
#: analysis measures at each, the settings check the levels they name against these
LEVELS = ("commune", "epci", "departement", "region", "france")

#: (name, min_lon, min_lat, max_lon, max_lat), generous by a few km around each coast
FRANCE_BOXES: tuple[tuple[str, float, float, float, float], ...] = (
    ("metropole", -5.3, 41.3, 9.7, 51.2),
    ("guadeloupe", -61.9, 15.8, -60.9, 16.6),
    ("martinique", -61.3, 14.35, -60.75, 14.9),
    ("guyane", -54.7, 2.1, -51.5, 5.85),
    ("la-reunion", 55.2, -21.45, 55.9, -20.85),
    ("mayotte", 44.95, -13.05, 45.35, -12.6),
)


class FranceArea(Protocol):
    """What decides whether points lie in France, over arrays (one call for a whole batch of records)."""

    #: "outlines" (the départements with a coastal tolerance) or "boxes" (the fallback)
    kind: str

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """A boolean array: True where (lat, lon) lies in France; False for NaN coordinates."""
        ...


class FranceBoxes:
    """The bounding boxes of :data:`FRANCE_BOXES` as a :class:`FranceArea`."""

    kind = "boxes"

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        inside = np.zeros(lat.shape, dtype=bool)
        for _, x0, y0, x1, y1 in FRANCE_BOXES:
            inside |= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        return inside


BOXES = FranceBoxes()


def in_france(lat: float | None, lon: float | None, area: FranceArea = BOXES) -> bool | None:
    """True inside ``area`` (the boxes by default), False outside, None when a coordinate is missing."""
    if lat is None or lon is None:
        return None
    return bool(area.contains(np.array([lat], dtype=float), np.array([lon], dtype=float))[0])
