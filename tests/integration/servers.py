"""Real triplestore servers for the store tests and bench/stores.py, on 127.0.0.1 with free ports.

- Oxigraph server: the ``oxigraph`` binary of the PyPI package ``oxigraph`` (dev extra), on disk in a
  temporary folder, with the union default graph (as the embedded store queries).
- Virtuoso: ``virtuoso-t`` of the Debian package ``virtuoso-opensource`` (``make test`` installs it),
  with a copy of the package's ``virtuoso.ini`` whose database, logs and both ports point into a
  temporary folder on 127.0.0.1. User ``dba``/``dba`` (a new database's default): HTTP digest on
  ``/sparql-auth`` and ``/sparql-graph-crud-auth`` as shipped; ``/sparql-basic`` is added here (same SPARQL
  service with HTTP basic) through ``isql-vt`` so that both authentication schemes meet a real server.

Every wait is bounded; a server that does not come up raises :class:`ServerUnavailable` with its log's
last lines. ``stop()`` terminates the process (its own session) and waits for it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

#: the configuration file the Debian package installs; copied and adapted for each test server
VIRTUOSO_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")
VIRTUOSO_USER = VIRTUOSO_PASSWORD = "dba"


def serve_on_loopback(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threading HTTP server on a free 127.0.0.1 port, serving from a daemon thread; the test servers'
    one way to start (stop it with ``shutdown()`` then ``server_close()``)."""
    handler.disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class ServerUnavailable(RuntimeError):
    """A test server could not be started; the message says why and what to install."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(check: Callable[[], bool], process: subprocess.Popen, timeout: float, what: str, log: Path) -> None:
    """Poll ``check`` until it holds, the process dies, or ``timeout`` seconds pass (then raise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(f"{what} exited with code {process.returncode} while starting: {_tail(log)}")
        with contextlib.suppress(requests.RequestException, OSError):
            if check():
                return
        time.sleep(0.2)
    raise ServerUnavailable(f"{what} did not answer within {timeout:g} s: {_tail(log)}")


@dataclass
class Server:
    """A running server and how the bus reaches it (the ``TRANSISCOPE_STORE_*`` variables)."""

    kind: str
    process: subprocess.Popen
    directory: Path
    log: Path
    base: str
    query_url: str
    update_url: str
    graph_store_url: str = ""
    user: str = ""
    password: str = ""
    auth: str = "basic"
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, *, graph_store: bool = True, chunk_triples: int | None = None) -> dict[str, str]:
        env = {
            "TRANSISCOPE_STORE": "remote",
            "TRANSISCOPE_STORE_QUERY_URL": self.query_url,
            "TRANSISCOPE_STORE_UPDATE_URL": self.update_url,
            "TRANSISCOPE_STORE_GRAPH_STORE_URL": self.graph_store_url if graph_store else "",
            "TRANSISCOPE_STORE_USER": self.user,
            "TRANSISCOPE_STORE_PASSWORD": self.password,
            "TRANSISCOPE_STORE_AUTH": self.auth,
        }
        if chunk_triples:
            env["TRANSISCOPE_STORE_CHUNK_TRIPLES"] = str(chunk_triples)
        return env

    def settings(self, **overrides):
        from transiscope.settings import StoreSettings

        values = dict(
            kind="remote",
            query_url=self.query_url,
            update_url=self.update_url,
            graph_store_url=self.graph_store_url,
            user=self.user,
            password=self.password,
            auth=self.auth,
            timeout=600.0,
        )
        values.update(overrides)
        return StoreSettings(**values)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the process that started it dies, so a
    killed test run leaves no server behind (best effort; elsewhere ``stop()`` is the only way)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def _popen(command: list[str], directory: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            command,
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def oxigraph_binary() -> str:
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        raise ServerUnavailable(
            "the `oxigraph` server binary was not found: install the project's dev extra "
            "(pip install -e '.[dev]' installs the PyPI package oxigraph)"
        )
    return found


def start_oxigraph(parent: Path | None = None, timeout: float = 30.0) -> Server:
    directory = Path(tempfile.mkdtemp(prefix="oxigraph-", dir=parent))
    port = free_port()
    log = directory / "oxigraph.log"
    process = _popen(
        [
            oxigraph_binary(),
            "serve",
            "--location",
            str(directory / "db"),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
        ],
        directory,
        log,
    )
    base = f"http://127.0.0.1:{port}"
    server = Server("oxigraph", process, directory, log, base, f"{base}/query", f"{base}/update", f"{base}/store")
    try:
        wait_until(
            lambda: requests.get(server.query_url, params={"query": "ASK {}"}, timeout=2).ok,
            process,
            timeout,
            "the Oxigraph server",
            log,
        )
    except BaseException:
        server.stop()
        raise
    return server


#: [Parameters] values set in the test servers: more buffers than the package's 10,000 (80 MB), as
#: millions of triples are loaded; a larger transaction log limit than the default 50 MB, which one
#: MOVE of 2.8 M triples exceeds (Virtuoso then aborts it with SR325 and rolls it back). The value must
#: stay below 2**31: 3000000000 was read as the 10,000-byte minimum and refused 300-triple loads.
VIRTUOSO_PARAMETERS = {
    "NumberOfBuffers": "170000",
    "MaxDirtyBuffers": "130000",
    "TransactionAfterImageLimit": "2000000000",
}


def virtuoso_ini(
    template: str, directory: Path, sql_port: int, http_port: int, parameters: dict[str, str] | None = None
) -> str:
    """The package's ini with every file in ``directory``, both ports on 127.0.0.1 and ``parameters``
    (default :data:`VIRTUOSO_PARAMETERS`) set in its [Parameters] section."""
    parameters = VIRTUOSO_PARAMETERS if parameters is None else parameters
    text = re.sub(
        r"(?m)^(\s*(?:DatabaseFile|ErrorLogFile|LockFile|TransactionFile|xa_persistent_file)\s*=\s*)\S+",
        lambda m: m.group(1) + str(directory / Path(m.group(0).split("=", 1)[1].strip()).name),
        template,
    )
    sections = re.split(r"(?m)^(?=\[)", text)
    out = []
    for section in sections:
        if section.startswith("[Parameters]"):
            section = re.sub(r"(?m)^(\s*ServerPort\s*=\s*)\S+", rf"\g<1>127.0.0.1:{sql_port}", section)
            for name, value in parameters.items():
                section = re.sub(rf"(?m)^\s*{name}\s*=.*\n?", "", section)
                section = section.replace("[Parameters]\n", f"[Parameters]\n{name} = {value}\n", 1)
        elif section.startswith("[HTTPServer]"):
            section = re.sub(r"(?m)^(\s*ServerPort\s*=\s*)\S+", rf"\g<1>127.0.0.1:{http_port}", section)
        elif section.startswith("[URIQA]"):
            section = re.sub(r"(?m)^(\s*DefaultHost\s*=\s*)\S+", rf"\g<1>127.0.0.1:{http_port}", section)
        out.append(section)
    return "".join(out)


def start_virtuoso(
    parent: Path | None = None, timeout: float = 90.0, parameters: dict[str, str] | None = None
) -> Server:
    binary, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt")
    if not binary or not isql or not VIRTUOSO_INI.exists():
        raise ServerUnavailable(
            "Virtuoso is not installed (virtuoso-t, isql-vt or the package's virtuoso.ini is "
            "missing): install the Debian package virtuoso-opensource — `make test` does it"
        )
    directory = Path(tempfile.mkdtemp(prefix="virtuoso-", dir=parent))
    sql_port, http_port = free_port(), free_port()
    ini = directory / "virtuoso.ini"
    ini.write_text(
        virtuoso_ini(
            VIRTUOSO_INI.read_text(encoding="utf-8", errors="replace"), directory, sql_port, http_port, parameters
        ),
        encoding="utf-8",
    )
    log = directory / "virtuoso.out"
    process = _popen([binary, "+foreground", "+configfile", str(ini)], directory, log)
    base = f"http://127.0.0.1:{http_port}"
    server = Server(
        "virtuoso",
        process,
        directory,
        log,
        base,
        f"{base}/sparql",
        f"{base}/sparql-auth",
        f"{base}/sparql-graph-crud-auth",
        VIRTUOSO_USER,
        VIRTUOSO_PASSWORD,
        "digest",
        extra={"basic_url": f"{base}/sparql-basic", "sql_port": str(sql_port)},
    )
    try:
        wait_until(
            lambda: requests.get(server.query_url, params={"query": "ASK {}"}, timeout=2).ok,
            process,
            timeout,
            "Virtuoso",
            log,
        )
        define = (
            "DB.DBA.VHOST_DEFINE(lpath=>'/sparql-basic', ppath=>'/!sparql/', is_dav=>1, vsp_user=>'dba', "
            "opts=>vector('noinherit', 1), auth_fn=>'DB.DBA.HP_AUTH_SPARQL_USER', realm=>'SPARQL', "
            "sec=>'basic');"
        )
        done = subprocess.run(
            [isql, f"127.0.0.1:{sql_port}", VIRTUOSO_USER, VIRTUOSO_PASSWORD, f"exec={define}"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=directory,
        )
        if done.returncode != 0 or "Error" in done.stdout + done.stderr:
            raise ServerUnavailable(f"isql-vt could not define /sparql-basic: {(done.stdout + done.stderr)[-300:]}")
    except BaseException:
        server.stop()
        raise
    return server


class FlakyProxy:
    """A loopback HTTP proxy in front of a server that fails on purpose: from the ``fail_from``-th request
    whose method and path match, it answers ``status`` (or, with ``status=None``, closes the connection
    without an answer, like a lost connection). Other requests are forwarded as they are."""

    def __init__(
        self, target: str, *, method: str = "POST", path: str = "", fail_from: int = 1, status: int | None = 500
    ) -> None:
        self.target = target.rstrip("/")
        self.matched = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == method and self.path.split("?", 1)[0].endswith(path):
                    proxy.matched += 1
                    if proxy.matched >= fail_from:
                        if status is None:
                            self.close_connection = True
                            with contextlib.suppress(OSError):
                                self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        payload = f"refused on purpose by the test proxy (request {proxy.matched})".encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "text/plain")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                reply = requests.request(
                    self.command,
                    proxy.target + self.path,
                    data=body,
                    headers=headers,
                    timeout=600,
                    allow_redirects=False,
                )
                self.send_response(reply.status_code)
                for key, value in reply.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, server_url: str) -> str:
        """``server_url`` (of the target) as reached through the proxy."""
        return self.base + server_url[len(self.target) :]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


if __name__ == "__main__":  # manual check: start both, print their endpoints, stop them
    for start in (start_oxigraph, start_virtuoso):
        began = time.monotonic()
        running = start()
        print(f"{running.kind}: {running.base} up in {time.monotonic() - began:.1f} s (pid {running.process.pid})")
        running.stop()
    print("both stopped")
