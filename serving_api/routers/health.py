from fastapi import APIRouter

from serving_api.db import DbConnection

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", operation_id="ready")
async def ready(conn: DbConnection) -> dict[str, str]:
    """Readiness: the warehouse answers too."""
    await conn.execute("SELECT 1")
    return {"status": "ready"}
