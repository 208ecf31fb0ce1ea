"""The control tables in `app`: tenants and their ad-account connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    reporting_currency: str
    time_zone: str


@dataclass(frozen=True)
class Connection:
    tenant_id: str
    platform: str
    account_id: str
    config: dict[str, Any] = field(default_factory=dict)


def upsert_tenant(conn: psycopg.Connection, tenant: Tenant) -> None:
    conn.execute(
        """INSERT INTO app.tenants (tenant_id, name, reporting_currency, time_zone)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (tenant_id) DO UPDATE
           SET name = EXCLUDED.name, reporting_currency = EXCLUDED.reporting_currency,
               time_zone = EXCLUDED.time_zone""",
        (tenant.tenant_id, tenant.name, tenant.reporting_currency, tenant.time_zone),
    )


def upsert_connection(conn: psycopg.Connection, connection: Connection) -> None:
    conn.execute(
        """INSERT INTO app.connections (tenant_id, platform, account_id, config)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (tenant_id, platform, account_id) DO UPDATE
           SET config = EXCLUDED.config, status = 'active'""",
        (
            connection.tenant_id,
            connection.platform,
            connection.account_id,
            Jsonb(connection.config),
        ),
    )


def list_tenants(conn: psycopg.Connection) -> list[Tenant]:
    rows = conn.execute(
        "SELECT tenant_id, name, reporting_currency, time_zone FROM app.tenants ORDER BY tenant_id"
    ).fetchall()
    return [Tenant(*row) for row in rows]


def active_connections(conn: psycopg.Connection, tenant_id: str, platform: str) -> list[Connection]:
    rows = conn.execute(
        """SELECT tenant_id, platform, account_id, config FROM app.connections
           WHERE tenant_id = %s AND platform = %s AND status = 'active'
           ORDER BY account_id""",
        (tenant_id, platform),
    ).fetchall()
    return [Connection(*row) for row in rows]
