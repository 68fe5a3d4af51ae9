"""The N-Triples the bus writes itself (rdf.literal, rdf.iri, rdf.write_ntriples) against pyoxigraph's writer.

Why: to_rdf builds its lines from pre-serialised terms and one escaping function (issue 26) instead of
pyoxigraph's terms and serialiser; these tests hold it to what pyoxigraph would write, byte for byte where
its writer is canonical (one triple per line, its own escapes), and term for term after parsing, on the
strings a source can send: quotes, backslashes, newlines, CR, tabs, NUL and the other controls, bidi
controls, non-BMP characters, lone surrogates (JSON's ``"\\ud800"`` reaches the records), and characters
that break IRIs.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transiscope.core.vocab import SCHEMA, TS
from transiscope.ingest import rdf
from transiscope.ingest.records import empty_record

BASE = "https://w3id.org/transiscope/"
S = ox.NamedNode("http://example.org/s")
P = ox.NamedNode("http://example.org/p")

#: every character with an escape of its own, every other C0 control, DEL, C1 controls, bidi controls and
#: isolates, zero-width and line/paragraph separators, a byte-order mark, non-BMP characters, IRI breakers
HOSTILE_CHARS = (
    [chr(c) for c in range(0x20)]
    + ["\x7f", "\x80", "\x9f", "\xa0", '"', "\\", "'", "<", ">", "{", "}", "|", "^", "`", " ", "%", "#", "?"]
    + ["\u200b", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"]
    + [
        "\u2028",
        "\u2029",
        "\ufeff",
        "\ufffd",
        "\ufffe",
        "\uffff",
        "é",
        "\u0301",
        "中",
        "🌱",
        "\U0010ffff",
        "\U0001d11e",
    ]
)
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(exclude_categories=("Cs",))), max_size=40
)


def pyoxigraph_line(triple: ox.Triple) -> bytes:
    out = io.BytesIO()
    ox.serialize([triple], out, ox.RdfFormat.N_TRIPLES)
    return out.getvalue()


def parsed(text: str) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(text.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)]


@pytest.mark.parametrize("char", HOSTILE_CHARS, ids=[f"U+{ord(c[0]):04X}" for c in HOSTILE_CHARS])
def test_each_hostile_character_is_written_as_pyoxigraph_writes_it(char: str) -> None:
    value = f"a{char}b{char}"
    line = f"{S} {P} {rdf.literal(value)} .\n"
    assert line.encode("utf-8") == pyoxigraph_line(ox.Triple(S, P, ox.Literal(value)))
    assert parsed(line) == [ox.Triple(S, P, ox.Literal(value))]


def test_every_code_point_is_written_as_pyoxigraph_writes_it() -> None:
    """All of Unicode but the surrogates, one character at a time: the escapes are exactly pyoxigraph's."""
    differ = [
        hex(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and rdf.literal(chr(c)) != str(ox.Literal(chr(c)))
    ]
    assert differ == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_any_string_literal_is_pyoxigraphs_bytes_and_reads_back_as_itself(value: str) -> None:
    line = f"{S} {P} {rdf.literal(value)} .\n"
    assert line.encode("utf-8") == pyoxigraph_line(ox.Triple(S, P, ox.Literal(value)))
    assert parsed(line)[0].object == ox.Literal(value)


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", "\udbff\udc00 mal formé", "🌱\ud83c"])
def test_a_lone_surrogate_becomes_the_replacement_character(value: str) -> None:
    """pyoxigraph takes no lone surrogate at all (``ox.Literal`` refuses it): the bus writes U+FFFD instead,
    so that one bad character costs that character, not the whole batch's N-Triples."""
    with pytest.raises(ValueError):
        ox.Literal(value)
    line = f"{S} {P} {rdf.literal(value)} .\n"
    expected = "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in value)
    assert parsed(line)[0].object == ox.Literal(expected)


IRI_TAILS = ["a b", "x>y", "x<y", 'q"d', "{b}", "a|b", "a^b", "a`b", "a\\b", "n\nl", "t\tt", "nul\x00", "é🌱", ""]


@pytest.mark.parametrize("tail", IRI_TAILS)
def test_iri_keeps_what_pyoxigraph_accepts_and_nothing_else(tail: str) -> None:
    value = "http://example.org/" + tail
    try:
        expected: ox.NamedNode | None = ox.NamedNode(value)
    except ValueError:
        expected = None
    written = rdf.iri(value)
    if expected is None:
        assert written is None
    else:
        assert written is not None
        assert parsed(f"{S} {P} {written} .\n")[0].object == expected


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_any_iri_is_kept_exactly_when_pyoxigraph_accepts_it(tail: str) -> None:
    value = "http://example.org/" + tail
    try:
        expected: ox.NamedNode | None = ox.NamedNode(value)
    except ValueError:
        expected = None
    written = rdf.iri(value)
    assert (written is None) == (expected is None)
    if written is not None:
        assert written.encode("utf-8") == pyoxigraph_line(ox.Triple(S, P, expected)).split(b" ")[2]  # type: ignore[arg-type]


def _hostile_record(i: int, text: str) -> dict:
    record = empty_record()
    record.update(
        source="s",
        source_id=f"{text}{i}",
        name=text or "x",
        description=text,
        categories=[text, "a"] if text else ["a"],
        concepts=["tiers-lieux"],
        lat=45.5 + i / 1000,
        lon=2.9e-05,
        street=text,
        city="Ville",
        website="https://x.example/" + text,
        phone=text,
        opening_hours=text,
        tags=[text] if text else [],
        upstream_source=text,
        licence="ODbL-1.0",
        source_url="https://x.example/" + text,
        created_at="2021-06-14",
        updated_at="2024-05-06T15:05:00+02:00",
    )
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_text, min_size=1, max_size=5))
def test_a_file_of_hostile_records_is_what_pyoxigraph_writes_for_its_triples(tmp_path: Path, texts: list[str]) -> None:
    """The whole file parses; pyoxigraph, writing back the triples it parsed, writes the same bytes; and the
    values are the records' own (terms compared)."""
    records = [_hostile_record(i, text) for i, text in enumerate(texts)]
    path = tmp_path / "hostile.nt"
    classes: Counter[str] = Counter()
    count = rdf.write_ntriples(records, BASE, path, classes)
    ours = path.read_bytes()
    triples = [q.triple for q in ox.parse(ours, format=ox.RdfFormat.N_TRIPLES)]
    assert count == len(triples)
    out = io.BytesIO()
    ox.serialize(triples, out, ox.RdfFormat.N_TRIPLES)
    assert out.getvalue() == ours
    name = ox.NamedNode(SCHEMA + "name")
    assert [t.object for t in triples if t.predicate == name] == [ox.Literal(r["name"]) for r in records]
    ids = {t.object.value for t in triples if t.predicate == ox.NamedNode(TS + "sourceId")}
    assert ids == {r["source_id"] for r in records}
    assert classes[SCHEMA + "Organization"] == len(records)
    assert classes[TS + "Initiative"] == len(records)
    assert classes[SCHEMA + "PostalAddress"] == len(records)  # every record has a city


def test_decimal_text_is_never_in_exponent_form() -> None:
    for value, text in ((2.9e-05, "0.000029"), (1e16, "10000000000000000.0"), (48.5, "48.5"), (-0.0, "-0.0")):
        assert rdf.decimal_text(value) == text
