"""The statistics graphs: what the analysts' example queries aggregate, kept aggregated in the store.

Why: at 100,000 initiatives the counting example queries took 1.3–17 s each because each of them scans every
initiative (counts per category or département, a name-and-place key per record for the overlap).
Their figures change only when a source is loaded or the sources are linked, so each load writes the
aggregates of its own source (``graph/statistics/source/<id>``), and the link step writes the source overlap
(``graph/statistics/overlap``). The example queries of ``queries/`` read those nodes and stay plain SPARQL over
the store; ``tests/integration/test_serve.py`` checks each against the scan it replaces (``queries/scans/``).

What is kept, per source:

- ``ts:CategoryCount`` nodes: records per concept (``ts:countedConcept``, ``ts:recordCount``), and
  ``ts:DepartementCount`` nodes per concept and département (``ts:departementCode``, from the postcode as the
  département query has always derived it).

Not kept, because it would not help on Oxigraph 0.5 (measured at 100k): an index of records by modification day
and a grid of 0.1° cells for "within N km". The engine joins a computed IRI (``BIND(IRI(...))``) or a filtered
range by hashing every candidate triple, never by index lookup (only IRIs written in ``VALUES`` are looked up),
so "changed since" and "within distance" took as long through the index as by their scans (4.9 vs 4.6 s, 6.5
vs 4.2 s), and writing the index cost 6 s per load.

The aggregates are computed by the store itself (SPARQL ``CONSTRUCT`` over the source graph), so they count what
a query over the live graphs counts. On the embedded store they are written in the same writer session as the
load and published with it; on a remote store a reader may see a new source graph with its previous statistics
for the time between the two requests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyoxigraph as ox

from transiscope.core import vocab
from transiscope.store.base import TripleStore

#: the project's prefixes, and owl: for the overlap's sameAs
_PREFIXES = vocab.SPARQL_PREFIXES + "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"


def statistics_graph(base: str, name: str) -> str:
    """The graph of one source's statistics (``source/<id>``) or of the overlap (``overlap``)."""
    return f"{base}graph/statistics/{name}"


def source_statistics_graph(base: str, source_id: str) -> str:
    return statistics_graph(base, "source/" + vocab.quote_id(source_id))


def _source_queries(base: str, source_id: str) -> list[str]:
    graph = vocab.source_graph(base, source_id)
    source = vocab.source_iri(base, source_id)
    node = f"{base}stat/{vocab.quote_id(source_id)}/"
    departement = """BIND(IF(STRSTARTS(?postcode, "97"), SUBSTR(?postcode, 1, 3),
                     IF(STRSTARTS(?postcode, "20"), "2A/2B", SUBSTR(?postcode, 1, 2))) AS ?departement)"""
    return [
        f"""CONSTRUCT {{ ?node a ts:CategoryCount ; ts:countedSource <{source}> ; ts:countedConcept ?category ;
                            ts:recordCount ?n }}
        WHERE {{
          {{ SELECT ?category (COUNT(?initiative) AS ?n)
             WHERE {{ GRAPH <{graph}> {{ ?initiative ts:category ?category . ?initiative a ts:Initiative . }} }}
             GROUP BY ?category }}
          BIND(IRI(CONCAT("{node}concept/", MD5(STR(?category)))) AS ?node)
        }}""",
        f"""CONSTRUCT {{ ?node a ts:DepartementCount ; ts:countedSource <{source}> ; ts:countedConcept ?category ;
                            ts:departementCode ?departement ; ts:recordCount ?n }}
        WHERE {{
          {{ SELECT ?departement ?category (COUNT(?initiative) AS ?n)
             WHERE {{
               GRAPH <{graph}> {{
                 ?initiative ts:category ?category ; schema:address ?address .
                 ?initiative a ts:Initiative .
                 ?address schema:postalCode ?postcode .
               }}
               FILTER(STRLEN(?postcode) = 5)
               {departement}
             }}
             GROUP BY ?departement ?category }}
          BIND(IRI(CONCAT("{node}departement/", ENCODE_FOR_URI(?departement), "/", MD5(STR(?category)))) AS ?node)
        }}""",
    ]


