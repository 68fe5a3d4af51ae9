"""Per-record expectations evaluated over the whole batch at once, the way Great Expectations evaluates them.

Why: for a batch, Great Expectations costs its import (≈2 s, paid again by every Airflow task process), an
ephemeral context and a validator, then one pass per expectation through its metric graph: most of the
validate stage at 100k records, and most of a validate task for 14 records. The checks themselves are a few
vectorised pandas operations. So each expectation *type* the suites use has one evaluator here that
reproduces GX's pandas semantics, and the suites stay the single source of truth:

* nulls (None, NaN, NaT, pd.NA) are skipped by every expectation but ``expect_column_values_to_not_be_null``
  (GX's ``filter_column_isnull``);
* regexes are searched (``re.search``, not anchored) in ``str(value)``;
* ``expect_column_values_to_be_unique`` fails every record of a duplicated value, the first one too;
* ``mostly`` decides the expectation's success, never which records fail;
* ``expect_column_values_to_be_between`` compares numbers with numbers; a text beside a numeric bound is an
  error of the suite, as in GX.

An expectation whose type has no evaluator, or that uses an argument an evaluator does not know
(``row_condition``…), returns ``None`` from :func:`evaluate` and is run by GX itself, once per batch.
``tests/unit/test_expectation_evaluators.py`` checks that GX and these evaluators set aside the same records,
on the samples and on a generated batch with every kind of fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from transiscope.core.errors import ConfigError

#: the arguments every evaluator understands (GX's own ``result_format``/``catch_exceptions`` change nothing
#: about which records fail)
COMMON_KWARGS = frozenset({"column", "mostly", "result_format", "catch_exceptions", "include_config"})


@dataclass(frozen=True)
class Evaluation:
    """Which records fail one expectation, and whether the expectation as a whole succeeds."""

    #: positions (0-based, in the batch) of the records that fail
    failed: list[int]
    #: how many records had a value the expectation looked at
    checked: int
    #: GX's verdict: the share of checked values that pass is at least ``mostly`` (no value: success)
    success: bool


Condition = Callable[[pd.Series, Mapping[str, Any]], "pd.Series[bool]"]


def _text(values: pd.Series) -> pd.Series:
    return values.astype(str)


def _regex_matches(values: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    return _text(values).str.contains(str(kwargs["regex"]), regex=True)


def _in_set(values: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    value_set = kwargs.get("value_set")
    if not isinstance(value_set, list | tuple | set | frozenset):  # GX refuses the suite too
        raise ConfigError(f"value_set must be a list of values, not {value_set!r}")
    return values.isin(list(value_set))


def _within(measured: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise ConfigError("min_value and max_value cannot both be empty")
    if low is not None and high is not None and low > high:
        raise ConfigError("min_value cannot be greater than max_value")
    passes = pd.Series(True, index=measured.index)
    if low is not None:
        passes &= (measured > low) if kwargs.get("strict_min") else (measured >= low)
    if high is not None:
        passes &= (measured < high) if kwargs.get("strict_max") else (measured <= high)
    return passes.astype(bool)


def _between(values: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    bounds = [b for b in (kwargs.get("min_value"), kwargs.get("max_value")) if b is not None]
    numeric_bounds = all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if not numeric_bounds:
            raise ConfigError("column values, min_value and max_value must be of the same type")
        return _within(values.astype("float64"), kwargs)
    # an object column: GX compares value by value and refuses a text beside a number
    if any(isinstance(v, str) != isinstance(b, str) for v in values for b in bounds):
        raise ConfigError("column values, min_value and max_value must either be None or of the same type")
    if numeric_bounds:
        return _within(pd.to_numeric(values), kwargs)
    return pd.Series([_between_one(v, kwargs) for v in values], index=values.index, dtype=bool)


def _between_one(value: Any, kwargs: Mapping[str, Any]) -> bool:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and not (value > low if kwargs.get("strict_min") else value >= low):
        return False
    return high is None or bool(value < high if kwargs.get("strict_max") else value <= high)


def _lengths_between(values: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    return _within(_text(values).str.len(), kwargs)


def _unique(values: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
    return ~values.duplicated(keep=False)


@dataclass(frozen=True)
class Evaluator:
    """How one expectation type decides which checked values pass."""

    condition: Condition | None
    #: arguments of this type beyond :data:`COMMON_KWARGS`
    kwargs: frozenset[str] = frozenset()
    #: ``False`` only for not-null: every other type skips the nulls first
    skips_nulls: bool = True


EVALUATORS: dict[str, Evaluator] = {
    "expect_column_values_to_not_be_null": Evaluator(None, skips_nulls=False),
    "expect_column_values_to_be_unique": Evaluator(_unique),
    "expect_column_values_to_be_in_set": Evaluator(_in_set, frozenset({"value_set"})),
    "expect_column_values_to_match_regex": Evaluator(_regex_matches, frozenset({"regex"})),
    "expect_column_values_to_not_match_regex": Evaluator(
        lambda values, kwargs: ~_regex_matches(values, kwargs), frozenset({"regex"})
    ),
    "expect_column_values_to_be_between": Evaluator(
        _between, frozenset({"min_value", "max_value", "strict_min", "strict_max"})
    ),
    "expect_column_value_lengths_to_be_between": Evaluator(
        _lengths_between, frozenset({"min_value", "max_value", "strict_min", "strict_max"})
    ),
}


def evaluator_for(expectation: Mapping[str, Any]) -> Evaluator | None:
    """The evaluator of this expectation, or ``None`` when GX must run it (unknown type or argument)."""
    evaluator = EVALUATORS.get(str(expectation.get("type", "")))
    kwargs = expectation.get("kwargs") or {}
    if evaluator is None or not set(kwargs) <= COMMON_KWARGS | evaluator.kwargs or "column" not in kwargs:
        return None
    return evaluator


def evaluate(expectation: Mapping[str, Any], frame: pd.DataFrame) -> Evaluation | None:
    """Evaluate one expectation over every record of ``frame`` (one row per record, a RangeIndex).

    Returns ``None`` when the expectation has no evaluator (GX runs it). Raises :class:`ConfigError` when the
    suite asks for something that cannot be computed (bounds of the wrong type, min above max, a bad regex).
    """
    evaluator = evaluator_for(expectation)
    if evaluator is None:
        return None
    kwargs = expectation["kwargs"]
    column = frame[kwargs["column"]]
    present = column.notna().to_numpy(dtype=bool)
    if evaluator.condition is None:
        failing = ~present
        checked = len(column)
    else:
        values = column[present]
        try:
            passes = evaluator.condition(values, kwargs).to_numpy(dtype=bool)
        except ConfigError:
            raise
        except (TypeError, ValueError, KeyError) as exc:  # re.error is a ValueError subclass
            raise ConfigError(f"expectation {expectation.get('type')} could not run: {exc}") from None
        failing = np.zeros(len(column), dtype=bool)
        failing[np.flatnonzero(present)[~passes]] = True
        checked = int(present.sum())
    failed = np.flatnonzero(failing).tolist()
    mostly = float(kwargs.get("mostly", 1.0))
    success = checked == 0 or (checked - len(failed)) / checked >= mostly
    return Evaluation(failed=failed, checked=checked, success=success)
