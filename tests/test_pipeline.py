"""End to end on the real stack: sandbox world → Google Ads over gRPC → raw → dbt → API.

One small world is simulated, served by the Google Ads sandbox and loaded through the
Dagster assets into the test warehouse; each test then checks one promise against it.
"""

import os
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest

from assets.partitions import partition_key, range_tags, tenant_partitions
from assets.resources import WarehouseResource
from pipelines.definitions import defs
from pipelines.jobs import AD_PLATFORMS, INGESTED_PLATFORMS
from pipelines.jobs import QUIET_RUN_CONFIG as QUIET
from sandbox.landing import write_web_sessions
from tests.pipeline_window import END, WINDOW_START
from warehouse.control import Connection, Tenant, upsert_connection, upsert_tenant
from warehouse.crypto import CredentialBox
from warehouse.settings import REPO_ROOT, get_settings


def _raw_rows(conn: psycopg.Connection, tenant: str, day: date) -> list[tuple]:
    return conn.execute(
        """SELECT customer_id, ad_id, cost_micros, cost, impressions, clicks, conversions,
                  campaign_name, ad_headline, final_url
           FROM raw.google_ads_ad_daily WHERE tenant_id = %s AND date = %s ORDER BY ad_id""",
        (tenant, day),
    ).fetchall()


def test_definitions_load():
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {
        "raw/google_ads_ad_daily",
        "staging/stg_google_ads__ad_daily",
        "marts/ad_performance_daily",
    } <= keys
    assert defs.resolve_job_def("google_ads_daily") and defs.resolve_job_def("dbt_build")


def test_a_partition_materialized_twice_gives_identical_rows(instance, tenants, conn):
    tenant, day = tenants[0], END - timedelta(days=40)
    job = defs.resolve_job_def("google_ads_daily")
    key = partition_key(tenant, day)
    assert job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET).success
    first = _raw_rows(conn, tenant, day)
    assert job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET).success
    assert first and _raw_rows(conn, tenant, day) == first


def test_raw_rows_match_the_platform_exactly(loaded, conn):
    mismatches = conn.execute(
        """SELECT t.tenant_id, t.ad_id, t.date, t.cost_micros, r.cost_micros, r.cost
           FROM (SELECT * FROM sandbox.ad_delivery_daily
                 WHERE platform = 'google_ads' AND date BETWEEN %(start)s AND %(end)s) t
           FULL JOIN (SELECT * FROM raw.google_ads_ad_daily
                      WHERE date BETWEEN %(start)s AND %(end)s) r
             ON r.tenant_id = t.tenant_id AND r.ad_id = t.ad_id AND r.date = t.date
           WHERE r.cost_micros IS DISTINCT FROM t.cost_micros
              OR r.impressions IS DISTINCT FROM t.impressions
              OR r.clicks IS DISTINCT FROM t.clicks
              OR r.conversions IS DISTINCT FROM t.conversions
              OR r.cost IS DISTINCT FROM t.cost_micros::numeric / 1000000""",
        {"start": WINDOW_START, "end": END},
    ).fetchall()
    assert mismatches == []


def test_dbt_build_passes_its_tests_as_asset_checks(built):
    checks = built.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    materialized = {e.asset_key.to_user_string() for e in built.get_asset_materialization_events()}
    assert "marts/ad_performance_daily" in materialized


def test_every_mart_the_api_reads_has_an_index_led_by_the_tenant(built, conn):
    """Row-level security filters on tenant_id: without such an index every API request
    scans all tenants' rows, and latency grows with the number of tenants."""
    read = set()
    for module in (REPO_ROOT / "serving_api").rglob("*.py"):
        read |= set(re.findall(r"marts\.(\w+)", module.read_text()))
    assert {"funnel", "ad_performance_daily"} <= read
    indexes = conn.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'marts'"
    ).fetchall()
    conn.commit()
    led_by_tenant = {table for table, index in indexes if re.search(r"\(tenant_id[,)]", index)}
    assert sorted(read - led_by_tenant) == []


