"""The one reader of the SKOS taxonomy (``ontology/taxonomy.ttl``): concepts, labels, broader links.

Why one reader: the registry check (are the crosswalks' notations real?), the per-source check (which concept
is closest to a source's label?), the maintainers' guide and the gap analysis (counts per concept and its
broader ones) all need the same concepts; reading them one way means they cannot disagree. The file is small
(a few dozen concepts), so rdflib parses it in a few milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from transiscope.core.errors import ConfigError
from transiscope.core.vocab import TX


@dataclass(frozen=True)
class Concept:
    """One concept with a ``skos:notation`` (its stable key in crosswalks, exports and the gaps cube)."""

    notation: str
    #: prefLabel per language ("fr", "en")
    labels: dict[str, str]
    alt_labels: tuple[str, ...] = ()
    #: the notation of the broader concept; None for a top concept
    broader: str | None = None
    definitions: dict[str, str] = field(default_factory=dict)
    #: local names of the concept schemes the concept is in ("domaines")
    schemes: tuple[str, ...] = ()

    def label(self, language: str = "fr") -> str:
        """The label in ``language``, else the French one, else the notation."""
        return self.labels.get(language) or self.labels.get("fr") or self.notation


@dataclass(frozen=True)
class Taxonomy:
    """The concepts in file order, each top concept followed by its narrower ones."""

    concepts: tuple[Concept, ...]

    @property
    def notations(self) -> tuple[str, ...]:
        return tuple(c.notation for c in self.concepts)

    @property
    def broader(self) -> dict[str, str]:
        """notation -> broader notation, for the concepts that have one."""
        return {c.notation: c.broader for c in self.concepts if c.broader}

    def get(self, notation: str) -> Concept | None:
        return next((c for c in self.concepts if c.notation == notation), None)

    def closure(self, notation: str) -> list[str]:
        """The concept and all its broader concepts (bounded by the taxonomy's size, so a cycle cannot hang)."""
        broader = self.broader
        chain = [notation]
        while chain[-1] in broader and len(chain) <= len(self.concepts):
            chain.append(broader[chain[-1]])
        return chain

    def in_scheme(self, scheme: str) -> Taxonomy:
        """Only the concepts of one scheme (by its local name, e.g. ``"domaines"``); broader links outside it
        are dropped, so that a concept whose parent is elsewhere becomes a top concept."""
        kept = [c for c in self.concepts if scheme in c.schemes]
        names = {c.notation for c in kept}
        return Taxonomy(
            tuple(c if c.broader in names or c.broader is None else _without_broader(c) for c in kept),
        )


def _without_broader(concept: Concept) -> Concept:
    return Concept(concept.notation, concept.labels, concept.alt_labels, None, concept.definitions, concept.schemes)


def read_taxonomy(path: Path) -> Taxonomy:
    """Read the taxonomy file.

    Raises :class:`ConfigError` (one line naming the file) when it is missing or is not valid Turtle.
    """
    import rdflib
    from rdflib.namespace import SKOS

    graph = rdflib.Graph()
    try:
        text = path.read_text(encoding="utf-8")
        graph.parse(data=text, format="turtle")
    except (OSError, SyntaxError, ValueError) as exc:
        raise ConfigError(f"cannot read the taxonomy {path}: {exc}") from None

    def notation_of(node: rdflib.term.Node) -> str | None:
        value = graph.value(node, SKOS.notation)
        return None if value is None else str(value)

    concepts: dict[str, Concept] = {}
    for node, notation in graph.subject_objects(SKOS.notation):
        broader = next((n for b in graph.objects(node, SKOS.broader) if (n := notation_of(b)) is not None), None)
        concepts[str(notation)] = Concept(
            notation=str(notation),
            labels={lit.language: str(lit) for lit in graph.objects(node, SKOS.prefLabel) if lit.language},  # type: ignore[attr-defined]
            alt_labels=tuple(sorted(str(a) for a in graph.objects(node, SKOS.altLabel))),
            broader=broader,
            definitions={lit.language: str(lit) for lit in graph.objects(node, SKOS.definition) if lit.language},  # type: ignore[attr-defined]
            schemes=tuple(sorted(str(s).removeprefix(TX) for s in graph.objects(node, SKOS.inScheme))),
        )
    # file order: the position of each notation in the text (rdflib does not keep it)
    order = {m.group(1): m.start() for m in re.finditer(r'skos:notation\s+"([^"]+)"', text)}

    def position(concept: Concept) -> int:
        return order.get(concept.notation, len(text))

    ordered: list[Concept] = []
    for top in sorted((c for c in concepts.values() if c.broader is None), key=position):
        ordered.append(top)
        ordered.extend(sorted((c for c in concepts.values() if c.broader == top.notation), key=position))
    ordered.extend(sorted((c for c in concepts.values() if c not in ordered), key=position))  # deeper levels
    return Taxonomy(tuple(ordered))
