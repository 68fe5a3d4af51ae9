"""The SHACL shapes compiled to SPARQL: the shapes graph read with pyoxigraph, each constraint component turned
into SPARQL pieces (:class:`Check`), and the planner that groups them into few queries (:class:`Query`).

The planner groups the work: every value check on one (target, path) is one pass over the values (tested
first, joined with the targets only when they fail, since the join is what costs most in Oxigraph); the "at
least one" and "at most one" checks of the simple paths of a target are one query each. A shape that uses a
feature the compiler does not implement makes :func:`compile_shapes` raise :class:`UnsupportedShape`, so a
new constraint can never be silently skipped. :mod:`transiscope.ingest.shapes` runs the queries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox

from transiscope.settings import PROJECT_ROOT

SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
GEO = "http://www.opengis.net/ont/geosparql#"
SCHEMA = "http://schema.org/"
TS = "https://w3id.org/transiscope/ontology#"

#: the shapes the pipeline checks by default
DEFAULT_SHAPES = PROJECT_ROOT / "ontology" / "shapes.ttl"


#: XSD datatypes whose well-formedness the engine checks with a SPARQL cast (XSD lexical and value rules)
_CASTABLE = frozenset(
    XSD + name for name in ("decimal", "integer", "double", "float", "boolean", "date", "dateTime", "time")
)

#: shape parameters that do not constrain values
_ANNOTATIONS = frozenset(
    SH + name
    for name in ("name", "description", "order", "group", "defaultValue", "message", "severity", "deactivated")
)
_STRUCTURE = frozenset(
    SH + name
    for name in ("targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "property", "sparql", "path")
)


class UnsupportedShape(ValueError):
    """The shapes use a SHACL feature the compiler does not implement (it never skips one silently)."""


@dataclass(frozen=True)
class Check:
    """One constraint component of one shape, compiled to SPARQL pieces that the planner turns into queries."""

    shape: str  #: the shape that reports the result (a property shape, or the node shape of a SPARQL constraint)
    component: str  #: the SHACL constraint component IRI
    severity: str  #: "Violation", "Warning" or "Info"
    messages: dict[str, str]  #: language ("" for none) -> message template
    path: str | None  #: the property path, readable (prefixed names), None for node-level constraints
    target: str  #: SPARQL group pattern binding ?this to the focus nodes
    #: "value": ``expression`` is true when ?value conforms; "min1"/"max1": at least / at most one value on
    #: ``predicate``; "focus": ``body`` returns failing ?this; "pair": ``body`` returns failing ?this ?value;
    #: "sparql": a SHACL-SPARQL constraint, ``body`` returns its solutions
    kind: str
    sparql_path: str | None = None  #: the property path as SPARQL, or None for node-level constraints
    predicate: str | None = None  #: the IRI when the path is a single predicate
    expression: str | None = None
    body: str | None = None
    prologue: str = ""  #: PREFIX declarations (SHACL-SPARQL)
    sparql_constraint: str | None = None  #: SHACL-SPARQL: the constraint node

    def message(self, lang: str = "en") -> str:
        return self.messages.get(lang) or self.messages.get("") or next(iter(self.messages.values()), "")


@dataclass(frozen=True)
class Query:
    """One SPARQL query run over the data, and the checks whose failures it returns."""

    text: str
    mode: str  #: "value", "min1", "max1", "focus", "pair" or "sparql"
    checks: tuple[Check, ...]


# -- reading the shapes graph (pyoxigraph only: no rdflib in the pipeline's path) --------------------------
Term = ox.NamedNode | ox.BlankNode | ox.Literal


class _Graph:
    """A tiny read-only index of a small RDF graph: subject -> predicate -> objects."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.index: dict[Term, dict[str, list[Term]]] = {}
        for t in triples:  # a shapes graph has no RDF-star quoted triples
            subject, obj = cast(Term, t.subject), cast(Term, t.object)
            self.index.setdefault(subject, {}).setdefault(t.predicate.value, []).append(obj)

    def objects(self, subject: Term, predicate: str) -> list[Term]:
        return self.index.get(subject, {}).get(predicate, [])

    def value(self, subject: Term, predicate: str) -> Term | None:
        values = self.objects(subject, predicate)
        return values[0] if values else None

    def predicates(self, subject: Term) -> list[str]:
        return list(self.index.get(subject, {}))

    def subjects(self, predicate: str, obj: Term) -> list[Term]:
        return [s for s, props in self.index.items() if obj in props.get(predicate, [])]

    def items(self, head: Term) -> list[Term]:
        """The members of an RDF list."""
        out: list[Term] = []
        seen: set[Term] = set()
        node: Term | None = head
        while node is not None and not (isinstance(node, ox.NamedNode) and node.value == RDF + "nil"):
            if node in seen:
                raise UnsupportedShape("cyclic RDF list in the shapes graph")
            seen.add(node)
            first = self.value(node, RDF + "first")
            if first is None:
                raise UnsupportedShape(f"malformed RDF list at {node}")
            out.append(first)
            node = self.value(node, RDF + "rest")
        return out


