"""Geocoding services behind one small interface: BAN (default), Nominatim, Photon.

A provider turns address queries into at most one :class:`Answer` each (None: the service found
nothing). Every request goes through a :class:`Client`, which is where the cost is controlled:

- the retrying requests session of :mod:`transiscope.ingest.extract` (urllib3 ``Retry``: backoff, 429 and 5xx,
  ``Retry-After`` capped), with POST allowed as well since a batch geocoding request changes nothing;
- a rate limit (minimum interval between requests, ``TRANSISCOPE_GEOCODER_RATE``);
- a budget: the number of requests one run may send; the request past it raises
  :class:`~transiscope.core.errors.GeocodeBudgetExhausted` instead of being sent.

BAN (``api-adresse.data.gouv.fr``) answers ``/search/`` with a GeoCodeJSON FeatureCollection and
``/search/csv/`` (a CSV file posted as ``data``) with the same CSV plus ``latitude``, ``longitude`` and
``result_*`` columns, so a batch of hundreds of addresses costs one request.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from transiscope.core.errors import ConfigError, GeocodeBudgetExhausted, GeocoderUnavailable
from transiscope.core.http import RETRY_STATUSES, make_session
from transiscope.settings import GeocodeSettings, HttpSettings


@dataclass(frozen=True)
class Query:
    """One address to place. ``key`` is the normalised address, the cache key."""

    key: str
    text: str
    postcode: str | None = None
    citycode: str | None = None


@dataclass(frozen=True)
class Answer:
    """The best match of a service for one query."""

    lat: float
    lon: float
    precision: str
    score: float | None
    label: str | None = None
    postcode: str | None = None
    citycode: str | None = None
    kind: str | None = None  # the service's own result type (housenumber, street, city...)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**values)


class Client:
    """HTTP to one geocoding service: retries, rate limit and per-run budget."""

    def __init__(self, settings: GeocodeSettings, http: HttpSettings) -> None:
        self.settings = settings
        self.http = http
        self.requests = 0
        self._last = 0.0
        self.session = make_session(http)
        adapter = self.session.get_adapter("http://")
        assert isinstance(adapter, HTTPAdapter)  # make_session mounts one on both schemes
        # BAN's batch endpoint is a POST that reads only: safe to retry like a GET
        retry = adapter.max_retries.new(allowed_methods=frozenset({"GET", "HEAD", "POST"}))
        for prefix in ("http://", "https://"):
            adapter = self.session.get_adapter(prefix)
            assert isinstance(adapter, HTTPAdapter)
            adapter.max_retries = retry

    @property
    def exhausted(self) -> bool:
        return self.requests >= self.settings.max_requests

    def _wait_turn(self) -> None:
        interval = 1.0 / self.settings.rate
        delay = self._last + interval - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, interval))
        self._last = time.monotonic()

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to the service (after retries), or a readable error; counts against the budget."""
        if self.exhausted:
            raise GeocodeBudgetExhausted(
                f"geocoding budget reached: {self.requests} requests sent in this run "
                f"(TRANSISCOPE_GEOCODER_MAX_REQUESTS={self.settings.max_requests}); the other addresses wait "
                "for the next run"
            )
        self._wait_turn()
        self.requests += 1
        url = self.settings.url + path
        host = urlsplit(url).netloc
        try:
            response = self.session.request(
                method, url, timeout=(self.http.connect_timeout, self.http.read_timeout), **kwargs
            )
        except requests.exceptions.RetryError:
            raise GeocoderUnavailable(f"geocoder {host} kept failing after {self.http.retries} retries") from None
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            raise GeocoderUnavailable(f"geocoder {host} could not be reached ({reason})") from None
        if response.status_code >= 400:
            retried = f" after {self.http.retries} retries" if response.status_code in RETRY_STATUSES else ""
            raise GeocoderUnavailable(f"geocoder {host} answered HTTP {response.status_code}{retried} for {path}")
        return response

    def close(self) -> None:
        self.session.close()


class Provider(Protocol):
    name: str

    def geocode(self, queries: Sequence[Query], client: Client) -> list[Answer | None]:
        """One answer (or None) per query, in order."""


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is no number


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GeocoderUnavailable(f"geocoder answer to {what} is not JSON") from None


