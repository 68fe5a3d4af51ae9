"""Points lying in another commune than the one their record declares: for the quality report and a CSV.

Why reported and not resolved: the gap analysis places such a record by its point (the point is what the map
shows), so the people who maintain the source should know; any distance counts.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transiscope.core.errors import ConfigError
from transiscope.downstream.gaps.items import Items
from transiscope.downstream.gaps.placing import Placement, place
from transiscope.territories.graph import Territories, load_territories, territory_files

if TYPE_CHECKING:
    from transiscope.settings import Settings


def commune_disagreements(
    records: Sequence[dict[str, Any]], territories: Territories, base: str = "https://w3id.org/transiscope/"
) -> list[dict[str, Any]]:
    """For the quality report: the records whose point lies in another commune than the one they declare."""
    items = Items.from_records(records, base)
    placement = place(territories, items)
    names = territories.communes.names
    index = territories.communes.index
    return [
        {
            "source_id": records[d.position].get("source_id"),
            "name": records[d.position].get("name"),
            "point_commune": f"{names[index[d.point_commune]]} ({d.point_commune})",
            "declared": d.declared,
            "km": d.km,
        }
        for d in placement.disagreements
    ]


def write_disagreements(territories: Territories, items: Items, placement: Placement, path: Path) -> Path:
    """The points lying in another commune than the one declared, for the people who maintain the sources."""
    names = territories.communes.names
    index = territories.communes.index
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iri", "source", "point_commune", "point_commune_name", "declared", "declared_communes", "km"])
        for d in sorted(placement.disagreements, key=lambda d: -d.km):
            writer.writerow(
                [
                    items.iris[d.position],
                    items.sources[d.position] if items.sources else "",
                    d.point_commune,
                    names[index[d.point_commune]],
                    d.declared,
                    " ".join(d.declared_communes),
                    d.km,
                ]
            )
    return path


def quality_disagreements(
    settings: Settings, records: Sequence[dict[str, Any]], examples: int = 10
) -> dict[str, Any] | None:
    """For the quality report: points in another commune than the INSEE code or postcode their record declares.

    Any distance counts (unlike "far from the declared commune", which waits for ``TRANSISCOPE_FAR_KM``): the
    gap analysis places such a record by its point, so its maintainers should know. None when the territories
    data is not complete (the report says it was not checked).
    """
    try:
        files = territory_files(settings.territories_dir, settings.cache_dir, url="")
    except ConfigError:
        return None
    territories = load_territories(files, settings.cache_dir)
    found = commune_disagreements(records, territories, settings.base_iri)
    found.sort(key=lambda d: -d["km"])
    return {"count": len(found), "examples": found[:examples]}
