"""Settings of the bus, from the environment, with defaults that work in a fresh checkout.

Why environment variables: the CLI, the Airflow workers and the tests all construct the same
:class:`Settings`, and environment variables are the one channel all three share without Airflow
connections or config files.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from transiscope.core.errors import ConfigError
from transiscope.core.geo import LEVELS

#: the checkout this package lives in (the package is installed in editable mode from it)
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: namespace of everything the bus mints; w3id gives a permanent, redirectable base
DEFAULT_BASE_IRI = "https://w3id.org/transiscope/"


def shared_data_dir() -> Path:
    """The folder of shared open data (territories, census of tiers-lieux): ``TRANSISCOPE_SHARED_DATA``,
    by default ``../shared/data`` next to the checkout."""
    return _env_path("TRANSISCOPE_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _env_int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = (os.environ.get(name) or "").strip()
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name}={value!r} must be {bound}")
    return number


def _env_url(name: str, default: str = "") -> str:
    """An http(s) URL without its trailing slash, or ``default``; anything else is a :class:`ConfigError`."""
    url = (os.environ.get(name) or default).strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={url!r} is not an http(s) URL")
    return url


def _env_urls(name: str) -> tuple[str, ...]:
    """http(s) URLs separated by commas or spaces, as written (no trailing slash removed: an IRI is exact)."""
    urls = tuple(part for part in re.split(r"[,\s]+", os.environ.get(name) or "") if part)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: {url!r} is not an http(s) URL")
    return urls


def _env_number(name: str, default: float, minimum: float = 0.0) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if number < minimum:
        raise ConfigError(f"{name}={value!r} must be at least {minimum}")
    return number


@dataclass(frozen=True)
class HttpSettings:
    """Limits of one extract; generous enough for a 85 MB full GoGoCarto download."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retries: int = 4
    backoff_factor: float = 1.0
    max_backoff: float = 60.0
    max_bytes: int = 512 * 1024 * 1024
    user_agent: str = "transiscope-bus/0.1 (+https://transiscope.org)"


@dataclass(frozen=True)
class StoreSettings:
    """Which triplestore the bus writes to and reads from (``TRANSISCOPE_STORE_*``)."""

    kind: str = "embedded"
    #: remote only: SPARQL 1.1 Protocol endpoints (query, update; Graph Store Protocol optional)
    query_url: str = ""
    update_url: str = ""
    graph_store_url: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    #: "basic" or "digest"
    auth: str = "basic"
    timeout: float = 300.0
    #: triples per request when loading a staging graph remotely
    chunk_triples: int = 50_000


#: default base URL of each geocoding provider (``TRANSISCOPE_GEOCODER_URL`` overrides it)
GEOCODER_URLS = {
    "ban": "https://api-adresse.data.gouv.fr",
    "nominatim": "https://nominatim.openstreetmap.org",
    "photon": "https://photon.komoot.io",
    "none": "",
}


@dataclass(frozen=True)
class GeocodeSettings:
    """How the geocode stage places records without usable coordinates (``TRANSISCOPE_GEOCODER_*``).

    Why a budget and a cache: the old Semantic Bus re-geocoded every address every minute and ran up a
    €2,000 bill; here an address is asked once (the cache keeps answers, "no result" included) and a run
    never sends more than ``max_requests`` requests.
    """

    #: "ban" (Base Adresse Nationale), "nominatim", "photon", or "none" (offline fallback only)
    provider: str = "ban"
    url: str = GEOCODER_URLS["ban"]
    #: answers scoring below this (0-1) are not used: the commune fallback is safer than a wrong pin
    min_score: float = 0.5
    #: HTTP requests one run may send (a batch of addresses is one request)
    max_requests: int = 200
    #: requests per second at most (BAN allows 50 per IP, Nominatim's policy 1)
    rate: float = 10.0
    #: addresses per batch request (providers with a batch endpoint)
    batch_size: int = 500
    #: the on-disk cache; None: ``<cache_dir>/geocode.sqlite3``
    cache_path: Path | None = None
    #: a point further than this from its declared commune or postcode is flagged (km, straight line)
    far_km: float = 5.0


