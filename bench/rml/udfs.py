"""Morph-KGC user-defined functions for gogocarto-initiatives.rml.ttl (bench/mapping.py).

Each one does what the bus's GoGoCarto connector does for the same field, so that both sides produce the
same triples; they run inside Morph-KGC's own virtualenv (it needs pyoxigraph < 0.4), not the bus's.
"""

import html
import json
import os
import re
import unicodedata
from urllib.parse import quote

TSF = "https://w3id.org/transiscope/bench/function#"
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SLUG_DROP = re.compile(r"[^A-Za-z0-9]+")
_CROSSWALK = json.loads(os.environ.get("BENCH_CROSSWALK", "{}"))
#: Morph-KGC prepends its ``udf`` decorator to this file before running it; imported elsewhere, a no-op
udf = globals().get("udf") or (lambda fun_id, **params: lambda funct: funct)
_PLACEHOLDERS = {"", "private", "hidden", "masqué", "masque", "privé", "prive", "null", "none", "n/a", "-", "nc"}


@udf(fun_id=TSF + "cleanHtml", text=TSF + "text")
def clean_html(text):
    if text is None:
        return None
    cleaned = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", str(text)))).strip()
    return cleaned or None


@udf(fun_id=TSF + "crosswalk", labels=TSF + "labels")
def crosswalk(labels):
    return ["https://w3id.org/transiscope/taxonomy/" + n for n in _CROSSWALK.get(labels, [])] or None


@udf(fun_id=TSF + "publishedEmail", email=TSF + "email")
def published_email(email):
    if email is None or str(email).strip().casefold() in _PLACEHOLDERS:
        return None
    return str(email).strip()


@udf(fun_id=TSF + "openingHours", monday=TSF + "monday")
def opening_hours(monday):
    return f"Mo {str(monday).replace(' ', '')}" if monday else None


@udf(fun_id=TSF + "recordPage", name=TSF + "name", id=TSF + "id")
def record_page(name, id):
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_name).strip("-")[:60] or "element"
    return f"{os.environ['BENCH_MAP_ORIGIN']}/map#/fiche/{slug}/{quote(str(id), safe='')}/"
