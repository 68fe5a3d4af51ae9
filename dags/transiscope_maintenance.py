"""The maintenance DAG, ``transiscope_maintenance``, daily: the freshness alert and the run-folder retention.

``freshness`` notifies, once a day per source, the sources whose data nobody has confirmed lately (failed runs
in a row, or no load nor "not modified" answer for days: ``TRANSISCOPE_STALE_*``), through the same events file
and webhook as failed runs. ``prune`` then removes the run folders beyond ``TRANSISCOPE_KEEP_RUNS`` per source,
never one the bus still needs (``transiscope prune`` is the same code). Neither task touches the store.

Parse-time cost stays small: nothing but the settings is read here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from transiscope_airflow import RetryIfTransient

log = logging.getLogger("transiscope.dags.maintenance")

DAG_ID = "transiscope_maintenance"


@dag(
    dag_id=DAG_ID,
    description="Freshness alert per source and run-folder retention",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args={"owner": "transiscope", "retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["transiscope", "maintenance"],
    doc_md=__doc__,
)
def maintenance() -> None:
    @task(task_id="freshness", execution_timeout=timedelta(minutes=10), retry_policy=RetryIfTransient())
    def freshness() -> list[dict[str, Any]]:
        from transiscope.ingest.mappings import load_registry
        from transiscope.notify import notify_stale
        from transiscope.operations import stale_sources
        from transiscope.settings import Settings

        settings = Settings.from_env()
        alerts = stale_sources(settings, load_registry(settings.registry_path))
        notify_stale(settings, settings.notify, alerts)
        log.info("%d stale source(s)%s", len(alerts), "".join(f"; {a['source']}" for a in alerts))
        return alerts

    @task(task_id="prune", execution_timeout=timedelta(minutes=30), retry_policy=RetryIfTransient())
    def prune() -> dict[str, int]:
        from transiscope.jobs import prune as prune_runs
        from transiscope.settings import Settings

        results = prune_runs(Settings.from_env())
        removed = {r.source: len(r.removed) for r in results if r.removed}
        log.info("removed %d run folder(s): %s", sum(removed.values()), removed or "none")
        return removed

    freshness() >> prune()


maintenance()
