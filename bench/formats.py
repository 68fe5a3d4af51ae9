"""Synthetic partner sources in their real wire formats, for benchmarks of the whole bus (bench/bus.py).

One corpus of initiatives placed in real communes of metropolitan France and Corsica (a commune drawn with
probability ∝ its population, the point uniform in a disc of the commune's area, its real name, INSEE code and
postcode), written out as four sources, each in the format its connector reads and with the category labels
its mapping's crosswalk knows:

- GoGoCarto ``elements.json`` (2021+ gogofull shape; the ``transiscope`` mapping);
- Karte von morgen entries (``/v0/search`` hits and ``/v0/entries`` objects; the ``kvm-france`` mapping);
- a CSV directory (Windows-1252, ``;``, decimal commas; the ``amap-idf`` mapping: AMAP and food themes only);
- OpenAgenda events (``/v2/agendas/{uid}/events`` objects, some with several timings; ``agenda-transition``).

2 % of the records of each source carry one fault that must end in quarantine (no name, latitude out of
range, null island, duplicate id, event ending before it starts, unpublished event...), and 5 % of the
initiatives are published a second time by another source (typo, capitals, a moved pin, a missing contact:
``synthetic.with_duplicates``), with the truth kept in :attr:`Corpus.twins`.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.synthetic import with_duplicates

#: source ids of the registry whose mapping each format reuses
GOGOCARTO, KVM, CSV, OPENAGENDA = "transiscope", "kvm-france", "amap-idf", "agenda-transition"
INITIATIVE_SOURCES = (GOGOCARTO, KVM, CSV)
#: share of the initiatives (before twins) each initiative source publishes
SHARES = {GOGOCARTO: 0.45, KVM: 0.30, CSV: 0.25}
#: France métropolitaine and Corsica (south, west, north, east): the Karte von morgen source's bbox
METROPOLE = (41.3, -5.3, 51.2, 9.7)

#: theme -> (GoGoCarto label, Karte von morgen tag, CSV label or None, name prefixes); labels are in the crosswalks
THEMES: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "amap": ("AMAP", "amap", "AMAP", ("AMAP de", "AMAP des Paniers de", "AMAP du Marché de")),
    "alimentation": ("Agriculture & Alimentation", "bio", "Légumes", ("Ferme collective de", "Potager de")),
    "repair": ("Repair Café", "repaircafe", None, ("Repair Café", "Atelier de réparation de")),
    "ressourcerie": ("Fabriquer, Réparer & Zéro déchets", "ressourcerie", None, ("Ressourcerie de", "Recyclerie de")),
    "tiers-lieu": ("Tiers-lieux", "tiers-lieu", None, ("Tiers-lieu", "La Fabrique de", "Café associatif de")),
    "monnaie": ("Monnaie locale", "monnaie-locale", None, ("Monnaie locale de", "La Monnaie du Pays de")),
    "energie": (
        "Énergies renouvelables",
        "energie-citoyenne",
        None,
        ("Énergie citoyenne de", "Centrales villageoises de"),
    ),
    "velo": ("Modes de déplacement", "velo", None, ("Atelier vélo de", "Vélo-école de")),
    "habitat": ("Habitat & Logement", "habitat-participatif", None, ("Habitat participatif de", "Oasis de")),
    "solidarite": ("Solidarité", "epicerie-solidaire", None, ("Épicerie solidaire de", "Entraide de")),
}
CSV_EXTRA = ("Pain", "Fruits", "Oeufs")
QUALIFIERS = (
    "",
    "",
    "",
    "des Lilas",
    "du Vieux Moulin",
    "La Grange",
    "Le Champ Commun",
    "des Tilleuls",
    "du Centre",
    "Nord",
    "Sud",
    "de la Gare",
    "Les Colibris",
    "L'Escale",
    "La Ruche",
    "du Quartier",
)
STREETS = (
    "rue de la République",
    "place du Marché",
    "rue Victor Hugo",
    "chemin des Vignes",
    "avenue Jean Jaurès",
    "rue de l'Église",
    "allée des Tilleuls",
    "boulevard Pasteur",
    "impasse du Lavoir",
    "quai de la Loire",
)
SENTENCES = (
    "Paniers de légumes de saison, distribution le jeudi soir.",
    "Réparer ensemble plutôt que jeter : électroménager, vélos, textiles.",
    "Un lieu ouvert aux habitants, ateliers et rencontres toute l'année.",
    "Collecte, valorisation et vente solidaire d'objets de seconde main.",
    "Une association de quartier engagée pour la transition écologique.",
    "Formations, chantiers participatifs et café-débat le premier samedi du mois.",
)
EVENT_KINDS = (
    ("Repair Café mensuel", "repair café"),
    ("Atelier vélo", "vélo"),
    ("Marche pour le climat", "marche"),
    ("Troc de graines", "jardin"),
    ("Disco soupe", "alimentation"),
    ("Café-débat climat", "climat"),
    ("Permanence de la monnaie locale", "monnaie locale"),
    ("Chantier participatif", "habitat"),
    ("Collecte solidaire", "solidarité"),
    ("Atelier réparation", "réparation"),
)


@dataclass
class Communes:
    """Metropolitan communes: name, INSEE code, a postcode, population point, radius (degrees) and weight."""

    names: list[str]
    codes: list[str]
    postcodes: list[str]
    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray
    weight: np.ndarray


def load_communes(territories_dir: Path, cache_dir: Path) -> Communes:
    """The communes of the shared territories data (parsed by the bus's own loader, cached in ``cache_dir``)."""
    from transiscope.territories.graph import load_territories, territory_files

    territories = load_territories(territory_files(territories_dir, cache_dir, url=""), cache_dir)
    communes = territories.communes
    by_commune: dict[int, str] = {}
    for postcode, members in sorted(territories.postcodes.items()):
        for member in members:
            by_commune.setdefault(member, postcode)
    south, west, north, east = METROPOLE
    lat, lon = territories.lat, territories.lon
    keep = np.flatnonzero(
        (lat > south)
        & (lat < north)
        & (lon > west)
        & (lon < east)
        & (communes.population > 0)
        & np.isin(np.arange(len(lat)), list(by_commune))
    )
    area = np.nan_to_num(communes.area_km2[keep], nan=10.0)
    return Communes(
        names=[communes.names[i] for i in keep],
        codes=[communes.codes[i] for i in keep],
        postcodes=[by_commune[int(i)] for i in keep],
        lat=lat[keep],
        lon=lon[keep],
        radius_km=np.sqrt(np.maximum(area, 0.5) / np.pi),
        weight=communes.population[keep] / communes.population[keep].sum(),
    )


@dataclass
class Corpus:
    """The payloads of the four sources and what a benchmark must find in them."""

    gogocarto: dict[str, Any]
    kvm_entries: list[dict[str, Any]]
    #: where ``/v0/search`` finds each entry (the entry's own point, before any fault was written into it)
    kvm_points: list[tuple[float, float]]
    csv_rows: list[dict[str, Any]]
    events: list[dict[str, Any]]
    #: ((source, source_id), (source, source_id)) of every initiative published twice
    twins: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)
    #: source -> records written with a fault that must end in quarantine
    bad: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            GOGOCARTO: len(self.gogocarto["data"]),
            KVM: len(self.kvm_entries),
            CSV: len(self.csv_rows),
            OPENAGENDA: len(self.events),
        }

    def csv_bytes(self) -> bytes:
        """The CSV directory as the network's spreadsheet exports it: Windows-1252, ``;``, decimal commas."""
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(self.csv_rows)
        return out.getvalue().encode("cp1252", errors="replace")

    def gogocarto_bytes(self) -> bytes:
        return json.dumps(self.gogocarto, ensure_ascii=False).encode("utf-8")


