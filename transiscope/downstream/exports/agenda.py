"""The agenda: iCalendar feeds (RFC 5545) and a JSON agenda for a calendar view.

The feeds are written by the ``icalendar`` library (line folding at 75 octets, escaping of ``,`` ``;`` ``\\``
and newlines), not by hand. The ``VTIMEZONE`` of Europe/Paris is generated here from the tz database
(:func:`vtimezone`) rather than by ``icalendar``'s ``add_missing_timezones``, which writes each daylight-time
onset at the local time *after* the change (03:00) where RFC 5545 wants it in the offset it changes from (02:00):
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

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vText

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


def _vevent(record: dict[str, Any], generated: datetime) -> Event | None:
    start = when(record["start"])
    if start is None:
        return None
    end = when(record["end"])
    event = Event()
    event.add("uid", uid(record["id"]))
    stamp = when(record.get("modified"))
    stamp = stamp if isinstance(stamp, datetime) else generated
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("summary", record["name"])
    if isinstance(start, datetime):
        event.add("dtstart", _local(start))
        if isinstance(end, datetime) and end >= start:
            event.add("dtend", _local(end))
    else:
        event.add("dtstart", start)
        last = end if isinstance(end, date) and not isinstance(end, datetime) and end >= start else start
        event.add("dtend", last + timedelta(days=1))  # DTEND of an all-day event is exclusive
    credit = f"Source : {record['source_name'] or record['source'] or '?'}"
    if record["source_url"]:
        credit += f" — {record['source_url']}"
    event.add("description", "\n\n".join(x for x in (record["description"], credit) if x))
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
        event.add("location", place)
    if record["lat"] is not None:
        event.add("geo", (record["lat"], record["lon"]))
    if record["url"] or record["source_url"]:
        event.add("url", record["url"] or record["source_url"])
    if record["category_labels"]:
        event.add("categories", record["category_labels"])
    event.add("status", _ICAL_STATUS.get(record["status"], "CONFIRMED"))
    return event


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


def _years(records: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The first and last year of the timed events (all-day ones need no time zone)."""
    years = [
        moment.astimezone(PARIS).year
        for record in records
        for moment in (when(record["start"]), when(record["end"]))
        if isinstance(moment, datetime)
    ]
    return (min(years), max(years)) if years else None


def ical(records: list[dict[str, Any]], attribution: dict[str, Any], name: str) -> bytes:
    """One VCALENDAR of ``records`` (already sorted by start), with the credits in its description."""
    generated = datetime.fromisoformat(attribution["generated"])
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", vText(name))
    calendar.add("x-wr-timezone", vText("Europe/Paris"))
    calendar.add("x-wr-caldesc", vText(credit_line(attribution, "fr") + "\n\n" + credit_line(attribution, "en")))
    for record in records:
        event = _vevent(record, generated)
        if event is not None:
            calendar.add_component(event)
    years = _years(records)
    if years:
        calendar.subcomponents.insert(0, vtimezone("Europe/Paris", *years))
    return calendar.to_ical()


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


def agenda_json(records: list[dict[str, Any]], attribution: dict[str, Any]) -> str:
    """The JSON agenda: every event with a start, sorted by start; one event per line."""
    events = [json_text({key: record[key] for key in AGENDA_FIELDS}) for record in records if record["start"]]
    head = json_text({"attribution": attribution, "timezone": "Europe/Paris"})[:-1]
    return head + ',"events":[\n' + ",\n".join(events) + "\n]}\n"
