"""The gaps step end to end: territories graph, placing, indicators, links and cube graphs, files.

Why a plain function: the CLI (``transiscope gaps``) and the Airflow gaps DAG run the same code; it opens the
store itself (one writer) and returns a JSON-friendly summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transiscope.core import vocab
from transiscope.downstream.gaps.concepts import load_taxonomy
from transiscope.downstream.gaps.disagreements import write_disagreements
from transiscope.downstream.gaps.files import priorities, write_csv, write_geojson, write_priorities
from transiscope.downstream.gaps.graphs import gaps_graph, links_graph, write_cube_ntriples, write_links_ntriples
from transiscope.downstream.gaps.indicators import Progress, compute
from transiscope.downstream.gaps.items import insee_codes_from_runs, items_from_store
from transiscope.downstream.gaps.measures import output_value
from transiscope.downstream.gaps.placing import place
from transiscope.territories.graph import (
    load_territories,
    territories_graph,
    territory_files,
    write_territories_ntriples,
)

if TYPE_CHECKING:
    from transiscope.settings import GapsSettings, Settings


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


def run_gaps(
    settings: Settings,
    gap_settings: GapsSettings | None = None,
    *,
    out_dir: Path | None = None,
    write_store: bool = True,
    progress: Progress | None = None,
) -> GapsSummary:
    """The gaps step end to end: territories graph, placing, indicators, links + cube graphs, files.

    A plain function so that the CLI and the future Airflow gaps DAG run the same code; it opens the store
    itself (one writer) and returns a summary. ``out_dir`` defaults to ``<exports>/gaps``.
    """
    from transiscope.store.embedded import open_store

    gap_settings = gap_settings or settings.gaps
    progress = progress or (lambda message: None)
    out_dir = out_dir or settings.exports_dir / "gaps"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress("loading territories (COG communes, EPCI, départements, régions)")
    files = territory_files(
        settings.territories_dir, settings.cache_dir, settings.territories_url, http=settings.http, progress=progress
    )
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
            graph = territories_graph(base)
            path = work / "territories.nt"
            expected = write_territories_ntriples(territories, base, path)
            if store.count(graph) != expected:
                progress(f"loading the territories graph ({expected:,} triples)")
                triples["territories"] = store.replace_graph(graph, vocab.staging_graph(base, "territories"), path)
            else:
                triples["territories"] = expected
            path.unlink(missing_ok=True)
        _timed(seconds, "territories_graph", started)
        started = time.perf_counter()
        progress("reading initiatives and events from the store")
        items = items_from_store(store, base, insee_codes_from_runs(settings))
        _timed(seconds, "read", started)
        started = time.perf_counter()
        progress(f"placing {len(items):,} initiatives and events in their territories")
        placement = place(territories, items, gap_settings.snap_km)
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
    started = time.perf_counter()
    progress(f"writing CSV and GeoJSON to {out_dir}")
    written = write_csv(territories, result, out_dir)
    written += write_geojson(territories, result, taxonomy, out_dir)
    written.append(write_priorities(priorities(territories, result, taxonomy), out_dir / "gaps-priorities.csv"))
    written.append(write_disagreements(territories, items, placement, out_dir / "gaps-disagreements.csv"))
    _timed(seconds, "files", started)
    national = {
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
    return GapsSummary(
        len(items),
        placement.counts(),
        len(placement.disagreements),
        len(result.concepts),
        triples,
        [str(p) for p in written],
        seconds,
        national,
    )