CSV_COLUMNS = [
    "Identifiant",
    "Nom de l'AMAP",
    "Présentation",
    "Adresse",
    "Code postal",
    "Ville",
    "Latitude",
    "Longitude",
    "Courriel",
    "Téléphone",
    "Site web",
    "Thèmes",
    "Mise à jour",
]


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())[:40] or "x"


def _base_rows(
    communes: Communes, n: int, rng: random.Random, nrng: np.random.Generator, now: datetime
) -> list[dict[str, Any]]:
    """Initiatives as plain facts (no format yet), each assigned to the initiative source that publishes it."""
    chosen = nrng.choice(len(communes.weight), size=n, p=communes.weight)
    radius = communes.radius_km[chosen] * np.sqrt(nrng.random(n)) * 0.8
    angle = nrng.uniform(0, 2 * np.pi, size=n)
    lat = communes.lat[chosen] + radius * np.sin(angle) / 111.2
    lon = communes.lon[chosen] + radius * np.cos(angle) / (111.2 * np.cos(np.radians(communes.lat[chosen])))
    sources = list(SHARES)
    weights = [SHARES[s] for s in sources]
    rows = []
    for i in range(n):
        source = rng.choices(sources, weights)[0]
        theme = rng.choice(("amap", "alimentation")) if source == CSV else rng.choice(list(THEMES))
        c = int(chosen[i])
        city = communes.names[c]
        qualifier = rng.choice(QUALIFIERS)
        name = f"{rng.choice(THEMES[theme][3])} {city}" + (f" {qualifier}" if qualifier else "")
        slug = _slug(f"{name}-{i}")
        rows.append(
            {
                "source": source,
                "source_id": "",
                "theme": theme,
                "name": name,
                "lat": round(float(lat[i]), 6),
                "lon": round(float(lon[i]), 6),
                "street": f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
                "postcode": communes.postcodes[c],
                "city": city,
                "insee": communes.codes[c],
                "website": f"https://{slug}.example.org" if rng.random() < 0.7 else None,
                "phone": f"0{rng.randint(1, 5)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                f"{rng.randint(10, 99)}"
                if rng.random() < 0.6
                else None,
                "email": f"contact@{slug}.example.org" if rng.random() < 0.5 else None,
                "description": " ".join(rng.sample(SENTENCES, k=rng.randint(1, 3))),
                "created": now - timedelta(days=rng.randint(200, 3000)),
                "updated": now - timedelta(days=rng.randint(2, 199), minutes=rng.randint(0, 1439)),
            }
        )
    return rows


