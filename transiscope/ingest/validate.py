"""Validate canonical records with Great Expectations and split them into loaded and quarantined.

The suites are JSON files in ``expectations/`` (reviewed like code): ``initiatives.json`` holds the
common expectations and ``<source>.json`` adds or overrides per source (an expectation with the same
type and column replaces the common one; ``"meta": {"disabled": true}`` removes it).
Severity decides the fate of a failing record: ``critical`` -> quarantined with every reason,
``warning`` -> loaded, and listed in the quality report. GX runs in an ephemeral context: nothing
is written next to the project, and the suite files stay the single source of truth.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from transiscope.core.countries import country_name, is_france, iso_country
from transiscope.core.errors import ConfigError
from transiscope.core.geo import BOXES, FranceArea
from transiscope.ingest.expectation_evaluators import evaluate
from transiscope.ingest.france import points_in_france

COMMON_SUITE = "initiatives"
#: dates checked for "not in the far future" (events check their own start/end)
DATE_COLUMNS = ("created_at", "updated_at")
#: failing records kept as examples per expectation, for the quality report
MAX_EXAMPLES = 5
#: derived columns whose expectations say "in France": an international source is not held to them
FRANCE_COLUMNS = frozenset({"in_france", "country_in_france"})


@dataclass
class ValidationOutcome:
    #: record positions (in the list given) that may be loaded
    valid: list[int]
    #: position -> reasons, for records that must not be loaded
    quarantined: dict[int, list[str]]
    #: position -> reasons, for loaded records that a source maintainer should still look at
    warnings: dict[int, list[str]]
    #: one row per expectation: type, column, severity, failed count, description
    expectations: list[dict[str, Any]] = field(default_factory=list)


def _read_suite(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"expectation suite not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"expectation suite {path} is not valid JSON: {exc}") from None
    if not isinstance(data.get("expectations"), list):
        raise ConfigError(f'expectation suite {path} has no "expectations" list')
    return data


def _key(expectation: dict[str, Any]) -> tuple[str, str]:
    return expectation.get("type", ""), str(expectation.get("kwargs", {}).get("column", ""))


def suite_config(
    expectations_dir: Path, source_id: str, *, international: bool = False, kind: str = COMMON_SUITE
) -> dict[str, Any]:
    """The merged suite (common + source) as a GX suite dict.

    ``kind`` is ``initiatives`` (source file ``<source>.json``, required) or ``events`` (source file
    ``<source>.events.json``, optional: most sources need nothing beyond the common event suite).
    """
    common = _read_suite(expectations_dir / f"{kind}.json")
    name = f"{source_id}.json" if kind == COMMON_SUITE else f"{source_id}.{kind}.json"
    if kind != COMMON_SUITE and not (expectations_dir / name).exists():
        specific: dict[str, Any] = {"expectations": [], "meta": {}}
    else:
        specific = _read_suite(expectations_dir / name)
    merged: dict[tuple[str, str], dict[str, Any]] = {_key(e): e for e in common["expectations"]}
    for expectation in specific["expectations"]:
        merged[_key(expectation)] = expectation
    expectations = [e for e in merged.values() if not e.get("meta", {}).get("disabled")]
    if international:
        expectations = [e for e in expectations if _key(e)[1] not in FRANCE_COLUMNS]
    suite_name = source_id if kind == COMMON_SUITE else f"{source_id}.{kind}"
    return {"name": suite_name, "expectations": expectations, "meta": specific.get("meta", {})}


def _days_ahead(
    records: list[dict[str, Any]], today: date, columns: tuple[str, ...] = DATE_COLUMNS
) -> list[int | None]:
    """Per record, how many days its latest date in ``columns`` lies after today (negative: in the past;
    None: no readable date). Each distinct day is read once: a batch has far fewer days than records."""
    offsets: dict[str, int | None] = {}

    def offset(value: Any) -> int | None:
        text = str(value)[:10]
        if text not in offsets:
            try:
                offsets[text] = (date.fromisoformat(text) - today).days
            except ValueError:
                offsets[text] = None
        return offsets[text]

    ahead: list[int | None] = [None] * len(records)
    for column in columns:
        for position, record in enumerate(records):
            value = record.get(column)
            if value:
                days = offset(value)
                if days is not None:
                    known = ahead[position]
                    ahead[position] = days if known is None else max(known, days)
    return ahead


#: the columns :func:`_frame` derives from the records, for the suites to check
DERIVED_COLUMNS = frozenset(
    {
        "in_france",
        "country_in_france",
        "unmapped_count",
        "concept_count",
        "unparsed_count",
        "days_ahead",
        "end_before_start",
        "start_days_ahead",
    }
)


def _frame(records: list[dict[str, Any]], france: FranceArea = BOXES, columns: set[str] | None = None):
    """The canonical records as a DataFrame, plus the derived columns the suites check.

    ``in_france``: the point lies in ``france`` (None without a point); ``country_in_france``: the declared
    country is France (None when none is declared). ``columns``: only these (the suite's), since building
    a column of 100k values costs as much as checking it; None: every column.
    """
    import pandas as pd

    present = set().union(*(r.keys() for r in records)) if records else set()
    wanted = (lambda name: True) if columns is None else columns.__contains__
    names = [c for c in (records[0] if records else ()) if c in present and wanted(c)]
    names += sorted(c for c in present - set(names) if wanted(c))
    frame = pd.DataFrame({name: [r.get(name) for r in records] for name in names}, index=pd.RangeIndex(len(records)))
    today = datetime.now(UTC).date()
    if "lat" in present and wanted("in_france"):
        frame["in_france"] = points_in_france(records, france)
    if "country" in present and wanted("country_in_france"):
        verdicts: dict[Any, bool | None] = {}
        frame["country_in_france"] = [
            verdicts[v] if v in verdicts else verdicts.setdefault(v, is_france(iso_country(v)))
            for v in (r.get("country") for r in records)
        ]
    for name, source in (
        ("unmapped_count", "unmapped_categories"),
        ("concept_count", "concepts"),
        ("unparsed_count", "unparsed"),
    ):
        if wanted(name):
            frame[name] = [len(r.get(source) or ()) for r in records]
    if wanted("days_ahead"):
        frame["days_ahead"] = pd.array(_days_ahead(records, today), dtype="Int64")
    if "start" in present and "end" in present:
        if wanted("end_before_start"):
            frame["end_before_start"] = [_end_before_start(r) for r in records]
        if wanted("start_days_ahead"):
            frame["start_days_ahead"] = pd.array(_days_ahead(records, today, ("start",)), dtype="Int64")
    return frame


def _end_before_start(record: dict[str, Any]) -> bool | None:
    start, end = record.get("start"), record.get("end")
    if not start or not end:
        return None
    try:
        start_at, end_at = datetime.fromisoformat(start), datetime.fromisoformat(end)
        if (start_at.tzinfo is None) != (end_at.tzinfo is None):
            start_at, end_at = start_at.replace(tzinfo=None), end_at.replace(tzinfo=None)
        return end_at < start_at
    except ValueError:
        return None


def _reason(config: dict[str, Any], record: dict[str, Any], frame_row: dict[str, Any], key: str = "reason") -> str:
    """The sentence for a failed expectation: ``meta.reason`` (English) or ``meta.reason_fr``."""
    kwargs = config.get("kwargs", {})
    column = kwargs.get("column", "")
    value = frame_row.get(column, record.get(column))
    template = config.get("meta", {}).get(key)
    if template:
        try:
            return template.format(
                value=value,
                record=record,
                labels=", ".join(record.get("unmapped_categories") or ()),
                unparsed=", ".join(record.get("unparsed") or ()),
                categories=", ".join(record.get("categories") or ()) or "—",
                country_name=country_name(iso_country(record.get("country")), "fr" if key == "reason_fr" else "en"),
                **kwargs,
            )
        except (KeyError, IndexError, ValueError, AttributeError):
            return template
    if key != "reason":
        return _reason(config, record, frame_row)
    return f"{column}={value!r} fails {config.get('type')} {json.dumps(kwargs, ensure_ascii=False)}"


def _quiet_great_expectations() -> None:
    """Keep Great Expectations' INFO lines (function registrations, temporary folders: most of a validate
    task's log otherwise) out of the logs; its warnings and errors still show."""
    import logging

    for name, logger in [
        ("great_expectations", logging.getLogger("great_expectations")),
        *logging.root.manager.loggerDict.items(),
    ]:
        if name.startswith("great_expectations") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.WARNING)


