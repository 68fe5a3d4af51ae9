"""The link step: the same initiative seen by several sources, linked without erasing anyone.

Each source keeps its own record in its own graph; this step only writes the links graph
(``<base>graph/links``), replaced as a whole on every run:

- ``owl:sameAs`` and ``schema:sameAs`` (both directions, so queries need no reasoner) between records
  whose score reaches the high threshold or that a person confirmed;
- one ``ts:DuplicateCandidate`` per scored pair at or above the low threshold, with ``ts:candidate`` (the two
  records), ``ts:matchScore``, one ``ts:matchEvidence`` per readable piece of evidence, and
  ``ts:reviewDecision`` when a person decided; a candidate without ``owl:sameAs`` is waiting for review;
- one ``ts:ConsolidatedInitiative`` per cluster (connected component of sameAs links) with
  ``ts:consolidates`` to each member: what the exports draw as one marker crediting every source.

Decisions people take (confirm / reject a pair) live in a CSV file under version control
(``transforms/link-decisions.csv``, ``TRANSISCOPE_LINK_DECISIONS``) and are applied on every run: a confirmed
pair is linked whatever its score, a rejected one never is, and no cluster is allowed to join two records
a person said are different (the automatic link that would join them drops to a candidate).

The step also writes, under ``$TRANSISCOPE_HOME/links/``: ``candidates.csv`` (the review list),
``summary.json`` (counts, overlap matrix between sources, candidates per source, read by the quality
reports, which never need the store) and ``links.nt`` (what went into the graph).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyoxigraph as ox

from transiscope.core import vocab
from transiscope.core.errors import ConfigError, StoreError
from transiscope.core.files import atomic_open, write_json
from transiscope.downstream.link import matching
from transiscope.ingest import rdf

if TYPE_CHECKING:
    from transiscope.settings import Settings
    from transiscope.store.base import TripleStore

OWL = "http://www.w3.org/2002/07/owl#"
DECISIONS = ("confirmed", "rejected")
DECISION_COLUMNS = ("decision", "source_a", "id_a", "source_b", "id_b", "decided_at", "note")
CANDIDATE_COLUMNS = (
    "score",
    "source_a",
    "id_a",
    "name_a",
    "source_b",
    "id_b",
    "name_b",
    "distance_m",
    "evidence",
    "iri_a",
    "iri_b",
)

Key = tuple[str, str]  # (source id, record id)


def links_graph(base: str) -> str:
    return f"{base}graph/links"


def link_iri(base: str, a: str, b: str) -> str:
    """The pair's IRI: a digest of the two record IRIs in order, so it is the same on every run."""
    first, second = sorted((a, b))
    return f"{base}id/link/{hashlib.sha1(f'{first} {second}'.encode()).hexdigest()[:20]}"


def consolidated_iri(base: str, members: Iterable[str]) -> str:
    """Named after the smallest member IRI: stable while that record stays in the cluster."""
    return f"{base}id/consolidated/{hashlib.sha1(min(members).encode()).hexdigest()[:20]}"


