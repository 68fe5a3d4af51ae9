"""iCalendar feeds (RFC 5545: Mobilizon, Karte von morgen, collectives' calendars).

Parsing is the ``icalendar`` library; recurrences (RRULE, RDATE, EXDATE, modified instances with
RECURRENCE-ID) are expanded by ``recurring-ical-events`` over a bounded window: from
``options.past_days`` before today to ``options.window_days`` after (default 1 year). A recurring
series becomes a parent event (from its first to its last occurrence in the window) and one
sub-event per occurrence, with the id ``<UID>@<start>``; a one-off event is kept whatever its date
(past events are history, flagged by the engine).

Times: a DTSTART with TZID keeps its zone (the offset is computed for that date, so summer and winter
times are right); a floating time takes ``options.timezone``; an all-day event (DTSTART;VALUE=DATE)
stays a date, and its exclusive DTEND becomes the last day of the event. ORGANIZER keeps its common
name only: the address behind ``mailto:`` is a person's, not published on the map.

The update date is LAST-MODIFIED, else DTSTAMP: feeds that never write LAST-MODIFIED (many do not) carry
DTSTAMP on every event (RFC 5545 requires it), and without it an iCal source would have no update date at all.

Feeds from other continents exist: an event with no GEO whose TZID is a zone outside France — not one of the
French zones (metropole and outre-mer) nor a zone with Paris' offsets all year (a neighbour, whose country the
address or the point decides), nor UTC — is quarantined as outside France, unless the registry marks the source
``international`` (then it loads, with a note). Only the time zone is read here: points are judged by the
point checks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from transiscope.core.errors import MalformedPayload
from transiscope.ingest import mapping as declarative
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.mappings import load_mapping
from transiscope.registry.sources import Mapping, Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
required_fields = declarative.required_fields

#: the time zones of France: the metropole and Corsica, the DROM and the overseas collectivities
FRENCH_ZONES = frozenset(
    {
        "Europe/Paris",
        "America/Guadeloupe",
        "America/Martinique",
        "America/Cayenne",
        "Indian/Reunion",
        "Indian/Mayotte",
        "America/Miquelon",
        "America/St_Barthelemy",
        "America/Marigot",
        "Pacific/Noumea",
        "Pacific/Tahiti",
        "Pacific/Marquesas",
        "Pacific/Gambier",
        "Pacific/Wallis",
        "Indian/Kerguelen",
    }
)

KINDS = ("events",)
DEFAULT_KIND = "events"
EXPECT = "iCalendar"
REQUIRED_FIELDS = ("uid", "summary")
KNOWN_FIELDS = frozenset(
    {
        "uid",
        "parent_uid",
        "summary",
        "description",
        "location",
        "dtstart",
        "dtend",
        "all_day",
        "tzid",
        "geo",
        "categories",
        "url",
        "status",
        "organizer",
        "last_modified",
        "created",
        "recurring",
        "sequence",
        "dtstamp",
    }
)
DEFAULT_OPTIONS: dict[str, Any] = {
    "window_days": 365,
    "past_days": 31,
    "timezone": "Europe/Paris",
    "max_occurrences": 2000,
}
OPTIONS_SCHEMA = {
    "window_days": {"type": "integer", "minimum": 1, "maximum": 3660},
    "past_days": {"type": "integer", "minimum": 0, "maximum": 3660},
    "timezone": {"type": "string"},
    "max_occurrences": {"type": "integer", "minimum": 1, "maximum": 100000},
}


def default_fields(kind: str) -> dict[str, Any]:
    return {
        "source_id": "uid",
        "parent_id": "parent_uid",
        "name": "summary",
        "description": {"path": "description", "apply": ["strip_html"]},
        "location_name": "location",
        "lat": "geo.lat",
        "lon": "geo.lon",
        "categories": "categories",
        "tags": "categories",
        "start": "dtstart",
        "end": "dtend",
        "all_day": "all_day",
        "timezone": "tzid",
        "status": "status",
        "website": "url",
        "source_url": "url",
        "organizer": "organizer",
        "updated_at": "last_modified",
        "created_at": "created",
    }


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, list):  # a property repeated
        value = value[0]
    return str(value).strip() or None


def _moment(value: Any, zone: str) -> tuple[str | None, bool, str | None]:
    """(ISO 8601, all_day, tzid) of a DTSTART/DTEND value."""
    if value is None:
        return None, False, None
    moment = getattr(value, "dt", value)
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        tzid = getattr(moment.tzinfo, "key", None) or str(moment.tzinfo)
        return moment.isoformat(), False, tzid
    if isinstance(moment, date):
        return moment.isoformat(), True, None
    return None, False, None


def _categories(component: Any) -> list[str]:
    raw = component.get("CATEGORIES")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        cats = getattr(item, "cats", None)
        out.extend(str(c) for c in (cats if cats is not None else str(item).split(",")))
    return [c.strip() for c in out if str(c).strip()]


def _element(component: Any, zone: str, uid: str, parent: str | None) -> dict[str, Any]:
    start, all_day, tzid = _moment(component.get("DTSTART"), zone)
    end, _, _ = _moment(component.get("DTEND"), zone)
    if end is None and component.get("DURATION") is not None and start:
        duration = component.get("DURATION").dt
        end = (
            (datetime.fromisoformat(start) + duration).isoformat()
            if not all_day
            else (date.fromisoformat(start) + duration).isoformat()
        )
    if all_day and end:  # DTEND of an all-day event is exclusive
        last = date.fromisoformat(end[:10]) - timedelta(days=1)
        end = max(last, date.fromisoformat(start[:10])).isoformat() if start else last.isoformat()
    geo = component.get("GEO")
    organizer = component.get("ORGANIZER")
    return {
        "uid": uid,
        "parent_uid": parent,
        "summary": _text(component, "SUMMARY"),
        "description": _text(component, "DESCRIPTION"),
        "location": _text(component, "LOCATION"),
        "dtstart": start,
        "dtend": end,
        "all_day": all_day,
        "tzid": tzid if tzid and "/" in tzid else (zone if not all_day else None),
        "geo": {"lat": geo.latitude, "lon": geo.longitude} if geo is not None else None,
        "categories": _categories(component),
        "url": _text(component, "URL"),
        "status": (_text(component, "STATUS") or "CONFIRMED").lower(),
        "organizer": organizer.params.get("CN") if organizer is not None and hasattr(organizer, "params") else None,
        "last_modified": _moment(component.get("LAST-MODIFIED"), "UTC")[0]
        or _moment(component.get("DTSTAMP"), "UTC")[0],
        "created": _moment(component.get("CREATED"), "UTC")[0],
        "recurring": parent is not None,
    }


def _compact(moment: str) -> str:
    return moment.replace("-", "").replace(":", "")


def expand(raw: bytes, source_id: str, options: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """The feed's events: one-offs as they are, series as parent + occurrences within the window."""
    import icalendar
    import recurring_ical_events

    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except (ValueError, IndexError, KeyError) as exc:
        preview = " ".join(raw[:60].decode("utf-8", errors="replace").split())
        raise MalformedPayload(
            f"source {source_id!r}: not an iCalendar feed ({exc}; it starts with {preview!r})"
        ) from None
    if calendar.name != "VCALENDAR":
        raise MalformedPayload(f"source {source_id!r}: the feed is a {calendar.name}, not a VCALENDAR")
    zone = options.get("timezone") or "Europe/Paris"
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(zone)).date()
    window = (today - timedelta(days=int(options["past_days"])), today + timedelta(days=int(options["window_days"])))
    out: list[dict[str, Any]] = []
    series: dict[str, Any] = {}
    for index, component in enumerate(calendar.walk("VEVENT")):
        uid = _text(component, "UID") or f"#no-uid-{index}"
        if component.get("RECURRENCE-ID") is not None:
            continue  # a modified occurrence: the expansion below puts it in its place
        if component.get("RRULE") is not None or component.get("RDATE") is not None:
            series[uid] = component
            continue
        element = _element(component, zone, uid, None)
        if uid.startswith("#no-uid-"):
            element["uid"] = None
        out.append(element)
    if not series:
        return out
    try:
        occurrences = recurring_ical_events.of(calendar).between(window[0], window[1])
    except Exception as exc:
        raise MalformedPayload(f"source {source_id!r}: a recurrence rule cannot be expanded: {exc}") from None
    children: dict[str, list[dict[str, Any]]] = {uid: [] for uid in series}
    limit = int(options["max_occurrences"])
    for occurrence in occurrences:
        series_uid = _text(occurrence, "UID")
        if series_uid not in children:
            continue
        if len(children[series_uid]) >= limit:
            raise MalformedPayload(
                f"source {source_id!r}: series {series_uid!r} has more than {limit} occurrences in the "
                "window (options.max_occurrences)"
            )
        start = _moment(occurrence.get("DTSTART"), zone)[0] or ""
        children[series_uid].append(_element(occurrence, zone, f"{series_uid}@{_compact(start)}", series_uid))
    for uid, component in series.items():
        items = sorted(children[uid], key=lambda e: e["dtstart"] or "")
        parent = _element(component, zone, uid, None)
        if items:
            parent["dtstart"], parent["dtend"] = items[0]["dtstart"], items[-1]["dtend"] or items[-1]["dtstart"]
        out.append(parent)
        out.extend(items)
    return out


