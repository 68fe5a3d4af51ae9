"""Countries: the ISO 3166-1 alpha-2 code of a country as sources declare it, and its name.

Sources write the country the way their people speak: "Belgique", "Belgium", "Belgien", "BE", "BEL",
"Deutschland", "España", "Suisse / Schweiz", "La Réunion". The bus keeps one form, the ISO 3166-1 alpha-2
code (``record["country"]``, ``schema:addressCountry``), and decides from it whether a record declares
itself outside France.

Why Babel: the country names come from the Unicode CLDR, kept up to date by Babel (already a dependency of
the Airflow stack, small and well kept), in every language a partner network of this map writes: French,
English, German, Italian, Spanish, Dutch, Portuguese, Catalan, Luxembourgish. CLDR also maps the alpha-3
codes (``BEL``) to the alpha-2 ones. pycountry was the other candidate: it has only English names and its
translations are gettext catalogues; CLDR has the names as people write them ("Allemagne", not "Allemagne
(République fédérale d')"). The few names neither has (``UK``, ``USA``, "Holland", "France métropolitaine")
are listed here.

Outre-mer: the bus's France is the metropole, Corsica and the five DROM (Guadeloupe, Martinique, Guyane,
La Réunion, Mayotte): the territories data has their communes, the gaps analysis measures them, the "in
France" check covers them. So their own ISO codes (GP, MQ, GF, RE, YT), their alpha-3 codes and their
names all give ``FR``. The collectivités d'outre-mer and New Caledonia (PM, BL, MF, WF, PF, NC) are not in
the territories data: they keep their own codes and count as outside France, like any other country.
"""

from __future__ import annotations

import functools
import re

from transiscope.core.text import fold

FRANCE = "FR"
#: the DROM, which the bus treats as France (the territories data and the gaps analysis cover them)
DROM = frozenset({"GP", "MQ", "GF", "RE", "YT"})
#: the languages whose country names are read (CLDR, through Babel)
LOCALES = ("fr", "en", "de", "it", "es", "nl", "pt", "ca", "lb")
#: CLDR territory codes that are not countries (regions, unions, private-use codes)
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
#: names and codes sources write that CLDR does not have (folded as :func:`transiscope.core.text.fold` does)
EXTRA_NAMES = {
    "uk": "GB",
    "great britain": "GB",
    "grande bretagne": "GB",
    "england": "GB",
    "angleterre": "GB",
    "usa": "US",
    "etats unis d amerique": "US",
    "holland": "NL",
    "hollande": "NL",
    "fx": FRANCE,
    "france metropolitaine": FRANCE,
    "metropole": FRANCE,
    "republique francaise": FRANCE,
    "corse": FRANCE,
    "corsica": FRANCE,
    "guyane": FRANCE,
    "reunion": FRANCE,
    "ile de la reunion": FRANCE,
    "drom": FRANCE,
    "dom": FRANCE,
    "outre mer": FRANCE,
}
#: articles a name may start with ("La Réunion", "the Netherlands", "die Schweiz")
_ARTICLES = re.compile(r"^(?:la|le|les|l|the|die|der|das|el|il|het|de)\s+")
#: what separates two writings of one country ("Suisse / Schweiz", "Belgique - België", "Deutschland (DE)")
_PARTS = re.compile(r"[/;,()|]|\s-\s")


@functools.cache
def _index() -> dict[str, str]:
    """Folded name or code -> ISO alpha-2 code, built once per process from CLDR."""
    from babel import Locale
    from babel.core import get_global

    found: dict[str, str] = {}
    for language in LOCALES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES:
                found.setdefault(fold(name), code)
                found.setdefault(code.lower(), code)
    for alias, targets in get_global("territory_aliases").items():
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and targets[0].lower() in found:
            found.setdefault(alias.lower(), targets[0])
    found.update(EXTRA_NAMES)
    return {key: FRANCE if code in DROM else code for key, code in found.items()}


def _lookup(text: str) -> str | None:
    key = fold(text)
    if not key:
        return None
    index = _index()
    return index.get(key) or index.get(_ARTICLES.sub("", key))


def iso_country(text: object) -> str | None:
    """The ISO 3166-1 alpha-2 code of a declared country, ``FR`` for France and its DROM; None when unknown.

    >>> [iso_country(t) for t in ("Belgique", "belgium", "BELGIEN", "BE", "bel", "Suisse / Schweiz", "La Réunion")]
    ['BE', 'BE', 'BE', 'BE', 'BE', 'CH', 'FR']
    >>> iso_country("Pays Basque") is None
    True
    """
    if not isinstance(text, str) or not text.strip():
        return None
    return _iso_country(text)


@functools.lru_cache(maxsize=4096)
def _iso_country(text: str) -> str | None:
    """:func:`iso_country` of a non-blank text, remembered: a source writes its few countries 100k times."""
    whole = _lookup(text)
    if whole:
        return whole
    # several writings of one country ("Belgique / België", "Deutschland (DE)"): each must agree
    parts = {_lookup(part) for part in _PARTS.split(text) if part.strip()}
    if len(parts) == 1:
        return parts.pop()
    return None


def is_france(code: str | None) -> bool | None:
    """True for ``FR``, False for another code, None when no country is known."""
    if not code:
        return None
    return code == FRANCE


@functools.cache
def country_name(code: str | None, lang: str = "fr") -> str:
    """The name of a country in ``lang`` (``fr``, ``en``, ``de``...) for the sentences people read."""
    if not code:
        return ""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(lang).territories.get(code, code))
    except (UnknownLocaleError, ValueError):
        return code
