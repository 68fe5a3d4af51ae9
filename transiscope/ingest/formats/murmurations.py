"""Murmurations: a federated index of profiles. ``/v2/nodes?schema=...`` lists profile URLs (paged),
then each profile is fetched from its own host and mapped.

A federated index always has some profile hosts down. A profile that cannot be fetched after the retries
(connection refused, timeout, HTTP 4xx/5xx, an HTML page, not JSON) does not sink the source: it becomes a
record carrying the profile URL and what happened, which normalise quarantines with that reason. The run
fails only when the index itself cannot be read, or when the quarantine valve trips (more than
``TRANSISCOPE_MAX_QUARANTINE_SHARE`` of the records lost: then the hosts are the problem, not a profile).
Index entries whose ``status`` is ``deleted`` are withdrawn profiles: not fetched, not records.

Real answers (the index's and the profile generators' code): index entries carry ``profile_url``,
``geolocation{lat,lon}``, ``last_updated`` in Unix *milliseconds* and ``status``, and no ``node_id`` nor
``latitude``/``longitude``; a profile puts its point in ``geolocation{lat,lon}``, in top-level
``latitude``/``longitude`` or in a ``"lat,lon"`` string. :func:`parse` gathers the point into ``point``
(profile first, the index's copy second) so that a mapping reads one place.

A profile's ``status`` (projects schemas) says whether it is an active initiative, see :data:`ENDED` and
:data:`NOT_STARTED`: ``active`` and ``on_hold`` are loaded (an initiative on hold still exists: people,
place and contacts, like an AMAP between two seasons; the record carries a note), ``completed`` and
``cancelled`` are quarantined as no longer active, ``in_planning`` as not active yet (nothing to visit
or join yet; it loads by itself once its profile says ``active``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from transiscope.core.errors import MalformedPayload, PayloadTooLarge, SourceHTTPError, SourceUnreachable
from transiscope.ingest import mapping as declarative
from transiscope.ingest.extract import Fetcher
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.formats.jsonapi import pages_of
from transiscope.registry.sources import Mapping, Source

#: the connector interface (transiscope.ingest.formats.base.Connector) of a declarative format, from its mapping
element_id = declarative.element_id
required_fields = declarative.required_fields

KINDS = ("initiatives",)
EXPECT = "JSON"
REQUIRED_FIELDS = ("profile_url", "profile")
KNOWN_FIELDS = frozenset({"profile_url", "index", "profile", "error", "point"})
DEFAULT_OPTIONS: dict[str, Any] = {"max_pages": 100, "max_profiles": 5000}
OPTIONS_SCHEMA = {"max_pages": {"type": "integer", "minimum": 1}, "max_profiles": {"type": "integer", "minimum": 1}}


def default_fields(kind: str) -> dict[str, Any]:
    return {
        "source_id": "profile_url",
        "name": ["profile.name", "index.name"],
        "description": "profile.description",
        "lat": "point.lat",
        "lon": "point.lon",
        "city": ["profile.locality", "index.locality"],
        "country": ["profile.country_iso_3166", "index.country"],
        "website": ["profile.primary_url", "index.primary_url"],
        "categories": ["profile.tags", "index.tags"],
        "tags": ["profile.tags", "index.tags"],
        "source_url": "profile_url",
        "updated_at": {"path": "index.last_updated", "apply": ["timestamp:ms"]},
    }


def extract_pages(
    fetcher: Fetcher, url: str, source: Source, mapping: Mapping, previous: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Index pages (``{"url", "payload"}``), then one ``{"profile_url", "payload" | "error"}`` per profile."""
    options = mapping.spec.options
    pages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    next_url: str = url
    for _ in range(int(options["max_pages"])):
        payload = fetcher.get_json(next_url)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise MalformedPayload(f'source {source.id!r}: the Murmurations index at {next_url} has no "data" list')
        pages.append({"url": next_url, "role": "index", "payload": payload})
        entries.extend(e for e in data if isinstance(e, dict))
        link = (payload.get("links") or {}).get("next") if isinstance(payload.get("links"), dict) else None
        if not link or not data:
            break
        next_url = urljoin(next_url, link)
    else:
        raise MalformedPayload(f"source {source.id!r}: the index has more than {options['max_pages']} pages")
    live = [e for e in entries if e.get("status") != "deleted" and e.get("profile_url")]
    for entry in live[: int(options["max_profiles"])]:
        profile_url = str(entry["profile_url"])
        page: dict[str, Any] = {"role": "profile", "url": profile_url, "profile_url": profile_url}
        exhausted = fetcher.requests >= fetcher.max_requests  # the run's request budget: a registry matter
        try:
            page["payload"] = fetcher.get_json(profile_url)
        except (SourceUnreachable, SourceHTTPError, MalformedPayload, PayloadTooLarge) as exc:
            if exhausted:
                raise
            # one member's host down (after the retries) costs that profile, not the federation
            page.update(payload=None, error=fetch_failure(str(exc), source.id))
        pages.append(page)
    return pages


