"""Karte von morgen / OpenFairDB: entries through ``/v0/search`` + ``/v0/entries/{ids}``, events through
``/v0/events``.

What the real API does (OpenFairDB's code and its ``openapi.yaml``), and what the connector makes of it:

- ``/v0/search`` returns at most ``limit`` (2,000 on the public instance) hits per bounding box, so the
  box is split into quadrants, recursively, until each tile is under the cap (bounded by ``max_depth``).
  Its answer holds a ``visible`` list (the hits inside the box) and an ``invisible`` one (up to 5 entries
  *outside* the box, for the map's edges): only ``visible`` is read, since an entry outside the requested
  box belongs to another tile or to no tile at all. The hits only carry a summary: the full entries come
  from ``/v0/entries/{id,id,...}`` in batches.
- ``categories`` holds only 3 fixed ids (non-profit, commercial, event); ``tags`` are the real
  classification; ``license`` is per entry. Entries of the *commercial* category are companies, not
  initiatives: the registry key ``businesses`` says what to do with them. ``"drop"`` (the default): the
  search asks for non-profit entries only (``categories=`` the non-profit id), and an entry that still
  carries the commercial id is quarantined with that reason; ``"keep"``: no category filter, and each
  company loads with the tag ``entreprise`` and a note, so it is never mixed silently with initiatives.
- The tag filter is ``tags`` (comma-separated) on ``/v0/search`` but ``tag`` (repeated, one tag each) on
  ``/v0/events``; the server answers 400 to a parameter it does not know (``options.tags`` is sent as each
  endpoint names it).
- ``/v0/events`` answers events in chronological order, capped at ``limit`` (2,000 at most): without
  ``start_min`` the past fills the cap and later events are cut without a word. The connector sends
  ``start_min`` = the start of the run's day, Paris wall clock (the API's times are wall times labelled UTC),
  minus ``options.past_days`` (1 by default: an event that started more than that before the run and still
  runs is not fetched). A full answer means the cap was reached: the box is split into quadrants (as for the
  search) down to ``max_depth``, and past it the run fails saying so, never cut silently.
- The events answer also holds events of an *extended* box around the one asked: ``parse`` keeps, of each
  answer, the events whose point lies in the box that answer was asked for (events without a point are
  kept: the point checks judge them); the number left out is recorded on the page (``outside_bbox``). An
  event found in two tiles is read once.
- Event times are local wall-clock time labelled UTC: the mapping re-attaches Europe/Paris
  (``wall_time`` function).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from transiscope.core.errors import ConfigError, MalformedPayload
from transiscope.ingest import mapping as declarative
from transiscope.ingest.extract import Fetcher
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.formats.jsonapi import pages_of
from transiscope.registry.sources import Mapping, Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
required_fields = declarative.required_fields

KINDS = ("initiatives", "events")
EXPECT = "JSON"
REQUIRED_FIELDS = ("id", "title")
#: OpenFairDB's three fixed entry categories
NON_PROFIT = "2cd00bebec0c48ba9db761da48678134"
COMMERCIAL = "77b3c33a92554bcf8e8c2c86cedd6f6f"
EVENT_CATEGORY = "c2dc278a2d6a4b9b8a50cb606fc017ed"
#: the registry key ``businesses``: what becomes of companies (commercial entries); "drop" unless it says "keep"
BUSINESSES = ("drop", "keep")
#: the tag a kept company carries, so that it is never mixed silently with initiatives
BUSINESS_TAG = "entreprise"
#: the public instance's cap of one answer (search hits or events)
API_CAP = 2000
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
        "status",
        "links",
        "created_at",
        "created_by",
    }
)
#: France métropolitaine, as south,west,north,east
DEFAULT_OPTIONS: dict[str, Any] = {
    "bbox": [41.3, -5.3, 51.2, 9.7],
    "limit": API_CAP,
    "max_depth": 8,
    "ids_per_request": 50,
    "categories": "",
    "tags": "",
    "past_days": 1,
}
OPTIONS_SCHEMA = {
    "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
    "limit": {"type": "integer", "minimum": 1, "maximum": API_CAP},
    "max_depth": {"type": "integer", "minimum": 0, "maximum": 12},
    "ids_per_request": {"type": "integer", "minimum": 1, "maximum": 200},
    #: entries only: comma-separated category ids sent to /v0/search (the registry's businesses decides otherwise)
    "categories": {"type": "string"},
    #: comma-separated tags: ``tags=`` on /v0/search, one ``tag=`` each on /v0/events
    "tags": {"type": "string"},
    #: events only: days before the run's day from which events are asked (start_min)
    "past_days": {"type": "integer", "minimum": 0, "maximum": 3660},
}
SITE = "https://kartevonmorgen.org/#/"
_PARIS = ZoneInfo("Europe/Paris")


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


def businesses(source: Source) -> str:
    """The source's ``businesses`` setting (the registry schema allows only :data:`BUSINESSES`)."""
    value = str(source.extra.get("businesses") or "drop")
    return value if value in BUSINESSES else "drop"


