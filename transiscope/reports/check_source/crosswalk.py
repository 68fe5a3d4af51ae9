"""The draft category crosswalk: each label of the source matched to the closest taxonomy concepts.

Why: mapping a source's categories to ``ontology/taxonomy.ttl`` is the part of a mapping that needs a person;
this proposes the candidates with a score (folded-label similarity, rapidfuzz) and reuses the decisions other
sources' crosswalks already hold, so that the person reviews a short list instead of reading the taxonomy.

Only sure matches become active lines of the draft, since an active line files records under a concept
without anyone deciding it: a label that another source's (reviewed) crosswalk maps, or one whose folded form
(case, accents, punctuation and small words set aside) is the folded form of a concept's label, alternative
label or notation, or within :data:`EXACT_RATIO` of it by plain edit-distance similarity (``fuzz.ratio``, over
the whole string: no partial or word-set matching, which scored "tür" 90 against "Agriculture"). Every other
candidate is written as a commented ``# suggestion:`` line for a person to decide.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from transiscope.core.taxonomy import Concept, read_taxonomy
from transiscope.reports.check_source.text import fold

#: a draft crosswalk entry is active when the folded label is this similar (``fuzz.ratio``, 0-100) to a concept's
EXACT_RATIO = 90
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
    #: the concept whose label the folded label equals or nearly equals (:data:`EXACT_RATIO`), if any
    exact: str | None = None

    @property
    def reviewed(self) -> list[str]:
        """The notations another source's crosswalk gives for the same folded label."""
        return [n for n, _score, why in self.candidates if why.startswith("as in ")]

    @property
    def confident(self) -> bool:
        """Whether the draft writes the label as an active line: a reviewed decision or a (near-)exact label."""
        return bool(self.reviewed) or self.exact is not None

    @property
    def proposed(self) -> list[str]:
        """The draft's notations: every one a reviewed crosswalk gives for the label, else the (near-)exact
        concept, else (for a suggestion only) the closest one."""
        return self.reviewed or ([self.exact] if self.exact else [self.candidates[0][0]] if self.candidates else [])


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
        exact: tuple[int, str] | None = None  # (ratio, notation) of the closest (near-)exact label
        for target, notation, shown in targets:
            if not words:
                break
            score = int(round(max(fuzz.WRatio(words, target), fuzz.token_sort_ratio(words, target))))
            if score > best.get(notation, (-1, ""))[0]:
                best[notation] = (score, f"{shown!r}")
            ratio = int(round(fuzz.ratio(words, target)))
            if ratio >= EXACT_RATIO and (exact is None or ratio > exact[0]):
                exact = (ratio, notation)
        order = {notation: i for i, notation in enumerate(best)}  # a reviewed crosswalk's order first
        ranked = sorted(
            ((n, s, why) for n, (s, why) in best.items() if s >= SUGGEST_SCORE),
            key=lambda item: (-item[1], order[item[0]]),
        )
        out.append(LabelMatch(label, count, ranked[:3], exact[1] if exact else None))
    return out