def _gogocarto_element(row: dict[str, Any], i: int, rng: random.Random) -> dict[str, Any]:
    label = THEMES[row["theme"]][0]
    labels = [label] + (["Solidarité"] if rng.random() < 0.2 and label != "Solidarité" else [])
    paragraphs = row["description"].replace("'", "&#39;").replace("é", "&eacute;")
    return {
        "id": row["source_id"],
        "name": row["name"],
        "geo": {"latitude": row["lat"], "longitude": row["lon"]},
        "address": {
            "streetAddress": row["street"],
            "addressLocality": row["city"],
            "postalCode": row["postcode"],
            "addressCountry": "FR",
        },
        "categories": labels,
        "categoriesFull": [
            {"id": 100 + list(THEMES).index(row["theme"]), "name": c, "description": "", "index": 0} for c in labels
        ],
        "sourceKey": rng.choice(("Alternatiba", "Colibris", "Réseau des AMAP", "Transiscope")),
        "createdAt": row["created"].isoformat(timespec="seconds"),
        "updatedAt": row["updated"].isoformat(timespec="seconds"),
        "status": rng.choice((1, 7, 7)),
        "website": row["website"],
        "telephone": row["phone"],
        "email": row["email"] or ("private" if rng.random() < 0.3 else None),
        "description": f"<p>{paragraphs}</p><p>Ouvert à <b>toutes et tous</b> &amp; gratuit.</p>",
        **({"openHours": {"Mo": "09:00-12:00,14:00-18:00", "Sa": "10:00-13:00"}} if rng.random() < 0.4 else {}),
    }