#: the shared-records count of two sources, as ``queries/source-overlap.rq`` used to compute it on every call:
#: records linked by owl:sameAs, or with the same folded name at the same place (0.01°)
OVERLAP_SCAN = """
SELECT ?sourceA ?sourceB (COUNT(DISTINCT ?key) AS ?shared)
WHERE {
  {
    ?a owl:sameAs ?b ; ts:source ?sourceA . ?b ts:source ?sourceB .
    BIND(STR(?a) AS ?key)
  } UNION {
    {
      SELECT ?key WHERE {
        ?i a ts:Initiative ; ts:source ?s ; schema:name ?n ; geo:hasGeometry ?g .
        ?g schema:latitude ?lat ; schema:longitude ?lon .
        BIND(CONCAT(REPLACE(REPLACE(REPLACE(LCASE(?n), "[éèêë]", "e"), "[àâä]", "a"), "\\\\s+", " "),
                    "|", STR(ROUND(?lat * 100)), "|", STR(ROUND(?lon * 100))) AS ?key)
      }
      GROUP BY ?key
      HAVING (COUNT(DISTINCT ?s) > 1)
    }
    {
      ?a a ts:Initiative ; ts:source ?sourceA ; schema:name ?nameA ; geo:hasGeometry ?ga .
      ?ga schema:latitude ?latA ; schema:longitude ?lonA .
      BIND(CONCAT(REPLACE(REPLACE(REPLACE(LCASE(?nameA), "[éèêë]", "e"), "[àâä]", "a"), "\\\\s+", " "),
                "|", STR(ROUND(?latA * 100)), "|", STR(ROUND(?lonA * 100))) AS ?key)
    }
    {
      ?b a ts:Initiative ; ts:source ?sourceB ; schema:name ?nameB ; geo:hasGeometry ?gb .
      ?gb schema:latitude ?latB ; schema:longitude ?lonB .
      BIND(CONCAT(REPLACE(REPLACE(REPLACE(LCASE(?nameB), "[éèêë]", "e"), "[àâä]", "a"), "\\\\s+", " "),
                "|", STR(ROUND(?latB * 100)), "|", STR(ROUND(?lonB * 100))) AS ?key)
    }
  }
  FILTER(STR(?sourceA) < STR(?sourceB))
}
GROUP BY ?sourceA ?sourceB
"""


def _overlap_query(base: str) -> str:
    return f"""CONSTRUCT {{ ?node a ts:SourceOverlap ; ts:sourceA ?sourceA ; ts:sourceB ?sourceB ;
                              ts:recordCount ?shared }}
    WHERE {{
      {{ {OVERLAP_SCAN} }}
      BIND(IRI(CONCAT("{base}stat/overlap/", MD5(CONCAT(STR(?sourceA), " ", STR(?sourceB))))) AS ?node)
    }}"""


def _write(store: TripleStore, graph: str, queries: list[str]) -> int:
    """Replace ``graph`` with the triples the CONSTRUCT queries give; returns its triple count."""
    with tempfile.TemporaryDirectory(prefix="transiscope-statistics-") as work:
        path = Path(work) / "statistics.nt"
        with path.open("wb") as out:
            for query in queries:
                result = store.query(_PREFIXES + query)
                assert isinstance(result, ox.QueryTriples)  # a CONSTRUCT gives triples
                result.serialize(out, ox.RdfFormat.N_TRIPLES)
        return store.replace_graph(graph, graph + "/staging", path)


def write_source_statistics(store: TripleStore, base: str, source_id: str) -> int:
    """Recompute one source's statistics from its live graph (after its load); returns the triples written."""
    return _write(store, source_statistics_graph(base, source_id), _source_queries(base, source_id))


def write_overlap_statistics(store: TripleStore, base: str) -> int:
    """Recompute the source overlap (after the link step: it counts the sameAs links); returns the triples."""
    return _write(store, statistics_graph(base, "overlap"), [_overlap_query(base)])
