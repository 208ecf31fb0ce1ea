"""The FastAPI application that dashboards call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from serving_api.auth import RateLimiter
from serving_api.db import make_pool, refuse_privileged_role
from serving_api.middleware import ApiMetrics, HttpCacheMiddleware, MetricsMiddleware
from serving_api.problems import (
    PROBLEM_RESPONSES,
    install_problem_handlers,
    problem_media_type_in_openapi,
)
from serving_api.routers import (
    api_keys,
    attribution,
    creatives,
    curves,
    dashboard,
    funnel,
    health,
    leads,
    performance,
    recommendations,
    reports,
    roi,
    webhooks,
)
from serving_api.settings import ApiSettings, get_api_settings
from warehouse.rls import api_database_uri


def create_app(
    conninfo: str | None = None, settings: ApiSettings | None = None, pool_size: int = 10
) -> FastAPI:
    """The app; `conninfo` must be a role bound by row-level security (default: bizo_api)."""
    settings = settings or get_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.conninfo = conninfo or api_database_uri()
        app.state.pool = make_pool(app.state.conninfo, max_size=pool_size)
        app.state.text_embedder = creatives.EmbedderHolder()
        await app.state.pool.open()
        try:
            await refuse_privileged_role(app.state.pool)
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="Bizo API",
        version="0.2.0",
        description=(
            "Marketing performance, funnel, attribution and ROI, scored leads, creative "
            "search, budget recommendations and response curves, tenant by tenant. "
            "Authenticate with a bearer JWT (`bizo token`) or a dashboard key in `X-API-Key` "
            "(`bizo api-key`); the tenant is the credential's, and Postgres row-level security "
            "keeps every answer inside it. Errors are RFC 9457 problem details."
        ),
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
    )
    # One settings object per app: routes that depend on the settings get this one.
    app.dependency_overrides[get_api_settings] = lambda: settings
    app.state.metrics = ApiMetrics()
    app.state.rate_limiter = RateLimiter()
    install_problem_handlers(app)
    app.add_middleware(
        HttpCacheMiddleware,
        prefix="/v1/",
        max_age_seconds=settings.cache_max_age_seconds,
        # Administration and decisions: always current.
        uncached=("/v1/api-keys", "/v1/recommendations"),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
        expose_headers=["ETag", "Retry-After"],
        max_age=600,
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    routers = (
        health,
        performance,
        funnel,
        attribution,
        roi,
        leads,
        creatives,
        recommendations,
        curves,
        reports,
        api_keys,
        webhooks,
        dashboard,
    )
    for router in routers:
        app.include_router(router.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = problem_media_type_in_openapi(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
