"""The sandbox's HTTP server, fault injection, clock and simulated public.

Each platform emulator is an :class:`Emulator` subclass that answers :class:`Request` objects
with :class:`Response` objects; this module owns sockets, routing, faults and the control API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.parser
import email.policy
import hashlib
import itertools
import json
import logging
import math
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("porte_voix.sandbox")

# ---------------------------------------------------------------------------------------------
# Requests and responses


@dataclasses.dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> tuple[dict[str, list[str]], dict[str, UploadedFile]]:
        """Fields and files of a urlencoded or multipart body."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body
            )
            fields: dict[str, list[str]] = {}
            files: dict[str, UploadedFile] = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                raw = part.get_payload(decode=True)
                payload = raw if isinstance(raw, bytes) else b""
                if filename is not None:
                    files[str(name)] = UploadedFile(
                        filename, part.get_content_type(), payload
                    )
                else:
                    fields.setdefault(str(name), []).append(payload.decode("utf-8"))
            return fields, files
        if ctype.startswith("application/json"):
            data = self.json()
            return {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in data.items()}, {}
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True), {}

    def params(self) -> dict[str, list[str]]:
        """Query and body fields together (Graph and Mastodon accept both)."""
        merged = {k: list(v) for k, v in self.query.items()}
        if self.body and not self.headers.get("content-type", "").startswith("multipart"):
            for k, v in self.form()[0].items():
                merged.setdefault(k, []).extend(v)
        return merged

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None


@dataclasses.dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))


# ---------------------------------------------------------------------------------------------
# Faults


@dataclasses.dataclass
class Fault:
    """A rule applied to the next ``count`` matching requests.

    actions: ``error_after_write`` (handle, then answer ``status``), ``timeout_after_write``
    (handle, then stay silent for ``delay`` seconds and drop the connection), ``reset`` (drop the
    connection before handling), ``slow`` (wait ``delay`` seconds, then handle), ``rate_limit``
    (answer the platform's 429 without handling), ``error`` (answer ``status`` without handling),
    ``revoke`` (answer the platform's bad-token error without handling), ``stall`` (wait
    ``delay`` seconds, then drop the connection without handling: a call in flight that never
    writes). ``skip`` lets that many matching requests through first (a thread's part 3: skip 2).
    """

    action: str
    platform: str | None = None
    method: str | None = None
    path: str | None = None  # a regular expression searched in the path
    count: int = 1
    status: int = 503
    delay: float = 0.0
    id: int = 0
    skip: int = 0

    ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"error_after_write", "timeout_after_write", "reset", "slow", "rate_limit", "error", "revoke", "stall"}
    )

    def matches(self, platform: str, req: Request) -> bool:
        if self.platform and self.platform != platform:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        return not (self.path and not re.search(self.path, req.path))


class DropConnection(Exception):
    """Raised to close the socket without answering (RST)."""


# ---------------------------------------------------------------------------------------------
# Emulators


class Emulator:
    """One platform's API. Subclasses set ``platform``, ``prefixes`` and implement ``handle``."""

    platform: ClassVar[str]
    prefixes: ClassVar[tuple[str, ...]]

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    #: Claims its requests before the others: its paths overlap another emulator's (Instagram
    #: and Threads speak Graph's ``/vNN.N/`` paths, as Facebook does).
    narrow: ClassVar[bool] = False

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)

    def claims(self, req: Request) -> bool:
        """Whether this emulator answers ``req`` (by default: by its path alone)."""
        return self.owns(req.path)

    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def rate_limited(self, req: Request) -> Response:
        """The platform's own 429 (subclasses give the real headers and body)."""
        reset = int(self.sandbox.now()) + 60
        return json_response({"error": "rate limited"}, 429, **{"retry-after": "60", "x-ratelimit-reset": str(reset)})

    def bad_token(self, req: Request) -> Response:
        return json_response({"error": "invalid token"}, 401)

    def reset(self) -> None:
        """Forget every post and counter."""

    def posts(self) -> list[dict[str, Any]]:
        """Every post kept, as plain dicts with at least ``id`` and ``text`` (for tests and demo)."""
        return []


