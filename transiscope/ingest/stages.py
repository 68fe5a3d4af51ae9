"""The stages of one source's run, in their order: the one table the in-process runs, the replays, the
Airflow ingest DAG and the tests read.

Each stage is a function over a run directory (:mod:`transiscope.ingest.stage_functions`), named here by its
dotted path and imported on first use: the DAG files read this table at parse time, and the stages pull in
pandas, Great Expectations and pyoxigraph, which parsing must not import.

The pools are named by what they protect; the DAG factory turns them into Airflow pool names (those
belong to ``transiscope.operations``, above this layer).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

#: the pool of the source's host: one request stream at a time towards a partner's server
SOURCE_HOST_POOL = "source-host"
#: the pool of the geocoding service's host (the default pool when geocoding is off)
GEOCODER_POOL = "geocoder"
#: the store-writes pool: the embedded store takes one writer at a time
STORE_WRITES_POOL = "store-writes"

#: a stage function: run directory, settings (None: from the environment), keyword options -> its statistics
StageFunction = Callable[..., dict[str, Any]]


@functools.cache
def _resolve(path: str) -> StageFunction:
    module, _, name = path.rpartition(".")
    function: StageFunction = getattr(importlib.import_module(module), name)
    return function


@dataclass(frozen=True)
class Stage:
    """One stage of a source's run and how it is scheduled as an Airflow task."""

    name: str  #: the stage's name, its key in ``run.json`` and its task id
    function_path: str  #: dotted path of the stage function, imported on first call
    #: per-task limit, sized for ~10x the largest known source (about 500,000 initiatives)
    execution_timeout: timedelta
    pool: str | None = None  #: one of the ``*_POOL`` names above; None: Airflow's default pool
    #: Airflow retries, only for failures the core marks transient or of the infrastructure (an Execution-API
    #: time-out): a data error fails at once whatever this says
    retries: int = 2
    retry_delay: timedelta | None = None  #: None: the DAG's default
    #: the stage that asks the source: its 304 (or unchanged inputs) ends the run, and a replay starts after it
    fetches: bool = False
    #: the stage that writes the store: its success is the Asset event, a replay without load stops before it
    writes_store: bool = False

    @property
    def function(self) -> StageFunction:
        """The stage function (its module imported now)."""
        return _resolve(self.function_path)

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.function(*args, **kwargs)


_FUNCTIONS = "transiscope.ingest.stage_functions"

STAGES: tuple[Stage, ...] = (
    # HTTP retries with backoff happen inside the extract itself
    Stage("extract", f"{_FUNCTIONS}.extract", timedelta(minutes=30), pool=SOURCE_HOST_POOL, retries=1, fetches=True),
    Stage("normalise", f"{_FUNCTIONS}.normalise", timedelta(minutes=20)),
    # bounded by the run's request budget and the rate limit
    Stage("geocode", f"{_FUNCTIONS}.geocode", timedelta(minutes=30), pool=GEOCODER_POOL),
    Stage("validate", f"{_FUNCTIONS}.validate", timedelta(minutes=20)),
    Stage("to_rdf", f"{_FUNCTIONS}.to_rdf", timedelta(minutes=20)),
    Stage("shapes", f"{_FUNCTIONS}.shapes", timedelta(minutes=20)),
    # retried only while the embedded store is locked by another writer
    Stage(
        "load",
        f"{_FUNCTIONS}.load",
        timedelta(minutes=30),
        pool=STORE_WRITES_POOL,
        retries=3,
        retry_delay=timedelta(minutes=2),
        writes_store=True,
    ),
)

#: the stage names, in their order
NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
#: the stage that asks the source (the first): a replay starts after it
FETCH: Stage = next(stage for stage in STAGES if stage.fetches)
#: the stages a replay runs again on a stored payload (all but the fetch)
REPLAYED: tuple[Stage, ...] = tuple(stage for stage in STAGES if not stage.fetches)


def stage_named(name: str) -> Stage:
    """The stage called ``name`` (KeyError naming the known ones otherwise)."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(f"no stage {name!r} (stages: {', '.join(NAMES)})")
