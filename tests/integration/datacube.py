"""The W3C RDF Data Cube integrity constraints IC-1 … IC-21 as SPARQL ASK queries, for the tests.

Why written here: the gaps graph must be a well-formed cube (recommendation of 16 January 2014, §11); each
query asks whether a violation exists, so a valid cube answers False to all of them. The constraints are meant
for a *normalized* graph (§10): :func:`normalize` runs the recommendation's phase 1 (types and
``qb:componentProperty`` closure) and phase 2 (attachment push-down) updates first. IC-20 and IC-21 are templates
instantiated once per ``qb:parentChildProperty`` of the hierarchical code lists present (§11.1). One spelling
differs from the printed text: IC-17's ``HAVING`` repeats ``COUNT(?obs2)`` rather than naming its ``SELECT``
alias, which SPARQL 1.1 binds only after ``HAVING`` is evaluated (pyoxigraph follows the algebra).
"""

from __future__ import annotations

import pyoxigraph as ox

PREFIXES = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX qb: <http://purl.org/linked-data/cube#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
"""

NORMALIZE = [
    # phase 1: type and property closure
    "INSERT { ?o rdf:type qb:Observation } WHERE { [] qb:observation ?o }",
    "INSERT { ?o rdf:type qb:Observation } WHERE { ?o qb:dataSet [] }",
    "INSERT { ?s rdf:type qb:Slice } WHERE { [] qb:slice ?s }",
    "INSERT { ?cs qb:componentProperty ?p . ?p rdf:type qb:DimensionProperty } WHERE { ?cs qb:dimension ?p }",
    "INSERT { ?cs qb:componentProperty ?p . ?p rdf:type qb:MeasureProperty } WHERE { ?cs qb:measure ?p }",
    "INSERT { ?cs qb:componentProperty ?p . ?p rdf:type qb:AttributeProperty } WHERE { ?cs qb:attribute ?p }",
    # phase 2: push down attachment levels
    """INSERT { ?obs ?comp ?value } WHERE {
        ?spec qb:componentProperty ?comp ; qb:componentAttachment qb:DataSet .
        ?dataset qb:structure [ qb:component ?spec ] ; ?comp ?value . ?obs qb:dataSet ?dataset }""",
    """INSERT { ?obs ?comp ?value } WHERE {
        ?spec qb:componentProperty ?comp ; qb:componentAttachment qb:Slice .
        ?dataset qb:structure [ qb:component ?spec ] ; qb:slice ?slice .
        ?slice ?comp ?value ; qb:observation ?obs }""",
    """INSERT { ?obs ?comp ?value } WHERE {
        ?spec qb:componentProperty ?comp . ?comp a qb:DimensionProperty .
        ?dataset qb:structure [ qb:component ?spec ] ; qb:slice ?slice .
        ?slice ?comp ?value ; qb:observation ?obs }""",
]

CONSTRAINTS: dict[str, str] = {
    "IC-1 unique data set": """ASK {
        { ?obs a qb:Observation . FILTER NOT EXISTS { ?obs qb:dataSet ?dataset1 } }
        UNION { ?obs a qb:Observation ; qb:dataSet ?dataset1, ?dataset2 . FILTER (?dataset1 != ?dataset2) } }""",
    "IC-2 unique DSD": """ASK {
        { ?dataset a qb:DataSet . FILTER NOT EXISTS { ?dataset qb:structure ?dsd } }
        UNION { ?dataset a qb:DataSet ; qb:structure ?dsd1, ?dsd2 . FILTER (?dsd1 != ?dsd2) } }""",
    "IC-3 DSD includes measure": """ASK { ?dsd a qb:DataStructureDefinition .
        FILTER NOT EXISTS { ?dsd qb:component [ qb:componentProperty [ a qb:MeasureProperty ] ] } }""",
    "IC-4 dimensions have range": "ASK { ?dim a qb:DimensionProperty . FILTER NOT EXISTS { ?dim rdfs:range [] } }",
    "IC-5 concept dimensions have code lists": """ASK { ?dim a qb:DimensionProperty ; rdfs:range skos:Concept .
        FILTER NOT EXISTS { ?dim qb:codeList [] } }""",
    "IC-6 only attributes may be optional": """ASK { ?dsd qb:component ?spec .
        ?spec qb:componentRequired "false"^^xsd:boolean ; qb:componentProperty ?component .
        FILTER NOT EXISTS { ?component a qb:AttributeProperty } }""",
    "IC-7 slice keys must be declared": """ASK { ?sliceKey a qb:SliceKey .
        FILTER NOT EXISTS { [ a qb:DataStructureDefinition ] qb:sliceKey ?sliceKey } }""",
    "IC-8 slice keys consistent with DSD": """ASK { ?sliceKey a qb:SliceKey ; qb:componentProperty ?prop .
        ?dsd qb:sliceKey ?sliceKey . FILTER NOT EXISTS { ?dsd qb:component [ qb:componentProperty ?prop ] } }""",
    "IC-9 unique slice structure": """ASK {
        { ?slice a qb:Slice . FILTER NOT EXISTS { ?slice qb:sliceStructure ?key } }
        UNION { ?slice a qb:Slice ; qb:sliceStructure ?key1, ?key2 . FILTER (?key1 != ?key2) } }""",
    "IC-10 slice dimensions complete": """ASK { ?slice qb:sliceStructure [ qb:componentProperty ?dim ] .
        FILTER NOT EXISTS { ?slice ?dim [] } }""",
    "IC-11 all dimensions required": """ASK {
        ?obs qb:dataSet/qb:structure/qb:component/qb:componentProperty ?dim . ?dim a qb:DimensionProperty .
        FILTER NOT EXISTS { ?obs ?dim [] } }""",
    "IC-12 no duplicate observations": """ASK { FILTER (?allEqual) {
        SELECT (MIN(?equal) AS ?allEqual) WHERE {
            ?obs1 qb:dataSet ?dataset . ?obs2 qb:dataSet ?dataset . FILTER (?obs1 != ?obs2)
            ?dataset qb:structure/qb:component/qb:componentProperty ?dim . ?dim a qb:DimensionProperty .
            ?obs1 ?dim ?value1 . ?obs2 ?dim ?value2 .
            BIND (?value1 = ?value2 AS ?equal)
        } GROUP BY ?obs1 ?obs2 } }""",
    "IC-13 required attributes": """ASK { ?obs qb:dataSet/qb:structure/qb:component ?component .
        ?component qb:componentRequired "true"^^xsd:boolean ; qb:componentProperty ?attr .
        FILTER NOT EXISTS { ?obs ?attr [] } }""",
    "IC-14 all measures present": """ASK { ?obs qb:dataSet/qb:structure ?dsd .
        FILTER NOT EXISTS { ?dsd qb:component/qb:componentProperty qb:measureType }
        ?dsd qb:component/qb:componentProperty ?measure . ?measure a qb:MeasureProperty .
        FILTER NOT EXISTS { ?obs ?measure [] } }""",
    "IC-15 measure dimension consistent": """ASK { ?obs qb:dataSet/qb:structure ?dsd ; qb:measureType ?measure .
        ?dsd qb:component/qb:componentProperty qb:measureType . FILTER NOT EXISTS { ?obs ?measure [] } }""",
    "IC-16 single measure on measure dimension observation": """ASK {
        ?obs qb:dataSet/qb:structure ?dsd ; qb:measureType ?measure ; ?omeasure [] .
        ?dsd qb:component/qb:componentProperty qb:measureType ; qb:component/qb:componentProperty ?omeasure .
        ?omeasure a qb:MeasureProperty . FILTER (?omeasure != ?measure) }""",
    "IC-17 all measures present in measures dimension cube": """ASK {
        { SELECT ?numMeasures (COUNT(?obs2) AS ?count) WHERE {
            { SELECT ?dsd (COUNT(?m) AS ?numMeasures) WHERE {
                ?dsd qb:component/qb:componentProperty ?m . ?m a qb:MeasureProperty } GROUP BY ?dsd }
            ?obs1 qb:dataSet/qb:structure ?dsd ; qb:dataSet ?dataset ; qb:measureType ?m1 .
            ?obs2 qb:dataSet ?dataset ; qb:measureType ?m2 .
            FILTER NOT EXISTS { ?dsd qb:component/qb:componentProperty ?dim . FILTER (?dim != qb:measureType)
                ?dim a qb:DimensionProperty . ?obs1 ?dim ?v1 . ?obs2 ?dim ?v2 . FILTER (?v1 != ?v2) }
        } GROUP BY ?obs1 ?numMeasures HAVING (COUNT(?obs2) != ?numMeasures) } }""",
    "IC-18 consistent data set links": """ASK { ?dataset qb:slice ?slice . ?slice qb:observation ?obs .
        FILTER NOT EXISTS { ?obs qb:dataSet ?dataset } }""",
    "IC-19 codes from code list (concept scheme)": """ASK {
        ?obs qb:dataSet/qb:structure/qb:component/qb:componentProperty ?dim .
        ?dim a qb:DimensionProperty ; qb:codeList ?list . ?list a skos:ConceptScheme . ?obs ?dim ?v .
        FILTER NOT EXISTS { ?v a skos:Concept ; skos:inScheme ?list } }""",
    "IC-19 codes from code list (collection)": """ASK {
        ?obs qb:dataSet/qb:structure/qb:component/qb:componentProperty ?dim .
        ?dim a qb:DimensionProperty ; qb:codeList ?list . ?list a skos:Collection . ?obs ?dim ?v .
        FILTER NOT EXISTS { ?v a skos:Concept . ?list skos:member+ ?v } }""",
}

#: IC-20 and IC-21: templates over each parent-child property ($p) of the hierarchical code lists present
IC20_PROPERTIES = """SELECT DISTINCT ?p WHERE {
    ?hierarchy a qb:HierarchicalCodeList ; qb:parentChildProperty ?p . FILTER (isIRI(?p)) }"""
IC21_PROPERTIES = """SELECT DISTINCT ?p WHERE {
    ?hierarchy a qb:HierarchicalCodeList ; qb:parentChildProperty ?pcp . FILTER (isBlank(?pcp))
    ?pcp owl:inverseOf ?p . FILTER (isIRI(?p)) }"""
HIERARCHY_TEMPLATE = """ASK {
    ?obs qb:dataSet/qb:structure/qb:component/qb:componentProperty ?dim .
    ?dim a qb:DimensionProperty ; qb:codeList ?list . ?list a qb:HierarchicalCodeList . ?obs ?dim ?v .
    FILTER NOT EXISTS { ?list qb:hierarchyRoot/PATH ?v } }"""


def normalize(store: ox.Store) -> None:
    """The recommendation's normalization algorithm (§10.3), phases 1 and 2, in the default graph."""
    for update in NORMALIZE:
        store.update(PREFIXES + update)


