"""The integrity-constraint queries themselves: hand-made cubes, one valid and one per violation they must catch."""

from __future__ import annotations

import pytest

from tests.integration.datacube import cube_store, violations

EX = "http://example.org/"
QB = "http://purl.org/linked-data/cube#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _cube(observations: list[tuple[str, str, str]], *, code_list: str = "scheme", extra: str = "") -> bytes:
    """A one-measure cube: dimensions ex:area (a code list) and ex:year, measure ex:value; obs (area, year, v)."""
    lines = [
        f"<{EX}ds> <{RDF}type> <{QB}DataSet> .",
        f"<{EX}ds> <{QB}structure> <{EX}dsd> .",
        f"<{EX}dsd> <{RDF}type> <{QB}DataStructureDefinition> .",
        f"<{EX}dsd> <{QB}component> <{EX}c1> .",
        f"<{EX}c1> <{QB}dimension> <{EX}area> .",
        f"<{EX}dsd> <{QB}component> <{EX}c2> .",
        f"<{EX}c2> <{QB}dimension> <{EX}year> .",
        f"<{EX}dsd> <{QB}component> <{EX}c3> .",
        f"<{EX}c3> <{QB}measure> <{EX}value> .",
        f"<{EX}area> <{RDFS}range> <{SKOS}Concept> .",
        f"<{EX}area> <{QB}codeList> <{EX}areas> .",
        f"<{EX}year> <{RDFS}range> <{XSD}gYear> .",
        f"<{EX}north> <{RDF}type> <{SKOS}Concept> .",
        f"<{EX}south> <{RDF}type> <{SKOS}Concept> .",
    ]
    if code_list == "scheme":
        lines += [f"<{EX}areas> <{RDF}type> <{SKOS}ConceptScheme> ."]
        lines += [f"<{EX}{c}> <{SKOS}inScheme> <{EX}areas> ." for c in ("north", "south")]
    elif code_list == "hierarchy":
        lines += [
            f"<{EX}areas> <{RDF}type> <{QB}HierarchicalCodeList> .",
            f"<{EX}areas> <{QB}hierarchyRoot> <{EX}north> .",
            f"<{EX}areas> <{QB}parentChildProperty> <{SKOS}narrower> .",
            f"<{EX}north> <{SKOS}narrower> <{EX}south> .",
        ]
    elif code_list == "inverse":
        lines += [
            f"<{EX}areas> <{RDF}type> <{QB}HierarchicalCodeList> .",
            f"<{EX}areas> <{QB}hierarchyRoot> <{EX}north> .",
            f"<{EX}areas> <{QB}parentChildProperty> _:inverse .",
            f"_:inverse <http://www.w3.org/2002/07/owl#inverseOf> <{SKOS}broader> .",
            f"<{EX}south> <{SKOS}broader> <{EX}north> .",
        ]
    for n, (area, year, value) in enumerate(observations):
        o = f"<{EX}o{n}>"
        lines += [
            f"{o} <{QB}dataSet> <{EX}ds> .",
            *([f"{o} <{EX}area> <{EX}{area}> ."] if area else []),
            f'{o} <{EX}year> "{year}"^^<{XSD}gYear> .',
            *([f'{o} <{EX}value> "{value}"^^<{XSD}decimal> .'] if value else []),
        ]
    return ("\n".join(lines) + "\n" + extra).encode()


VALID = [("north", "2025", "1"), ("north", "2026", "2"), ("south", "2026", "3")]


@pytest.mark.parametrize("code_list", ["scheme", "hierarchy", "inverse"])
def test_a_valid_cube_violates_nothing(code_list: str) -> None:
    assert violations(cube_store(ntriples=_cube(VALID, code_list=code_list))) == []


@pytest.mark.parametrize(
    ("observations", "code_list", "expected"),
    [
        ([*VALID, ("south", "2026", "4")], "scheme", ["IC-12 no duplicate observations"]),
        ([*VALID, ("", "2024", "4")], "scheme", ["IC-11 all dimensions required"]),
        ([*VALID, ("south", "2024", "")], "scheme", ["IC-14 all measures present"]),
        ([*VALID, ("east", "2024", "4")], "scheme", ["IC-19 codes from code list (concept scheme)"]),
        ([*VALID, ("east", "2024", "4")], "hierarchy", [f"IC-20 codes from hierarchy ({SKOS}narrower)"]),
        ([*VALID, ("east", "2024", "4")], "inverse", [f"IC-21 codes from hierarchy (inverse) ({SKOS}broader)"]),
    ],
)
def test_each_violation_is_caught(observations: list[tuple[str, str, str]], code_list: str, expected: list) -> None:
    assert violations(cube_store(ntriples=_cube(observations, code_list=code_list))) == expected


def test_a_measure_dimension_cube_needs_every_measure_and_one_per_observation() -> None:
    """IC-15 … IC-17: the shape the gaps cube had before (one qb:measureType dimension, values that exist only)."""
    base = _cube([]).decode().replace(f"<{EX}c3> <{QB}measure> <{EX}value> .", "")
    structure = (
        f"<{EX}dsd> <{QB}component> <{EX}c3> .\n<{EX}c3> <{QB}measure> <{EX}value> .\n"
        f"<{EX}dsd> <{QB}component> <{EX}c4> .\n<{EX}c4> <{QB}measure> <{EX}other> .\n"
        f"<{EX}dsd> <{QB}component> <{EX}c5> .\n<{EX}c5> <{QB}dimension> <{QB}measureType> .\n"
        f"<{QB}measureType> <{RDFS}range> <{QB}MeasureProperty> .\n"
    )

    def obs(name: str, area: str, measure: str, value_of: str) -> str:
        o = f"<{EX}{name}>"
        return (
            f"{o} <{QB}dataSet> <{EX}ds> .\n{o} <{EX}area> <{EX}{area}> .\n"
            f'{o} <{EX}year> "2026"^^<{XSD}gYear> .\n{o} <{QB}measureType> <{EX}{measure}> .\n'
            f'{o} <{EX}{value_of}> "1"^^<{XSD}decimal> .\n'
        )

    complete = obs("a", "north", "value", "value") + obs("b", "north", "other", "other")
    assert violations(cube_store(ntriples=(base + structure + complete).encode())) == []
    missing = complete + obs("c", "south", "value", "value")  # south has no "other"
    assert violations(cube_store(ntriples=(base + structure + missing).encode())) == [
        "IC-17 all measures present in measures dimension cube"
    ]
    wrong = complete.replace(f'<{EX}b> <{EX}other> "1"', f'<{EX}b> <{EX}value> "1"')
    assert set(violations(cube_store(ntriples=(base + structure + wrong).encode()))) >= {
        "IC-15 measure dimension consistent",
        "IC-16 single measure on measure dimension observation",
    }
