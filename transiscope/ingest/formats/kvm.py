"""Karte von morgen / OpenFairDB: entries through ``/v0/search`` + ``/v0/entries/{ids}``, events through
``/v0/events``.

``/v0/search`` returns at most ``limit`` (2,000 on the public instance) hits per bounding box, so the
box is split into quadrants, recursively, until each tile is under the cap (bounded by ``max_depth``).
The hits only carry a summary: the full entries come from ``/v0/entries/{id,id,...}`` in batches.
``tags`` are the real classification (``categories`` holds only 3 fixed ids); ``license`` is per entry.
Event times are local wall-clock time labelled UTC: the mapping re-attaches Europe/Paris
(``wall_time`` function).
"""

from __future__ import annotations

from typing import Any

from transiscope.core.errors import MalformedPayload
from transiscope.ingest import mapping as declarative
from transiscope.ingest.extract import Fetcher
from transiscope.ingest.formats.jsonapi import pages_of
from transiscope.registry.sources import Mapping, Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
normalise = declarative.normalise
required_fields = declarative.required_fields

KINDS = ("initiatives", "events")
EXPECT = "JSON"
REQUIRED_FIELDS = ("id", "title")
KNOWN_FIELDS = frozenset(
    {
        "id",
        "created",
        "version",
        "title",
        "description",
        "lat",
        "lng",
        "street",
        "zip",
        "city",
        "country",
        "state",
        "email",
        "telephone",
        "homepage",
        "opening_hours",
        "founded_on",
        "categories",
        "tags",
        "ratings",
        "license",
        "image_url",
        "image_link_url",
        "contact_name",
        "start",
        "end",
        "organizer",
        "registration",
    }
)
#: France métropolitaine, as south,west,north,east
DEFAULT_OPTIONS: dict[str, Any] = {
    "bbox": [41.3, -5.3, 51.2, 9.7],
    "limit": 2000,
    "max_depth": 8,
    "ids_per_request": 50,
    "categories": "",
}
OPTIONS_SCHEMA = {
    "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
    "limit": {"type": "integer", "minimum": 1, "maximum": 2000},
    "max_depth": {"type": "integer", "minimum": 0, "maximum": 12},
    "ids_per_request": {"type": "integer", "minimum": 1, "maximum": 200},
    "categories": {"type": "string"},
}
SITE = "https://kartevonmorgen.org/#/"


def default_fields(kind: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source_id": "id",
        "name": "title",
        "description": "description",
        "lat": "lat",
        "lon": "lng",
        "street": "street",
        "postcode": "zip",
        "city": "city",
        "country": "country",
        "website": "homepage",
        "email": "email",
        "categories": "tags",
        "tags": "tags",
        "licence": "license",
    }
    if kind == "events":
        fields.update(
            {
                "start": {"path": "start", "apply": ["timestamp", "wall_time:Europe/Paris"]},
                "end": {"path": "end", "apply": ["timestamp", "wall_time:Europe/Paris"]},
                "organizer": "organizer",
                "phone": "telephone",
                "source_url": {"template": SITE + "?event={id}"},
                "created_at": {"path": "created_at", "apply": ["timestamp"]},
            }
        )
    else:
        fields.update(
            {
                "phone": "telephone",
                "opening_hours": "opening_hours",
                "source_url": {"template": SITE + "?entry={id}"},
                "created_at": {"path": "created", "apply": ["timestamp"]},
            }
        )
    return fields


def _bbox(box: list[float]) -> str:
    return ",".join(f"{v:.6f}".rstrip("0").rstrip(".") for v in box)


def _quadrants(box: list[float]) -> list[list[float]]:
    south, west, north, east = box
    mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
    return [
        [south, west, mid_lat, mid_lon],
        [south, mid_lon, mid_lat, east],
        [mid_lat, west, north, mid_lon],
        [mid_lat, mid_lon, north, east],
    ]


def _api(url: str) -> str:
    """The API root (``…/v0/``) from the registry URL, whichever endpoint it names."""
    marker = url.find("/v0/")
    return url[: marker + 4] if marker >= 0 else url.rstrip("/") + "/"


def extract_pages(
    fetcher: Fetcher, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    options = mapping.spec.options
    api = _api(url)
    limit = int(options["limit"])
    pages: list[dict[str, Any]] = []
    if mapping.kind == "events":
        params = {"bbox": _bbox(options["bbox"]), "limit": limit}
        if options.get("categories"):
            params["tags"] = options["categories"]
        payload = fetcher.get_json(api + "events", params)
        if not isinstance(payload, list):
            raise MalformedPayload(f"source {source.id!r}: /v0/events did not answer a list")
        return [{"role": "events", "url": api + "events", "params": params, "payload": payload}]

    ids: list[str] = []
    seen: set[str] = set()
    tiles: list[tuple[list[float], int]] = [(list(options["bbox"]), 0)]
    while tiles:  # bounded: each split goes one level deeper, max_depth levels at most
        box, depth = tiles.pop(0)
        params = {"bbox": _bbox(box), "limit": limit}
        if options.get("categories"):
            params["categories"] = options["categories"]
        payload = fetcher.get_json(api + "search", params)
        visible = payload.get("visible") if isinstance(payload, dict) else None
        if not isinstance(visible, list):
            raise MalformedPayload(f'source {source.id!r}: /v0/search answered no "visible" list')
        pages.append({"role": "search", "url": api + "search", "params": params, "payload": payload})
        if len(visible) >= limit:
            if depth >= int(options["max_depth"]):
                raise MalformedPayload(
                    f"source {source.id!r}: a tile of {params['bbox']} still holds {limit} "
                    f"hits at depth {depth} (options.max_depth): the result would be cut"
                )
            tiles.extend((quadrant, depth + 1) for quadrant in _quadrants(box))
            continue
        for hit in visible:
            hit_id = hit.get("id") if isinstance(hit, dict) else None
            if hit_id and hit_id not in seen:
                seen.add(hit_id)
                ids.append(str(hit_id))
    batch = int(options["ids_per_request"])
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        target = api + "entries/" + ",".join(chunk)
        payload = fetcher.get_json(target)
        if not isinstance(payload, list):
            raise MalformedPayload(f"source {source.id!r}: /v0/entries did not answer a list")
        pages.append({"role": "entries", "url": target, "payload": payload})
    return pages


def parse(raw: bytes, source: Source) -> list[Any]:
    """The full entries (or events) of the run, in the order they were fetched."""
    pages = pages_of(raw, source)
    roles = {"events"} if any(p.get("role") == "events" for p in pages) else {"entries"}
    return [record for page in pages if page.get("role") in roles for record in page["payload"]]
