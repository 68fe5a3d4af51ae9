"""Great Expectations on canonical records: critical failures quarantine, warnings do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transiscope.core.errors import ConfigError
from transiscope.ingest.records import empty_record
from transiscope.ingest.validate import suite_config, validate_records
from transiscope.settings import PROJECT_ROOT

EXPECTATIONS = PROJECT_ROOT / "expectations"


def _record(source_id: str, **values: object) -> dict:
    record = empty_record()
    record.update(
        source="transiscope",
        source_id=source_id,
        name=f"Initiative {source_id}",
        lat=45.76,
        lon=4.83,
        postcode="69001",
        licence="ODbL-1.0",
        website="https://a.example.org",
    )
    record.update(values)
    return record


@pytest.fixture(scope="module")
def suite() -> dict:
    return suite_config(EXPECTATIONS, "transiscope")


def test_failing_records_are_quarantined_with_every_reason(suite: dict) -> None:
    records = [
        _record("ok"),
        _record("noname", name=None),
        _record("badlat", lat=123.4),
        _record("null-island", lat=0.0, lon=0.0),
        _record("nocoords", lat=None, lon=None),
        _record("dup"),
        _record("dup"),
    ]
    outcome = validate_records(records, suite)
    assert outcome.valid == [0]
    assert outcome.quarantined[1] == ["no name (empty or only markup)"]
    assert "latitude 123.4 is not between -90 and 90" in outcome.quarantined[2][0]
    assert any("outside France" in r for r in outcome.quarantined[2])  # both reasons, not the first only
    assert outcome.quarantined[3] == ["the point (0.0, 0.0) is outside France (metropole and overseas départements)"]
    assert len(outcome.quarantined[4]) >= 2
    assert all("used by another record" in outcome.quarantined[i][0] for i in (5, 6))


def test_warnings_are_loaded_and_reported(suite: dict) -> None:
    records = [_record("w", postcode="7500", website="www.x.example.org", unmapped_categories=["Low-tech"])]
    outcome = validate_records(records, suite)
    assert outcome.valid == [0] and not outcome.quarantined
    reasons = outcome.warnings[0]
    assert "postcode '7500' is not a French 5-digit postcode" in reasons
    assert any("not an http(s) URL" in r for r in reasons)
    assert any("Low-tech" in r for r in reasons)


def test_overseas_points_are_in_france(suite: dict) -> None:
    records = [
        _record("reunion", lat=-21.115, lon=55.536, postcode="97400"),
        _record("guyane", lat=4.937, lon=-52.326, postcode="97300"),
    ]
    assert validate_records(records, suite).valid == [0, 1]


def test_international_sources_skip_the_france_check() -> None:
    suite = suite_config(EXPECTATIONS, "transiscope", international=True)
    assert validate_records([_record("berlin", lat=52.52, lon=13.40)], suite).valid == [0]


def test_summary_counts_failures_per_expectation(suite: dict) -> None:
    outcome = validate_records([_record("a", name=None), _record("b", name=None), _record("c")], suite)
    by_key = {(e["type"], e["column"]): e for e in outcome.expectations}
    assert by_key[("expect_column_values_to_not_be_null", "name")]["failed"] == 2
    assert by_key[("expect_column_values_to_not_be_null", "lat")]["failed"] == 0


def test_source_suite_overrides_and_disables(tmp_path: Path) -> None:
    (tmp_path / "initiatives.json").write_text((EXPECTATIONS / "initiatives.json").read_text())
    (tmp_path / "s.json").write_text(
        json.dumps(
            {
                "name": "s",
                "expectations": [
                    {
                        "type": "expect_column_values_to_match_regex",
                        "kwargs": {"column": "postcode", "regex": "^\\d{5}$"},
                        "severity": "critical",
                        "meta": {"reason": "strict postcode"},
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "in_france", "value_set": [True]},
                        "meta": {"disabled": True},
                    },
                ],
            }
        )
    )
    suite = suite_config(tmp_path, "s")
    outcome = validate_records([_record("p", postcode="7500"), _record("de", lat=52.5, lon=13.4)], suite)
    assert outcome.quarantined == {0: ["strict postcode"]}


def test_missing_or_broken_suite_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expectation suite not found"):
        suite_config(tmp_path, "s")
    (tmp_path / "initiatives.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        suite_config(tmp_path, "s")


def test_unknown_column_is_a_config_error() -> None:
    suite = {
        "name": "x",
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nom"}}],
    }
    with pytest.raises(ConfigError, match="unknown columns: nom"):
        validate_records([_record("a")], suite)


def test_no_records_no_failures(suite: dict) -> None:
    outcome = validate_records([], suite)
    assert outcome.valid == [] and outcome.quarantined == {}


def test_more_initiative_checks(suite: dict) -> None:
    records = [
        _record("tel", phone="appelez-nous"),
        _record("insee", insee="6938"),
        _record("future", updated_at="2999-01-01"),
        _record("nocat", concepts=[], categories=["Divers"]),
        _record("date", unparsed=["updatedAt='hier'"]),
        _record("markup", description="texte <b>gras</b>"),
    ]
    outcome = validate_records(records, suite)
    assert outcome.valid == [0, 1, 2, 3, 4]
    assert any("'appelez-nous' does not look like a phone number" in r for r in outcome.warnings[0])
    assert any("INSEE code '6938'" in r for r in outcome.warnings[1])
    assert any("days in the future" in r for r in outcome.warnings[2])
    assert any("no category of the taxonomy (source labels: Divers)" in r for r in outcome.warnings[3])
    assert any("unreadable value(s): updatedAt='hier'" in r for r in outcome.warnings[4])
    assert outcome.quarantined[5] == ["the description still contains markup after cleaning"]


def _event(source_id: str, **values: object) -> dict:
    from transiscope.ingest.records import EVENT_COLUMNS

    record = empty_record(EVENT_COLUMNS)
    record.update(
        source="agenda",
        source_id=source_id,
        name=f"Atelier {source_id}",
        lat=45.76,
        lon=4.83,
        start="2026-12-05T14:00:00+01:00",
        end="2026-12-05T17:00:00+01:00",
        concepts=["repair-cafes"],
    )
    record.update(values)
    return record


def test_event_suite() -> None:
    suite = suite_config(EXPECTATIONS, "agenda", kind="events")
    assert suite["name"] == "agenda.events"
    events = [
        _event("ok"),
        _event("backwards", end="2026-12-05T10:00:00+01:00"),
        _event("nostart", start=None, end=None),
        _event("online", lat=None, lon=None),
        _event("typo", start="2226-12-05T14:00:00+01:00", end="2226-12-05T17:00:00+01:00"),
    ]
    outcome = validate_records(events, suite)
    assert outcome.valid == [0, 3, 4]
    assert outcome.quarantined[1] == ["ends (2026-12-05T10:00:00+01:00) before it starts (2026-12-05T14:00:00+01:00)"]
    assert outcome.quarantined[2] == ["no readable start date"]
    assert 3 not in outcome.warnings  # no position is fine for an online event
    assert any("more than three years ahead" in r for r in outcome.warnings[4])


def test_great_expectations_says_nothing_at_info_level(suite: dict, caplog: pytest.LogCaptureFixture) -> None:
    """A validate task's log is the bus's own lines: GX's registrations and temporary folders stay out."""
    import logging

    with caplog.at_level(logging.INFO):
        assert validate_records([_record("ok")], suite).valid == [0]
    noise = [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations") and r.levelno < 30]
    assert noise == []
