"""Shared fixtures. Tests run against the real embedded PostgreSQL, in their own databases."""

from __future__ import annotations

import os

# Before anything reads settings: the test run gets its own databases on the shared server,
# so `make test` never touches the demo's data.
os.environ.setdefault("BIZO_WAREHOUSE_DATABASE", "bizo_test")
os.environ.setdefault("BIZO_DAGSTER_DATABASE", "dagster_test")

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from warehouse.server import server_address
from warehouse.settings import get_settings


@pytest.fixture(scope="session")
def warehouse_uri() -> str:
    """A freshly created, migrated test warehouse; its URI."""
    settings = get_settings()
    address = server_address(settings)
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(settings.warehouse_database)
            )
        )
    from warehouse.db import warehouse_uri as prepared_uri

    return prepared_uri(settings)


@pytest.fixture
def conn(warehouse_uri: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_uri) as connection:
        yield connection
