"""A fault-injecting HTTP server on 127.0.0.1: each path answers a scripted list of faults.

Unlike :class:`tests.conftest.PayloadServer`, a reply here can also stall (a timeout), cut the body off
after some bytes and drop the connection (a reset mid-body), and routes match the query string too
(``/p?page=2``) when one is scripted, so paginated sources can fail on their second page.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.integration.servers import serve_on_loopback


@dataclass
class Fault:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering (longer than the read timeout = a timeout)
    delay: float = 0.0
    #: send only this many bytes of the body (Content-Length announces all of it), then drop the connection
    cut_after: int | None = None


class FaultServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Fault]] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                key = self.path if self.path in server.routes else self.path.split("?", 1)[0]
                server.hits[key] = server.hits.get(key, 0) + 1
                faults = server.routes.get(key)
                if not faults:
                    self.send_error(404)
                    return
                fault = faults.pop(0) if len(faults) > 1 else faults[0]
                if fault.delay:
                    time.sleep(fault.delay)
                self.send_response(fault.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **fault.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(fault.body)))
                if fault.cut_after is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if fault.cut_after is not None:
                    self.wfile.write(fault.body[: fault.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(fault.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def set(self, path: str, *faults: Fault) -> str:
        self.routes[path] = list(faults)
        self.hits[path.split("?", 1)[0]] = 0
        self.hits[path] = 0
        return self.base + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