@pytest.mark.parametrize("platform", AD_PLATFORMS)
def test_mart_spend_equals_the_true_spend_to_the_cent(built, conn, platform):
    """Exact per tenant-day, in the account's currency and, at the world's own FX rates of
    the day, in the tenant's reporting currency."""
    rows = conn.execute(
        """WITH mart AS (
               SELECT tenant_id, date, sum(spend_in_account_currency) AS account_spend,
                      sum(spend) AS spend
               FROM marts.ad_performance_daily
               WHERE platform = %(platform)s AND date BETWEEN %(start)s AND %(end)s
               GROUP BY 1, 2),
           truth AS (
               SELECT d.tenant_id, d.date,
                      sum(d.cost_micros::numeric / 1000000) AS account_spend,
                      sum(CASE WHEN a.currency = t.currency
                               THEN d.cost_micros::numeric / 1000000
                               ELSE round(d.cost_micros::numeric / 1000000
                                          * tr.units_per_usd / ar.units_per_usd, 6) END) AS spend,
                      bool_or(a.currency <> t.currency) AS converted
               FROM sandbox.ad_delivery_daily AS d
               JOIN sandbox.ad_accounts AS a USING (platform, account_id)
               JOIN sandbox.tenants AS t ON t.tenant_id = d.tenant_id
               JOIN sandbox.fx_rates AS ar ON ar.date = d.date AND ar.currency = a.currency
               JOIN sandbox.fx_rates AS tr ON tr.date = d.date AND tr.currency = t.currency
               WHERE d.platform = %(platform)s AND d.date BETWEEN %(start)s AND %(end)s
               GROUP BY 1, 2)
           SELECT tenant_id, date, truth.account_spend, mart.account_spend, truth.spend,
                  mart.spend, truth.converted
           FROM truth FULL JOIN mart USING (tenant_id, date)""",
        {"platform": platform, "start": WINDOW_START, "end": END},
    ).fetchall()
    assert len(rows) == 2 * 14
    for tenant, day, true_account, mart_account, true_spend, mart_spend, _ in rows:
        assert mart_spend is not None and true_spend is not None, (tenant, day)
        assert mart_account == true_account, (tenant, day)  # exact, not just to the cent
        assert mart_spend == true_spend, (tenant, day)
    assert sum(r[5] for r in rows) > Decimal(1000)
    # Meta bills the non-USD tenant in US dollars: that path must really be exercised.
    assert any(r[6] for r in rows) == (platform == "meta")


def test_the_morning_schedule_pulls_yesterday_and_a_lookback_per_tenant(instance, tenants):
    schedule = defs.resolve_schedule_def("google_ads_morning")
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 7, 1, 6, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.tags["dagster/asset_partition_range_start"] for r in requests) == sorted(
        str(partition_key(t, date(2026, 6, 23))) for t in tenants
    )
    assert {r.tags["dagster/asset_partition_range_end"].split("|")[0] for r in requests} == {
        "2026-06-30"
    }


def test_a_new_connection_adds_its_tenant_partition(instance, tenants, conn):
    sensor = defs.resolve_sensor_def("tenant_partitions_from_connections")
    context = dg.build_sensor_context(
        instance=instance, resources={"warehouse": WarehouseResource()}
    )
    assert sensor(context).dynamic_partitions_requests == []  # every tenant already known
    upsert_tenant(conn, Tenant("newco", "NewCo", "USD", "America/Chicago"))
    box = CredentialBox.from_settings(get_settings())
    upsert_connection(conn, Connection("newco", "google_ads", "1999999999"), box)
    conn.commit()
    try:
        result = sensor(context)
        (request,) = result.dynamic_partitions_requests
        assert request.partition_keys == ["newco"]
        assert {r.job_name for r in result.run_requests} == {
            f"{p}_daily" for p in INGESTED_PLATFORMS
        }
        assert all(
            r.tags["dagster/asset_partition_range_start"].endswith("|newco")
            for r in result.run_requests
        )
    finally:
        conn.execute("DELETE FROM app.tenants WHERE tenant_id = 'newco'")
        conn.commit()


def test_every_source_loaded_clean(loaded, conn):
    """Each raw table got rows for the window and nothing was quarantined."""
    tables = (
        "google_ads_ad_daily",
        "google_ads_click_views",
        "meta_ad_insights_daily",
        "meta_ads",
        "linkedin_creative_daily",
        "linkedin_creatives",
        "crm_contacts",
        "crm_companies",
        "crm_deals",
        "crm_deal_stages",
        "web_sessions",
        "crm_contact_exports",
    )
    for table in tables:
        (rows,) = conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM raw.{}").format(psycopg.sql.Identifier(table))
        ).fetchone()
        assert rows > 0, table
    quarantined = conn.execute(
        "SELECT count(*) FROM app.quarantine WHERE source = ANY(%s)", (list(tables),)
    ).fetchone()
    assert quarantined == (0,)


