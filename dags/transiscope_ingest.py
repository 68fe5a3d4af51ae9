"""One ingest DAG per source of the registry: start -> extract -> normalise -> geocode -> validate -> to_rdf
-> shapes -> load.

The DAGs are thin: every step is a call into ``transiscope.jobs`` over the run directory, which is
the only thing that goes through XCom (a string). The ``load`` task carries the source's live graph
as an Asset outlet, so ``link``/``export``/``gaps`` DAGs are triggered only by a load that succeeded.

The tasks of the stages are built from the stage table (``transiscope.ingest.stages``: name, timeout, pool,
retries, whether it fetches or writes the store), one loop, no task body per stage.

Parse-time cost stays small: only the registry (TOML) and the stage table are read here; the stage functions
(pandas, Great Expectations, pyoxigraph) are imported inside the tasks. A registry that cannot be read makes this
file fail to import with the one-line ConfigError message, shown as the import error in Airflow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, get_parsing_context, task
from transiscope_airflow import RetryIfTransient, source_asset

from transiscope import runs
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.stages import GEOCODER_POOL, SOURCE_HOST_POOL, STAGES, STORE_WRITES_POOL, Stage
from transiscope.operations import STORE_WRITE_POOL, host_pool
from transiscope.registry.sources import Source
from transiscope.settings import Settings

log = logging.getLogger("transiscope.dags.ingest")

DAG_ID_PREFIX = "ingest_"
#: the run counts copied into the extra of the Asset event (the load stage returns them)
COUNTS = ("fetched", "loaded", "quarantined", "warnings", "triples")


def dag_id_of(source_id: str) -> str:
    return f"{DAG_ID_PREFIX}{source_id}"


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "transiscope",
    "depends_on_past": False,
    "retries": 0,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=30),
}

#: the limits of the two tasks around the stages (the stages' own are in transiscope.ingest.stages)
START_TIMEOUT = timedelta(minutes=2)
SUMMARY_TIMEOUT = timedelta(minutes=2)
#: tasks without a rate-limited host go to Airflow's default pool
DEFAULT_POOL = "default_pool"


def _doc_md(source: Source, asset: Asset) -> str:
    licence = f"[{source.licence}]({source.licence_url})" if source.licence_url else source.licence
    landing = f"<{source.landing_page}>" if source.landing_page else "not given"
    return f"""\
# Ingest: {source.name}

{source.description or "(no description in the registry)"}

| | |
|---|---|
| source id | `{source.id}` |
| format | `{source.format}` |
| endpoint | `{source.url}` |
| licence | {licence} |
| publisher | {source.publisher or "not given"} |
| maintainer | {source.maintainer or "not given"} |
| landing page | {landing} |
| schedule | `{source.schedule}` |
| produces | Asset `{asset.name}` (`{asset.uri}`), the live graph `<{asset.extra["graph"]}>` |

## Tasks
Each task works on the run directory created by `start` (the only value passed through XCom); the
run's files (`raw.json`, `records.jsonl`, `quarantine.jsonl`, `valid.jsonl`, `triples.nt`, `run.json`)
stay on disk under `TRANSISCOPE_HOME/runs/{source.id}/` for replay and audit.

1. **start**: creates the run directory and `run.json` (runner `airflow`, this DAG id and run id).
2. **extract**: fetches the endpoint over HTTP (timeouts, retries with backoff, size cap) and keeps
   the raw payload. Retried once by Airflow, only for transient failures (unreachable, 429, 5xx).
   A 304, or a payload that with the same mapping and rules is the one the live graph came from (same
   inputs digest, same day), skips the rest of the run: nothing would change. Trigger with the run conf
   `{{"force": true}}` to go through every stage anyway.
3. **normalise**: maps the raw elements to canonical records with the source's declarative mapping;
   deleted, unreadable and duplicate elements go to quarantine with a reason.
