"""Text as the bus compares and shows it: one owner for cleaning and folding.

Why one module: HTML fragments, placeholder contacts and accent/case folding are needed by the connectors,
the link step, the reports and the exports alike; five slightly different folds had grown in as many
modules, so that two records compared equal in one step and different in the next.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser
from typing import Any

#: letters NFKD does not decompose into ASCII (``œ`` would otherwise vanish from ``cœur``)
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def ascii_fold(text: str | None, *, lower: bool = True) -> str:
    """Accents (and, unless ``lower`` is False, case) away, punctuation kept.

    >>> ascii_fold("Épicerie L'Œuf")
    "epicerie l'oeuf"
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_LIGATURES))
    plain = decomposed.encode("ascii", "ignore").decode()
    return plain.casefold() if lower else plain


def fold(text: str | None, sep: str = " ") -> str:
    """Accents, case and punctuation away, words joined by ``sep``: the form names are compared in.

    >>> fold("L'Épi Vert – épicerie")
    'l epi vert epicerie'
    >>> fold("codePostal", sep="_")
    'codepostal'
    """
    return _NON_ALNUM.sub(sep, ascii_fold(text)).strip(sep)


def split_camel(text: str) -> str:
    """``"postalCode"`` -> ``"postal_Code"``: field names in camel case, made foldable into words."""
    return _CAMEL.sub(r"\1_\2", text)


def slug(text: str | None, max_length: int = 60, fallback: str = "item", *, lower: bool = True) -> str:
    """ASCII letters and digits joined by hyphens, at most ``max_length`` characters (for URLs and ids).

    >>> slug("Réseau des AMAP d'Île-de-France")
    'reseau-des-amap-d-ile-de-france'
    >>> slug("Café Œuvre", lower=False)
    'Cafe-OEuvre'
    """
    return _NOT_WORD.sub("-", ascii_fold(text, lower=lower)).strip("-")[:max_length] or fallback


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


#: a start, end or self-closing tag with no attribute (``<p>``, ``</P>``, ``<br/>``, ``<br />``): what most HTML
#: fragments of the sources hold, read without HTMLParser (pure Python, the cost of normalise: issue 26)
_SIMPLE_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(\s*/)?>")
#: tags whose content HTMLParser (in some Python version) reads other than as markup: left to HTMLParser
_RAW_CONTENT_TAGS = _DROP_CONTENT_TAGS | {"textarea", "title", "xmp", "plaintext", "noembed", "noframes"}


def _simple_markup(text: str) -> str | None:
    """What :class:`_TextExtractor` keeps of ``text`` when every ``<`` in it opens a tag without attributes
    and no tag holds raw content; None otherwise (then HTMLParser reads it). Held to HTMLParser's output by
    a property test (tests/unit/test_text.py)."""
    parts: list[str] = []
    position = 0
    for match in _SIMPLE_TAG.finditer(text):
        chunk = text[position : match.start()]
        if "<" in chunk:
            return None
        if chunk:
            parts.append(unescape(chunk) if "&" in chunk else chunk)
        closing, tag, self_closing = match.groups()
        tag = tag.lower()
        if tag in _RAW_CONTENT_TAGS or (closing and self_closing):
            return None
        if tag in _BLOCK_TAGS:
            parts.append("\n")
        position = match.end()
    rest = text[position:]
    if "<" in rest:
        return None
    if rest:
        parts.append(unescape(rest) if "&" in rest else rest)
    return "".join(parts)


