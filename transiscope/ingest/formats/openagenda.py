"""OpenAgenda events (``/v2/agendas/{uid}/events``): ``after`` pagination, incremental runs, deletions.

- Pagination: each response carries ``after`` (a list of sort values); the next request repeats them
  as ``after[]=…``. It ends when ``after`` is null or a page is empty (bounded by ``max_pages``).
- Incremental (``options.incremental``): when a previous run loaded the same URL, only events updated
  since that run (minus ``overlap_minutes``) are fetched with ``updatedAt[gte]``, and the deleted ones
  with ``removed=1``; the raw file starts with the previous state (a ``carried`` page), so the run's
  records are the full agenda: the live graph is replaced by the whole state, as for every source.
- One event with many ``timings`` becomes a parent event (from its first start to its last end) and one
  sub-event per timing, whose id is ``<uid>@<start>`` (stable across runs while the timing exists).
- List answers may carry ``firstTiming``/``lastTiming`` (``{begin, end}``) and no ``timings`` (an agenda's
  list without ``detailed``, or a client that asks for less): the event then runs from the first timing's
  begin to the last timing's end, one event without sub-events (the timings in between are not known).
- Multilingual fields (``title``, ``description``, ``keywords``) are read in ``options.lang``, then fr, en.
- The location's INSEE commune code is kept (``insee``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
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

KINDS = ("events",)
DEFAULT_KIND = "events"
EXPECT = "JSON"
#: an incremental payload names the date it asked from, so two payloads with the same events differ in bytes:
#: the inputs digest (transiscope/fingerprint.py) is taken over the parsed events instead
DIGEST_RECORDS = True
REQUIRED_FIELDS = ("uid", "title")
KNOWN_FIELDS = frozenset(
    {
        "uid",
        "parent_uid",
        "slug",
        "title",
        "description",
        "longDescription",
        "keywords",
        "begin",
        "end",
        "location",
        "status",
        "state",
        "attendanceMode",
        "onlineAccessLink",
        "timezone",
        "updatedAt",
        "createdAt",
        "originAgenda",
        "timings",
        "timings_count",
        "firstTiming",
        "lastTiming",
        "nextTiming",
        "image",
        "conditions",
        "registration",
        "accessibility",
        "age",
    }
)
DEFAULT_OPTIONS: dict[str, Any] = {
    "page_size": 100,
    "max_pages": 500,
    "incremental": True,
    "overlap_minutes": 60,
    "lang": "fr",
}
OPTIONS_SCHEMA = {
    "page_size": {"type": "integer", "minimum": 1, "maximum": 300},
    "max_pages": {"type": "integer", "minimum": 1},
    "incremental": {"type": "boolean"},
    "overlap_minutes": {"type": "integer", "minimum": 0},
    "lang": {"type": "string", "pattern": "^[a-z]{2}$"},
}
#: OpenAgenda's status codes
STATUS = {1: "scheduled", 2: "rescheduled", 3: "moved-online", 4: "postponed", 5: "scheduled", 6: "cancelled"}
_COMPACT = re.compile(r"[^0-9T+Z]")


def default_fields(kind: str) -> dict[str, Any]:
    return {
        "source_id": "uid",
        "parent_id": "parent_uid",
        "name": {"path": "title", "apply": ["lang"]},
        "description": {"path": ["longDescription", "description"], "apply": ["lang", "strip_html"]},
        "categories": {"path": "keywords", "apply": ["lang"]},
        "tags": {"path": "keywords", "apply": ["lang"]},
        "start": "begin",
        "end": "end",
        "timezone": "timezone",
        "status": "status",
        "location_name": "location.name",
        "lat": "location.latitude",
        "lon": "location.longitude",
        "street": "location.address",
        "postcode": "location.postalCode",
        "city": "location.city",
        "insee": "location.insee",
        "country": "location.countryCode",
        "website": "onlineAccessLink",
        "source_url": {"template": "https://openagenda.com/agendas/{originAgenda.uid}/events/{slug}"},
        "created_at": "createdAt",
        "updated_at": "updatedAt",
    }


def _events_of(payload: Any, source_id: str, url: str) -> list[Any]:
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise MalformedPayload(f'source {source_id!r}: the OpenAgenda answer from {url} has no "events" list')
    return events


def _paged(
    fetcher: Fetcher, url: str, params: dict[str, Any], options: dict[str, Any], source: Source, role: str
) -> list[dict[str, Any]]:
    pages = []
    after: list[Any] | None = None
    for _ in range(int(options["max_pages"])):
        request = dict(params, size=int(options["page_size"]))
        if after:
            request["after[]"] = after
        payload = fetcher.get_json(url, request)
        events = _events_of(payload, source.id, url)
        pages.append({"role": role, "url": url, "params": request, "payload": payload})
        after = payload.get("after")
        if not events or not after:
            return pages
    raise MalformedPayload(f"source {source.id!r}: more than {options['max_pages']} pages (options.max_pages)")


def extract_pages(
    fetcher: Fetcher, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """All pages; with a previous run and ``incremental``: its state, then updates and deletions since."""
    options = mapping.spec.options
    if not (options.get("incremental") and previous and previous.get("raw_path")):
        return _paged(fetcher, url, {"detailed": 1}, options, source, "full")
    since = datetime.fromisoformat(previous["started"]) - timedelta(minutes=int(options["overlap_minutes"]))
    state = _state(pages_of(Path(previous["raw_path"]).read_bytes(), source), source)
    pages: list[dict[str, Any]] = [
        {"role": "carried", "from_run": previous["run_id"], "payload": {"events": list(state.values())}}
    ]
    stamp = since.isoformat(timespec="seconds")
    pages += _paged(fetcher, url, {"detailed": 1, "updatedAt[gte]": stamp}, options, source, "updated")
    pages += _paged(fetcher, url, {"removed": 1, "updatedAt[gte]": stamp}, options, source, "removed")
    return pages


def _state(pages: list[dict[str, Any]], source: Source) -> dict[str, Any]:
    """uid -> event after applying the pages in order (carried state, full or updated pages, removals)."""
    events: dict[str, Any] = {}
    for page in pages:
        for event in _events_of(page["payload"], source.id, page.get("url", "raw file")):
            uid = str(event.get("uid")) if isinstance(event, dict) and event.get("uid") is not None else None
            if page.get("role") == "removed":
                if uid is not None:
                    events.pop(uid, None)
            elif uid is None:
                events[f"#no-uid-{len(events)}"] = event  # quarantined by normalise (no id)
            else:
                events[uid] = event
    return events


def _compact(moment: str) -> str:
    return _COMPACT.sub("", moment)


def _flat(event: dict[str, Any], uid: Any, begin: Any, end: Any, parent: Any, count: int | None) -> dict[str, Any]:
    element = {k: v for k, v in event.items() if k != "timings"}
    status = event.get("status")
    element.update(
        uid=uid,
        parent_uid=parent,
        begin=begin,
        end=end,
        timings_count=count,
        status=STATUS.get(status, status) if isinstance(status, int) else status,
    )
    return element


def parse(raw: bytes, source: Source) -> list[Any]:
    """The agenda's events; an event with several timings is a parent followed by its sub-events."""
    out: list[Any] = []
    for event in _state(pages_of(raw, source), source).values():
        if not isinstance(event, dict):
            out.append(event)
            continue
        timings = [t for t in event.get("timings") or () if isinstance(t, dict) and t.get("begin")]
        uid = event.get("uid")
        if not timings:
            out.append(_first_to_last(event, uid))
            continue
        if len(timings) == 1:
            out.append(_flat(event, uid, timings[0]["begin"], timings[0].get("end"), None, 1))
            continue
        begins = sorted(str(t["begin"]) for t in timings)
        ends = sorted(str(t.get("end") or t["begin"]) for t in timings)
        out.append(_flat(event, uid, begins[0], ends[-1], None, len(timings)))
        for timing in timings:
            out.append(
                _flat(event, f"{uid}@{_compact(str(timing['begin']))}", timing["begin"], timing.get("end"), uid, 1)
            )
    return out


def _first_to_last(event: dict[str, Any], uid: Any) -> dict[str, Any]:
    """An event without ``timings``: from ``firstTiming``'s begin to ``lastTiming``'s end when the answer has them
    (a list answer); without them either, no start (the checks say so)."""
    first, last = event.get("firstTiming"), event.get("lastTiming")
    first = first if isinstance(first, dict) and first.get("begin") else {}
    last = last if isinstance(last, dict) and last.get("begin") else first
    if not first:
        return _flat(event, uid, None, None, None, 0)
    same = str(first["begin"]) == str(last["begin"])
    return _flat(event, uid, first["begin"], last.get("end") or first.get("end"), None, 1 if same else None)


def is_inactive(element: Any) -> str | None:
    """OpenAgenda ``state`` other than 2 (published): refused, to moderate or not yet published."""
    if isinstance(element, dict) and isinstance(element.get("state"), int) and element["state"] != 2:
        return f"state {element['state']} on OpenAgenda: not a published event"
    return None
