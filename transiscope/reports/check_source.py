"""``transiscope check-source``: a self-check for the people who run a source, before it joins the bus.

Why: adding a source used to mean an operator reading a payload by hand and writing a mapping file from
scratch, and the source's maintainers learning about their data's problems only from the first quarantine.
This module does the first pass for both: it reads a URL or a file the way the bus would (the same HTTP
code: timeouts, size cap, HTML error pages refused), recognises the format from the content, *proposes* a
mapping file in the format of ``transforms/mappings/`` (the fields found with their coverage, the paths
chosen for each canonical column, a draft category crosswalk to the taxonomy), then runs the bus's own
normalise, (offline) geocode, validate, to_rdf and shapes stages on the records as that proposal maps them,
and says what would load, what would be quarantined and why, and what to fix first. Adding the source is then a review
of a file, not a rewrite.

Nothing here parses a format itself: records come from the connectors of :mod:`transiscope.ingest.formats` and
the stages of :mod:`transiscope.ingest.stages` (all but the fetch and the load), run in a temporary home with a
temporary one-source registry.
No store is opened, no geocoding service is asked, nothing is left behind but the proposed mapping.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from transiscope.core.errors import ConfigError, MalformedPayload, TransiscopeError
from transiscope.core.files import read_jsonl
from transiscope.core.taxonomy import Concept, read_taxonomy
from transiscope.core.text import fold as text_fold
from transiscope.core.text import split_camel
from transiscope.ingest.mappings import load_mapping
from transiscope.ingest.records import to_float
from transiscope.settings import PROJECT_ROOT, Settings

#: formats the ``--format`` option accepts: the registry's names, ``json`` for any JSON API
FORMAT_CHOICES = ("auto", "gogocarto", "kvm", "openagenda", "ical", "csv", "geojson", "json", "jsonapi", "murmurations")
#: records looked at to profile the fields (all records are still normalised and validated)
PROFILE_LIMIT = 20_000
#: a draft crosswalk entry is written (not commented out) from this similarity score (0-100)
CONFIDENT_SCORE = 88
#: candidates below this score are not even suggested
SUGGEST_SCORE = 55
#: the licence of a source that does not say (SPDX's word for "not stated")
NO_LICENCE = "NOASSERTION"
_PLACEHOLDER_HOST = "https://check-source.invalid/"
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_URL_LIKE = re.compile(r"^(https?://|www\.)\S+$|^[a-z0-9-]+(\.[a-z0-9-]+)+(/\S*)?$", re.I)
_DMY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_DMY_HM = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$")
_POSTCODE = re.compile(r"^\d{5}$")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|&[a-z]+;|&#\d+;")
#: what varies inside one kind of message (values, figures), blanked to count messages by kind
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d+(?:[.,]\d+)?")

#: canonical column -> names a source may give it (folded: ascii, lowercase, ``_`` between words)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "source_id": (
        "id",
        "identifiant",
        "identifier",
        "uid",
        "uuid",
        "guid",
        "slug",
        "ref",
        "reference",
        "node_id",
        "numero",
        "code_structure",
    ),
    "name": (
        "name",
        "nom",
        "title",
        "titre",
        "label",
        "libelle",
        "intitule",
        "raison_sociale",
        "denomination",
        "summary",
        "nom_structure",
        "enseigne",
    ),
    "description": (
        "description",
        "desc",
        "presentation",
        "about",
        "resume",
        "abstract",
        "activites",
        "activite",
        "texte",
        "text",
        "details",
        "long_description",
        "descriptif",
        "objet",
        "body",
        "content",
    ),
    "lat": ("lat", "latitude", "y", "geo_lat", "lat_wgs84"),
    "lon": ("lon", "lng", "long", "longitude", "x", "geo_lon", "geo_lng", "lon_wgs84"),
    "street": (
        "adresse",
        "address",
        "street",
        "street_address",
        "rue",
        "voie",
        "adresse_postale",
        "address_line",
        "adresse_1",
        "address1",
        "adresse_ligne_1",
    ),
    "postcode": ("cp", "code_postal", "codepostal", "postcode", "postal_code", "zip", "zipcode", "zip_code"),
    "city": (
        "ville",
        "commune",
        "city",
        "locality",
        "address_locality",
        "town",
        "municipality",
        "localite",
        "nom_commune",
    ),
    "country": ("pays", "country", "country_code", "address_country", "country_iso_3166"),
    "insee": ("insee", "code_insee", "codeinsee", "citycode", "code_commune", "com_insee", "insee_code"),
    "website": (
        "site",
        "site_web",
        "siteweb",
        "website",
        "web",
        "url",
        "homepage",
        "site_internet",
        "lien",
        "link",
        "links",
        "www",
        "primary_url",
        "site_internet_url",
    ),
    "email": ("email", "courriel", "mail", "e_mail", "mel", "adresse_mail", "contact_email", "adresse_email"),
    "phone": ("tel", "telephone", "phone", "portable", "mobile", "numero_de_telephone", "tel_fixe"),
    "opening_hours": ("horaires", "opening_hours", "open_hours", "heures_d_ouverture", "horaire"),
    "categories": (
        "categories",
        "category",
        "categorie",
        "theme",
        "themes",
        "thematique",
        "thematiques",
        "type",
        "types",
        "kind",
        "secteur",
        "domaine",
        "domaines",
        "rubrique",
        "famille",
        "activite_principale",
    ),
    "tags": ("tags", "tag", "keywords", "mots_cles", "mot_cle", "etiquettes"),
    "licence": ("licence", "license"),
    "updated_at": (
        "updated",
        "updated_at",
        "mise_a_jour",
        "maj",
        "date_maj",
        "modified",
        "last_modified",
        "date_modification",
        "last_update",
        "lastupdate",
        "date_mise_a_jour",
        "modifie_le",
        "last_updated",
        "date_de_mise_a_jour",
        "modif",
        "derniere_modif",
        "derniere_modification",
    ),
    "created_at": ("created", "created_at", "date_creation", "creation", "date_de_creation", "cree_le"),
    "start": (
        "start",
        "begin",
        "debut",
        "date_debut",
        "dtstart",
        "start_date",
        "date_start",
        "startdate",
        "date_de_debut",
    ),
    "end": ("end", "fin", "date_fin", "dtend", "end_date", "date_end", "enddate", "date_de_fin"),
    "status": ("status", "statut", "etat", "state"),
    "organizer": ("organizer", "organisateur", "organisateurs", "organiser", "organisation"),
    "location_name": ("lieu", "venue", "location_name", "nom_du_lieu", "place"),
    "source_url": ("fiche", "permalink", "source_url", "url_fiche", "page_url"),
}
#: the order columns are chosen in: a field used by one column is not offered to the next ones
COLUMN_ORDER = (
    "lat",
    "lon",
    "source_id",
    "name",
    "start",
    "end",
    "postcode",
    "insee",
    "email",
    "website",
    "phone",
    "updated_at",
    "created_at",
    "categories",
    "tags",
    "description",
    "street",
    "city",
    "country",
    "opening_hours",
    "licence",
    "status",
    "organizer",
    "location_name",
    "source_url",
)
#: the order columns are written in the proposed mapping
WRITE_ORDER = (
    "source_id",
    "name",
    "description",
    "categories",
    "tags",
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "insee",
    "country",
    "website",
    "email",
    "phone",
    "opening_hours",
    "start",
    "end",
    "location_name",
    "organizer",
    "status",
    "updated_at",
    "created_at",
    "licence",
    "source_url",
)
EVENT_ONLY = frozenset({"start", "end", "organizer", "location_name"})
INITIATIVE_ONLY = frozenset({"opening_hours"})
#: columns read from a value's shape even when the field's name says nothing
BY_VALUE_ALONE = frozenset({"email", "website", "postcode"})
#: GoGoCarto custom fields: canonical column -> the element fields tried, in order
GOGOCARTO_FIELDS = {
    "description": ("description", "abstract", "descriptionMore"),
    "website": ("website",),
    "phone": ("telephone",),
    "email": ("email",),
}
_STOPWORDS = frozenset(
    {"et", "and", "de", "des", "du", "la", "le", "les", "l", "d", "the", "of", "en", "a", "au", "aux", "pour", "for"}
)


# -- small helpers -----------------------------------------------------------------------------------
def fold(text: str) -> str:
    """Case-, accent- and punctuation-blind form of a label or a field name (words joined by ``_``)."""
    return text_fold(split_camel(str(text)), "_")


def slug(text: str) -> str:
    """A registry id (``[a-z][a-z0-9-]{1,62}``) made from a file name or a host."""
    value = fold(text).replace("_", "-")[:60].strip("-") or "source"
    return value if value[0].isalpha() and len(value) > 1 else f"source-{value}"[:62]


def toml_value(value: Any) -> str:
    """A TOML literal for a string, number, boolean, list or inline table (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML literal for {type(value).__name__}")


def _shown(value: Any, width: int = 40) -> str:
    """An example value for a report or a comment: one line, cut, contacts of persons masked."""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value[:4] if not isinstance(v, dict | list))
    text = " ".join(str(value).split())
    if _EMAIL_LIKE.search(text):
        return "<e-mail>"
    if len(re.sub(r"\D", "", text)) >= 9 and re.fullmatch(r"[\d\s.+()/-]+", text):
        return "<phone>"
    return json.dumps(text[: width - 1] + "…" if len(text) > width else text, ensure_ascii=False)


