"""The agenda: iCalendar feeds (RFC 5545) and a JSON agenda for a calendar view.

The feeds are written directly as text, event by event as they stream (through the ``icalendar`` library, a
hundred feeds of a 10,000-event agenda took half a minute): RFC 5545 escaping of ``\\`` ``;`` ``,`` and newlines,
lines folded at 75 octets without splitting a UTF-8 character, CRLF line ends, the properties in the order
``icalendar`` writes them (the tests parse every feed back with it). The ``VTIMEZONE`` of Europe/Paris is
generated here from the tz database (:func:`vtimezone`) rather than by ``icalendar``'s ``add_missing_timezones``,
which writes each daylight-time onset at the local time *after* the change (03:00) where RFC 5545 wants it in the
offset it changes from (02:00):
a client reading it put the hour before each spring change in the wrong offset. Times are given
as local Paris time with ``TZID=Europe/Paris``; an all-day event is a ``VALUE=DATE`` with an exclusive end. The
``UID`` is derived from the event's IRI, which is minted from (source, source id), so a calendar client
recognises the same event run after run; ``DTSTAMP`` is the event's last update at its source (else the export
date), so unchanged data gives unchanged bytes. Every event names its source and links to its page.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

from transiscope.downstream.exports.attribution import credit_line
from transiscope.downstream.exports.files import json_text
from transiscope.downstream.exports.read import PARIS, when

PRODID = "-//Transiscope//semantic bus exports//FR"
_ICAL_STATUS = {
    "scheduled": "CONFIRMED",
    "rescheduled": "CONFIRMED",
    "moved-online": "CONFIRMED",
    "cancelled": "CANCELLED",
    "postponed": "TENTATIVE",
}


def uid(event_iri: str) -> str:
    """A stable, opaque UID: the same IRI always gives the same UID."""
    return hashlib.sha256(event_iri.encode("utf-8")).hexdigest()[:32] + "@transiscope"


def _local(moment: datetime | date) -> datetime | date:
    return moment.astimezone(PARIS) if isinstance(moment, datetime) else moment


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping (3.3.11): backslash, semicolon, comma; every line end becomes ``\\n``."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """One content line folded as RFC 5545 says (3.1): at most 75 octets per physical line, a continuation
    starting with a space, never inside a UTF-8 character; like ``icalendar``, a segment does not end on a
    backslash (an escape stays whole). Returns the line with its CRLF."""
    encoded = line.encode("utf-8")
    if len(encoded) < 75:
        return line + "\r\n"
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if current and size + width >= 75:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                parts.append("".join(current))
                current, size = [carried], len(carried.encode("utf-8"))
            else:
                parts.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += width
    if current:
        parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _start_line(name: str, moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return f"{name};TZID=Europe/Paris:{moment.astimezone(PARIS).strftime('%Y%m%dT%H%M%S')}"
    return f"{name};VALUE=DATE:{moment.strftime('%Y%m%d')}"


def vevent(record: dict[str, Any], generated: datetime) -> str | None:
    """The VEVENT of one agenda record, as folded text; None when its start cannot be read."""
    start = when(record["start"])
    if start is None:
        return None
    end = when(record["end"])
    lines = ["BEGIN:VEVENT", "SUMMARY:" + escape(record["name"]), _start_line("DTSTART", start)]
    if isinstance(start, datetime):
        if isinstance(end, datetime) and end >= start:
            lines.append(_start_line("DTEND", end))
    else:
        last = end if isinstance(end, date) and not isinstance(end, datetime) and end >= start else start
        lines.append(_start_line("DTEND", last + timedelta(days=1)))  # DTEND of an all-day event is exclusive
    stamp = when(record.get("modified"))
    lines.append("DTSTAMP:" + _stamp(stamp if isinstance(stamp, datetime) else generated))
    lines.append("UID:" + escape(uid(record["id"])))
    if record["category_labels"]:
        lines.append("CATEGORIES:" + ",".join(escape(label) for label in record["category_labels"]))
    credit = f"Source : {record['source_name'] or record['source'] or '?'}"
    if record["source_url"]:
        credit += f" — {record['source_url']}"
    lines.append("DESCRIPTION:" + escape("\n\n".join(x for x in (record["description"], credit) if x)))
    if record["lat"] is not None:
        lines.append(f"GEO:{float(record['lat'])};{float(record['lon'])}")
    place = ", ".join(
        x
        for x in (
            record["location_name"],
            record["street"],
            " ".join(x for x in (record["postcode"], record["city"]) if x),
        )
        if x
    )
    if place:
        lines.append("LOCATION:" + escape(place))
    lines.append("STATUS:" + _ICAL_STATUS.get(record["status"], "CONFIRMED"))
    if record["url"] or record["source_url"]:
        lines.append("URL:" + (record["url"] or record["source_url"]))
    lines.append("END:VEVENT")
    return "".join(fold(line) for line in lines)


def _transitions(zone: ZoneInfo, first: int, last: int) -> list[tuple[datetime, timedelta, timedelta, bool, str]]:
    """(UTC instant, offset before, offset after, daylight after, name after) of each change of ``zone``'s
    offset from the start of year ``first`` to the end of year ``last``: a day-by-day scan, then the hour."""
    out = []
    moment = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC)
    before = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + timedelta(days=1)
        after = following.astimezone(zone).utcoffset()
        if after != before:
            instant = moment
            while (instant + timedelta(hours=1)).astimezone(zone).utcoffset() == before:
                instant += timedelta(hours=1)
            instant += timedelta(hours=1)
            local = instant.astimezone(zone)
            assert before is not None and after is not None  # a ZoneInfo always has an offset
            out.append((instant, before, after, bool(local.dst()), local.tzname() or ""))
            before = after
        moment = following
    return out


def vtimezone(name: str, first: int, last: int) -> Timezone:
    """The VTIMEZONE of ``name`` for the years ``first`` to ``last``, from the tz database.

    Each onset is written, as RFC 5545 says (3.6.5), in the local time of the offset it changes *from*: in
    Europe/Paris, daylight time starts at 02:00 (+01:00 → +02:00) and standard time at 03:00 (+02:00 → +01:00).
    Onsets of one kind and offsets share one sub-component (DTSTART, then RDATE); the first one is the state at
    the start of ``first``."""
    zone = ZoneInfo(name)
    start = datetime(first, 1, 1, tzinfo=UTC).astimezone(zone)
    offset = start.utcoffset() or timedelta(0)
    groups: dict[tuple[bool, timedelta, timedelta, str], list[datetime]] = {}
    groups[(bool(start.dst()), offset, offset, start.tzname() or "")] = [start.replace(tzinfo=None)]
    for instant, before, after, daylight, label in _transitions(zone, first, last):
        onset = (instant + before).replace(tzinfo=None)  # the wall clock just before the change
        groups.setdefault((daylight, before, after, label), []).append(onset)
    timezone = Timezone()
    timezone.add("tzid", name)
    for (daylight, before, after, label), onsets in groups.items():
        part = TimezoneDaylight() if daylight else TimezoneStandard()
        part.add("dtstart", onsets[0])
        if onsets[1:]:
            part.add("rdate", onsets[1:])
        part.add("tzname", label)
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        timezone.add_component(part)
    return timezone


def years(record: dict[str, Any]) -> list[int]:
    """The years (in Paris) of an event's timed start and end (all-day events need no time zone)."""
    return [
        moment.astimezone(PARIS).year
        for moment in (when(record["start"]), when(record["end"]))
        if isinstance(moment, datetime)
    ]