# ---------------------------------------------------------------------------------------------
# The simulated public


def engagement(seed: int, platform: str, post_id: str, age_seconds: float) -> dict[str, int]:
    """Deterministic figures for a post of a given age: fast growth first, then a plateau."""
    digest = hashlib.sha256(f"{seed}:{platform}:{post_id}".encode()).digest()
    a, b, c, d = struct.unpack(">4H", digest[:8])
    appeal = 0.5 + (a / 65535) * 2.0  # how much this post speaks to people
    age = max(0.0, age_seconds)
    # saturating curve: half of the final reach after ~20 minutes of simulated time
    reach = 4000 * appeal * (1 - math.exp(-age / 1800.0))
    views = int(reach)
    likes = int(reach * (0.02 + (b / 65535) * 0.03))
    shares = int(reach * (0.005 + (c / 65535) * 0.01))
    replies = int(reach * (0.002 + (d / 65535) * 0.004))
    quotes = int(replies / 3)
    return {"views": views, "likes": likes, "shares": shares, "replies": replies, "quotes": quotes}


# ---------------------------------------------------------------------------------------------
# The sandbox


class Sandbox:
    """State shared by the emulators: clock, seed, faults, revoked tokens, ids."""

    def __init__(self, *, seed: int = 1, speed: float = 1.0) -> None:
        self.seed = seed
        self.speed = speed  # simulated seconds of engagement per real second
        self.lock = threading.RLock()
        self.offset = 0.0
        self.faults: list[Fault] = []
        self.revoked: set[str] = set()
        self.request_log: list[tuple[str, str, str]] = []  # (platform, method, path)
        self._ids = itertools.count(1)
        self._fault_ids = itertools.count(1)
        self.emulators: list[Emulator] = []
        self._load_emulators()

    def _load_emulators(self) -> None:
        from channels.sandbox import registry

        for factory in registry.emulator_classes():
            self.emulators.append(factory(self))
        # the emulators whose paths overlap another's are asked first
        self.emulators.sort(key=lambda e: not e.narrow)

    # clock ----------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds

    def age(self, created: float) -> float:
        return (self.now() - created) * self.speed

    def next_id(self) -> int:
        return next(self._ids)

    def metrics_for(self, platform: str, post_id: str, created: float) -> dict[str, int]:
        return engagement(self.seed, platform, post_id, self.age(created))

    # faults ---------------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        if fault.action not in Fault.ACTIONS:
            raise ValueError(f"unknown fault action {fault.action!r}")
        with self.lock:
            fault.id = next(self._fault_ids)
            self.faults.append(fault)
        return fault

    def take_fault(self, platform: str, req: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(platform, req):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.revoked.clear()
            self.request_log.clear()
            self.offset = 0.0
            for emulator in self.emulators:
                emulator.reset()

    def emulator(self, platform: str) -> Emulator:
        for emulator in self.emulators:
            if emulator.platform == platform:
                return emulator
        raise KeyError(platform)

    def posts(self, platform: str) -> list[dict[str, Any]]:
        return self.emulator(platform).posts()

    def calls(self, platform: str | None = None, path: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for p, _m, pa in self.request_log
                if (platform is None or p == platform) and (path is None or re.search(path, pa))
            )

    # dispatch -------------------------------------------------------------------------------
    def dispatch(self, req: Request) -> tuple[Response, Fault | None]:
        if req.path.startswith("/_sandbox/"):
            return self.control(req), None
        for emulator in self.emulators:
            if emulator.claims(req):
                with self.lock:
                    self.request_log.append((emulator.platform, req.method, req.path))
                fault = self.take_fault(emulator.platform, req)
                token = req.bearer()
                if fault is None and token is not None and token in self.revoked:
                    return emulator.bad_token(req), None
                if fault is not None:
                    if fault.action == "reset":
                        raise DropConnection
                    if fault.action == "stall":
                        time.sleep(fault.delay)
                        raise DropConnection
                    if fault.action == "rate_limit":
                        return emulator.rate_limited(req), None
                    if fault.action == "revoke":
                        return emulator.bad_token(req), None
                    if fault.action == "error":
                        return json_response({"error": "sandbox fault"}, fault.status), None
                    if fault.action == "slow":
                        time.sleep(fault.delay)
                        return emulator.handle(req), None
                return emulator.handle(req), fault
        return json_response({"error": f"no emulator serves {req.path}"}, 404), None

    def control(self, req: Request) -> Response:
        path = req.path.removeprefix("/_sandbox/").rstrip("/")
        if path == "health":
            return json_response({"ok": True, "seed": self.seed})
        if path == "reset" and req.method == "POST":
            self.clear()
            return json_response({"ok": True})
        if path == "faults" and req.method == "POST":
            data = req.json()
            try:
                fault = self.add_fault(Fault(**data))
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(dataclasses.asdict(fault), 201)
        if path == "faults" and req.method == "GET":
            with self.lock:
                return json_response([dataclasses.asdict(f) for f in self.faults])
        if path == "clock" and req.method == "POST":
            self.advance(float(req.json().get("advance", 0)))
            return json_response({"now": self.now()})
        if path == "revoke" and req.method == "POST":
            with self.lock:
                self.revoked.add(str(req.json()["token"]))
            return json_response({"ok": True})
        if path == "restore" and req.method == "POST":
            with self.lock:
                self.revoked.discard(str(req.json()["token"]))
            return json_response({"ok": True})
        if path.startswith("public/") and req.method == "POST":
            # The simulated public posts (hashtags, photos, replies, quotes, reposts), for the demo
            # and for tests in another process: {"term", "n", "kinds", "answers", "spread", ...}.
            emulator = next((e for e in self.emulators if e.platform == path[7:]), None)
            inject = getattr(emulator, "inject_public", None)
            if inject is None:
                return json_response({"error": f"no simulated public on {path[7:]}"}, 404)
            try:
                made = inject(**req.json())
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"count": len(made), "ids": made[:1000]}, 201)
        if path.startswith("settings/") and req.method == "POST":
            # An emulator's own knobs, for tests and demos in another process (Instagram's and
            # Threads' "not ready yet" polls, failing containers, quotas).
            emulator = next((e for e in self.emulators if e.platform == path[9:]), None)
            configure = getattr(emulator, "configure", None)
            if configure is None:
                return json_response({"error": f"no settings on {path[9:]}"}, 404)
            try:
                return json_response(configure(**req.json()))
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
        if path.startswith("posts/"):
            platform = path.removeprefix("posts/")
            try:
                return json_response(self.posts(platform))
            except KeyError:
                return json_response({"error": f"unknown platform {platform}"}, 404)
        return json_response({"error": "unknown control call"}, 404)


