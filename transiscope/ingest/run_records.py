"""A run's record (its PROV activity) in the store's metadata graph: written now when the store can be
written, otherwise kept in the run folder and written by the next writer.

Why: the metadata graph is where ``transiscope status``, the analysts and the reports' trends look for the
runs, failed ones too. But a run often fails *because* of the store (another writer holds the embedded store,
the remote one is unreachable), and its record was then silently lost. Now the run folder is marked first
(:func:`transiscope.runs.mark_pending`), the record written, and the mark removed; a mark left behind is
written by whoever next opens the store for writing (the load stage, the link and gaps steps, the SPARQL
endpoint's updates, the next failure), before its own work.

Writing a record is idempotent: the provenance updates replace whatever the metadata graph held about the
run (see :mod:`transiscope.store.provenance`), so a run has exactly one outcome there however many times
it is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from transiscope.core.errors import TransiscopeError
from transiscope.ingest.mappings import load_registry
from transiscope.registry.sources import Registry, Source
from transiscope.runs import RunState, clear_pending, is_pending, mark_pending, pending_runs
from transiscope.settings import Settings
from transiscope.store import provenance
from transiscope.store.base import TripleStore
from transiscope.store.embedded import open_store

log = logging.getLogger(__name__)

#: outcomes whose record is written by the load itself, in the transaction of the graph swap, or not yet due
_NOT_RECORDED_HERE = ("running", "success")


def record_run(settings: Settings, run_dir: Path, run: RunState) -> bool:
    """Write the record of a run that ended without a load (failed, rejected, not modified) to the metadata
    graph, with any record still pending; False when the store cannot be written now (the record is then
    pending in the run folder, for the next writer)."""
    mark_pending(run_dir)
    try:
        with open_store(settings) as store:
            write_pending(store, settings)
    except (TransiscopeError, OSError) as exc:
        log.warning(
            "run %s of %s: record kept in its run folder until the store can be written (%s)",
            run["run_id"],
            run["source"],
            exc,
        )
        return False
    return not is_pending(run_dir)


def write_pending(store: TripleStore, settings: Settings) -> int:
    """Write the pending records of every source into ``store`` (a session open for writing); returns how
    many were written. A record that cannot be built (its source left the registry, its registry is
    unreadable) stays pending and is logged; it never fails the writer's own work."""
    registries: dict[str, Registry] = {}
    written = 0
    for run_dir, run in pending_runs(settings):
        if run.get("outcome") in _NOT_RECORDED_HERE:
            clear_pending(run_dir)  # started again: its end writes its own record
            continue
        try:
            store.update(provenance.failure_update(_source_of(run, registries), run, settings.base_iri))
        except (TransiscopeError, OSError, KeyError, ValueError) as exc:
            log.warning("run %s of %s: cannot write its record yet: %s", run.get("run_id"), run.get("source"), exc)
            continue
        clear_pending(run_dir)
        written += 1
    return written


def write_pending_now(settings: Settings) -> int:
    """Write the pending records in a session of their own, for a writer whose session is not at hand
    (one that opens the store itself); a busy store leaves them for the next writer."""
    if next(pending_runs(settings), None) is None:
        return 0  # the usual case: no session opened, no lock taken
    try:
        with open_store(settings) as store:
            return write_pending(store, settings)
    except (TransiscopeError, OSError) as exc:
        log.warning("pending run records not written yet: %s", exc)
        return 0


def _source_of(run: dict[str, Any], registries: dict[str, Registry]) -> Source:
    path = run["registry"]
    if path not in registries:
        registries[path] = load_registry(Path(path))
    return registries[path].get(run["source"])
