"""An independent check of RFC 7946 §3.1.6 ring orientation: the signed area of each ring by the shoelace
formula, written here without shapely (which writes the files), so that the check shares no code with them."""

from __future__ import annotations

from typing import Any


def signed_area(ring: list[list[float]]) -> float:
    """Twice the signed area of a closed ring in lon/lat: positive when counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:], strict=False))


def ring_errors(collection: dict[str, Any]) -> list[str]:
    """Every ring of a FeatureCollection that breaks the right-hand rule (exterior CCW, holes CW), or is not
    closed, described by the feature's ``code`` property."""
    errors = []
    for feature in collection["features"]:
        geometry = feature["geometry"]
        polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}.get(
            geometry["type"], []
        )
        for polygon in polygons:
            for n, ring in enumerate(polygon):
                name = f"{feature['properties'].get('code')} ring {n}"
                if ring[0] != ring[-1] or len(ring) < 4:
                    errors.append(f"{name} is not a closed ring")
                elif (signed_area(ring) > 0) != (n == 0):
                    errors.append(f"{name} is {'clockwise' if n == 0 else 'counter-clockwise'}")
    return errors