def _kind_of(message: str) -> str:
    return " ".join(_VARYING.sub("…", message).split())


# -- taxonomy ----------------------------------------------------------------------------------------
def taxonomy_concepts(path: Path) -> list[Concept]:
    """The concepts of ``ontology/taxonomy.ttl`` that have a notation, top concepts first (file order kept)."""
    return list(read_taxonomy(path).concepts)


def known_crosswalks(mappings_dir: Path, exclude: str | None = None) -> dict[str, tuple[list[str], str]]:
    """Folded label -> (notations, mapping file) from the crosswalks other sources already have.

    ``exclude``: the file name of the checked source's own mapping, so that a check of a configured source
    proposes what the other sources' decisions suggest, never its own crosswalk back.
    """
    known: dict[str, tuple[list[str], str]] = {}
    for path in sorted(mappings_dir.glob("*.toml")):
        if path.name == exclude:
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        for label, notations in (data.get("categories") or {}).items():
            notations = [notations] if isinstance(notations, str) else list(notations or ())
            if notations:
                known.setdefault(fold(label), (notations, path.name))
    return known


@dataclass
class LabelMatch:
    label: str
    records: int
    #: (notation, score 0-100, why) best first
    candidates: list[tuple[str, int, str]]

    @property
    def confident(self) -> bool:
        return bool(self.candidates) and self.candidates[0][1] >= CONFIDENT_SCORE

    @property
    def proposed(self) -> list[str]:
        """The draft's notations: every one a reviewed crosswalk gives for the label, else the closest concept."""
        reviewed = [n for n, _score, why in self.candidates if why.startswith("as in ")]
        return reviewed or [self.candidates[0][0]]


def _words(text: str) -> str:
    return " ".join(w for w in fold(text).split("_") if w and w not in _STOPWORDS)


def match_labels(
    labels: Counter[str], concepts: list[Concept], known: dict[str, tuple[list[str], str]] | None = None
) -> list[LabelMatch]:
    """For each source label, the closest taxonomy concepts by folded-label similarity (rapidfuzz).

    A label another source's crosswalk already maps (same folded label) is proposed as that crosswalk says:
    the project's reviewed decisions are better evidence than string similarity.
    """
    from rapidfuzz import fuzz

    targets: list[tuple[str, str, str]] = []  # (folded words, notation, label shown)
    for concept in concepts:
        for label in [*concept.labels.values(), *concept.alt_labels, concept.notation.replace("-", " ")]:
            if _words(label):
                targets.append((_words(label), concept.notation, label))
    out: list[LabelMatch] = []
    for label, count in labels.most_common():
        words = _words(label)
        best: dict[str, tuple[int, str]] = {}
        reviewed = (known or {}).get(fold(label))
        if reviewed:
            for notation in reviewed[0]:
                best[notation] = (100, f"as in {reviewed[1]}")
        for target, notation, shown in targets:
            if not words:
                break
            score = int(round(max(fuzz.WRatio(words, target), fuzz.token_sort_ratio(words, target))))
            if score > best.get(notation, (-1, ""))[0]:
                best[notation] = (score, f"{shown!r}")
        order = {notation: i for i, notation in enumerate(best)}  # a reviewed crosswalk's order first
        ranked = sorted(
            ((n, s, why) for n, (s, why) in best.items() if s >= SUGGEST_SCORE),
            key=lambda item: (-item[1], order[item[0]]),
        )
        out.append(LabelMatch(label, count, ranked[:3]))
    return out


# -- reading the source --------------------------------------------------------------------------------
def _is_url(target: str) -> bool:
    return urlsplit(target).scheme in ("http", "https")


#: API paths that say which connector a URL belongs to (the bus's own requests, not a plain GET, read them)
_URL_FORMATS = (
    (re.compile(r"/v0/(search|events)\b"), "kvm"),
    (re.compile(r"/v2/agendas/[^/]+/events"), "openagenda"),
    (re.compile(r"/v2/nodes\b"), "murmurations"),
)


@dataclass
class Detection:
    """What the source is: the connector, record kind, options and the payload as the bus keeps it."""

    format: str
    kind: str
    options: dict[str, Any]
    #: the bytes the connector's ``parse`` reads (a run's ``raw.json``); None: fetched later by the connector
    raw: bytes | None
    how: list[str]
    shape: str = ""


def _pages(payload: Any, origin: str, role: str | None = None) -> bytes:
    page: dict[str, Any] = {"url": origin, "params": {}, "payload": payload}
    if role:
        page["role"] = role
    return json.dumps([page], ensure_ascii=False).encode("utf-8")


def _records_path(payload: Any, depth: int = 0) -> tuple[str, int] | None:
    """(dotted path, length) of the longest list of objects in a JSON document, searched 3 levels deep."""
    if isinstance(payload, list):
        return ("", len(payload)) if payload and all(isinstance(v, dict) for v in payload) else None
    if not isinstance(payload, dict) or depth > 3:
        return None
    best: tuple[str, int] | None = None
    for key, value in payload.items():
        if not isinstance(key, str) or "." in key or not key.strip():
            continue
        found = _records_path(value, depth + 1)
        if found is not None:
            path = key if not found[0] else f"{key}.{found[0]}"
            if best is None or found[1] > best[1]:
                best = (path, found[1])
    return best


def _next_link(payload: Any) -> str | None:
    """Where a JSON API says its next page is (``links.next``, ``next``, ``_links.next.href``...)."""
    for path in ("links.next", "next", "_links.next.href", "meta.next", "paging.next", "pagination.next"):
        value: Any = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return path
    return None