def _name(node: Term) -> str:
    return node.value if isinstance(node, ox.NamedNode) else f"_:{node.value}"


def _sparql_term(node: Term) -> str:
    if isinstance(node, ox.BlankNode):
        raise UnsupportedShape("a blank node cannot be used as a value in a compiled constraint")
    return str(node)  # pyoxigraph writes N-Triples terms, escaped: valid SPARQL


def _messages(graph: _Graph, *nodes: Term) -> dict[str, str]:
    for node in nodes:
        values = [m for m in graph.objects(node, SH + "message") if isinstance(m, ox.Literal)]
        if values:
            return {(m.language or ""): m.value for m in values}
    return {}


def _severity(graph: _Graph, node: Term) -> str:
    severity = graph.value(node, SH + "severity")
    return severity.value.removeprefix(SH) if isinstance(severity, ox.NamedNode) else "Violation"


_PREFIXES = {
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "schema": SCHEMA,
    "geo": GEO,
    "ts": TS,
    "sf": "http://www.opengis.net/ont/sf#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "prov": "http://www.w3.org/ns/prov#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "void": "http://rdfs.org/ns/void#",
    "tx": "https://w3id.org/transiscope/taxonomy/",
}


def _short(iri: str) -> str:
    for prefix, ns in _PREFIXES.items():
        if iri.startswith(ns) and re.fullmatch(r"[A-Za-z_][\w-]*", iri[len(ns) :]):
            return f"{prefix}:{iri[len(ns) :]}"
    return f"<{iri}>"


def _sh(iri: str) -> str:
    return "sh:" + iri[len(SH) :] if iri.startswith(SH) else _short(iri)


def _path(graph: _Graph, node: Term, readable: bool = False) -> str:
    """A SHACL property path as a SPARQL property path."""
    iri = (lambda i: _short(i)) if readable else (lambda i: f"<{i}>")
    if isinstance(node, ox.NamedNode):
        return iri(node.value)
    if isinstance(node, ox.Literal):
        raise UnsupportedShape(f"a literal is not a property path: {node}")
    if graph.value(node, RDF + "first") is not None:
        return "(" + "/".join(_path(graph, p, readable) for p in graph.items(node)) + ")"
    for predicate, template in (
        (SH + "inversePath", "^({})"),
        (SH + "zeroOrMorePath", "({})*"),
        (SH + "oneOrMorePath", "({})+"),
        (SH + "zeroOrOnePath", "({})?"),
    ):
        inner = graph.value(node, predicate)
        if inner is not None:
            return template.format(_path(graph, inner, readable))
    alternatives = graph.value(node, SH + "alternativePath")
    if alternatives is not None:
        return "(" + "|".join(_path(graph, p, readable) for p in graph.items(alternatives)) + ")"
    raise UnsupportedShape(f"unsupported property path {_name(node)}")


# -- value-level constraints: a SPARQL boolean expression per constraint, true when the value conforms ---------
def _literal(node: Term) -> ox.Literal:
    if not isinstance(node, ox.Literal):
        raise UnsupportedShape(f"expected a literal, got {node}")
    return node


def _int(node: Term) -> int:
    return int(_literal(node).value)


