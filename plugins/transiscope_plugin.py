"""The Transiscope Airflow plugin: failure notifications, and links from Airflow to the bus's pages.

- A listener: when a DAG run fails (``on_dag_run_failed``, called by the scheduler or by the API when
  an operator marks a run failed), it records a structured event in
  ``$TRANSISCOPE_HOME/events/failures.jsonl`` and posts it to ``TRANSISCOPE_NOTIFY_WEBHOOK_URL`` when set
  (``transiscope.notify``: the failed stage, the error kind and message, the counts, and what the live
  graph holds now).
- Operator extra links on the tasks of the ingest DAGs: the source's quality report and the SPARQL
  query page, served by ``transiscope serve`` at ``TRANSISCOPE_PUBLIC_URL``.
- External views in the Airflow navigation: the SPARQL query page and the index of quality reports.

All the logic is in the ``transiscope`` package (``notify``, ``operations``), tested without Airflow.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from transiscope.operations import (
    public_url,
    report_url,
    reports_index_url,
    source_of_dag_id,
    sparql_page_url,
)

log = logging.getLogger("transiscope.plugin")


class FailureNotifier:
    """Listener: one notification per failed DAG run (not per failed task, not per retry)."""

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        try:
            from transiscope.notify import NotifySettings, notify_failure
            from transiscope.settings import Settings

            notify_failure(
                Settings.from_env(),
                NotifySettings.from_env(),
                dag_id=dag_run.dag_id,
                airflow_run_id=dag_run.run_id,
                message=msg or "",
            )
        except Exception:
            log.exception("transiscope: could not notify the failure of %s %s", dag_run.dag_id, dag_run.run_id)


class QualityReportLink(BaseOperatorLink):
    """On every task of an ingest DAG: the source's quality report (what to fix, and where)."""

    name = "Quality report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        source_id = source_of_dag_id(ti_key.dag_id)
        return report_url(public_url(), source_id) if source_id else ""


class SparqlEndpointLink(BaseOperatorLink):
    """On every task of an ingest DAG: the SPARQL query page over the store the DAG loads."""

    name = "SPARQL endpoint"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return sparql_page_url(public_url()) if source_of_dag_id(ti_key.dag_id) else ""


def _external_views() -> list[dict[str, str]]:
    base = public_url()
    return [
        {"name": "SPARQL endpoint", "href": sparql_page_url(base), "destination": "nav", "category": "Transiscope"},
        {"name": "Quality reports", "href": reports_index_url(base), "destination": "nav", "category": "Transiscope"},
    ]


class TransiscopePlugin(AirflowPlugin):
    name = "transiscope"
    listeners = [FailureNotifier()]
    global_operator_extra_links = [QualityReportLink(), SparqlEndpointLink()]
    external_views = _external_views()
