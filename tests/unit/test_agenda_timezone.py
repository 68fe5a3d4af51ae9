"""The agenda's VTIMEZONE says what the tz database says: read back by the ``icalendar`` library, interpreted as
RFC 5545 3.6.5 says (an onset is local time in the offset it changes *from*), its offset at instants around every
change equals ``zoneinfo``'s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from transiscope.downstream.exports.agenda import ical, vtimezone

PARIS = ZoneInfo("Europe/Paris")


def onsets(timezone: Any) -> list[tuple[datetime, timedelta]]:
    """(UTC instant, offset from then on) of every onset of a parsed VTIMEZONE, read as RFC 5545 says."""
    out = []
    for part in timezone.subcomponents:
        before, after = part["TZOFFSETFROM"].td, part["TZOFFSETTO"].td
        locals_ = [part["DTSTART"].dt]
        rdates = part.get("RDATE")
        for rdate in rdates if isinstance(rdates, list) else [rdates] if rdates is not None else []:
            locals_ += [period.dt for period in rdate.dts]
        out += [(local.replace(tzinfo=UTC) - before, after) for local in locals_]
    return sorted(out)


def offset_at(timezone: Any, instant: datetime) -> timedelta:
    """The offset a client following the VTIMEZONE gives ``instant``."""
    found = [after for onset, after in onsets(timezone) if onset <= instant]
    assert found, f"{instant} is before the VTIMEZONE's first onset"
    return found[-1]


def changes(first: int, last: int) -> list[datetime]:
    """The instants Europe/Paris changes offset, from the tz database, hour by hour."""
    out = []
    moment = datetime(first, 1, 1, tzinfo=UTC)
    while moment.year <= last:
        if (moment + timedelta(hours=1)).astimezone(PARIS).utcoffset() != moment.astimezone(PARIS).utcoffset():
            out.append(moment + timedelta(hours=1))
        moment += timedelta(hours=1)
    return out


def assert_matches_tz_database(timezone: Any, first: int, last: int) -> None:
    transitions = changes(first, last)
    assert len(transitions) == 2 * (last - first + 1)
    for change in transitions:
        for minutes in (-90, -30, -1, 0, 1, 30, 90):
            instant = change + timedelta(minutes=minutes)
            assert offset_at(timezone, instant) == instant.astimezone(PARIS).utcoffset(), instant


def test_the_paris_vtimezone_changes_at_2_in_spring_and_3_in_autumn_local_time() -> None:
    written = Calendar()
    written.add("prodid", "-//test//")
    written.add("version", "2.0")
    written.add_component(vtimezone("Europe/Paris", 2025, 2028))
    (timezone,) = Calendar.from_ical(written.to_ical()).walk("VTIMEZONE")
    assert_matches_tz_database(timezone, 2025, 2028)
    by_kind = {part.name: part for part in timezone.subcomponents if part["TZOFFSETFROM"].td != part["TZOFFSETTO"].td}
    daylight, standard = by_kind["DAYLIGHT"], by_kind["STANDARD"]
    assert daylight["DTSTART"].dt == datetime(2025, 3, 30, 2, 0)  # last Sunday of March, 02:00 → 03:00
    assert standard["DTSTART"].dt == datetime(2025, 10, 26, 3, 0)  # last Sunday of October, 03:00 → 02:00
    assert all(period.dt.hour == 2 for period in daylight["RDATE"].dts)
    assert all(period.dt.hour == 3 for period in standard["RDATE"].dts)


def test_an_exported_agenda_carries_the_vtimezone_of_its_years() -> None:
    record = {
        "id": "https://w3id.org/transiscope/id/event/t/1",
        "name": "Atelier",
        "start": "2026-03-29T10:00:00+02:00",
        "end": "2027-10-31T12:00:00+01:00",
        "modified": None,
        "description": None,
        "source_name": "Test",
        "source": "t",
        "source_url": None,
        "location_name": None,
        "street": None,
        "postcode": None,
        "city": None,
        "lat": None,
        "lon": None,
        "url": None,
        "category_labels": [],
        "status": "scheduled",
    }
    attribution = {"generated": "2026-12-01T00:00:00+00:00", "sources": [], "licence": None}
    calendar = Calendar.from_ical(ical([record], attribution, "Agenda"))
    (timezone,) = calendar.walk("VTIMEZONE")
    assert_matches_tz_database(timezone, 2026, 2027)
    (event,) = calendar.walk("VEVENT")
    assert event["DTSTART"].dt == datetime(2026, 3, 29, 10, 0, tzinfo=PARIS)
