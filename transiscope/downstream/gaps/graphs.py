"""The two named graphs the gaps step writes into the store: territory links and the RDF Data Cube.

Why separate graphs: source graphs are never modified, so the ``ts:inTerritory`` links live in their own graph
and the indicators in the gaps graph, each replaced whole on every run. Both are written as N-Triples files
first, with f-strings: every part of an IRI is a checked code, a taxonomy notation or a fixed measure key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from transiscope.core import vocab
from transiscope.core.geo import LEVELS
from transiscope.downstream.gaps.indicators import GapResult
from transiscope.downstream.gaps.items import Items
from transiscope.downstream.gaps.measures import CAVEAT_EN, CAVEAT_FR, MEASURES, measure_keys
from transiscope.downstream.gaps.placing import Placement
from transiscope.territories.graph import VINTAGE, Territories, territories_graph, territory_iri

QB = "http://purl.org/linked-data/cube#"


def links_graph(base: str) -> str:
    return f"{base}graph/territory-links"


def gaps_graph(base: str) -> str:
    return f"{base}graph/gaps"


def dataset_iri(base: str) -> str:
    return f"{base}id/gaps/{VINTAGE}"


def write_links_ntriples(
    territories: Territories, items: Items, placement: Placement, base: str, destination: Path
) -> int:
    """``<item> ts:inTerritory <unit>`` for every level the item is placed at."""
    import pyoxigraph as ox

    predicate = f"<{vocab.TS}inTerritory>"
    count = 0
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8") as out:
        for level in LEVELS:
            codes = territories.levels[level].codes
            iris = [f"<{territory_iri(base, level, c)}>" for c in codes]
            units = placement.unit[level]
            for i in np.flatnonzero(units >= 0):
                out.write(f"{ox.NamedNode(items.iris[i])} {predicate} {iris[units[i]]} .\n")
                count += 1
    return count


def write_cube_ntriples(
    territories: Territories,
    result: GapResult,
    base: str,
    destination: Path,
    levels: Iterable[str] | None = None,
    generated: str | None = None,
) -> int:
    """The RDF Data Cube: one ``qb:Observation`` per territory × concept × measure (values that exist only).

    Observation IRIs are ``<dataset>/<level>/<code>/<concept>/<measure>``; every part is a checked code, a
    taxonomy notation or a fixed measure key, so the lines are written with f-strings
    rather than built term by term (an EPCI cube with every concept is ~4 M triples).
    """
    import pyoxigraph as ox

    settings = result.settings
    levels = tuple(levels or settings.cube_levels)
    dataset = dataset_iri(base)
    A = f"<{vocab.RDF}type>"
    obs_class = f"<{QB}Observation>"
    in_set = f"<{QB}dataSet> <{dataset}>"
    ref_t, ref_c, measure_type = f"<{vocab.TS}refTerritory>", f"<{vocab.TS}refConcept>", f"<{QB}measureType>"
    threshold = f"<{vocab.TS}thresholdKm>"
    xsd = vocab.XSD
    generated = generated or datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"<{dataset}> {A} <{QB}DataSet> .",
        f"<{dataset}> <{QB}structure> <{vocab.TS}gapIndicators> .",
        f'<{dataset}> <{vocab.DCT}title> "Manques territoriaux ({VINTAGE})"@fr .',
        f'<{dataset}> <{vocab.DCT}title> "Territorial gaps ({VINTAGE})"@en .',
        f"<{dataset}> <{vocab.DCT}description> {ox.Literal(CAVEAT_FR, language='fr')} .",
        f"<{dataset}> <{vocab.DCT}description> {ox.Literal(CAVEAT_EN, language='en')} .",
        f'<{dataset}> <{vocab.DCT}created> "{generated}"^^<{xsd}dateTime> .',
        f'<{dataset}> <{vocab.TS}catchmentKm> "{settings.catchment_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}whiteZoneKm> "{settings.white_zone_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}minimumPopulation> "{settings.min_population}"^^<{xsd}integer> .',
        f"<{dataset}> <{vocab.PROV}used> <{territories_graph(base)}> .",
    ]
    keys = measure_keys(settings)
    kinds = {}
    for key in keys:
        base_key = "share_beyond" if key.startswith("share_beyond_") else key
        prop = f"<{vocab.TS}{MEASURES[base_key][0]}>"
        if key in ("count", "white_communes", "white_population", "priority_rank"):
            kinds[key] = (prop, "integer", base_key)
        elif key == "presence":
            kinds[key] = (prop, "boolean", base_key)
        else:
            kinds[key] = (prop, "decimal", base_key)
    concept_iris = [f"<{vocab.concept_iri(c)}>" for c in result.concepts]
    count = len(lines)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
        for level in levels:
            units = territories.levels[level]
            values = result.values[level]
            for key in keys:
                prop, kind, base_key = kinds[key]
                matrix = values[key]
                slug = key.replace("_", "-")
                extra = ""
                if base_key == "share_beyond":
                    extra = f'{{s}} {threshold} "{key[len("share_beyond_") : -2]}"^^<{xsd}decimal> .\n'
                finite = np.isfinite(matrix)
                finite[:, np.setdiff1d(np.arange(len(result.concepts)), result.active)] = False
                for u, k in zip(*np.nonzero(finite), strict=True):
                    value = matrix[u, k]
                    if kind == "integer":
                        literal = f'"{int(round(value))}"^^<{xsd}integer>'
                    elif kind == "boolean":
                        literal = f'"{"true" if value else "false"}"^^<{xsd}boolean>'
                    else:
                        literal = f'"{value:.6f}"^^<{xsd}decimal>'
                    code = units.codes[u]
                    s = f"<{dataset}/{level}/{code}/{result.concepts[k]}/{slug}>"
                    out.write(
                        f"{s} {A} {obs_class} .\n{s} {in_set} .\n"
                        f"{s} {ref_t} <{territory_iri(base, level, code)}> .\n{s} {ref_c} {concept_iris[k]} .\n"
                        f"{s} {measure_type} {prop} .\n{s} {prop} {literal} .\n" + (extra.format(s=s) if extra else "")
                    )
                    count += 7 if extra else 6
    return count
