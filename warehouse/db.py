"""Connections to the warehouse database: the one place that turns settings into a connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from psycopg import sql

from warehouse.migrate import migrate
from warehouse.server import ServerAddress, ensure_database, server_address
from warehouse.settings import WarehouseSettings, get_settings


@cache
def _prepared_address(settings: WarehouseSettings) -> ServerAddress:
    address = server_address(settings)
    ensure_database(address, settings.warehouse_database)
    with psycopg.connect(address.uri(settings.warehouse_database)) as conn:
        migrate(conn)
    return address


def warehouse_address(settings: WarehouseSettings | None = None) -> ServerAddress:
    """The running, migrated warehouse server (started on first use when embedded)."""
    return _prepared_address(settings or get_settings())


def warehouse_uri(settings: WarehouseSettings | None = None) -> str:
    settings = settings or get_settings()
    return warehouse_address(settings).uri(settings.warehouse_database)


@contextmanager
def connect(settings: WarehouseSettings | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse; commits on success, rolls back on error."""
    with psycopg.connect(warehouse_uri(settings), **kwargs) as conn:
        yield conn


def dbt_env(settings: WarehouseSettings | None = None) -> dict[str, str]:
    """The variables dbt_project/profiles.yml reads, for the same server and database."""
    settings = settings or get_settings()
    address = warehouse_address(settings)
    return {
        "BIZO_PG_HOST": address.host,
        "BIZO_PG_PORT": str(address.port),
        "BIZO_PG_USER": address.user,
        "BIZO_PG_PASSWORD": address.password,
        "BIZO_PG_DATABASE": settings.warehouse_database,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dagster_storage_url(settings: WarehouseSettings | None = None) -> str:
    """Dagster's own database on the same server (psycopg2 driver: see STACK_NOTES)."""
    settings = settings or get_settings()
    address = server_address(settings)
    ensure_database(address, settings.dagster_database)
    return address.uri(settings.dagster_database, driver="postgresql+psycopg2")


def analyze_schema(conn: psycopg.Connection, schema: str = "raw") -> None:
    """Refresh the planner's statistics for every table in `schema`. After a bulk load (a
    history backfill, a test world) autovacuum has not caught up yet, and a transform planned
    on empty statistics picks nested loops that run for hours instead of seconds."""
    tables = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
    ).fetchall()
    for (table,) in tables:
        conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
