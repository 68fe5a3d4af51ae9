"""Generic JSON APIs: where the record list is, and how the API pages (page number, offset, cursor,
next-URL), all from the mapping's ``[options]``; the fields from its ``[fields]``.

Options: ``records_path`` (dotted path to the list in each response; empty: the response is the list),
``pagination`` (``none``, ``page``, ``offset``, ``cursor``, ``next_url``), ``page_param`` (the query
parameter carrying the page number, offset or cursor), ``size_param`` / ``page_size``, ``first_page``,
``cursor_path`` / ``next_path`` (where the next cursor or URL is in a response), ``max_pages``.
Paging stops at an empty or short page, a missing cursor, or ``max_pages`` (then it is an error: a
source that pages forever must not load half of itself silently).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from transiscope.core.errors import MalformedPayload
from transiscope.ingest import mapping as declarative
from transiscope.ingest.extract import Fetcher, parse_json
from transiscope.ingest.mapping import parse_path, resolve
from transiscope.ingest.mappings import load_mapping
from transiscope.registry.sources import Mapping, Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
normalise = declarative.normalise
required_fields = declarative.required_fields

KINDS = ("initiatives", "events")
EXPECT = "JSON"
REQUIRED_FIELDS: tuple[str, ...] = ()
KNOWN_FIELDS: frozenset[str] = frozenset()
DEFAULT_OPTIONS: dict[str, Any] = {
    "records_path": "",
    "pagination": "none",
    "page_param": "page",
    "size_param": "",
    "page_size": 100,
    "first_page": 1,
    "cursor_path": "",
    "next_path": "",
    "max_pages": 1000,
}
OPTIONS_SCHEMA = {
    "records_path": {"type": "string"},
    "pagination": {"enum": ["none", "page", "offset", "cursor", "next_url"]},
    "page_param": {"type": "string", "minLength": 1},
    "size_param": {"type": "string"},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 10000},
    "first_page": {"type": "integer", "minimum": 0},
    "cursor_path": {"type": "string"},
    "next_path": {"type": "string"},
    "max_pages": {"type": "integer", "minimum": 1, "maximum": 100000},
}


def default_fields(kind: str) -> dict[str, Any]:
    return {"source_id": "id", "name": "name"}


def records_of(payload: Any, records_path: str, source_id: str, where: str = "") -> list[Any]:
    """The record list of one response, or :class:`MalformedPayload` saying where it was looked for."""
    path = parse_path(records_path) if records_path else ()
    records = resolve(payload, path) if path else payload
    if not isinstance(records, list):
        keys = ", ".join(sorted(map(str, payload))[:8]) if isinstance(payload, dict) else type(payload).__name__
        raise MalformedPayload(
            f"source {source_id!r}: no record list at {records_path or 'the top level'!r}{where} (found: {keys})"
        )
    return records


def extract_pages(
    fetcher: Fetcher, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every page of the API, in order, each as ``{"url", "params", "payload"}``."""
    options = mapping.spec.options
    mode = options["pagination"]
    size = int(options["page_size"])
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    if options.get("size_param") and mode != "none":
        params[options["size_param"]] = size
    position: Any = int(options["first_page"]) if mode in ("page", "offset") else None
    next_url: str = url
    for _ in range(int(options["max_pages"])):
        request_params = dict(params)
        if mode in ("page", "offset", "cursor") and position is not None:
            request_params[options["page_param"]] = position
        target = next_url if mode == "next_url" else url
        payload = fetcher.get_json(target, request_params or None)
        records = records_of(payload, options["records_path"], source.id, f" in page {len(pages) + 1}")
        pages.append({"url": target, "params": request_params, "payload": payload})
        if mode == "none" or not records:
            return pages
        if mode == "page":
            position += 1
            if len(records) < size and options.get("size_param"):
                return pages
        elif mode == "offset":
            position += len(records)
            if len(records) < size:
                return pages
        elif mode == "cursor":
            position = resolve(payload, parse_path(options["cursor_path"]) or ())
            if position in (None, "", [], {}):
                return pages
        else:
            found = resolve(payload, parse_path(options["next_path"]) or ())
            if not isinstance(found, str) or not found:
                return pages
            next_url = urljoin(target, found)
    raise MalformedPayload(
        f"source {source.id!r}: more than {options['max_pages']} pages (options.max_pages); the pagination does not end"
    )


def pages_of(raw: bytes, source: Source) -> list[dict[str, Any]]:
    pages = parse_json(raw, source.id)
    if not isinstance(pages, list) or not all(isinstance(p, dict) and "payload" in p for p in pages):
        raise MalformedPayload(f"source {source.id!r}: the run's raw file is not a list of pages")
    return pages


def parse(raw: bytes, source: Source) -> list[Any]:
    options = load_mapping(source).spec.options
    out: list[Any] = []
    for number, page in enumerate(pages_of(raw, source), 1):
        out.extend(records_of(page["payload"], options["records_path"], source.id, f" in page {number}"))
    return out
