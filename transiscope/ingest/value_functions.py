"""The value functions a declarative mapping may select (``apply = [...]``), and the contact normalisers.

Why a module of their own: they are the fixed, reviewed set that configuration can only *select* (never
``eval``: see :mod:`transiscope.ingest.mapping`), each tested alone and fed arbitrary values by the
property tests of ``tests/unit/test_odd_values.py``; the mapping engine compiles them into its per-column steps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from transiscope.core.text import clean_contact, clean_text
from transiscope.ingest.records import to_float

_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_PHONE_KEEP = re.compile(r"[^\d+]")
#: a URI scheme other than a host's port (``www.x.org:8080`` is a host, ``javascript:`` a scheme)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")
MAX_SPLIT_PARTS = 200


def _each(value: Any, func: Callable[[Any], Any]) -> Any:
    if isinstance(value, list):
        return [v for v in (func(item) for item in value) if v not in (None, "")]
    return func(value)


def _strip_html(value: Any, _arg: str | None) -> Any:
    return _each(value, lambda v: clean_text(v) if isinstance(v, str) else v)


def _decode_entities(value: Any, _arg: str | None) -> Any:
    return _each(value, lambda v: unescape(unescape(v)) if isinstance(v, str) else v)


def _trim(value: Any, _arg: str | None) -> Any:
    return _each(value, lambda v: " ".join(v.split()) or None if isinstance(v, str) else v)


def _lower(value: Any, _arg: str | None) -> Any:
    return _each(value, lambda v: v.lower() if isinstance(v, str) else v)


def _split(value: Any, arg: str | None) -> Any:
    sep = arg or ","

    def one(text: Any) -> list[str]:
        if not isinstance(text, str):
            return [text] if text not in (None, "") else []
        return [p.strip() for p in text.split(sep, MAX_SPLIT_PARTS) if p.strip()]

    if isinstance(value, list):
        return [part for item in value for part in one(item)]
    return one(value)


def _first(value: Any, _arg: str | None) -> Any:
    if isinstance(value, list):
        return next((v for v in value if v not in (None, "", [], {})), None)
    return value


def _join(value: Any, arg: str | None) -> Any:
    if isinstance(value, list):
        return (arg if arg is not None else ", ").join(str(v) for v in value if v not in (None, ""))
    return value


def _lang(value: Any, arg: str | None) -> Any:
    """A multilingual object ``{"fr": ..., "en": ...}`` -> the value in ``arg`` (then fr, en, any)."""
    if not isinstance(value, dict):
        return value
    for lang in (arg, "fr", "en"):
        if lang and value.get(lang) not in (None, "", []):
            return value[lang]
    return next((v for v in value.values() if v not in (None, "", [])), None)


def _parse_date(value: Any, arg: str | None) -> Any:
    """A date in the format ``arg`` (strptime syntax, e.g. ``%d/%m/%Y``) -> ISO 8601; else left as is."""
    if not isinstance(value, str) or not arg:
        return value
    try:
        parsed = datetime.strptime(value.strip(), arg)
    except ValueError:
        return value
    has_time = any(code in arg for code in ("%H", "%M", "%S", "%I"))
    return parsed.isoformat() if has_time else parsed.date().isoformat()


def _timestamp(value: Any, arg: str | None) -> Any:
    """Unix seconds (``timestamp``) or milliseconds (``timestamp:ms``, Murmurations) -> ISO 8601 UTC date-time."""
    number = to_float(value) if not isinstance(value, bool) else None
    if number is None:
        return value
    if arg == "ms":
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return value


def _wall_time(value: Any, arg: str | None) -> Any:
    """A date-time whose wall clock is right but whose zone is wrong (Karte von morgen labels local time
    as UTC): keep the wall clock, attach the zone ``arg`` (default Europe/Paris)."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.replace(tzinfo=ZoneInfo(arg or "Europe/Paris")).isoformat()


def normalise_phone(value: Any) -> str | None:
    """French numbers to ``+33 …`` international form; others keep their digits and leading ``+``."""
    text = clean_contact(value)
    if text is None:
        return None
    digits = _PHONE_KEEP.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if len(digits) == 10 and digits.startswith("0"):
        digits = "+33" + digits[1:]
    if len(digits.lstrip("+")) < 6:
        return None
    return digits


def normalise_url(value: Any) -> str | None:
    """An http(s) URL (``www.x.org`` gets ``https://``); anything else (``javascript:``…) is dropped."""
    text = clean_contact(value)
    if text is None:
        return None
    if "://" not in text:
        if _SCHEME.match(text):  # javascript:, mailto:, data:... are not web pages
            return None
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:  # "http://x.org|x.org]]": a bracket that opens no IPv6 address, and the like
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in parts.netloc:
        return None
    return text


def normalise_email(value: Any) -> str | None:
    text = clean_contact(value)
    if text is None:
        return None
    text = text.removeprefix("mailto:").strip().lower()
    return text if _EMAIL.match(text) else None


FUNCTIONS: dict[str, Callable[[Any, str | None], Any]] = {
    "strip_html": _strip_html,
    "decode_entities": _decode_entities,
    "trim": _trim,
    "lower": _lower,
    "split": _split,
    "first": _first,
    "join": _join,
    "lang": _lang,
    "parse_date": _parse_date,
    "timestamp": _timestamp,
    "wall_time": _wall_time,
    "phone": lambda v, _a: _each(v, normalise_phone),
    "url": lambda v, _a: _each(v, normalise_url),
    "email": lambda v, _a: _each(v, normalise_email),
    # "crosswalk" is applied to categories by the engine; naming it on another column maps that value too
    "crosswalk": lambda v, _a: v,
}
#: functions whose argument is required (``name:argument``)
NEEDS_ARGUMENT = frozenset({"parse_date"})
