"""The vectorised evaluators set aside exactly the records Great Expectations sets aside, with the same reasons.

The suites are the single source of truth; ``engine="gx"`` has GX run the whole suite, ``engine="auto"`` (the
pipeline's) evaluates every expectation type that has an evaluator itself. Both are run here on every bundled
sample and on generated batches holding every kind of fault, and their outcomes compared whole: valid
positions, quarantine and warning reasons (in order), and the per-expectation summary of the quality report.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from tests.unit.test_validate import _event  # the same event record as the suite's own tests
from transiscope.core.errors import ConfigError
from transiscope.ingest.expectation_evaluators import EVALUATORS, evaluator_for
from transiscope.ingest.formats import RecordRejected, connector
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.ingest.records import empty_record
from transiscope.ingest.validate import ValidationOutcome, suite_config, validate_records
from transiscope.settings import PROJECT_ROOT

EXPECTATIONS = PROJECT_ROOT / "expectations"


def _same(records: list[dict[str, Any]], suite: dict[str, Any]) -> ValidationOutcome:
    """Both engines on the same batch; their outcomes must be equal. Returns the evaluators' one."""
    by_gx = validate_records(records, suite, engine="gx")
    vectorised = validate_records(records, suite, engine="auto")
    assert vectorised.valid == by_gx.valid
    assert vectorised.quarantined == by_gx.quarantined
    assert vectorised.warnings == by_gx.warnings
    assert vectorised.expectations == by_gx.expectations
    return vectorised


