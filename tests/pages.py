"""A local web server whose pages a test writes (for link cards), and pictures to serve."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image as PILImage


def picture(width: int = 600, height: int = 315, fmt: str = "PNG", noise: bool = False) -> bytes:
    out = io.BytesIO()
    if noise:
        image = PILImage.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = PILImage.new("RGB", (width, height), (250, 220, 0))
    image.save(out, format=fmt)
    return out.getvalue()


class Pages:
    """A local web server whose answers the test writes: (status, headers, body, delay)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.hits: list[str] = []
        self.hosts: list[str] = []  # the Host header of each request
        routes, hits, hosts = self.routes, self.hits, self.hosts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                hits.append(self.path)
                hosts.append(self.headers.get("Host", ""))
                status, headers, body, delay = routes.get(self.path, (404, {}, b"", 0.0))
                self.send_response(status)
                for name, value in headers.items():
                    if value:  # an empty value: the header is left out (a body read to the end)
                        self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if delay:
                        self.wfile.write(body[:10])
                        self.wfile.flush()
                        time.sleep(delay)
                        self.wfile.write(body[10:])
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def add(self, path: str, body: bytes | str, *, status: int = 200, content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None, delay: float = 0.0) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, {"Content-Type": content_type, **(headers or {})}, data, delay)
        return self.base + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve() -> Iterator[Pages]:
    """For a module's ``pages`` fixture: ``yield from serve()``."""
    server = Pages()
    yield server
    server.stop()


PAGE = """<!doctype html><html><head>
<title>Titre du document</title>
<meta property="og:title" content="Libérez Juan López">
<meta property="og:description" content="Défenseur de l'eau au Honduras, tué en 2024.">
<meta property="og:image" content="/images/juan.png">
<meta name="description" content="La description simple">
</head><body>…</body></html>"""
