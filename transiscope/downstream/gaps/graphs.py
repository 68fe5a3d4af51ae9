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
from transiscope.downstream.gaps.measures import CAVEAT_EN, CAVEAT_FR, INTEGER_MEASURES, MEASURES, measure_keys
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


def measure_dataset_iri(base: str, base_key: str) -> str:
    """The ``qb:DataSet`` of one measure (``share_beyond``: every threshold, the threshold a dimension)."""
    return f"{dataset_iri(base)}/{base_key.replace('_', '-')}"


def _kind(base_key: str) -> str:
    if base_key in INTEGER_MEASURES:
        return "integer"
    return "boolean" if base_key == "presence" else "decimal"


def structure_lines(base: str) -> list[str]:
    """One dataset and one ``qb:DataStructureDefinition`` per measure, as N-Triples lines.

    Why one dataset per measure and not one with a ``qb:measureType`` dimension: a measure-dimension cube needs
    every measure for every territory × concept (integrity constraint IC-17), and some measures have no value
    for some territories (no z-score below the minimum population, no median distance where more than half
    the population has nothing in its zone); and the distance shares of one territory and concept differ only
    by their threshold, which must be a dimension for IC-12 ("no duplicate observations") to hold.
    """
    A = f"<{vocab.RDF}type>"
    lines = []
    parent = dataset_iri(base)
    for base_key, (local, fr, en, _) in MEASURES.items():
        data = measure_dataset_iri(base, base_key)
        dsd = f"{data}/structure"
        fr_label = fr.replace("{t} km", "du seuil").format(w="ts:whiteZoneKm", c="ts:catchmentKm")
        en_label = en.replace("{t} km", "the threshold").format(w="ts:whiteZoneKm", c="ts:catchmentKm")
        lines += [
            f"<{data}> {A} <{QB}DataSet> .",
            f"<{data}> <{QB}structure> <{dsd}> .",
            f"<{data}> <{vocab.DCT}isPartOf> <{parent}> .",
            f"<{parent}> <{vocab.DCT}hasPart> <{data}> .",
            f"<{data}> <{vocab.RDFS}label> {_literal(fr_label, 'fr')} .",
            f"<{data}> <{vocab.RDFS}label> {_literal(en_label, 'en')} .",
            f"<{dsd}> {A} <{QB}DataStructureDefinition> .",
        ]
        dimensions = ["refTerritory", "refConcept"] + (["thresholdKm"] if base_key == "share_beyond" else [])
        for order, dimension in enumerate(dimensions, start=1):
            component = f"<{dsd}/{dimension}>"
            lines += [
                f"<{dsd}> <{QB}component> {component} .",
                f"{component} <{QB}dimension> <{vocab.TS}{dimension}> .",
                f'{component} <{QB}order> "{order}"^^<{vocab.XSD}integer> .',
            ]
        lines += [f"<{dsd}> <{QB}component> <{dsd}/{local}> .", f"<{dsd}/{local}> <{QB}measure> <{vocab.TS}{local}> ."]
    return lines


def _literal(text: str, language: str) -> str:
    import pyoxigraph as ox

    return str(ox.Literal(text, language=language))


def write_cube_ntriples(
    territories: Territories,
    result: GapResult,
    base: str,
    destination: Path,
    levels: Iterable[str] | None = None,
    generated: str | None = None,
) -> int:
    """The RDF Data Cube: one ``qb:DataSet`` per measure (:func:`structure_lines`), one ``qb:Observation`` per
    territory × concept (× threshold) in each, for the values that exist.

    Observation IRIs are ``<dataset>/<level>/<code>/<concept>/<measure>``; every part is a checked code, a
    taxonomy notation or a fixed measure key, so the lines are written with f-strings
    rather than built term by term (an EPCI cube with every concept is ~4 M triples).
    """
    settings = result.settings
    levels = tuple(levels or settings.cube_levels)
    dataset = dataset_iri(base)
    A = f"<{vocab.RDF}type>"
    obs_class = f"<{QB}Observation>"
    ref_t, ref_c = f"<{vocab.TS}refTerritory>", f"<{vocab.TS}refConcept>"
    threshold = f"<{vocab.TS}thresholdKm>"
    xsd = vocab.XSD
    generated = generated or datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"<{dataset}> {A} <{vocab.DCAT}Dataset> .",
        f'<{dataset}> <{vocab.DCT}title> "Manques territoriaux ({VINTAGE})"@fr .',
        f'<{dataset}> <{vocab.DCT}title> "Territorial gaps ({VINTAGE})"@en .',
        f"<{dataset}> <{vocab.DCT}description> {_literal(CAVEAT_FR, 'fr')} .",
        f"<{dataset}> <{vocab.DCT}description> {_literal(CAVEAT_EN, 'en')} .",
        f'<{dataset}> <{vocab.DCT}created> "{generated}"^^<{xsd}dateTime> .',
        f'<{dataset}> <{vocab.TS}catchmentKm> "{settings.catchment_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}whiteZoneKm> "{settings.white_zone_km:g}"^^<{xsd}decimal> .',
        f'<{dataset}> <{vocab.TS}minimumPopulation> "{settings.min_population}"^^<{xsd}integer> .',
        f"<{dataset}> <{vocab.PROV}used> <{territories_graph(base)}> .",
        *structure_lines(base),
    ]
    keys = measure_keys(settings)
    kinds = {}
    for key in keys:
        base_key = "share_beyond" if key.startswith("share_beyond_") else key
        prop = f"<{vocab.TS}{MEASURES[base_key][0]}>"
        kinds[key] = (prop, _kind(base_key), f"<{QB}dataSet> <{measure_dataset_iri(base, base_key)}>", base_key)
    concept_iris = [f"<{vocab.concept_iri(c)}>" for c in result.concepts]
    count = len(lines)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
        for level in levels:
            units = territories.levels[level]
            values = result.values[level]
            for key in keys:
                prop, kind, in_set, base_key = kinds[key]
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
                        f"{s} {prop} {literal} .\n" + (extra.format(s=s) if extra else "")
                    )
                    count += 6 if extra else 5
    return count
