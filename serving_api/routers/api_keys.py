"""Dashboard API keys, managed by the tenant's admins. The key is shown once, at creation;
only its SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from serving_api.auth import AdminPrincipal, Role, new_api_key
from serving_api.db import TenantConnection

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


class ApiKeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["wallboard"])
    role: Role = "viewer"
    rate_limit_per_minute: int = Field(default=600, ge=1, le=100_000, examples=[600])


class ApiKeyInfo(BaseModel):
    key_id: int
    name: str
    role: Role
    key_prefix: str = Field(examples=["bizo_x2Pq9aB"])
    rate_limit_per_minute: int
    created_at: datetime
    revoked_at: datetime | None


class NewApiKey(ApiKeyInfo):
    key: str = Field(description="Shown only now; send it as X-API-Key.")


@router.post(
    "",
    operation_id="create_api_key",
    status_code=status.HTTP_201_CREATED,
    response_model=NewApiKey,
)
async def create_api_key(
    principal: AdminPrincipal, conn: TenantConnection, request: ApiKeyRequest
) -> NewApiKey:
    """Create a dashboard key for the caller's tenant (admins only)."""
    key, prefix, key_hash = new_api_key()
    row = await (
        await conn.execute(
            """INSERT INTO app.api_keys
                    (tenant_id, name, role, key_prefix, key_hash, rate_limit_per_minute)
                VALUES (%s, %s, %s, %s, %s, %s)
                RETURNING key_id, name, role, key_prefix, rate_limit_per_minute, created_at,
                          revoked_at""",
            (
                principal.tenant_id,
                request.name,
                request.role,
                prefix,
                key_hash,
                request.rate_limit_per_minute,
            ),
        )
    ).fetchone()
    return NewApiKey(**row, key=key)


@router.get("", operation_id="list_api_keys", response_model=list[ApiKeyInfo])
async def list_api_keys(principal: AdminPrincipal, conn: TenantConnection) -> list[ApiKeyInfo]:
    """The tenant's keys, newest first, without their secrets (admins only)."""
    rows = await (
        await conn.execute(
            """SELECT key_id, name, role, key_prefix, rate_limit_per_minute, created_at,
                      revoked_at
               FROM app.api_keys ORDER BY key_id DESC"""
        )
    ).fetchall()
    return [ApiKeyInfo(**row) for row in rows]


@router.delete(
    "/{key_id}",
    operation_id="revoke_api_key",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def revoke_api_key(
    principal: AdminPrincipal,
    conn: TenantConnection,
    key_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> None:
    """Revoke a key at once (admins only). Another tenant's key id answers 404."""
    row = await (
        await conn.execute(
            "UPDATE app.api_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE key_id = %s RETURNING key_id",
            (key_id,),
        )
    ).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no API key {key_id} for this tenant")
