"""A year-long world for the lead-score tests, in its own database.

The session warehouse holds two weeks, too little for a 90-day outcome. This fixture writes
a 365-day world to a separate database, syncs its whole CRM through the real CRM connector
from the CRM sandbox (as the CRM assets do), lands its web sessions (a copy of the world's
sessions: test_pipeline shows the landing path loads exactly those), builds the CRM staging
views and the journeys with dbt and embeds the CRM notes. Plugged in by tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest

from bizo.demo import connect_demo_accounts
from connectors.crm.client import CrmConnector, row_columns, row_values
from ml.embedder import TextEmbedder
from ml.embeddings import refresh_embeddings
from sandbox.crm.data import PostgresCrmData
from sandbox.crm.server import CrmSandboxServer
from sandbox.store import write_world
from sandbox.world import Profile, generate_world
from tests.pipeline_window import END
from warehouse import db
from warehouse.crypto import CredentialBox
from warehouse.loader import Slice, replace_slice
from warehouse.server import server_address
from warehouse.settings import WarehouseSettings, get_settings

ROOT = Path(__file__).resolve().parents[1]
ML_PROFILE = Profile("ml-year", tenants=2, days=365, campaigns_per_platform=2)
ML_SEED = 11


@dataclass(frozen=True)
class MlWorld:
    uri: str
    settings: WarehouseSettings
    start: datetime
    end: datetime


def _drop(settings: WarehouseSettings) -> None:
    address = server_address(settings)
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(settings.warehouse_database)
            )
        )


def _sync_crm(conn: psycopg.Connection, server: CrmSandboxServer, tenant: str, start, end) -> None:
    # A day early: the world's first local day starts before its UTC midnight east of UTC.
    since = datetime.combine(start - timedelta(days=1), time.min, tzinfo=UTC)
    before = datetime.combine(end + timedelta(days=30), time.min, tzinfo=UTC)
    with CrmConnector(access_token=server.token_for(tenant), base_url=server.base_url) as crm:
        contacts = crm.fetch_contacts(since, before)
        companies = crm.fetch_companies(since, before)
        deals, stages = crm.fetch_deals_with_stages(since, before)
    for table, rows in (
        ("crm_contacts", contacts),
        ("crm_companies", companies),
        ("crm_deals", deals),
        ("crm_deal_stages", stages),
    ):
        if not rows:
            continue
        days = [row.date for row in rows]
        replace_slice(
            conn,
            Slice("raw", table, tenant, min(days), max(days)),
            row_columns(type(rows[0])),
            (row_values(row) for row in rows),
        )


def build_ml_world() -> Iterator[MlWorld]:
    base = get_settings()
    settings = base.model_copy(update={"warehouse_database": f"{base.warehouse_database}_ml"})
    _drop(settings)
    uri = db.warehouse_uri(settings)
    world = generate_world(ML_PROFILE, seed=ML_SEED, end=END)
    with psycopg.connect(uri) as conn:
        write_world(conn, world)
        connect_demo_accounts(conn, CredentialBox.from_settings(settings))
        server = CrmSandboxServer(PostgresCrmData(uri)).start()
        try:
            tenants = [r[0] for r in conn.execute("SELECT tenant_id FROM sandbox.tenants")]
            for tenant in tenants:
                _sync_crm(conn, server, tenant, world.start, world.end)
        finally:
            server.stop()
        conn.execute(
            """
            INSERT INTO raw.web_sessions (tenant_id, date, session_id, anonymous_id, started_at,
                landing_url, referrer, utm_source, utm_medium, utm_campaign, utm_content,
                gclid, fbclid, li_fat_id, source_file)
            SELECT s.tenant_id, (s.started_at AT TIME ZONE t.time_zone)::date, s.session_id,
                   s.anonymous_id, s.started_at, s.landing_url, s.referrer, s.utm_source,
                   s.utm_medium, s.utm_campaign, s.utm_content, s.gclid, s.fbclid, s.li_fat_id,
                   'ml-world'
            FROM sandbox.sessions AS s JOIN sandbox.tenants AS t USING (tenant_id)
            """
        )
        conn.commit()
        db.analyze_schema(conn, "raw")
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--quiet",
         "--select", "staging.crm", "+journey_touches",
         "--profiles-dir", ".", "--project-dir", "."],
        cwd=ROOT / "dbt_project",
        env={**os.environ, **db.dbt_env(settings)},
        check=True,
    )  # fmt: skip
    with psycopg.connect(uri) as conn:
        refresh_embeddings(conn, TextEmbedder(), ["crm_note"])
    start = datetime.combine(world.start, time.min, tzinfo=UTC)
    yield MlWorld(uri, settings, start, datetime.combine(world.end, time.max, tzinfo=UTC))
    _drop(settings)


@pytest.fixture(scope="session")
def ml_world(warehouse_uri: str) -> Iterator[MlWorld]:
    yield from build_ml_world()
