"""A tiny public image server for the channels whose platform fetches images itself (Instagram,
Threads): the sandbox's emulators download ``Image.url`` from it, as Meta downloads from
PORTEVOIX_MEDIA_BASE_URL."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image as PILImage


class ImageServer:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []
        files, hits = self.files, self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                hits.append(self.path)
                found = files.get(self.path)
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data, ctype = found
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    def add(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self.files[f"/{name}"] = (data, content_type)
        return f"{self.base}/{name}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def picture(width: int = 1080, height: int = 1080, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 180, 40)).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.stop()
