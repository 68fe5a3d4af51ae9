"""The one taxonomy reader: concepts in file order, broader links, schemes, and a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from transiscope.core.errors import ConfigError
from transiscope.core.taxonomy import read_taxonomy
from transiscope.settings import PROJECT_ROOT

TAXONOMY = PROJECT_ROOT / "ontology" / "taxonomy.ttl"


def test_every_concept_has_labels_and_tops_come_before_their_narrower_ones() -> None:
    taxonomy = read_taxonomy(TAXONOMY)
    assert len(taxonomy.concepts) == TAXONOMY.read_text(encoding="utf-8").count('skos:notation "')
    seen: set[str] = set()
    for concept in taxonomy.concepts:
        assert concept.labels.get("fr") and concept.labels.get("en"), concept.notation
        assert concept.broader is None or concept.broader in seen, concept.notation
        seen.add(concept.notation)
    assert taxonomy.concepts[0].notation == "se-nourrir"
    assert taxonomy.closure("amap-circuits-courts") == ["amap-circuits-courts", "se-nourrir"]
    assert set(taxonomy.in_scheme("domaines").notations) == set(taxonomy.notations)


def test_a_broken_taxonomy_is_one_line_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.ttl"
    broken.write_text("@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n<a> skos:notation ", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the taxonomy .*taxonomy.ttl"):
        read_taxonomy(broken)
    with pytest.raises(ConfigError, match="cannot read the taxonomy"):
        read_taxonomy(tmp_path / "missing.ttl")
