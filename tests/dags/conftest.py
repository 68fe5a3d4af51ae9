"""Airflow for the DAG tests: an isolated AIRFLOW_HOME and SQLite DB, set before airflow is imported.

Airflow reads its configuration when it is first imported, so the environment is set here, at import
time of this conftest (pytest imports it before the test modules of this folder). The DB is migrated
once per session, in a subprocess that inherits this environment.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT / "dags"
PROJECT_REGISTRY = PROJECT / "transforms" / "sources.toml"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="transiscope-airflow-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "GX_ANALYTICS_ENABLED": "False",
}
if "airflow" in sys.modules:  # too late: its configuration was read from another environment
    raise RuntimeError("airflow was imported before tests/dags/conftest.py could configure it")
os.environ.update(AIRFLOW_ENV)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The migrated Airflow DB of this session (``airflow db migrate`` once, ~3 s on SQLite)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"airflow db migrate: {time.monotonic() - started:.1f} s")
    from airflow.configuration import conf

    conn = conf.get("database", "sql_alchemy_conn")
    assert conn == AIRFLOW_ENV["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], f"airflow uses another DB: {conn}"
    return _AIRFLOW_HOME


@pytest.fixture
def dagbag_of(airflow_db: Path, monkeypatch: pytest.MonkeyPatch):
    """Parse the DAG folder under the current environment (after fixtures have set TRANSISCOPE_*), as the
    dag-processor and the task runner do: a bundle DagBag, whose folder is on ``sys.path`` (the DAG files
    share ``transiscope_airflow``)."""

    def parse(registry: Path | None = None):
        from airflow.dag_processing.dagbag import BundleDagBag

        if registry is not None:
            monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER)

    return parse
