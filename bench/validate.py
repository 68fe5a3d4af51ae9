"""Validation speed: the suite run by Great Expectations and by the vectorised evaluators, beside plain pandas.

    .venv/bin/python bench/validate.py [--sizes 10000 100000] [--json]

Prints one row per size and method, measured in the same process on the same records: the project's
merged suite for a source run whole by GX (``engine="gx"``, what the pipeline did before) and by the
vectorised evaluators (``engine="auto"``, what it does now), and plain pandas evaluating the critical checks
only (the floor), with the ratios to the floor. Then what a validate task of 14 records costs in a fresh
process (an Airflow task): import and validation, with each engine.
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


def fresh_process_seconds(engine: str, size: int = 14) -> float:
    """A fresh interpreter importing the validation and validating ``size`` records: one Airflow task."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from bench.synthetic import records\n"
        "from transiscope.ingest.validate import suite_config, validate_records\n"
        "from transiscope.settings import PROJECT_ROOT\n"
        "suite = suite_config(PROJECT_ROOT / 'expectations', 'transiscope')\n"
        f"validate_records(records({size}), suite, engine={engine!r})\n"
        "print(time.perf_counter() - t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
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
    validate_records(records(100), suite, engine="gx")  # warm-up: GX import and first context
    results: list[dict] = [
        {"size": 0, "method": "GX import (fresh process)", "seconds": round(gx_import_seconds(), 3)},
        *(
            {
                "size": 14,
                "method": f"validate task, fresh process: {name}",
                "seconds": round(fresh_process_seconds(e), 3),
            }
            for name, e in (("GX", "gx"), ("evaluators", "auto"))
        ),
    ]
    for size in args.sizes:
        rows = records(size)
        timed = {}
        outcomes = {}
        for engine in ("gx", "auto"):
            started = time.perf_counter()
            outcomes[engine] = validate_records(rows, suite, engine=engine)
            timed[engine] = time.perf_counter() - started
        started = time.perf_counter()
        bad = pandas_checks(rows)
        pandas_seconds = time.perf_counter() - started
        assert bad == set(outcomes["gx"].quarantined) == set(outcomes["auto"].quarantined), "same records set aside"
        assert outcomes["gx"].warnings == outcomes["auto"].warnings, "same warnings"
        for engine, name in (("gx", "GX, whole suite"), ("auto", "vectorised evaluators")):
            results.append(
                {
                    "size": size,
                    "method": f"{name} ({len(suite['expectations'])} expectations)",
                    "seconds": round(timed[engine], 3),
                    "records_per_s": round(size / timed[engine]),
                    "quarantined": len(outcomes[engine].quarantined),
                    "warned": len(outcomes[engine].warnings),
                    "ratio_to_pandas": round(timed[engine] / pandas_seconds, 1),
                }
            )
        results.append(
            {
                "size": size,
                "method": "plain pandas (critical checks only)",
                "seconds": round(pandas_seconds, 3),
                "records_per_s": round(size / pandas_seconds),
                "quarantined": len(bad),
                "ratio_to_pandas": 1.0,
            }
        )
        results.append({"size": size, "method": "GX / evaluators", "ratio": round(timed["gx"] / timed["auto"], 1)})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'records':>8}  {'method':<42} {'seconds':>8} {'records/s':>10} {'quarantined':>11}  ratio")
    for row in results:
        if "ratio" in row:
            print(f"{row['size']:>8}  {row['method']:<42} {'':>8} {'':>10} {'':>11}  {row['ratio']}×")
            continue
        ratio = f"{row['ratio_to_pandas']}× pandas" if "ratio_to_pandas" in row else ""
        print(
            f"{row['size']:>8}  {row['method']:<42} {row['seconds']:>8.3f} {row.get('records_per_s', ''):>10} "
            f"{row.get('quarantined', ''):>11}  {ratio}"
        )


if __name__ == "__main__":
    main()
