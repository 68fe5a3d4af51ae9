"""Every format of the registry has a connector module, and every module is a Connector."""

from __future__ import annotations

import pytest

from transiscope.ingest.formats import MODULES, connector
from transiscope.ingest.formats.base import Connector, DeclarativeConnector, PagedConnector
from transiscope.registry.sources import DECLARATIVE_FORMATS, SUPPORTED_FORMATS


def test_one_module_per_supported_format() -> None:
    assert tuple(MODULES) == SUPPORTED_FORMATS


@pytest.mark.parametrize("name", SUPPORTED_FORMATS)
def test_each_format_module_is_a_connector(name: str) -> None:
    module = connector(name)
    assert isinstance(module, Connector)
    assert isinstance(module, DeclarativeConnector) == (name in DECLARATIVE_FORMATS)


def test_the_multi_request_formats_are_paged() -> None:
    paged = {name for name in SUPPORTED_FORMATS if isinstance(connector(name), PagedConnector)}
    assert paged == {"kvm", "openagenda", "jsonapi", "murmurations"}