def ical_head(name: str, attribution: dict[str, Any], span: tuple[int, int] | None) -> str:
    """The start of a VCALENDAR: its properties, the credits, and the VTIMEZONE of the years ``span``."""
    description = credit_line(attribution, "fr") + "\n\n" + credit_line(attribution, "en")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:" + escape(PRODID),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALDESC:" + escape(description),
        "X-WR-CALNAME:" + escape(name),
        "X-WR-TIMEZONE:Europe/Paris",
    ]
    head = "".join(fold(line) for line in lines)
    if span:  # one small component per file: the library writes it
        head += vtimezone("Europe/Paris", *span).to_ical().decode("utf-8")
    return head


ICAL_END = "END:VCALENDAR\r\n"


def ical(records: list[dict[str, Any]], attribution: dict[str, Any], name: str) -> bytes:
    """One VCALENDAR of ``records`` (already sorted by start), with the credits in its description."""
    generated = datetime.fromisoformat(attribution["generated"])
    found = [year for record in records for year in years(record)]
    parts = [ical_head(name, attribution, (min(found), max(found)) if found else None)]
    parts += [text for text in (vevent(record, generated) for record in records) if text]
    parts.append(ICAL_END)
    return "".join(parts).encode("utf-8")


AGENDA_FIELDS = (
    "id",
    "name",
    "description",
    "start",
    "end",
    "all_day",
    "status",
    "categories",
    "category_labels",
    "domains",
    "location_name",
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "departement",
    "url",
    "source",
    "source_name",
    "source_url",
    "licence",
    "modified",
)


def agenda_line(record: dict[str, Any]) -> str:
    """One event of the JSON agenda."""
    return json_text({key: record[key] for key in AGENDA_FIELDS})


def agenda_json(records: list[dict[str, Any]], attribution: dict[str, Any]) -> str:
    """The JSON agenda: every event with a start, sorted by start; one event per line."""
    events = [agenda_line(record) for record in records if record["start"]]
    head = json_text({"attribution": attribution, "timezone": "Europe/Paris"})[:-1]
    return head + ',"events":[\n' + ",\n".join(events) + "\n]}\n"