4. **geocode**: places records without a usable point (cached geocoding within a per-run request budget,
   else the commune's reference point) and checks the points given (swapped, (0, 0), far from their commune).
5. **validate**: runs the source's Great Expectations suite; failing records go to quarantine,
   batch-level failures stop the run.
6. **to_rdf**: writes the valid records as N-Triples with stable IRIs.
7. **shapes**: checks those triples against the SHACL shapes (`ontology/shapes.ttl`); a record that
   violates a shape goes to quarantine with the shape's message, and the triples are written again.
8. **load**: checks the batch (no collapse, counts add up), loads a staging graph and swaps it for
   the live graph in one transaction, with the run's provenance. Emits the Asset event on success.
   Retried up to 3 times, only when the embedded store is locked by another load.
9. **summary** (a teardown: runs even when a step failed, and does not decide the run's state): logs
   one line with the outcome and the counts (fetched, loaded, quarantined, warnings, triples) and
   returns them as its XCom, with the failed stage and the error when the run failed.

Pools: `extract` runs in the pool of the source's host, `geocode` in the geocoder's, `load` in
`transiscope_store_writes` (one slot); `transiscope airflow-pools` writes them for `airflow pools import`.

Every run, failed or not, refreshes the source's quality report (`TRANSISCOPE_HOME/reports/`).
A failed run is notified (`plugins/transiscope_plugin.py`): an event in
`TRANSISCOPE_HOME/events/failures.jsonl`, and a POST to `TRANSISCOPE_NOTIFY_WEBHOOK_URL` when set.

A failed task leaves the live graph as it was; the failure is recorded in `run.json` and in the
store's metadata graph.
"""


def build_dag(source: Source, settings: Settings):
    """The ingest DAG of one source; per-source values are bound here, never as DAG params."""
    source_id = source.id
    asset = source_asset(source_id, settings.base_iri)
    geocoder_pool = (host_pool(settings.geocode.url) if settings.geocode.provider != "none" else None) or DEFAULT_POOL
    # One pool per source host (`transiscope airflow-pools`): one extract at a time towards a partner. The
    # store-writes pool has one slot: loads queue in Airflow rather than hit the embedded store's lock.
    pools = {
        SOURCE_HOST_POOL: host_pool(source.url) or DEFAULT_POOL,
        GEOCODER_POOL: geocoder_pool,
        STORE_WRITES_POOL: STORE_WRITE_POOL,
    }

    @dag(
        dag_id=dag_id_of(source_id),
        description=f"Ingest {source.name} ({source.format}) into its live graph",
        schedule=source.schedule,
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        # no backfill: a run fetches the source as it is now, whatever its logical date says
        allowed_run_types=("scheduled", "manual"),
        default_args=DEFAULT_ARGS,
        tags=["transiscope", "ingest", source.format],
        doc_md=_doc_md(source, asset),
    )
    def ingest() -> None:
        @task(task_id="start", execution_timeout=START_TIMEOUT, retries=2, retry_policy=RetryIfTransient())
        def start() -> str:
            from airflow.sdk import get_current_context

            from transiscope.ingest.run_context import start_run

            context = get_current_context()
            # a run triggered with {"force": true} goes through every stage even if the inputs are unchanged
            conf = getattr(context.get("dag_run"), "conf", None) or {}
            run_dir = start_run(
                source_id,
                runner="airflow",
                airflow={"dag_id": context["dag"].dag_id, "run_id": context["run_id"]},
                force=bool(conf.get("force")),
            )
            log.info("run directory: %s", run_dir)
            return str(run_dir)

        # A teardown: it runs whatever happened upstream, and its own state does not decide the run's.
        @task(task_id="summary", execution_timeout=SUMMARY_TIMEOUT, retries=2, retry_policy=RetryIfTransient())
        def summary() -> dict[str, Any] | None:
            from airflow.sdk import get_current_context

            from transiscope.operations import run_summary, summary_line

            run_dir = get_current_context()["ti"].xcom_pull(task_ids="start")
            if not run_dir:
                log.warning("no run directory: the start task did not complete")
                return None
            result = run_summary(run_dir)
            log.info("%s", summary_line(result))
            return result  # a few hundred bytes: XCom stays small

        # start, then the stages in the order of the table, each passing the run directory on
        passed = start()
        for stage in STAGES:
            passed = _stage_task(stage, source_id, asset, pools, settings.retry_delay)(passed)
        passed >> summary().as_teardown()

    return ingest()


def _stage_task(
    stage: Stage, source_id: str, asset: Asset, pools: dict[str, str], retry_delay: float | None = None
) -> Any:
    """The task of one stage: a call into ``transiscope.jobs`` over the run directory, which it passes on.

    The fetch's "not modified" skips the later tasks, so no Asset event wakes the downstream DAGs. The
    stage that writes the store carries the source's live graph as its outlet: its event is emitted only
    when the swap succeeded, and says which run and how much. Retries (extract: the source unreachable;
    load: the embedded store locked by another writer) are only for failures the core marks transient.
    """
    options: dict[str, Any] = {"retries": stage.retries} if stage.retries else {}
    if stage.retries:
        options["retry_policy"] = RetryIfTransient()
    if retry_delay is not None:  # the operator's, for every task (TRANSISCOPE_RETRY_DELAY)
        options["retry_delay"] = timedelta(seconds=retry_delay)
    elif stage.retry_delay is not None:
        options["retry_delay"] = stage.retry_delay
    if stage.writes_store:
        options["outlets"] = [asset]

    @task(
        task_id=stage.name,
        execution_timeout=stage.execution_timeout,
        pool=pools.get(stage.pool or "", DEFAULT_POOL),
        **options,
    )
    def run_stage(run_dir: str) -> str:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from transiscope import jobs

        stats = jobs.run_stage(stage.name, run_dir)
        if stage.fetches and stats.get("not_modified"):
            raise AirflowSkipException(stats["note"])
        _report(stats)
        if stage.writes_store:
            get_current_context()["outlet_events"][asset].extra = {
                "source": source_id,
                "run_id": runs.read_run(run_dir)["run_id"],
                **{name: stats[name] for name in COUNTS if name in stats},
            }
        return run_dir

    return run_stage


def _report(stats: dict[str, Any]) -> str:
    """Log a stage's statistics; only the run directory goes on to the next task."""
    log.info("%s: %s", stats["stage"], {k: v for k, v in stats.items() if k not in ("stage", "run_dir")})
    return stats["run_dir"]


def build_dags() -> dict[str, Any]:
    """Every source's DAG, or only the one a worker is about to run a task of."""
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path)  # a ConfigError here is the import error
    wanted = get_parsing_context().dag_id
    return {
        dag_id_of(source.id): build_dag(source, settings)
        for source in registry.sources
        if wanted is None or wanted == dag_id_of(source.id)
    }


# the @dag calls register every DAG they build with the file being parsed: no module globals needed
build_dags()