def parse(raw: bytes, source: Source) -> list[Any]:
    if not raw.strip():
        raise MalformedPayload(f"source {source.id!r}: the feed is empty")
    return expand(raw, source.id, load_mapping(source).spec.options)


def foreign_zone(zone: str | None, start: str | None) -> bool:
    """Whether a TZID places an event outside France: not a French zone, not UTC, and not a neighbour sharing
    Paris' offsets in January and in July of the event's year (its country is the address's or the point's)."""
    if (
        not isinstance(zone, str)
        or not zone
        or zone in FRENCH_ZONES
        or zone.upper() in ("UTC", "GMT", "Z")
        or zone.startswith("Etc/")
    ):
        return False
    try:
        there = ZoneInfo(zone)
    except (ValueError, KeyError, OSError):  # an unknown zone: the engine notes it and assumes Paris
        return False
    year = int(start[:4]) if start and start[:4].isdigit() else datetime.now(UTC).year
    paris = ZoneInfo("Europe/Paris")
    for month in (1, 7):
        moment = datetime(year, month, 15, 12, tzinfo=UTC)
        if moment.astimezone(there).utcoffset() != moment.astimezone(paris).utcoffset():
            return True
    return False


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    """The declarative mapping; then an event with no point whose time zone lies outside France is quarantined
    (or, for a source the registry marks ``international``, loaded with a note)."""
    record = declarative.normalise(element, index, source, mapping)
    zone = element.get("tzid") if isinstance(element, dict) else None
    if record.get("lat") is None and record.get("lon") is None and foreign_zone(zone, record.get("start")):
        if not source.international:
            raise RecordRejected(
                f"the event's time zone is {zone} and it has no GEO: it takes place outside France (a source "
                "outside France is declared international in the registry)"
            )
        record["notes"].append(f"time zone {zone}: an event outside France (international source)")
    return record