def validate_records(
    records: list[dict[str, Any]],
    suite: dict[str, Any],
    france: FranceArea = BOXES,
    *,
    engine: str = "auto",
) -> ValidationOutcome:
    """Run the suite on the records; every failing record gets one reason per failed expectation.

    ``france`` decides the ``in_france`` column (the départements' outlines from
    :func:`transiscope.territories.france.france_area`; the boxes when none is given). ``engine`` ``"auto"``
    evaluates each expectation with its vectorised evaluator
    (:mod:`transiscope.ingest.expectation_evaluators`) and leaves to Great Expectations, run once over the
    batch, only those without one (then, and only then, GX is imported); ``"gx"`` has GX run the whole suite
    (the equivalence tests compare both). Raises :class:`ConfigError` for a suite that cannot run.
    """
    if engine not in ("auto", "gx"):
        raise ValueError(f"unknown validation engine {engine!r}")
    expectations: list[dict[str, Any]] = list(suite["expectations"])
    if not records:
        return ValidationOutcome(valid=[], quarantined={}, warnings={})
    used = {_key(e)[1] for e in expectations if _key(e)[1]}
    frame = _frame(records, france, used)
    missing = sorted(used - set(frame.columns))
    if missing:
        raise ConfigError(f"expectation suite {suite['name']!r} names unknown columns: {', '.join(missing)}")
    results: dict[int, tuple[dict[str, Any], list[int], bool]] = {}
    left: list[int] = []
    for number, expectation in enumerate(expectations):
        evaluation = None if engine == "gx" else evaluate(_checked_expectation(suite, expectation), frame)
        if evaluation is None:
            left.append(number)
        else:
            results[number] = (expectation, evaluation.failed, evaluation.success)
    if left:
        results.update(_run_great_expectations(suite, [expectations[n] for n in left], left, frame))

    quarantined: dict[int, list[str]] = {}
    warnings: dict[int, list[str]] = {}
    summary = []
    for number in range(len(expectations)):
        config, failed, success = results[number]
        severity = str(config.get("severity", "critical")).lower()
        summary.append(
            {
                "type": config.get("type"),
                "column": config.get("kwargs", {}).get("column"),
                "severity": severity,
                "description": config.get("description") or config.get("meta", {}).get("reason", ""),
                "description_fr": config.get("meta", {}).get("description_fr") or config.get("description") or "",
                "failed": len(failed),
                "success": success,
            }
        )
        target = quarantined if severity == "critical" else warnings
        examples = summary[-1]["examples"] = []
        column = config.get("kwargs", {}).get("column")
        values = frame[column].tolist() if failed and column in frame.columns else []
        for position in failed:
            row = {column: values[position]} if values else {}  # what the reason quotes
            reason = _reason(config, records[position], row)
            target.setdefault(position, []).append(reason)
            if len(examples) < MAX_EXAMPLES:
                examples.append(
                    {
                        "source_id": records[position].get("source_id"),
                        "name": records[position].get("name"),
                        "reason": reason,
                        "reason_fr": _reason(config, records[position], row, "reason_fr"),
                    }
                )
    valid = [i for i in range(len(records)) if i not in quarantined]
    return ValidationOutcome(valid=valid, quarantined=quarantined, warnings=warnings, expectations=summary)


