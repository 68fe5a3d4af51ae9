"""GoGoCarto ``elements.json`` (``ontology=gogofull``), in its 2018 and its 2021+ shapes.

2018: ``categories`` are option ids and dates are ``d/m/Y``; 2021+: ``categories`` are names and
dates are ISO 8601. Custom fields (website, telephone, description...) sit at the top level of each
element; which ones hold what is the mapping's ``[fields]`` table.

Categories are read as GoGoCartoJs reads them, ``categoriesFull || categories || taxonomy``, then the 2018
API's ``optionValues`` (option ids, or objects ``{id, description}``): the first of the mapping's
``[fields].categories`` that is not empty (:data:`DEFAULT_FIELDS`; a mapping may point elsewhere). Ids are
resolved through the element's own ``categoriesFull``, then through the map's ``/api/taxonomy.json``
(groups of options, each with ``id``, ``name`` and nested ``subcategories``), which the extract fetches
once per run when some id needs it (:func:`extract_companions`, kept as the run's ``companions.json``, read
back by :func:`bind_run`); an id it cannot resolve stays as its label, with a note.

Statuses (GoGoCarto's ``ElementStatus``): the map shows ``status >= -1``. -1 is a validated element with a
modification waiting for moderation: its validated version loads, with a note. 0 is an addition never
validated: not an active initiative (quarantined). 1 to 7 are validated or imported. -2 to -6 are refused,
deleted or duplicate (quarantined, see :func:`is_inactive`).

Licence: the payload's top-level ``licence`` is what the publisher says of the data it serves, so it is the
licence recorded on each record (``dct:license``) when it names a known licence; the registry's ``licence``
stays the dataset's declared licence in the metadata graph's catalogue and is the records' licence when
the payload has none or names none the bus can read (then each record carries a note).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from transiscope.core.errors import MalformedPayload, TransiscopeError
from transiscope.core.text import clean_contact, clean_text, slug
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.records import empty_record, parse_date, to_float
from transiscope.registry.sources import Mapping, Source

#: what the body must be (extract refuses an HTML error page served with status 200)
EXPECT = "JSON"
#: fields without which no element can become an initiative: absent from all = schema drift
REQUIRED_FIELDS = ("id", "name", "geo")
#: the standard fields of a gogofull element; custom fields come from the mapping
KNOWN_FIELDS = frozenset(
    {
        "id",
        "name",
        "geo",
        "address",
        "categories",
        "categoriesFull",
        "sourceKey",
        "openHours",
        "osm_opening_hours",
        "createdAt",
        "updatedAt",
        "status",
        "moderationState",
        "images",
        "files",
        "email",
        "website",
        "telephone",
        "description",
        "abstract",
        "descriptionMore",
        "urls",
        "stamps",
        "optionValues",
        "taxonomy",
        "subscriberEmails",
    }
)

#: which element fields hold what; the first non-empty one wins (the mapping's ``[fields]`` overrides a key)
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "description": ("description", "abstract"),
    "website": ("website",),
    "phone": ("telephone",),
    "email": ("email",),
    # GoGoCartoJs: categoriesFull || categories || taxonomy; then the 2018 API's optionValues
    "categories": ("categoriesFull", "categories", "taxonomy", "optionValues"),
}
#: the keys a GoGoCarto mapping's ``[fields]`` table may set
FIELD_KEYS = frozenset(DEFAULT_FIELDS)

#: GoGoCarto's ElementStatus constants that are not shown on the map (visible: status >= -1)
_HIDDEN_STATUS = {
    0: "pending addition, never validated by the map's moderators",
    -2: "refused by an administrator",
    -3: "refused by collaborative moderation",
    -4: "deleted",
    -5: "pending version of a modification",
    -6: "duplicate",
}
#: the element's status -1: validated, with a modification waiting for moderation (shown on the map)
PENDING_MODIFICATION = -1
_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def _preview(raw: bytes) -> str:
    text = raw[:80].decode("utf-8", errors="replace")
    return " ".join(text.split())


def parse(raw: bytes, source: Source) -> list[Any]:
    """The elements of a GoGoCarto response, or :class:`MalformedPayload` saying what is wrong."""
    payload = _payload(raw, source)
    if isinstance(payload, list):
        return payload
    return list(payload["data"])


def _payload(raw: bytes, source: Source) -> list[Any] | dict[str, Any]:
    """The response: a bare list of elements, or an object with its ``data`` list (checked)."""
    if not raw.strip():
        raise MalformedPayload(f"source {source.id!r}: the response body is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"source {source.id!r}: the response is not UTF-8 (byte {exc.start}); JSON must be UTF-8"
        ) from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(
            f"source {source.id!r}: the response is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}; it starts with {_preview(raw)!r})"
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits: Python refuses to read it
        raise MalformedPayload(f"source {source.id!r}: the response holds an unreadable number ({exc})") from None
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise MalformedPayload(f"source {source.id!r}: expected a JSON object, got {type(payload).__name__}")
    if "data" not in payload:
        keys = ", ".join(sorted(map(str, payload))[:8]) or "none"
        raise MalformedPayload(f'source {source.id!r}: no "data" list in the GoGoCarto response (keys: {keys})')
    data = payload["data"]
    if not isinstance(data, list):
        raise MalformedPayload(f'source {source.id!r}: "data" is a {type(data).__name__}, not a list')
    return payload


def _first(element: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value: Any = element
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value not in (None, "", [], {}):
            return value
    return None


_OPTION_ID = re.compile(r"^\d+$")


def _clean_line(value: Any) -> str | None:
    return clean_text(value, multiline=False)


def _refs(
    value: Any, shape: str, line: Callable[[Any], str | None] = _clean_line
) -> list[tuple[str | None, str | None]]:
    """(option id, name) of each category in one field's value: names (2021+), option ids (ints, digit
    strings, or any string in the 2018 shape), objects ``{id, name}`` or ``{id, description}``, a
    comma-separated string of ids."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")] if "," in value and shape == "2018" else [value]
        value = parts
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    out: list[tuple[str | None, str | None]] = []
    for item in value:
        if isinstance(item, dict):
            raw_id = item.get("id", item.get("optionId"))
            name = line(item.get("name")) if isinstance(item.get("name"), str) else None
            ident = None if raw_id in (None, "") or isinstance(raw_id, bool) else str(raw_id).strip()
            if ident or name:
                out.append((ident, name))
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append((str(item), None))
        elif isinstance(item, str) and item.strip():
            text = item.strip()
            if shape == "2018" or _OPTION_ID.match(text):
                out.append((text, None))
            else:
                out.append((None, line(text)))
    return out