def fetch_failure(message: str, source_id: str) -> str:
    """The extract's error without its ``source '<id>': `` prefix (the quarantine entry names the source)."""
    return message.removeprefix(f"source {source_id!r}: ")


#: profile ``status`` values that mean the initiative has ended, and what to say
ENDED = {"completed": "completed", "cancelled": "cancelled"}
#: profile ``status`` values that mean it has not started yet
NOT_STARTED = {"in_planning": "still being planned"}
#: profile ``status`` values that load, with a note for the quality report
NOTED = {"on_hold": "the profile says the initiative is on hold (status on_hold): loaded, it still exists"}
#: profile ``status`` values the bus knows (any other is loaded with a note)
STATUSES = frozenset({"active", *ENDED, *NOT_STARTED, *NOTED})


def point_of(profile: Any, entry: Any) -> dict[str, Any] | None:
    """The profile's point as ``{"lat", "lon"}`` (numbers or text, the mapping's coercion reads them):
    ``geolocation{lat,lon}``, top-level ``latitude``/``longitude``, a ``"lat,lon"`` string, then the index's
    ``geolocation``; None when none is there."""
    for holder in (profile, entry):
        if not isinstance(holder, dict):
            continue
        geolocation = holder.get("geolocation")
        if isinstance(geolocation, dict) and geolocation.get("lat") not in (None, "") and "lon" in geolocation:
            return {"lat": geolocation.get("lat"), "lon": geolocation.get("lon")}
        if holder.get("latitude") not in (None, "") and holder.get("longitude") not in (None, ""):
            return {"lat": holder["latitude"], "lon": holder["longitude"]}
        if isinstance(geolocation, str) and geolocation.count(",") == 1:
            lat, lon = (part.strip() for part in geolocation.split(","))
            if lat and lon:
                return {"lat": lat, "lon": lon}
    return None


def parse(raw: bytes, source: Source) -> list[Any]:
    """One record per live index entry: the entry, its profile, or the error that kept the profile away."""
    pages = pages_of(raw, source) if raw.strip().startswith(b"[") else None
    if pages is None:
        raise MalformedPayload(f"source {source.id!r}: the run's raw file is not a list of pages")
    profiles = {p["profile_url"]: p for p in pages if p.get("role") == "profile"}
    out: list[Any] = []
    for page in pages:
        if page.get("role") != "index":
            continue
        for entry in page["payload"].get("data") or ():
            if not isinstance(entry, dict) or entry.get("status") == "deleted" or not entry.get("profile_url"):
                continue
            fetched = profiles.get(entry["profile_url"], {})
            out.append(
                {
                    "profile_url": entry["profile_url"],
                    "index": entry,
                    "profile": fetched.get("payload"),
                    "error": fetched.get("error")
                    or (None if fetched else "profile not fetched (over options.max_profiles)"),
                    "point": point_of(fetched.get("payload"), entry),
                }
            )
    return out


def is_inactive(element: Any) -> str | None:
    """Why a profile is not an active initiative (its ``status`` says it ended or has not started), or None."""
    profile = element.get("profile") if isinstance(element, dict) else None
    status = profile.get("status") if isinstance(profile, dict) else None
    if not isinstance(status, str):
        return None
    status = status.strip().lower()
    said = f"the profile's status is {status!r}"
    if status in ENDED:
        return f"{said} (the initiative is {ENDED[status]}): no longer an active initiative"
    if status in NOT_STARTED:
        return f"{said} (the initiative is {NOT_STARTED[status]}): not an active initiative yet"
    return None


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    if isinstance(element, dict) and element.get("error"):
        raise RecordRejected(f"the profile {element.get('profile_url')} could not be read: {element['error']}")
    if isinstance(element, dict) and not isinstance(element.get("profile"), dict):
        raise RecordRejected(f"the profile {element.get('profile_url')} is not a JSON object")
    record = declarative.normalise(element, index, source, mapping)
    status = element["profile"].get("status")
    if isinstance(status, str) and status.strip():
        folded = status.strip().lower()
        if folded in NOTED:
            record["notes"].append(NOTED[folded])
        elif folded not in STATUSES:
            record["notes"].append(f"the profile's status {status.strip()[:40]!r} is not a Murmurations status: loaded")
    return record
