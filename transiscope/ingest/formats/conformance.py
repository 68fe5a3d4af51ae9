"""The static check that every format module satisfies its protocol: mypy reads these annotations (nothing
imports this module; the package itself imports the format modules only on first use, and the run-time
counterpart is ``tests/unit/test_formats.py``)."""

from __future__ import annotations

from transiscope.ingest.formats import geojson, gogocarto, ical, jsonapi, kvm, murmurations, openagenda, tabular
from transiscope.ingest.formats.base import Connector, DeclarativeConnector, PagedConnector

CONNECTORS: tuple[Connector, ...] = (gogocarto,)
DECLARATIVE: tuple[DeclarativeConnector, ...] = (kvm, openagenda, ical, tabular, geojson, jsonapi, murmurations)
PAGED: tuple[PagedConnector, ...] = (kvm, openagenda, jsonapi, murmurations)