def _category_refs(
    element: dict[str, Any],
    fields: dict[str, tuple[str, ...]],
    shape: str,
    line: Callable[[Any], str | None] = _clean_line,
) -> list[Any]:
    """The categories of the first non-empty field of ``fields["categories"]``, as (id, name) pairs."""
    for path in fields["categories"]:
        refs = _refs(_first(element, (path,)), shape, line)
        if refs:
            return refs
    return []


def _own_names(element: dict[str, Any], line: Callable[[Any], str | None] = _clean_line) -> dict[str, str]:
    """Option id -> name, from the element's own ``categoriesFull``."""
    names: dict[str, str] = {}
    full = element.get("categoriesFull")
    for option in full if isinstance(full, list) else ():
        if isinstance(option, dict) and option.get("id") not in (None, "") and isinstance(option.get("name"), str):
            name = line(option["name"])
            if name:
                names[str(option["id"]).strip()] = name
    return names


def _labels(
    element: dict[str, Any],
    fields: dict[str, tuple[str, ...]],
    shape: str,
    facts: dict[str, Any],
    notes: list[str],
    line: Callable[[Any], str | None] = _clean_line,
) -> list[str]:
    """Category labels: names as given, ids resolved through ``categoriesFull`` then the map's taxonomy."""
    refs = _category_refs(element, fields, shape, line)
    # the element's own names are needed only for a category given by id alone
    own = _own_names(element, line) if any(name is None for _, name in refs) else {}
    taxonomy: dict[str, str] = facts.get("option_names") or {}
    labels: list[str] = []
    unresolved: list[str] = []
    for ident, name in refs:
        label = name or (own.get(ident) or taxonomy.get(ident) if ident else None)
        if not label and ident:
            unresolved.append(ident)
            label = ident
        if label:
            labels.append(label)
    if unresolved and (taxonomy or facts.get("taxonomy_error")):
        why = facts.get("taxonomy_error") or "they are not in the map's taxonomy.json"
        notes.append(f"category id(s) {', '.join(unresolved[:10])} could not be resolved to names: {why}")
    return list(dict.fromkeys(labels))


