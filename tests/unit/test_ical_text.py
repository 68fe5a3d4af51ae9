"""The agenda's iCalendar text, written directly (no library on the write path), read back by ``icalendar``:
every value survives its escaping and folding, every physical line is at most 75 octets and valid UTF-8, every
line ends with CRLF, and an event gives the same properties the ``icalendar`` library would have written."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar, Event

from transiscope.downstream.exports.agenda import escape, fold, ical, uid, vevent

GENERATED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ATTRIBUTION: dict[str, Any] = {
    "generated": GENERATED.isoformat(),
    "sources": [{"name": "Agenda, test; \\ source", "licence": "CC0-1.0"}],
    "licence": "CC0-1.0",
}
#: text an escaper or a folder gets wrong: the four escaped characters, line ends of every kind, multi-byte
#: characters (2, 3 and 4 octets) around the 75-octet boundary, a backslash right where a line folds
HARD = [
    "Repair café, vélo; et couture",
    "back\\slash, \\, \\; \\n literal",
    "line one\nline two\r\nline three\rline four",
    "é" * 80,
    "x" * 73 + "\\" + "y" * 10,
    "€" * 40 + "😀" * 30,
    "a" * 74 + "é" + "b" * 3,
]


def record(i: int, name: str, description: str | None) -> dict[str, Any]:
    start = datetime(2026, 6, 1, 18, 30, tzinfo=UTC) + timedelta(days=i)
    return {
        "id": f"https://w3id.org/transiscope/id/event/test/{i}",
        "name": name,
        "description": description,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "status": "scheduled",
        "category_labels": [name[:20], "Climat, énergie"],
        "location_name": name[:30],
        "street": "1; rue de la Paix",
        "postcode": "69001",
        "city": "Lyon",
        "lat": 45.7675,
        "lon": 4.8345,
        "url": "https://agenda.example.org/e?a=1,b=2;c",
        "source": "test",
        "source_name": "Agenda de test",
        "source_url": None,
        "modified": None,
    }


def records() -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = [record(i, text, HARD[-1 - i]) for i, text in enumerate(HARD)]
    alphabet = "abc ,;\\\n\r:é€😀\t\"'"
    for i in range(len(HARD), len(HARD) + 40):
        out.append(record(i, "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))), None))
    return out


def _normal(text: str) -> str:
    """What a value becomes in iCalendar: every line end is one newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_every_value_reads_back_and_every_line_is_folded_right() -> None:
    data = ical(records(), ATTRIBUTION, "Agenda, test; \\ feed")
    assert data.endswith(b"END:VCALENDAR\r\n")
    physical = data.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(physical) and b"\r" not in b"".join(physical)  # only CRLF line ends
    for line in physical:
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold never splits a UTF-8 character
    calendar = Calendar.from_ical(data)
    # the library leaves X- properties escaped, as they are in the file (TEXT escaping, like every text here)
    assert str(calendar["X-WR-CALNAME"]) == "Agenda\\, test\\; \\\\ feed"
    events = calendar.walk("VEVENT")
    assert len(events) == len(records())
    for parsed, expected in zip(events, records(), strict=True):
        assert str(parsed["SUMMARY"]) == _normal(expected["name"])
        assert str(parsed["UID"]) == uid(expected["id"])
        description = str(parsed["DESCRIPTION"])
        if expected["description"]:
            assert description.startswith(_normal(expected["description"]) + "\n\nSource : Agenda de test")
        assert parsed["DTSTART"].dt == datetime.fromisoformat(expected["start"])
        assert parsed["DTEND"].dt == datetime.fromisoformat(expected["end"])
        assert [str(c) for c in parsed["CATEGORIES"].cats] == [_normal(c) for c in expected["category_labels"]]
        assert str(parsed["LOCATION"]).startswith(_normal(expected["location_name"]))
        assert str(parsed["URL"]) == expected["url"]
        assert parsed["GEO"].latitude == expected["lat"] and parsed["GEO"].longitude == expected["lon"]


@pytest.mark.parametrize("text", HARD)
def test_an_event_is_what_the_icalendar_library_writes(text: str) -> None:
    """Byte for byte the library's rendering of the same event (values without ``\\N``, which the library
    turns into a line break where RFC 5545 keeps a backslash and an N)."""
    item = record(0, text, text)
    event = Event()
    event.add("uid", uid(item["id"]))
    event.add("dtstamp", GENERATED)
    event.add("summary", item["name"])
    event.add("dtstart", datetime.fromisoformat(item["start"]).astimezone(_paris()))
    event.add("dtend", datetime.fromisoformat(item["end"]).astimezone(_paris()))
    event.add("description", item["description"] + "\n\nSource : Agenda de test")
    event.add("location", ", ".join([item["location_name"], item["street"], "69001 Lyon"]))
    event.add("geo", (item["lat"], item["lon"]))
    event.add("url", item["url"])
    event.add("categories", item["category_labels"])
    event.add("status", "CONFIRMED")
    assert vevent(item, GENERATED) == event.to_ical().decode("utf-8")


def test_escape_and_fold() -> None:
    assert escape('a,b;c\\d\ne\r\nf"g:h') == 'a\\,b\\;c\\\\d\\ne\\nf"g:h'
    assert fold("SUMMARY:short") == "SUMMARY:short\r\n"
    folded = fold("DESCRIPTION:" + "é" * 100)  # 212 octets; two per character, never split
    assert [len(part.encode("utf-8")) for part in folded.removesuffix("\r\n").split("\r\n")] == [74, 75, 65]


def _paris() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Paris")
