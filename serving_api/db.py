"""The API's async connection pool (as the RLS-bound role) and per-request transactions.

Every tenant-facing route gets `TenantConnection`: one transaction in which
`set_config('app.tenant_id', <the token's tenant>, true)` is the first statement, so the
row-level security policies filter every query in it, and the setting ends with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

import psycopg
from fastapi import Depends, Request
from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from serving_api.auth import CurrentPrincipal, Principal
from warehouse.rls import TENANT_SETTING

T = TypeVar("T")


def make_pool(conninfo: str, max_size: int = 10) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        conninfo,
        min_size=min(2, max_size),
        max_size=max_size,
        open=False,
        kwargs={"row_factory": dict_row},
        configure=register_vector_async,  # pgvector values in and out (similarity search)
    )


async def refuse_privileged_role(pool: AsyncConnectionPool) -> None:
    """Start only as a role that row-level security binds: a superuser or BYPASSRLS login
    would make every tenant policy moot."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).fetchone()
    if row is None or row["rolsuper"] or row["rolbypassrls"]:
        raise RuntimeError(
            f"the API must not connect as {row and row['role']!r}: it bypasses row-level "
            "security; use the bizo_api role (BIZO_API_DATABASE_URL)"
        )


@asynccontextmanager
async def tenant_transaction(
    pool: AsyncConnectionPool, tenant_id: str
) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction scoped to one tenant by RLS."""
    async with pool.connection() as conn:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            # A transaction already open would make the setting outlive this block.
            raise RuntimeError("a pooled connection arrived inside a transaction")
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant_id), prepare=True
            )
            yield conn


def _in_tenant_sync(
    _conninfo: str, _tenant: str, _action: Callable[..., T], /, *args: object, **kwargs: object
) -> T:
    with psycopg.connect(_conninfo) as conn, conn.transaction():
        conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, _tenant))
        return _action(conn, *args, **kwargs)


async def run_in_tenant(
    request: Request,
    principal: Principal,
    action: Callable[..., T],
    /,
    *args: object,
    **kwargs: object,
) -> T:
    """Run a library function written for a sync psycopg connection (warehouse.agent_store's state
    changes) in a worker thread, on a connection as the API's role in one transaction scoped
    to the caller's tenant: the same row-level security as every route, and the library's
    own rules, not a copy of them. Committed when `action` returns, rolled back if it raises."""
    return await asyncio.to_thread(
        _in_tenant_sync,
        request.app.state.conninfo,
        principal.tenant_id,
        action,
        *args,
        **kwargs,
    )


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


async def get_tenant_connection(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[AsyncConnection]:
    async with tenant_transaction(request.app.state.pool, principal.tenant_id) as conn:
        yield conn


DbConnection = Annotated[AsyncConnection, Depends(get_connection)]
TenantConnection = Annotated[AsyncConnection, Depends(get_tenant_connection)]
