"""Cleaning of the values every connector receives."""

from __future__ import annotations

import pytest

from transiscope.core.text import clean_contact, clean_text
from transiscope.ingest.records import parse_date, to_float


def test_html_is_stripped_and_entities_decoded() -> None:
    html = (
        "<p>L&#39;atelier <strong>r&eacute;pare</strong> v&eacute;los&nbsp;&amp; grille-pain.</p><p>Ouvert à tous</p>"
    )
    assert clean_text(html) == "L'atelier répare vélos & grille-pain.\n\nOuvert à tous"


def test_script_and_style_content_is_dropped_not_just_the_tags() -> None:
    text = clean_text('Bonjour<script>alert("x")</script><style>p{}</style> <a href="javascript:x">lien</a>')
    assert text == "Bonjour lien"
    assert "alert" not in text and "javascript" not in text


def test_double_escaped_entities_and_control_characters() -> None:
    assert clean_text("caf&amp;eacute;\x00\x07 solidaire") == "café solidaire"


def test_single_line_mode_collapses_newlines() -> None:
    assert clean_text("<p>AMAP</p><p>des Lilas</p>", multiline=False) == "AMAP des Lilas"


@pytest.mark.parametrize("value", [None, "", "  ", "<p></p>", "<script>only</script>"])
def test_empty_text_is_none(value: str | None) -> None:
    assert clean_text(value) is None


@pytest.mark.parametrize("value", ["private", "Hidden", " PRIVATE ", "", None, "masqué"])
def test_placeholder_contacts_mean_absent(value: str | None) -> None:
    assert clean_contact(value) is None


def test_real_contact_is_kept() -> None:
    assert clean_contact(" contact@amap.example.org ") == "contact@amap.example.org"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (45.76, 45.76),
        ("45.76", 45.76),
        ("45,76", 45.76),
        (" 4.8 ", 4.8),
        (3, 3.0),
        ("", None),
        ("abc", None),
        (None, None),
        (True, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_coordinates(value: object, expected: float | None) -> None:
    assert to_float(value) == expected


def test_dates_of_both_gogocarto_shapes() -> None:
    assert parse_date("14/06/2018", day_first=True) == "2018-06-14"
    assert parse_date("2021-06-14T09:12:33+02:00", day_first=False) == "2021-06-14T09:12:33+02:00"
    assert parse_date("2021-06-14T09:12:33Z", day_first=False) == "2021-06-14T09:12:33+00:00"
    assert parse_date("2021-06-14", day_first=False) == "2021-06-14"
    assert parse_date("31/02/2018", day_first=True) is None
    assert parse_date("hier", day_first=False) is None


def test_escaped_markup_is_cleaned_too() -> None:
    text = clean_text("Avant &lt;script&gt;alert(1)&lt;/script&gt; après &amp;lt;b&amp;gt;gras&amp;lt;/b&amp;gt;")
    assert text == "Avant après gras"


def test_text_that_merely_mentions_angle_brackets_stays() -> None:
    assert clean_text("3 < 5 et 7 > 2") == "3 < 5 et 7 > 2"