def _is_business(element: Any) -> bool:
    categories = element.get("categories") if isinstance(element, dict) else None
    return isinstance(categories, list) and COMMERCIAL in categories


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    """The declarative mapping, plus the source's decision on companies (``businesses``)."""
    business = mapping.kind == "initiatives" and _is_business(element)
    if business and businesses(source) == "drop":
        raise RecordRejected(
            f"a company on the Karte von morgen (commercial category {COMMERCIAL}), not an initiative: set aside "
            'because the registry says businesses = "drop" (the default); businesses = "keep" loads companies '
            f"tagged {BUSINESS_TAG!r}"
        )
    record = declarative.normalise(element, index, source, mapping)
    if business:
        record["tags"] = [*(record.get("tags") or []), BUSINESS_TAG]
        record["notes"].append(f'a company (commercial category of the Karte von morgen), kept tagged "{BUSINESS_TAG}"')
    return record


def _bbox(box: list[float]) -> str:
    return ",".join(f"{v:.6f}".rstrip("0").rstrip(".") for v in box)


def _box_of(params: Any) -> list[float] | None:
    """The box (south, west, north, east) a recorded request asked for, None when it names none."""
    text = params.get("bbox") if isinstance(params, dict) else None
    try:
        box = [float(v) for v in str(text).split(",")] if text else []
    except ValueError:
        return None
    return box if len(box) == 4 else None


def _inside(record: Any, box: list[float]) -> bool:
    """Whether an event lies in ``box``; an event without a readable point is kept (the point checks judge it)."""
    if not isinstance(record, dict):
        return True
    lat, lon = record.get("lat"), record.get("lng")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return True
    south, west, north, east = box
    return south <= lat <= north and west <= lon <= east


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


def _tags(options: dict[str, Any]) -> list[str]:
    return [t.strip() for t in str(options.get("tags") or "").split(",") if t.strip()]


def start_min(past_days: int, now: datetime | None = None) -> int:
    """``start_min`` for ``/v0/events``: the start of the run's day on the Paris wall clock, minus ``past_days``,
    as the API counts (a wall time read as UTC). A day's runs ask the same thing, so their answers compare."""
    local = (now or datetime.now(UTC)).astimezone(_PARIS)
    day = datetime(local.year, local.month, local.day, tzinfo=UTC) - timedelta(days=past_days)
    return int(day.timestamp())


