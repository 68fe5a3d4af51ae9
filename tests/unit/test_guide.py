"""The source maintainers' guide never goes stale: its generated parts equal what the generator produces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transiscope.reports import guide


@pytest.mark.parametrize("lang", guide.LANGS)
def test_the_committed_guide_is_what_the_generator_produces(lang: str) -> None:
    path = guide.guide_path(lang)
    text = path.read_text(encoding="utf-8")
    assert all(f"<!-- generated:{name} " in text for name in guide.BLOCKS), "a generated part lost its markers"
    new, changed = guide.update(text, lang)
    assert not changed and new == text, f"{path.name} is stale in {', '.join(changed)}: run `transiscope guide --write`"


def test_a_stale_part_is_found_and_rewritten(tmp_path: Path) -> None:
    for lang in guide.LANGS:
        shutil.copyfile(guide.guide_path(lang), tmp_path / guide.guide_path(lang).name)
    stale = tmp_path / "guide-sources.en.md"
    stale.write_text(
        stale.read_text(encoding="utf-8").replace("| `repair-cafes` |", "| `repair-cafe` |"), encoding="utf-8"
    )
    assert guide.run_guide(docs_dir=tmp_path) == 1
    assert guide.run_guide(write=True, docs_dir=tmp_path) == 0
    assert guide.run_guide(docs_dir=tmp_path) == 0
    assert stale.read_text(encoding="utf-8") == guide.guide_path("en").read_text(encoding="utf-8")


def test_the_guide_states_every_format_check_and_concept() -> None:
    fr = guide.guide_path("fr").read_text(encoding="utf-8")
    en = guide.guide_path("en").read_text(encoding="utf-8")
    for fmt in ("gogocarto", "kvm", "openagenda", "ical", "csv", "geojson", "jsonapi", "murmurations"):
        assert f"| `{fmt}` |" in fr and f"| `{fmt}` |" in en
    assert "pas de nom (vide ou seulement du balisage)" in fr and "no name (empty or only markup)" in en
    assert "| `repair-cafes` | Repair cafés |" in fr and "score = 100 × (0.40 V + 0.30 C + 0.15 W + 0.15 F)" in en