def _gogocarto_like(items: list[Any]) -> bool:
    objects = [i for i in items[:50] if isinstance(i, dict)]
    return bool(objects) and sum(1 for o in objects if isinstance(o.get("geo"), dict) or "categoriesFull" in o) >= max(
        1, len(objects) // 2
    )


def _kvm_like(items: list[Any]) -> bool:
    objects = [i for i in items[:50] if isinstance(i, dict)]
    return bool(objects) and all("title" in o and ("lng" in o or "tags" in o) for o in objects)


def _recorded(payload: Any) -> bool:
    return isinstance(payload, list) and bool(payload) and all(isinstance(p, dict) and "payload" in p for p in payload)


def detect_json(payload: Any, raw: bytes, origin: str, forced: str | None = None) -> Detection:
    """The connector of a JSON payload, by its shape (or the one forced), with the payload as it expects it."""
    if _recorded(payload):  # a recorded run of a multi-request source (the bus's raw.json of kvm, jsonapi...)
        roles = {p.get("role") for p in payload}
        first = payload[0]["payload"]
        if forced in (None, "kvm") and (
            roles & {"search", "entries", "events"} or (isinstance(first, dict) and "visible" in first)
        ):
            kind = "events" if "events" in roles else "initiatives"
            return Detection("kvm", kind, {}, raw, [f"a recorded Karte von morgen run ({len(payload)} pages)"])
        if forced in (None, "openagenda") and isinstance(first, dict) and isinstance(first.get("events"), list):
            return Detection("openagenda", "events", {}, raw, [f"a recorded OpenAgenda run ({len(payload)} pages)"])
        if forced in (None, "murmurations") and (roles & {"index", "profile"}):
            return Detection(
                "murmurations",
                "initiatives",
                {},
                raw,
                [f"a recorded Murmurations run ({len(payload)} pages: index, then profiles)"],
            )
        found = _records_path(first)
        if found is None:
            raise MalformedPayload(f"no list of records in the first recorded page of {origin}")
        options = {"records_path": found[0], **_recorded_pagination(payload)}
        return Detection(
            "jsonapi",
            "initiatives",
            options,
            raw,
            [f"a recorded JSON API run ({len(payload)} pages), records at {found[0] or 'the top level'!r}"],
        )
    if (
        isinstance(payload, dict)
        and payload.get("type") in ("FeatureCollection", "Feature")
        and forced in (None, "geojson")
    ):
        return Detection("geojson", "initiatives", {}, raw, ["a GeoJSON FeatureCollection"])
    data = payload.get("data") if isinstance(payload, dict) else payload if isinstance(payload, list) else None
    if forced in (None, "gogocarto") and isinstance(data, list) and (_gogocarto_like(data) or forced == "gogocarto"):
        return Detection("gogocarto", "initiatives", {}, raw, ["GoGoCarto elements (elements.json)"])
    if forced in (None, "kvm") and isinstance(payload, dict) and isinstance(payload.get("visible"), list):
        return Detection(
            "kvm",
            "initiatives",
            {},
            _pages(payload["visible"], origin, "entries"),
            ["a Karte von morgen /v0/search answer (entry summaries only)"],
        )
    if forced in (None, "kvm") and isinstance(payload, list) and (_kvm_like(payload) or forced == "kvm"):
        events = sum(1 for e in payload if isinstance(e, dict) and "start" in e) > len(payload) / 2
        return Detection(
            "kvm",
            "events" if events else "initiatives",
            {},
            _pages(payload, origin, "events" if events else "entries"),
            [f"Karte von morgen {'events' if events else 'entries'}"],
        )
    if (
        forced in (None, "openagenda")
        and isinstance(payload, dict)
        and isinstance(payload.get("events"), list)
        and (
            forced == "openagenda"
            or any(isinstance(e, dict) and ("timings" in e or "uid" in e) for e in payload["events"][:20])
        )
    ):
        return Detection("openagenda", "events", {}, _pages(payload, origin, "full"), ["OpenAgenda events"])
    if (
        forced in (None, "murmurations")
        and isinstance(data, list)
        and data
        and all(isinstance(d, dict) and "profile_url" in d for d in data[:20])
    ):
        return Detection(
            "murmurations",
            "initiatives",
            {},
            _pages(payload, origin, "index"),
            ["a Murmurations index page (profiles are fetched from their own hosts)"],
        )
    if forced not in (None, "jsonapi"):
        raise MalformedPayload(
            f"{origin} does not look like {forced} data (a JSON {type(payload).__name__}{_keys(payload)})"
        )
    found = _records_path(payload)
    if found is None:
        raise MalformedPayload(f"no list of records in the JSON of {origin}{_keys(payload)}")
    options: dict[str, Any] = {"records_path": found[0]}
    next_path = _next_link(payload)
    how = [f"a JSON API, {found[1]} records at {found[0] or 'the top level'!r}"]
    if next_path:
        options.update(pagination="next_url", next_path=next_path)
        how.append(f"next page link at {next_path!r}")
    return Detection("jsonapi", "initiatives", options, _pages(payload, origin), how)


def _keys(payload: Any) -> str:
    if isinstance(payload, dict):
        return f" with keys {', '.join(sorted(map(str, payload))[:8])}"
    return ""


