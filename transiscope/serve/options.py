"""The options of one ``transiscope serve`` (the command line over the ``TRANSISCOPE_SERVE_*`` defaults of
:class:`transiscope.settings.ServeDefaults`): what the application, the server and the worker pool obey."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transiscope.settings import DEFAULT_MAP_ASSETS, DEFAULT_TILES


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8890
    #: seconds a query may run before its worker is killed
    timeout: float = 30.0
    #: bytes a response may hold (the result cap): results are streamed into a buffer that stops there
    max_bytes: int = 100 * 1024 * 1024
    workers: int = 2
    #: bearer token that allows SPARQL Update; empty = no update of any kind
    update_token: str = ""
    cors_origin: str = "*"
    #: tile URL template of the map page (``TRANSISCOPE_MAP_TILES``; empty: no tiles, the page still works)
    map_tiles: str = DEFAULT_TILES
    #: the npm packages of the map page (``TRANSISCOPE_MAP_ASSETS``; ``make map-assets`` installs them)
    map_assets: Path = DEFAULT_MAP_ASSETS
    #: the endpoints a SERVICE clause may call (``TRANSISCOPE_SERVE_SERVICE_ALLOW``); none: SERVICE is refused
    allowed_services: frozenset[str] = frozenset()
    #: brackets a query may nest before it is refused unparsed
    max_depth: int = 64
    #: address space of each query worker, in MB (0: no limit)
    worker_mb: int = 4096
    #: seconds a connection may stay silent (a request not sent whole, an idle keep-alive) before it is closed
    connection_timeout: float = 30.0
    #: seconds a query may wait for a free worker before it is told the endpoint is busy (503)
    queue_wait: float = 10.0
    #: connections the system queues before the server accepts them
    backlog: int = 256
    #: the self-check (``/verifier/``): bytes of a file or a fetched URL, seconds and MB of its worker, checks
    #: per client and per 10 minutes, hosts it may fetch although private or loopback (operator's list)
    verifier_max_bytes: int = 10 * 1024 * 1024
    verifier_timeout: float = 120.0
    verifier_mb: int = 2048
    verifier_per_client: int = 10
    verifier_allow: frozenset[str] = frozenset()
