"""Murmurations: a federated index of profiles. ``/v2/nodes?schema=...`` lists profile URLs (paged),
then each profile is fetched from its own host and mapped.

A profile that cannot be fetched (gone, 404, not JSON) does not sink the source: it becomes a record
carrying the error, which normalise quarantines with that reason. Index entries whose ``status`` is
``deleted`` are withdrawn profiles: not fetched, not records.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from transiscope.core.errors import MalformedPayload, SourceHTTPError
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
KNOWN_FIELDS = frozenset({"profile_url", "index", "profile", "error"})
DEFAULT_OPTIONS: dict[str, Any] = {"max_pages": 100, "max_profiles": 5000}
OPTIONS_SCHEMA = {"max_pages": {"type": "integer", "minimum": 1}, "max_profiles": {"type": "integer", "minimum": 1}}


def default_fields(kind: str) -> dict[str, Any]:
    return {
        "source_id": "profile_url",
        "name": ["profile.name", "index.name"],
        "description": "profile.description",
        "lat": ["profile.geolocation.lat", "index.latitude"],
        "lon": ["profile.geolocation.lon", "index.longitude"],
        "city": ["profile.locality", "index.locality"],
        "country": ["profile.country_iso_3166", "index.country"],
        "website": ["profile.primary_url", "index.primary_url"],
        "categories": ["profile.tags", "index.tags"],
        "tags": ["profile.tags", "index.tags"],
        "source_url": "profile_url",
        "updated_at": {"path": "index.last_updated", "apply": ["timestamp"]},
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
        try:
            pages.append(
                {
                    "role": "profile",
                    "url": profile_url,
                    "profile_url": profile_url,
                    "payload": fetcher.get_json(profile_url),
                }
            )
        except (SourceHTTPError, MalformedPayload) as exc:
            if isinstance(exc, SourceHTTPError) and exc.transient:
                raise  # the host is failing, not the profile: retry the run later
            pages.append(
                {"role": "profile", "url": profile_url, "profile_url": profile_url, "payload": None, "error": str(exc)}
            )
    return pages


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
                }
            )
    return out


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    if isinstance(element, dict) and element.get("error"):
        raise RecordRejected(f"the profile could not be read: {element['error']}")
    if isinstance(element, dict) and not isinstance(element.get("profile"), dict):
        raise RecordRejected("the profile is not a JSON object")
    return declarative.normalise(element, index, source, mapping)