def _sample_batches() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(source, suite kind, records) for every bundled sample a connector reads without the network."""
    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    batches = []
    for source in registry.sources:
        if source.sample_path is None or not source.sample_path.exists() or source.format == "murmurations":
            continue  # Murmurations' sample is an index: its profiles are fetched over HTTP
        fmt, mapping = connector(source.format), load_mapping(source)
        records = []
        for index, element in enumerate(fmt.parse(source.sample_path.read_bytes(), source)):
            try:
                records.append(fmt.normalise(element, index, source, mapping))
            except RecordRejected:
                continue
        batches.append((source.id, "events" if mapping.kind == "events" else "initiatives", records))
    return batches


SAMPLES = _sample_batches()


def test_the_samples_cover_every_format_read_offline() -> None:
    assert {kind for _, kind, _ in SAMPLES} == {"initiatives", "events"}
    assert len(SAMPLES) >= 10 and all(records for _, _, records in SAMPLES)


@pytest.mark.parametrize(("source_id", "kind", "records"), SAMPLES, ids=[s for s, _, _ in SAMPLES])
def test_each_sample_is_judged_alike(source_id: str, kind: str, records: list[dict[str, Any]]) -> None:
    outcome = _same(records, suite_config(EXPECTATIONS, source_id, kind=kind))
    assert len(outcome.valid) + len(outcome.quarantined) == len(records)


def _initiative(source_id: str, **values: object) -> dict[str, Any]:
    record = empty_record()
    record.update(
        source="s",
        source_id=source_id,
        name=f"Initiative {source_id}",
        lat=45.76,
        lon=4.83,
        postcode="69001",
        insee="69381",
        licence="ODbL-1.0",
        website="https://a.example.org",
        email="contact@a.example.org",
        phone="04 78 00 00 00",
        concepts=["repair-cafes"],
        updated_at="2025-05-01",
    )
    record.update(values)
    return record


#: one record per kind of fault the suites look for, and a few values at the edges of what passes
FAULTY_INITIATIVES = [
    _initiative("ok"),
    _initiative(None),
    _initiative("dup"),
    _initiative("dup", name="Homonyme"),
    _initiative("noname", name=None),
    _initiative("nan-lat", lat=math.nan),
    _initiative("nolat", lat=None, lon=None),
    _initiative("lat-high", lat=90.000001),
    _initiative("lat-edge", lat=90.0, lon=-180.0),
    _initiative("lon-low", lon=-180.5),
    _initiative("abroad", lat=52.52, lon=13.40, country="DE"),
    _initiative("country", country="Belgique"),
    _initiative("postcode", postcode="7500"),
    _initiative("postcode-99", postcode="99100"),
    _initiative("postcode-int", postcode=69001),
    _initiative("website", website="www.example.org"),
    _initiative("website-space", website="https://a b.example.org"),
    _initiative("email", email="contact@localhost"),
    _initiative("phone", phone="appelez-nous"),
    _initiative("insee", insee="6938"),
    _initiative("corse", insee="2A004", postcode="20000"),
    _initiative("future", updated_at="2999-01-01"),
    _initiative("created-future", created_at="2999-12-31T10:00:00+01:00"),
    _initiative("unreadable-date", updated_at="hier"),
    _initiative("nocat", concepts=[], categories=["Divers"], unmapped_categories=["Divers"]),
    _initiative("unparsed", unparsed=["updatedAt='hier'"]),
    _initiative("markup", description="texte <b>gras</b>"),
    _initiative("markup-name", name="<script>alert(1)</script>"),
    _initiative("not-markup", description="3 < 4 et 5 > 2"),
    _initiative("bidi", name="Caf\u202ee r\u00e9paration"),
    _initiative("long", name="n" * 10_000),
    _initiative("empty-name", name=""),
]


def test_a_batch_with_every_fault_is_judged_alike() -> None:
    for source_id in ("transiscope", "presdecheznous", "francetierslieux"):
        outcome = _same(FAULTY_INITIATIVES, suite_config(EXPECTATIONS, source_id))
        assert outcome.quarantined and outcome.warnings  # the batch does exercise both severities
    international = _same(FAULTY_INITIATIVES, suite_config(EXPECTATIONS, "transiscope", international=True))
    assert 10 not in international.quarantined  # abroad is no fault for an international source


def test_events_with_every_fault_are_judged_alike() -> None:
    events = [
        _event("ok"),
        _event("backwards", end="2026-12-05T10:00:00+01:00"),
        _event("naive-and-aware", start="2026-12-05T14:00:00", end="2026-12-05T10:00:00+01:00"),
        _event("nostart", start=None, end=None),
        _event("online", lat=None, lon=None),
        _event("typo", start="2226-12-05T14:00:00+01:00", end="2226-12-05T17:00:00+01:00"),
        _event("markup", description="<p>Venez</p>"),
        _event("insee", insee="123"),
        _event("nocat", concepts=[]),
        _event("ok"),
    ]
    outcome = _same(events, suite_config(EXPECTATIONS, "agenda", kind="events"))
    assert outcome.quarantined


#: a suite using every evaluator with every argument it knows, at both severities
EVERY_ARGUMENT = {
    "name": "every-argument",
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "email", "mostly": 0.5}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "name"}, "severity": "warning"},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "postcode", "value_set": ["69001"]}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "licence", "value_set": ["CC0-1.0"]}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "website", "regex": "^https://"}},
        {
            "type": "expect_column_values_to_not_match_regex",
            "kwargs": {"column": "name", "regex": "[<>]", "mostly": 0.9},
            "severity": "warning",
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "lat", "min_value": 41, "max_value": 90, "strict_max": True},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "lon", "min_value": -180, "strict_min": True},
            "severity": "warning",
        },
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "days_ahead", "max_value": 0}},
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "name", "min_value": 1, "max_value": 200},
            "severity": "warning",
        },
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "phone", "min_value": 6, "max_value": 20, "strict_min": True, "strict_max": True},
        },
    ],
}


def test_every_argument_of_every_evaluator_is_judged_alike() -> None:
    types = {e["type"] for e in EVERY_ARGUMENT["expectations"]}
    assert types == set(EVALUATORS)  # a new evaluator needs its line here
    used = {key for e in EVERY_ARGUMENT["expectations"] for key in e["kwargs"]}
    assert used >= {a for evaluator in EVALUATORS.values() for a in evaluator.kwargs} | {"mostly"}
    outcome = _same(FAULTY_INITIATIVES, EVERY_ARGUMENT)
    assert any(not row["success"] for row in outcome.expectations)


def test_every_expectation_of_the_suites_has_an_evaluator() -> None:
    """Otherwise GX is imported by every validate task (≈2 s per Airflow task): add an evaluator."""
    for path in sorted(EXPECTATIONS.glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert evaluator_for(expectation) is not None, f"{path.name}: {expectation['type']}"


def test_an_expectation_without_evaluator_is_run_by_great_expectations() -> None:
    suite = suite_config(EXPECTATIONS, "transiscope")
    typed = {
        "type": "expect_column_values_to_be_in_type_list",
        "kwargs": {"column": "postcode", "type_list": ["str"]},
        "severity": "warning",
    }
    conditioned = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "email", "row_condition": 'source_id=="dup"', "condition_parser": "pandas"},
    }
    assert evaluator_for(typed) is None and evaluator_for(conditioned) is None
    mixed = {**suite, "expectations": [typed, *suite["expectations"], conditioned]}
    outcome = _same(FAULTY_INITIATIVES, mixed)
    position = next(i for i, r in enumerate(FAULTY_INITIATIVES) if r["source_id"] == "postcode-int")
    assert outcome.expectations[0]["failed"] >= 1 and position in outcome.warnings


def test_a_bound_of_the_wrong_type_is_a_suite_error_for_both() -> None:
    suite = {
        "name": "bad",
        "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "postcode", "min_value": 1}}
        ],
    }
    for engine in ("gx", "auto"):
        with pytest.raises(ConfigError, match="same type"):
            validate_records(FAULTY_INITIATIVES, suite, engine=engine)


@pytest.mark.parametrize(
    "expectation",
    [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}, "severity": "grave"},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "licence", "value_set": None}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "lat", "min_value": 9, "max_value": 1}},
    ],
    ids=["severity", "value-set", "bounds"],
)
def test_a_bad_expectation_is_a_suite_error_for_both(expectation: dict[str, Any]) -> None:
    suite = {"name": "bad", "expectations": [expectation]}
    for engine in ("gx", "auto"):
        with pytest.raises(ConfigError):
            validate_records(FAULTY_INITIATIVES, suite, engine=engine)


def test_the_pipeline_validates_without_importing_great_expectations() -> None:
    """A validate task is a fresh process under Airflow: with every expectation evaluated here, it does not pay
    GX's import."""
    code = (
        "import sys\n"
        "from transiscope.ingest.validate import suite_config, validate_by_kind\n"
        "from transiscope.settings import PROJECT_ROOT\n"
        "from tests.unit.test_expectation_evaluators import FAULTY_INITIATIVES\n"
        "suite, outcome = validate_by_kind(FAULTY_INITIATIVES, PROJECT_ROOT / 'expectations', 'transiscope')\n"
        "assert outcome.quarantined, outcome\n"
        "print('great_expectations' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
