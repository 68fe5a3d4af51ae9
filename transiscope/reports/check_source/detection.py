"""Which connector reads a payload, recognised from its content or from an API URL, and with which options.

Why: a source's maintainers know their URL, not the names the bus gives formats; the check has to find the
connector, the kind of records and the options (records path, pagination) from what the payload looks like, and
hand the connector the payload as a run's ``raw.json`` holds it. Nothing is parsed here beyond JSON and a CSV
header: the records themselves come from the connectors of :mod:`transiscope.ingest.formats`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from transiscope.core.errors import ConfigError, MalformedPayload
from transiscope.ingest.records import to_float

#: API paths that say which connector a URL belongs to (the bus's own requests, not a plain GET, read them)
URL_FORMATS = (
    (re.compile(r"/v0/(search|events)\b"), "kvm"),
    (re.compile(r"/v2/agendas/[^/]+/events"), "openagenda"),
    (re.compile(r"/v2/nodes\b"), "murmurations"),
)


@dataclass
class Detection:
    """What the source is: the connector, record kind, options and the payload as the bus keeps it."""

    format: str
    kind: str
    options: dict[str, Any]
    #: the bytes the connector's ``parse`` reads (a run's ``raw.json``); None: fetched later by the connector
    raw: bytes | None
    how: list[str]
    shape: str = ""


def _pages(payload: Any, origin: str, role: str | None = None) -> bytes:
    page: dict[str, Any] = {"url": origin, "params": {}, "payload": payload}
    if role:
        page["role"] = role
    return json.dumps([page], ensure_ascii=False).encode("utf-8")


def _records_path(payload: Any, depth: int = 0) -> tuple[str, int] | None:
    """(dotted path, length) of the longest list of objects in a JSON document, searched 3 levels deep."""
    if isinstance(payload, list):
        return ("", len(payload)) if payload and all(isinstance(v, dict) for v in payload) else None
    if not isinstance(payload, dict) or depth > 3:
        return None
    best: tuple[str, int] | None = None
    for key, value in payload.items():
        if not isinstance(key, str) or "." in key or not key.strip():
            continue
        found = _records_path(value, depth + 1)
        if found is not None:
            path = key if not found[0] else f"{key}.{found[0]}"
            if best is None or found[1] > best[1]:
                best = (path, found[1])
    return best


def _next_link(payload: Any) -> str | None:
    """Where a JSON API says its next page is (``links.next``, ``next``, ``_links.next.href``...)."""
    for path in ("links.next", "next", "_links.next.href", "meta.next", "paging.next", "pagination.next"):
        value: Any = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return path
    return None


def _gogocarto_like(items: list[Any]) -> bool:
    objects = [i for i in items[:50] if isinstance(i, dict)]
    return bool(objects) and sum(1 for o in objects if isinstance(o.get("geo"), dict) or "categoriesFull" in o) >= max(
        1, len(objects) // 2
    )


def _kvm_like(items: list[Any]) -> bool:
    objects = [i for i in items[:50] if isinstance(i, dict)]
    return bool(objects) and all("title" in o and ("lng" in o or "tags" in o) for o in objects)


def _recorded(payload: Any) -> bool:
    return isinstance(payload, list) and bool(payload) and all(isinstance(p, dict) and "payload" in p for p in payload)


def detect_json(payload: Any, raw: bytes, origin: str, forced: str | None = None) -> Detection:
    """The connector of a JSON payload, by its shape (or the one forced), with the payload as it expects it."""
    if _recorded(payload):  # a recorded run of a multi-request source (the bus's raw.json of kvm, jsonapi...)
        roles = {p.get("role") for p in payload}
        first = payload[0]["payload"]
        if forced in (None, "kvm") and (
            roles & {"search", "entries", "events"} or (isinstance(first, dict) and "visible" in first)
        ):
            kind = "events" if "events" in roles else "initiatives"
            return Detection("kvm", kind, {}, raw, [f"a recorded Karte von morgen run ({len(payload)} pages)"])
        if forced in (None, "openagenda") and isinstance(first, dict) and isinstance(first.get("events"), list):
            return Detection("openagenda", "events", {}, raw, [f"a recorded OpenAgenda run ({len(payload)} pages)"])
        if forced in (None, "murmurations") and (roles & {"index", "profile"}):
            return Detection(
                "murmurations",
                "initiatives",
                {},
                raw,
                [f"a recorded Murmurations run ({len(payload)} pages: index, then profiles)"],
            )
        found = _records_path(first)
        if found is None:
            raise MalformedPayload(f"no list of records in the first recorded page of {origin}")
        options: dict[str, Any] = {"records_path": found[0], **_recorded_pagination(payload)}
        return Detection(
            "jsonapi",
            "initiatives",
            options,
            raw,
            [f"a recorded JSON API run ({len(payload)} pages), records at {found[0] or 'the top level'!r}"],
        )
    if forced in (None, "murmurations") and _murmurations_profile(payload):
        return Detection(
            "murmurations",
            "initiatives",
            {},
            _profile_run(payload, origin),
            [f"a single Murmurations profile (schemas {', '.join(map(str, payload['linked_schemas'][:3]))})"],
        )
    if (
        isinstance(payload, dict)
        and payload.get("type") in ("FeatureCollection", "Feature")
        and forced in (None, "geojson")
    ):
        return Detection("geojson", "initiatives", {}, raw, ["a GeoJSON FeatureCollection"])
    data = payload.get("data") if isinstance(payload, dict) else payload if isinstance(payload, list) else None
    if forced in (None, "gogocarto") and isinstance(data, list) and (_gogocarto_like(data) or forced == "gogocarto"):
        return Detection("gogocarto", "initiatives", {}, raw, ["GoGoCarto elements (elements.json)"])
    if forced in (None, "kvm") and isinstance(payload, dict) and isinstance(payload.get("visible"), list):
        return Detection(
            "kvm",
            "initiatives",
            {},
            _pages(payload["visible"], origin, "entries"),
            ["a Karte von morgen /v0/search answer (entry summaries only)"],
        )
    if forced in (None, "kvm") and isinstance(payload, list) and (_kvm_like(payload) or forced == "kvm"):
        events = sum(1 for e in payload if isinstance(e, dict) and "start" in e) > len(payload) / 2
        return Detection(
            "kvm",
            "events" if events else "initiatives",
            {},
            _pages(payload, origin, "events" if events else "entries"),
            [f"Karte von morgen {'events' if events else 'entries'}"],
        )
    if (
        forced in (None, "openagenda")
        and isinstance(payload, dict)
        and isinstance(payload.get("events"), list)
        and (
            forced == "openagenda"
            or any(isinstance(e, dict) and ("timings" in e or "uid" in e) for e in payload["events"][:20])
        )
    ):
        return Detection("openagenda", "events", {}, _pages(payload, origin, "full"), ["OpenAgenda events"])
    if (
        forced in (None, "murmurations")
        and isinstance(data, list)
        and data
        and all(isinstance(d, dict) and "profile_url" in d for d in data[:20])
    ):
        return Detection(
            "murmurations",
            "initiatives",
            {},
            _pages(payload, origin, "index"),
            ["a Murmurations index page (profiles are fetched from their own hosts)"],
        )
    if forced not in (None, "jsonapi"):
        raise MalformedPayload(
            f"{origin} does not look like {forced} data (a JSON {type(payload).__name__}{_keys(payload)})"
        )
    found = _records_path(payload)
    if found is None:
        raise MalformedPayload(f"no list of records in the JSON of {origin}{_keys(payload)}")
    options = {"records_path": found[0]}
    next_path = _next_link(payload)
    how = [f"a JSON API, {found[1]} records at {found[0] or 'the top level'!r}"]
    if next_path:
        options.update(pagination="next_url", next_path=next_path)
        how.append(f"next page link at {next_path!r}")
    return Detection("jsonapi", "initiatives", options, _pages(payload, origin), how)


def _murmurations_profile(payload: Any) -> bool:
    """A Murmurations profile: an object naming the schemas it follows (``linked_schemas``) and the initiative
    (``name`` or ``primary_url``), as a profile host serves it (not the index, whose records are in ``data``)."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("linked_schemas"), list)
        and bool(payload["linked_schemas"])
        and ("name" in payload or "primary_url" in payload)
    )


