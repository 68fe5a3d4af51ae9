"""The fields of a source's records, with their coverage, and the field chosen for each canonical column.

Why: a proposed mapping is only as good as its choice of fields; the choice weighs a field's name (the
synonyms of :mod:`.columns`), what its values look like (coordinates, dates, e-mails...) and how many records
fill it, and says which value functions (``trim``, ``split:;``, ``parse_date:...``) its values need.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transiscope.ingest.records import to_float
from transiscope.reports.check_source.columns import (
    BY_VALUE_ALONE,
    COLUMN_ORDER,
    EVENT_ONLY,
    INITIATIVE_ONLY,
    SYNONYMS,
)
from transiscope.reports.check_source.text import fold

#: records looked at to profile the fields (all records are still normalised and validated)
PROFILE_LIMIT = 20_000
_URL_LIKE = re.compile(r"^(https?://|www\.)\S+$|^[a-z0-9-]+(\.[a-z0-9-]+)+(/\S*)?$", re.I)
DMY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_DMY_HM = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$")
_POSTCODE = re.compile(r"^\d{5}$")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|&[a-z]+;|&#\d+;")


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
    out: list[str] = []
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
    choices: tuple[tuple[str | None, Callable[[str], object]], ...] = (
        (None, lambda t: parse_date(t, False) is not None),
        ("parse_date:%d/%m/%Y", DMY.match),
        ("parse_date:%d/%m/%Y %H:%M", _DMY_HM.match),
    )
    scored = [(sum(1 for t in texts if test(t)) / len(texts), function) for function, test in choices]
    return max(scored, key=lambda item: item[0])


def plausibility(column: str, values: list[Any], total: int) -> float:
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


def name_score(path: str, column: str) -> int:
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
            named = name_score(candidate.path, column)
            if named == 0 and column not in BY_VALUE_ALONE:
                continue
            plausible = plausibility(column, candidate.values, total)
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
            if candidate.count == total and short and plausibility("source_id", candidate.values, total) == 1.0:
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
