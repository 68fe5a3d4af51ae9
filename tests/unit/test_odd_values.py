"""No odd value fails a record, let alone a run (issue 21, defect 6): property-based, with hypothesis.

One website of the real census of tiers-lieux, ``http://fablab-vignes.org|fablab-vignes.org]]``, made
``urlsplit`` raise and failed the whole run. Here every value function of the mapping layer and every
connector's record reader gets arbitrary strings and odd JSON values (None, huge numbers, lists, dicts, huge
strings, bidirectional controls, NULs): nothing may escape but the one exception a reader is allowed, the
record's own rejection (:class:`RecordRejected`, which becomes a quarantine reason).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transiscope.core.errors import TransiscopeError
from transiscope.core.text import clean_contact, clean_text
from transiscope.ingest import mapping as engine
from transiscope.ingest.formats import RecordRejected, connector
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.ingest.records import EVENT_COLUMNS, INITIATIVE_COLUMNS, parse_date, to_float
from transiscope.settings import PROJECT_ROOT

REGISTRY = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
#: modest counts: the whole module runs in seconds, and CI runs it on every submission
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: strings real payloads were seen to carry, or that break parsers: brackets, bidi controls, NULs, huge ones
NASTY = [
    "http://fablab-vignes.org|fablab-vignes.org]]",
    "https://[::1",
    "http://]x[",
    "www.x.org:99999999999",
    "javascript:alert(1)",
    "\u202eevil\u202c.org",
    "\u2067abc\u2069",
    "a\x00b",
    "\x00",
    "&amp;lt;script&amp;gt;",
    "<script>x</script>",
    "²",
    "1e400",
    "-0",
    "NaN",
    "31/02/2026",
    "2026-13-45T99:99",
    "9999-12-31T23:59:59+14:00",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(NASTY),
)
#: built by a function, so that hypothesis never prints them whole; no integer of more than 4,300 digits:
#: json.loads refuses those (a payload holding one is refused whole, see the parse test below)
huge = st.sampled_from(["int", "text", "accents"]).map(
    lambda kind: {"int": 10**400, "text": "x " * 10_000, "accents": "é\u202e\x00" * 5_000}[kind]
)


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


#: odd JSON values, and Python values no JSON parser gives but a connector may still be handed
json_values = _nested(st.one_of(scalars, huge))
#: what a payload may hold once parsed (no integer too long to print)
payload_values = _nested(scalars)
ARGUMENTS = (None, "", ",", "|", "%d/%m/%Y", "%Y-%m-%dT%H:%M", "ms", "fr", "Europe/Paris")


@FEW
@given(value=json_values, name=st.sampled_from(sorted(engine.FUNCTIONS)), arg=st.sampled_from(ARGUMENTS))
def test_no_value_function_raises(value: Any, name: str, arg: str | None) -> None:
    engine.FUNCTIONS[name](value, arg)


@FEW
@given(value=json_values)
def test_no_normaliser_nor_cleaner_raises(value: Any) -> None:
    for function in (engine.normalise_url, engine.normalise_email, engine.normalise_phone, clean_contact, to_float):
        function(value)
    clean_text(value)
    clean_text(value, multiline=False)
    parse_date(value, True)
    parse_date(value, False)
    engine.parse_time(value, "Europe/Paris")
    engine.shown(value)


@FEW
@given(value=json_values, column=st.sampled_from(sorted(set(INITIATIVE_COLUMNS + EVENT_COLUMNS))))
def test_the_default_coercion_of_every_column_never_raises(value: Any, column: str) -> None:
    if column in engine.ENGINE_COLUMNS:
        return
    engine._coerce(column, value, {})


def test_the_census_website_is_dropped_with_a_note() -> None:
    """The census's own value, through a ``url`` column, as the csv mapping reads it: dropped, noted."""
    spec = engine.MappingSpec(
        kind="initiatives",
        fields={
            "source_id": engine.FieldSpec("source_id", (("ID",),)),
            "name": engine.FieldSpec("name", (("NOM_TL",),)),
            "website": engine.FieldSpec("website", (("WEB",),), (("url", None),)),
        },
    )
    element = {"ID": "1023", "NOM_TL": "FabLab des Vignes", "WEB": "http://fablab-vignes.org|fablab-vignes.org]]"}
    record = engine.apply_mapping(element, 0, "census", spec, {}, "etalab-2.0")
    assert record["website"] is None and record["name"] == "FabLab des Vignes"
    assert any("fablab-vignes.org" in note and "dropped" in note for note in record["notes"]), record["notes"]


def _reader(source_id: str) -> tuple[Any, Any, Any, set[str]]:
    """(connector, source, mapping bound to an empty run, the top-level fields the mapping reads)."""
    source = REGISTRY.get(source_id)
    fmt = connector(source.format)
    mapping = load_mapping(source)
    bind_run = getattr(fmt, "bind_run", None)
    if bind_run is not None:
        mapping = bind_run(mapping, {}, source)
    fields = set(getattr(fmt, "KNOWN_FIELDS", ()))
    spec = getattr(mapping, "spec", None)
    if spec is not None:
        fields |= {path[0] for field in spec.fields.values() for path in field.paths}
    fields |= {path.split(".")[0] for paths in mapping.fields.values() for path in paths}
    return fmt, source, mapping, fields


#: one configured source per format and kind, so that every connector is read with a real mapping
READERS = sorted({(s.format, s.extra.get("kind", "initiatives")): s.id for s in REGISTRY.sources}.values())


@pytest.mark.parametrize("source_id", READERS)
def test_every_connector_reads_odd_records_without_raising(source_id: str) -> None:
    fmt, source, mapping, fields = _reader(source_id)
    elements = st.one_of(
        st.fixed_dictionaries({}, optional={name: json_values for name in sorted(fields)}),
        json_values,
    )

    @FEW
    @given(element=elements)
    def check(element: Any) -> None:
        fmt.element_id(element, mapping)
        is_inactive = getattr(fmt, "is_inactive", None)
        if is_inactive is not None:
            is_inactive(element)
        try:
            record = fmt.normalise(element, 0, source, mapping)
        except RecordRejected:
            return
        assert record["source"] == source.id

    check()


@pytest.mark.parametrize("source_id", READERS)
def test_every_connector_parses_odd_payloads_with_a_clear_error(source_id: str) -> None:
    """A payload of odd bytes is read, or refused with the bus's own error (a message, never a traceback)."""
    fmt, source, _mapping, _fields = _reader(source_id)
    payloads = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        payload_values.map(lambda v: json.dumps(v).encode()),
        st.just(b'[{"id": ' + b"9" * 5000 + b', "name": "x"}]'),  # json.loads: "Exceeds the limit"
    )

    @FEW
    @given(raw=payloads)
    def check(raw: bytes) -> None:
        try:
            fmt.parse(raw, dataclasses.replace(source))
        except TransiscopeError:
            return

    check()
