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
from pathlib import Path
from typing import Any

from transiscope.errors import ConfigError
from transiscope.geo import in_france

COMMON_SUITE = "initiatives"


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
        raise ConfigError(f"expectation suite {path} has no \"expectations\" list")
    return data


def _key(expectation: dict[str, Any]) -> tuple[str, str]:
    return expectation.get("type", ""), str(expectation.get("kwargs", {}).get("column", ""))


def suite_config(expectations_dir: Path, source_id: str, *, international: bool = False) -> dict[str, Any]:
    """The merged suite (common + source) as a GX suite dict."""
    common = _read_suite(expectations_dir / f"{COMMON_SUITE}.json")
    specific = _read_suite(expectations_dir / f"{source_id}.json")
    merged: dict[tuple[str, str], dict[str, Any]] = {_key(e): e for e in common["expectations"]}
    for expectation in specific["expectations"]:
        merged[_key(expectation)] = expectation
    expectations = [e for e in merged.values() if not e.get("meta", {}).get("disabled")]
    if international:
        expectations = [e for e in expectations if _key(e)[1] != "in_france"]
    return {"name": f"{source_id}", "expectations": expectations, "meta": specific.get("meta", {})}


def _frame(records: list[dict[str, Any]]):
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    frame["in_france"] = [in_france(r.get("lat"), r.get("lon")) for r in records]
    frame["unmapped_count"] = [len(r.get("unmapped_categories") or ()) for r in records]
    frame["concept_count"] = [len(r.get("concepts") or ()) for r in records]
    return frame


def _reason(config: dict[str, Any], record: dict[str, Any], frame_row: dict[str, Any]) -> str:
    kwargs = config.get("kwargs", {})
    column = kwargs.get("column", "")
    value = frame_row.get(column, record.get(column))
    template = config.get("meta", {}).get("reason")
    if template:
        try:
            return template.format(value=value, record=record, **kwargs)
        except (KeyError, IndexError, ValueError, AttributeError):
            return template
    return f"{column}={value!r} fails {config.get('type')} {json.dumps(kwargs, ensure_ascii=False)}"


def validate_records(records: list[dict[str, Any]], suite: dict[str, Any]) -> ValidationOutcome:
    """Run the suite on the records; every failing record gets one reason per failed expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx  # ≈3 s import: keep it off module import (DAG parsing)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if not records:
        return ValidationOutcome(valid=[], quarantined={}, warnings={})
    frame = _frame(records)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    try:
        gx_suite = gx.ExpectationSuite(**suite)
    except Exception as exc:  # GX raises several pydantic/GX errors for a bad suite file
        raise ConfigError(f"expectation suite {suite.get('name')!r} is invalid: {exc}") from None
    missing = sorted(
        {_key(e)[1] for e in suite["expectations"] if _key(e)[1] and _key(e)[1] not in frame.columns}
    )
    if missing:
        raise ConfigError(f"expectation suite {suite['name']!r} names unknown columns: {', '.join(missing)}")
    batch = (
        context.data_sources.add_pandas("canonical")
        .add_dataframe_asset("records")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(gx_suite, result_format="COMPLETE")

    quarantined: dict[int, list[str]] = {}
    warnings: dict[int, list[str]] = {}
    rows = frame.to_dict("records")
    summary = []
    for expectation_result in result.results:
        config = expectation_result.expectation_config.to_json_dict()
        severity = str(config.get("severity", "critical")).lower()
        if expectation_result.exception_info and expectation_result.exception_info.get("raised_exception"):
            message = expectation_result.exception_info.get("exception_message", "unknown error")
            raise ConfigError(f"expectation {config.get('type')} could not run: {message}")
        failed = list(expectation_result.result.get("unexpected_index_list") or [])
        summary.append(
            {
                "type": config.get("type"),
                "column": config.get("kwargs", {}).get("column"),
                "severity": severity,
                "description": config.get("description") or config.get("meta", {}).get("reason", ""),
                "failed": len(failed),
                "success": bool(expectation_result.success),
            }
        )
        target = quarantined if severity == "critical" else warnings
        for index in failed:
            position = int(index)
            target.setdefault(position, []).append(_reason(config, records[position], rows[position]))
    valid = [i for i in range(len(records)) if i not in quarantined]
    return ValidationOutcome(valid=valid, quarantined=quarantined, warnings=warnings, expectations=summary)
