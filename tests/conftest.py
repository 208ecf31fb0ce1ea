"""Shared fixtures. Tests run against the real embedded PostgreSQL, in their own databases."""

from __future__ import annotations

import os
import shutil

# The machine's environment as it was, for tests that start `bizo` in a clean child process.
ORIGINAL_ENVIRON = dict(os.environ)

# Before anything reads settings: the test run gets its own databases on the shared server,
# so `make test` never touches the demo's data.
# Per process, so parallel runs on one machine do not drop each other's databases.
os.environ.setdefault("BIZO_WAREHOUSE_DATABASE", f"bizo_test_{os.getpid()}")
os.environ.setdefault("BIZO_DAGSTER_DATABASE", f"dagster_test_{os.getpid()}")
os.environ.setdefault("BIZO_LANDING_DIR", f"/tmp/bizo-test-landing-{os.getpid()}")

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from assets.dbt import FULL_REFRESH_TAG
from assets.partitions import tenant_partitions
from bizo.demo import connect_demo_accounts, ingest_window
from pipelines.definitions import defs
from pipelines.jobs import QUIET_RUN_CONFIG as QUIET
from sandbox.landing import land_days
from sandbox.services import SandboxServices, start_sandbox_services
from sandbox.store import write_world
from sandbox.world import generate_world
from tests.api_fixtures import box, embedder, proposals, scored  # noqa: F401  (API tests')
from tests.ml_world import ml_world  # noqa: F401  (the lead-score tests' year-long world)
from tests.pipeline_window import END, WINDOW_START
from warehouse import db
from warehouse.crypto import CredentialBox
from warehouse.server import embedded_server_running, server_address, stop_embedded_server
from warehouse.settings import get_settings


def _drop_database(name: str) -> None:
    address = server_address(get_settings())
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session", autouse=True)
def embedded_server_lifetime() -> Iterator[None]:
    """Stop the embedded server at the end if this session started it (CI leaves nothing)."""
    settings = get_settings()
    started_here = settings.embedded and embedded_server_running(settings) is None
    yield
    if started_here:
        stop_embedded_server(settings)


@pytest.fixture(scope="session")
def warehouse_uri() -> Iterator[str]:
    """A freshly created, migrated test warehouse; its URI. Dropped when the session ends."""
    _drop_database(get_settings().warehouse_database)
    yield db.warehouse_uri()
    _drop_database(get_settings().warehouse_database)


@pytest.fixture(scope="session")
def dagster_storage_url() -> Iterator[str]:
    """Dagster's run/event storage for tests: a fresh database on the same server."""
    _drop_database(get_settings().dagster_database)
    yield db.dagster_storage_url()
    _drop_database(get_settings().dagster_database)


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


# -- the pipeline, loaded once per session -------------------------------------------------
# One small world, served by the Google Ads sandbox and loaded through the Dagster assets
# into the test warehouse; pipeline and API tests each check one promise against it.


@pytest.fixture(scope="session")
def world(warehouse_uri: str) -> str:
    """The small world (seed 3, ending END) stored in the test warehouse, its demo tenants
    registered and connected; returns the warehouse URI."""
    with psycopg.connect(warehouse_uri) as conn:
        write_world(conn, generate_world("small", seed=3, end=END))
        connect_demo_accounts(conn, CredentialBox.from_settings(get_settings()))
    return warehouse_uri


@pytest.fixture(scope="session")
def sandbox(world: str, google_ads_tls_dir: Path) -> Iterator[SandboxServices]:
    warehouse_uri = world
    services = start_sandbox_services(warehouse_uri, get_settings().bizo_home)
    saved = {name: os.environ.get(name) for name in services.client_env()}
    os.environ.update(services.client_env())
    yield services
    services.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def tenants(warehouse_uri: str, sandbox: SandboxServices) -> list[str]:
    with psycopg.connect(warehouse_uri) as conn:
        return [row[0] for row in conn.execute("SELECT tenant_id FROM app.tenants ORDER BY 1")]


@pytest.fixture(scope="session")
def instance(tenants: list[str], dagster_storage_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose storage is the test `dagster` database on the same server."""
    overrides = {"storage": {"postgres": {"postgres_url": dagster_storage_url}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions(tenant_partitions.name, tenants)
        yield instance


@pytest.fixture(scope="session")
def landed(world: str, tenants: list[str]) -> Iterator[Path]:
    """The window's web sessions and CRM exports, written to the landing folder."""
    landing = get_settings().landing_path
    shutil.rmtree(landing, ignore_errors=True)
    land_days(world, landing, tenants, WINDOW_START, END)
    yield landing
    shutil.rmtree(landing, ignore_errors=True)


@pytest.fixture(scope="session")
def loaded(instance: dg.DagsterInstance, tenants: list[str], landed: Path) -> list[str]:
    """Two weeks per tenant through FX, every ingestion job and the landing job (one
    single-run backfill each), as `bizo demo` loads history."""
    ingest_window(instance, tenants, WINDOW_START, END)
    return tenants


@pytest.fixture(scope="session")
def built(loaded: list[str], instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Every model built and every dbt test run over every row, as `bizo demo` builds (a
    daily run tests only its window)."""
    result = defs.resolve_job_def("dbt_build").execute_in_process(
        instance=instance, run_config=QUIET, tags={FULL_REFRESH_TAG: "true"}
    )
    assert result.success
    return result