class Ban:
    """Base Adresse Nationale: ``/search/`` for one address, ``/search/csv/`` for a batch."""

    name = "ban"
    #: BAN result type -> precision
    PRECISION = {"housenumber": "address", "street": "street", "locality": "street", "municipality": "commune"}

    def _answer(
        self, lat: Any, lon: Any, kind: Any, score: Any, label: Any, postcode: Any, citycode: Any
    ) -> Answer | None:
        lat, lon = _float(lat), _float(lon)
        if lat is None or lon is None:
            return None
        return Answer(
            lat=lat,
            lon=lon,
            precision=self.PRECISION.get(str(kind), "commune"),
            score=_float(score),
            label=label or None,
            postcode=postcode or None,
            citycode=citycode or None,
            kind=kind or None,
        )

    def search(self, query: Query, client: Client) -> Answer | None:
        params = {"q": query.text, "limit": 1, "autocomplete": 0}
        if query.postcode:
            params["postcode"] = query.postcode
        data = _json(client.send("GET", "/search/", params=params), "/search/")
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise GeocoderUnavailable('geocoder answer to /search/ has no "features" list')
        if not features:
            return None
        feature = features[0]
        properties = feature.get("properties") or {}
        coordinates = (feature.get("geometry") or {}).get("coordinates") or [None, None]
        return self._answer(
            coordinates[1],
            coordinates[0],
            properties.get("type"),
            properties.get("score"),
            properties.get("label"),
            properties.get("postcode"),
            properties.get("citycode"),
        )

    def batch(self, queries: Sequence[Query], client: Client) -> list[Answer | None]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["tsid", "q", "postcode"])
        for position, query in enumerate(queries):
            writer.writerow([position, query.text, query.postcode or ""])
        response = client.send(
            "POST",
            "/search/csv/",
            files={"data": ("addresses.csv", out.getvalue().encode("utf-8"), "text/csv")},
            data=[("columns", "q"), ("postcode", "postcode")],
        )
        answers: list[Answer | None] = [None] * len(queries)
        seen = 0
        for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))):
            try:
                position = int(row.get("tsid") or "")
            except ValueError:
                continue
            if not 0 <= position < len(queries):
                continue
            seen += 1
            if row.get("result_status", "ok") not in ("ok", "") or not row.get("result_type"):
                continue
            answers[position] = self._answer(
                row.get("latitude"),
                row.get("longitude"),
                row.get("result_type"),
                row.get("result_score"),
                row.get("result_label"),
                row.get("result_postcode"),
                row.get("result_citycode"),
            )
        if seen != len(queries):
            raise GeocoderUnavailable(f"geocoder batch answer has {seen} rows for {len(queries)} addresses")
        return answers

    def geocode(self, queries: Sequence[Query], client: Client) -> list[Answer | None]:
        if len(queries) == 1:
            return [self.search(queries[0], client)]
        return self.batch(queries, client)


class Nominatim:
    """OpenStreetMap Nominatim ``/search`` (one address per request; its usage policy allows 1 per second)."""

    name = "nominatim"
    PRECISION = {
        "house": "address",
        "building": "address",
        "amenity": "address",
        "road": "street",
        "postcode": "postcode",
        "city": "commune",
        "town": "commune",
        "village": "commune",
        "municipality": "commune",
        "hamlet": "street",
        "suburb": "commune",
        "quarter": "commune",
    }

    def geocode(self, queries: Sequence[Query], client: Client) -> list[Answer | None]:
        answers: list[Answer | None] = []
        for query in queries:
            data = _json(
                client.send(
                    "GET", "/search", params={"q": query.text, "format": "jsonv2", "limit": 1, "countrycodes": "fr"}
                ),
                "/search",
            )
            if not isinstance(data, list):
                raise GeocoderUnavailable("geocoder answer to /search is not a list")
            if not data:
                answers.append(None)
                continue
            hit = data[0]
            lat, lon = _float(hit.get("lat")), _float(hit.get("lon"))
            kind = hit.get("addresstype") or hit.get("type")
            answers.append(
                None
                if lat is None or lon is None
                else Answer(
                    lat=lat,
                    lon=lon,
                    precision=self.PRECISION.get(str(kind), "commune"),
                    score=None,
                    label=hit.get("display_name"),
                    kind=kind,
                )
            )
        return answers


class Photon:
    """Komoot Photon ``/api`` (GeoJSON features; one address per request)."""

    name = "photon"
    PRECISION = {
        "house": "address",
        "street": "street",
        "locality": "street",
        "district": "commune",
        "city": "commune",
        "county": "commune",
    }

    def geocode(self, queries: Sequence[Query], client: Client) -> list[Answer | None]:
        answers: list[Answer | None] = []
        for query in queries:
            data = _json(client.send("GET", "/api", params={"q": query.text, "limit": 1, "lang": "fr"}), "/api")
            features = data.get("features") if isinstance(data, dict) else None
            if not isinstance(features, list):
                raise GeocoderUnavailable('geocoder answer to /api has no "features" list')
            if not features:
                answers.append(None)
                continue
            properties = features[0].get("properties") or {}
            coordinates = (features[0].get("geometry") or {}).get("coordinates") or [None, None]
            lat, lon = _float(coordinates[1]), _float(coordinates[0])
            kind = properties.get("type")
            answers.append(
                None
                if lat is None or lon is None
                else Answer(
                    lat=lat,
                    lon=lon,
                    precision=self.PRECISION.get(str(kind), "commune"),
                    score=None,
                    label=properties.get("name"),
                    postcode=properties.get("postcode"),
                    kind=kind,
                )
            )
        return answers


PROVIDERS: dict[str, type] = {"ban": Ban, "nominatim": Nominatim, "photon": Photon}


def provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ConfigError(f"unknown geocoder {name!r} (known: {', '.join(PROVIDERS)})") from None


def describe(answer: Answer | None) -> str:
    """An answer in a note: what the service found, and how sure it was."""
    if answer is None:
        return "no result"
    score = f", score {answer.score:.2f}" if answer.score is not None else ""
    return f"{answer.kind or answer.precision} {json.dumps(answer.label or '', ensure_ascii=False)}{score}"