# ---------------------------------------------------------------------------------------------
# HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("sandbox %s", format % args)

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY each keep-alive request
        # stalls ~40 ms on delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            resp, fault = self.server.sandbox.dispatch(req)
        except DropConnection:
            self._drop()
            return
        except Exception as exc:  # an emulator bug must look like a platform 500, not hang
            log.exception("sandbox handler failed")
            resp, fault = json_response({"error": f"sandbox error: {exc}"}, 500), None
        if fault is not None:
            if fault.action == "error_after_write":
                resp = json_response({"error": "sandbox fault after write"}, fault.status)
            elif fault.action == "timeout_after_write":
                time.sleep(fault.delay or 5.0)
                self._drop()
                return
        self._send(resp)

    def _send(self, resp: Response) -> None:
        payload = resp.encoded()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        # SO_LINGER 0 makes close() send RST: the client sees a connection reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class SandboxServer:
    """A running sandbox: ``url`` to point accounts at, ``sandbox`` to inspect or steer it."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._server = _Server((host, port), sandbox)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox", daemon=True, kwargs={"poll_interval": 0.1}
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_fault(self, action: str, **kwargs: Any) -> Fault:
        return self.sandbox.add_fault(Fault(action=action, **kwargs))

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(*, port: int = 0, seed: int = 1, speed: float = 1.0, host: str = "127.0.0.1") -> SandboxServer:
    return SandboxServer(Sandbox(seed=seed, speed=speed), host=host, port=port).start()


Handler = Callable[[Request], Response]
