"""A loopback HTTP receiver for webhook notifications: records every POST, answers scripted statuses."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integration.servers import serve_on_loopback


class WebhookReceiver:
    """Listens on 127.0.0.1 (free port); ``statuses`` are answered in order, the last one repeats."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [200]
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                if status < 300:
                    receiver.received.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/hooks/transiscope"

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """The received payloads once there are ``count`` of them (bounded wait)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.received)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