def needs_taxonomy(elements: list[Any], mapping: Mapping) -> bool:
    """Whether some element has a category given by option id that its own ``categoriesFull`` does not name."""
    fields = {**DEFAULT_FIELDS, **mapping.fields}
    for element in elements:
        if not isinstance(element, dict):
            continue
        refs = _category_refs(element, fields, mapping.shape)
        if any(ident and not name for ident, name in refs):
            own = _own_names(element)
            if any(ident and not name and ident not in own for ident, name in refs):
                return True
    return False


def taxonomy_url(url: str, source: Source) -> str:
    """The map's taxonomy: the registry's ``taxonomy_url``, else ``taxonomy.json`` beside the elements'
    endpoint (``.../api/elements.json?...`` -> ``.../api/taxonomy.json``)."""
    configured = source.extra.get("taxonomy_url")
    if configured:
        return str(configured)
    parts = urlsplit(url)
    folder = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}/taxonomy.json", "", ""))


def option_names(taxonomy: Any) -> dict[str, str]:
    """Option id -> name over a GoGoCarto taxonomy: a list of groups (``options``, each option with ``id``,
    ``name`` and ``subcategories``: groups again), or an object holding it under ``taxonomy``."""
    names: dict[str, str] = {}
    stack: list[Any] = [taxonomy]
    seen = 0
    while stack and seen < 100_000:  # bounded: a hostile taxonomy cannot make this loop for ever
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            if "options" in node or "subcategories" in node or "taxonomy" in node:
                for key in ("taxonomy", "options", "subcategories", "children"):
                    if isinstance(node.get(key), list | dict):
                        stack.append(node[key])
            if node.get("id") not in (None, "") and isinstance(node.get("name"), str) and "options" not in node:
                name = clean_text(node["name"], multiline=False)
                if name:
                    names.setdefault(str(node["id"]).strip(), name)
    return names


#: licence texts and URLs GoGoCarto maps publish -> SPDX identifiers
_LICENCES = (
    (re.compile(r"odbl|open ?database licen[cs]e", re.I), "ODbL-1.0"),
    (re.compile(r"publicdomain/zero|\bcc0\b|cc-zero", re.I), "CC0-1.0"),
    (re.compile(r"licen[cs]es/by-sa/4\.0|\bcc[- ]by[- ]sa([- ]4\.0)?\b", re.I), "CC-BY-SA-4.0"),
    (re.compile(r"licen[cs]es/by/4\.0|\bcc[- ]by([- ]4\.0)?\b", re.I), "CC-BY-4.0"),
    (re.compile(r"etalab|licence ouverte|open licen[cs]e", re.I), "etalab-2.0"),
)
_SPDX_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*-[0-9][A-Za-z0-9.+-]*$")