def _value_checks(graph: _Graph, shape: Term, value: str) -> list[tuple[str, str]]:
    """(component, SPARQL expression true when ``value`` conforms) for each value-level constraint of ``shape``."""
    checks: list[tuple[str, str]] = []

    def add(component: str, expression: str) -> None:
        checks.append((SH + component, f"COALESCE({expression}, false)"))

    for node in graph.objects(shape, SH + "datatype"):
        datatype = node.value
        expression = f"isLiteral({value}) && datatype({value}) = <{datatype}>"
        if datatype in _CASTABLE:
            expression += f" && isLiteral(<{datatype}>(STR({value})))"
        add("DatatypeConstraintComponent", expression)
    for node in graph.objects(shape, SH + "nodeKind"):
        kind = node.value.removeprefix(SH)
        tests = {
            "IRI": f"isIRI({value})",
            "BlankNode": f"isBlank({value})",
            "Literal": f"isLiteral({value})",
            "BlankNodeOrIRI": f"(isIRI({value}) || isBlank({value}))",
            "BlankNodeOrLiteral": f"(isBlank({value}) || isLiteral({value}))",
            "IRIOrLiteral": f"(isIRI({value}) || isLiteral({value}))",
        }
        if kind not in tests:
            raise UnsupportedShape(f"unknown sh:nodeKind {node}")
        add("NodeKindConstraintComponent", tests[kind])
    for node in graph.objects(shape, SH + "class"):
        add("ClassConstraintComponent", f"EXISTS {{ {value} <{RDF}type>/<{RDFS}subClassOf>* <{node.value}> }}")
    flags = graph.value(shape, SH + "flags")
    for node in graph.objects(shape, SH + "pattern"):
        args = str(ox.Literal(_literal(node).value))
        if flags is not None:
            args += ", " + str(ox.Literal(_literal(flags).value))
        add("PatternConstraintComponent", f"!isBlank({value}) && REGEX(STR({value}), {args})")
    for parameter, operator, component in (("minLength", ">=", "MinLength"), ("maxLength", "<=", "MaxLength")):
        for node in graph.objects(shape, SH + parameter):
            add(f"{component}ConstraintComponent", f"!isBlank({value}) && STRLEN(STR({value})) {operator} {_int(node)}")
    for parameter, operator in (
        ("minInclusive", ">="),
        ("maxInclusive", "<="),
        ("minExclusive", ">"),
        ("maxExclusive", "<"),
    ):
        for node in graph.objects(shape, SH + parameter):
            component = parameter[0].upper() + parameter[1:] + "ConstraintComponent"
            add(component, f"{value} {operator} {_sparql_term(_literal(node))}")
    for node in graph.objects(shape, SH + "in"):
        members = graph.items(node)
        add("InConstraintComponent", " || ".join(f"sameTerm({value}, {_sparql_term(m)})" for m in members) or "false")
    for node in graph.objects(shape, SH + "not"):
        add("NotConstraintComponent", f"!({_conforms(graph, node, value)})")
    for node in graph.objects(shape, SH + "or"):
        add("OrConstraintComponent", " || ".join(f"({_conforms(graph, s, value)})" for s in graph.items(node)))
    for node in graph.objects(shape, SH + "and"):
        add("AndConstraintComponent", " && ".join(f"({_conforms(graph, s, value)})" for s in graph.items(node)))
    return checks


_VALUE_PARAMETERS = frozenset(
    SH + name
    for name in (
        "datatype",
        "nodeKind",
        "class",
        "pattern",
        "flags",
        "minLength",
        "maxLength",
        "minInclusive",
        "maxInclusive",
        "minExclusive",
        "maxExclusive",
        "in",
        "not",
        "or",
        "and",
    )
)


def _conforms(graph: _Graph, shape: Term, value: str) -> str:
    """SPARQL expression: ``value`` conforms to the (nested, value-level only) ``shape``."""
    extra = [
        p for p in graph.predicates(shape) if p.startswith(SH) and p not in _VALUE_PARAMETERS and p not in _ANNOTATIONS
    ]
    if extra:
        raise UnsupportedShape(
            f"nested shape {_name(shape)} uses {', '.join(_sh(p) for p in sorted(extra))}: only value constraints "
            "(datatype, nodeKind, class, pattern, lengths, ranges, in, and, or, not) are compiled inside and/or/not"
        )
    checks = _value_checks(graph, shape, value)
    return " && ".join(expression for _, expression in checks) or "true"