def violations(store: ox.Store) -> list[str]:
    """The names of the integrity constraints the (normalized) default graph of ``store`` violates."""
    found = [name for name, query in CONSTRAINTS.items() if store.query(PREFIXES + query)]
    for name, properties, path in (
        ("IC-20 codes from hierarchy", IC20_PROPERTIES, "<{p}>*"),
        ("IC-21 codes from hierarchy (inverse)", IC21_PROPERTIES, "(^<{p}>)*"),
    ):
        for row in store.query(PREFIXES + properties):  # type: ignore[union-attr]
            prop = row["p"].value
            if store.query(PREFIXES + HIERARCHY_TEMPLATE.replace("PATH", path.format(p=prop))):
                found.append(f"{name} ({prop})")
    return found


def constraint_names() -> list[str]:
    """Every constraint checked, IC-20 and IC-21 included (they run once per parent-child property)."""
    return [*CONSTRAINTS, "IC-20 codes from hierarchy", "IC-21 codes from hierarchy (inverse)"]


def cube_store(*graphs: str, ntriples: bytes | None = None) -> ox.Store:
    """A store holding the project's vocabulary (its dimension and measure properties and the taxonomy the concept
    dimension's code list is), the given N-Triples file paths or ``ntriples`` bytes, normalized."""
    from transiscope.settings import PROJECT_ROOT

    store = ox.Store()
    for name in ("transiscope.ttl", "taxonomy.ttl"):
        store.load(path=str(PROJECT_ROOT / "ontology" / name), format=ox.RdfFormat.TURTLE)
    for path in graphs:
        store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    if ntriples is not None:
        store.load(ntriples, format=ox.RdfFormat.N_TRIPLES)
    normalize(store)
    return store
