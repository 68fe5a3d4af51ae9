"""The taxonomy as the gap analysis uses it: the "Domaines" concepts in the order of its outputs, with labels.

Why a view and not a second reader: the concepts come from :func:`transiscope.core.taxonomy.read_taxonomy`,
the one reader of ``ontology/taxonomy.ttl``; the gap outputs (CSV rows, GeoJSON indicators, ``index.json``,
the Data Cube) list them in their own stable order, top concepts sorted by notation each followed by its
narrower ones sorted, and every concept needs a French and an English label, so this view fixes both once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transiscope.core.taxonomy import Taxonomy, read_taxonomy

#: the concept scheme whose concepts are measured
SCHEME = "domaines"


@dataclass(frozen=True)
class GapConcepts:
    """The concepts of the "Domaines" scheme: top concepts first, each followed by its narrower ones."""

    notations: tuple[str, ...]
    broader: dict[str, str]
    labels: dict[str, dict[str, str]]  # notation -> {"fr": ..., "en": ...}
    #: the scheme's concepts as read (broader links leaving the scheme dropped)
    taxonomy: Taxonomy

    def closure(self, notation: str) -> list[str]:
        """The concept and all its broader concepts (bounded by the taxonomy's size, so a cycle cannot hang)."""
        return self.taxonomy.closure(notation)


def gap_concepts(taxonomy: Taxonomy) -> GapConcepts:
    """The view of ``taxonomy``'s "Domaines" scheme: notations sorted as above (deeper levels, if any, last and
    sorted), labels in French (else the notation) and English (else the French one)."""
    scheme = taxonomy.in_scheme(SCHEME)
    broader = scheme.broader
    tops = sorted(n for n in scheme.notations if n not in broader)
    ordered: list[str] = []
    for top in tops:
        ordered.append(top)
        ordered.extend(sorted(n for n, b in broader.items() if b == top))
    ordered.extend(sorted(n for n in scheme.notations if n not in ordered))  # deeper levels, if any
    labels = {}
    for concept in scheme.concepts:
        found, notation = concept.labels, concept.notation
        labels[notation] = {"fr": found.get("fr", notation), "en": found.get("en", found.get("fr", notation))}
    return GapConcepts(tuple(ordered), broader, labels, scheme)


def load_taxonomy(path: Path) -> GapConcepts:
    """Read ``ontology/taxonomy.ttl`` through the one reader and return the gaps' view of it."""
    return gap_concepts(read_taxonomy(path))
