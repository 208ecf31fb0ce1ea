"""Turning landed lead webhooks into raw leads: validate, load, quarantine, mark processed.

All in one transaction per batch, with the events locked (SKIP LOCKED), so two runs at
once never process an event twice and a crash leaves the batch pending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT_FIELDS = ("first_name", "last_name", "company", "job_title", "anonymous_id")


@dataclass(frozen=True)
class WebhookBatch:
    processed: int
    loaded: int
    quarantined: int


def lead_problems(payload: dict[str, Any]) -> list[str]:
    found = []
    email = payload.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email):
        found.append(f"email {email!r} is missing or not an address")
    for name in _TEXT_FIELDS:
        if name in payload and payload[name] is not None and not isinstance(payload[name], str):
            found.append(f"{name} must be text, got {type(payload[name]).__name__}")
    return found


def process_pending_webhooks(conn: psycopg.Connection, limit: int = 1000) -> WebhookBatch:
    """Process up to `limit` pending events, oldest first."""
    loaded = quarantined = 0
    with conn.transaction():
        events = conn.execute(
            """SELECT event_id, tenant_id, received_at, payload FROM app.lead_webhook_events
               WHERE processed_at IS NULL AND signature_valid
               ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (limit,),
        ).fetchall()
        for event_id, tenant_id, received_at, payload in events:
            problems = lead_problems(payload)
            if problems:
                conn.execute(
                    """INSERT INTO app.quarantine
                           (tenant_id, source, slice_start, slice_end, reason, payload)
                       VALUES (%s, 'crm_webhook_leads', %s, %s, %s, %s)""",
                    (
                        tenant_id,
                        received_at.date(),
                        received_at.date(),
                        "; ".join(problems),
                        Jsonb({"event_id": event_id, **payload}),
                    ),
                )
                quarantined += 1
            else:
                conn.execute(
                    """INSERT INTO raw.crm_webhook_leads (tenant_id, event_id, received_at,
                           email, first_name, last_name, company, job_title, anonymous_id,
                           payload)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (event_id) DO NOTHING""",
                    (
                        tenant_id,
                        event_id,
                        received_at,
                        payload["email"],
                        *(payload.get(name) for name in _TEXT_FIELDS),
                        Jsonb(payload),
                    ),
                )
                loaded += 1
            conn.execute(
                "UPDATE app.lead_webhook_events SET processed_at = now() WHERE event_id = %s",
                (event_id,),
            )
    return WebhookBatch(processed=len(events), loaded=loaded, quarantined=quarantined)


def pending_webhooks(conn: psycopg.Connection) -> tuple[int, int | None]:
    """How many events wait, and the newest one's id (a sensor's run key)."""
    count, newest = conn.execute(
        """SELECT count(*), max(event_id) FROM app.lead_webhook_events
           WHERE processed_at IS NULL AND signature_valid"""
    ).fetchone()
    return count, newest
