"""What an operator of the bus sees around a run: pools, run summaries and links to the public pages.

Why here and not in ``dags/`` or ``plugins/``: the DAG files, the Airflow plugin, the notifications and
the CLI all need the same names (which pool a task goes to, where a source's quality report is served)
and the same run summary; keeping them in the core package makes them testable without Airflow. This
module never imports Airflow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from transiscope.registry.sources import Registry
from transiscope.runs import read_run, recent_runs
from transiscope.settings import Settings

#: DAG ids of the ingest DAGs are this prefix + the source id (``dags/transiscope_ingest.py``)
INGEST_DAG_PREFIX = "ingest_"
#: DAG ids of the downstream DAGs are this prefix + the step (``dags/transiscope_downstream.py``)
DOWNSTREAM_DAG_PREFIX = "transiscope_"
#: one slot: the embedded pyoxigraph store takes a single writer (the load, link and gaps tasks)
STORE_WRITE_POOL = "transiscope_store_writes"
#: prefix of the per-host pools that keep requests to one host one at a time
HTTP_POOL_PREFIX = "transiscope_http_"
#: where ``transiscope serve`` (SPARQL endpoint, query page, reports) is reached from a browser
#: the figures of a run summary, in the order the summary line prints them
SUMMARY_COUNTS = ("fetched", "loaded", "quarantined", "warnings", "triples")


def source_asset_name(source_id: str) -> str:
    """Name of the Airflow Asset of a source's live graph (the ingest DAG's outlet, the downstream DAGs'
    schedule): both DAG files build it from here so that they always agree."""
    return f"transiscope_source_{source_id}"


def source_asset_uri(source_id: str) -> str:
    """URI of that Asset; Airflow leaves URIs of an ``x-`` scheme as written (no provider normaliser)."""
    return f"x-transiscope://graph/source/{source_id}"


def source_of_dag_id(dag_id: str) -> str | None:
    """The source id of an ingest DAG, None for any other DAG."""
    return dag_id.removeprefix(INGEST_DAG_PREFIX) if dag_id.startswith(INGEST_DAG_PREFIX) else None


# -- pools -----------------------------------------------------------------------------------------
def host_pool(url: str) -> str | None:
    """The pool of the host ``url`` points to (None when the URL has no host, e.g. a local file)."""
    host = (urlsplit(url).hostname or "").lower()
    return f"{HTTP_POOL_PREFIX}{host}" if host else None


def airflow_pools(registry: Registry, settings: Settings) -> dict[str, dict[str, Any]]:
    """The pools the DAGs use, in the file format of ``airflow pools import``.

    One pool per source host (one request stream at a time towards a partner's server, whatever the
    number of sources it hosts), one for the geocoding service, and the store-writes pool.
    """
    pools: dict[str, dict[str, Any]] = {
        STORE_WRITE_POOL: {
            "slots": settings.store_write_slots,
            "include_deferred": False,
            "description": "Tasks that write the triplestore (load, link, gaps): the embedded store has one writer",
        },
    }
    for source in registry.sources:
        name = host_pool(source.url)
        if name is None:
            continue
        entry = pools.setdefault(name, {"slots": 1, "include_deferred": False, "sources": []})
        entry["sources"].append(source.id)
    if settings.geocode.provider != "none" and (name := host_pool(settings.geocode.url)):
        pools.setdefault(name, {"slots": 1, "include_deferred": False, "sources": []})
        pools[name]["description"] = (
            f"Geocoding service ({settings.geocode.provider}, at most {settings.geocode.rate:g} requests/s per run)"
        )
    for name, entry in pools.items():
        sources = entry.pop("sources", None)
        if sources:
            entry["description"] = (
                f"Rate-limited host {name.removeprefix(HTTP_POOL_PREFIX)}: one extract at a "
                f"time (sources: {', '.join(sources)})"
            )
    return pools


# -- public pages ----------------------------------------------------------------------------------
def public_url(settings: Settings | None = None) -> str:
    """Base URL of ``transiscope serve`` as operators reach it (``TRANSISCOPE_PUBLIC_URL``), for the links the
    Airflow plugin adds, which have no settings at hand."""
    return (settings or Settings.from_env()).public_url


def report_url(base: str, source_id: str, lang: str = "en") -> str:
    """The source's quality report page, as ``transiscope serve`` publishes it under ``/reports/``."""
    return f"{base}/reports/{quote(source_id, safe='')}.{lang}.html"


