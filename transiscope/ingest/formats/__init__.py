"""Connectors: one module per source format, each turning a raw payload into canonical records.

Every module satisfies :class:`transiscope.ingest.formats.base.Connector` (what it provides, and the optional
members); :func:`connector` gives the module of a format. The formats themselves are listed once, in the
registry (:data:`transiscope.registry.sources.SUPPORTED_FORMATS`); here only the module of each.

Declarative formats (all but GoGoCarto) read their fields through :mod:`transiscope.ingest.mapping`.
One element of ``parse`` is one canonical record: a format that splits a source record (an event with
several timings, a recurring series) does it in ``parse``, so that counts add up record by record.
"""

from __future__ import annotations

import importlib
from typing import cast

from transiscope.core.errors import ConfigError
from transiscope.ingest.formats.base import Connector
from transiscope.registry.sources import SUPPORTED_FORMATS


class RecordRejected(Exception):
    """A record that cannot be normalised; the message is the quarantine reason."""


#: the formats whose module is not named after them
_MODULE_NAMES = {"csv": "tabular"}
#: format name (registry ``format``) -> module of transiscope.ingest.formats
MODULES = {name: _MODULE_NAMES.get(name, name) for name in SUPPORTED_FORMATS}


def connector(format_name: str) -> Connector:
    """The connector module of a format (imported on first use: DAG parsing stays light)."""
    module = MODULES.get(format_name)
    if module is None:
        raise ConfigError(f"no connector for format {format_name!r} (known: {', '.join(MODULES)})")
    return cast(Connector, importlib.import_module(f"transiscope.ingest.formats.{module}"))