def _kvm_entry(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    tag = THEMES[row["theme"]][1]
    return {
        "id": row["source_id"],
        "created": int(row["created"].timestamp()),
        "version": rng.randint(1, 12),
        "title": row["name"],
        "description": row["description"] + (" &eacute;co-responsable" if rng.random() < 0.1 else ""),
        "lat": row["lat"],
        "lng": row["lon"],
        "street": row["street"],
        "zip": row["postcode"],
        "city": row["city"],
        "country": "FR",
        "email": row["email"] or "private",
        "telephone": row["phone"],
        "homepage": (row["website"] or "").removeprefix("https://") or None,
        "categories": ["2cd00bebec0c48ba9db761da48678134"],
        "tags": [tag] + (["bio"] if tag != "bio" and rng.random() < 0.2 else []),
        "license": rng.choice(("CC0-1.0", "ODbL-1.0")),
        **({"opening_hours": "Mo-Fr 09:00-18:00"} if rng.random() < 0.3 else {}),
    }


def _csv_row(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    labels = [THEMES[row["theme"]][2] or "AMAP"] + rng.sample(CSV_EXTRA, k=rng.randint(0, 2))
    return {
        "Identifiant": row["source_id"],
        "Nom de l'AMAP": row["name"],
        "Présentation": row["description"] if rng.random() < 0.7 else f"<p>{row['description']}</p>",
        "Adresse": row["street"],
        "Code postal": row["postcode"],
        "Ville": row["city"],
        "Latitude": f"{row['lat']:.5f}".replace(".", ","),
        "Longitude": f"{row['lon']:.5f}".replace(".", ","),
        "Courriel": row["email"] or "",
        "Téléphone": row["phone"] or "",
        "Site web": (row["website"] or "").removeprefix("https://"),
        "Thèmes": ", ".join(labels),
        "Mise à jour": row["updated"].strftime("%d/%m/%Y"),
    }


def _event(i: int, communes: Communes, c: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    title, keyword = rng.choice(EVENT_KINDS)
    city = communes.names[c]
    begin = (now + timedelta(days=rng.randint(1, 365))).replace(
        hour=rng.choice((9, 10, 14, 18)), minute=0, second=0, microsecond=0
    )
    count = rng.choice((1,) * 9 + (3,))
    timings = [
        {
            "begin": (begin + timedelta(days=28 * k)).isoformat(),
            "end": (begin + timedelta(days=28 * k, hours=3)).isoformat(),
        }
        for k in range(count)
    ]
    radius = float(communes.radius_km[c]) * 0.5
    return {
        "uid": 90_000_000 + i,
        "slug": f"{_slug(title)}-{_slug(city)}-{i}",
        "title": {"fr": f"{title} à {city}"},
        "description": {"fr": f"{rng.choice(SENTENCES)}"},
        "longDescription": {"fr": f"**Entrée libre**. {rng.choice(SENTENCES)}\n\n<b>Gratuit</b>, sans inscription."},
        "keywords": {"fr": [keyword] + (["solidarité"] if rng.random() < 0.2 else [])},
        "timings": timings,
        "location": {
            "uid": 70_000_000 + c,
            "name": f"Maison de quartier de {city}",
            "address": f"{rng.randint(1, 60)} {rng.choice(STREETS)}",
            "city": city,
            "postalCode": communes.postcodes[c],
            "insee": communes.codes[c],
            "latitude": round(float(communes.lat[c]) + rng.uniform(-radius, radius) / 111.2, 6),
            "longitude": round(float(communes.lon[c]) + rng.uniform(-radius, radius) / 80.0, 6),
            "countryCode": "FR",
            "timezone": "Europe/Paris",
        },
        "status": rng.choice((1, 1, 1, 2, 6)),
        "state": 2,
        "attendanceMode": 1,
        "timezone": "Europe/Paris",
        "updatedAt": (now - timedelta(days=rng.randint(2, 120))).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "createdAt": (now - timedelta(days=rng.randint(121, 400))).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "originAgenda": {"uid": 48215, "title": "Agenda de la transition", "slug": "transition-citoyenne"},
    }


def _spoil_initiative(source: str, element: dict[str, Any], rng: random.Random, ids: list[str]) -> None:
    """One fault a critical check catches, in the source's own vocabulary."""
    fault = rng.randrange(4)
    if source == GOGOCARTO:
        if fault == 0:
            element["name"] = ""
        elif fault == 1:
            element["geo"]["latitude"] = 123.4
        elif fault == 2:
            element["geo"] = {"latitude": 0, "longitude": 0}
        else:
            element["id"] = rng.choice(ids)  # a duplicate id: the normaliser keeps one copy
    elif source == KVM:
        if fault in (0, 3):
            element["title"] = ""
        elif fault == 1:
            element["lat"] = 123.4
        else:
            element["lat"], element["lng"] = 0.0, 0.0
    else:
        if fault in (0, 3):
            element["Nom de l'AMAP"] = ""
        elif fault == 1:
            element["Latitude"] = "123,4"
        else:
            element["Latitude"], element["Longitude"] = "0", "0"


def _spoil_event(event: dict[str, Any], rng: random.Random) -> None:
    fault = rng.randrange(3)
    if fault == 0:
        event["title"] = {}
    elif fault == 1:  # ends before it starts
        timing = event["timings"][0]
        timing["end"], timing["begin"] = timing["begin"], timing["end"]
        event["timings"] = [timing]
    else:
        event["state"] = 0  # waiting for moderation: not a published event


def build_corpus(
    communes: Communes,
    size: int,
    *,
    seed: int = 2026,
    bad_share: float = 0.02,
    duplicate_share: float = 0.05,
    events: int | None = None,
    now: datetime | None = None,
) -> Corpus:
    """``size`` initiatives (twins included) over the three initiative sources, and ``events`` events
    (default ``size // 10``) in the OpenAgenda source."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    now = now or datetime.now(UTC).replace(microsecond=0)
    base = _base_rows(communes, round(size / (1 + duplicate_share)), rng, nrng, now)
    counters = dict.fromkeys(SHARES, 0)

    def new_id(source: str) -> str:
        counters[source] += 1
        n = counters[source]
        if source == GOGOCARTO:
            return f"g{n:07d}"
        if source == KVM:
            return f"{rng.getrandbits(96):024x}{n:08x}"
        return f"A{n:06d}"

    for row in base:
        row["source_id"] = new_id(row["source"])
    rows = with_duplicates(base, share=duplicate_share, seed=seed + 1)
    twins = []
    for row in rows[len(base) :]:
        original_source = row["duplicate_of"][0]
        targets = [s for s in SHARES if s != original_source and (s != CSV or row["theme"] in ("amap", "alimentation"))]
        row["source"] = rng.choice(targets)
        row["source_id"] = new_id(row["source"])
        twins.append((row["duplicate_of"], (row["source"], row["source_id"])))
    rng.shuffle(rows)

    in_pairs = {key for pair in twins for key in pair}
    gogocarto: list[dict[str, Any]] = []
    kvm: list[dict[str, Any]] = []
    kvm_points: list[tuple[float, float]] = []
    clean_ids: list[str] = []
    table: list[dict[str, Any]] = []
    bad = dict.fromkeys((*SHARES, OPENAGENDA), 0)
    for i, row in enumerate(rows):
        source = row["source"]
        if source == GOGOCARTO:
            element, target = _gogocarto_element(row, i, rng), gogocarto
        elif source == KVM:
            element, target = _kvm_entry(row, rng), kvm
        else:
            element, target = _csv_row(row, rng), table
        if (source, row["source_id"]) not in in_pairs and len(clean_ids) > 10 and rng.random() < bad_share:
            _spoil_initiative(source, element, rng, clean_ids[-10:])
            bad[source] += 1
        elif source == GOGOCARTO and (source, row["source_id"]) not in in_pairs:
            clean_ids.append(row["source_id"])
        if source == KVM:
            kvm_points.append((row["lat"], row["lon"]))
        target.append(element)

    n_events = size // 10 if events is None else events
    chosen = nrng.choice(len(communes.weight), size=n_events, p=communes.weight)
    agenda = []
    for i in range(n_events):
        event = _event(i, communes, int(chosen[i]), rng, now)
        if rng.random() < bad_share:
            _spoil_event(event, rng)
            bad[OPENAGENDA] += 1
        agenda.append(event)
    payload = {
        "licence": "https://opendatacommons.org/licenses/odbl/summary/",
        "ontology": "gogofull",
        "data": gogocarto,
    }
    return Corpus(
        gogocarto=payload, kvm_entries=kvm, kvm_points=kvm_points, csv_rows=table, events=agenda, twins=twins, bad=bad
    )


def kvm_hit(entry: dict[str, Any]) -> dict[str, Any]:
    """The summary ``/v0/search`` gives of an entry (description cut at 40 characters, as the API does)."""
    return {
        "id": entry["id"],
        "lat": entry["lat"],
        "lng": entry["lng"],
        "title": entry["title"],
        "description": (entry.get("description") or "")[:40],
        "categories": entry["categories"],
        "tags": entry["tags"],
        "ratings": {"total": 0.0},
    }