def licence_of(value: Any) -> str | None:
    """The SPDX identifier (or licence URL) a payload's ``licence`` names; None when it names none."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for pattern, spdx in _LICENCES:
        if pattern.search(text):
            return spdx
    if _SPDX_LIKE.match(text):
        return text
    if urlsplit(text).scheme in ("http", "https") and urlsplit(text).netloc and " " not in text:
        return text
    return None


def extract_companions(fetcher: Any, url: str, raw_path: Path, source: Source, mapping: Mapping) -> dict[str, Any]:
    """What the run needs besides ``elements.json`` (kept as the run's ``companions.json``): the payload's
    top-level ``licence`` and, when some category id needs it, the map's ``taxonomy.json``, fetched once
    through the run's :class:`~transiscope.ingest.extract.Fetcher` (same retries, rate limit and size cap).

    A taxonomy that cannot be read costs the names, not the run: the ids stay labels, with a note.
    """
    try:
        payload = _payload(raw_path.read_bytes(), source)
    except (TransiscopeError, OSError):
        return {}  # the normalise stage says what is wrong with the payload
    companions: dict[str, Any] = {}
    if isinstance(payload, dict) and payload.get("licence") not in (None, ""):
        companions["licence"] = payload["licence"]
    elements = payload if isinstance(payload, list) else payload["data"]
    if needs_taxonomy(elements, mapping):
        where = taxonomy_url(url, source)
        try:
            companions["taxonomy"] = {"url": where, "payload": fetcher.get_json(where)}
        except TransiscopeError as exc:
            companions["taxonomy"] = {"url": where, "error": str(exc).removeprefix(f"source {source.id!r}: ")}
    return companions


def bind_run(mapping: Mapping, companions: dict[str, Any], source: Source) -> Mapping:
    """The mapping with what this run's payload says for all its elements (:attr:`Mapping.payload_facts`)."""
    facts: dict[str, Any] = {}
    stated = companions.get("licence")
    if stated not in (None, ""):
        facts["licence"] = licence_of(stated)
        if facts["licence"] is None:
            facts["licence_note"] = (
                f"the payload's licence {str(stated)[:80]!r} names no licence the bus knows: "
                f"the registry's {source.licence} is recorded"
            )
    taxonomy = companions.get("taxonomy")
    if isinstance(taxonomy, dict):
        names = option_names(taxonomy.get("payload")) if "payload" in taxonomy else {}
        facts["option_names"] = names
        if taxonomy.get("error"):
            facts["taxonomy_error"] = (
                f"the map's taxonomy {taxonomy.get('url')} could not be read ({taxonomy['error']})"
            )
        elif not names:
            facts["taxonomy_error"] = f"the map's taxonomy {taxonomy.get('url')} holds no option with an id and a name"
    return dataclasses.replace(mapping, payload_facts=facts)


def _opening_hours(value: Any) -> str | None:
    """``{"Mo": "09:00-12:00,14:00-18:00"}`` -> the OSM ``opening_hours`` syntax."""
    if not isinstance(value, dict):
        return clean_text(value, multiline=False) if isinstance(value, str) else None
    parts = []
    for day in _DAYS:
        hours = value.get(day)
        if isinstance(hours, str) and hours.strip():
            parts.append(f"{day} {hours.strip().replace(' ', '')}")
    return "; ".join(parts) or None


def record_url(source: Source, source_id: str, name: str | None) -> str:
    """The element's page on the GoGoCarto map that published it."""
    parts = urlsplit(source.url)
    name_part = slug(name, fallback="element", lower=False)
    return f"{parts.scheme}://{parts.netloc}/map#/fiche/{name_part}/{quote(source_id, safe='')}/"


#: at most this many distinct short values are remembered per run by :meth:`_Plan.line` (bounded memory)
_MEMO_LIMIT = 50_000
_MEMO_LENGTH = 120


class _Plan:
    """What normalise needs of a mapping and a source, worked out once per run instead of once per element
    (issue 26): the merged fields, the shape, the payload's facts, the page URL's prefix, and a memo of the
    short values that repeat from element to element (category names, cities, countries, publishers)."""

    def __init__(self, source: Source, mapping: Mapping) -> None:
        self.source = source
        self.mapping = mapping
        self.fields = {**DEFAULT_FIELDS, **mapping.fields}
        self.description = self.fields["description"]
        self.website = self.fields["website"]
        self.phone = self.fields["phone"]
        self.email = self.fields["email"]
        self.shape = mapping.shape
        self.day_first = mapping.shape == "2018"
        self.facts = mapping.payload_facts
        self.categories = mapping.categories
        self.licence = self.facts.get("licence") or source.licence
        self.licence_note: str | None = self.facts.get("licence_note")
        parts = urlsplit(source.url)
        self.page_prefix = f"{parts.scheme}://{parts.netloc}/map#/fiche/"
        self._lines: dict[str, str | None] = {}
        self._contacts: dict[str, str | None] = {}

    def line(self, value: Any) -> str | None:
        """``clean_text(value, multiline=False)``, remembered for short strings."""
        if type(value) is not str or len(value) > _MEMO_LENGTH:
            return clean_text(value, multiline=False)
        try:
            return self._lines[value]
        except KeyError:
            cleaned = clean_text(value, multiline=False)
            if len(self._lines) < _MEMO_LIMIT:
                self._lines[value] = cleaned
            return cleaned

    def contact(self, value: Any) -> str | None:
        """``clean_contact(value)``, remembered for short strings (placeholders and shared numbers repeat)."""
        if type(value) is not str or len(value) > _MEMO_LENGTH:
            return clean_contact(value)
        try:
            return self._contacts[value]
        except KeyError:
            cleaned = clean_contact(value)
            if len(self._contacts) < _MEMO_LIMIT:
                self._contacts[value] = cleaned
            return cleaned


#: the plans of the last mappings seen, by identity: a run normalises all its elements with one mapping
_PLANS: dict[int, _Plan] = {}


def _plan(source: Source, mapping: Mapping) -> _Plan:
    plan = _PLANS.get(id(mapping))
    if plan is None or plan.mapping is not mapping or plan.source is not source:
        if len(_PLANS) >= 4:
            _PLANS.pop(next(iter(_PLANS)))
        plan = _PLANS[id(mapping)] = _Plan(source, mapping)
    return plan


def normalise(element: Any, index: int, source: Source, mapping: Mapping) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise RecordRejected(f"element is a JSON {type(element).__name__}, not an object")
    raw_id = element.get("id")
    if raw_id is None or str(raw_id).strip() == "":
        raise RecordRejected("element has no id, so it cannot be tracked across runs")
    source_id = str(raw_id).strip()
    plan = _plan(source, mapping)
    line = plan.line

    record = empty_record()
    notes: list[str] = record["notes"]
    record["source"] = source.id
    record["source_id"] = source_id
    record["record_index"] = index
    record["name"] = name = clean_text(element.get("name"), multiline=False)
    record["description"] = clean_text(_first(element, plan.description))

    status = element.get("status")
    record["status"] = str(status) if status is not None else None
    if status == PENDING_MODIFICATION or (type(status) is not int and _status(element) == PENDING_MODIFICATION):
        notes.append("status -1: a modification waits for moderation on the map; its validated version is loaded")

    labels = _labels(element, plan.fields, plan.shape, plan.facts, notes, line)
    record["categories"] = labels
    concepts: list[str] = []
    unmapped: list[str] = record["unmapped_categories"]
    categories = plan.categories
    for label in labels:
        mapped = categories.get(label)
        if mapped:
            concepts.extend(mapped)
        else:
            unmapped.append(label)
    record["concepts"] = list(dict.fromkeys(concepts)) if len(concepts) > 1 else concepts

    raw_geo = element.get("geo")
    geo: dict[str, Any] = raw_geo if isinstance(raw_geo, dict) else {}
    record["lat"] = to_float(geo.get("latitude"))
    record["lon"] = to_float(geo.get("longitude"))
    if geo and (record["lat"] is None or record["lon"] is None):
        notes.append(f"unreadable coordinates {geo.get('latitude')!r}, {geo.get('longitude')!r}")
        record["unparsed"].append("geo")

    raw_address = element.get("address")
    if isinstance(raw_address, dict):
        record["street"] = line(raw_address.get("streetAddress"))
        record["postcode"] = line(raw_address.get("postalCode"))
        record["city"] = line(raw_address.get("addressLocality"))
        record["country"] = line(raw_address.get("addressCountry"))

    record["website"] = clean_contact(_first(element, plan.website))
    record["phone"] = plan.contact(_first(element, plan.phone))
    email = _first(element, plan.email)
    record["email"] = plan.contact(email)
    if email and record["email"] is None:
        notes.append(f"email {str(email)!r} means not published: dropped")
    # openHours is GoGoCarto's day map; other OSM syntax travels as osm_opening_hours (the bus's own export)
    record["opening_hours"] = _opening_hours(element.get("openHours")) or _opening_hours(
        element.get("osm_opening_hours")
    )
    record["upstream_source"] = line(element.get("sourceKey"))
    record["licence"] = plan.licence
    if plan.licence_note:
        notes.append(plan.licence_note)
    record["source_url"] = (
        f"{plan.page_prefix}{slug(name, fallback='element', lower=False)}/{quote(source_id, safe='')}/"
    )

    for key, column in (("createdAt", "created_at"), ("updatedAt", "updated_at")):
        value = element.get(key)
        record[column] = parse_date(value, plan.day_first)
        if value not in (None, "") and record[column] is None:
            notes.append(f"{key} {value!r} is not a date")
            record["unparsed"].append(f"{key}={value!r}")
    return record


def element_id(element: Any, mapping: Mapping) -> Any:
    """The element's own ``id`` (GoGoCarto's fields are fixed: the mapping does not move it)."""
    return element.get("id") if isinstance(element, dict) else None


def required_fields(mapping: Mapping) -> tuple[str, ...]:
    """The same fields whatever the mapping: :data:`REQUIRED_FIELDS`."""
    return REQUIRED_FIELDS


def _status(element: Any) -> int | None:
    if not isinstance(element, dict) or isinstance(element.get("status"), bool):
        return None
    try:
        return int(element.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def is_inactive(element: Any) -> str | None:
    """Why an element is not an active initiative (a status GoGoCarto does not show: below -1, or 0), or None."""
    status = _status(element)
    if status is None or status > 0 or status == PENDING_MODIFICATION:
        return None
    meaning = _HIDDEN_STATUS.get(status, "not shown on the map")
    return f"status {status} ({meaning}) on the source: not an active initiative"
