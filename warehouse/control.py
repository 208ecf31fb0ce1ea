"""The control tables in `app`: tenants and their ad-account connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from warehouse.crypto import CredentialBox


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    reporting_currency: str
    time_zone: str


PLATFORMS = ("google_ads", "meta", "linkedin", "crm")


@dataclass(frozen=True)
class Connection:
    """An ad account (or CRM portal) a tenant connected. `credentials` are kept sealed in
    the database and never printed (repr=False)."""

    tenant_id: str
    platform: str
    account_id: str
    config: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)


def upsert_tenant(conn: psycopg.Connection, tenant: Tenant) -> None:
    conn.execute(
        """INSERT INTO app.tenants (tenant_id, name, reporting_currency, time_zone)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (tenant_id) DO UPDATE
           SET name = EXCLUDED.name, reporting_currency = EXCLUDED.reporting_currency,
               time_zone = EXCLUDED.time_zone""",
        (tenant.tenant_id, tenant.name, tenant.reporting_currency, tenant.time_zone),
    )


def upsert_connection(conn: psycopg.Connection, connection: Connection, box: CredentialBox) -> None:
    """Add or update a connection; its credentials are sealed before they reach the database."""
    if connection.platform not in PLATFORMS:
        raise ValueError(f"unknown platform {connection.platform!r}; one of {PLATFORMS}")
    conn.execute(
        """INSERT INTO app.connections (tenant_id, platform, account_id, config, credentials)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, platform, account_id) DO UPDATE
           SET config = EXCLUDED.config, credentials = EXCLUDED.credentials,
               status = 'active'""",
        (
            connection.tenant_id,
            connection.platform,
            connection.account_id,
            Jsonb(connection.config),
            box.seal(connection.credentials),
        ),
    )


def reseal_credentials(conn: psycopg.Connection, box: CredentialBox) -> int:
    """Re-seal every stored credential under `box`'s first key, in the caller's transaction,
    so that after a key rotation the old key can leave BIZO_SECRET_KEY. A credential no key
    opens raises SecretsUnavailable before anything is written. Returns how many."""
    rows = conn.execute(
        """SELECT tenant_id, platform, account_id, credentials FROM app.connections
           WHERE credentials IS NOT NULL ORDER BY 1, 2, 3 FOR UPDATE"""
    ).fetchall()
    resealed = [
        (box.rotate(sealed), tenant, platform, account)
        for tenant, platform, account, sealed in rows
    ]
    with conn.cursor() as cursor:
        cursor.executemany(
            """UPDATE app.connections SET credentials = %s
               WHERE tenant_id = %s AND platform = %s AND account_id = %s""",
            resealed,
        )
    return len(resealed)


def record_connection_test(conn: psycopg.Connection, connection: Connection, result: str) -> None:
    conn.execute(
        """UPDATE app.connections SET last_tested_at = now(), last_test_result = %s
           WHERE tenant_id = %s AND platform = %s AND account_id = %s""",
        (result, connection.tenant_id, connection.platform, connection.account_id),
    )


def list_tenants(conn: psycopg.Connection) -> list[Tenant]:
    rows = conn.execute(
        "SELECT tenant_id, name, reporting_currency, time_zone FROM app.tenants ORDER BY tenant_id"
    ).fetchall()
    return [Tenant(*row) for row in rows]


def tenant_time_zone(conn: psycopg.Connection, tenant_id: str) -> str:
    row = conn.execute(
        "SELECT time_zone FROM app.tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"unknown tenant {tenant_id!r}")
    return row[0]


def active_connections(
    conn: psycopg.Connection, tenant_id: str, platform: str, box: CredentialBox
) -> list[Connection]:
    rows = conn.execute(
        """SELECT tenant_id, platform, account_id, config, credentials FROM app.connections
           WHERE tenant_id = %s AND platform = %s AND status = 'active'
           ORDER BY account_id""",
        (tenant_id, platform),
    ).fetchall()
    return [
        Connection(*row[:4], credentials=box.open(row[4]) if row[4] is not None else {})
        for row in rows
    ]


def connected_tenants(conn: psycopg.Connection) -> list[str]:
    """Tenants with at least one active connection: the tenant partitions Dagster should have."""
    rows = conn.execute(
        "SELECT DISTINCT tenant_id FROM app.connections WHERE status = 'active' ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]