# -- compiling whole shapes ---------------------------------------------------------------------------------------
_SUPPORTED = (
    _VALUE_PARAMETERS
    | _ANNOTATIONS
    | _STRUCTURE
    | frozenset(
        SH + name for name in ("minCount", "maxCount", "hasValue", "equals", "disjoint", "lessThan", "lessThanOrEquals")
    )
)


def _targets(graph: _Graph, shape: Term) -> list[str]:
    patterns = [
        f"?this <{RDF}type>/<{RDFS}subClassOf>* <{c.value}> ." for c in graph.objects(shape, SH + "targetClass")
    ]
    patterns += [f"VALUES ?this {{ {_sparql_term(n)} }}" for n in graph.objects(shape, SH + "targetNode")]
    patterns += [f"?this <{p.value}> ?_t_o ." for p in graph.objects(shape, SH + "targetSubjectsOf")]
    patterns += [f"?_t_s <{p.value}> ?this ." for p in graph.objects(shape, SH + "targetObjectsOf")]
    return patterns


def _target_group(targets: list[str]) -> str:
    if len(targets) == 1 and not targets[0].startswith("VALUES"):
        return targets[0]
    return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(f"{{ {t} }}" for t in targets) + " } }"


def _declared_prefixes(graph: _Graph, constraint: Term) -> str:
    lines = []
    for holder in graph.objects(constraint, SH + "prefixes"):
        for declaration in graph.objects(holder, SH + "declare"):
            prefix, namespace = graph.value(declaration, SH + "prefix"), graph.value(declaration, SH + "namespace")
            if prefix is None or namespace is None:
                raise UnsupportedShape(f"incomplete sh:declare in {_name(holder)}")
            lines.append(f"PREFIX {prefix.value}: <{namespace.value}>")
    return "\n".join(dict.fromkeys(lines))


def _check_parameters(graph: _Graph, shape: Term) -> None:
    unknown = [p for p in graph.predicates(shape) if p.startswith(SH) and p not in _SUPPORTED]
    if graph.value(shape, SH + "path") is not None:  # a property shape: no nested shapes
        unknown += [p for p in (SH + "property", SH + "sparql") if graph.value(shape, p) is not None]
    if unknown:
        raise UnsupportedShape(
            f"shape {_name(shape)} uses {', '.join(_sh(p) for p in unknown)}, which transiscope.ingest.shapes does not "
            "compile; implement it there (and test it against pyshacl) first"
        )


