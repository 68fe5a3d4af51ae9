"""The things the gap analysis places: initiatives and events, as parallel columns.

Why columns: placing and the indicators are vectorised (numpy arrays of coordinates, one STRtree query for
every point), so the items are read once, from the store (one SPARQL query) or from a run's canonical records,
into arrays rather than objects. The INSEE code is not in the RDF; it comes from the runs' records.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from transiscope.core import vocab
from transiscope.core.countries import iso_country
from transiscope.core.errors import ConfigError

OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"

if TYPE_CHECKING:
    from transiscope.settings import Settings
    from transiscope.store.base import TripleStore


@dataclass
class Items:
    """Initiatives and events to place, as parallel columns."""

    iris: list[str]
    kinds: list[str]  # "initiative" or "event"
    lon: np.ndarray
    lat: np.ndarray
    insee: list[str | None]
    postcode: list[str | None]
    concepts: list[tuple[str, ...]]
    sources: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    #: the declared country, ISO 3166-1 alpha-2 (None: not declared); an item declared abroad is placed nowhere
    country: list[str | None] = field(default_factory=list)

    #: the sameAs cluster of each item (an item of its own: its own position), see :meth:`link_same_as`
    cluster: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def __post_init__(self) -> None:
        if len(self.country) != len(self.iris):
            self.country = [None] * len(self.iris)
        if len(self.cluster) != len(self.iris):
            self.cluster = np.arange(len(self.iris))

    def link_same_as(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Group the items linked by ``owl:sameAs`` (transitively) into clusters; returns the links used.

        Why: records of one initiative in two sources (or twice in one) are one initiative on the ground, so the
        counts count a cluster once (:func:`transiscope.downstream.gaps.indicators.counted_once`). Pairs naming
        an IRI that is not an item are ignored.
        """
        position = {iri: i for i, iri in enumerate(self.iris)}
        parent = list(range(len(self.iris)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        used = 0
        for a, b in pairs:
            i, j = position.get(a), position.get(b)
            if i is None or j is None or i == j:
                continue
            used += 1
            ri, rj = root(i), root(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
        self.cluster = np.array([root(i) for i in range(len(self.iris))], dtype=int)
        return used

    def __len__(self) -> int:
        return len(self.iris)

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], base: str, kind: str = "initiative") -> Items:
        """From canonical records (``records.jsonl`` of a run)."""

        def number(value: Any) -> float:
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan

        return cls(
            iris=[vocab.initiative_iri(base, r["source"], str(r["source_id"])) for r in records],
            kinds=[kind] * len(records),
            lon=np.array([number(r.get("lon")) for r in records], dtype=float),
            lat=np.array([number(r.get("lat")) for r in records], dtype=float),
            insee=[r.get("insee") or None for r in records],
            postcode=[r.get("postcode") or None for r in records],
            concepts=[tuple(r.get("concepts") or ()) for r in records],
            sources=[r.get("source") or "" for r in records],
            names=[r.get("name") or "" for r in records],
            country=[iso_country(r.get("country")) for r in records],
        )


def items_from_store(store: TripleStore, base: str, insee: dict[str, str] | None = None) -> Items:
    """Every initiative and event of the store with its point, postcode and concepts (one SPARQL query), and
    their ``owl:sameAs`` clusters (a second one).

    The INSEE code is not in the RDF; ``insee`` (IRI -> code, from the runs' canonical records) supplies it.
    """
    query = f"""
        SELECT ?s ?kind ?lat ?lon ?pc ?country ?cat ?src WHERE {{
          VALUES ?kind {{ <{vocab.TS}Initiative> <{vocab.SCHEMA}Event> }}
          ?s a ?kind .
          OPTIONAL {{ ?s <{vocab.GEO}hasGeometry>|(<{vocab.SCHEMA}location>/<{vocab.GEO}hasGeometry>) ?g .
                     ?g <{vocab.SCHEMA}latitude> ?lat ; <{vocab.SCHEMA}longitude> ?lon }}
          OPTIONAL {{ ?s <{vocab.SCHEMA}address>|(<{vocab.SCHEMA}location>/<{vocab.SCHEMA}address>) ?a .
                     OPTIONAL {{ ?a <{vocab.SCHEMA}postalCode> ?pc }}
                     OPTIONAL {{ ?a <{vocab.SCHEMA}addressCountry> ?country }} }}
          OPTIONAL {{ ?s <{vocab.TS}category> ?cat }}
          OPTIONAL {{ ?s <{vocab.TS}source> ?src }}
        }}"""
    rows: dict[str, dict[str, Any]] = {}
    for row in store.query(query):  # type: ignore[union-attr]
        iri = row["s"].value
        entry = rows.get(iri)
        if entry is None:
            entry = rows[iri] = {
                "kind": "event" if row["kind"].value.endswith("Event") else "initiative",
                "lat": math.nan,
                "lon": math.nan,
                "pc": None,
                "country": None,
                "concepts": [],
                "src": "",
            }
        for key in ("lat", "lon"):
            if row[key] is not None and math.isnan(entry[key]):
                with contextlib.suppress(ValueError):
                    entry[key] = float(row[key].value)
        if row["pc"] is not None and entry["pc"] is None:
            entry["pc"] = row["pc"].value
        if row["country"] is not None and entry["country"] is None:
            entry["country"] = iso_country(row["country"].value)
        if row["cat"] is not None and row["cat"].value.startswith(vocab.TX):
            notation = row["cat"].value[len(vocab.TX) :]
            if notation not in entry["concepts"]:
                entry["concepts"].append(notation)
        if row["src"] is not None and not entry["src"]:
            entry["src"] = row["src"].value.rsplit("/", 1)[-1]
    iris = sorted(rows)
    insee = insee or {}
    same_as = store.query(
        f"SELECT DISTINCT ?a ?b WHERE {{ ?a <{OWL_SAME_AS}> ?b FILTER(isIRI(?a) && isIRI(?b) && STR(?a) < STR(?b)) }}"
    )
    found = Items(
        iris=iris,
        kinds=[rows[i]["kind"] for i in iris],
        lon=np.array([rows[i]["lon"] for i in iris], dtype=float),
        lat=np.array([rows[i]["lat"] for i in iris]),
        insee=[insee.get(i) for i in iris],
        postcode=[rows[i]["pc"] for i in iris],
        concepts=[tuple(rows[i]["concepts"]) for i in iris],
        sources=[rows[i]["src"] for i in iris],
        names=[""] * len(iris),
        country=[rows[i]["country"] for i in iris],
    )
    found.link_same_as((row["a"].value, row["b"].value) for row in same_as)  # type: ignore[union-attr]
    return found


def insee_codes_from_runs(settings: Settings) -> dict[str, str]:
    """IRI -> INSEE code from the latest processed run of every source (the RDF does not carry the code)."""
    from transiscope.ingest.mappings import load_registry
    from transiscope.runs import latest_processed_run

    codes: dict[str, str] = {}
    try:
        registry = load_registry(settings.registry_path)
    except ConfigError:
        return codes
    for source in registry.sources:
        run_dir = latest_processed_run(settings, source.id)
        if run_dir is None or not (run_dir / "records.jsonl").exists():
            continue
        with (run_dir / "records.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = json.loads(line)
                if record.get("insee"):
                    codes[vocab.initiative_iri(settings.base_iri, source.id, str(record["source_id"]))] = record[
                        "insee"
                    ]
    return codes
