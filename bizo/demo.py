"""`bizo demo`: from nothing to a loaded warehouse, a Dagster UI and an API with real data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import psycopg
from rich.console import Console
from rich.table import Table

# Platforms whose ingestion exists so far; the others arrive with issue 3.
from pipelines.jobs import INGESTED_PLATFORMS
from sandbox.grading import ModelGrade, grade_attribution, grades_as_markdown, noise_floor
from sandbox.landing import land_days
from sandbox.onboarding import demo_accounts
from sandbox.services import SandboxServices, start_sandbox_services
from sandbox.store import read_world_meta, write_world
from sandbox.world import GENERATOR_VERSION, PROFILES, default_end_date, generate_tenant_worlds
from warehouse import db
from warehouse.control import Connection, Tenant, upsert_connection, upsert_tenant
from warehouse.crypto import CredentialBox
from warehouse.settings import WarehouseSettings

if TYPE_CHECKING:
    from dagster import DagsterInstance


@dataclass(frozen=True)
class DemoOptions:
    profile: str = "small"
    seed: int = 7
    days: int = 90
    sandbox_port: int = 50551  # Google Ads here, the HTTP sandboxes on the next ports


def ensure_world(console: Console, options: DemoOptions) -> None:
    """Generate the sandbox world unless the same one (seed, profile, end date) is stored."""
    end = default_end_date()
    with db.connect() as conn:
        meta = read_world_meta(conn)
        wanted = (options.seed, options.profile, end, GENERATOR_VERSION)
        if meta and (meta.seed, meta.profile, meta.end, meta.generator_version) == wanted:
            console.print(f"  reusing the {options.profile} world (seed {options.seed}, to {end})")
            return
        console.print(f"  simulating the {options.profile} world (seed {options.seed}, to {end}) …")
        world = generate_tenant_worlds(PROFILES[options.profile], options.seed, end)
        counts = write_world(conn, world)  # a tenant at a time: large fits in memory
    table = Table("sandbox table", "rows", title="Simulated world", title_justify="left")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


def connect_demo_accounts(conn: psycopg.Connection, box: CredentialBox) -> list[str]:
    """Play the user: register each sandbox business and connect its ad accounts."""
    accounts = demo_accounts(conn, INGESTED_PLATFORMS)
    for account in accounts:
        tenant = Tenant(account.tenant_id, account.tenant_name, account.currency, account.time_zone)
        upsert_tenant(conn, tenant)
        connection = Connection(
            account.tenant_id,
            account.platform,
            account.account_id,
            credentials=account.credentials,
        )
        upsert_connection(conn, connection, box)
    return sorted({a.tenant_id for a in accounts})


def register_tenants(console: Console, settings: WarehouseSettings) -> list[str]:
    with db.connect(settings) as conn:
        tenants = connect_demo_accounts(conn, CredentialBox.from_settings(settings))
    console.print(f"  {len(tenants)} tenants connected: {', '.join(tenants)}")
    return tenants


def land_files(settings: WarehouseSettings, tenants: list[str], days: int) -> int:
    """Play the tenants' websites and CRMs: drop each day's sessions and exports in the
    landing folder, as a tag manager export or a CRM's scheduled export would."""
    end = default_end_date()
    start = end - timedelta(days=days - 1)
    return land_days(db.warehouse_uri(settings), settings.landing_path, tenants, start, end)


def ingest_window(
    instance: DagsterInstance,
    tenants: list[str],
    start: date,
    end: date,
    step: Callable[[str], None] = lambda _: None,
) -> None:
    """Every source over `start`..`end`: FX rates first (shared by all tenants), then each
    ingestion job and the landing job per tenant, one single-run backfill each, recorded in
    Dagster like any run."""
    from assets.partitions import day_range_tags, range_tags
    from pipelines.definitions import defs
    from pipelines.jobs import QUIET_RUN_CONFIG, fx_job, ingestion_jobs, landing_job

    def run(job_name: str, tags: dict[str, str], what: str) -> None:
        step(f"{job_name}: {what} {start}..{end}")
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG, tags=tags
        )
        if not result.success:
            raise RuntimeError(f"{job_name} for {what} failed (see the Dagster UI)")

    run(fx_job.name, day_range_tags(start, end), "all tenants")
    for job in [*ingestion_jobs.values(), landing_job]:
        for tenant in tenants:
            run(job.name, range_tags(tenant, start, end), tenant)
    with db.connect() as conn:
        db.analyze_schema(conn, "raw")


