"""Synthetic canonical records for benchmarks: realistic shapes, a known share of bad records.

Coordinates are spread over metropolitan France; 2 % of records carry one fault that a critical
expectation catches (no name, latitude out of range, point outside France, duplicate id).
"""

from __future__ import annotations

import random
from typing import Any

from transiscope.records import empty_record

CATEGORIES = [
    ("Alimentation", "agriculture-alimentation"), ("AMAP", "amap-circuits-courts"),
    ("Réparation", "repair-cafes"), ("Ressourcerie", "ressourceries"), ("Tiers-lieu", "tiers-lieux"),
    ("Monnaie locale", "monnaies-locales"), ("Jardin partagé", "jardins-partages"), ("Culture", "culture"),
]
WORDS = ["Atelier", "Jardin", "AMAP", "Repair Café", "Ressourcerie", "Tiers-lieu", "Épicerie", "Collectif"]
PLACES = ["des Lilas", "du Lez", "de la Croix-Rousse", "du Pilat", "des Volcans", "de Fives", "d'Azay"]


def records(n: int, seed: int = 42, source: str = "bench", bad_share: float = 0.02) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label, concept = rng.choice(CATEGORIES)
        record = empty_record()
        record.update(
            source=source, source_id=f"e{i:07d}", record_index=i,
            name=f"{rng.choice(WORDS)} {rng.choice(PLACES)} {i}",
            description=f"Une initiative locale n°{i} : ateliers, rencontres & entraide.",
            categories=[label], concepts=[concept],
            lat=round(rng.uniform(42.5, 50.8), 6), lon=round(rng.uniform(-4.5, 7.8), 6),
            street=f"{rng.randint(1, 200)} rue de la République", postcode=f"{rng.randint(1000, 95999):05d}",
            city="Ville", country="FR", website=f"https://i{i}.example.org", phone="01 23 45 67 89",
            licence="ODbL-1.0", source_url=f"https://map.example.org/fiche/{i}/",
            updated_at="2024-05-06T15:05:00+02:00", created_at="2021-06-14",
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
