"""Places for records without usable coordinates: cached geocoding, then the commune's reference point.

Runs between normalise and validate. For each canonical record:

1. a point given by the source is kept (precision ``source``) and checked by :mod:`transiscope.ingest.geocode.checks`;
2. a record without a point but with a street address is geocoded by the configured service
   (:mod:`transiscope.ingest.geocode.providers`), through an on-disk cache keyed by the normalised address, so an
   unchanged address is never asked twice ("no result" is cached too); answers under the minimum score,
   or in another postcode than the one declared, are not used;
3. otherwise, or when the service found nothing, ran out of budget or is down: the reference point
   (``point_on_surface``) of the commune given by the INSEE code, or by the postcode and commune name,
   from the territories data (:mod:`transiscope.territories.communes`). Without territories data this fallback is
   unavailable, which the stage says once.

Steps 2 and 3 are for records in France only: a record that declares another country is never sent to a
geocoder (each is asked for France: BAN is French, Nominatim and Photon are called with France as the country)
nor placed by a postcode or INSEE code, which would be a French one by coincidence (Karlsruhe's 76133 is
Épouville's, Aosta's 11100 is Bages').

Every point placed carries its precision and method (``geo_precision``, ``geo_method``) and a note saying
how it was obtained; a record that nothing could place keeps no point and is quarantined by validation.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transiscope.core.countries import country_name
from transiscope.core.errors import ConfigError, GeocodeBudgetExhausted, GeocoderUnavailable
from transiscope.core.text import fold
from transiscope.ingest.france import declared_abroad
from transiscope.ingest.geocode import checks as geochecks
from transiscope.ingest.geocode import providers as geocoders
from transiscope.settings import Settings
from transiscope.territories.communes import COMMUNES_CSV, Communes, load_communes
from transiscope.territories.france import france_area

log = logging.getLogger(__name__)

_POSTCODE = re.compile(r"^\d{5}$")
#: words a commune name is written with or without (La Poste writes "ST ETIENNE", sources "Saint-Étienne")
_NAME_WORDS = {"saint": "st", "sainte": "ste", "cedex": ""}
_ARRONDISSEMENT = re.compile(r"\b\d+\s*(er|e|eme|ème)?\b")


# -- the cache ---------------------------------------------------------------------------------------
class GeocodeCache:
    """Answers of a geocoding service by normalised address, in one SQLite file shared by all runs.

    The best answer is stored whatever its score (the minimum score is applied when it is used, so a new
    threshold needs no new request), and "no result" is stored as such.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        # a cache, not a ledger: WAL without a sync at every commit (a crash loses at most the last answers)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (provider TEXT NOT NULL, address TEXT NOT NULL, "
            "answer TEXT, asked TEXT NOT NULL, PRIMARY KEY (provider, address))"
        )
        self._db.commit()

    def get_many(self, provider: str, keys: list[str]) -> dict[str, geocoders.Answer | None]:
        """The cached answers among ``keys`` (a key absent from the result was never asked)."""
        found: dict[str, geocoders.Answer | None] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound on parameters per statement
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for address, answer in self._db.execute(
                f"SELECT address, answer FROM answers WHERE provider = ? AND address IN ({marks})",
                [provider, *chunk],
            ):
                found[address] = None if answer is None else geocoders.Answer.from_json(json.loads(answer))
        return found

    def put_many(self, provider: str, answers: dict[str, geocoders.Answer | None]) -> None:
        asked = datetime.now(UTC).isoformat(timespec="seconds")
        self._db.executemany(
            "INSERT OR REPLACE INTO answers (provider, address, answer, asked) VALUES (?, ?, ?, ?)",
            [
                (provider, key, None if a is None else json.dumps(a.to_json(), ensure_ascii=False), asked)
                for key, a in answers.items()
            ],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def cache_path(settings: Settings) -> Path:
    return settings.geocode.cache_path or settings.cache_dir / "geocode.sqlite3"


def address_key(record: dict[str, Any]) -> str:
    """The normalised address of a record: case, accents, punctuation and spacing do not matter."""
    parts = [
        fold(record.get("street")),
        (record.get("postcode") or "").strip(),
        fold(record.get("city")),
        fold(record.get("country")) or "fr",
    ]
    return "|".join(parts)


def query_of(record: dict[str, Any]) -> geocoders.Query:
    postcode = (record.get("postcode") or "").strip()
    text = " ".join(p for p in (record.get("street"), postcode, record.get("city")) if p)
    return geocoders.Query(
        key=address_key(record),
        text=text[:200],
        postcode=postcode if _POSTCODE.match(postcode) else None,
        citycode=record.get("insee") or None,
    )


# -- the offline fallback ----------------------------------------------------------------------------
def _name_key(name: str | None) -> str:
    words = _ARRONDISSEMENT.sub(" ", fold(name)).split()
    return " ".join(w for w in (_NAME_WORDS.get(word, word) for word in words) if w)


@functools.lru_cache(maxsize=2)
def commune_names(directory: Path) -> dict[str, str]:
    """INSEE code -> name key of every commune (from the commune list of the territories data)."""
    names: dict[str, str] = {}
    path = directory / COMMUNES_CSV
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                names[row["code_insee"]] = _name_key(row.get("nom"))
    except (OSError, KeyError) as exc:
        raise ConfigError(f"territories data: cannot read commune names from {path}: {exc}") from None
    return names


@dataclass
class Fallback:
    """Commune reference points from the territories data (``point_on_surface``: always inside)."""

    communes: Communes
    names: dict[str, str]
    _points: dict[str, tuple[float, float]] = field(default_factory=dict)

    def _point(self, key: str, area: Any) -> tuple[float, float]:
        if key not in self._points:
            point = area.point_on_surface()
            self._points[key] = (round(point.y, 6), round(point.x, 6))
        return self._points[key]

    def place(self, record: dict[str, Any]) -> tuple[float, float, str, str, str] | None:
        """(lat, lon, precision, method, what) for the commune a record declares, or None."""
        insee = (record.get("insee") or "").strip()
        if insee:
            code = self.communes.parents.get(insee, insee)
            if code in self.communes.geometries:
                return (
                    *self._point(code, self.communes.geometries[code]),
                    "commune",
                    "territories-insee",
                    f"INSEE {insee}",
                )
        postcode = (record.get("postcode") or "").strip()
        codes = self.communes.postcodes.get(postcode, ())
        codes = tuple(c for c in codes if c in self.communes.geometries)
        if not codes:
            return None
        if len(codes) > 1:
            wanted = _name_key(record.get("city"))
            named = [c for c in codes if wanted and self.names.get(c) == wanted]
            if len(named) == 1:
                codes = tuple(named)
        if len(codes) == 1:
            return (
                *self._point(codes[0], self.communes.geometries[codes[0]]),
                "commune",
                "territories-postcode",
                f"postcode {postcode}, commune {codes[0]}",
            )
        found = self.communes.declared({"postcode": postcode})  # the union of the postcode's communes
        if found is None:
            return None
        return (
            *self._point("cp" + postcode, found[1]),
            "postcode",
            "territories-postcode",
            f"postcode {postcode} ({len(codes)} communes)",
        )


def load_fallback(settings: Settings) -> tuple[Fallback | None, str | None]:
    """The offline fallback, or None and why it is unavailable."""
    if settings.territories_dir is None:
        return None, (
            "offline fallback unavailable: no territories data (TRANSISCOPE_TERRITORIES_DIR or "
            "TRANSISCOPE_SHARED_DATA/territories); records without a point or a geocoded address stay "
            "unplaced"
        )
    try:
        communes = load_communes(settings.territories_dir, settings.cache_dir)
        return Fallback(communes, commune_names(settings.territories_dir)), None
    except ConfigError as exc:
        return None, f"offline fallback unavailable: {exc}"


# -- the stage ---------------------------------------------------------------------------------------
def has_point(record: dict[str, Any]) -> bool:
    return record.get("lat") is not None and record.get("lon") is not None


def _refusal(answer: geocoders.Answer | None, query: geocoders.Query, min_score: float) -> tuple[str, str] | None:
    """(kind, sentence) saying why an answer cannot be used, or None when it can."""
    if answer is None:
        return "no-result", "no result"
    if answer.score is not None and answer.score < min_score:
        return "low-score", (
            f"best answer {geocoders.describe(answer)} is below the minimum score {min_score:g} "
            "(TRANSISCOPE_GEOCODER_MIN_SCORE)"
        )
    if query.postcode and answer.postcode and answer.postcode != query.postcode:
        return "other-postcode", (
            f"best answer {geocoders.describe(answer)} lies in postcode {answer.postcode}, "
            f"the record declares {query.postcode}"
        )
    return None


def place_records(
    records: list[dict[str, Any]], settings: Settings, say: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Place and check the records in place; returns the stage statistics (requests, cache hits...)."""
    say = say or (lambda _message: None)
    started = time.monotonic()
    config = settings.geocode
    messages: list[str] = []
    fallback, unavailable = load_fallback(settings)
    if unavailable:
        messages.append(unavailable)
    france, boxes = france_area(settings)
    if boxes:
        messages.append(boxes)

    for record in records:
        if has_point(record) and not record.get("geo_method"):
            record["geo_precision"], record["geo_method"] = "source", "source"
        record.setdefault("geo_flags", [])
    # Points the source gave are checked (and a certain swap fixed) before anything is placed.
    flags = geochecks.check_points(records, fallback.communes if fallback else None, config.far_km, france)

    unplaced = [r for r in records if not has_point(r)]
    abroad = [r for r in unplaced if declared_abroad(r)]
    if abroad:
        unplaced = [r for r in unplaced if not declared_abroad(r)]
        for record in abroad:
            code = record.get("country")
            record.setdefault("notes", []).append(
                f"no point: the record declares {country_name(code, 'en')} ({code}); the geocoders and the "
                "commune fallback place records in France only"
            )
    online = [r for r in unplaced if r.get("street")] if config.provider != "none" else []
    queries: dict[str, geocoders.Query] = {}
    for record in online:
        query = query_of(record)
        queries.setdefault(query.key, query)

    answers: dict[str, geocoders.Answer | None] = {}
    hits = requests_sent = 0
    stopped: str | None = None
    if queries:
        cache = GeocodeCache(cache_path(settings))
        try:
            answers = cache.get_many(config.provider, list(queries))
            hits = len(answers)
            missing = [q for key, q in queries.items() if key not in answers]
            client = geocoders.Client(config, settings.http)
            service = geocoders.provider(config.provider)
            batch = config.batch_size if config.provider == "ban" else 1
            try:
                for start in range(0, len(missing), batch):
                    chunk = missing[start : start + batch]
                    try:
                        found = service.geocode(chunk, client)
                    except (GeocodeBudgetExhausted, GeocoderUnavailable) as exc:
                        left = len(missing) - start
                        stopped = f"{exc}; {left} address(es) not geocoded in this run"
                        messages.append(stopped)
                        say(stopped)
                        break
                    fresh = {q.key: a for q, a in zip(chunk, found, strict=True)}
                    cache.put_many(config.provider, fresh)  # kept at once: a later failure loses nothing
                    answers.update(fresh)
            finally:
                requests_sent = client.requests
                client.close()
        finally:
            cache.close()

    methods: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for record in unplaced:
        notes = record.setdefault("notes", [])
        why = "no street address to geocode"
        if record.get("street") and config.provider != "none":
            query = query_of(record)
            if query.key in answers:
                answer = answers[query.key]
                refusal = _refusal(answer, query, config.min_score)
                if refusal is None:
                    assert answer is not None  # _refusal refuses a missing answer
                    record["lat"], record["lon"] = answer.lat, answer.lon
                    record["geo_precision"], record["geo_method"] = answer.precision, config.provider
                    if answer.citycode and not record.get("insee"):
                        record["insee"] = answer.citycode
                    notes.append(f"placed by geocoding ({config.provider}): {geocoders.describe(answer)}")
                    methods[config.provider] += 1
                    continue
                rejected[refusal[0]] += 1
                why = f"geocoder ({config.provider}): {refusal[1]}"
            else:
                why = "not geocoded in this run (" + ("geocoding stopped" if stopped else "no answer") + ")"
        placed = fallback.place(record) if fallback else None
        if placed is None:
            notes.append(
                f"no point: {why}; "
                + ("the declared commune is unknown" if fallback else "no offline fallback (no territories data)")
            )
            methods["unplaced"] += 1
            continue
        lat, lon, precision, method, what = placed
        record["lat"], record["lon"] = lat, lon
        record["geo_precision"], record["geo_method"] = precision, method
        notes.append(f"placed at the reference point of {what} ({precision} precision): {why}")
        methods[method] += 1

    if abroad:
        methods["unplaced"] += len(abroad)
    precisions = Counter(r.get("geo_precision") or "none" for r in records)
    stats = {
        "provider": config.provider,
        "records": len(records),
        "without_point": len(unplaced) + len(abroad),
        "abroad_not_placed": len(abroad),
        "addresses": len(queries),
        "cache_hits": hits,
        "cache_misses": len(queries) - hits,
        "cache_hit_rate": round(hits / len(queries), 4) if queries else None,
        "requests": requests_sent,
        "max_requests": config.max_requests,
        "budget_exhausted": bool(stopped and "budget" in stopped),
        "placed": dict(sorted(methods.items())),
        "answers_not_used": dict(sorted(rejected.items())),
        "precision": dict(sorted(precisions.items())),
        "flags": dict(sorted(flags.items())),
        "fallback": fallback is not None,
        "france": france.kind,
        "messages": messages,
        "geocode_seconds": round(time.monotonic() - started, 3),
    }
    return stats
