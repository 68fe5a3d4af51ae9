"""Is this the same initiative? Comparable forms of records, blocking keys and a scored comparison.

Pure functions, no store: :mod:`transiscope.downstream.link.linker` reads the records and writes the links.
Kept apart so
the evaluation set (``bench/link_pairs.py``) and the benchmark exercise exactly the code the link step runs.

Why this shape:

- **Blocking, never all pairs.** The old Semantic Bus compared every pair (O(n²)). Here a record is only
  compared with records that share a key: a name token in the same or a neighbouring ~2 km cell, the same
  core name in a ~10 km cell (pins moved to the commune centre), the same phone / e-mail / website anywhere
  (only in small groups: a chain's shared website would otherwise pair hundreds of shops), or anything in
  the same ~200 m cell while that cell is not crowded. The work grows with the number of records times the
  size of the blocks, not with n².
- **Names are folded before they are compared**: accents, case, punctuation, articles ("de", "la"...),
  legal forms ("Association", "Asso", "SCIC"...) and the kind of place ("AMAP", "Repair Café", "Jardin
  partagé", "Tiers-lieu"...) are set aside, and what is left (the *core*: "Pentes" in "AMAP des Pentes") is
  what tells two initiatives apart. The kinds still count: an AMAP and a repair café at the same address
  are two initiatives. Tokens of the record's own commune are left out of the core ("Repair Café Nantes
  Est" vs "Repair Café Nantes Ouest", both in Nantes, differ by "Est" / "Ouest").
- **The score is a sum of log-odds** (Fellegi–Sunter style): each piece of evidence (name, distance,
  postcode, street, website, phone, e-mail, kind) adds or removes weight, and the sum goes through a
  logistic to a score in [0, 1]. Every weight that counted is kept as a readable sentence, so a person
  reviewing a candidate sees *why* ("same website", "40 m apart", "different phones").

String similarity is rapidfuzz's (C++, typo-tolerant ratios), not hand-written.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from transiscope.core.text import fold


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: articles and prepositions: never evidence of anything
STOPWORDS = _words("le la les l de du des d et en a au aux un une sur sous pour par chez dans the of and")
#: legal forms and words that every association carries
LEGAL = _words("association asso assoc sarl sas sasu scic scop eurl sa ass collectif")
#: abbreviations expanded before comparison (both sides, so "St" and "Saint" agree)
ABBREVIATIONS = {
    "st": "saint",
    "ste": "sainte",
    "coop": "cooperative",
    "coopé": "cooperative",
    "univ": "universite",
    "cie": "compagnie",
    "asso": "association",
    "assoc": "association",
    "pt": "petit",
    "gd": "grand",
    "gde": "grande",
    "mt": "mont",
    "bd": "boulevard",
    "av": "avenue",
    "ave": "avenue",
    "r": "rue",
    "pl": "place",
    "ch": "chemin",
    "che": "chemin",
    "rte": "route",
    "imp": "impasse",
    "all": "allee",
    "fg": "faubourg",
    "qu": "quai",
    "sq": "square",
    "crs": "cours",
    "lot": "lotissement",
}
#: words naming a kind of place or activity -> the kind; they describe, they do not identify
KINDS = {
    "amap": "amap",
    "repair": "repair",
    "reparation": "repair",
    "ressourcerie": "reuse",
    "recyclerie": "reuse",
    "jardin": "garden",
    "jardins": "garden",
    "potager": "garden",
    "epicerie": "grocery",
    "vrac": "grocery",
    "tiers": "third-place",
    "lieu": "third-place",
    "tierslieu": "third-place",
    "fablab": "fablab",
    "coworking": "coworking",
    "velo": "bike",
    "velos": "bike",
    "cycles": "bike",
    "cine": "cinema",
    "cinema": "cinema",
    "radio": "radio",
    "monnaie": "currency",
    "ferme": "farm",
    "habitat": "housing",
    "universite": "school",
    "ecole": "school",
    "cafe": "cafe",
    "bar": "cafe",
    "librairie": "bookshop",
    "friche": "third-place",
    "ecolieu": "ecovillage",
    "oasis": "ecovillage",
    "cantine": "food",
    "restaurant": "food",
    "boutique": "shop",
    "magasin": "shop",
    "marche": "market",
    "atelier": "workshop",
    "cooperative": "cooperative",
    "club": "club",
    "maison": "house",
    "centre": "centre",
    "espace": "centre",
}
#: generic words that are not a kind but identify nothing either
GENERIC = _words(
    "partage partages partagee partagees participatif participative populaire solidaire solidaires "
    "citoyen citoyenne citoyens citoyennes local locale locaux associatif associative communautaire "
    "alimentaire numerique autogere autogeree"
)
#: hosts where the first path segment, not the host, tells whose page it is
SHARED_HOSTS = _words(
    "facebook.com fr-fr.facebook.com m.facebook.com instagram.com twitter.com x.com linktr.ee helloasso.com "
    "sites.google.com wixsite.com over-blog.com blogspot.com wordpress.com jimdo.com jimdofree.com "
    "free.fr wanadoo.fr orange.fr e-monsite.com webnode.fr linkedin.com youtube.com"
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DIGITS = re.compile(r"\D+")

EARTH_RADIUS_M = 6_371_008.8


def tokens(text: str | None) -> list[str]:
    """Folded words with abbreviations expanded and articles dropped, in order."""
    out = []
    for word in fold(text).split():
        word = ABBREVIATIONS.get(word, word)
        if word not in STOPWORDS:
            out.append(word)
    return out


_VOCABULARY = sorted(set(KINDS) | LEGAL | GENERIC)


@functools.lru_cache(maxsize=200_000)
def _vocabulary_word(word: str) -> str:
    """A misspelt kind, legal form or generic word as the word itself ("Associatirn", "Monnai")."""
    if len(word) < 5 or word in KINDS or word in LEGAL or word in GENERIC:
        return word
    found = process.extractOne(word, _VOCABULARY, scorer=Indel.normalized_similarity, score_cutoff=0.85)
    return found[0] if found else word


def website_key(url: str | None) -> str:
    """Whose website: the host without ``www.``; on shared hosts (Facebook, Wix...) host + first segment."""
    if not url:
        return ""
    text = url.strip().lower()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    host = (parts.hostname or "").removeprefix("www.")
    if not host or "." not in host:
        return ""
    segments = [s for s in parts.path.split("/") if s]
    labels = host.split(".")
    shared = any(".".join(labels[-n:]) in SHARED_HOSTS for n in (2, 3, 4) if n <= len(labels))
    if shared and segments and not host.endswith(("wixsite.com", "over-blog.com", "blogspot.com")):
        return f"{host}/{segments[0]}"
    return host


def phone_key(phone: str | None) -> str:
    """The last nine digits (French numbers: ``+33 4 65...`` and ``04 65...`` agree); short ones are none."""
    digits = _DIGITS.sub("", phone or "")
    return digits[-9:] if len(digits) >= 9 else ""


def email_key(email: str | None) -> str:
    email = (email or "").strip().lower()
    return email if "@" in email and "." in email.rsplit("@", 1)[-1] else ""


@dataclass(slots=True)
class Comparable:
    """One record in the form the comparison needs, computed once per record."""

    index: int
    source: str
    name: str
    name_tokens: tuple[str, ...]  # every folded word but articles and legal forms
    core: frozenset[str]  # the words that identify: no kind, no generic word, no commune name
    kinds: frozenset[str]
    lat: float | None
    lon: float | None
    postcode: str
    street: str
    city: str
    website: str
    phone: str
    email: str
    initials: str = field(default="")


def _coordinate(value: object) -> float | None:
    """A coordinate as a float (numbers and numeric text), None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def comparable(index: int, record: dict) -> Comparable:
    """The comparable form of a canonical-like record (keys: source, name, lat, lon, street, postcode,
    city, website, phone, email; missing keys mean absent)."""
    # kind words lead a name ("Atelier vélo | Le Potager Nomade", an article ends the run) or, when none
    # leads, trail it ("L'Épi Vert – épicerie vrac"); elsewhere they are part of the proper name ("Terre Ferme")
    words: list[str] = []
    describing: list[bool] = []
    lead = -1
    for raw in fold(record.get("name")).split():
        word = _vocabulary_word(ABBREVIATIONS.get(raw, raw))
        if word in STOPWORDS or word in LEGAL:
            if word in STOPWORDS and words and lead < 0:
                lead = len(words)
            continue
        describing.append(word in KINDS or word in GENERIC)
        words.append(word)
    first_proper = next((i for i, d in enumerate(describing) if not d), len(words))
    lead = first_proper if lead < 0 else min(lead, first_proper)
    if lead:
        outer = set(range(lead))
    else:
        trail = next((i for i, d in enumerate(reversed(describing)) if not d), len(words))
        outer = set(range(len(words) - trail, len(words)))
    kinds = frozenset(KINDS[w] for i, w in enumerate(words) if i in outer and w in KINDS)
    city_words = set(tokens(record.get("city")))
    core = {w for i, w in enumerate(words) if i not in outer}
    if core - city_words:
        core -= city_words
    lat, lon = _coordinate(record.get("lat")), _coordinate(record.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None  # a position needs both coordinates
    postcode = "".join((record.get("postcode") or "").split())
    return Comparable(
        index=index,
        source=str(record.get("source") or ""),
        name=" ".join(words),
        name_tokens=tuple(words),
        core=frozenset(core),
        kinds=kinds,
        lat=lat,
        lon=lon,
        postcode=postcode,
        street=" ".join(tokens(record.get("street"))),
        city=" ".join(city_words),
        website=website_key(record.get("website")),
        phone=phone_key(record.get("phone")),
        email=email_key(record.get("email")),
        initials="".join(w[0] for w in words),
    )


def distance_m(a: Comparable, b: Comparable) -> float | None:
    """Great-circle distance (haversine); good to well under 0.5 % at the distances that matter here."""
    if a.lat is None or b.lat is None:
        return None
    assert a.lon is not None and b.lon is not None  # a point has both coordinates or neither
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# -- names ---------------------------------------------------------------------------------------------
def _token_matches(word: str, others: Iterable[str]) -> bool:
    for other in others:
        if word == other:
            return True
        if len(word) >= 4 and len(other) >= 4 and Indel.normalized_similarity(word, other) >= 0.8:
            return True  # a typo: "Gresivaudan" / "Gresivaudn"
    return False


def _acronym_covers(word: str, words: tuple[str, ...]) -> tuple[int, int] | None:
    """Where ``word`` is the initials of a run of ``words`` ("up" = "universite populaire")."""
    if not 2 <= len(word) <= 6:
        return None
    initials = "".join(w[0] for w in words)
    start = initials.find(word)
    return (start, start + len(word)) if start >= 0 else None


def _core_agreement(a: Comparable, b: Comparable) -> float:
    """Dice coefficient of the core words, each word matching exactly, with a typo, or as an acronym."""
    matched_a = matched_b = 0
    covered_b: set[str] = set()
    for word in a.core:
        if _token_matches(word, b.core):
            matched_a += 1
            continue
        run = _acronym_covers(word, b.name_tokens)
        if run is not None:
            matched_a += 1
            covered_b.update(b.name_tokens[run[0] : run[1]])
    covered_a: set[str] = set()
    for word in b.core:
        if word in covered_b or _token_matches(word, a.core):
            matched_b += 1
            continue
        run = _acronym_covers(word, a.name_tokens)
        if run is not None:
            matched_b += 1
            covered_a.update(a.name_tokens[run[0] : run[1]])
    if covered_a:  # words of a explained by an acronym of b count as matched
        matched_a += len({w for w in a.core if w in covered_a and not _token_matches(w, b.core)})
    return (matched_a + matched_b) / (len(a.core) + len(b.core))


def name_similarity(a: Comparable, b: Comparable) -> tuple[float, bool]:
    """(similarity in [0, 1], whether it rests on identifying words) of the two names."""
    whole = fuzz.token_sort_ratio(a.name, b.name) / 100
    if a.core and b.core:
        return min(1.0, 0.75 * _core_agreement(a, b) + 0.25 * whole), True
    return whole, False


# -- the score -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Match:
    """A scored pair: record indices (``a < b``), score in [0, 1], distance and the evidence sentences."""

    a: int
    b: int
    score: float
    distance_m: float | None
    evidence: tuple[str, ...]


#: the logistic's midpoint: the summed weight at which a pair is as likely the same as not
SCORE_OFFSET = 2.0


def _km(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def score_pair(a: Comparable, b: Comparable) -> Match:
    """Weigh every piece of evidence about two records; see the module docstring for the reasoning."""
    weight = 0.0
    evidence: list[str] = []
    similarity, identifying = name_similarity(a, b)
    if identifying:
        if similarity >= 0.97:
            weight += 3.0
            evidence.append("same name")
        elif similarity >= 0.85:
            weight += 2.0
            evidence.append(f"similar names ({similarity:.2f})")
        elif similarity >= 0.7:
            weight += 0.5
            evidence.append(f"partly similar names ({similarity:.2f})")
        elif similarity >= 0.5:
            weight -= 2.0
            evidence.append(f"different names ({similarity:.2f})")
        else:
            weight -= 4.0
            evidence.append(f"different names ({similarity:.2f})")
    elif similarity >= 0.95:  # "Jardin partagé" twice: says little
        weight += 1.0
        evidence.append("same generic name")
    elif similarity < 0.6:
        weight -= 2.5
        evidence.append(f"different names ({similarity:.2f})")
    if a.kinds and b.kinds and not a.kinds & b.kinds:
        weight -= 3.0
        evidence.append(f"different kinds ({', '.join(sorted(a.kinds))} / {', '.join(sorted(b.kinds))})")

    metres = distance_m(a, b)
    if metres is not None:
        if metres <= 60:
            weight += 2.5
        elif metres <= 250:
            weight += 2.0
        elif metres <= 1000:
            weight += 1.0
        elif metres <= 3000:
            weight += 0.0
        elif metres <= 10_000:
            weight -= 1.5
        else:
            weight -= 4.0
        evidence.append(f"{_km(metres)} apart")

    if a.postcode and b.postcode:
        if a.postcode == b.postcode:
            weight += 0.5
            evidence.append("same postcode")
        else:
            weight -= 1.0
            evidence.append("different postcodes")
    elif a.city and b.city and a.city == b.city:
        weight += 0.3
        evidence.append("same commune")
    if a.street and b.street:
        street = fuzz.token_sort_ratio(a.street, b.street) / 100
        if street >= 0.9:
            weight += 1.5
            evidence.append("same street address")
        elif street < 0.5:
            weight -= 0.5
            evidence.append("different street addresses")

    for label, left, right, agree, disagree in (
        ("website", a.website, b.website, 2.5, -1.0),
        ("phone", a.phone, b.phone, 3.0, -1.0),
        ("e-mail", a.email, b.email, 3.0, -0.5),
    ):
        if left and right:
            if left == right:
                weight += agree
                evidence.append(f"same {label}")
            else:
                weight += disagree
                evidence.append(f"different {label}s")
    score = 1 / (1 + math.exp(-(weight - SCORE_OFFSET)))
    lo, hi = (a.index, b.index) if a.index < b.index else (b.index, a.index)
    return Match(lo, hi, round(score, 4), None if metres is None else round(metres, 1), tuple(evidence))


# -- blocking ------------------------------------------------------------------------------------------
#: grid steps in degrees: ~2.2 km, ~200 m and ~11 km of latitude
NEAR_CELL = 0.02
SMALL_CELL = 0.002
WIDE_CELL = 0.1
#: the same-contact and small-cell blocks compare all their pairs only up to this size
MAX_BLOCK = 12
#: one name token's block inside one cell neighbourhood stops growing here (a ward with 500 "AMAP"s)
MAX_TOKEN_BLOCK = 200
#: a cell is one int: x * _ROW + y (y shifted to be positive), so neighbours are additions, not tuples
_ROW = 1 << 24
_SHIFT = 1 << 22
_FORWARD = (_ROW, _ROW + 1, 1, 1 - _ROW)  # east, north-east, north, north-west: each neighbour pair once


def _cell(lon: float, lat: float, step: float) -> int:
    return math.floor(lon / step) * _ROW + math.floor(lat / step) + _SHIFT


def _grid_pairs(cells: dict[int, list[int]], limit: int, add: Callable[[tuple[int, int]], None]) -> None:
    """Pairs of members of the same or neighbouring cells of one block; crowded cells are left out."""
    if len(cells) == 1:
        (members,) = cells.values()
        if len(members) <= limit:
            for i, left in enumerate(members):
                for right in members[i + 1 :]:
                    add((left, right) if left < right else (right, left))
        return
    for cell, members in cells.items():
        if len(members) > limit:
            continue
        for i, left in enumerate(members):
            for right in members[i + 1 :]:
                add((left, right) if left < right else (right, left))
        for step in _FORWARD:
            others = cells.get(cell + step)
            if not others or len(others) > limit:
                continue
            for left in members:
                for right in others:
                    add((left, right) if left < right else (right, left))


def candidate_pairs(items: list[Comparable]) -> set[tuple[int, int]]:
    """The pairs worth scoring (positions in ``items``, smaller first), from the blocks described above."""
    near: dict[str, dict[int, list[int]]] = {}  # name key -> cell -> positions
    small: dict[int, list[int]] = {}
    wide: dict[str, dict[int, list[int]]] = {}
    contact: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        if item.lat is not None:
            assert item.lon is not None  # a point has both coordinates or neither
            cell = _cell(item.lon, item.lat, NEAR_CELL)
            # a word's first and last four letters: a typo in the middle of a word leaves one of them
            words = item.core or item.name_tokens
            for key in {w[:4] for w in words} | {"~" + w[-4:] for w in words if len(w) > 4}:
                near.setdefault(key, {}).setdefault(cell, []).append(position)
            small.setdefault(_cell(item.lon, item.lat, SMALL_CELL), []).append(position)
            if item.core:
                wide.setdefault(" ".join(sorted(item.core)), {}).setdefault(
                    _cell(item.lon, item.lat, WIDE_CELL), []
                ).append(position)
        if item.website:
            contact.setdefault("w " + item.website, []).append(position)
        if item.phone:
            contact.setdefault("p " + item.phone, []).append(position)
        if item.email:
            contact.setdefault("e " + item.email, []).append(position)
    pairs: set[tuple[int, int]] = set()
    add = pairs.add
    for blocks, limit in ((near, MAX_TOKEN_BLOCK), (wide, MAX_BLOCK)):
        for cells in blocks.values():
            if len(cells) > 1 or len(next(iter(cells.values()))) > 1:  # most keys hold one record: skip fast
                _grid_pairs(cells, limit, add)
    _grid_pairs(small, MAX_BLOCK, add)
    for members in contact.values():
        if 1 < len(members) <= MAX_BLOCK:
            for i, left in enumerate(members):
                for right in members[i + 1 :]:
                    add((left, right) if left < right else (right, left))
    return pairs
