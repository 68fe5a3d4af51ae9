"""Synthetic canonical records for benchmarks: realistic shapes, a known share of bad records.

Coordinates are spread around 34 inland towns of metropolitan France (within about 9 km of each, so every
point lies in France by the départements' outlines as the bus decides it: a point drawn in the bounding box
of France falls in the sea or abroad a third of the time, and the bus rightly quarantines it); 2 % of records
carry one fault that a critical expectation catches (no name, latitude out of range, point outside France,
duplicate id).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from transiscope.ingest.records import empty_record

CATEGORIES = [
    ("Alimentation", "agriculture-alimentation"),
    ("AMAP", "amap-circuits-courts"),
    ("Réparation", "repair-cafes"),
    ("Ressourcerie", "ressourceries"),
    ("Tiers-lieu", "tiers-lieux"),
    ("Monnaie locale", "monnaies-locales"),
    ("Jardin partagé", "jardins-partages"),
    ("Culture", "culture"),
]
WORDS = ["Atelier", "Jardin", "AMAP", "Repair Café", "Ressourcerie", "Tiers-lieu", "Épicerie", "Collectif"]
#: GoGoCarto records are modified over years, a few each day: the "changed since" query depends on how many
#: fall in its window (30 days here hold about 1.5 % of them)
_LATEST_UPDATE = date(2024, 6, 12)
_UPDATE_SPAN_DAYS = 2000
PLACES = ["des Lilas", "du Lez", "de la Croix-Rousse", "du Pilat", "des Volcans", "de Fives", "d'Azay"]


#: (lat, lon) of inland towns, each far enough from the coast and the borders for :func:`point`'s spread
TOWNS = [
    (48.8566, 2.3522), (45.7640, 4.8357), (43.6047, 1.4442), (47.9030, 1.9093), (47.3941, 0.6848),
    (47.3220, 5.0415), (45.7772, 3.0870), (45.8336, 1.2611), (46.5802, 0.3404), (48.1173, -1.6778),
    (47.4784, -0.5632), (48.0061, 0.1996), (49.2583, 4.0317), (49.8941, 2.2958), (49.4432, 1.0999),
    (48.6921, 6.1844), (47.2378, 6.0241), (45.1885, 5.7245), (45.4397, 4.3872), (43.8367, 4.3601),
    (43.9493, 4.8055), (43.5297, 5.4474), (44.8378, -0.5792), (43.2951, -0.3708), (44.2033, 0.6163),
    (45.1842, 0.7211), (47.0810, 2.3988), (46.9908, 3.1591), (48.2973, 4.0744), (49.1193, 6.1757),
    (43.9289, 2.1464), (44.3506, 2.5750), (48.4439, 1.4890), (46.3430, 2.6020),
]  # fmt: skip


def point(rng: random.Random) -> tuple[float, float]:
    """A point near one of :data:`TOWNS`, from exactly two draws of ``rng`` (as the box used to take), so
    the other fields of a seed's records stay what they were."""
    first, second = rng.random() * len(TOWNS), rng.random()
    lat, lon = TOWNS[int(first)]
    return round(lat + (first % 1 - 0.5) * 0.16, 6), round(lon + (second - 0.5) * 0.22, 6)


def records(n: int, seed: int = 42, source: str = "bench", bad_share: float = 0.02) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label, concept = rng.choice(CATEGORIES)
        record = empty_record()
        record.update(
            source=source,
            source_id=f"e{i:07d}",
            record_index=i,
            name=f"{rng.choice(WORDS)} {rng.choice(PLACES)} {i}",
            description=f"Une initiative locale n°{i} : ateliers, rencontres & entraide.",
            categories=[label],
            concepts=[concept],
        )
        record["lat"], record["lon"] = point(rng)  # the draws in the order they always were
        record.update(
            street=f"{rng.randint(1, 200)} rue de la République",
            postcode=f"{rng.randint(1000, 95999):05d}",
            city="Ville",
            country="FR",
            website=f"https://i{i}.example.org",
            phone="01 23 45 67 89",
            licence="ODbL-1.0",
            source_url=f"https://map.example.org/fiche/{i}/",
            updated_at="2024-05-06T15:05:00+02:00",
            created_at="2021-06-14",
        )
        if rng.random() < bad_share:
            fault = rng.randrange(4)
            if fault == 0:
                record["name"] = None
            elif fault == 1:
                record["lat"] = 123.4
            elif fault == 2:
                record["lat"], record["lon"] = 0.0, 0.0
            else:
                record["source_id"] = "e0000000"
        out.append(record)
    return out