def _profile_run(profile: dict[str, Any], origin: str) -> bytes:
    """A single profile as a run's ``raw.json`` holds it: an index page of one entry, then the profile."""
    entry: dict[str, Any] = {"profile_url": origin, "status": "posted"}
    for key in ("primary_url", "tags", "locality", "country", "geolocation", "last_updated", "name"):
        if key in profile:
            entry[key] = profile[key]
    pages = [
        {"role": "index", "url": origin, "params": {}, "payload": {"data": [entry]}},
        {"role": "profile", "url": origin, "profile_url": origin, "payload": profile},
    ]
    return json.dumps(pages, ensure_ascii=False).encode("utf-8")


def _keys(payload: Any) -> str:
    if isinstance(payload, dict):
        return f" with keys {', '.join(sorted(map(str, payload))[:8])}"
    return ""


def _recorded_pagination(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Page-number pagination read back from the params of a recorded run (page 1, 2, 3; a fixed size)."""
    if len(pages) < 2:
        return {}
    params = [p.get("params") or {} for p in pages]
    for name in params[0]:
        values = [to_float(p.get(name)) for p in params]
        numbers = [v for v in values if v is not None]
        if len(numbers) == len(values) and all(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False)):
            out: dict[str, Any] = {"pagination": "page", "page_param": name, "first_page": int(numbers[0])}
            fixed = [k for k in params[0] if k != name and all(p.get(k) == params[0][k] for p in params)]
            size = to_float(params[0][fixed[0]]) if fixed else None
            if size is not None:
                out.update(size_param=fixed[0], page_size=int(size))
            return out
    return {}


def detect(raw: bytes, origin: str, forced: str | None = None) -> Detection:
    """The format of a payload, from its content (or ``forced``), or :class:`MalformedPayload` in one line."""
    from transiscope.ingest.extract import parse_json
    from transiscope.ingest.formats import tabular

    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise MalformedPayload(f"{origin} is empty")
    if forced == "ical" or (forced is None and head[:15].upper().startswith(b"BEGIN:VCALENDAR")):
        return Detection("ical", "events", {}, raw, ["an iCalendar feed"])
    if forced != "csv" and (head[:1] in (b"{", b"[") or forced not in (None, "csv")):
        payload = parse_json(raw, "check-source", origin)
        return detect_json(payload, raw, origin, forced)
    text, encoding = tabular.decode(raw, "auto")
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0 or "\n" not in text.strip():
        preview = " ".join(text[:60].split())
        raise MalformedPayload(f"{origin} is not JSON, GeoJSON, iCalendar or CSV (it starts with {preview!r})")
    shown = {"\t": "tab"}.get(delimiter, delimiter)
    return Detection(
        "csv",
        "initiatives",
        {"encoding": "auto", "delimiter": "auto"},
        raw,
        [f"CSV, encoding {encoding}, separator {shown!r}"],
    )


def url_detection(target: str, forced: str | None) -> Detection:
    for pattern, fmt in URL_FORMATS:
        match = pattern.search(urlsplit(target).path)
        if match and forced in (None, fmt):
            kind = (
                "events"
                if fmt == "openagenda" or (fmt == "kvm" and match.group(0).endswith("events"))
                else "initiatives"
            )
            options: dict[str, Any] = {}
            query = parse_qs(urlsplit(target).query)
            if fmt == "kvm" and query.get("bbox"):
                box = [to_float(v) for v in query["bbox"][0].split(",")]
                if len(box) == 4 and all(v is not None for v in box):
                    options["bbox"] = box
            return Detection(fmt, kind, options, None, [f"a {fmt} API (from the URL), read as the bus pages it"])
    raise ConfigError(f"{target}: not an API URL check-source knows")
