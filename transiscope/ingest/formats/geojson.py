"""GeoJSON FeatureCollections (RFC 7946): one record per feature, properties flattened.

A feature becomes ``{"id": ..., <properties>..., "_point": {"lon", "lat"}}``: the point of a ``Point``
geometry, or a point inside any other geometry (shapely's ``representative_point``, which lies inside
the shape unlike a centroid), so the mapping can read coordinates from one place whatever the geometry.
"""

from __future__ import annotations

from typing import Any

from transiscope.core.errors import MalformedPayload
from transiscope.ingest import mapping as declarative
from transiscope.ingest.extract import parse_json
from transiscope.registry.sources import Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
normalise = declarative.normalise
required_fields = declarative.required_fields

KINDS = ("initiatives", "events")
EXPECT = "GeoJSON"
REQUIRED_FIELDS = ("id", "name")
KNOWN_FIELDS = frozenset({"id", "name", "_point", "_geometry_type"})
OPTIONS_SCHEMA: dict[str, Any] = {}


def default_fields(kind: str) -> dict[str, Any]:
    return {"source_id": "id", "name": ["name", "nom", "title"], "lat": "_point.lat", "lon": "_point.lon"}


def _point(geometry: Any) -> dict[str, float] | None:
    if not isinstance(geometry, dict):
        return None
    if geometry.get("type") == "Point":
        coords = geometry.get("coordinates")
        if isinstance(coords, list) and len(coords) >= 2:
            return {"lon": coords[0], "lat": coords[1]}
        return None
    try:
        from shapely.geometry import shape

        point = shape(geometry).representative_point()
    except Exception:
        return None
    return {"lon": point.x, "lat": point.y}


def parse(raw: bytes, source: Source) -> list[Any]:
    payload = parse_json(raw, source.id)
    if isinstance(payload, dict) and payload.get("type") == "Feature":
        payload = {"type": "FeatureCollection", "features": [payload]}
    if not isinstance(payload, dict) or payload.get("type") != "FeatureCollection":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise MalformedPayload(f"source {source.id!r}: expected a GeoJSON FeatureCollection, got {kind!r}")
    features = payload.get("features")
    if not isinstance(features, list):
        raise MalformedPayload(f'source {source.id!r}: the FeatureCollection has no "features" list')
    out: list[Any] = []
    for feature in features:
        if not isinstance(feature, dict):
            out.append(feature)  # quarantined by normalise, with its position
            continue
        raw_properties = feature.get("properties")
        properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
        element = dict(properties)
        if feature.get("id") is not None:
            element.setdefault("id", feature["id"])
        geometry = feature.get("geometry")
        element["_point"] = _point(geometry)
        element["_geometry_type"] = geometry.get("type") if isinstance(geometry, dict) else None
        out.append(element)
    return out
