"""The self-check for the people who keep a source (``/verifier/``): paste a URL or give a file, see what the bus
would load of it and what it would set aside, and why, in plain words; nothing is stored.

Why a worker process per check: a maintainer's file is hostile until read (a zip bomb named ``.json``, a 10×
payload, HTML), and the check runs the bus's stages on it; each check runs in its own process under an address
space limit and a time limit, killed when it exceeds either, so no file can take the endpoint down.

Why the self-check fetches URLs itself rather than letting ``check-source`` do it: the endpoint is on the
internet, so a URL a client gives must not make it reach loopback or private addresses (SSRF), except the hosts
the operator lists (``TRANSISCOPE_SERVE_VERIFIER_ALLOW``). Every address the host name resolves to is checked,
and again at each redirect (followed by hand, three at most); the body is read in blocks up to the size cap
after decompression. A host whose name resolves to a public address at the check and to a private one at the
connection (DNS rebinding) is the residual risk: an operator who fears it runs the endpoint without the route to
private networks.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import re
import socket
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

#: redirects followed by hand (each target checked again)
MAX_REDIRECTS = 3
#: what a check may last and hold, besides the serve options: seconds to connect and between two blocks
FETCH_TIMEOUT = (5.0, 30.0)
#: the window of the per-client limit
RATE_WINDOW = 600.0
_SUFFIX = re.compile(r"\.(json|geojson|csv|tsv|txt|ics|ical)$", re.IGNORECASE)


class Refused(ValueError):
    """A check the self-check does not run, with the HTTP status and the sentence to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(400, "seules les adresses http(s) sont vérifiées / only http(s) URLs are checked")
    if not parts.hostname:
        raise Refused(400, "l'adresse n'a pas de nom d'hôte / the URL has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(400, "le port de l'adresse n'est pas valide / the URL's port is not valid") from None
    return parts.hostname.lower(), port


def check_target(url: str, allowed: frozenset[str]) -> None:
    """Refuse (400) a URL that is not http(s), whose host does not resolve, or that resolves to a loopback,
    private, link-local or otherwise non-public address, unless the operator listed it (``host`` or
    ``host:port``).

    >>> check_target("ftp://example.org/data.json", frozenset())
    Traceback (most recent call last):
    ...
    transiscope.serve.verifier.Refused: seules les adresses http(s) sont vérifiées / only http(s) URLs are checked
    >>> check_target("http://127.0.0.1:8890/", frozenset({"127.0.0.1:8890"}))
    """
    host, port = _host_port(url)
    if host in allowed or f"{host}:{port}" in allowed:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        raise Refused(400, f"le nom {host} ne se résout pas / the host name {host} does not resolve") from None
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise Refused(
                400,
                f"{host} désigne une adresse privée ou locale ({ip}) : la vérification ne lit que des adresses "
                f"publiques / {host} is a private or loopback address ({ip}): the self-check only fetches public "
                "addresses",
            )


def download(url: str, allowed: frozenset[str], max_bytes: int) -> bytes:
    """The body at ``url``, fetched under the self-check's rules (see the module's text)."""
    import requests

    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the checks above are about this connection
    for _ in range(MAX_REDIRECTS + 1):
        check_target(url, allowed)
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=FETCH_TIMEOUT,
                headers={"User-Agent": "transiscope-verifier", "Accept": "application/json, text/csv, */*;q=0.5"},
            )
        except requests.RequestException as exc:
            raise Refused(
                400, f"l'adresse n'a pas pu être lue / the URL could not be read ({type(exc).__name__})"
            ) from None
        with response:
            if response.is_redirect and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code >= 400:
                raise Refused(
                    400,
                    f"le serveur a répondu HTTP {response.status_code} / the server answered HTTP "
                    f"{response.status_code}",
                )
            parts: list[bytes] = []
            size = 0
            for block in response.iter_content(65536):  # decompressed: the cap is on what the check reads
                size += len(block)
                if size > max_bytes:
                    raise Refused(413, too_large(max_bytes))
                parts.append(block)
            return b"".join(parts)
    raise Refused(400, f"plus de {MAX_REDIRECTS} redirections / more than {MAX_REDIRECTS} redirects")


def too_large(max_bytes: int) -> str:
    """The sentence of a file over the self-check's size cap."""
    mb = max_bytes / 2**20
    return (
        f"le fichier dépasse {mb:g} Mo, la limite de la vérification en ligne : envoyez un extrait / the file is "
        f"larger than {mb:g} MB, the limit of the online check: send an extract"
    )


# -- in the worker process -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckRequest:
    """One check as it crosses to the worker: a file's bytes and name, or a URL to fetch there."""

    origin: str
    data: bytes | None = None
    url: str | None = None
    max_bytes: int = 10 * 1024 * 1024
    allowed: frozenset[str] = frozenset()


def _suffix(origin: str) -> str:
    found = _SUFFIX.search(urlsplit(origin).path if "://" in origin else origin)
    return found.group(0).lower() if found else ".data"


