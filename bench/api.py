"""Serving API benchmark: uvicorn on loopback under 64 concurrent connections, per endpoint,
next to a bare psycopg loop running the same SQL as the same role in the same run.

    .venv/bin/python -m bench.api [--profile medium] [--days 90] [--seconds 10] [--reuse]

The warehouse is the `--profile` sandbox world loaded through the real pipeline (connectors,
Dagster jobs, dbt) into its own database `bizo_bench_api`; `--reuse` keeps a loaded one.
The API runs as its own process (one uvicorn worker, pool of 10, role bizo_api under RLS);
the load generator (a minimal keep-alive HTTP/1.1 client, 64 connections) and the bare loop
(psycopg async pool of 10, 64 tasks: set_config + the endpoint's query per transaction) run
here. Aim: dashboard reads
at p95 under 50 ms. Both sides share this machine's cores, which the ratios account for.
Recommendations, curves and reports come from one morning of the agents, run after the load
as `bizo demo` does; leads come from the ML assets, which the load does not run (a model
needs 90-day outcomes), so that line times the route on the rows there are.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from bench.common import timed

CONCURRENCY = 64
POOL_SIZE = 10
BENCH_DATABASE = "bizo_bench_api"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    params: dict[str, str]
    bare_sql: Callable[[], tuple]  # (query, params) the route runs, for the bare loop


@dataclass
class Result:
    latencies: list[float]
    seconds: float
    errors: int

    def line(self) -> str:
        q = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return (
            f"p50 {q[49] * 1000:6.1f} ms  p95 {q[94] * 1000:6.1f} ms  "
            f"p99 {q[98] * 1000:6.1f} ms  {len(self.latencies) / self.seconds:7.0f} req/s"
            + (f"  ({self.errors} errors)" if self.errors else "")
        )

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[94]


async def _run_load(call: Callable[[], Awaitable[bool]], seconds: float) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await call()
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return Result(latencies, time.perf_counter() - started, errors)


def _progress(step: str) -> None:
    print(f"  {step}", flush=True)


def _load_warehouse(profile: str, days: int, reuse: bool) -> list[str]:
    """The bench database with the world loaded and marts built; returns its tenants."""
    import dagster as dg
    from rich.console import Console

    from bench.common import use_bench_database
    from bizo.demo import (
        DemoOptions,
        ensure_world,
        land_files,
        load_history,
        register_tenants,
        run_agent_cycle,
        start_sandbox,
    )
    from warehouse import db
    from warehouse.settings import get_settings

    os.environ["BIZO_WAREHOUSE_DATABASE"] = BENCH_DATABASE
    os.environ["BIZO_DAGSTER_DATABASE"] = f"dagster_{BENCH_DATABASE}"
    if reuse:
        try:
            with db.connect() as conn:
                tenants = [r[0] for r in conn.execute("SELECT tenant_id FROM app.tenants")]
                loaded = conn.execute("SELECT count(*) FROM marts.ad_performance_daily")
                if tenants and loaded.fetchone()[0]:
                    print(f"  reusing {BENCH_DATABASE}")
                    return sorted(tenants)
        except psycopg.errors.UndefinedTable as missing:
            print(f"  nothing to reuse ({missing}); loading")
    use_bench_database(BENCH_DATABASE)
    os.environ["BIZO_LANDING_DIR"] = tempfile.mkdtemp(prefix="bizo-bench-landing-")
    get_settings.cache_clear()
    settings = get_settings()
    console = Console()
    options = DemoOptions(profile=profile, days=days, sandbox_port=0)
    ensure_world(console, options)
    tenants = register_tenants(console, settings)
    services = start_sandbox(settings, options)
    os.environ.update(services.client_env())
    try:
        land_files(settings, tenants, days)
        storage = {"storage": {"postgres": {"postgres_url": db.dagster_storage_url()}}}
        with dg.instance_for_test(overrides=storage) as instance:
            load_history(tenants, days, _progress, instance)
            run_agent_cycle(tenants, _progress, instance)  # recommendations, curves, reports
    finally:
        services.stop()
    return tenants


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_api(port: int) -> subprocess.Popen:
    env = {**os.environ, "BIZO_WAREHOUSE_DATABASE": BENCH_DATABASE}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "serving_api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the API did not become ready")


def _endpoints(last: date, tenant: str) -> list[Endpoint]:
    from serving_api.params import DateRange
    from serving_api.routers.funnel import funnel_query
    from serving_api.routers.leads import leads_query
    from serving_api.routers.performance import performance_query
    from warehouse.agent_store import LATEST_CURVES_SQL, recommendations_query

    month = DateRange(last - timedelta(days=27), last)
    quarter = DateRange(last - timedelta(days=89), last)

    def params(r: DateRange, **extra: str) -> dict[str, str]:
        return {"start": r.start.isoformat(), "end": r.end.isoformat(), **extra}

    return [
        Endpoint(
            "performance day×platform 28d",
            "/v1/performance",
            params(month),
            lambda: performance_query(month, "day", "platform"),
        ),
        Endpoint(
            "performance week×campaign 90d",
            "/v1/performance",
            params(quarter, grain="week", level="campaign"),
            lambda: performance_query(quarter, "week", "campaign"),
        ),
        Endpoint(
            "performance day×ad 28d",
            "/v1/performance",
            params(month, level="ad"),
            lambda: performance_query(month, "day", "ad"),
        ),
        Endpoint(
            "funnel 90d",
            "/v1/funnel",
            params(quarter),
            lambda: funnel_query(quarter, "none", "USD"),
        ),
        Endpoint(
            "funnel by source 90d",
            "/v1/funnel",
            params(quarter, group_by="source"),
            lambda: funnel_query(quarter, "source", "USD"),
        ),
        # Pages ask for one row more than they show, to know whether another follows.
        Endpoint("leads by score", "/v1/leads", {"limit": "50"}, lambda: leads_query(limit=51)),
        Endpoint(
            "leads tier 1 newest",
            "/v1/leads",
            {"tier": "1", "sort": "created_at", "limit": "50"},
            lambda: leads_query("created_at", 51, tier=1),
        ),
        Endpoint(
            "recommendations",
            "/v1/recommendations",
            {},
            lambda: recommendations_query(tenant, None, 100),
        ),
        Endpoint("curves", "/v1/curves", {}, lambda: (LATEST_CURVES_SQL, {"tenant": tenant})),
    ]


async def _bench(port: int, tenant: str, token: str, endpoints: list[Endpoint], seconds: float):
    from warehouse.rls import TENANT_SETTING, api_database_uri

    pool = AsyncConnectionPool(
        api_database_uri(), min_size=POOL_SIZE, max_size=POOL_SIZE, open=False
    )
    await pool.open()
    client = await KeepAliveClient.open("127.0.0.1", port, CONCURRENCY, token)
    try:
        await client.get("/health", {})
        print(f"{'endpoint':<31} {'side':<8} latency under {CONCURRENCY} connections")
        worst_api_p95 = 0.0
        for endpoint in endpoints:
            query, params = endpoint.bare_sql()

            async def api_call(endpoint: Endpoint = endpoint) -> bool:
                return await client.get(endpoint.path, endpoint.params) == 200

            async def bare_call(query=query, params=params) -> bool:
                async with pool.connection() as conn, conn.transaction():
                    await conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant))
                    await (await conn.execute(query, params, prepare=True)).fetchall()
                return True

            await _run_load(api_call, 1.0)  # warm up: prepared statements, caches
            api = await _run_load(api_call, seconds)
            bare = await _run_load(bare_call, seconds)
            worst_api_p95 = max(worst_api_p95, api.p95)
            print(f"{endpoint.name:<31} {'API':<8} {api.line()}")
            print(f"{'':<31} {'bare SQL':<8} {bare.line()}")
            ratio = len(api.latencies) / api.seconds / (len(bare.latencies) / bare.seconds)
            print(f"{'':<31} {'ratio':<8} API at {ratio:.2f}x the bare loop's req/s", flush=True)
        health = await _run_load(lambda: _ok(client.get("/health", {})), seconds)
        print(f"{'/health (no database)':<31} {'API':<8} {health.line()}")
        verdict = "met" if worst_api_p95 < 0.05 else "NOT met"
        worst = f"worst {worst_api_p95 * 1000:.1f} ms"
        print(f"aim p95 < 50 ms for dashboard reads: {verdict} ({worst})")
    finally:
        await client.close()
        await pool.close()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    return int(head[0].split(" ")[1])


async def _ok(request: Awaitable[int]) -> bool:
    return await request == 200


class KeepAliveClient:
    """A minimal HTTP/1.1 load client: `connections` kept-alive sockets, one request at a
    time on each. httpx's pool, not the API, is what saturates first at 64 connections (it
    answered /health at ~70 req/s where this client sees the API serve ~2,500), so the load
    is generated with the least Python per request that still speaks real HTTP."""

    def __init__(self, idle: asyncio.Queue, host: str, port: int, token: str) -> None:
        self._idle = idle
        self._host = host
        self._port = port
        self._auth = f"Authorization: Bearer {token}\r\n"

    @classmethod
    async def open(cls, host: str, port: int, connections: int, token: str) -> KeepAliveClient:
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(connections):
            idle.put_nowait(await asyncio.open_connection(host, port))
        return cls(idle, host, port, token)

    async def get(self, path: str, params: dict) -> int:
        """The response's status; the body is read in full (Content-Length or chunked). A
        connection the server closed while idle (uvicorn's keep-alive timeout) is reopened."""
        target = f"{path}?{urlencode(params)}" if params else path
        request = f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\n{self._auth}\r\n".encode()
        reader, writer = await self._idle.get()
        try:
            try:
                return await _exchange(reader, writer, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                reader, writer = await asyncio.open_connection(self._host, self._port)
                return await _exchange(reader, writer, request)
        finally:
            self._idle.put_nowait((reader, writer))

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="medium")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--reuse", action="store_true", help="keep an already loaded bench database"
    )
    args = parser.parse_args()
    with timed(f"warehouse: {args.profile} world, {args.days} days through the pipeline"):
        tenants = _load_warehouse(args.profile, args.days, args.reuse)
    from serving_api.auth import issue_token
    from serving_api.settings import get_api_settings
    from warehouse import db

    tenant = tenants[0]
    with db.connect() as conn:
        last, rows = conn.execute(
            "SELECT max(date), count(*) FROM marts.ad_performance_daily WHERE tenant_id = %s",
            (tenant,),
        ).fetchone()
    print(f"tenant {tenant}: {rows:,} ad-day rows to {last}")
    port = _free_port()
    api = _start_api(port)
    try:
        token = issue_token(get_api_settings(), tenant)
        asyncio.run(_bench(port, tenant, token, _endpoints(last, tenant), args.seconds))
    finally:
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=30)


if __name__ == "__main__":
    main()
