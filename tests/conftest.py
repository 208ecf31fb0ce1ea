"""Shared fixtures. Tests run against the real embedded PostgreSQL, in their own databases."""

from __future__ import annotations

import os

# Before anything reads settings: the test run gets its own databases on the shared server,
# so `make test` never touches the demo's data.
os.environ.setdefault("BIZO_WAREHOUSE_DATABASE", "bizo_test")
os.environ.setdefault("BIZO_DAGSTER_DATABASE", "dagster_test")

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def dagster_storage_url() -> str:
    """Dagster's run/event storage for tests: a fresh database on the same server."""
    settings = get_settings()
    address = server_address(settings)
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(settings.dagster_database)
            )
        )
    from warehouse.db import dagster_storage_url as url

    return url(settings)


@pytest.fixture(scope="session")
def google_ads_tls_dir() -> Path:
    """The sandbox certificate directory every test server uses, trusted before any channel
    exists: gRPC reads its trust roots once per process."""
    from connectors.google_ads.client import trust_certificate
    from sandbox.google_ads.tls import ensure_self_signed_cert
    from sandbox.services import sandbox_tls_dir

    directory = sandbox_tls_dir(get_settings().bizo_home)
    trust_certificate(ensure_self_signed_cert(directory).cert_path)
    return directory


@pytest.fixture
def conn(warehouse_uri: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_uri) as connection:
        yield connection