def run_in_worker(request: CheckRequest) -> tuple[int, dict[str, Any], str]:
    """The check itself (in the worker): HTTP status, the ``check-source --json`` document, the proposed
    mapping's text."""
    from transiscope.core.errors import TransiscopeError
    from transiscope.reports.check_source import check_source, error_document, report_document
    from transiscope.settings import Settings

    try:
        data = request.data if request.url is None else download(request.url, request.allowed, request.max_bytes)
    except Refused as refused:
        return refused.status, error_document(request.origin, str(refused)), ""
    assert data is not None  # a file check carries its bytes
    with tempfile.TemporaryDirectory(prefix="transiscope-verifier-") as work:
        folder = Path(work)
        target = folder / ("payload" + _suffix(request.origin))
        target.write_bytes(data)
        mapping = folder / "proposed.mapping.toml"
        try:
            result = check_source(str(target), out=mapping, settings=Settings.from_env())
        except TransiscopeError as exc:
            return 200, error_document(request.origin, str(exc).replace(str(target), request.origin)), ""
        except Exception as exc:  # a hostile file met a bug: still a document, never a traceback
            message = f"la vérification n'a pas pu aboutir / the check could not finish ({type(exc).__name__})"
            return 200, error_document(request.origin, message), ""
        document = report_document(result)
        text = mapping.read_text(encoding="utf-8") if mapping.exists() else ""
    document["origin"] = request.origin
    document["mapping"] = "proposed.mapping.toml"
    return 200, document, text.replace(str(target), request.origin).replace(str(folder), ".")


def _worker_main(conn: Connection, request: CheckRequest, memory_bytes: int) -> None:
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(run_in_worker(request))
    conn.close()


def run_check(request: CheckRequest, *, timeout: float, memory_mb: int) -> tuple[int, dict[str, Any], str]:
    """Run one check in a new worker process; a worker over its time or memory gives a document that says so."""
    from transiscope.reports.check_source import error_document

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_worker_main, args=(child, request, memory_mb * 2**20), daemon=True)
    process.start()
    child.close()
    try:
        if parent in wait_ready([parent, process.sentinel], timeout) and parent.poll():
            try:
                status, document, mapping = parent.recv()
                return int(status), document, str(mapping)
            except EOFError:
                pass
        if process.is_alive():
            process.kill()
            message = (
                f"la vérification a duré plus de {timeout:g} s : envoyez un extrait plus petit / the check took "
                f"longer than {timeout:g} s: send a smaller extract"
            )
            return 503, error_document(request.origin, message), ""
        message = (
            f"la vérification a demandé plus de {memory_mb} Mo de mémoire : envoyez un extrait plus petit / the "
            f"check needed more than {memory_mb} MB of memory: send a smaller extract"
        )
        return 503, error_document(request.origin, message), ""
    finally:
        process.join(5)
        parent.close()


class RateLimit:
    """At most ``limit`` checks per client address and ``RATE_WINDOW`` seconds (a check costs a process)."""

    def __init__(self, limit: int, window: float = RATE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """0 when the client may check now (and counts this check), else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:  # bounded: forget the oldest clients rather than grow
                for key in [k for k, v in self._seen.items() if not v or now - v[-1] > self.window]:
                    del self._seen[key]
            times = self._seen[client]
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.limit:
                return self.window - (now - times[0])
            times.append(now)
            return 0.0


#: the page's words (French first)
PAGE_TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Vérifier les données d'une source",
        "intro": "Donnez l'adresse de votre carte ou de votre annuaire (API GoGoCarto, Karte von morgen, "
        "OpenAgenda, iCal, Murmurations, CSV, GeoJSON, JSON) ou envoyez un fichier : la page dit ce que "
        "Transiscope en chargerait, ce qu'il mettrait de côté et pourquoi. Rien n'est enregistré.",
        "url": "Adresse (http:// ou https://)",
        "file": "ou un fichier",
        "limit": "jusqu'à {mb} Mo",
        "submit": "Vérifier",
        "result": "Résultat",
        "format": "Format reconnu",
        "records": "Fiches lues",
        "would_load": "Seraient chargées",
        "would_quarantine": "Seraient mises de côté",
        "fix_first": "À corriger d'abord",
        "name": "Nom",
        "id": "Identifiant",
        "categories": "Catégories Transiscope",
        "country": "Pays",
        "reasons": "Pourquoi",
        "mapping": "Correspondance proposée (à envoyer à l'équipe de Transiscope)",
        "download": "Télécharger la correspondance",
        "error": "La vérification n'a pas pu lire la source",
        "verdict": "Le lot entier serait refusé",
        "other_lang": "English version",
        "more": "… et {n} de plus",
        "none": "Aucune.",
        "missing": "Donnez une adresse ou un fichier.",
    },
    "en": {
        "title": "Check a source's data",
        "intro": "Give the address of your map or directory (GoGoCarto, Karte von morgen, OpenAgenda, iCal, "
        "Murmurations, CSV, GeoJSON or JSON API) or send a file: the page says what Transiscope would load of "
        "it, what it would set aside and why. Nothing is stored.",
        "url": "Address (http:// or https://)",
        "file": "or a file",
        "limit": "up to {mb} MB",
        "submit": "Check",
        "result": "Result",
        "format": "Format recognised",
        "records": "Records read",
        "would_load": "Would load",
        "would_quarantine": "Would be set aside",
        "fix_first": "Fix first",
        "name": "Name",
        "id": "Identifier",
        "categories": "Transiscope categories",
        "country": "Country",
        "reasons": "Why",
        "mapping": "Proposed mapping (to send to the Transiscope team)",
        "download": "Download the mapping",
        "error": "The check could not read the source",
        "verdict": "The whole batch would be refused",
        "other_lang": "Version française",
        "more": "… and {n} more",
        "none": "None.",
        "missing": "Give an address or a file.",
    },
}
#: records listed per table on the page (the JSON document lists them all)
SHOWN = 200