@dataclass(frozen=True)
class LinkSettings:
    """Thresholds of the link step (``TRANSISCOPE_LINK_*``); the scores are in [0, 1] (see ``matching.py``)."""

    #: at or above: owl:sameAs in the links graph (precision first: a wrong merge hides an initiative)
    high: float = 0.9
    #: at or above (and below ``high``): a candidate for a person to confirm or reject
    low: float = 0.5
    #: the decisions people took, kept under version control so they survive every re-run
    decisions_path: Path = field(default_factory=lambda: PROJECT_ROOT / "transforms" / "link-decisions.csv")


#: default map tiles of the map page; ``TRANSISCOPE_MAP_TILES`` overrides (empty: no tiles, a plain background)
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: where ``make map-assets`` installs the map page's npm packages
DEFAULT_MAP_ASSETS = PROJECT_ROOT / "map" / "node_modules"
#: base URL of ``transiscope serve`` as operators reach it, when ``TRANSISCOPE_PUBLIC_URL`` is not set
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8890"


@dataclass(frozen=True)
class ServeDefaults:
    """Defaults of ``transiscope serve`` (``TRANSISCOPE_SERVE_*``, ``TRANSISCOPE_MAP_*``); its options override
    the first four."""

    host: str = "127.0.0.1"
    port: int = 8890
    #: seconds a query may run
    timeout: float = 30.0
    #: size cap of one result, in MB
    max_mb: float = 100.0
    #: bearer token that allows SPARQL Update; empty: no update of any kind
    update_token: str = field(default="", repr=False)
    map_tiles: str = DEFAULT_TILES
    map_assets: Path = DEFAULT_MAP_ASSETS
    #: the only endpoints a query's SERVICE clause may call (``TRANSISCOPE_SERVE_SERVICE_ALLOW``, URLs separated
    #: by commas or spaces); none by default: the endpoint sends no request a client can steer
    service_allow: tuple[str, ...] = ()
    #: brackets a query may nest before it is refused unparsed (``TRANSISCOPE_SERVE_MAX_DEPTH``)
    max_depth: int = 64
    #: address space of each query worker in MB (``TRANSISCOPE_SERVE_WORKER_MB``; 0: no limit): a query that
    #: needs more ends its worker, never the server
    worker_mb: int = 4096
    #: hosts (``host`` or ``host:port``) the self-check may fetch although they are private or loopback
    #: addresses (``TRANSISCOPE_SERVE_VERIFIER_ALLOW``, separated by commas or spaces); none by default
    verifier_allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifySettings:
    """Where failure events go (``TRANSISCOPE_NOTIFY_*``)."""

    webhook_url: str = ""
    #: sent as ``Authorization: Bearer ...`` when set
    webhook_token: str = field(default="", repr=False)
    #: seconds per attempt; the caller (the scheduler) waits at most about (retries + 1) x timeout
    timeout: float = 5.0
    retries: int = 2

    @classmethod
    def from_env(cls) -> NotifySettings:
        """``TRANSISCOPE_NOTIFY_WEBHOOK_URL``, ``_WEBHOOK_TOKEN``, ``_TIMEOUT`` (seconds), ``_RETRIES``."""
        return cls(
            webhook_url=_env_url("TRANSISCOPE_NOTIFY_WEBHOOK_URL"),
            webhook_token=os.environ.get("TRANSISCOPE_NOTIFY_WEBHOOK_TOKEN", ""),
            timeout=_env_number("TRANSISCOPE_NOTIFY_TIMEOUT", 5.0, 0.1),
            retries=_env_int("TRANSISCOPE_NOTIFY_RETRIES", 2),
        )


