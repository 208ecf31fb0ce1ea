"""Lead webhooks from tenants' CRMs: HMAC-signed, replay-limited, idempotent, landed as-is.

The payload is stored untouched in app.lead_webhook_events; a Dagster sensor picks new
events up and the CRM assets validate and load them (bad ones go to quarantine there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from serving_api.db import tenant_transaction
from serving_api.settings import ApiSettings, get_api_settings

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

TenantHeader = Annotated[str, Header(alias="X-Bizo-Tenant", pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
TimestampHeader = Annotated[int, Header(alias="X-Bizo-Timestamp", description="Unix seconds.")]
SignatureHeader = Annotated[
    str,
    Header(
        alias="X-Bizo-Signature",
        pattern=r"^sha256=[0-9a-f]{64}$",
        description="sha256=hex(HMAC-SHA256(tenant secret, f'{timestamp}.{raw body}'))",
    ),
]
EventIdHeader = Annotated[
    str | None, Header(alias="X-Bizo-Event-Id", max_length=128, description="Retries reuse it.")
]


class WebhookAccepted(BaseModel):
    event_id: int
    duplicate: bool


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@router.post(
    "/leads",
    operation_id="receive_lead_webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
)
async def receive_lead(
    request: Request,
    settings: Annotated[ApiSettings, Depends(get_api_settings)],
    tenant: TenantHeader,
    timestamp: TimestampHeader,
    sig: SignatureHeader,
    event_id: EventIdHeader = None,
) -> WebhookAccepted:
    """Accept one lead event for the tenant named in the signed headers."""
    body = await request.body()
    if len(body) > settings.webhook_max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "payload too large")
    if abs(time.time() - timestamp) > settings.webhook_tolerance_seconds:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "timestamp outside the allowed window")
    expected = signature(settings.webhook_secret_for(tenant), timestamp, body)
    if not hmac.compare_digest(expected, sig):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "signature does not match")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "payload must be an object")
    # The signature proved the tenant: from here on, row-level security holds us to it.
    async with tenant_transaction(request.app.state.pool, tenant) as conn:
        return await _store(conn, tenant, payload, event_id)


async def _store(
    conn: AsyncConnection, tenant: str, payload: dict, event_id: str | None
) -> WebhookAccepted:
    known = await (await conn.execute("SELECT 1 FROM app.tenants")).fetchone()
    if known is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown tenant")
    cursor = await conn.execute(
        """INSERT INTO app.lead_webhook_events (tenant_id, payload, signature_valid, event_key)
           VALUES (%s, %s, true, %s)
           ON CONFLICT (tenant_id, event_key) DO NOTHING
           RETURNING event_id""",
        (tenant, Jsonb(payload), event_id),
    )
    row = await cursor.fetchone()
    if row is not None:
        return WebhookAccepted(event_id=row["event_id"], duplicate=False)
    existing = await (
        await conn.execute(
            "SELECT event_id FROM app.lead_webhook_events WHERE event_key = %s",
            (event_id,),
        )
    ).fetchone()
    return WebhookAccepted(event_id=existing["event_id"], duplicate=True)
