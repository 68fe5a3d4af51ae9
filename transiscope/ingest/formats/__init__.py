"""Connectors: one module per source format, each turning a raw payload into canonical records.

A connector exposes ``parse(raw: bytes, source) -> list`` (the source's own records, in payload
order) and ``normalise(element, index, source, mapping) -> dict`` (one canonical record), raising
:class:`transiscope.ingest.formats.RecordRejected` for a record that cannot become an initiative at all;
``REQUIRED_FIELDS``/``KNOWN_FIELDS`` (schema drift); optionally ``is_inactive(element)``, ``EXPECT``
(what the body must be: an HTML page never is), and ``extract_pages(fetcher, url, source, mapping,
previous)`` for formats that need several requests (tiling, pagination, index then profiles): the run's
raw file is then the JSON list of the pages it fetched.

Declarative formats (all but GoGoCarto) read their fields through :mod:`transiscope.ingest.mapping`; their
module adds ``KINDS``, ``default_fields(kind)``, ``DEFAULT_OPTIONS`` and ``OPTIONS_SCHEMA``.
One element of ``parse`` is one canonical record: a format that splits a source record (an event with
several timings, a recurring series) does it in ``parse``, so that counts add up record by record.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from transiscope.core.errors import ConfigError


class RecordRejected(Exception):
    """A record that cannot be normalised; the message is the quarantine reason."""


#: format name (registry ``format``) -> module of transiscope.ingest.formats
MODULES = {
    "gogocarto": "gogocarto",
    "kvm": "kvm",
    "openagenda": "openagenda",
    "ical": "ical",
    "csv": "tabular",
    "geojson": "geojson",
    "jsonapi": "jsonapi",
    "murmurations": "murmurations",
}


def connector(format_name: str) -> ModuleType:
    """The connector module of a format (imported on first use: DAG parsing stays light)."""
    module = MODULES.get(format_name)
    if module is None:
        raise ConfigError(f"no connector for format {format_name!r} (known: {', '.join(MODULES)})")
    return importlib.import_module(f"transiscope.ingest.formats.{module}")