def _extract_text(text: str) -> str:
    """The text of an HTML fragment (tags dropped, block tags as line breaks, entities decoded once)."""
    simple = _simple_markup(text)
    if simple is not None:
        return simple
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean_text(value: Any, *, multiline: bool = True) -> str | None:
    """HTML fragment or plain string -> clean plain text, or None when nothing is left.

    Entities are decoded (twice-encoded ``&amp;eacute;`` included, as some sources double-escape),
    tags and the content of ``<script>``/``<style>`` are dropped, whitespace is collapsed.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        # the common case: no markup, no entity, no control, no space but " " (all else is not printable)
        if "<" not in text and "&" not in text and text.isprintable():
            return " ".join(text.split()) or None
    else:
        try:
            text = str(value)
        except ValueError:  # an integer of more digits than Python writes as text: no text to keep
            return None
    # Escaped markup (``&lt;script&gt;``) becomes markup once decoded: clean again, a bounded number
    # of times, so that no tag survives however many times the source escaped it.
    for _ in range(4):
        if not ("<" in text or "&" in text):
            break
        cleaned = _extract_text(text)
        if "&" in cleaned:
            cleaned = unescape(cleaned)
        if cleaned == text:
            break
        text = cleaned
        if not MARKUP.search(text):
            break
    if (text.replace("\n", " ") if "\n" in text else text).isprintable():
        # no control and no space but " " and line breaks: the expressions below would only collapse spaces
        if not multiline:
            return " ".join(text.split()) or None
        return _paragraphs(text) or None
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    if multiline:
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _NEWLINES.sub("\n\n", text).strip()
    else:
        text = " ".join(text.split())
    return text or None


def _paragraphs(text: str) -> str:
    """Lines with their spaces collapsed, two or more line breaks as one blank line, none at either end: what
    the expressions of :func:`clean_text` make of a text whose only whitespace is spaces and line breaks."""
    out: list[str] = []
    gap = False
    for line in text.split("\n"):
        line = " ".join(line.split())
        if not line:
            gap = True
            continue
        if out:
            out.append("\n\n" if gap else "\n")
        out.append(line)
        gap = False
    return "".join(out)


def clean_contact(value: Any) -> str | None:
    """A published contact value, or None for blanks and placeholders such as ``"private"``."""
    text = clean_text(value, multiline=False)
    if text is None or text.casefold() in PLACEHOLDERS:
        return None
    return text


def decode_guess(raw: bytes) -> tuple[str, str]:
    """(text, encoding used) of bytes whose encoding nobody declared: UTF-8 (with or without a byte-order
    mark) when they are valid UTF-8, else Windows-1252 (a superset of latin-1, as Excel on Windows writes),
    else latin-1, which reads any byte.

    Why UTF-8 first: latin-1 bytes are almost never valid UTF-8, while every UTF-8 text is also "valid"
    Windows-1252 (and then reads ``Ã©`` for ``é``). A payload assembled by two tools is decoded part by
    part by its reader (the CSV connector: header line and rows)."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"


#: the longest text a page shows for one field; the data exports keep the whole text
DISPLAY_LIMITS = {"name": 160, "place": 120, "description": 600, "contact": 200, "label": 120}
_ELLIPSIS = "…"


def display_text(value: Any, kind: str = "name") -> str:
    """Text as a page may show it: format characters (Unicode category Cf: bidi overrides such as U+202E,
    zero-width joiners, BOMs) and control characters removed, whitespace collapsed, capped to
    :data:`DISPLAY_LIMITS` [``kind``] characters with an ellipsis.

    Why one function: every output that shows text (the map's API, its popups and lists) calls this, so that a
    10 kB name or a right-to-left override planted by a source cannot reverse or swamp the page around it,
    while the data exports keep the source's full text.

    >>> display_text("Caf\\u202ee  du  coin")
    'Cafe du coin'
    >>> len(display_text("x" * 10_000))
    160
    """
    if value is None:
        return ""
    limit = DISPLAY_LIMITS.get(kind)
    if limit is None:
        raise ValueError(f"unknown display kind {kind!r}: one of {', '.join(DISPLAY_LIMITS)}")
    text = str(value)
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _CONTROL.sub("", text)
    text = (
        "\n".join(" ".join(line.split()) for line in text.split("\n"))
        if kind == "description"
        else " ".join(text.split())
    )
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + _ELLIPSIS
    return text
