"""Connectors: one module per source format, each turning a raw payload into canonical records.

A connector exposes ``parse(raw: bytes, source) -> list`` (the source's own records, in payload
order) and ``normalise(element, index, source, mapping) -> dict`` (one canonical record), raising
:class:`transiscope.formats.RecordRejected` for a record that cannot become an initiative at all.
"""

from __future__ import annotations

from types import ModuleType

from transiscope.errors import ConfigError


class RecordRejected(Exception):
    """A record that cannot be normalised; the message is the quarantine reason."""


def connector(format_name: str) -> ModuleType:
    if format_name == "gogocarto":
        from transiscope.formats import gogocarto

        return gogocarto
    raise ConfigError(f"no connector for format {format_name!r}")