def load_history(
    tenants: list[str],
    days: int,
    step: Callable[[str], None],
    instance: DagsterInstance | None = None,
) -> list[ModelGrade]:
    """Materialize the last `days` days per tenant and source (in `instance`, default the
    configured one), build dbt, and grade attribution against the truth."""
    import dagster as dg

    from assets.dbt import FULL_REFRESH_TAG
    from assets.partitions import tenant_partitions
    from pipelines.definitions import defs
    from pipelines.jobs import QUIET_RUN_CONFIG

    instance = instance or dg.DagsterInstance.get()
    instance.add_dynamic_partitions(tenant_partitions.name, tenants)
    end = default_end_date()
    ingest_window(instance, tenants, end - timedelta(days=days - 1), end, step)
    step("dbt build (full refresh)")
    transform = defs.resolve_job_def("dbt_build")
    if not transform.execute_in_process(
        instance=instance, run_config=QUIET_RUN_CONFIG, tags={FULL_REFRESH_TAG: "true"}
    ).success:
        raise RuntimeError("dbt build failed (see the Dagster UI)")
    step("Grading attribution against the sandbox's truth")
    return record_attribution_grades(instance)


def run_agent_cycle(
    tenants: list[str], step: Callable[[str], None], instance: DagsterInstance | None = None
) -> None:
    """One morning of the agents per tenant, as the schedules would run it: fit the curves,
    monitor, recommend (dry run unless BIZO_AUTO_APPLY), and write the weekly report, so the
    dashboard and the API have recommendations to show."""
    import dagster as dg

    from pipelines.agent_jobs import curves_job, daily_agents_job, reports_job
    from pipelines.definitions import defs
    from pipelines.jobs import QUIET_RUN_CONFIG

    instance = instance or dg.DagsterInstance.get()
    for job in (curves_job, daily_agents_job, reports_job):
        for tenant in tenants:
            step(f"{job.name}: {tenant}")
            result = defs.resolve_job_def(job.name).execute_in_process(
                instance=instance, run_config=QUIET_RUN_CONFIG, partition_key=tenant
            )
            if not result.success:
                raise RuntimeError(f"{job.name} for {tenant} failed (see the Dagster UI)")


def record_attribution_grades(instance: DagsterInstance) -> list[ModelGrade]:
    """How far each attribution model's lead credit is from the world's truth, recorded as
    an observation of `marts/attribution_credits`, so the table sits beside the asset in the
    Dagster UI. The demo does this, not the pipeline: pipeline code never reads the truth."""
    import dagster as dg

    with db.connect() as conn:
        grades = grade_attribution(conn)
    metadata: dict[str, object] = {
        "truth_error_table": dg.MetadataValue.md(grades_as_markdown(grades)),
        "truth_noise_floor": noise_floor(grades),
        **{f"truth_error/{grade.model}": grade.error for grade in grades},
        **{f"truth_pooled_error/{grade.model}": grade.pooled_error for grade in grades},
    }
    if grades:
        metadata["closest_to_truth"] = grades[0].model
    instance.report_runless_asset_event(
        dg.AssetObservation(
            asset_key=dg.AssetKey(["marts", "attribution_credits"]),
            description="Graded by the sandbox: lead credit per tenant against the "
            "counterfactual truth (mean of the tenants' share errors; the noise floor is the "
            "truth's own Monte-Carlo error)",
            metadata=metadata,
        )
    )
    return grades


def start_sandbox(settings: WarehouseSettings, options: DemoOptions) -> SandboxServices:
    return start_sandbox_services(
        db.warehouse_uri(settings), settings.bizo_home, base_port=options.sandbox_port
    )
