"""Which records are in France: the declared country and the point, each decided, over a whole batch.

The bus maps French alternatives. A record is outside France when its declared country is another one
(``record["country"]``, normalised here to ISO 3166-1 alpha-2 by :func:`transiscope.core.countries.iso_country`)
or when its point lies outside the départements' outlines (:mod:`transiscope.territories.france`, with the
bounding boxes of :mod:`transiscope.core.geo` when the territories data is missing). Validation quarantines
such a record unless its source is international; the geocode stage never places it by a French postcode or
INSEE code, nor sends it to a geocoder (they are asked for France only); the gaps analysis never places it in a
French territory.

The stages take the :class:`~transiscope.core.geo.FranceArea` as an argument (``france_area(settings)`` once per
stage): the ingest layer decides, the territories layer knows where France is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transiscope.core.countries import FRANCE, iso_country
from transiscope.core.geo import BOXES, FranceArea


def normalise_country(record: dict[str, Any]) -> None:
    """``record["country"]`` to its ISO alpha-2 code; a country no one knows is dropped with a warning.

    The record keeps everything else: one bad value costs that value (it is listed among the unreadable
    values, a warning of the quality report), never the record.
    """
    value = record.get("country")
    if value in (None, ""):
        record["country"] = None
        return
    code = iso_country(value)
    if code is None:
        record["country"] = None
        record.setdefault("unparsed", []).append(f"country={str(value)[:80]!r}")
        record.setdefault("notes", []).append(f"country {str(value)[:80]!r} is not a known country: dropped")
    else:
        record["country"] = code


def declared_abroad(record: dict[str, Any]) -> bool:
    """Whether the record declares a country other than France (ISO code, or a name still to normalise)."""
    code = iso_country(record.get("country"))
    return code is not None and code != FRANCE


def coordinates(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes as float arrays, NaN where a record has no usable number."""

    def number(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return np.nan
        return float(value)

    lat = np.array([number(r.get("lat")) for r in records], dtype=float)
    lon = np.array([number(r.get("lon")) for r in records], dtype=float)
    return lat, lon


def points_in_france(records: list[dict[str, Any]], area: FranceArea = BOXES) -> list[bool | None]:
    """Per record: True when its point lies in France, False outside, None when it has no point."""
    lat, lon = coordinates(records)
    known = np.isfinite(lat) & np.isfinite(lon)
    inside = area.contains(lat, lon)
    return [bool(i) if k else None for i, k in zip(inside, known, strict=True)]


def fix_swapped(records: list[dict[str, Any]], area: FranceArea = BOXES) -> int:
    """Fix-and-flag coordinates given as lon/lat: outside France as given, inside once swapped.

    For the declarative formats (spreadsheets and directories write the two columns in either order); a
    GoGoCarto point is checked by the geocode stage, which swaps only when the declared commune confirms it.
    Returns how many records were fixed.
    """
    lat, lon = coordinates(records)
    swapped = ~area.contains(lat, lon) & area.contains(lon, lat)
    for position in np.flatnonzero(swapped):
        record = records[int(position)]
        given = (record["lat"], record["lon"])
        record["lat"], record["lon"] = given[1], given[0]
        record.setdefault("notes", []).append(
            f"latitude and longitude were swapped at the source ({given[0]}, {given[1]}): fixed"
        )
    return int(swapped.sum())


def normalise_batch(records: list[dict[str, Any]], area: FranceArea, *, swaps: bool) -> dict[str, Any]:
    """What the normalise stage does to every record once the connector has read it: countries to ISO codes,
    and (``swaps``: the declarative formats) swapped coordinates fixed. Returns the stage's figures."""
    for record in records:
        normalise_country(record)
    stats: dict[str, Any] = {"france": area.kind}
    if swaps:
        stats["swapped_fixed"] = fix_swapped(records, area)
    return stats
