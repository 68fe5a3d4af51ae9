"""GoGoCarto ``elements.json`` (``ontology=gogofull``), in its 2018 and its 2021+ shapes.

2018: ``categories`` are option ids and dates are ``d/m/Y``; 2021+: ``categories`` are names and
dates are ISO 8601. Both carry ``categoriesFull`` ({id, name, ...}) when exported in gogofull,
which is where labels are read from first. Custom fields (website, telephone, description...) sit at
the top level of each element; which ones hold what is the mapping's ``[fields]`` table.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from transiscope.core.errors import MalformedPayload
from transiscope.core.text import clean_contact, clean_text, slug
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.records import empty_record, parse_date, to_float
from transiscope.registry.sources import Mapping, Source

#: what the body must be (extract refuses an HTML error page served with status 200)
EXPECT = "JSON"
#: fields without which no element can become an initiative: absent from all = schema drift
REQUIRED_FIELDS = ("id", "name", "geo")
#: the standard fields of a gogofull element; custom fields come from the mapping
KNOWN_FIELDS = frozenset(
    {
        "id",
        "name",
        "geo",
        "address",
        "categories",
        "categoriesFull",
        "sourceKey",
        "openHours",
        "createdAt",
        "updatedAt",
        "status",
        "moderationState",
        "images",
        "files",
        "email",
        "website",
        "telephone",
        "description",
        "abstract",
        "descriptionMore",
        "urls",
        "stamps",
        "optionValues",
        "subscriberEmails",
    }
)

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "description": ("description", "abstract"),
    "website": ("website",),
    "phone": ("telephone",),
    "email": ("email",),
}

#: GoGoCarto's ElementStatus constants below zero
_NEGATIVE_STATUS = {
    -1: "pending modification",
    -2: "refused by an administrator",
    -3: "refused by collaborative moderation",
    -4: "deleted",
    -5: "pending version of a modification",
    -6: "duplicate",
}
_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def _preview(raw: bytes) -> str:
    text = raw[:80].decode("utf-8", errors="replace")
    return " ".join(text.split())


def parse(raw: bytes, source: Source) -> list[Any]:
    """The elements of a GoGoCarto response, or :class:`MalformedPayload` saying what is wrong."""
    if not raw.strip():
        raise MalformedPayload(f"source {source.id!r}: the response body is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"source {source.id!r}: the response is not UTF-8 (byte {exc.start}); JSON must be UTF-8"
        ) from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(
            f"source {source.id!r}: the response is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}; it starts with {_preview(raw)!r})"
        ) from None
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise MalformedPayload(f"source {source.id!r}: expected a JSON object, got {type(payload).__name__}")
    if "data" not in payload:
        keys = ", ".join(sorted(map(str, payload))[:8]) or "none"
        raise MalformedPayload(f'source {source.id!r}: no "data" list in the GoGoCarto response (keys: {keys})')
    data = payload["data"]
    if not isinstance(data, list):
        raise MalformedPayload(f'source {source.id!r}: "data" is a {type(data).__name__}, not a list')
    return data


def _first(element: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value: Any = element
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value not in (None, "", [], {}):
            return value
    return None


def _labels(element: dict[str, Any], shape: str) -> list[str]:
    """Category labels, read from ``categoriesFull`` first, then ``categories``."""
    full = element.get("categoriesFull")
    names_by_id: dict[str, str] = {}
    labels: list[str] = []
    if isinstance(full, list):
        for option in full:
            if isinstance(option, dict) and option.get("name"):
                name = clean_text(option["name"], multiline=False)
                if name:
                    names_by_id[str(option.get("id"))] = name
                    labels.append(name)
    if labels:
        return list(dict.fromkeys(labels))
    raw = element.get("categories")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    for value in raw:
        if shape == "2018" or isinstance(value, int):
            label = names_by_id.get(str(value), str(value))
        else:
            label = clean_text(value, multiline=False) or ""
        if label:
            labels.append(label)
    return list(dict.fromkeys(labels))


def _opening_hours(value: Any) -> str | None:
    """``{"Mo": "09:00-12:00,14:00-18:00"}`` -> the OSM ``opening_hours`` syntax."""
    if not isinstance(value, dict):
        return clean_text(value, multiline=False) if isinstance(value, str) else None
    parts = []
    for day in _DAYS:
        hours = value.get(day)
        if isinstance(hours, str) and hours.strip():
            parts.append(f"{day} {hours.strip().replace(' ', '')}")
    return "; ".join(parts) or None


def record_url(source: Source, source_id: str, name: str | None) -> str:
    """The element's page on the GoGoCarto map that published it."""
    parts = urlsplit(source.url)
    name_part = slug(name, fallback="element", lower=False)
    return f"{parts.scheme}://{parts.netloc}/map#/fiche/{name_part}/{quote(source_id, safe='')}/"


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise RecordRejected(f"element is a JSON {type(element).__name__}, not an object")
    raw_id = element.get("id")
    if raw_id is None or str(raw_id).strip() == "":
        raise RecordRejected("element has no id, so it cannot be tracked across runs")
    source_id = str(raw_id).strip()
    fields = {**DEFAULT_FIELDS, **mapping.fields}
    day_first = mapping.shape == "2018"

    record = empty_record()
    notes: list[str] = record["notes"]
    record["source"] = source.id
    record["source_id"] = source_id
    record["record_index"] = index
    record["name"] = clean_text(element.get("name"), multiline=False)
    record["description"] = clean_text(_first(element, fields["description"]))

    status = element.get("status")
    record["status"] = str(status) if status is not None else None

    labels = _labels(element, mapping.shape)
    record["categories"] = labels
    concepts: list[str] = []
    for label in labels:
        mapped = mapping.categories.get(label)
        if mapped:
            concepts.extend(mapped)
        else:
            record["unmapped_categories"].append(label)
    record["concepts"] = list(dict.fromkeys(concepts))

    raw_geo = element.get("geo")
    geo: dict[str, Any] = raw_geo if isinstance(raw_geo, dict) else {}
    record["lat"] = to_float(geo.get("latitude"))
    record["lon"] = to_float(geo.get("longitude"))
    if geo and (record["lat"] is None or record["lon"] is None):
        notes.append(f"unreadable coordinates {geo.get('latitude')!r}, {geo.get('longitude')!r}")
        record["unparsed"].append("geo")

    raw_address = element.get("address")
    address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
    record["street"] = clean_text(address.get("streetAddress"), multiline=False)
    record["postcode"] = clean_text(address.get("postalCode"), multiline=False)
    record["city"] = clean_text(address.get("addressLocality"), multiline=False)
    record["country"] = clean_text(address.get("addressCountry"), multiline=False)

    record["website"] = clean_contact(_first(element, fields["website"]))
    record["phone"] = clean_contact(_first(element, fields["phone"]))
    email = _first(element, fields["email"])
    record["email"] = clean_contact(email)
    if email and record["email"] is None:
        notes.append(f"email {str(email)!r} means not published: dropped")
    record["opening_hours"] = _opening_hours(element.get("openHours"))
    record["upstream_source"] = clean_text(element.get("sourceKey"), multiline=False)
    record["licence"] = source.licence
    record["source_url"] = record_url(source, source_id, record["name"])

    for key, column in (("createdAt", "created_at"), ("updatedAt", "updated_at")):
        value = element.get(key)
        record[column] = parse_date(value, day_first)
        if value not in (None, "") and record[column] is None:
            notes.append(f"{key} {value!r} is not a date")
            record["unparsed"].append(f"{key}={value!r}")
    return record


def element_id(element: Any, mapping: Mapping) -> Any:
    """The element's own ``id`` (GoGoCarto's fields are fixed: the mapping does not move it)."""
    return element.get("id") if isinstance(element, dict) else None


def required_fields(mapping: Mapping) -> tuple[str, ...]:
    """The same fields whatever the mapping: :data:`REQUIRED_FIELDS`."""
    return REQUIRED_FIELDS


def is_inactive(element: Any) -> str | None:
    """Why an element is not an active initiative (negative GoGoCarto status), or None."""
    if not isinstance(element, dict):
        return None
    try:
        raw_status: Any = element.get("status")
        status = int(raw_status)
    except (TypeError, ValueError):
        return None
    if status < 0:
        meaning = _NEGATIVE_STATUS.get(status, "not active")
        return f"status {status} ({meaning}) on the source: not an active initiative"
    return None
