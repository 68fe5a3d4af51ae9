"""The DAGs after the loads: ``transiscope_link``, ``transiscope_gaps`` and ``transiscope_export``.

Link and gaps are scheduled on the source Assets (any source whose load succeeded, ``AssetAny``); export on
the links Asset the link DAG emits, so it runs after the link step and credits the current links. A source's
new data thus reaches the links, the gap analysis and the map's files without anyone triggering them. Each DAG is
one task calling ``transiscope.downstream.steps``, the code ``transiscope run`` runs after its sources; it reads
the store, never the run files. ``max_active_runs=1`` and the store-writes pool (link and gaps write the
store) keep them from running over each other or over a load on the embedded store's single writer.

Parse-time cost stays small: only the registry (TOML) is read here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetAny, dag, task
from transiscope_airflow import RetryIfTransient, source_asset

from transiscope.downstream.steps import TASKS, WRITES_STORE
from transiscope.ingest.mappings import load_registry
from transiscope.operations import DOWNSTREAM_DAG_PREFIX, STORE_WRITE_POOL
from transiscope.settings import Settings

log = logging.getLogger("transiscope.dags.downstream")

DAG_ID_PREFIX = DOWNSTREAM_DAG_PREFIX
DEFAULT_POOL = "default_pool"

#: step -> (what it does, execution timeout of each of its tasks); which tasks write the store: WRITES_STORE
STEPS: dict[str, tuple[str, timedelta]] = {
    "link": (
        "Finds the same initiative across sources: owl:sameAs links, candidates for human review, "
        "consolidated initiatives, the overlap between sources (links graph).",
        timedelta(hours=1),
    ),
    "gaps": (
        "Places every initiative and event in its territories and measures, per territory and taxonomy "
        "concept, counts, distances, accessibility and priority territories (gaps graph and files).",
        timedelta(hours=1),
    ),
    "export": (
        "Writes the map's and the agenda's files from the store (GoGoCarto JSON, GeoJSON, JSON-LD, CSV, "
        "iCalendar), with licences and credits.",
        timedelta(minutes=30),
    ),
}


GAPS_FILES = """Two tasks: `gaps` computes the indicators and writes the graphs in the store-writes pool, then
`gaps_files` writes the CSV and GeoJSON files (a few hundred MB at commune level) in the default pool, so
that the files never hold the store's single writer slot.
"""

#: emitted by the link DAG; the export DAG is scheduled on it, so each export credits the current links
LINKS_ASSET = Asset(name="transiscope_links", uri="x-transiscope://graph/links", group="transiscope")


def _task(task_id: str, timeout: timedelta, outlets: list[Asset]) -> Any:
    """One task of a downstream DAG: the store-writes pool only for the tasks that write the store."""

    @task(
        task_id=task_id,
        execution_timeout=timeout,
        pool=STORE_WRITE_POOL if task_id in WRITES_STORE else DEFAULT_POOL,
        retry_policy=RetryIfTransient(),
        outlets=outlets,
    )
    def run(*, triggering_asset_events: Any = None, outlet_events: Any = None) -> dict[str, Any]:
        from transiscope.jobs import run_task

        result = run_task(task_id, Settings.from_env(), progress=log.info)
        log.info("%s: %s (%.1f s)", task_id, result.line, result.seconds)
        if outlets:  # say which source runs this link run followed
            runs = sorted(
                {
                    str(event.extra.get("run_id"))
                    for events in (triggering_asset_events or {}).values()
                    for event in events
                    if event.extra.get("run_id")
                }
            )
            outlet_events[LINKS_ASSET].extra = {"after_runs": runs, "same_as": result.figures.get("same_as")}
        return result.as_dict()

    return run


def build_dag(step: str, schedule: Any):
    """One downstream DAG; ``step`` is bound here, never as a DAG param."""
    what, timeout = STEPS[step]
    outlets = [LINKS_ASSET] if step == "link" else []
    when = (
        "Scheduled on the links Asset, which the link DAG emits after each of its runs: the exports follow "
        "the loads through the link step, so a consolidated marker credits the current links."
        if step == "export"
        else "Scheduled on the Assets of every source's live graph: it runs after any load that succeeded."
    )

    @dag(
        dag_id=f"{DAG_ID_PREFIX}{step}",
        description=what.split(":")[0].split(",")[0],
        schedule=schedule,
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        # they only follow the loads: paused, the loads made meanwhile would wake nothing
        is_paused_upon_creation=False,
        default_args={"owner": "transiscope", "retries": 2, "retry_delay": timedelta(minutes=2)},
        tags=["transiscope", "downstream", step],
        doc_md=f"""### Transiscope: {step}

{what}

{when}
The same step runs in `transiscope run` after its sources, and alone with `transiscope downstream {step}`.
{GAPS_FILES if step == "gaps" else ""}
Its one-line result is in the task log and in the XCom of the task; a failure fails the task with the
bus's one-line message, retried twice only when transient (the embedded store locked by a load).
""",
    )
    def downstream() -> None:
        previous = None
        for task_id in TASKS[step]:
            current = _task(task_id, timeout, outlets if task_id == "link" else [])()
            if previous is not None:
                previous >> current
            previous = current

    return downstream()


def build_dags() -> dict[str, Any]:
    settings = Settings.from_env()
    registry = load_registry(settings.registry_path)  # a ConfigError here is the import error
    # the same Assets as the ingest DAGs' outlets (name, URI and extra)
    assets = [source_asset(s.id, settings.base_iri) for s in registry.sources]
    schedule = AssetAny(*assets) if assets else None
    return {
        f"{DAG_ID_PREFIX}{step}": build_dag(step, [LINKS_ASSET] if step == "export" else schedule) for step in STEPS
    }


# the @dag calls register every DAG they build with the file being parsed: no module globals needed
build_dags()