@dataclass(frozen=True)
class GapsSettings:
    """The knobs of the territorial gap analysis (``TRANSISCOPE_GAPS_*``, see :func:`gaps_settings_from_env`).

    Checked on construction, so that the CLI's options (which replace some of them) are checked the same way.
    """

    #: population shares beyond these straight-line distances (km)
    thresholds_km: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0)
    #: a commune whose population point has no initiative of the concept within this distance is a "zone blanche"
    white_zone_km: float = 10.0
    #: 2SFCA catchment radius (km)
    catchment_km: float = 20.0
    #: territories under this population get no Poisson z-score nor priority rank (their ratios are noise)
    min_population: int = 5000
    #: a point outside every commune polygon but this close to one is placed in it (simplified coastlines)
    snap_km: float = 1.0
    #: priority territories listed per level and concept
    priority_count: int = 20
    #: levels written as Data Cube observations; EPCI and communes go to the CSV and GeoJSON files by default
    #: (an EPCI cube with every concept is ~4 M triples, a commune one ~100 M)
    cube_levels: tuple[str, ...] = ("france", "region", "departement")
    #: levels written as CSV and GeoJSON files
    file_levels: tuple[str, ...] = LEVELS

    def __post_init__(self) -> None:
        if not self.thresholds_km or any(not (t > 0 and math.isfinite(t)) for t in self.thresholds_km):
            raise ConfigError(f"gap thresholds must be positive distances in km, not {self.thresholds_km}")
        for name in ("white_zone_km", "catchment_km", "snap_km"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)) or (name == "catchment_km" and value == 0):
                raise ConfigError(f"gap setting {name}={value!r} must be a positive distance in km")
        if self.min_population < 0 or self.priority_count < 0:
            raise ConfigError("gap settings min_population and priority_count must not be negative")
        unknown = [level for level in self.cube_levels + self.file_levels if level not in LEVELS]
        if unknown:
            raise ConfigError(f"unknown territory level(s) {', '.join(unknown)}: use {', '.join(LEVELS)}")