# -- decisions ------------------------------------------------------------------------------------
@dataclass
class Decisions:
    """Confirm / reject decisions keyed by the unordered pair of (source, record id)."""

    path: Path | None = None
    entries: dict[frozenset[Key], dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Decisions:
        decisions = cls(path=path)
        if not path.exists():
            return decisions
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(f"cannot read the link decisions {path}: {exc}") from None
        for line, row in enumerate(rows, start=2):
            decision = (row.get("decision") or "").strip()
            a = ((row.get("source_a") or "").strip(), (row.get("id_a") or "").strip())
            b = ((row.get("source_b") or "").strip(), (row.get("id_b") or "").strip())
            if decision not in DECISIONS or not all(a) or not all(b) or a == b:
                raise ConfigError(
                    f"{path}, line {line}: expected a decision (confirmed or rejected) and two "
                    "different records (source_a, id_a, source_b, id_b)"
                )
            decisions.entries[frozenset((a, b))] = {
                "decision": decision,
                "decided_at": (row.get("decided_at") or "").strip(),
                "note": (row.get("note") or "").strip(),
            }
        return decisions

    def get(self, a: Key, b: Key) -> str | None:
        entry = self.entries.get(frozenset((a, b)))
        return entry["decision"] if entry else None

    def decide(self, a: Key, b: Key, decision: str, note: str = "") -> None:
        if decision not in DECISIONS:
            raise ConfigError(f"a decision is one of {', '.join(DECISIONS)}, not {decision!r}")
        if a == b:
            raise ConfigError("a record cannot be linked to itself")
        self.entries[frozenset((a, b))] = {
            "decision": decision,
            "note": note,
            "decided_at": datetime.now(UTC).date().isoformat(),
        }

    def save(self) -> None:
        """Rows sorted, so that the file's history under version control reads as a list of decisions."""
        if self.path is None:
            raise ConfigError("these decisions have no file")
        rows = []
        for pair, entry in self.entries.items():
            a, b = sorted(pair)
            rows.append(
                {
                    "decision": entry["decision"],
                    "source_a": a[0],
                    "id_a": a[1],
                    "source_b": b[0],
                    "id_b": b[1],
                    "decided_at": entry["decided_at"],
                    "note": entry["note"],
                }
            )
        rows.sort(key=lambda r: (r["source_a"], r["id_a"], r["source_b"], r["id_b"]))
        with atomic_open(self.path) as handle:
            writer = csv.DictWriter(handle, DECISION_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


def parse_record_ref(text: str, base: str) -> Key:
    """``SOURCE/ID`` (the id may contain ``/``) or a record's IRI -> (source, id)."""
    prefix = f"{base}id/initiative/"
    if text.startswith(prefix):
        source, _, record = text[len(prefix) :].partition("/")
        return unquote(source), unquote(record)
    source, sep, record = text.partition("/")
    if not sep or not source or not record:
        raise ConfigError(f"{text!r}: give a record as SOURCE/ID (e.g. transiscope/3aF) or as its IRI")
    return source, record


# -- linking records (no store) -------------------------------------------------------------------------------
@dataclass
class LinkResult:
    same_as: list[matching.Match]
    candidates: list[matching.Match]
    #: pairs a person rejected that the scorer still proposed (kept for the audit trail)
    rejected: list[matching.Match]
    #: clusters of record positions (two members or more), each sorted
    clusters: list[list[int]]
    #: position pair -> decision, for the pairs a person decided
    decided: dict[tuple[int, int], str]
    #: decisions naming a record that is not in the store (any more)
    stale_decisions: int
    compared_pairs: int
    seconds: dict[str, float]


class _Clusters:
    """Union-find that refuses to join two records a person said are different."""

    def __init__(self, size: int, cannot: Iterable[tuple[int, int]]) -> None:
        self.parent = list(range(size))
        self.members: dict[int, set[int]] = {}
        self.cannot: dict[int, set[int]] = {}
        for a, b in cannot:
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        left, right = self.members.get(ra, {ra}), self.members.get(rb, {rb})
        if self.cannot:
            forbidden = set().union(*(self.cannot.get(m, ()) for m in left))
            if forbidden & right:
                return False
        if len(left) < len(right):
            ra, rb, left, right = rb, ra, right, left
        self.parent[rb] = ra
        self.members[ra] = left | right
        self.members.pop(rb, None)
        return True

    def groups(self) -> list[list[int]]:
        return sorted(sorted(m) for m in self.members.values() if len(m) > 1)


def link_records(
    records: list[dict[str, Any]],
    *,
    high: float,
    low: float,
    decisions: Decisions,
    progress: Callable[[str], None] | None = None,
) -> LinkResult:
    """Block, score, apply the decisions and thresholds, and cluster ``records`` (dicts with ``source``,
    ``source_id`` and the fields :func:`matching.comparable` reads). Positions in the result index ``records``."""
    say = progress or (lambda _m: None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    items = [matching.comparable(i, r) for i, r in enumerate(records)]
    seconds["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = matching.candidate_pairs(items)
    seconds["block"] = time.perf_counter() - started
    say(f"link: {len(pairs):,} pairs to compare among {len(records):,} records")
    started = time.perf_counter()
    scored = {}
    for left, right in pairs:
        match = matching.score_pair(items[left], items[right])
        if match.score >= low:
            scored[(match.a, match.b)] = match
    seconds["score"] = time.perf_counter() - started

    started = time.perf_counter()
    position = {(str(r["source"]), str(r["source_id"])): i for i, r in enumerate(records)}
    decided: dict[tuple[int, int], str] = {}
    stale = 0
    for pair, entry in decisions.entries.items():
        a, b = sorted(pair)
        if a not in position or b not in position:
            stale += 1
            continue
        i, j = sorted((position[a], position[b]))
        decided[(i, j)] = entry["decision"]
        if entry["decision"] == "confirmed" and (i, j) not in scored:
            scored[(i, j)] = matching.score_pair(items[i], items[j])  # linked whatever its score
    clusters = _Clusters(len(records), [p for p, d in decided.items() if d == "rejected"])
    same_as, candidates, rejected = [], [], []
    # confirmed pairs first, then by score: a cluster grows from its surest links
    order = sorted(scored.values(), key=lambda m: (decided.get((m.a, m.b)) != "confirmed", -m.score, m.a, m.b))
    for match in order:
        decision = decided.get((match.a, match.b))
        if decision == "rejected":
            rejected.append(match)
        elif (decision == "confirmed" or match.score >= high) and clusters.union(match.a, match.b):
            same_as.append(match)
        else:
            candidates.append(match)
    seconds["cluster"] = time.perf_counter() - started
    return LinkResult(
        same_as=same_as,
        candidates=candidates,
        rejected=rejected,
        clusters=clusters.groups(),
        decided=decided,
        stale_decisions=stale,
        compared_pairs=len(pairs),
        seconds=seconds,
    )


# -- the store ------------------------------------------------------------------------------------------------
def records_query(base: str) -> str:
    """Every initiative of every source graph with the fields the comparison reads (one row per record,
    multi-valued fields sampled)."""
    s, g, t = vocab.SCHEMA, vocab.GEO, vocab.TS
    return f"""
SELECT ?g ?i ?sid ?name ?lat ?lon ?street ?pc ?city ?url ?email ?tel WHERE {{
  GRAPH ?g {{
    ?i a <{t}Initiative> ; <{t}sourceId> ?sid ; <{s}name> ?name .
    OPTIONAL {{ ?i <{g}hasGeometry> ?geom . ?geom <{s}latitude> ?lat ; <{s}longitude> ?lon }}
    OPTIONAL {{ ?i <{s}address> ?a .
               OPTIONAL {{ ?a <{s}streetAddress> ?street }} OPTIONAL {{ ?a <{s}postalCode> ?pc }}
               OPTIONAL {{ ?a <{s}addressLocality> ?city }} }}
    OPTIONAL {{ ?i <{s}url> ?url }} OPTIONAL {{ ?i <{s}email> ?email }} OPTIONAL {{ ?i <{s}telephone> ?tel }}
  }}
  FILTER(STRSTARTS(STR(?g), "{base}graph/source/"))
}}"""


def read_records(store: TripleStore, base: str) -> list[dict[str, Any]]:
    """The initiatives of every source graph, in a stable order (source, then record id).

    Solutions are read by position, not turned into dicts: at 100,000 records that conversion alone cost
    seconds.
    """
    prefix = f"{base}graph/source/"
    result = store.query(records_query(base))
    if not isinstance(result, ox.QuerySolutions):
        raise StoreError("the store did not answer the records query with solutions")
    names = [v.value for v in result.variables]
    at = {
        name: names.index(name)
        for name in ("g", "i", "sid", "name", "lat", "lon", "street", "pc", "city", "url", "email", "tel")
    }
    found: dict[str, dict[str, Any]] = {}

    def text(row: Any, name: str) -> str | None:
        term = row[at[name]]
        return None if term is None else term.value

    def number(row: Any, name: str) -> float | None:
        value = text(row, name)
        try:
            return None if value is None else float(value)
        except ValueError:
            return None

    for row in result:
        iri = row[at["i"]].value
        if iri in found:
            continue
        lat, lon = number(row, "lat"), number(row, "lon")
        if lat is None or lon is None:
            lat = lon = None  # a point has both coordinates or neither
        found[iri] = {
            "iri": iri,
            "source": unquote(row[at["g"]].value[len(prefix) :]),
            "source_id": text(row, "sid"),
            "name": text(row, "name"),
            "lat": lat,
            "lon": lon,
            "street": text(row, "street"),
            "postcode": text(row, "pc"),
            "city": text(row, "city"),
            "website": text(row, "url"),
            "email": text(row, "email"),
            "phone": text(row, "tel"),
        }
    return sorted(found.values(), key=lambda r: (r["source"], r["source_id"]))


def link_triples(result: LinkResult, records: list[dict[str, Any]], base: str) -> Iterator[ox.Triple]:
    """The links graph: sameAs both ways, one DuplicateCandidate per kept pair, one node per cluster."""
    T, N, L = ox.Triple, ox.NamedNode, ox.Literal
    a_type = N(vocab.RDF + "type")
    owl_same, schema_same = N(OWL + "sameAs"), N(vocab.SCHEMA + "sameAs")
    candidate_class, entity = N(vocab.TS + "DuplicateCandidate"), N(vocab.PROV + "Entity")
    candidate, score, evidence = N(vocab.TS + "candidate"), N(vocab.TS + "matchScore"), N(vocab.TS + "matchEvidence")
    decision = N(vocab.TS + "reviewDecision")
    decimal = N(vocab.XSD + "decimal")
    iri = [r["iri"] for r in records]
    for match in result.same_as:
        a, b = N(iri[match.a]), N(iri[match.b])
        for predicate in (owl_same, schema_same):
            yield T(a, predicate, b)
            yield T(b, predicate, a)
    for match in (*result.same_as, *result.candidates, *result.rejected):
        node = N(link_iri(base, iri[match.a], iri[match.b]))
        yield T(node, a_type, candidate_class)
        yield T(node, a_type, entity)
        yield T(node, candidate, N(iri[match.a]))
        yield T(node, candidate, N(iri[match.b]))
        yield T(node, score, L(rdf.decimal_text(match.score), datatype=decimal))
        for sentence in match.evidence:
            yield T(node, evidence, L(sentence))
        if (match.a, match.b) in result.decided:
            yield T(node, decision, L(result.decided[(match.a, match.b)]))
    consolidated, consolidates = N(vocab.TS + "ConsolidatedInitiative"), N(vocab.TS + "consolidates")
    for members in result.clusters:
        node = N(consolidated_iri(base, (iri[m] for m in members)))
        yield T(node, a_type, consolidated)
        yield T(node, a_type, entity)
        for m in members:
            yield T(node, consolidates, N(iri[m]))


def overlap_matrix(result: LinkResult, records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """source -> other source -> consolidated initiatives the two share; the diagonal counts the clusters
    holding two records of the same source (duplicates inside it)."""
    matrix: dict[str, Counter[str]] = {}
    for members in result.clusters:
        sources = Counter(records[m]["source"] for m in members)
        for s, n in sources.items():
            row = matrix.setdefault(s, Counter())
            if n > 1:
                row[s] += 1
            for t in sources:
                if t != s:
                    row[t] += 1
    return {s: dict(sorted(row.items())) for s, row in sorted(matrix.items())}


def _csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) is prefixed with ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def candidate_rows(result: LinkResult, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for m in result.candidates:
        a, b = records[m.a], records[m.b]
        rows.append(
            {
                "score": m.score,
                "source_a": a["source"],
                "id_a": a["source_id"],
                "name_a": a["name"],
                "source_b": b["source"],
                "id_b": b["source_id"],
                "name_b": b["name"],
                "distance_m": m.distance_m,
                "evidence": "; ".join(m.evidence),
                "iri_a": a.get("iri", ""),
                "iri_b": b.get("iri", ""),
            }
        )
    return rows


def write_candidates_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """The review list as CSV (UTF-8 with BOM so that spreadsheets read the accents), written atomically."""
    with atomic_open(path) as handle:
        handle.write("\ufeff")
        writer = csv.DictWriter(handle, CANDIDATE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return path


@dataclass
class LinkSummary:
    records: int
    compared_pairs: int
    same_as: int
    candidates: int
    rejected: int
    clusters: int
    stale_decisions: int
    triples: int
    seconds: dict[str, float]
    out_dir: Path


#: candidates per source kept in summary.json for the quality page (the CSV has them all)
REPORT_CANDIDATES = 50


def run_link(
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    decide: list[tuple[str, str, str]] | None = None,
) -> LinkSummary:
    """The whole step, as the CLI and the link DAG run it: read every source graph, link, replace the links
    graph, write the review files, refresh the quality reports.

    ``decide``: (decision, record, record) to record in the decisions file first; each record as
    ``SOURCE/ID`` or IRI, and both must be in the store.
    """
    from transiscope.ingest.run_records import write_pending
    from transiscope.store.embedded import open_store
    from transiscope.store.statistics import write_overlap_statistics

    say = progress or (lambda _m: None)
    base = settings.base_iri
    seconds: dict[str, float] = {}
    decisions = Decisions.load(settings.link.decisions_path)
    out_dir = settings.home / "links"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_store(settings) as store:
        write_pending(store, settings)  # the runs that could not be recorded when they ended
        started = time.perf_counter()
        say("link: reading the initiatives of every source graph")
        records = read_records(store, base)
        seconds["read"] = time.perf_counter() - started
        if decide:
            known = {(r["source"], r["source_id"]) for r in records}
            for decision, left, right in decide:
                a, b = parse_record_ref(left, base), parse_record_ref(right, base)
                for key in (a, b):
                    if key not in known:
                        raise ConfigError(
                            f"no initiative {key[0]}/{key[1]} in the store: give SOURCE/ID of a loaded "
                            "record (see `transiscope query`)"
                        )
                decisions.decide(a, b, decision)
            decisions.save()
            say(f"link: decision recorded in {settings.link.decisions_path}")
        result = link_records(
            records, high=settings.link.high, low=settings.link.low, decisions=decisions, progress=say
        )
        seconds.update(result.seconds)
        started = time.perf_counter()
        nt = out_dir / "links.nt"
        count = 0

        def counted() -> Iterator[ox.Triple]:
            nonlocal count
            for triple in link_triples(result, records, base):
                count += 1
                yield triple

        with nt.open("wb") as handle:
            ox.serialize(counted(), handle, ox.RdfFormat.N_TRIPLES)
        graph = links_graph(base)
        say(f"link: writing {count:,} triples to {graph}")
        store.replace_graph(graph, graph + "/staging", nt)
        seconds["write"] = time.perf_counter() - started
        started = time.perf_counter()
        say("link: counting the records the sources share (the overlap statistics)")
        write_overlap_statistics(store, base)
        seconds["overlap statistics"] = time.perf_counter() - started
    rows = candidate_rows(result, records)
    write_candidates_csv(rows, out_dir / "candidates.csv")
    per_source: dict[str, list[dict[str, Any]]] = {}
    per_source_total: Counter[str] = Counter()
    for row in rows:
        for side in {row["source_a"], row["source_b"]}:
            per_source_total[side] += 1
            if len(per_source.setdefault(side, [])) < REPORT_CANDIDATES:
                per_source[side].append(row)
    linked = Counter(records[m]["source"] for members in result.clusters for m in members)
    summary = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "thresholds": {"same_as": settings.link.high, "candidate": settings.link.low},
        "records": len(records),
        "records_per_source": dict(sorted(Counter(r["source"] for r in records).items())),
        "compared_pairs": result.compared_pairs,
        "same_as": len(result.same_as),
        "candidates": len(result.candidates),
        "rejected": len(result.rejected),
        "clusters": len(result.clusters),
        "stale_decisions": result.stale_decisions,
        "linked_per_source": dict(sorted(linked.items())),
        "overlap": overlap_matrix(result, records),
        "candidates_per_source": {
            s: {"total": per_source_total[s], "examples": per_source[s]} for s in sorted(per_source)
        },
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    write_json(out_dir / "summary.json", summary)
    return LinkSummary(
        records=len(records),
        compared_pairs=result.compared_pairs,
        same_as=len(result.same_as),
        candidates=len(result.candidates),
        rejected=len(result.rejected),
        clusters=len(result.clusters),
        stale_decisions=result.stale_decisions,
        triples=count,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        out_dir=out_dir,
    )


def read_summary(settings: Settings) -> dict[str, Any] | None:
    """The last link run's summary.json, for the quality reports (None before the first link run)."""
    path = settings.home / "links" / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# -- the consolidated view, for the exports ---------------------------------------------------------------------
def consolidated_query(base: str) -> str:
    s, g, t = vocab.SCHEMA, vocab.GEO, vocab.TS
    return f"""
SELECT ?c ?i ?source ?sid ?name ?lat ?lon ?concept ?label WHERE {{
  GRAPH <{links_graph(base)}> {{ ?c a <{t}ConsolidatedInitiative> ; <{t}consolidates> ?i }}
  ?i <{t}source> ?source ; <{t}sourceId> ?sid ; <{s}name> ?name .
  OPTIONAL {{ ?i <{g}hasGeometry> ?geom . ?geom <{s}latitude> ?lat ; <{s}longitude> ?lon }}
  OPTIONAL {{ ?i <{t}category> ?concept }}
  OPTIONAL {{ ?i <{t}sourceCategory> ?label }}
}}"""


def consolidated_initiatives(store: TripleStore, base: str) -> list[dict[str, Any]]:
    """One entry per consolidated initiative (a cluster of records linked by sameAs), for the exports.

    Each entry: ``iri`` (the ts:ConsolidatedInitiative), ``members`` (record IRIs, sorted),
    ``representative`` (the smallest member IRI, whose name the marker shows), ``name``, ``lat``/``lon``
    (the mean of the members' points, which are the same place), ``sources`` (every source credited, sorted
    source IRIs), ``categories`` (union of the taxonomy concepts), ``source_categories`` (union of the
    sources' own labels) and ``names`` (every member's name). A record in no cluster is its own marker:
    the exports draw it as usual and skip the members listed here.
    """
    clusters: dict[str, dict[str, Any]] = {}
    for row in store.select(consolidated_query(base)):
        value = {k: v.value for k, v in row.items()}
        entry = clusters.setdefault(
            value["c"],
            {"iri": value["c"], "members": {}, "sources": set(), "categories": set(), "source_categories": set()},
        )
        member = entry["members"].setdefault(value["i"], {"name": value["name"], "points": set()})
        if "lat" in value and "lon" in value:
            member["points"].add((float(value["lat"]), float(value["lon"])))
        entry["sources"].add(value["source"])
        if "concept" in value:
            entry["categories"].add(value["concept"])
        if "label" in value:
            entry["source_categories"].add(value["label"])
    out = []
    for iri in sorted(clusters):
        entry = clusters[iri]
        members = entry["members"]
        representative = min(members)
        points = [p for m in members.values() for p in sorted(m["points"])[:1]]
        out.append(
            {
                "iri": iri,
                "members": sorted(members),
                "representative": representative,
                "name": members[representative]["name"],
                "lat": round(sum(p[0] for p in points) / len(points), 6) if points else None,
                "lon": round(sum(p[1] for p in points) / len(points), 6) if points else None,
                "sources": sorted(entry["sources"]),
                "categories": sorted(entry["categories"]),
                "source_categories": sorted(entry["source_categories"]),
                "names": sorted({m["name"] for m in members.values()}),
            }
        )
    return out
