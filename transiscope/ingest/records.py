"""Canonical records: the one tabular shape every source is normalised into, whatever its format.

Every connector produces dicts with exactly :data:`INITIATIVE_COLUMNS`; validation, RDF mapping
and the quality report only ever see this shape, never a source's own. The helpers here read the
values all connectors receive: numbers with decimal commas, dates; text cleaning is
:mod:`transiscope.core.text`'s.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

#: the canonical initiative schema, in column order; values are str, float, list[str] or None
INITIATIVE_COLUMNS: tuple[str, ...] = (
    "source",
    "source_id",
    "record_index",  # position of the record in the source payload, to find its raw form again
    "name",
    "description",
    "categories",  # the source's own labels, verbatim
    "concepts",  # taxonomy concept notations from the source's crosswalk
    "unmapped_categories",  # labels the crosswalk does not know (reported, not fatal)
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "country",
    "insee",
    "geo_precision",  # what the point stands for: source, address, street, postcode, commune (geocode stage)
    "geo_method",  # how it was obtained: source, ban, nominatim, photon, territories-insee, territories-postcode
    "geo_flags",  # consistency warnings on the point (swapped, null island, far from its commune...)
    "website",
    "email",
    "phone",
    "opening_hours",
    "tags",
    "upstream_source",  # for aggregators (GoGoCarto ``sourceKey``): who published it first
    "licence",
    "source_url",
    "created_at",
    "updated_at",
    "status",
    "notes",  # what normalisation fixed or dropped, for the quality report
    "unparsed",  # source fields whose value could not be read (a date that is no date...)
)

#: the canonical event schema: an initiative's place fields plus time
EVENT_COLUMNS: tuple[str, ...] = (
    "source",
    "source_id",
    "record_index",
    "parent_id",
    "name",
    "description",
    "categories",
    "concepts",
    "unmapped_categories",
    "start",
    "end",
    "timezone",
    "all_day",
    "status",
    "location_name",
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "country",
    "insee",
    "website",
    "licence",
    "source_url",
    "created_at",
    "updated_at",
    "notes",
    "unparsed",
    # who organises it (a name, as published); contacts published for the event; its keywords
    "organizer",
    "email",
    "phone",
    "tags",
    # ended before the run that normalised it: kept as history, flagged for the agenda and the report
    "past",
)


def to_float(value: Any) -> float | None:
    """Parse a coordinate given as number or string (decimal comma accepted); None if unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float: not a coordinate
            return None
    else:
        text = str(value).strip().replace(",", ".").replace(" ", "")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def parse_date(value: Any, day_first: bool) -> str | None:
    """ISO 8601 string for a source date (ISO, or ``d/m/Y`` when ``day_first``), else None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if day_first and "/" in text:
        try:
            return datetime.strptime(text, "%d/%m/%Y").date().isoformat()
        except ValueError:
            return None
    try:
        if len(text) == 10:  # a plain date stays a date (not midnight of an unknown time zone)
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


def empty_record(columns: tuple[str, ...] = INITIATIVE_COLUMNS) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(columns)
    for column in ("categories", "concepts", "unmapped_categories", "tags", "notes", "unparsed", "geo_flags"):
        if column in record:
            record[column] = []
    return record
