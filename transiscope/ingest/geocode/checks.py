"""Consistency checks on the points sources give: swapped, null island, centre of France, far from home.

Each finding becomes a flag on the record (``geo_flags``: a code and its figures), which validation turns
into a warning reason and the quality report counts. A point is changed only when the fix is certain:
latitude and longitude swapped, and the swapped point lies in the commune or postcode the record declares.
Anything else is reported, never silently corrected: the source knows its initiatives better than we do.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from transiscope.core.geo import BOXES, FranceArea
from transiscope.ingest.france import coordinates, declared_abroad

#: a point closer than this to (0, 0), in degrees, is "null island": a missing value written as zero
NULL_ISLAND_DEGREES = 0.01
#: points geocoders return for "France" itself (an address they could not find), as (lat, lon, who)
FRANCE_CENTROIDS = (
    (46.227638, 2.213749, "Google's geocoder"),
    (46.603354, 1.888334, "Nominatim"),
    (46.0, 2.0, "GeoNames"),
)
#: how close (degrees of latitude / longitude, about 500 m) to one of them counts as "at" it
CENTROID_DEGREES = (0.0045, 0.0065)
#: a swapped point this close to its declared commune (km) is taken as certainly swapped
SWAP_TOLERANCE_KM = 1.0

#: flag code -> (English, French) sentence; the figures of the flag fill the braces
TEXTS = {
    "null-island": (
        "the point (0, 0) is 'null island', not a place: the source has no real point for it",
        "le point (0, 0) est « null island », pas un lieu : la source n'a pas de vrai point pour elle",
    ),
    "swapped-fixed": (
        "latitude and longitude were swapped ({lat}, {lon}): swapped back, the point lies in the declared {declared}",
        "latitude et longitude étaient inversées ({lat}, {lon}) : remises dans l'ordre, le point "
        "est dans la zone déclarée ({declared})",
    ),
    "swapped": (
        "latitude and longitude look swapped ({lat}, {lon}: outside France, inside once swapped); not "
        "fixed, as no declared commune confirms it",
        "latitude et longitude semblent inversées ({lat}, {lon} : hors de France, en France une fois "
        "inversées) ; non corrigé, aucune commune déclarée ne le confirme",
    ),
    "france-centroid": (
        "the point ({lat}, {lon}) is the centre of France that {who} returns for 'France': the "
        "address was probably not found when it was geocoded",
        "le point ({lat}, {lon}) est le centre de la France que renvoie {who} pour « France » : "
        "l'adresse n'a sans doute pas été trouvée au géocodage",
    ),
    "far": (
        "the point lies {km} km (straight line) from the declared {declared}",
        "le point est à {km} km (à vol d'oiseau) de la zone déclarée ({declared})",
    ),
}


def reason(flag: dict[str, Any], lang: str = "en") -> str:
    """The sentence a source maintainer reads for one flag."""
    english, french = TEXTS[flag["code"]]
    template = french if lang == "fr" else english
    try:
        return template.format(**{k: v for k, v in flag.items() if k != "code"})
    except (KeyError, IndexError, ValueError):
        return template


def reasons(record: dict[str, Any], lang: str = "en") -> list[str]:
    return [reason(flag, lang) for flag in record.get("geo_flags") or () if flag.get("code") in TEXTS]


def _centroid(lat: float, lon: float) -> str | None:
    for c_lat, c_lon, who in FRANCE_CENTROIDS:
        if abs(lat - c_lat) <= CENTROID_DEGREES[0] and abs(lon - c_lon) <= CENTROID_DEGREES[1]:
            return who
    return None


def _inside_declared(communes: Any, record: dict[str, Any], lat: float, lon: float, tolerance_km: float) -> str | None:
    """The label of the declared area when (lat, lon) lies in it (or within ``tolerance_km``), else None."""
    found = communes.declared(record)
    if found is None:
        return None
    probe = {**record, "lat": lat, "lon": lon}
    return None if communes.far_from_declared([probe], tolerance_km) else found[0]


def check_points(
    records: list[dict[str, Any]], communes: Any, far_km: float, france: FranceArea = BOXES
) -> Counter[str]:
    """Flag (and, when certain, fix) the source points of ``records`` in place; returns the flag counts.

    ``communes`` is a :class:`transiscope.territories.communes.Communes` or None (then only the checks that need no
    territories run: null island, centroid of France, and swaps are reported but never fixed). ``france`` decides
    "outside France as given, inside once swapped" (the départements' outlines, else the boxes). A record that
    declares another country is never measured against a French commune: its postcode is not a French one.
    """
    counts: Counter[str] = Counter()
    lat_all, lon_all = coordinates(records)
    outside = ~france.contains(lat_all, lon_all)
    looks_swapped = outside & france.contains(lon_all, lat_all)

    def flag(record: dict[str, Any], code: str, **figures: Any) -> None:
        record.setdefault("geo_flags", []).append({"code": code, **figures})
        counts[code] += 1

    measured: list[int] = []
    for position, record in enumerate(records):
        if record.get("geo_method") != "source" or record.get("lat") is None or record.get("lon") is None:
            continue
        lat, lon = float(record["lat"]), float(record["lon"])
        if abs(lat) < NULL_ISLAND_DEGREES and abs(lon) < NULL_ISLAND_DEGREES:
            flag(record, "null-island")
            continue
        abroad = declared_abroad(record)
        if looks_swapped[position]:
            confirm = communes is not None and not abroad
            declared = _inside_declared(communes, record, lon, lat, SWAP_TOLERANCE_KM) if confirm else None
            if declared:
                record["lat"], record["lon"] = lon, lat
                record.setdefault("notes", []).append(
                    f"latitude and longitude swapped back ({lat}, {lon} -> {lon}, {lat}): inside the declared "
                    f"{declared}"
                )
                flag(record, "swapped-fixed", lat=lat, lon=lon, declared=declared)
            else:
                flag(record, "swapped", lat=lat, lon=lon)
                continue
        elif abroad:
            continue  # declared abroad: validation says so; a French postcode or commune says nothing about it
        who = _centroid(float(record["lat"]), float(record["lon"]))
        if who and not (communes and _inside_declared(communes, record, record["lat"], record["lon"], 0.0)):
            flag(record, "france-centroid", lat=record["lat"], lon=record["lon"], who=who)
            continue
        measured.append(position)
    if communes is not None and measured:
        subset = [records[p] for p in measured]
        for far in communes.far_from_declared(subset, far_km):
            flag(subset[far.position], "far", km=far.km, declared=far.declared)
    return counts