def test_click_views_are_the_worlds_google_clicks_with_their_ads(loaded, conn):
    """Every click with a gclid in the window (the account's days), each with the ad the
    world says it was on; nothing more."""
    truth = set(
        conn.execute(
            """SELECT s.tenant_id, s.gclid, s.platform_ad_id
               FROM sandbox.sessions s
               JOIN sandbox.ads a ON a.platform = 'google_ads' AND a.ad_id = s.platform_ad_id
               JOIN sandbox.ad_accounts acc
                 ON acc.platform = a.platform AND acc.account_id = a.account_id
               WHERE s.gclid IS NOT NULL
                 AND (s.started_at AT TIME ZONE acc.time_zone)::date BETWEEN %s AND %s""",
            (WINDOW_START, END),
        ).fetchall()
    )
    loaded_rows = set(
        conn.execute(
            """SELECT tenant_id, gclid, ad_id FROM raw.google_ads_click_views
               WHERE date BETWEEN %s AND %s""",
            (WINDOW_START, END),
        ).fetchall()
    )
    assert len(truth) > 100 and loaded_rows == truth


def test_days_past_click_view_retention_keep_what_raw_holds(instance, tenants, conn):
    """Google serves click_view for 90 days: re-running an older day must not empty it."""
    tenant, day = tenants[0], END - timedelta(days=100)
    kept = (tenant, "1111111111", day, "Cj0-kept", 1, 2, 3)
    with conn.transaction():
        conn.execute(
            """INSERT INTO raw.google_ads_click_views
                   (tenant_id, customer_id, date, gclid, campaign_id, ad_group_id, ad_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            kept,
        )
    result = defs.resolve_job_def("google_ads_daily").execute_in_process(
        instance=instance, partition_key=partition_key(tenant, day), run_config=QUIET
    )
    assert result.success
    (materialization,) = [
        m for m in result.asset_materializations_for_node("raw__google_ads_click_views")
    ]
    assert materialization.metadata["days_past_source_retention"].value == 1
    rows = conn.execute(
        """SELECT tenant_id, customer_id, date, gclid, campaign_id, ad_group_id, ad_id
           FROM raw.google_ads_click_views WHERE tenant_id = %s AND date = %s""",
        (tenant, day),
    ).fetchall()
    conn.commit()
    assert rows == [kept]


def test_crm_contacts_are_the_leads_modified_in_the_window(loaded, conn):
    """A contact changes when it is created, when its deal opens and when it is won."""
    (synced,) = conn.execute(
        """SELECT count(DISTINCT (tenant_id, contact_id)) FROM raw.crm_contacts
           WHERE date BETWEEN %s AND %s""",
        (WINDOW_START, END),
    ).fetchone()
    (modified,) = conn.execute(
        """SELECT count(*) FROM (
               SELECT greatest(l.created_at, max(h.entered_at)
                               FILTER (WHERE h.stage IN ('opportunity', 'closed_won'))) AS at
               FROM sandbox.leads l
               LEFT JOIN sandbox.deals d ON d.lead_id = l.lead_id
               LEFT JOIN sandbox.deal_stage_history h ON h.deal_id = d.deal_id
               GROUP BY l.lead_id, l.created_at) last_change
           WHERE (at AT TIME ZONE 'UTC')::date BETWEEN %s AND %s""",
        (WINDOW_START, END),
    ).fetchone()
    assert synced == modified > 100


def test_landed_sessions_load_exactly_the_worlds_sessions(loaded, conn):
    loaded_count, truth_count = conn.execute(
        """SELECT (SELECT count(*) FROM raw.web_sessions),
                  (SELECT count(*) FROM sandbox.sessions s JOIN sandbox.tenants t USING (tenant_id)
                   WHERE (s.started_at AT TIME ZONE t.time_zone)::date BETWEEN %s AND %s)""",
        (WINDOW_START, END),
    ).fetchone()
    assert loaded_count == truth_count > 1000


def test_the_landing_sensor_requests_changed_days_only(instance, landed, tenants):
    an_hour_ago = time.time() - 3600
    for path in landed.rglob("*.*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    sensor = defs.resolve_sensor_def("landing_files")
    context = dg.build_sensor_context(
        instance=instance, resources={"warehouse": WarehouseResource()}
    )
    first = sensor(context)
    starts = sorted(r.tags["dagster/asset_partition_range_start"] for r in first.run_requests)
    assert starts == sorted(str(partition_key(t, WINDOW_START)) for t in tenants)
    context = dg.build_sensor_context(
        instance=instance, cursor=first.cursor, resources={"warehouse": WarehouseResource()}
    )
    assert sensor(context).run_requests == []  # nothing changed since
    touched = landed / tenants[0] / "web" / f"sessions_{END}.jsonl"
    touched.write_bytes(touched.read_bytes())
    (request,) = sensor(context).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == str(
        partition_key(tenants[0], END)
    )


@pytest.mark.parametrize("platform", AD_PLATFORMS)
def test_loads_reconcile_with_the_platforms_own_totals(instance, tenants, platform):
    result = defs.resolve_job_def(f"{platform}_daily").execute_in_process(
        instance=instance, run_config=QUIET, tags=range_tags(tenants[0], WINDOW_START, END)
    )
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["matches_source_totals"].passed
    assert checks["quarantine_rate"].passed
    (materialization, *_) = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    assert metadata["api_calls"].value >= 2  # the rows and the totals
    assert metadata["dagster/row_count"].value > 0


def test_a_damaged_file_quarantines_its_bad_lines_and_fails_the_rate_check(
    instance, loaded, landed, tenants, world, conn
):
    tenant = tenants[0]
    path = landed / tenant / "web" / f"sessions_{END}.jsonl"
    lines = path.read_bytes().splitlines()
    damaged = [b"{not json" if i % 4 == 0 else line for i, line in enumerate(lines)]
    path.write_bytes(b"\n".join(damaged) + b"\n")
    job = defs.resolve_job_def("landing_files")
    try:
        result = job.execute_in_process(
            instance=instance, run_config=QUIET, tags=range_tags(tenant, END, END)
        )
        assert result.success  # good lines still load; the check, not the run, fails
        checks = {
            c.check_name: c
            for c in result.get_asset_check_evaluations()
            if c.asset_key.path[-1] == "web_sessions"
        }
        assert not checks["quarantine_rate"].passed
        (loaded_rows,) = conn.execute(
            "SELECT count(*) FROM raw.web_sessions WHERE tenant_id = %s AND date = %s",
            (tenant, END),
        ).fetchone()
        assert loaded_rows == len(lines) - len(range(0, len(lines), 4))
        reasons = conn.execute(
            """SELECT reason, payload FROM app.quarantine
               WHERE source = 'web_sessions' AND tenant_id = %s AND slice_start = %s""",
            (tenant, END),
        ).fetchall()
        assert len(reasons) == len(range(0, len(lines), 4))
        assert all("{not json" in str(payload) for _, payload in reasons)
    finally:
        write_web_sessions(world, landed, tenant, END)
        assert job.execute_in_process(
            instance=instance, run_config=QUIET, tags=range_tags(tenant, END, END)
        ).success
    (left,) = conn.execute(
        """SELECT count(*) FROM app.quarantine
           WHERE source = 'web_sessions' AND tenant_id = %s AND slice_start = %s""",
        (tenant, END),
    ).fetchone()
    assert left == 0  # the clean re-run superseded the rejects of its slice


def test_models_rebuild_when_new_raw_data_lands():
    """The automation sensor's view: nothing on the first tick; a new raw partition makes its
    staging model and the mart due, though most raw history is (always) missing."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(tenant_partitions.name, ["t1"])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0
    instance.report_runless_asset_event(
        dg.AssetMaterialization(["raw", "google_ads_ad_daily"], partition="2026-06-30|t1")
    )
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    due = {r.key.to_user_string() for r in after.results if r.true_subset.size}
    assert due == {
        "staging/stg_google_ads__ad_daily",
        "intermediate/int_ads",
        "marts/ad_performance_daily",
        "marts/journey_touches",  # ads bridge touches to campaigns
        "attribution/channel_set_shares",
        "marts/attribution_credits",
        "marts/attribution_model_comparison",
        "marts/channel_roi",
        "marts/campaign_roi",
        "ml/embeddings",  # creative text arrives with the ad rows
    }


def test_the_funnel_matches_each_leads_true_outcome(built, conn):
    """For every lead the CRM sync brought in, the funnel's stage and amount are the world's."""
    rows = conn.execute(
        """SELECT f.stage, coalesce(d.stage, 'lead'), f.amount, d.amount, f.won_at, d.closed_at
           FROM marts.funnel f
           JOIN sandbox.leads l ON l.lead_id::text = f.contact_id
           LEFT JOIN sandbox.deals d ON d.lead_id = l.lead_id"""
    ).fetchall()
    assert len(rows) > 100
    assert [r[0] for r in rows] == [r[1] for r in rows]
    assert all(r[2] == r[3] for r in rows if r[1] != "lead")
    won = [r for r in rows if r[0] == "closed_won"]
    assert won and all(abs((r[4] - r[5]).total_seconds()) < 1 for r in won)
