"""A real HTTP server on 127.0.0.1 for the demo site and the tests.

Serves a folder with ``{{BASE}}`` replaced by the server's origin, strong ETags and
Last-Modified, and answers conditional requests with 304. Extra routes let tests serve
hostile responses (status codes, headers, bodies) from the same server.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Route = Callable[["Handler"], tuple[int, dict[str, str], bytes] | None]

CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_START = formatdate(usegmt=True)


class Handler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests and the demo read results, not access logs

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:  # noqa: N802
        self.server.hits.append(self.path)
        path = self.path.split("?", 1)[0]
        route = self.server.routes.get(path) or self.server.routes.get(self.path)
        result = route(self) if route else self._static(path)
        if result is None:
            return  # the route wrote (or deliberately broke) the response itself
        status, headers, body = result
        self.send_response(status)
        headers = {"Content-Length": str(len(body)), **headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)

    def _static(self, path: str) -> tuple[int, dict[str, str], bytes]:
        root = self.server.root
        if root is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        target = (root / path.lstrip("/")).resolve()
        if path.endswith("/"):
            target = target / "index.html"
        if root.resolve() not in target.parents and target != root.resolve() or not target.is_file():
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body><h1>Not found</h1></body></html>"
        body = target.read_bytes()
        if target.suffix in (".xml", ".rdf", ".json", ".html", ".txt", ".toml"):
            body = body.replace(b"{{BASE}}", self.server.base.encode())
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {
            "Content-Type": CONTENT_TYPES.get(target.suffix)
            or mimetypes.guess_type(target.name)[0]
            or "application/octet-stream",
            "ETag": etag,
            "Last-Modified": _START,
        }
        if self.headers.get("If-None-Match") == etag or (
            not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == _START
        ):
            return 304, {"ETag": etag, "Last-Modified": _START}, b""
        return 200, headers, body


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path | None = None, port: int = 0, routes: dict[str, Route] | None = None):
        super().__init__(("127.0.0.1", port), Handler)
        self.root = Path(root) if root else None
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: list[str] = []
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> LocalServer:
        self._thread = threading.Thread(target=self.serve_forever, name="localsite", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
