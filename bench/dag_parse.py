"""How long Airflow takes to parse the DAG folder (every source's ingest DAG and the downstream DAGs).

The DAG processor re-parses the folder every few minutes and a task's worker parses it before each task, so
the top level of the DAG files must stay cheap; ``tests/dags/test_dagbag.py`` checks that nothing heavy is
imported there, this script gives the figure. Each run is a fresh interpreter (imports included), like a
worker's.

    .venv/bin/python -m bench.dag_parse [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DAGS = PROJECT / "dags"
CODE = (
    "import json, time\n"
    "t = time.monotonic()\n"
    "from pathlib import Path\n"
    "from airflow.dag_processing.dagbag import BundleDagBag\n"
    "imported = time.monotonic() - t\n"
    f"bag = BundleDagBag(dag_folder={str(DAGS)!r}, bundle_path=Path({str(DAGS)!r}))\n"
    "print(json.dumps({'import': imported, 'parse': time.monotonic() - t - imported, 'dags': len(bag.dags),\n"
    "  'errors': len(bag.import_errors)}))\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="transiscope-dag-parse-") as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
        rows = []
        for _ in range(args.runs):
            done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    imports = [r["import"] for r in rows]
    parses = [r["parse"] for r in rows]
    print(f"{rows[0]['dags']} DAGs, {rows[0]['errors']} import errors, {args.runs} fresh interpreters")
    print(f"{'':24}{'min':>8}{'median':>8}{'max':>8}  (seconds)")
    for label, values in (("import Airflow", imports), ("parse the DAG folder", parses)):
        print(f"{label:24}{min(values):8.2f}{statistics.median(values):8.2f}{max(values):8.2f}")
    print(f"parse / import Airflow: {statistics.median(parses) / statistics.median(imports):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
