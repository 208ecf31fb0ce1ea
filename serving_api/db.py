"""The API's connection pool (async), opened with the app and closed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def make_pool(conninfo: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        conninfo, min_size=1, max_size=10, open=False, kwargs={"row_factory": dict_row}
    )


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


DbConnection = Annotated[AsyncConnection, Depends(get_connection)]
