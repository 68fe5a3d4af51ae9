"""CSV directories (spreadsheets of partner networks): encodings, separators, any column names.

Real exports differ in every way that matters: UTF-8 with or without a byte-order mark, or latin-1
(Excel on Windows); ``;`` (French Excel) or ``,``; decimal commas in coordinates (read by the mapping
engine); latitude and longitude swapped (fixed and flagged by the normalise stage on France's outlines,
:mod:`transiscope.ingest.france`).
Column names are the source's own: the mapping file's ``[fields]`` names them.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from transiscope.core.errors import MalformedPayload
from transiscope.core.text import decode_guess
from transiscope.ingest import mapping as declarative
from transiscope.ingest.mappings import load_mapping
from transiscope.registry.sources import Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
normalise = declarative.normalise
required_fields = declarative.required_fields

KINDS = ("initiatives", "events")
EXPECT = "CSV"
REQUIRED_FIELDS: tuple[str, ...] = ()
KNOWN_FIELDS: frozenset[str] = frozenset()
DEFAULT_OPTIONS = {"encoding": "auto", "delimiter": "auto"}
OPTIONS_SCHEMA = {
    "encoding": {"type": "string", "enum": ["auto", "utf-8", "utf-8-sig", "latin-1", "cp1252"]},
    "delimiter": {"type": "string", "enum": ["auto", ";", ",", "\t", "|"]},
}
MAX_COLUMNS = 500


def default_fields(kind: str) -> dict[str, Any]:
    return {}  # a CSV's columns are its own: the mapping names every one


def decode(raw: bytes, encoding: str) -> tuple[str, str]:
    """(text, encoding used). ``auto``: the header line and the rows are decoded each on its own, UTF-8 (BOM
    or not) first, then Windows-1252, a superset of latin-1 (:func:`transiscope.core.text.decode_guess`).

    Why per part: a file assembled by two tools, typically a UTF-8 header line written by a script over rows
    pasted from a latin-1 export, is readable as a whole in neither encoding; read whole as Windows-1252, its
    header's ``catégorie`` becomes ``catÃ©gorie`` and the mapping's column is lost from every record."""
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"the CSV is not {encoding} (byte {exc.start}); set options.encoding") from None
    header, newline, body = raw.partition(b"\n")
    header_text, header_encoding = decode_guess(header + newline)
    if not body.strip():
        return header_text + body.decode("ascii", errors="replace"), header_encoding
    body_text, body_encoding = decode_guess(body)
    if header.isascii() or header_encoding == body_encoding:  # an ASCII header reads the same in both
        return header_text + body_text, body_encoding
    return header_text + body_text, f"{header_encoding} header, {body_encoding} rows"


def parse(raw: bytes, source: Source) -> list[Any]:
    """The rows of the CSV as dicts (column name -> text), in file order; blank lines skipped."""
    options = load_mapping(source).spec.options
    if not raw.strip():
        raise MalformedPayload(f"source {source.id!r}: the CSV is empty")
    try:
        text, _encoding = decode(raw, options.get("encoding", "auto"))
    except MalformedPayload as exc:
        raise MalformedPayload(f"source {source.id!r}: {exc}") from None
    delimiter = options.get("delimiter", "auto")
    if delimiter == "auto":
        header_line = text.split("\n", 1)[0]
        counts = {d: header_line.count(d) for d in (";", ",", "\t", "|")}
        delimiter = max(counts, key=counts.__getitem__)
        if counts[delimiter] == 0:
            raise MalformedPayload(
                f"source {source.id!r}: no separator (; , tab |) in the CSV header {header_line[:80]!r}"
            )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise MalformedPayload(f"source {source.id!r}: the CSV has no header line") from None
    columns = [name.strip().lstrip("\ufeff") for name in header][:MAX_COLUMNS]
    rows: list[dict[str, Any]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row: dict[str, Any] = {
                column: (cells[i].strip() if i < len(cells) and cells[i].strip() else None)
                for i, column in enumerate(columns)
                if column
            }
            if len(cells) > len(columns):
                row["_extra_cells"] = [c for c in cells[len(columns) :] if c.strip()]
            rows.append(row)
    except csv.Error as exc:
        raise MalformedPayload(f"source {source.id!r}: the CSV is malformed at line {reader.line_num}: {exc}") from None
    return rows
