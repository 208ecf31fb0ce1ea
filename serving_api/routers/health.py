from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from serving_api.db import DbConnection

router = APIRouter(tags=["operations"])


class Status(BaseModel):
    status: str = Field(examples=["ok"])


@router.get("/health", operation_id="health", response_model=Status)
async def health() -> Status:
    """Liveness: the process answers."""
    return Status(status="ok")


@router.get("/ready", operation_id="ready", response_model=Status)
async def ready(conn: DbConnection) -> Status:
    """Readiness: the warehouse answers too."""
    await conn.execute("SELECT 1")
    return Status(status="ready")


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency by route template, method and status."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