def _compile_shape(graph: _Graph, shape: Term, targets: list[str]) -> Iterator[Check]:
    """The checks of one shape (a property shape, or the node-level constraints of a node shape)."""
    _check_parameters(graph, shape)
    base: dict[str, Any] = {
        "shape": _name(shape),
        "severity": _severity(graph, shape),
        "messages": _messages(graph, shape),
        "target": _target_group(targets),
    }
    target = base["target"]
    path_node = graph.value(shape, SH + "path")
    if path_node is None:  # node-level constraints: the value is the focus node itself
        for component, expression in _value_checks(graph, shape, "?value"):
            yield Check(component=component, path=None, kind="value", expression=expression, **base)
        for parameter in ("minCount", "maxCount", "hasValue", "equals", "disjoint", "lessThan", "lessThanOrEquals"):
            if graph.value(shape, SH + parameter) is not None:
                raise UnsupportedShape(f"sh:{parameter} needs sh:path (shape {base['shape']})")
        return
    path = _path(graph, path_node)
    base["path"] = _path(graph, path_node, readable=True)
    predicate = path_node.value if isinstance(path_node, ox.NamedNode) else None
    common: dict[str, Any] = {"sparql_path": path, "predicate": predicate, **base}
    for component, expression in _value_checks(graph, shape, "?value"):
        yield Check(component=component, kind="value", expression=expression, **common)
    for node in graph.objects(shape, SH + "minCount"):
        n, component = _int(node), SH + "MinCountConstraintComponent"
        if n == 1:
            yield Check(
                component=component, kind="min1", body=f"{target} FILTER NOT EXISTS {{ ?this {path} ?_v }}", **common
            )
        elif n > 1:
            yield Check(
                component=component,
                kind="focus",
                **common,
                body=f"{{ SELECT ?this (COUNT(DISTINCT ?_v) AS ?_n) WHERE {{ {target} "
                f"OPTIONAL {{ ?this {path} ?_v }} }} GROUP BY ?this }} FILTER (?_n < {n})",
            )
    for node in graph.objects(shape, SH + "maxCount"):
        n, component = _int(node), SH + "MaxCountConstraintComponent"
        if n == 1:  # two distinct values: a self-join, much faster than grouping every focus node
            yield Check(
                component=component,
                kind="max1",
                body=f"{target} ?this {path} ?_v1 , ?_v2 . FILTER (!sameTerm(?_v1, ?_v2))",
                **common,
            )
        else:
            yield Check(
                component=component,
                kind="focus",
                **common,
                body=f"{{ SELECT ?this (COUNT(DISTINCT ?_v) AS ?_n) WHERE {{ {target} ?this {path} ?_v }}"
                f" GROUP BY ?this }} FILTER (?_n > {n})",
            )
    for node in graph.objects(shape, SH + "hasValue"):
        yield Check(
            component=SH + "HasValueConstraintComponent",
            kind="focus",
            **common,
            body=f"{{ {target} }} MINUS {{ ?this {path} {_sparql_term(node)} }}",
        )
    for node in graph.objects(shape, SH + "equals"):
        other = f"<{node.value}>"
        yield Check(
            component=SH + "EqualsConstraintComponent",
            kind="pair",
            **common,
            body=f"{{ SELECT ?this ?value WHERE {{ {{ ?this {path} ?value FILTER NOT EXISTS "
            f"{{ ?this {other} ?value }} }} UNION {{ ?this {other} ?value FILTER NOT EXISTS "
            f"{{ ?this {path} ?value }} }} }} }} {target}",
        )
    for node in graph.objects(shape, SH + "disjoint"):
        yield Check(
            component=SH + "DisjointConstraintComponent",
            kind="pair",
            **common,
            body=f"{target} ?this {path} ?value . ?this <{node.value}> ?value .",
        )
    for parameter, operator in (("lessThan", "<"), ("lessThanOrEquals", "<=")):
        component = SH + parameter[0].upper() + parameter[1:] + "ConstraintComponent"
        for node in graph.objects(shape, SH + parameter):
            yield Check(
                component=component,
                kind="pair",
                **common,
                body=f"{target} ?this {path} ?value . ?this <{node.value}> ?_o . "
                f"FILTER (COALESCE(!(?value {operator} ?_o), false))",
            )


def _compile_sparql(graph: _Graph, node_shape: Term, constraint: Term, targets: list[str]) -> Check:
    select = graph.value(constraint, SH + "select")
    if select is None:
        raise UnsupportedShape(f"SPARQL constraint {_name(constraint)} has no sh:select")
    text = _literal(select).value
    for variable in ("$PATH", "$currentShape", "$shapesGraph"):
        if variable in text:
            raise UnsupportedShape(f"SPARQL constraint {_name(constraint)} uses {variable}")
    target = _target_group(targets)
    text = re.sub(r"\$this\b", "?this", text)
    severity_node = constraint if graph.value(constraint, SH + "severity") is not None else node_shape
    return Check(
        shape=_name(node_shape),
        component=SH + "SPARQLConstraintComponent",
        severity=_severity(graph, severity_node),
        messages=_messages(graph, constraint, node_shape),
        path=None,
        target=target,
        kind="sparql",
        body=f"{target} {{ {text} }}",
        prologue=_declared_prefixes(graph, constraint),
        sparql_constraint=_name(constraint),
    )


