"""Settings of the bus, from the environment, with defaults that work in a fresh checkout.

Why environment variables: the CLI, the Airflow workers and the tests all construct the same
:class:`Settings`, and environment variables are the one channel all three share without Airflow
connections or config files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from transiscope.errors import ConfigError

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
        for name, share in (("TRANSISCOPE_MAX_SHRINK", max_shrink),
                            ("TRANSISCOPE_MAX_QUARANTINE_SHARE", max_quarantine_share)):
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
            raise ConfigError("TRANSISCOPE_STORE=remote needs TRANSISCOPE_STORE_QUERY_URL and "
                              "TRANSISCOPE_STORE_UPDATE_URL")
        if store.auth not in ("basic", "digest"):
            raise ConfigError(f"TRANSISCOPE_STORE_AUTH={store.auth!r} is not one of basic, digest")
        return cls(
            cache_dir=_env_path("TRANSISCOPE_CACHE_DIR",
                                Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transiscope"),
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
        )