@dataclass(frozen=True)
class Settings:
    home: Path
    registry_path: Path
    ontology_dir: Path
    expectations_dir: Path
    base_iri: str = DEFAULT_BASE_IRI
    http: HttpSettings = field(default_factory=HttpSettings)
    #: refuse to replace a live graph when the loaded count drops by more than this share
    max_shrink: float = 0.5
    #: refuse a batch when more than this share of its records is quarantined
    max_quarantine_share: float = 0.5
    #: official territories data (communes, postcodes); None when not available
    territories_dir: Path | None = None
    store: StoreSettings = field(default_factory=StoreSettings)
    #: derived files worth keeping across data homes (parsed territories...)
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "transiscope")
    geocode: GeocodeSettings = field(default_factory=GeocodeSettings)
    link: LinkSettings = field(default_factory=LinkSettings)
    gaps: GapsSettings = field(default_factory=GapsSettings)
    #: where the exports go (``TRANSISCOPE_EXPORTS_DIR``); None: ``<home>/exports``
    exports_override: Path | None = None
    serve: ServeDefaults = field(default_factory=ServeDefaults)
    notify: NotifySettings = field(default_factory=NotifySettings)
    #: base URL of ``transiscope serve`` as operators reach it (``TRANSISCOPE_PUBLIC_URL``): links in
    #: notifications and in the Airflow UI
    public_url: str = DEFAULT_PUBLIC_URL
    #: slots of the store-writes pool (``TRANSISCOPE_STORE_WRITE_SLOTS``): 1 for the embedded store (single
    #: writer), more only for a remote store that takes concurrent writers
    store_write_slots: int = 1
    #: a mirror of the territories files, downloaded once into the cache when they are not on disk
    #: (``TRANSISCOPE_TERRITORIES_URL``; empty: none)
    territories_url: str = ""
    #: run folders kept per source by ``transiscope prune`` and the maintenance DAG (``TRANSISCOPE_KEEP_RUNS``);
    #: the runs the bus still needs are kept beyond it
    keep_runs: int = 30
    #: a source is stale when its data was last confirmed (loaded, or not modified) more than this many days
    #: ago (``TRANSISCOPE_STALE_DAYS``), or after this many failed runs in a row (``TRANSISCOPE_STALE_FAILURES``)
    stale_days: float = 7.0
    stale_failures: int = 3
    #: seconds between two tries of a retried Airflow task (``TRANSISCOPE_RETRY_DELAY``); None: each task's own
    #: (minutes: a source or a store that failed seldom comes back within seconds)
    retry_delay: float | None = None

    @property
    def exports_dir(self) -> Path:
        """The map's files (``transiscope export``, the gaps files), served by ``transiscope serve``."""
        return self.exports_override or self.home / "exports"

    @property
    def store_path(self) -> Path:
        return self.home / "store"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def with_home(self, home: Path) -> Settings:
        return replace(self, home=home)

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``TRANSISCOPE_*`` variables; every one has a default that works in a checkout."""
        http = HttpSettings(
            connect_timeout=_env_number("TRANSISCOPE_HTTP_CONNECT_TIMEOUT", 10.0, 0.1),
            read_timeout=_env_number("TRANSISCOPE_HTTP_READ_TIMEOUT", 120.0, 0.1),
            retries=int(_env_number("TRANSISCOPE_HTTP_RETRIES", 4)),
            backoff_factor=_env_number("TRANSISCOPE_HTTP_BACKOFF", 1.0),
            max_bytes=int(_env_number("TRANSISCOPE_HTTP_MAX_BYTES", 512 * 1024 * 1024, 1)),
        )
        max_shrink = _env_number("TRANSISCOPE_MAX_SHRINK", 0.5)
        max_quarantine_share = _env_number("TRANSISCOPE_MAX_QUARANTINE_SHARE", 0.5)
        for name, share in (
            ("TRANSISCOPE_MAX_SHRINK", max_shrink),
            ("TRANSISCOPE_MAX_QUARANTINE_SHARE", max_quarantine_share),
        ):
            if share > 1:
                raise ConfigError(f"{name}={share:g} must be a share between 0 and 1")
        territories = _env_path("TRANSISCOPE_TERRITORIES_DIR", shared_data_dir() / "territories")
        store = StoreSettings(
            kind=os.environ.get("TRANSISCOPE_STORE", "embedded") or "embedded",
            query_url=os.environ.get("TRANSISCOPE_STORE_QUERY_URL", ""),
            update_url=os.environ.get("TRANSISCOPE_STORE_UPDATE_URL", ""),
            graph_store_url=os.environ.get("TRANSISCOPE_STORE_GRAPH_STORE_URL", ""),
            user=os.environ.get("TRANSISCOPE_STORE_USER", ""),
            password=os.environ.get("TRANSISCOPE_STORE_PASSWORD", ""),
            auth=os.environ.get("TRANSISCOPE_STORE_AUTH", "basic") or "basic",
            timeout=_env_number("TRANSISCOPE_STORE_TIMEOUT", 300.0, 1),
            chunk_triples=int(_env_number("TRANSISCOPE_STORE_CHUNK_TRIPLES", 50_000, 1)),
        )
        if store.kind not in ("embedded", "remote"):
            raise ConfigError(f"TRANSISCOPE_STORE={store.kind!r} is not one of embedded, remote")
        if store.kind == "remote" and not (store.query_url and store.update_url):
            raise ConfigError(
                "TRANSISCOPE_STORE=remote needs TRANSISCOPE_STORE_QUERY_URL and TRANSISCOPE_STORE_UPDATE_URL"
            )
        if store.auth not in ("basic", "digest"):
            raise ConfigError(f"TRANSISCOPE_STORE_AUTH={store.auth!r} is not one of basic, digest")
        return cls(
            serve=serve_defaults_from_env(),
            notify=NotifySettings.from_env(),
            public_url=_env_url("TRANSISCOPE_PUBLIC_URL", DEFAULT_PUBLIC_URL),
            store_write_slots=_env_int("TRANSISCOPE_STORE_WRITE_SLOTS", 1, 1),
            territories_url=_env_url("TRANSISCOPE_TERRITORIES_URL"),
            keep_runs=_env_int("TRANSISCOPE_KEEP_RUNS", 30, 1),
            stale_days=_env_number("TRANSISCOPE_STALE_DAYS", 7.0, 0.01),
            stale_failures=_env_int("TRANSISCOPE_STALE_FAILURES", 3, 1),
            retry_delay=_env_number("TRANSISCOPE_RETRY_DELAY", 0.0, 0.0) or None,
            geocode=geocode_settings_from_env(),
            link=link_settings_from_env(),
            gaps=gaps_settings_from_env(),
            cache_dir=_env_path(
                "TRANSISCOPE_CACHE_DIR",
                Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transiscope",
            ),
            store=store,
            territories_dir=territories if territories.is_dir() else None,
            home=_env_path("TRANSISCOPE_HOME", PROJECT_ROOT / "var"),
            registry_path=_env_path("TRANSISCOPE_REGISTRY", PROJECT_ROOT / "transforms" / "sources.toml"),
            ontology_dir=_env_path("TRANSISCOPE_ONTOLOGY_DIR", PROJECT_ROOT / "ontology"),
            expectations_dir=_env_path("TRANSISCOPE_EXPECTATIONS_DIR", PROJECT_ROOT / "expectations"),
            base_iri=os.environ.get("TRANSISCOPE_BASE_IRI", DEFAULT_BASE_IRI),
            http=http,
            max_shrink=max_shrink,
            max_quarantine_share=max_quarantine_share,
            exports_override=_env_path("TRANSISCOPE_EXPORTS_DIR", Path())
            if os.environ.get("TRANSISCOPE_EXPORTS_DIR")
            else None,
        )


def serve_defaults_from_env() -> ServeDefaults:
    """``TRANSISCOPE_SERVE_HOST``, ``_PORT``, ``_TIMEOUT`` (seconds), ``_MAX_MB``, ``_UPDATE_TOKEN``,
    ``TRANSISCOPE_MAP_TILES`` (a tile URL template, empty for none) and ``TRANSISCOPE_MAP_ASSETS`` (a folder)."""
    tiles = os.environ.get("TRANSISCOPE_MAP_TILES")
    return ServeDefaults(
        host=(os.environ.get("TRANSISCOPE_SERVE_HOST") or "127.0.0.1").strip(),
        port=_env_int("TRANSISCOPE_SERVE_PORT", 8890, 0, 65535),
        timeout=_env_number("TRANSISCOPE_SERVE_TIMEOUT", 30.0, 0.1),
        max_mb=_env_number("TRANSISCOPE_SERVE_MAX_MB", 100.0, 0.001),
        update_token=os.environ.get("TRANSISCOPE_SERVE_UPDATE_TOKEN", ""),
        map_tiles=DEFAULT_TILES if tiles is None else tiles.strip(),
        map_assets=_env_path("TRANSISCOPE_MAP_ASSETS", DEFAULT_MAP_ASSETS),
        service_allow=_env_urls("TRANSISCOPE_SERVE_SERVICE_ALLOW"),
        max_depth=_env_int("TRANSISCOPE_SERVE_MAX_DEPTH", 64, 1, 10_000),
        worker_mb=_env_int("TRANSISCOPE_SERVE_WORKER_MB", 4096, 0),
        verifier_allow=tuple(
            part.lower()
            for part in re.split(r"[,\s]+", os.environ.get("TRANSISCOPE_SERVE_VERIFIER_ALLOW") or "")
            if part
        ),
    )


def geocode_settings_from_env() -> GeocodeSettings:
    """``TRANSISCOPE_GEOCODER`` (provider), ``_URL``, ``_MIN_SCORE``, ``_MAX_REQUESTS``, ``_RATE``, ``_BATCH``,
    ``TRANSISCOPE_GEOCODE_CACHE`` (file) and ``TRANSISCOPE_FAR_KM``."""
    provider = (os.environ.get("TRANSISCOPE_GEOCODER") or "ban").strip().lower()
    if provider not in GEOCODER_URLS:
        raise ConfigError(f"TRANSISCOPE_GEOCODER={provider!r} is not one of {', '.join(GEOCODER_URLS)}")
    url = (os.environ.get("TRANSISCOPE_GEOCODER_URL") or GEOCODER_URLS[provider]).rstrip("/")
    if provider != "none" and not url.startswith(("http://", "https://")):
        raise ConfigError(f"TRANSISCOPE_GEOCODER_URL={url!r} is not an http(s) URL")
    min_score = _env_number("TRANSISCOPE_GEOCODER_MIN_SCORE", 0.5)
    if min_score > 1:
        raise ConfigError(f"TRANSISCOPE_GEOCODER_MIN_SCORE={min_score:g} must be a score between 0 and 1")
    cache = os.environ.get("TRANSISCOPE_GEOCODE_CACHE")
    return GeocodeSettings(
        provider=provider,
        url=url,
        min_score=min_score,
        max_requests=int(_env_number("TRANSISCOPE_GEOCODER_MAX_REQUESTS", 200)),
        rate=_env_number("TRANSISCOPE_GEOCODER_RATE", 1.0 if provider == "nominatim" else 10.0, 0.01),
        batch_size=int(_env_number("TRANSISCOPE_GEOCODER_BATCH", 500, 1)),
        cache_path=Path(cache).expanduser().resolve() if cache else None,
        far_km=_env_number("TRANSISCOPE_FAR_KM", 5.0, 0.1),
    )


def link_settings_from_env() -> LinkSettings:
    """``TRANSISCOPE_LINK_HIGH`` (sameAs), ``TRANSISCOPE_LINK_LOW`` (candidates), ``TRANSISCOPE_LINK_DECISIONS``."""
    high = _env_number("TRANSISCOPE_LINK_HIGH", LinkSettings.high)
    low = _env_number("TRANSISCOPE_LINK_LOW", LinkSettings.low)
    if not 0 < low <= high <= 1:
        raise ConfigError(
            f"link thresholds must satisfy 0 < TRANSISCOPE_LINK_LOW ({low:g}) <= TRANSISCOPE_LINK_HIGH ({high:g}) <= 1"
        )
    return LinkSettings(
        high=high,
        low=low,
        decisions_path=_env_path("TRANSISCOPE_LINK_DECISIONS", PROJECT_ROOT / "transforms" / "link-decisions.csv"),
    )


def gaps_settings_from_env() -> GapsSettings:
    """``TRANSISCOPE_GAPS_THRESHOLDS_KM`` (comma list), ``_WHITE_ZONE_KM``, ``_CATCHMENT_KM``,
    ``_MIN_POPULATION``, ``_SNAP_KM``, ``_PRIORITY_COUNT``, ``_CUBE_LEVELS``, ``_FILE_LEVELS`` (comma lists)."""

    def number(suffix: str, default: float, positive: bool = False) -> float:
        name = f"TRANSISCOPE_GAPS_{suffix}"
        value = _env_number(name, default)
        if not math.isfinite(value) or (positive and value == 0):
            raise ConfigError(
                f"{name}={os.environ.get(name)!r} must be a {'positive ' if positive else ''}finite number"
            )
        return value

    def listed(suffix: str, default: str) -> tuple[str, str]:
        name = f"TRANSISCOPE_GAPS_{suffix}"
        return os.environ.get(name) or default, name

    defaults = GapsSettings()
    return GapsSettings(
        thresholds_km=parse_thresholds(*listed("THRESHOLDS_KM", "5,10,20,30")),
        white_zone_km=number("WHITE_ZONE_KM", defaults.white_zone_km),
        catchment_km=number("CATCHMENT_KM", defaults.catchment_km, positive=True),
        min_population=int(number("MIN_POPULATION", defaults.min_population)),
        snap_km=number("SNAP_KM", defaults.snap_km),
        priority_count=int(number("PRIORITY_COUNT", defaults.priority_count)),
        cube_levels=parse_levels(*listed("CUBE_LEVELS", ",".join(defaults.cube_levels))),
        file_levels=parse_levels(*listed("FILE_LEVELS", ",".join(defaults.file_levels))),
    )


def parse_thresholds(text: str, name: str = "") -> tuple[float, ...]:
    """``"5,10,20"`` -> (5.0, 10.0, 20.0), sorted, with a clear error (naming the variable ``name``, if given)
    for anything else."""
    where = f"{name}: " if name else ""
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"{where}distance thresholds {text!r} must be numbers in km separated by commas") from None
    if not values or any(not (v > 0 and math.isfinite(v)) for v in values):
        raise ConfigError(f"{where}distance thresholds {text!r} must be positive numbers in km")
    return tuple(values)


def parse_levels(text: str, name: str = "") -> tuple[str, ...]:
    """``"region,departement"`` -> ("region", "departement"); a name that is not a territory level is an error
    (naming the variable ``name``, if given)."""
    where = f"{name}: " if name else ""
    levels = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ConfigError(f"{where}unknown territory level(s) {', '.join(unknown)}: use {', '.join(LEVELS)}")
    return levels