#: the fields an expectation of a suite file may have (GX's ExpectationConfiguration)
EXPECTATION_FIELDS = frozenset({"type", "kwargs", "meta", "description", "severity", "notes", "id", "rendered_content"})
SEVERITIES = frozenset({"critical", "warning", "info"})


def _checked_expectation(suite: dict[str, Any], expectation: dict[str, Any]) -> dict[str, Any]:
    """The expectation, after the checks GX makes when it reads a suite (so both engines refuse the same
    files): known fields, a known severity, kwargs as a table."""
    unknown = sorted(set(expectation) - EXPECTATION_FIELDS)
    severity = str(expectation.get("severity", "critical")).lower()
    if unknown or severity not in SEVERITIES or not isinstance(expectation.get("kwargs", {}), dict):
        problem = (
            f"unknown field(s) {', '.join(unknown)}"
            if unknown
            else f"severity {expectation.get('severity')!r} is not one of critical, warning, info"
            if severity not in SEVERITIES
            else "kwargs is not a table"
        )
        raise ConfigError(f"expectation suite {suite.get('name')!r} is invalid: {expectation.get('type')}: {problem}")
    return expectation


def _identity(config: dict[str, Any]) -> str:
    return json.dumps([config.get("type"), config.get("kwargs")], sort_keys=True, default=str)


