"""transiscope.core.text.display_text: the one cleaning of text for display."""

from __future__ import annotations

import pytest

from transiscope.core.text import DISPLAY_LIMITS, display_text


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