def _recorded_pagination(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Page-number pagination read back from the params of a recorded run (page 1, 2, 3; a fixed size)."""
    if len(pages) < 2:
        return {}
    params = [p.get("params") or {} for p in pages]
    for name in params[0]:
        values = [to_float(p.get(name)) for p in params]
        if all(v is not None for v in values) and all(b == a + 1 for a, b in zip(values, values[1:], strict=False)):
            out: dict[str, Any] = {"pagination": "page", "page_param": name, "first_page": int(values[0])}
            fixed = [k for k in params[0] if k != name and all(p.get(k) == params[0][k] for p in params)]
            if fixed and to_float(params[0][fixed[0]]) is not None:
                out.update(size_param=fixed[0], page_size=int(to_float(params[0][fixed[0]])))
            return out
    return {}


def detect(raw: bytes, origin: str, forced: str | None = None) -> Detection:
    """The format of a payload, from its content (or ``forced``), or :class:`MalformedPayload` in one line."""
    from transiscope.ingest.extract import parse_json
    from transiscope.ingest.formats import tabular

    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise MalformedPayload(f"{origin} is empty")
    if forced == "ical" or (forced is None and head[:15].upper().startswith(b"BEGIN:VCALENDAR")):
        return Detection("ical", "events", {}, raw, ["an iCalendar feed"])
    if forced != "csv" and (head[:1] in (b"{", b"[") or forced not in (None, "csv")):
        payload = parse_json(raw, "check-source", origin)
        return detect_json(payload, raw, origin, forced)
    text, encoding = tabular.decode(raw, "auto")
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0 or "\n" not in text.strip():
        preview = " ".join(text[:60].split())
        raise MalformedPayload(f"{origin} is not JSON, GeoJSON, iCalendar or CSV (it starts with {preview!r})")
    shown = {"\t": "tab"}.get(delimiter, delimiter)
    return Detection(
        "csv",
        "initiatives",
        {"encoding": "auto", "delimiter": "auto"},
        raw,
        [f"CSV, encoding {encoding}, separator {shown!r}"],
    )


# -- profiling -----------------------------------------------------------------------------------------
@dataclass
class FieldProfile:
    """One field (dotted path, ``*`` for each item of a list) of the source's records."""

    path: str
    count: int = 0
    values: list[Any] = field(default_factory=list)

    def coverage(self, total: int) -> float:
        return self.count / total if total else 0.0

    @property
    def example(self) -> Any:
        return self.values[0] if self.values else None


def _leaves(value: Any, prefix: tuple[str, ...], out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if "." in key or not key.strip() or key != key.strip():
                continue  # a key a dotted path cannot name
            _leaves(item, (*prefix, key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            _leaves(item, (*prefix, "*"), out)
    elif value not in (None, "", [], {}) and prefix:
        out.setdefault(".".join(prefix), value)


def unnamable(elements: list[Any]) -> list[str]:
    """Top-level fields a mapping path cannot name (a dot, or spaces around the name): they are lost to the bus."""
    from transiscope.ingest.mapping import parse_path

    names: dict[str, None] = {}
    for element in elements[:PROFILE_LIMIT]:
        if isinstance(element, dict):
            names.update((str(k), None) for k, v in element.items() if v not in (None, "", [], {}))
    return [n for n in names if not n.startswith("_") and ".".join(parse_path(n) or ()) != n]


def profile(elements: list[Any]) -> tuple[list[FieldProfile], int]:
    """Every field of the records with how many have a value, in first-seen order; and the records read."""
    found: dict[str, FieldProfile] = {}
    objects = [e for e in elements[:PROFILE_LIMIT] if isinstance(e, dict)]
    for element in objects:
        leaves: dict[str, Any] = {}
        _leaves(element, (), leaves)
        for path, value in leaves.items():
            entry = found.setdefault(path, FieldProfile(path))
            entry.count += 1
            entry.values.append(value)
    return list(found.values()), len(objects)


def _texts(values: list[Any]) -> list[str]:
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(str(v) for v in value if not isinstance(v, dict | list))
        elif not isinstance(value, dict):
            out.append(str(value))
    return out


def _share(values: list[Any], test: Callable[[Any], bool]) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _date_function(values: list[Any]) -> tuple[float, str | None]:
    """(share of values readable as dates, the value function they need: None, parse_date:..., timestamp)."""
    from transiscope.ingest.records import parse_date

    texts = [str(v).strip() for v in values if not isinstance(v, list | dict)]
    if not texts:
        return 0.0, None
    numbers = [to_float(t) for t in texts]
    if all(n is not None and 1e8 < n < 1e10 for n in numbers):
        return 1.0, "timestamp"
    choices = (
        (None, lambda t: parse_date(t, False) is not None),
        ("parse_date:%d/%m/%Y", _DMY.match),
        ("parse_date:%d/%m/%Y %H:%M", _DMY_HM.match),
    )
    scored = [(_share(texts, lambda t, test=test: bool(test(t))), function) for function, test in choices]
    return max(scored, key=lambda item: item[0])


def _plausible(column: str, values: list[Any], total: int) -> float:
    """How much the values look like what ``column`` holds (0-1)."""
    texts = _texts(values)
    if not texts:
        return 0.0
    if column == "lat":
        return _share(texts, lambda t: (n := to_float(t)) is not None and -90 <= n <= 90 and n != int(n))
    if column == "lon":
        return _share(texts, lambda t: (n := to_float(t)) is not None and -180 <= n <= 180 and n != int(n))
    if column == "source_id":
        scalars = [str(v) for v in values if not isinstance(v, list | dict)]
        if len(scalars) < len(values) or any(len(s) > 200 for s in scalars):
            return 0.0
        # a few duplicates are the source's problem (reported), not a sign the field is no id
        return len(set(scalars)) / len(scalars)
    if column == "name":
        return _share(texts, lambda t: 2 <= len(t) <= 200 and not _URL_LIKE.match(t) and to_float(t) is None)
    if column == "postcode":
        return _share(texts, lambda t: bool(_POSTCODE.match(t.strip())))
    if column == "insee":
        return _share(texts, lambda t: bool(re.match(r"^(?:\d{2}|2[AB])\d{3}$", t.strip())))
    if column == "email":
        return _share(texts, lambda t: "@" in t or fold(t) in ("private", "hidden", "prive", "masque"))
    if column in ("website", "source_url"):
        return _share(texts, lambda t: bool(_URL_LIKE.match(t.strip())) or t.strip().lower().startswith("javascript:"))
    if column == "phone":
        return _share(texts, lambda t: len(re.sub(r"\D", "", t)) >= 6 and not re.search(r"[a-z]{3}", t.lower()))
    if column in ("updated_at", "created_at", "start", "end"):
        return _date_function(values)[0]
    if column == "description":
        return 1.0 if sum(len(t) for t in texts) / len(texts) >= 15 else 0.5
    if column in ("categories", "tags"):
        labels = [p.strip() for t in texts for p in re.split(r"[;|,]", t) if p.strip()]
        return 1.0 if labels and len(set(labels)) <= max(12, 0.8 * total) else 0.6
    return _share(texts, lambda t: len(t) <= 300)


def _name_score(path: str, column: str) -> int:
    segments = [s for s in path.split(".") if s != "*"]
    last = fold(segments[-1]) if segments else ""
    joined = fold("_".join(segments))
    words = set(last.split("_"))
    synonyms = SYNONYMS.get(column, ())
    if last in synonyms or joined in synonyms:
        return 3
    if any(s in words for s in synonyms if "_" not in s):
        return 2
    if any(len(s) >= 4 and s in last for s in synonyms):
        return 1
    return 0


def choose_fields(
    profiles: list[FieldProfile], total: int, kind: str, skip: frozenset[str] = frozenset()
) -> dict[str, FieldProfile]:
    """Canonical column -> the source field that most likely holds it (name, values and coverage)."""
    chosen: dict[str, FieldProfile] = {}
    used: set[str] = set()
    candidates = [p for p in profiles if not p.path.split(".")[0].startswith("_") and p.path not in skip]
    for column in COLUMN_ORDER:
        if (kind == "events" and column in INITIATIVE_ONLY) or (kind != "events" and column in EVENT_ONLY):
            continue
        best: tuple[float, FieldProfile] | None = None
        for candidate in candidates:
            reuse = column == "tags" and chosen.get("categories") is candidate
            if candidate.path in used and not reuse:
                continue
            named = _name_score(candidate.path, column)
            if named == 0 and column not in BY_VALUE_ALONE:
                continue
            plausible = _plausible(column, candidate.values, total)
            if plausible < (0.8 if column == "source_id" else 0.5 if named else 0.9):
                continue
            score = max(named, 0.5) * plausible * (0.5 + 0.5 * candidate.coverage(total))
            if best is None or score > best[0]:
                best = (score, candidate)
        if best is not None:
            if column == "tags" and chosen.get("categories") is best[1] and fold(best[1].path) not in SYNONYMS["tags"]:
                continue  # the categories field is only also the tags when it is named as tags
            chosen[column] = best[1]
            used.add(best[1].path)
    if "source_id" not in chosen:  # no field named as an id: the first short field filled and unique everywhere
        for candidate in candidates:
            texts = _texts(candidate.values)
            short = bool(texts) and max(len(t) for t in texts) <= 80 and not any(_MARKUP.search(t) for t in texts)
            if candidate.count == total and short and _plausible("source_id", candidate.values, total) == 1.0:
                chosen["source_id"] = candidate
                break
    return chosen


def _separator(values: list[Any]) -> str | None:
    texts = [v for v in values if isinstance(v, str)]
    counts = {sep: sum(1 for t in texts if sep in t) for sep in (";", "|", ",", "/")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else None


def field_spec(column: str, profile_: FieldProfile) -> Any:
    """The ``[fields]`` value of a chosen column: a path, or a table with the value functions it needs."""
    apply: list[str] = []
    values = profile_.values
    if "*" in profile_.path and column not in ("categories", "tags"):
        apply.append("first")
    if column == "name":
        apply.append("trim")
    elif column == "description" and any(isinstance(v, str) and _MARKUP.search(v) for v in values):
        apply.append("strip_html")
    elif column in ("website", "email", "phone"):
        apply.append({"website": "url"}.get(column, column))
    elif column in ("categories", "tags"):
        sep = _separator(values)
        if sep:
            apply += [f"split:{sep}", "trim"]
    elif column in ("updated_at", "created_at", "start", "end"):
        function = _date_function(values)[1]
        if function:
            apply.append(function)
    if any(isinstance(v, dict) for v in values):
        apply.insert(0, "lang")  # a multilingual object {"fr": ..., "en": ...}
    return {"path": profile_.path, "apply": apply} if apply else profile_.path


# -- the proposal ----------------------------------------------------------------------------------------
@dataclass
class Proposal:
    data: dict[str, Any]
    text: str
    #: column -> (the field chosen, its coverage) for the report
    chosen: dict[str, tuple[str, float]]
    matches: list[LabelMatch]


def _default_paths(spec: Any) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, list):
        return [p for p in spec if isinstance(p, str)]
    if isinstance(spec, dict):
        paths = spec.get("path") or []
        return [paths] if isinstance(paths, str) else list(paths)
    return []


def _coverage_of(paths: list[str], elements: list[Any]) -> float:
    from transiscope.ingest.mapping import parse_path, resolve

    objects = [e for e in elements[:PROFILE_LIMIT] if isinstance(e, dict)]
    parsed = [p for p in (parse_path(path) for path in paths) if p]
    if not objects or not parsed:
        return 0.0
    return sum(1 for e in objects if any(resolve(e, p) not in (None, "", [], {}) for p in parsed)) / len(objects)


def build_proposal(
    name: str,
    origin: str,
    detection: Detection,
    elements: list[Any],
    profiles: list[FieldProfile],
    total: int,
    matches: list[LabelMatch] | None = None,
) -> Proposal:
    """The mapping file proposed for the source: TOML text with comments, and its data."""
    from transiscope.ingest.formats import MODULES, connector
    from transiscope.ingest.formats.base import DeclarativeConnector

    fmt = detection.format
    module = connector(fmt)
    data: dict[str, Any] = {"format": fmt}
    chosen_report: dict[str, tuple[str, float]] = {}
    field_lines: list[str] = []
    if fmt == "gogocarto":
        shape = _gogocarto_shape(elements)
        data["shape"] = shape
        top = {p.path: p for p in profiles}
        fields: dict[str, list[str]] = {}
        for column, names in GOGOCARTO_FIELDS.items():
            present = [n for n in names if n in top]
            extra = [
                p.path
                for p in profiles
                if "." not in p.path
                and p.path not in names
                and p.path not in _gogocarto_known()
                and _name_score(p.path, column) >= 2
                and _plausible(column, p.values, total) >= 0.5
            ]
            fields[column] = list(dict.fromkeys([names[0], *present, *extra])) if present or extra else list(names[:2])
            chosen_report[column] = (" / ".join(fields[column]), _coverage_of(fields[column], elements))
            shares = ", ".join(f"{n} ({_pct(_coverage_of([n], elements))})" for n in fields[column])
            field_lines.append(f"# {column}: {shares}")
            field_lines.append(f"{column} = {toml_value(fields[column])}")
        data["fields"] = fields
        for column, path in (
            ("source_id", "id"),
            ("name", "name"),
            ("position", "geo"),
            ("street", "address.streetAddress"),
            ("postcode", "address.postalCode"),
            ("city", "address.addressLocality"),
            ("categories", "categoriesFull"),
            ("updated_at", "updatedAt"),
        ):
            chosen_report[column] = (path, _coverage_of([path], elements))
    else:
        kind = detection.kind
        data["kind"] = kind
        options = {k: v for k, v in detection.options.items() if k not in ("encoding", "delimiter") or fmt == "csv"}
        if options:
            data["options"] = options
        defaults = cast(DeclarativeConnector, module).default_fields(kind)  # GoGoCarto is handled above
        fields_out: dict[str, Any] = {}
        if fmt in ("csv", "geojson", "jsonapi"):
            skip = frozenset({"id"}) if fmt == "geojson" and not any(p.path == "id" for p in profiles) else frozenset()
            picked = choose_fields(profiles, total, kind, skip)
            for column in WRITE_ORDER:
                if column not in picked:
                    continue
                if fmt == "geojson" and column in ("lat", "lon"):
                    continue  # the connector's point of the geometry
                fields_out[column] = field_spec(column, picked[column])
                chosen_report[column] = (picked[column].path, picked[column].coverage(total))
                field_lines.append(
                    f"# {picked[column].path}: {_pct(picked[column].coverage(total))} of records, "
                    f"e.g. {_shown(picked[column].example)}"
                )
                field_lines.append(f"{column} = {toml_value(fields_out[column])}")
            missing = [
                c
                for c in ("source_id", "name", "lat", "lon", "categories", "updated_at", "street", "postcode", "city")
                if c not in fields_out and not (fmt == "geojson" and c in ("lat", "lon"))
            ]
            if kind == "events":
                missing = [c for c in ("start", *missing) if c not in fields_out]
            for column in missing:
                field_lines.append(
                    f"# {column} = ?   no field of the source looked like it: {_WHY_MISSING.get(column, '')}"
                )
            if "source_id" not in fields_out:
                raise MalformedPayload(
                    f"{origin}: no field can serve as the records' id (none is filled in every "
                    "record with unique values): the bus cannot track records across runs"
                )
            if "name" not in fields_out:
                raise MalformedPayload(f"{origin}: no field looks like the records' name")
            if "country" not in fields_out:
                data["defaults"] = {"country": "FR"}
        elif fmt == "murmurations":
            # the index's node_id is stable whichever host serves the profile, unlike the profile's URL
            fields_out["source_id"] = ["index.node_id", "profile_url"]
            field_lines.append("# the index's node_id is stable whichever host serves the profile; profile_url is not")
            field_lines.append(f"source_id = {toml_value(fields_out['source_id'])}")
        if fmt not in ("csv",):
            module_file = MODULES[fmt]
            field_lines.insert(
                0,
                f"# the connector's default fields apply (transiscope/formats/{module_file}.py); "
                "listed here only what differs",
            )
            for column, spec in defaults.items():
                if column in fields_out:
                    continue
                paths = _default_paths(spec)
                if paths:
                    chosen_report[column] = (" / ".join(paths), _coverage_of(paths, elements))
        if fields_out:
            data["fields"] = fields_out
        for column, spec in fields_out.items():
            chosen_report[column] = (" / ".join(_default_paths(spec)), _coverage_of(_default_paths(spec), elements))
    matches = matches or []
    crosswalk = {m.label: m.proposed for m in matches if m.confident}
    if crosswalk:
        data["categories"] = crosswalk
    text = _render(name, origin, detection, data, field_lines, profiles, total, matches)
    return Proposal(data, text, chosen_report, matches)


_WHY_MISSING = {
    "source_id": "every record needs a stable id",
    "name": "every record needs a name",
    "lat": "a point places the initiative on the map (or an address the bus can geocode)",
    "lon": "a point places the initiative on the map (or an address the bus can geocode)",
    "categories": "categories are how the map filters initiatives",
    "updated_at": "an update date tells readers the record is alive",
    "street": "an address lets the bus place and check the point",
    "postcode": "a postcode lets the bus check the point",
    "city": "a commune lets the bus check the point",
    "start": "an event needs a start date",
}


def _gogocarto_known() -> frozenset[str]:
    from transiscope.ingest.formats import gogocarto

    return gogocarto.KNOWN_FIELDS


def _gogocarto_shape(elements: list[Any]) -> str:
    """``2018`` when categories are option ids or dates are d/m/Y, else ``2021``."""
    for element in elements[:200]:
        if not isinstance(element, dict):
            continue
        if any(isinstance(c, int) for c in element.get("categories") or ()):
            return "2018"
        if any(isinstance(element.get(k), str) and _DMY.match(element[k]) for k in ("createdAt", "updatedAt")):
            return "2018"
    return "2021"


def _pct(share: float) -> str:
    return f"{round(100 * share)} %"


def _render(
    name: str,
    origin: str,
    detection: Detection,
    data: dict[str, Any],
    field_lines: list[str],
    profiles: list[FieldProfile],
    total: int,
    matches: list[LabelMatch],
) -> str:
    today = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Mapping proposed by `transiscope check-source` on {today} for {origin}",
        "# A draft to review (fields, value functions, crosswalk), not a final mapping.",
        "# See docs/guide-sources.fr.md (français) or docs/guide-sources.en.md (English).",
        f"# Detected: {'; '.join(detection.how)}; {total} records read.",
        "#",
        "# Fields found in the records (share of records with a value; an example):",
    ]
    for entry in sorted(profiles, key=lambda p: -p.count)[:40]:
        lines.append(f"#   {entry.path[:38]:<38} {_pct(entry.coverage(total)):>5}  {_shown(entry.example)}")
    if len(profiles) > 40:
        lines.append(f"#   … and {len(profiles) - 40} more")
    lines += ["", f"format = {toml_value(data['format'])}"]
    for key in ("kind", "shape"):
        if key in data:
            lines.append(f"{key} = {toml_value(data[key])}")
    if "options" in data:
        lines += ["", "[options]"] + [f"{k} = {toml_value(v)}" for k, v in data["options"].items()]
    if field_lines:
        lines += ["", '# canonical column = path in a source record (dotted, "*" for each item of a list)', "[fields]"]
        lines += field_lines
    if "defaults" in data:
        lines += ["", "# the bus lists initiatives in France: remove if the source is international", "[defaults]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in data["defaults"].items()]
    if matches:
        lines += [
            "",
            "# Crosswalk draft: the source's category label -> taxonomy notations (ontology/taxonomy.ttl).",
            f"# Written when the closest concept scores {CONFIDENT_SCORE}+ (folded-label similarity, 0-100,",
            "# or the same label in another source's crosswalk); the others are commented out for a person",
            "# to decide.",
            "# An unmapped label is kept as the source's label; its records get no taxonomy category.",
            "[categories]",
        ]
        for match in matches:
            others = "; ".join(f"{n} {s} ({why})" for n, s, why in match.candidates)
            if match.confident:
                lines.append(
                    f"{toml_value(match.label)} = {toml_value(match.proposed)}  # {match.records} record(s); {others}"
                )
            elif match.candidates:
                lines.append(
                    f"# {toml_value(match.label)} = {toml_value([match.candidates[0][0]])}"
                    f"  # {match.records} record(s), not sure: {others}"
                )
            else:
                lines.append(f"# {toml_value(match.label)} = []  # {match.records} record(s), no close concept")
    return "\n".join(lines) + "\n"


# -- the check ---------------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    name: str
    origin: str
    detection: Detection
    proposal: Proposal
    mapping_path: Path
    total: int
    counts: dict[str, int]
    quarantine: list[tuple[int, str]]
    warnings: list[tuple[int, str]]
    notes: list[tuple[int, str]]
    verdict: str | None
    fix_first: list[str]
    licence: str
    geocode: str = ""
    extra: list[str] = field(default_factory=list)


def _acquire(
    target: str, name: str, forced: str | None, settings: Settings, say: Callable[[str], None]
) -> tuple[bytes | None, str]:
    """The payload (bytes) of a file or a URL's first answer; None for an API the connector must page itself."""
    if not _is_url(target):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"no such file: {target} (give a file or an http(s) URL)")
        say(f"read {path} ({path.stat().st_size:,} bytes)")
        cap = settings.http.max_bytes
        if path.stat().st_size > cap:
            raise ConfigError(
                f"{target} is {path.stat().st_size:,} bytes, over the cap of {cap:,} (TRANSISCOPE_HTTP_MAX_BYTES)"
            )
        return path.read_bytes(), str(path)
    if forced in (None, "kvm", "openagenda", "murmurations"):
        for pattern, fmt in _URL_FORMATS:
            if pattern.search(urlsplit(target).path) and forced in (None, fmt):
                return None, target
    from transiscope.ingest.extract import Fetcher
    from transiscope.ingest.formats import connector

    expect = getattr(connector(forced), "EXPECT", "data") if forced else "data (JSON, CSV, GeoJSON or iCalendar)"
    say(f"fetch {target}")
    with Fetcher(settings.http, name, connect_retries=0) as fetcher:
        body = fetcher.get_bytes(target, expect=expect)
    say(f"received {len(body):,} bytes")
    return body, target


def _url_detection(target: str, forced: str | None) -> Detection:
    for pattern, fmt in _URL_FORMATS:
        match = pattern.search(urlsplit(target).path)
        if match and forced in (None, fmt):
            kind = (
                "events"
                if fmt == "openagenda" or (fmt == "kvm" and match.group(0).endswith("events"))
                else "initiatives"
            )
            options: dict[str, Any] = {}
            query = parse_qs(urlsplit(target).query)
            if fmt == "kvm" and query.get("bbox"):
                box = [to_float(v) for v in query["bbox"][0].split(",")]
                if len(box) == 4 and all(v is not None for v in box):
                    options["bbox"] = box
            return Detection(fmt, kind, options, None, [f"a {fmt} API (from the URL), read as the bus pages it"])
    raise ConfigError(f"{target}: not an API URL check-source knows")


class _Workspace:
    """A temporary home: a one-source registry, the proposed mapping, the suites that apply, the run files."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="transiscope-check-"))
        self.name = name
        expectations = self.dir / "expectations"
        expectations.mkdir()
        for suite in ("initiatives.json", "events.json", f"{name}.json", f"{name}.events.json"):
            if (settings.expectations_dir / suite).exists():
                shutil.copyfile(settings.expectations_dir / suite, expectations / suite)
        if not (expectations / f"{name}.json").exists():
            (expectations / f"{name}.json").write_text(json.dumps({"name": name, "expectations": []}), encoding="utf-8")
        geocode = replace(settings.geocode, provider="none")  # a check never sends addresses anywhere
        self.settings = replace(
            settings,
            home=self.dir / "home",
            registry_path=self.dir / "sources.toml",
            expectations_dir=expectations,
            geocode=geocode,
        )

    def source(self, detection: Detection, mapping_text: str, url: str, licence: str):
        from transiscope.ingest.mappings import load_registry

        mapping = self.dir / "mapping.toml"
        mapping.write_text(mapping_text, encoding="utf-8")
        entry = {
            "id": self.name,
            "name": self.name,
            "format": detection.format,
            "kind": detection.kind,
            "url": url,
            "licence": licence,
            "mapping": str(mapping),
            "min_interval": 0,
        }
        lines = ["[[source]]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
        self.settings.registry_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_registry(self.settings.registry_path).get(self.name)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _provisional(detection: Detection) -> str:
    """A mapping that only lets the connector read the payload (options; an id and a name for a CSV)."""
    lines = [f"format = {toml_value(detection.format)}"]
    if detection.format == "gogocarto":
        return "\n".join([*lines, 'shape = "2021"']) + "\n"
    lines.append(f"kind = {toml_value(detection.kind)}")
    if detection.options:
        lines += ["[options]"] + [f"{k} = {toml_value(v)}" for k, v in detection.options.items()]
    if detection.format == "csv":
        lines += ["[fields]", 'source_id = { default = "-" }', 'name = { default = "-" }']
    return "\n".join(lines) + "\n"


def _labels(elements: list[Any], source: Any) -> Counter[str]:
    """The category labels of the records as the mapping reads them (what the crosswalk will see)."""
    from transiscope.ingest.formats import RecordRejected, connector

    module = connector(source.format)
    mapping = load_mapping(source)
    labels: Counter[str] = Counter()
    for index, element in enumerate(elements):
        try:
            record = module.normalise(element, index, source, mapping)
        except (RecordRejected, TransiscopeError, TypeError, ValueError):
            continue
        labels.update(dict.fromkeys(record.get("categories") or ()).keys())
    return labels


def check_source(
    target: str,
    fmt: str = "auto",
    out: Path | None = None,
    *,
    name: str | None = None,
    licence: str | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Read ``target`` (URL or file), propose a mapping (written to ``out``), and check the records with it."""
    from transiscope.ingest import stages
    from transiscope.ingest.formats import connector
    from transiscope.ingest.mappings import load_registry
    from transiscope.ingest.run_context import start_run
    from transiscope.registry.schemas import mapping_problems

    say = progress or (lambda _message: None)
    if fmt not in FORMAT_CHOICES:
        raise ConfigError(f"unknown format {fmt!r} (one of: {', '.join(FORMAT_CHOICES)})")
    forced = {"auto": None, "json": "jsonapi"}.get(fmt, fmt)
    settings = settings or Settings.from_env()
    parts = urlsplit(target)
    if not name:
        stem = Path(parts.path).stem if _is_url(target) else Path(target).stem
        generic = {"", "api", "elements", "events", "search", "feed", "ics", "index", "export", "nodes", "data"}
        name = stem if stem.lower() not in generic else (parts.hostname or "source").removeprefix("www.").split(".")[0]
    name = slug(name)
    known = {s.id: s for s in _project_sources(settings)}
    licence = licence or (known[name].licence if name in known else NO_LICENCE)

    raw, origin = _acquire(target, name, forced, settings, say)
    detection = _url_detection(target, forced) if raw is None else detect(raw, origin, forced)
    say(f"format: {detection.format} ({'; '.join(detection.how)})")
    url = target if _is_url(target) else _PLACEHOLDER_HOST + Path(target).name
    workspace = _Workspace(settings, name)
    try:
        source = workspace.source(detection, _provisional(detection), url, licence)
        module = connector(detection.format)
        if detection.raw is None or (_is_url(target) and detection.options.get("pagination") == "next_url"):
            from transiscope.ingest.extract import Fetcher, source_http
            from transiscope.ingest.formats.base import PagedConnector

            say(f"{detection.format}: fetching every page the way the bus does")
            with Fetcher(source_http(settings.http, source), name, connect_retries=0) as fetcher:
                pages = cast(PagedConnector, module).extract_pages(fetcher, target, source, load_mapping(source), None)
            detection.raw = json.dumps(pages, ensure_ascii=False).encode("utf-8")
            say(f"{detection.format}: {fetcher.requests} request(s), {fetcher.bytes:,} bytes")
        elements = module.parse(detection.raw, source)
        if not elements:
            raise MalformedPayload(f"{origin} holds no records: nothing to check")
        say(f"{len(elements)} records read; profiling their fields")
        profiles, total = profile(elements)
        draft = build_proposal(name, origin, detection, elements, profiles, total)
        source = workspace.source(detection, draft.text, url, licence)
        labels = _labels(elements, source)
        matches = match_labels(
            labels,
            taxonomy_concepts(settings.ontology_dir / "taxonomy.ttl"),
            known_crosswalks(
                PROJECT_ROOT / "transforms" / "mappings",
                exclude=known[name].mapping_path.name if name in known else None,
            ),
        )
        proposal = build_proposal(name, origin, detection, elements, profiles, total, matches)
        problems = mapping_problems(tomllib.loads(proposal.text), Path(f"{name}.mapping.toml"))
        if problems:  # a bug of this module, never the source's fault
            raise RuntimeError(f"the proposed mapping does not validate: {problems[0]}")
        source = workspace.source(detection, proposal.text, url, licence)
        out = out or Path.cwd() / f"{name}.mapping.toml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(proposal.text, encoding="utf-8")
        say(f"proposed mapping written to {out}")

        load_registry(workspace.settings.registry_path)
        run_dir = start_run(name, settings=workspace.settings, runner="check-source", url=url, mode="check")
        (run_dir / "raw.json").write_bytes(detection.raw)
        verdict = None
        try:
            # every stage before the load, the SHACL shapes included: what would be quarantined is all there
            for stage in (s for s in stages.REPLAYED if not s.writes_store):
                say(f"{name}: {stage.name}")
                stage(run_dir, workspace.settings, record_failures=False)
        except TransiscopeError as exc:  # schema drift and the like: what the bus would say about the batch
            verdict = str(exc)
        result = _result(name, origin, detection, proposal, out, run_dir, total, verdict, licence, workspace.settings)
        lost = unnamable(elements)
        if lost:
            result.extra.append(
                f"field(s) a mapping cannot name (a dot or spaces around the name), so the bus "
                f"cannot read them: {', '.join(map(repr, lost[:8]))}; rename them"
            )
        extra_cells = sum(1 for e in elements if isinstance(e, dict) and e.get("_extra_cells"))
        if extra_cells:
            result.extra.append(
                f"{extra_cells} row(s) have more cells than the header has columns: the extra "
                "cells are not read (a separator inside an unquoted value?)"
            )
        result.fix_first = (result.fix_first[:2] + result.extra + result.fix_first[2:])[:9]
        return result
    finally:
        workspace.close()


def _project_sources(settings: Settings) -> list[Any]:
    from transiscope.ingest.mappings import load_registry

    try:
        return list(load_registry(settings.registry_path).sources)
    except TransiscopeError:
        return []


def _result(
    name: str,
    origin: str,
    detection: Detection,
    proposal: Proposal,
    out: Path,
    run_dir: Path,
    total: int,
    verdict: str | None,
    licence: str,
    settings: Settings,
) -> CheckResult:
    from transiscope.ingest.geocode import checks as geochecks
    from transiscope.runs import read_run

    run = read_run(run_dir)
    records = read_jsonl(run_dir / "records.jsonl")
    quarantine = read_jsonl(run_dir / "quarantine.jsonl")
    fetched = (run["stages"].get("normalise") or {}).get("fetched", total)
    validation = (
        json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
        if (run_dir / "validation.json").exists()
        else {"expectations": []}
    )
    by_reason: Counter[str] = Counter()
    for entry in quarantine:
        if entry["stage"] != "validate":
            by_reason.update(_kind_of(reason) for reason in entry["reasons"])
    warnings: Counter[str] = Counter()
    for expectation in validation["expectations"]:
        if expectation.get("failed"):
            text = expectation.get("description") or expectation.get("type")
            (by_reason if expectation["severity"] == "critical" else warnings)[text] += expectation["failed"]
    quarantined_at = {e["record_index"] for e in quarantine}
    flags: Counter[str] = Counter()
    for record in records:
        for flag in record.get("geo_flags") or ():
            if flag.get("code") in geochecks.TEXTS and record["record_index"] not in quarantined_at:
                flags[_kind_of(geochecks.reason(flag))] += 1
    warnings.update(flags)
    notes = Counter(
        _kind_of(note)
        for r in records
        for note in r.get("notes") or ()
        if not note.startswith("placed ") and "geocod" not in note
    )
    counts = {"fetched": fetched, "quarantined": len(quarantine), "loaded": fetched - len(quarantine)}
    if verdict is None and fetched:
        share = len(quarantine) / fetched
        if counts["loaded"] == 0:
            verdict = f"all {fetched} records would be quarantined: the bus would reject the batch"
        elif share > settings.max_quarantine_share:
            verdict = (
                f"{share:.0%} of the records would be quarantined, more than the "
                f"{settings.max_quarantine_share:.0%} the bus accepts: it would reject the whole batch"
            )
    placed = Counter(r.get("geo_method") for r in records if r.get("geo_method") not in (None, "source"))
    geocode = ""
    if placed:
        geocode = (
            f"{sum(placed.values())} record(s) without coordinates were placed offline at their commune's "
            "reference point; the bus asks the BAN geocoder for a precise point from the street address"
        )
    unplaced = sum(1 for r in records if r.get("lat") is None)
    if unplaced:
        geocode = (geocode + "; " if geocode else "") + (
            f"{unplaced} record(s) have no point and could not be placed from a commune here; the bus would try the "
            "BAN geocoder with their address"
        )
    result = CheckResult(
        name,
        origin,
        detection,
        proposal,
        out,
        total,
        counts,
        sorted(((n, r) for r, n in by_reason.items()), key=lambda x: (-x[0], x[1])),
        sorted(((n, r) for r, n in warnings.items()), key=lambda x: (-x[0], x[1])),
        sorted(((n, r) for r, n in notes.items()), key=lambda x: (-x[0], x[1])),
        verdict,
        [],
        licence,
        geocode,
    )
    result.fix_first = fix_first(result, records)
    return result


#: advice for the reasons a maintainer meets most, by a word of the reason
_ADVICE = (
    ("swapped", "put latitude and longitude in their own columns, latitude first"),
    ("between -90", "check the coordinates out of range: latitude and longitude swapped or mistyped?"),
    (
        "lies in France",
        "check the points outside France: latitude and longitude swapped or mistyped? (a source "
        "outside France is declared international in the registry)",
    ),
    (
        "not an active",
        "records the source itself marks as deleted, refused or unpublished are set aside: nothing to "
        "fix unless they should be public",
    ),
    (
        "not a published",
        "records the source itself marks as deleted, refused or unpublished are set aside: nothing "
        "to fix unless they should be public",
    ),
    ("appears", "give every record its own id: the same id twice keeps only the most recently updated copy"),
    (
        "latitude",
        "give every record a latitude and a longitude in decimal degrees (WGS 84), or a full street "
        "address the bus can geocode",
    ),
    ("name", "give every record a name"),
    ("id", "give every record a stable id that never changes and is never reused"),
    ("markup", "publish descriptions as plain text (or simple HTML the bus can clean)"),
    ("crosswalk", "review the [categories] draft of the proposed mapping: map each label to a taxonomy concept"),
    ("category of the taxonomy", "give every record a category the crosswalk maps"),
    ("can be read", "use ISO 8601 dates (2026-03-14) and decimal coordinates"),
    ("not a date", "use ISO 8601 dates (2026-03-14), or one date format for every record"),
    ("end before", "check the events whose end is before their start"),
    ("title", "give every event a title"),
    ("usable", "publish contacts that work (an http(s) website, a valid e-mail): the others are dropped"),
    ("postcode", "give French 5-digit postcodes (as text, so that 01000 keeps its 0)"),
    ("website", "give websites as full http(s) addresses"),
)


def fix_first(result: CheckResult, records: list[dict[str, Any]]) -> list[str]:
    """What the source's maintainers should fix first: what blocks records, then what makes them less useful."""
    out: list[str] = []
    if result.verdict:
        out.append(f"the batch as a whole: {result.verdict}")
    for origin, found in (
        ("quarantine", result.quarantine),
        ("source", []),
        ("warning", result.warnings),
        ("note", result.notes),
    ):
        if origin == "source":
            out.extend(_source_advice(result, records))
        for count, reason in found:
            advice = next((a for word, a in _ADVICE if word.lower() in reason.lower()), None)
            if advice is None and origin == "note":
                continue  # what the bus fixed quietly (a placeholder e-mail dropped, a past event) needs no fix
            line = f"{advice} ({count} record(s): {reason})" if advice else f"{reason} ({count} record(s))"
            if advice and any(done.startswith(advice) for done in out):
                continue
            out.append(line)
    return out[:9]


def _source_advice(result: CheckResult, records: list[dict[str, Any]]) -> list[str]:
    """What is missing from the source as a whole (no update date, no licence, no categories)."""
    out = []
    chosen = result.proposal.chosen
    if result.detection.format != "gogocarto" and "updated_at" not in chosen:
        out.append(
            "publish an update date for each record: it is how readers and the quality score (freshness) "
            "know a record is alive"
        )
    if result.licence == NO_LICENCE:
        out.append(
            "say under which licence the data is published (an SPDX id such as ODbL-1.0 or CC-BY-4.0): "
            "the bus cannot republish data without one (check again with --licence)"
        )
    if records and not any(r.get("categories") for r in records):
        out.append("give each record one or more categories: the map filters by them")
    return out


def format_report(result: CheckResult) -> str:
    """The short report printed by ``transiscope check-source``."""
    d = result.detection
    shape = f" (shape {result.proposal.data['shape']})" if "shape" in result.proposal.data else ""
    lines = [
        f"check-source: {result.origin}",
        f"  format   {d.format}{shape} - {'; '.join(d.how)}",
        f"  kind     {d.kind}   records {result.counts['fetched']}   licence {result.licence}",
        f"  mapping  {result.mapping_path} (proposed; valid against the mapping schema)",
        "",
        "fields chosen (source field, share of records with a value):",
    ]
    for column, (path, share) in result.proposal.chosen.items():
        lines.append(f"  {column:<14} {path[:44]:<44} {_pct(share):>5}")
    matches = result.proposal.matches
    if matches:
        confident = sum(1 for m in matches if m.confident)
        left = [m.label for m in matches if not m.confident]
        lines.append(
            f"categories: {len(matches)} label(s), {confident} mapped in the draft crosswalk"
            + (f", {len(left)} left for review: {', '.join(left[:8])}" if left else "")
        )
    lines += [
        "",
        f"would load        {result.counts['loaded']} of {result.counts['fetched']} records",
        f"would quarantine  {result.counts['quarantined']}",
    ]
    lines += [f"  {n:>4}  {r}" for n, r in result.quarantine]
    if result.verdict:
        lines.append(f"batch: {result.verdict}")
    if result.warnings:
        lines.append("warnings (loaded, but worth a look):")
        lines += [f"  {n:>4}  {r}" for n, r in result.warnings]
    if result.notes:
        lines.append("fixed or dropped by the bus while reading:")
        lines += [f"  {n:>4}  {r}" for n, r in result.notes]
    if result.geocode:
        lines.append(f"positions: {result.geocode}")
    for line in result.extra:
        lines.append(f"source: {line}")
    if result.fix_first:
        lines += ["", "fix first:"] + [f"  {i}. {line}" for i, line in enumerate(result.fix_first, 1)]
    return "\n".join(lines)
