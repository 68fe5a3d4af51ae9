"""Where France is, for the "inside France" expectation: metropole, Corsica and the five DROM.

Bounding boxes, not polygons: this check runs before territories are loaded and only has to catch
swapped, zeroed or foreign coordinates; the point-in-commune test belongs to the gap analysis.
"""

from __future__ import annotations

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


def in_france(lat: float | None, lon: float | None) -> bool | None:
    """True inside one of the boxes, False outside, None when a coordinate is missing."""
    if lat is None or lon is None:
        return None
    return any(x0 <= lon <= x1 and y0 <= lat <= y1 for _, x0, y0, x1, y1 in FRANCE_BOXES)
