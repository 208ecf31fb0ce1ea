"""A small threaded HTTP server for the REST sandboxes (Meta, LinkedIn, CRM), with faults.

Each sandbox supplies one `handle(request) -> Response` function and a `throttled(request)`
answer in its platform's own shape (Meta's error codes, a 429 with Retry-After, ...). The
server adds what every platform does to us on a bad day, on demand: throttling, 5xx,
dropped connections and slow answers, either queued one by one or at a random rate.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("throttle", "server_error", "drop", "slow")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, default=str).encode()


@dataclass
class FaultPlan:
    """Which calls fail and how: `queued` faults hit the next calls in order; otherwise each
    call fails with probability `rate`, drawing a kind from `kinds` (seeded, reproducible)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    slow_seconds: float = 0.5
    queued: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) | set(self.queued)
        unknown -= set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {FAULT_KINDS}")
        self._rng = random.Random(self.seed)

    def next_fault(self) -> str | None:
        if self.queued:
            return self.queued.popleft()
        if self.rate and self._rng.random() < self.rate:
            return self._rng.choice(self.kinds)
        return None


Handler = Callable[[Request], Response]


class SandboxHttpServer:
    """Serves `handle` on 127.0.0.1 in a background thread; `base_url` has no trailing slash."""

    def __init__(
        self,
        name: str,
        handle: Handler,
        *,
        throttled: Handler,
        port: int = 0,
    ) -> None:
        self.name = name
        self._handle = handle
        self._throttled = throttled
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.faults = FaultPlan()
        self.calls = 0
        self.faults_served: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> SandboxHttpServer:
        if self._server is not None:
            return self
        sandbox = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Small JSON answers on kept-alive connections: without this, Nagle and delayed
            # ACKs add ~40 ms to every call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return  # the sandbox keeps its own call counts; stderr stays quiet

            def _serve(self) -> None:
                sandbox._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.name} sandbox is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ----------------------------------------------------------------------------
    def inject(self, kind: str, count: int = 1) -> None:
        """The next `count` calls fail with `kind` (throttle, server_error, drop, slow)."""
        with self._lock:
            self.faults.queued.extend([kind] * count)
            self.faults.__post_init__()

    def fail_randomly(
        self, rate: float, seed: int = 0, kinds: tuple[str, ...] = FAULT_KINDS
    ) -> None:
        with self._lock:
            self.faults = FaultPlan(rate=rate, kinds=kinds, seed=seed)

    # -- serving ---------------------------------------------------------------------------
    def _dispatch(self, raw: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(raw.path)
        length = int(raw.headers.get("Content-Length") or 0)
        request = Request(
            method=raw.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=raw.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.calls += 1
            fault = self.faults.next_fault()
            if fault:
                self.faults_served[fault] += 1
        if fault == "drop":
            # Close without a byte of response: the client sees a dropped connection.
            raw.close_connection = True
            raw.connection.close()
            return
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        if fault == "throttle":
            response = self._throttled(request)
        elif fault == "server_error":
            response = Response(503, {"error": {"message": "Service temporarily unavailable"}})
        else:
            try:
                response = self._handle(request)
            except Exception as error:  # noqa: BLE001 - a sandbox bug must answer 500, not hang
                response = Response(500, {"error": {"message": f"sandbox error: {error}"}})
        payload = response.encoded()
        raw.send_response(response.status)
        content_type = (
            "application/octet-stream" if isinstance(response.body, bytes) else "application/json"
        )
        raw.send_header("Content-Type", response.headers.pop("Content-Type", content_type))
        raw.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            raw.send_header(name, value)
        raw.end_headers()
        raw.wfile.write(payload)
