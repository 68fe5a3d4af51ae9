"""The gaps step end to end: territories graph, placing, indicators, links and cube graphs, files.

Why a plain function: the CLI (``transiscope gaps``) and the Airflow gaps DAG run the same code; it opens the
store itself (one writer) and returns a JSON-friendly summary.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transiscope.core import vocab
from transiscope.core.errors import ConfigError
from transiscope.core.files import atomic_open
from transiscope.downstream.gaps.concepts import GapConcepts, load_taxonomy
from transiscope.downstream.gaps.disagreements import write_disagreements
from transiscope.downstream.gaps.files import (
    aggregates,
    priorities,
    write_aggregates,
    write_csv,
    write_geojson,
    write_priorities,
)
from transiscope.downstream.gaps.graphs import gaps_graph, links_graph, write_cube_ntriples, write_links_ntriples
from transiscope.downstream.gaps.indicators import GapResult, Progress, compute
from transiscope.downstream.gaps.items import Items, insee_codes_from_runs, items_from_store
from transiscope.downstream.gaps.measures import output_value
from transiscope.downstream.gaps.placing import Placement, place
from transiscope.territories.france import ROLE as FRANCE_ROLE
from transiscope.territories.france import france_outline
from transiscope.territories.graph import (
    Territories,
    load_territories,
    territories_graph,
    territories_key,
    territory_files,
    write_territories_ntriples,
)

if TYPE_CHECKING:
    from transiscope.settings import GapsSettings, Settings
    from transiscope.store.base import TripleStore


@dataclass
class GapsSummary:
    """What ``transiscope gaps`` prints and the Airflow task returns (JSON-friendly)."""

    items: int
    placement: dict[str, int]
    disagreements: int
    concepts: int
    triples: dict[str, int]
    files: list[str]
    seconds: dict[str, float]
    national: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _timed(seconds: dict[str, float], name: str, started: float) -> None:
    seconds[name] = round(time.perf_counter() - started, 3)


#: what the store phase leaves for the files phase, in the data home (``<home>/gaps/``)
RESULT_FILE = "result.pickle"
#: bumped when the pickled bundle changes shape, so that a files phase never reads an older one
RESULT_FORMAT = 2


@dataclass
class _Bundle:
    """Everything the files phase needs but the territories and the taxonomy (read again from disk)."""

    format: int
    items: Items
    placement: Placement
    result: GapResult
    gap_settings: GapsSettings


def run_gaps(
    settings: Settings,
    gap_settings: GapsSettings | None = None,
    *,
    out_dir: Path | None = None,
    write_store: bool = True,
    write_files: bool = True,
    progress: Progress | None = None,
) -> GapsSummary:
    """The gaps step end to end: territories graph, placing, indicators, links + cube graphs, files.

    A plain function so that the CLI and the Airflow gaps DAG run the same code; it opens the store itself (one
    writer) and returns a summary. ``out_dir`` defaults to ``<exports>/gaps``.

    ``write_files=False`` is the store phase alone: the Airflow gaps DAG runs it in the store-writes pool, then
    :func:`write_gaps_files` in the default pool, because the commune-level CSV and GeoJSON (a few hundred MB
    for France) need no store and must not hold the store's single writer slot while they are written.
    """
    from transiscope.store.embedded import open_store

    gap_settings = gap_settings or settings.gaps
    progress = progress or (lambda message: None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading territories (COG communes, EPCI, départements, régions)")
    files = _territories_files(settings, progress)
    territories = load_territories(files, settings.cache_dir)
    taxonomy = load_taxonomy(settings.ontology_dir / "taxonomy.ttl")
    _timed(seconds, "territories", started)
    base = settings.base_iri
    triples: dict[str, int] = {}
    work = settings.home / "gaps"
    work.mkdir(parents=True, exist_ok=True)
    with open_store(settings, read_only=not write_store) as store:
        started = time.perf_counter()
        if write_store:
            key = territories_key(files)
            triples["territories"] = _territories_graph(store, territories, key, base, work, progress)
        _timed(seconds, "territories_graph", started)
        started = time.perf_counter()
        progress("reading initiatives and events from the store")
        items = items_from_store(store, base, insee_codes_from_runs(settings))
        _timed(seconds, "read", started)
        started = time.perf_counter()
        progress(f"placing {len(items):,} initiatives and events in their territories")
        france = france_outline(files[FRANCE_ROLE], settings.cache_dir)
        placement = place(territories, items, gap_settings.snap_km, france)
        _timed(seconds, "place", started)
        started = time.perf_counter()
        result = compute(territories, items, placement, taxonomy, gap_settings, progress)
        _timed(seconds, "indicators", started)
        if write_store:
            started = time.perf_counter()
            progress("writing the territory links and the Data Cube into the store")
            links = work / "territory-links.nt"
            write_links_ntriples(territories, items, placement, base, links)
            triples["links"] = store.replace_graph(
                links_graph(base), vocab.staging_graph(base, "territory-links"), links
            )
            cube = work / "gaps.nt"
            write_cube_ntriples(territories, result, base, cube)
            triples["gaps"] = store.replace_graph(gaps_graph(base), vocab.staging_graph(base, "gaps"), cube)
            _timed(seconds, "store", started)
    bundle = _Bundle(RESULT_FORMAT, items, placement, result, gap_settings)
    written: list[Path] = []
    if write_files:
        started = time.perf_counter()
        written = _write_files(territories, taxonomy, bundle, out_dir or settings.exports_dir / "gaps", progress)
        _timed(seconds, "files", started)
    else:
        started = time.perf_counter()
        with atomic_open(work / RESULT_FILE, "wb") as out:
            pickle.dump(bundle, out, protocol=pickle.HIGHEST_PROTOCOL)
        _timed(seconds, "result", started)
    return GapsSummary(
        len(items),
        placement.counts(),
        len(placement.disagreements),
        len(result.concepts),
        triples,
        [str(p) for p in written],
        seconds,
        _national(result, gap_settings),
    )


def write_gaps_files(
    settings: Settings, *, out_dir: Path | None = None, progress: Progress | None = None
) -> GapsSummary:
    """The files phase: the CSV and GeoJSON of the indicators the last store phase computed (no store opened).

    Raises :class:`ConfigError` when no store phase has left its result (run ``transiscope gaps`` first).
    """
    progress = progress or (lambda message: None)
    path = settings.home / "gaps" / RESULT_FILE
    try:
        with path.open("rb") as handle:
            bundle = pickle.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"no gap analysis to write files from ({path} is missing): run the gaps step first") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ConfigError(f"the gap analysis result {path} cannot be read ({exc}): run the gaps step again") from None
    if not isinstance(bundle, _Bundle) or bundle.format != RESULT_FORMAT:
        raise ConfigError(f"the gap analysis result {path} is of an older version: run the gaps step again")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    territories, taxonomy = _territories_and_concepts(settings, progress)
    _timed(seconds, "territories", started)
    started = time.perf_counter()
    written = _write_files(territories, taxonomy, bundle, out_dir or settings.exports_dir / "gaps", progress)
    _timed(seconds, "files", started)
    return GapsSummary(
        len(bundle.items),
        bundle.placement.counts(),
        len(bundle.placement.disagreements),
        len(bundle.result.concepts),
        {},
        [str(p) for p in written],
        seconds,
        _national(bundle.result, bundle.gap_settings),
    )


def _territories_files(settings: Settings, progress: Progress) -> dict[str, Path]:
    return territory_files(
        settings.territories_dir, settings.cache_dir, settings.territories_url, http=settings.http, progress=progress
    )


def _territories_and_concepts(settings: Settings, progress: Progress) -> tuple[Territories, GapConcepts]:
    files = _territories_files(settings, progress)
    return load_territories(files, settings.cache_dir), load_taxonomy(settings.ontology_dir / "taxonomy.ttl")


def _territories_graph(
    store: TripleStore, territories: Territories, key: str, base: str, work: Path, progress: Progress
) -> int:
    """Write the territories graph only when the store does not hold it made from the same files already: its
    key (:func:`territories_key`) is kept beside it in the metadata graph, written after the graph."""
    graph = territories_graph(base)
    meta = vocab.metadata_graph(base)
    held = store.select(f"SELECT ?key WHERE {{ GRAPH <{meta}> {{ <{graph}> <{vocab.DCT}identifier> ?key }} }}")
    if [row["key"].value for row in held] == [key] and (count := store.count(graph)) > 0:
        return count
    path = work / "territories.nt"
    try:
        expected = write_territories_ntriples(territories, base, path)
        progress(f"loading the territories graph ({expected:,} triples)")
        triples = store.replace_graph(graph, vocab.staging_graph(base, "territories"), path)
    finally:
        path.unlink(missing_ok=True)
    store.update(
        f"DELETE WHERE {{ GRAPH <{meta}> {{ <{graph}> <{vocab.DCT}identifier> ?key }} }};\n"
        f'INSERT DATA {{ GRAPH <{meta}> {{ <{graph}> <{vocab.DCT}identifier> "{key}" }} }}'
    )
    return triples


def _write_files(
    territories: Territories, taxonomy: GapConcepts, bundle: _Bundle, out_dir: Path, progress: Progress
) -> list[Path]:
    progress(f"writing CSV and GeoJSON to {out_dir}")
    result = bundle.result
    written = write_csv(territories, result, out_dir)
    placed = Counter(
        source for source, kind in zip(bundle.items.sources, bundle.items.kinds, strict=False) if kind == "initiative"
    )
    written += write_geojson(territories, result, taxonomy, out_dir, dict(placed))
    ranked = write_priorities(priorities(territories, result, taxonomy), out_dir / "gaps-priorities.csv")
    written += [ranked, ranked.with_suffix(".json")]
    written.append(write_aggregates(aggregates(territories, result), result, out_dir / "gaps-aggregates.csv"))
    written.append(write_disagreements(territories, bundle.items, bundle.placement, out_dir / "gaps-disagreements.csv"))
    return written


def _national(result: GapResult, gap_settings: GapsSettings) -> dict[str, dict[str, Any]]:
    return {
        c: {
            "count": int(result.values["france"]["count"][0, k]),
            "median_km": output_value("median_km", result.values["france"]["median_km"][0, k]),
            **{
                f"share_beyond_{t:g}km": output_value("x", result.values["france"][f"share_beyond_{t:g}km"][0, k])
                for t in gap_settings.thresholds_km
            },
        }
        for k, c in enumerate(result.concepts)
        if result.values["france"]["count"][0, k] > 0
    }
