"""The draft category crosswalk: each label of the source matched to the closest taxonomy concepts.

Why: mapping a source's categories to ``ontology/taxonomy.ttl`` is the part of a mapping that needs a person;
this proposes the candidates with a score (folded-label similarity, rapidfuzz) and reuses the decisions other
sources' crosswalks already hold, so that the person reviews a short list instead of reading the taxonomy.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from transiscope.core.taxonomy import Concept, read_taxonomy
from transiscope.reports.check_source.text import fold

#: a draft crosswalk entry is written (not commented out) from this similarity score (0-100)
CONFIDENT_SCORE = 88
#: candidates below this score are not even suggested
SUGGEST_SCORE = 55
_STOPWORDS = frozenset(
    {"et", "and", "de", "des", "du", "la", "le", "les", "l", "d", "the", "of", "en", "a", "au", "aux", "pour", "for"}
)


def taxonomy_concepts(path: Path) -> list[Concept]:
    """The concepts of ``ontology/taxonomy.ttl`` that have a notation, top concepts first (file order kept)."""
    return list(read_taxonomy(path).concepts)


def known_crosswalks(mappings_dir: Path, exclude: str | None = None) -> dict[str, tuple[list[str], str]]:
    """Folded label -> (notations, mapping file) from the crosswalks other sources already have.

    ``exclude``: the file name of the checked source's own mapping, so that a check of a configured source
    proposes what the other sources' decisions suggest, never its own crosswalk back.
    """
    known: dict[str, tuple[list[str], str]] = {}
    for path in sorted(mappings_dir.glob("*.toml")):
        if path.name == exclude:
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        for label, notations in (data.get("categories") or {}).items():
            notations = [notations] if isinstance(notations, str) else list(notations or ())
            if notations:
                known.setdefault(fold(label), (notations, path.name))
    return known


@dataclass
class LabelMatch:
    label: str
    records: int
    #: (notation, score 0-100, why) best first
    candidates: list[tuple[str, int, str]]

    @property
    def confident(self) -> bool:
        return bool(self.candidates) and self.candidates[0][1] >= CONFIDENT_SCORE

    @property
    def proposed(self) -> list[str]:
        """The draft's notations: every one a reviewed crosswalk gives for the label, else the closest concept."""
        reviewed = [n for n, _score, why in self.candidates if why.startswith("as in ")]
        return reviewed or [self.candidates[0][0]]


def _words(text: str) -> str:
    return " ".join(w for w in fold(text).split("_") if w and w not in _STOPWORDS)


def match_labels(
    labels: Counter[str], concepts: list[Concept], known: dict[str, tuple[list[str], str]] | None = None
) -> list[LabelMatch]:
    """For each source label, the closest taxonomy concepts by folded-label similarity (rapidfuzz).

    A label another source's crosswalk already maps (same folded label) is proposed as that crosswalk says:
    the project's reviewed decisions are better evidence than string similarity.
    """
    from rapidfuzz import fuzz

    targets: list[tuple[str, str, str]] = []  # (folded words, notation, label shown)
    for concept in concepts:
        for label in [*concept.labels.values(), *concept.alt_labels, concept.notation.replace("-", " ")]:
            if _words(label):
                targets.append((_words(label), concept.notation, label))
    out: list[LabelMatch] = []
    for label, count in labels.most_common():
        words = _words(label)
        best: dict[str, tuple[int, str]] = {}
        reviewed = (known or {}).get(fold(label))
        if reviewed:
            for notation in reviewed[0]:
                best[notation] = (100, f"as in {reviewed[1]}")
        for target, notation, shown in targets:
            if not words:
                break
            score = int(round(max(fuzz.WRatio(words, target), fuzz.token_sort_ratio(words, target))))
            if score > best.get(notation, (-1, ""))[0]:
                best[notation] = (score, f"{shown!r}")
        order = {notation: i for i, notation in enumerate(best)}  # a reviewed crosswalk's order first
        ranked = sorted(
            ((n, s, why) for n, (s, why) in best.items() if s >= SUGGEST_SCORE),
            key=lambda item: (-item[1], order[item[0]]),
        )
        out.append(LabelMatch(label, count, ranked[:3]))
    return out
