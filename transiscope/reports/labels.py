"""Words for the people who keep a source: field names, run states and dates as a maintainer reads them.

Why one table: the quality reports, the maintainers' guide and the self-check show the same fields and states;
a maintainer who reads "Date de mise à jour" on one page and ``updated_at`` on another cannot tell they are the
same thing. Code names stay in the JSON documents (scripts read them); pages show these words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: canonical record fields, key fields of the score and expectation columns -> (French, English)
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("Nom", "Name"),
    "description": ("Description", "Description"),
    "categories": ("Catégories de la source", "Source's categories"),
    "concepts": ("Catégories Transiscope", "Transiscope categories"),
    "category": ("Catégorie", "Category"),
    "position": ("Position sur la carte", "Position on the map"),
    "lat": ("Latitude", "Latitude"),
    "lon": ("Longitude", "Longitude"),
    "street": ("Rue", "Street"),
    "postcode": ("Code postal", "Postcode"),
    "city": ("Commune", "Town"),
    "country": ("Pays", "Country"),
    "address": ("Adresse", "Address"),
    "contact": ("Contact (site, courriel ou téléphone)", "Contact (website, email or phone)"),
    "website": ("Site web", "Website"),
    "email": ("Courriel", "Email"),
    "phone": ("Téléphone", "Phone"),
    "opening_hours": ("Horaires", "Opening hours"),
    "created_at": ("Date de création", "Creation date"),
    "updated_at": ("Date de mise à jour", "Last update"),
    "start": ("Début", "Start"),
    "end": ("Fin", "End"),
    "source_id": ("Identifiant dans la source", "Identifier in the source"),
    "source_url": ("Page de la fiche", "Record's page"),
    "in_france": ("En France", "In France"),
    # the columns the checks compute from a record (expectation columns)
    "country_in_france": ("Pays déclaré", "Declared country"),
    "insee": ("Code de commune (INSEE)", "Commune code (INSEE)"),
    "unmapped_count": ("Catégories de la source", "Source's categories"),
    "concept_count": ("Catégories Transiscope", "Transiscope categories"),
    "unparsed_count": ("Valeurs illisibles", "Unreadable values"),
    "days_ahead": ("Dates de création et de mise à jour", "Creation and update dates"),
    "end_before_start": ("Début et fin", "Start and end"),
    "start_days_ahead": ("Début", "Start"),
}

#: run outcomes and modes -> (French, English)
STATE_LABELS: dict[str, tuple[str, str]] = {
    "success": ("réussi", "succeeded"),
    "failed": ("échoué", "failed"),
    "running": ("en cours", "running"),
    "not-modified": ("inchangé à la source", "unchanged at the source"),
    "unchanged": ("inchangé", "unchanged"),
    "skipped": ("sauté", "skipped"),
    "live": ("données en ligne", "live data"),
    "sample": ("échantillon de démonstration", "demonstration sample"),
    "replay": ("rejoué", "replayed"),
    "offline-fallback": ("échantillon (source injoignable)", "sample (source unreachable)"),
}

#: the time zone of the dates on the pages (the bus stores UTC)
#: the geocode stage's flags on a point, as the reports and the kit name them
POINT_FLAG_LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "null-island": "Points en (0, 0)",
        "swapped": "Latitude et longitude inversées (non corrigé)",
        "swapped-fixed": "Latitude et longitude inversées (corrigé : le point tombe dans la commune déclarée)",
        "france-centroid": "Points au centre de la France (adresse non trouvée au géocodage)",
    },
    "en": {
        "null-island": "Points at (0, 0)",
        "swapped": "Latitude and longitude swapped (not fixed)",
        "swapped-fixed": "Latitude and longitude swapped (fixed: the point falls in the declared commune)",
        "france-centroid": "Points at the centre of France (address not found when geocoded)",
    },
}

PAGE_ZONE = ZoneInfo("Europe/Paris")

_MONTHS_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _index(lang: str) -> int:
    return 0 if lang == "fr" else 1


def field_label(name: str, lang: str) -> str:
    """A field in plain words (the code name itself when the table does not know it).

    >>> field_label("updated_at", "fr"), field_label("updated_at", "en"), field_label("x_custom", "fr")
    ('Date de mise à jour', 'Last update', 'x_custom')
    """
    labels = FIELD_LABELS.get(name)
    return labels[_index(lang)] if labels else name


def state_label(value: str | None, lang: str) -> str:
    """A run outcome or mode in words.

    >>> state_label("sample", "fr"), state_label("success", "en")
    ('échantillon de démonstration', 'succeeded')
    """
    if not value:
        return ""
    labels = STATE_LABELS.get(value)
    return labels[_index(lang)] if labels else value.replace("-", " ")


def _ago(seconds: float, lang: str) -> str:
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if minutes < 1:
        return "à l'instant" if lang == "fr" else "just now"
    for amount, fr, en in (
        (minutes if hours < 1 else None, "minute", "minute"),
        (hours if days < 1 else None, "heure", "hour"),
        (days if days < 45 else None, "jour", "day"),
        (days / 30.44 if days < 365 else None, "mois", "month"),
        (days / 365.25, "an", "year"),
    ):
        if amount is not None:
            n = int(amount)
            if lang == "fr":
                unit = fr if n == 1 or fr == "mois" else fr + "s"
                return f"il y a {n} {unit}"
            return f"{n} {en}{'' if n == 1 else 's'} ago"
    return ""  # not reached: the last line always answers


def when_label(value: str | None, lang: str, now: datetime | None = None) -> str:
    """An ISO timestamp as a date and hour in French time, with how long ago.

    >>> now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    >>> when_label("2026-12-02T18:08:00+00:00", "fr", now)
    '2 décembre 2026 à 19 h 08 (il y a 2 jours)'
    >>> when_label("2026-12-02T18:08:00+00:00", "en", now)
    '2 December 2026, 19:08 Paris time (2 days ago)'
    """
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(PAGE_ZONE)
    ago = _ago(((now or datetime.now(UTC)) - moment).total_seconds(), lang)
    if lang == "fr":
        return f"{local.day} {_MONTHS_FR[local.month - 1]} {local.year} à {local.hour} h {local.minute:02d} ({ago})"
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M} Paris time ({ago})"