def _gx_exception(info: Any) -> str | None:
    """The message of an exception GX caught while running an expectation, or None. GX 1.x reports it either
    at the top of ``exception_info`` or under the id of each metric that failed: then the expectation simply
    "fails" with no failing record, which must not pass for a check."""
    if not isinstance(info, dict):
        return None
    for entry in (info, *(v for v in info.values() if isinstance(v, dict))):
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error")
    return None


def _run_great_expectations(
    suite: dict[str, Any], expectations: list[dict[str, Any]], numbers: list[int], frame: Any
) -> dict[int, tuple[dict[str, Any], list[int], bool]]:
    """Great Expectations over the whole batch for the expectations given, once: (config, failed, success)
    per expectation, keyed by its number in the suite."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    _quiet_great_expectations()  # before the import: it logs its registrations while importing
    import great_expectations as gx  # ≈2 s import: only when an expectation has no evaluator

    _quiet_great_expectations()  # after: the import sets a level of its own on some of its loggers
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    try:
        gx_suite = gx.ExpectationSuite(**{**suite, "expectations": expectations})
    except Exception as exc:  # GX raises several pydantic/GX errors for a bad suite file
        raise ConfigError(f"expectation suite {suite.get('name')!r} is invalid: {exc}") from None
    batch = (
        context.data_sources.add_pandas("canonical")
        .add_dataframe_asset("records")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(gx_suite, result_format="COMPLETE")
    if len(result.results) != len(expectations):
        raise ConfigError(f"expectation suite {suite.get('name')!r}: Great Expectations ran a different suite")
    # each result back to its expectation's number in the suite, by type and arguments (GX keeps no order)
    waiting: dict[str, list[int]] = {}
    original = dict(zip(numbers, expectations, strict=True))
    for number, expectation in zip(numbers, gx_suite.expectations, strict=True):
        waiting.setdefault(_identity(expectation.configuration.to_json_dict()), []).append(number)
    outcomes: dict[int, tuple[dict[str, Any], list[int], bool]] = {}
    for expectation_result in result.results:
        expectation_config = expectation_result.expectation_config
        assert expectation_config is not None  # set on every result of a suite run
        config: dict[str, Any] = expectation_config.to_json_dict()
        config["kwargs"] = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}  # GX's, not ours
        number = waiting[_identity(config)].pop(0)
        config = original[number]  # the suite's own words and numbers in the reasons (GX turns 41 into 41.0)
        message = _gx_exception(expectation_result.exception_info)
        if message is not None:
            raise ConfigError(f"expectation {config.get('type')} could not run: {message}")
        failed = [int(i) for i in expectation_result.result.get("unexpected_index_list") or []]
        outcomes[number] = (config, failed, bool(expectation_result.success))
    return outcomes


def validate_by_kind(
    records: list[dict[str, Any]],
    expectations_dir: Path,
    source_id: str,
    *,
    international: bool = False,
    france: FranceArea = BOXES,
    kind: str = COMMON_SUITE,
) -> tuple[dict[str, Any], ValidationOutcome]:
    """Initiatives against the initiatives suites, events against the event suites, in one outcome.

    A source's records are usually all of one kind (the registry's ``kind``); a source that mixes them
    still goes through the same stage, each record judged by its own kind's suite. Event records are
    recognised by their ``start`` column. Returns the suite (the events suite for an events-only batch)
    and the outcome with positions in ``records``. With no record at all (every one set aside before), the
    source's own ``kind`` (the registry's) names the suite: an events source has no initiatives suite to find.
    """
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault("events" if "start" in record else COMMON_SUITE, []).append(i)
    if not groups:
        groups[kind] = []
    merged = ValidationOutcome(valid=[], quarantined={}, warnings={})
    suites = []
    for kind, positions in groups.items():
        suite = suite_config(expectations_dir, source_id, international=international, kind=kind)
        suites.append(suite)
        outcome = validate_records([records[i] for i in positions], suite, france)
        merged.valid.extend(positions[i] for i in outcome.valid)
        merged.quarantined.update({positions[i]: r for i, r in outcome.quarantined.items()})
        merged.warnings.update({positions[i]: r for i, r in outcome.warnings.items()})
        merged.expectations.extend(outcome.expectations)
    merged.valid.sort()
    suite = suites[0] if len(suites) == 1 else {"name": "+".join(s["name"] for s in suites), "expectations": []}
    return suite, merged
