"""The FastAPI application that dashboards call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving_api.db import make_pool
from serving_api.routers import health, performance, webhooks
from warehouse.db import warehouse_uri


def create_app(conninfo: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = make_pool(conninfo or warehouse_uri())
        await app.state.pool.open()
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="Bizo API",
        version="0.1.0",
        description="Marketing performance, attribution and recommendations, tenant by tenant.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(performance.router)
    app.include_router(webhooks.router)
    return app