def compile_shapes(triples: Iterable[ox.Triple]) -> list[Check]:
    """Every constraint of a SHACL shapes graph, compiled; raises :class:`UnsupportedShape`."""
    graph = _Graph(triples)
    true = ox.Literal("true", datatype=ox.NamedNode(XSD + "boolean"))
    shapes: list[Term] = []
    for node, props in graph.index.items():
        kinds = {t.value for t in props.get(RDF + "type", []) if isinstance(t, ox.NamedNode)}
        if (
            SH + "NodeShape" in kinds
            or SH + "PropertyShape" in kinds
            or any(p.startswith(SH + "target") for p in props)
        ):
            shapes.append(node)
    checks: list[Check] = []
    for shape in sorted(shapes, key=_name):
        if true in graph.objects(shape, SH + "deactivated"):
            continue
        targets = _targets(graph, shape)
        if not targets:
            continue  # only reached through sh:property of a node shape (or unused)
        checks.extend(_compile_shape(graph, shape, targets))
        for prop in graph.objects(shape, SH + "property"):
            if true not in graph.objects(prop, SH + "deactivated"):
                checks.extend(_compile_shape(graph, prop, targets))
        for sparql in graph.objects(shape, SH + "sparql"):
            if true not in graph.objects(sparql, SH + "deactivated"):
                checks.append(_compile_sparql(graph, shape, sparql, targets))
    return checks


def plan(checks: Iterable[Check]) -> list[Query]:
    """Group checks into few queries: every value check on one (target, path) in one pass over the values, and
    the at-least-one / at-most-one checks of single predicates of one target in one query each."""
    values: dict[tuple[str, str | None], list[Check]] = {}
    counts: dict[tuple[str, str], list[Check]] = {}
    queries: list[Query] = []
    for check in checks:
        if check.kind == "value":
            values.setdefault((check.target, check.sparql_path), []).append(check)
        elif check.kind in ("min1", "max1") and check.predicate is not None:
            counts.setdefault((check.kind, check.target), []).append(check)
        else:
            mode = "focus" if check.kind in ("min1", "max1") else check.kind
            select = {"focus": "?this", "pair": "?this ?value", "sparql": "*"}[mode]
            text = f"{check.prologue}\nSELECT DISTINCT {select} WHERE {{ {check.body} }}"
            queries.append(Query(text, mode, (check,)))
    for (target, path), group in values.items():
        flags = " ".join(f"BIND ({check.expression} AS ?f{i})" for i, check in enumerate(group))
        failing = " || ".join(f"!?f{i}" for i in range(len(group)))
        select = "?this ?value " + " ".join(f"?f{i}" for i in range(len(group)))
        if path is None:
            body = f"{target} BIND (?this AS ?value) {flags} FILTER ({failing})"
        else:  # test the values first, then keep the failing ones whose subject is a target: joining every
            # value with the target is what costs most in Oxigraph, and failures are few
            body = f"{{ SELECT {select} WHERE {{ ?this {path} ?value . {flags} FILTER ({failing}) }} }} {target}"
        queries.append(Query(f"SELECT DISTINCT {select} WHERE {{ {body} }}", "value", tuple(group)))
    for (kind, target), group in counts.items():
        predicates = " ".join(dict.fromkeys(f"<{check.predicate}>" for check in group))
        if kind == "min1":
            text = (
                f"SELECT DISTINCT ?this ?_p WHERE {{ VALUES ?_p {{ {predicates} }} {target} "
                "FILTER NOT EXISTS { ?this ?_p ?_v } }"
            )
        else:  # focus nodes with more values than predicates: one grouped pass (the predicate is found after)
            listed = predicates.replace(" ", ", ")
            text = (
                f"SELECT ?this WHERE {{ {target} ?this ?_p ?_v FILTER (?_p IN ({listed})) }}"
                " GROUP BY ?this HAVING (COUNT(*) > COUNT(DISTINCT ?_p))"
            )
        queries.append(Query(text, kind, tuple(group)))
    return queries


@functools.lru_cache(maxsize=8)
def _load_shapes_cached(path: str, mtime_ns: int, size: int) -> tuple[Query, ...]:
    return tuple(plan(compile_shapes(ox.parse(path=path, format=ox.RdfFormat.TURTLE))))


def load_shapes(path: Path = DEFAULT_SHAPES) -> list[Query]:
    """The planned queries of a shapes file (compiled once per version of the file)."""
    stat = Path(path).stat()
    return list(_load_shapes_cached(str(path), stat.st_mtime_ns, stat.st_size))
