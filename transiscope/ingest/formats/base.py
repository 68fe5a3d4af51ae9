"""What every connector (one module of :mod:`transiscope.ingest.formats` per source format) provides.

The stages read a connector through this protocol; mypy checks that every format module satisfies it
(``transiscope.ingest.formats.conformance``), and ``tests/unit/test_formats.py`` checks it at run time.

Optional, read with ``getattr`` by the modules that use them: ``is_inactive(element) -> str | None`` (a
deleted or duplicate element, quarantined with that reason), ``extract_pages(fetcher, url, source, mapping,
previous)`` for formats that need several requests (tiling, pagination, index then profiles: the run's raw
file is then the JSON list of the pages it fetched), ``extract_companions(fetcher, url, raw_path, source,
mapping)`` for a one-request format whose records need more than the payload (GoGoCarto: the payload's licence,
the map's taxonomy.json; kept as the run's ``companions.json``) and ``bind_run(mapping, companions, source)``,
which gives the normalise stage a mapping carrying it (``Mapping.payload_facts``), ``DIGEST_RECORDS`` (the
payload digest is taken over the parsed records), and for the declarative formats ``KINDS``,
``DEFAULT_KIND``, ``default_fields(kind)``, ``DEFAULT_OPTIONS`` and ``OPTIONS_SCHEMA``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from transiscope.registry.sources import Mapping, Source


@runtime_checkable
class Connector(Protocol):
    """A source format: a raw payload -> its elements -> canonical records."""

    @property
    def EXPECT(self) -> str:
        """What the body must be (the extract refuses, say, an HTML error page served with status 200)."""
        ...

    @property
    def REQUIRED_FIELDS(self) -> tuple[str, ...]:
        """Fields without which no element can become a record: absent from all = schema drift."""
        ...

    @property
    def KNOWN_FIELDS(self) -> frozenset[str]:
        """The fields the format itself knows (named in the schema drift message beside the unknown ones)."""
        ...

    def parse(self, raw: bytes, source: Source) -> list[Any]:
        """The source's own records, in payload order; one element is one canonical record."""
        ...

    def normalise(self, element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
        """One canonical record; raises :class:`transiscope.ingest.formats.RecordRejected` for an element that
        cannot become one at all (the message is the quarantine reason)."""
        ...

    def element_id(self, element: Any, mapping: Mapping) -> Any:
        """The source id of a raw element (for the quarantine entries of rejected ones), None when unknown."""
        ...

    def required_fields(self, mapping: Mapping) -> tuple[str, ...]:
        """The top-level fields every element must have with this mapping (schema drift otherwise)."""
        ...


@runtime_checkable
class DeclarativeConnector(Connector, Protocol):
    """A format read through the declarative mapping engine (all but GoGoCarto): its default fields too."""

    def default_fields(self, kind: str) -> dict[str, Any]:
        """The ``[fields]`` a mapping of this format starts from, for records of ``kind``."""
        ...


@runtime_checkable
class PagedConnector(Connector, Protocol):
    """A format that needs several requests (tiling, pagination, index then profiles)."""

    def extract_pages(
        self, fetcher: Any, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The pages of one run, fetched through ``fetcher`` (a :class:`transiscope.ingest.extract.Fetcher`, named
        here as Any: the extract imports the connectors); the run's raw file is their JSON list."""
        ...