def _tiles(
    fetcher: Fetcher,
    endpoint: str,
    base: dict[str, Any],
    options: dict[str, Any],
    source: Source,
    role: str,
) -> list[dict[str, Any]]:
    """Every answer of ``endpoint`` over the bbox, splitting a tile in quadrants while its answer is full."""
    limit = min(int(options["limit"]), API_CAP)
    pages: list[dict[str, Any]] = []
    tiles: list[tuple[list[float], int]] = [(list(options["bbox"]), 0)]
    while tiles:  # bounded: each split goes one level deeper, max_depth levels at most
        box, depth = tiles.pop(0)
        params = {"bbox": _bbox(box), **base, "limit": limit}
        payload = fetcher.get_json(endpoint, params)
        if role == "events":
            if not isinstance(payload, list):
                raise MalformedPayload(f"source {source.id!r}: /v0/events did not answer a list")
            hits = payload
        else:
            visible = payload.get("visible") if isinstance(payload, dict) else None
            if not isinstance(visible, list):
                raise MalformedPayload(f'source {source.id!r}: /v0/search answered no "visible" list')
            hits = visible
        page: dict[str, Any] = {"role": role, "url": endpoint, "params": params, "payload": payload}
        if "start_min" in base:
            page["volatile"] = ["start_min"]  # depends on the run's day (the sample server ignores it)
        if role == "events":
            page["outside_bbox"] = sum(1 for e in hits if not _inside(e, box))
        pages.append(page)
        if len(hits) >= limit:
            if depth >= int(options["max_depth"]):
                raise MalformedPayload(
                    f"source {source.id!r}: a tile of {params['bbox']} still holds {limit} "
                    f"{'events' if role == 'events' else 'hits'} (the API's cap) at depth {depth} "
                    "(options.max_depth): the result would be cut"
                )
            page["split"] = True  # full: its quadrants are asked instead, and parse skips it
            tiles.extend((quadrant, depth + 1) for quadrant in _quadrants(box))
    return pages


def extract_pages(
    fetcher: Fetcher, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    options = mapping.spec.options
    api = _api(url)
    tags = _tags(options)
    if mapping.kind == "events":
        if options.get("categories"):
            raise ConfigError(
                f"source {source.id!r}: mapping {mapping.path.name} [options].categories: /v0/events has no "
                "category filter (an unknown parameter is an error there); filter by tags with [options].tags"
            )
        base: dict[str, Any] = {"start_min": start_min(int(options["past_days"]))}
        if tags:
            base["tag"] = tags
        return _tiles(fetcher, api + "events", base, options, source, "events")

    base = {}
    categories = str(options.get("categories") or "")
    if businesses(source) == "drop":
        if COMMERCIAL in categories:
            raise ConfigError(
                f"source {source.id!r}: mapping {mapping.path.name} [options].categories asks for companies "
                f'({COMMERCIAL}) while the registry says businesses = "drop"'
            )
        categories = categories or NON_PROFIT
    if categories:
        base["categories"] = categories
    if tags:
        base["tags"] = ",".join(tags)
    pages = _tiles(fetcher, api + "search", base, options, source, "search")
    ids: list[str] = []
    seen: set[str] = set()
    for page in pages:
        if page.get("split"):
            continue
        for hit in page["payload"]["visible"]:
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
    """The full entries (or events) of the run, in the order they were fetched.

    Events: of each answer, those in the box it was asked for (the API adds an extended box); an answer that
    was split (full) is skipped for its quadrants; an event found in two tiles is read once."""
    pages = pages_of(raw, source)
    if not any(p.get("role") == "events" for p in pages):
        return [record for page in pages if page.get("role") == "entries" for record in page["payload"]]
    out: list[Any] = []
    seen: dict[str, int] = {}
    for number, page in enumerate(pages):
        if page.get("role") != "events" or page.get("split") or not isinstance(page["payload"], list):
            continue
        box = _box_of(page.get("params"))
        for record in page["payload"]:
            if box is not None and not _inside(record, box):
                continue
            event_id = record.get("id") if isinstance(record, dict) else None
            if isinstance(event_id, str) and seen.setdefault(event_id, number) != number:
                continue  # the same event in a neighbouring tile: read once
            out.append(record)
    return out
