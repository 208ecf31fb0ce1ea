"""Pure ASGI middleware: Prometheus metrics for every request, and ETag/Cache-Control on
successful reads (a matching If-None-Match answers 304 with no body)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Dashboard reads sit in the low milliseconds; the buckets resolve the 50 ms aim.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """The app's own registry, so two apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bizo_api_requests",
            "Requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bizo_api_request_duration_seconds",
            "Time to the last response byte, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The template, not the path: ids in paths would make a series per id.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)


class HttpCacheMiddleware:
    """Successful GETs under `prefix` get a strong ETag (hash of the body) and private
    caching; everything else is `no-store`. The tenant comes from the credentials, so
    responses vary by them and shared caches must not keep them."""

    def __init__(
        self, app: ASGIApp, prefix: str, max_age_seconds: int, uncached: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.uncached = uncached
        self.cache_control = f"private, max-age={max_age_seconds}, must-revalidate".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if (
            scope["method"] not in ("GET", "HEAD")
            or not path.startswith(self.prefix)
            or path.startswith(self.uncached)
        ):
            await self.app(scope, receive, self._no_store(send))
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._finish(scope, send, start, b"".join(chunks))

        await self.app(scope, receive, buffer)

    async def _finish(self, scope: Scope, send: Send, start: Message, body: bytes) -> None:
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"cache-control"]
        if start["status"] != 200:
            headers.append((b"cache-control", b"no-store"))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        headers += [
            (b"etag", etag),
            (b"cache-control", self.cache_control),
            (b"vary", b"Authorization, X-API-Key, Cookie"),
        ]
        if etag in _if_none_match(scope):
            kept = [
                (k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")
            ]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _no_store(send: Send) -> Send:
        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message["headers"])
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        return add_header


def _if_none_match(scope: Scope) -> set[bytes]:
    for key, value in scope["headers"]:
        if key == b"if-none-match":
            return {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
    return set()