def gogocarto_payload(n: int, seed: int = 7, labels: list[str] | None = None) -> dict[str, Any]:
    """A GoGoCarto ``elements.json`` response (2021+ shape) with ``n`` elements, as a real map sends it:
    HTML descriptions, category names from the source's crosswalk, some private e-mails, 2 % bad points."""
    rng = random.Random(seed)
    days = random.Random(seed + 1)  # its own stream: the other fields stay those of earlier runs
    labels = labels or [label for label, _ in CATEGORIES]
    data = []
    for i in range(n):
        updated = _LATEST_UPDATE - timedelta(days=days.randrange(_UPDATE_SPAN_DAYS))
        chosen = rng.sample(labels, k=rng.choice((1, 1, 2)))
        lat, lon = point(rng)
        if rng.random() < 0.02:
            lat, lon = (0, 0) if rng.random() < 0.5 else (123.4, lon)
        data.append(
            {
                "id": f"g{i:07d}",
                "name": f"{rng.choice(WORDS)} {rng.choice(PLACES)} {i}",
                "geo": {"latitude": lat, "longitude": lon},
                "address": {
                    "streetAddress": f"{rng.randint(1, 200)} rue de la République",
                    "addressLocality": "Ville",
                    "postalCode": f"{rng.randint(1000, 95999):05d}",
                    "addressCountry": "FR",
                },
                "categories": chosen,
                "categoriesFull": [{"id": labels.index(c), "name": c, "description": "", "index": 0} for c in chosen],
                "sourceKey": rng.choice(["Alternatiba", "Colibris", "Réseau des AMAP"]),
                "createdAt": "2021-06-14T09:12:33+02:00",
                "updatedAt": f"{updated.isoformat()}T15:05:00+02:00",
                "status": 7,
                "website": f"https://i{i}.example.org",
                "telephone": "01 23 45 67 89",
                "email": "private" if rng.random() < 0.3 else f"contact@i{i}.example.org",
                "description": f"<p>Une initiative locale n&deg;{i} : ateliers, rencontres &amp; entraide.</p>",
                "openHours": {"Mo": "09:00-12:00,14:00-18:00"},
            }
        )
    return {"licence": "https://opendatacommons.org/licenses/odbl/summary/", "ontology": "gogofull", "data": data}


def with_duplicates(
    rows: list[dict[str, Any]], share: float = 0.05, seed: int = 11, source: str = "twin"
) -> list[dict[str, Any]]:
    """``rows`` plus, for ``share`` of them, the same initiative as another source publishes it: a typo or
    capitals lost in the name, the pin moved up to 300 m, a contact field missing. Each copy's ``duplicate_of``
    names its original's (source, source_id), so a benchmark knows the truth."""
    rng = random.Random(seed)
    out = list(rows)
    for row in rng.sample(rows, k=round(share * len(rows))):
        twin = dict(
            row, source=source, source_id=f"d{row['source_id']}", duplicate_of=(row["source"], row["source_id"])
        )
        name = twin["name"] or ""
        change = rng.randrange(3)
        if change == 0 and len(name) > 4:
            i = rng.randrange(1, len(name) - 1)
            twin["name"] = name[:i] + name[i + 1 :]
        elif change == 1:
            twin["name"] = name.upper()
        else:
            twin["name"] = "Association " + name
        if twin.get("lat") is not None and twin.get("lon") is not None:
            twin["lat"] = round(twin["lat"] + rng.uniform(-0.0027, 0.0027), 6)
            twin["lon"] = round(twin["lon"] + rng.uniform(-0.0035, 0.0035), 6)
        twin[rng.choice(("website", "phone", "street"))] = None
        out.append(twin)
    return out
