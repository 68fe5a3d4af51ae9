"""Canonical records: the one tabular shape every source is normalised into (design §1).

Every connector produces dicts with exactly :data:`INITIATIVE_COLUMNS`; validation, RDF mapping
and the quality report only ever see this shape, never a source's own. The helpers here clean the
values all connectors receive: HTML descriptions, placeholder contacts, numbers with decimal commas.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from html import unescape
from html.parser import HTMLParser
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
    "source", "source_id", "record_index", "parent_id", "name", "description", "categories", "concepts",
    "unmapped_categories", "start", "end", "timezone", "all_day", "status", "location_name", "lat", "lon",
    "street", "postcode", "city", "country", "insee", "website", "licence", "source_url", "created_at",
    "updated_at", "notes", "unparsed",
    # who organises it (a name, as published); contacts published for the event; its keywords
    "organizer", "email", "phone", "tags",
    # ended before the run that normalised it: kept as history, flagged for the agenda and the report
    "past",
)

#: contact placeholders that mean "not published" (GDPR: treated as absent)
PLACEHOLDERS = frozenset(
    {"", "private", "hidden", "masqué", "masque", "privé", "prive", "null", "none", "n/a", "-", "nc"}
)

_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr"}
)
_DROP_CONTENT_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_NEWLINES = re.compile(r"\s*\n\s*(\n\s*)+")
#: what looks like an HTML tag; no cleaned text may contain one
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _TextExtractor(HTMLParser):
    """Keeps the text of an HTML fragment; drops scripts, styles and every attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def clean_text(value: Any, *, multiline: bool = True) -> str | None:
    """HTML fragment or plain string -> clean plain text, or None when nothing is left.

    Entities are decoded (twice-encoded ``&amp;eacute;`` included, as some sources double-escape),
    tags and the content of ``<script>``/``<style>`` are dropped, whitespace is collapsed.
    """
    if value is None:
        return None
    text = str(value)
    # Escaped markup (``&lt;script&gt;``) becomes markup once decoded: clean again, a bounded number
    # of times, so that no tag survives however many times the source escaped it.
    for _ in range(4):
        if not ("<" in text or "&" in text):
            break
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        cleaned = "".join(parser.parts)
        if "&" in cleaned:
            cleaned = unescape(cleaned)
        if cleaned == text:
            break
        text = cleaned
        if not MARKUP.search(text):
            break
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    if multiline:
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _NEWLINES.sub("\n\n", text).strip()
    else:
        text = " ".join(text.split())
    return text or None


def clean_contact(value: Any) -> str | None:
    """A published contact value, or None for blanks and placeholders such as ``"private"``."""
    text = clean_text(value, multiline=False)
    if text is None or text.casefold() in PLACEHOLDERS:
        return None
    return text


def to_float(value: Any) -> float | None:
    """Parse a coordinate given as number or string (decimal comma accepted); None if unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
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