def sparql_page_url(base: str) -> str:
    """The query page of the SPARQL endpoint (the endpoint itself is ``<base>/sparql``)."""
    return f"{base}/"


def reports_index_url(base: str, lang: str = "en") -> str:
    return f"{base}/reports/index.{lang}.html"


# -- run summaries ---------------------------------------------------------------------------------
def run_summary(run_dir: Path | str) -> dict[str, Any]:
    """A run in a few fields, small enough for XCom: outcome, counts, and the error when it failed."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    counts = run.get("counts") or {}
    summary: dict[str, Any] = {
        "source": run["source"],
        "run_id": run["run_id"],
        "run_dir": str(run_dir),
        "outcome": run.get("outcome"),
        **{name: counts.get(name) for name in SUMMARY_COUNTS},
        "seconds": round(sum(stage.get("seconds", 0) for stage in run.get("stages", {}).values()), 2),
    }
    for key in ("failed_stage", "error_kind", "error", "note"):
        if run.get(key):
            summary[key] = str(run[key])[:500] if key == "error" else run[key]
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    """One line for a task log: what happened and the counts (``-`` where the run did not get that far)."""
    figures = ", ".join(f"{name} {'-' if summary.get(name) is None else summary[name]}" for name in SUMMARY_COUNTS)
    line = f"run {summary['run_id']} of {summary['source']}: {summary['outcome']} ({figures}; {summary['seconds']} s)"
    if summary.get("failed_stage"):
        line += f"; failed at {summary['failed_stage']} ({summary.get('error_kind')}): {summary.get('error')}"
    elif summary.get("note"):
        line += f"; {summary['note']}"
    return line


def find_airflow_run(settings: Settings, source_id: str, airflow_run_id: str, newest: int = 200) -> Path | None:
    """The run directory an Airflow DAG run created (``run.json``'s ``airflow.run_id``), among the
    ``newest`` runs of the source (run ids sort by start time)."""
    for run_dir, run in recent_runs(settings, source_id, newest):
        if (run.get("airflow") or {}).get("run_id") == airflow_run_id:
            return run_dir
    return None


def last_successful_run(settings: Settings, source_id: str, newest: int = 200) -> str | None:
    """The run id whose data the live graph holds (the newest successful run), None if never loaded."""
    for _run_dir, run in recent_runs(settings, source_id, newest):
        if run.get("outcome") == "success":
            return run["run_id"]
    return None


# -- freshness -------------------------------------------------------------------------------------
#: the outcomes that say the live graph is the source's current data (a 304 confirms it without a load)
CONFIRMED = ("success", "not-modified")


def stale_sources(settings: Settings, registry: Registry, when: datetime | None = None) -> list[dict[str, Any]]:
    """The sources whose data nobody has confirmed lately, with why, for the maintenance DAG's alert.

    Stale: ``settings.stale_failures`` failed or rejected runs in a row, or no run confirming the data
    (loaded, or answered "not modified") for ``settings.stale_days`` days. A source that has never run is not
    listed (nothing was expected of it yet), and runs still going are not counted (a first run in progress
    is not "never loaded"). Only the run folders are read (no store), so the check works while the store is
    busy.
    """
    when = when or datetime.now(UTC)
    limit = when - timedelta(days=settings.stale_days)
    alerts: list[dict[str, Any]] = []
    for source in registry.sources:
        # a run still going says nothing yet (a first run in progress is not "never loaded")
        runs = [
            (d, r) for d, r in recent_runs(settings, source.id, newest=200) if r.get("outcome") not in (None, "running")
        ]
        if not runs:
            continue
        failures = 0
        for _run_dir, run in runs:
            if run.get("outcome") not in ("failed", "rejected"):
                break
            failures += 1
        confirmed = next((run for _run_dir, run in runs if run.get("outcome") in CONFIRMED), None)
        last = _time(confirmed.get("ended") or confirmed.get("started")) if confirmed else None
        reasons = []
        if failures >= settings.stale_failures:
            reasons.append(f"{failures} failed runs in a row (last: {runs[0][1].get('error') or 'no message'})")
        if last is None:
            reasons.append("never loaded")
        elif last < limit:
            reasons.append(f"data last confirmed {(when - last).days} days ago")
        if reasons:
            alerts.append(
                {
                    "source": source.id,
                    "reasons": reasons,
                    "consecutive_failures": failures,
                    "last_confirmed": last.isoformat(timespec="seconds") if last else None,
                    "last_run": runs[0][1].get("run_id"),
                }
            )
    return alerts


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
