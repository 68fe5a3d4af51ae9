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

- ``ts:gridCell`` on each geometry: the keys of the lat/lon cells it lies in, at three sizes (``"10 457 48"``:
  row ``FLOOR(lat × 10)`` and column ``FLOOR(lon × 10)`` of the 0.1° grid; ``"1 45 4"``: the 1° grid;
  ``"0.1 4 0"``: the 10° grid), for ``queries/within-distance.rq``,
  which enumerates the cells of the box around its point.
- ``ts:ModificationDay`` nodes: per day of ``schema:dateModified`` (its first ten characters, ``YYYY-MM-DD``),
  the records modified that day (``ts:modifiedRecord``), for ``queries/changed-since.rq``, which reads the
  days (a few thousand) instead of every record.

Why these shapes: Oxigraph 0.5 looks a triple up by index only for a join variable it knows is always bound
(its optimizer's type inference); a variable computed by ``BIND`` may be unbound (an expression error), so
``BIND(CONCAT(...) AS ?key) . ?g ts:gridCell ?key`` is joined by hashing every ``ts:gridCell`` triple (6.5 s
at 100k). ``BIND(COALESCE(CONCAT(...), "") AS ?key)`` is always bound as far as the engine can tell, and the
same query then does one lookup per cell (milliseconds). The days are found by a filtered scan of the day
nodes (one per source and day), and each day's records by lookup from the node.

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


#: what the statistics graphs hold; a load whose triples did not change rewrites a graph of another version
#: (``ts:statisticsVersion`` on the graph's IRI), so a store upgraded keeps answering the new queries
STATISTICS_VERSION = 2


def are_current(store: TripleStore, base: str, source_id: str) -> bool:
    """Whether the source's statistics graph exists and has this module's version."""
    graph = source_statistics_graph(base, source_id)
    result = store.query(
        _PREFIXES + f"ASK {{ GRAPH <{graph}> {{ <{graph}> ts:statisticsVersion {STATISTICS_VERSION} }} }}"
    )
    assert isinstance(result, ox.QueryBoolean)  # an ASK gives a boolean
    return bool(result)


def _source_queries(base: str, source_id: str) -> list[str]:
    graph = vocab.source_graph(base, source_id)
    source = vocab.source_iri(base, source_id)
    node = f"{base}stat/{vocab.quote_id(source_id)}/"
    departement = """BIND(IF(STRSTARTS(?postcode, "97"), SUBSTR(?postcode, 1, 3),
                     IF(STRSTARTS(?postcode, "20"), "2A/2B", SUBSTR(?postcode, 1, 2))) AS ?departement)"""
    return [
        f"""CONSTRUCT {{ <{source_statistics_graph(base, source_id)}> ts:statisticsVersion {STATISTICS_VERSION} }}
        WHERE {{}}""",
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
        # the grid keys: the same expressions as queries/within-distance.rq computes for the cells of its box
        f"""CONSTRUCT {{ ?geometry ts:gridCell ?fine , ?middle , ?coarse }}
        WHERE {{
          GRAPH <{graph}> {{
            ?initiative a ts:Initiative ; geo:hasGeometry ?geometry .
            ?geometry schema:latitude ?lat ; schema:longitude ?lon .
          }}
          # in doubles, as the query numbers its cells: a decimal product can overflow (18 fraction digits)
          BIND(xsd:double(?lat) AS ?y)
          BIND(xsd:double(?lon) AS ?x)
          BIND(CONCAT("10 ", STR(xsd:integer(FLOOR(?y * 10))), " ", STR(xsd:integer(FLOOR(?x * 10)))) AS ?fine)
          BIND(CONCAT("1 ", STR(xsd:integer(FLOOR(?y))), " ", STR(xsd:integer(FLOOR(?x)))) AS ?middle)
          BIND(CONCAT("0.1 ", STR(xsd:integer(FLOOR(?y * 0.1))), " ", STR(xsd:integer(FLOOR(?x * 0.1)))) AS ?coarse)
        }}""",
        f"""CONSTRUCT {{ ?node a ts:ModificationDay ; ts:countedSource <{source}> ; ts:modificationDay ?day ;
                            ts:modifiedRecord ?initiative }}
        WHERE {{
          GRAPH <{graph}> {{ ?initiative a ts:Initiative ; schema:dateModified ?modified . }}
          BIND(SUBSTR(STR(?modified), 1, 10) AS ?day)
          BIND(IRI(CONCAT("{node}day/", ENCODE_FOR_URI(?day))) AS ?node)
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
