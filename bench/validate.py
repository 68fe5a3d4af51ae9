"""Validation speed: Great Expectations on canonical records at 10k and 100k, beside plain pandas.

    .venv/bin/python bench/validate.py [--sizes 10000 100000] [--json]

Prints one row per size and method, measured in the same process on the same records: GX (the
project's merged suite for a source, as the pipeline runs it) and plain pandas evaluating the same
critical checks, with the ratio GX / pandas. GX's import time is measured once, in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["GX_ANALYTICS_ENABLED"] = "False"

from bench.synthetic import records
from transiscope.core.geo import in_france
from transiscope.ingest.validate import suite_config, validate_records
from transiscope.settings import PROJECT_ROOT


def pandas_checks(rows: list[dict]) -> set[int]:
    """The critical checks of expectations/initiatives.json, written directly in pandas."""
    import pandas as pd

    frame = pd.DataFrame.from_records(rows)
    france = pd.Series([in_france(r["lat"], r["lon"]) for r in rows])
    bad = (
        frame["source_id"].isna()
        | frame["source_id"].duplicated(keep=False)
        | frame["name"].isna()
        | frame["lat"].isna()
        | frame["lon"].isna()
        | ~frame["lat"].between(-90, 90)
        | ~frame["lon"].between(-180, 180)
        | (france != True)  # noqa: E712 - None counts as failing
        | frame["description"].fillna("").str.contains(r"<\s*/?\s*[A-Za-z!][^>]*>", regex=True)
    )
    return set(frame.index[bad])


def gx_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    suite = suite_config(PROJECT_ROOT / "expectations", "transiscope")
    validate_records(records(100), suite)  # warm-up: GX import and first context
    results = [{"size": 0, "method": "GX import (fresh process)", "seconds": round(gx_import_seconds(), 3)}]
    for size in args.sizes:
        rows = records(size)
        started = time.perf_counter()
        outcome = validate_records(rows, suite)
        gx_seconds = time.perf_counter() - started
        started = time.perf_counter()
        bad = pandas_checks(rows)
        pandas_seconds = time.perf_counter() - started
        assert bad == set(outcome.quarantined), "both methods must quarantine the same records"
        results.append(
            {
                "size": size,
                "method": f"GX suite ({len(suite['expectations'])} expectations)",
                "seconds": round(gx_seconds, 3),
                "records_per_s": round(size / gx_seconds),
                "quarantined": len(outcome.quarantined),
                "warned": len(outcome.warnings),
            }
        )
        results.append(
            {
                "size": size,
                "method": "plain pandas (critical checks only)",
                "seconds": round(pandas_seconds, 3),
                "records_per_s": round(size / pandas_seconds),
                "quarantined": len(bad),
                "ratio_gx_over_pandas": round(gx_seconds / pandas_seconds, 1),
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'records':>8}  {'method':<38} {'seconds':>8} {'records/s':>10} {'quarantined':>11}  ratio")
    for row in results:
        ratio = f"GX/pandas {row['ratio_gx_over_pandas']}×" if "ratio_gx_over_pandas" in row else ""
        print(
            f"{row['size']:>8}  {row['method']:<38} {row['seconds']:>8.3f} {row.get('records_per_s', ''):>10} "
            f"{row.get('quarantined', ''):>11}  {ratio}"
        )


if __name__ == "__main__":
    main()
