"""clean_text's fast paths (plain strings, fragments of tags without attributes) against HTMLParser's reading.

Why: normalise spent most of its time in HTMLParser and the regular expressions of clean_text (issue 26);
the fast paths must change the speed only, never the text, so each is held here to the reference: the
algorithm as it was, every string through HTMLParser.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transiscope.core import text as text_module
from transiscope.core.text import _CONTROL, _NEWLINES, _SPACES, DISPLAY_LIMITS, MARKUP, clean_text, display_text

SNIPPETS = [
    "<p>",
    "</p>",
    "<P>",
    "</P >",
    "<br>",
    "<br/>",
    "<br />",
    "<BR/>",
    "<p/>",
    "</p/>",
    "<b>",
    "</b>",
    "<div>",
    "</div>",
    "<li>",
    "<h1>",
    "</h6>",
    "<script>",
    "</script>",
    "<style>",
    "<title>",
    "</textarea>",
    "<x1>",
    "<a href='x'>",
    "<!-- c -->",
    "<!doctype html>",
    "<?php ?>",
    "<![CDATA[x]]>",
    "< p>",
    "<3",
    "<",
    ">",
    "</",
    "&amp;",
    "&deg;",
    "&lt;",
    "&gt;",
    "&lt;p&gt;",
    "&amp;lt;b&amp;gt;",
    "&#233;",
    "&#x41;",
    "&#0;",
    "&nbsp;",
    "&deg",
    "&",
    "&;",
    "&#",
    "AT&T",
    "a",
    "Zz",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x0b",
    "\xa0",
    "\u200b",
    "\u2028",
    "\u3000",
    "\x1c",
    "\x85",
    "é",
    "e\u0301",
    "🌱",
    ";",
    "/",
    "'",
    '"',
]
fragments = st.lists(st.sampled_from(SNIPPETS), max_size=14).map("".join)
any_text = st.one_of(fragments, st.text(max_size=30))


def parser_text(text: str) -> str:
    parser = text_module._TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def reference_clean_text(value: Any, *, multiline: bool = True) -> str | None:
    """clean_text as it was before its fast paths: every string through HTMLParser and the expressions."""
    if value is None:
        return None
    text = str(value)
    for _ in range(4):
        if not ("<" in text or "&" in text):
            break
        cleaned = parser_text(text)
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


@settings(max_examples=400, deadline=None)
@given(fragments)
def test_simple_markup_reads_as_htmlparser_reads(text: str) -> None:
    simple = text_module._simple_markup(text)
    if simple is not None:
        assert simple == parser_text(text)


@settings(max_examples=400, deadline=None)
@given(any_text, st.booleans())
def test_clean_text_is_the_reference_on_any_string(text: str, multiline: bool) -> None:
    assert clean_text(text, multiline=multiline) == reference_clean_text(text, multiline=multiline)


def test_the_fast_paths_are_taken_on_the_usual_shapes() -> None:
    """A test of the tests: the shapes the sources send do take the fast path (else the property above would
    compare HTMLParser with itself)."""
    assert text_module._simple_markup("<p>Une initiative n&deg;3 : ateliers &amp; entraide.</p><br/>") == (
        "\nUne initiative n°3 : ateliers & entraide.\n\n"
    )
    assert text_module._simple_markup("<p class='x'>a</p>") is None
    assert text_module._simple_markup("<script>x</script>") is None
    assert clean_text("  Épicerie   du Lez ", multiline=False) == "Épicerie du Lez"
    assert clean_text("<p>a</p><p>b</p>") == "a\n\nb"


def test_non_strings_still_read_as_text() -> None:
    assert clean_text(12) == "12"
    assert clean_text(1.5, multiline=False) == "1.5"
    assert re.fullmatch(r"\[.*\]", clean_text(["<b>x</b>"]) or "")


def test_display_text_strips_format_characters_and_caps_for_display() -> None:
    """What pages show: no bidi override, zero-width or BOM character, whitespace collapsed, a cap per kind."""

    shown = display_text("\u202eLong\u200b \ufeffnom\u2066 " + "x" * 10_000)
    assert not any(ch in shown for ch in "\u202e\u200b\ufeff\u2066")
    assert shown.startswith("Long nom x") and len(shown) == DISPLAY_LIMITS["name"] and shown.endswith("…")
    assert display_text("Ligne 1\n\n  ligne   2", "description") == "Ligne 1\n\nligne 2"
    assert display_text("Ligne 1\nligne 2") == "Ligne 1 ligne 2"
    assert display_text(None) == "" and display_text("é" * 160) == "é" * 160
    with pytest.raises(ValueError, match="unknown display kind"):
        display_text("x", "nope")
