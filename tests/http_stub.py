"""A tiny HTTP server on 127.0.0.1 that records every request and answers as a test says.

Three uses in the audit tests:
- an EC2 endpoint that answers what EC2 never would (invalid XML, an error that echoes the
  session token), served to the real boto3 client;
- an endpoint that never answers, to show that the audits give up after their timeout;
- an HTTP(S) proxy (HTTPS_PROXY / HTTP_PROXY point at it): every request a client would send
  to any host, also to one that does not exist here, reaches it first and is recorded (a
  CONNECT line for https). So a test can show that a refused endpoint received nothing, and
  that the same command without the refusal would have sent there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Stub:
    """What the server answers (`status`, `body`), or `hang` to answer nothing; `requests`
    lists 'METHOD target' of each request received, `bodies` their bodies."""

    status: int = 502
    body: bytes = b""
    content_type: str = "text/xml"
    hang: bool = False
    requests: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    url: str = ""
    released: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "Stub":
        handler = type("Handler", (_Handler,), {"stub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()  # a hanging handler returns now
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    stub: Stub
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.stub.requests.append(f"{self.command} {self.path}")
        self.stub.bodies.append(body)
        if self.stub.hang:
            self.stub.released.wait(timeout=60)
            self.close_connection = True
            return
        self.send_response(self.stub.status)
        self.send_header("Content-Type", self.stub.content_type)
        self.send_header("Content-Length", str(len(self.stub.body)))
        if self.command == "CONNECT":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(self.stub.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_CONNECT = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass
