"""`bizo`: the one entry point (demo, dev servers, database, sandbox, tokens)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bizo.recommendations_cli import recommendations_app

app = typer.Typer(help="Bizo data platform.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The warehouse PostgreSQL (embedded unless DATABASE_URL is set).")
sandbox_app = typer.Typer(help="The simulated marketing world and its platform servers.")
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(recommendations_app, name="recommendations")
console = Console()


def _settings():
    from warehouse.settings import get_settings

    return get_settings()


# -- database --------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start (or attach to) the server and apply migrations."""
    from warehouse import db

    settings = _settings()
    db.warehouse_address(settings)
    console.print(f"[green]ready[/] {db.warehouse_uri(settings)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    from warehouse.server import stop_embedded_server

    settings = _settings()
    if not settings.embedded:
        console.print("DATABASE_URL is set: that server is not ours to stop.")
        raise typer.Exit(1)
    console.print("stopped" if stop_embedded_server(settings) else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the server runs, without starting it."""
    from warehouse.server import embedded_server_running

    settings = _settings()
    if not settings.embedded:
        console.print("external server (DATABASE_URL)")
        return
    pid = embedded_server_running(settings)
    console.print(f"running (pid {pid}) in {settings.pgdata}" if pid else "not running")
    if not pid:
        raise typer.Exit(1)


@db_app.command("url")
def db_url() -> None:
    """Print the warehouse connection URI (starts the server if needed)."""
    from warehouse import db

    typer.echo(db.warehouse_uri(_settings()))


@db_app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def db_psql(ctx: typer.Context) -> None:
    """Open psql on the warehouse (extra arguments pass through)."""
    from warehouse import db
    from warehouse.server import psql_executable

    uri = db.warehouse_uri(_settings())
    raise typer.Exit(subprocess.call([psql_executable(), uri, *ctx.args]))


# -- sandbox ---------------------------------------------------------------------------------
@sandbox_app.command("generate")
def sandbox_generate(
    profile: Annotated[str, typer.Option(help="small (CI), medium or large")] = "small",
    seed: int = 7,
    end: Annotated[
        str | None, typer.Option(help="last day, YYYY-MM-DD (default yesterday)")
    ] = None,
) -> None:
    """Simulate a world and store it in the sandbox schema; prints row counts."""
    from rich.table import Table

    from sandbox.store import read_world_meta, write_world
    from sandbox.world import PROFILES, generate_tenant_worlds
    from warehouse import db

    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; pick one of {sorted(PROFILES)}")
    world = generate_tenant_worlds(
        PROFILES[profile], seed, date.fromisoformat(end) if end else None
    )
    # A tenant at a time, simulated and stored, so a large world fits in memory.
    with console.status(f"simulating {profile} into the sandbox schema …"), db.connect() as conn:
        counts = write_world(conn, world)
        meta = read_world_meta(conn)
    table = Table("table", "rows", title=f"{profile} world, {meta.start}..{meta.end}")
    for name, count in counts.items():
        table.add_row(f"sandbox.{name}", f"{count:,}")
    console.print(table)


@sandbox_app.command("serve")
def sandbox_serve(sandbox_port: int = 50551) -> None:
    """Run the sandbox platform servers in the foreground."""
    from sandbox.services import start_sandbox_services
    from warehouse import db

    settings = _settings()
    services = start_sandbox_services(db.warehouse_uri(settings), settings.bizo_home, sandbox_port)
    for name, value in services.client_env().items():
        console.print(f"export {name}={value}")
    try:
        signal.pause()  # until Ctrl-C or SIGTERM (both raise KeyboardInterrupt, see main)
    except KeyboardInterrupt:
        services.stop()


# -- connections -----------------------------------------------------------------------------
def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} must look like key=value, not {value!r}")
        pairs[key] = item
    return pairs


@app.command()
def connect(
    tenant: Annotated[str, typer.Argument(help="tenant id, e.g. acme-logistics")],
    platform: Annotated[str, typer.Option(help="google_ads, meta, linkedin or crm")],
    account: Annotated[str, typer.Option(help="the platform's account / customer / portal id")],
    credential: Annotated[
        list[str], typer.Option(help="key=value, e.g. access_token=…; stored encrypted")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    config: Annotated[
        list[str], typer.Option(help="key=value, non-secret, e.g. login_customer_id=…")
    ] = [],  # noqa: B006
    name: Annotated[str | None, typer.Option(help="tenant display name (new tenants)")] = None,
    currency: Annotated[str | None, typer.Option(help="reporting currency (new tenants)")] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone (new tenants)")] = None,
    test: Annotated[
        bool, typer.Option(help="call the platform once with these credentials")
    ] = False,
) -> None:
    """Connect an ad account (or CRM portal) to a tenant; the tenant's partitions follow."""
    from connectors.probe import probe_connection
    from warehouse import db
    from warehouse.control import (
        PLATFORMS,
        Connection,
        Tenant,
        list_tenants,
        record_connection_test,
        upsert_connection,
        upsert_tenant,
    )
    from warehouse.crypto import CredentialBox

    if platform not in PLATFORMS:
        raise typer.BadParameter(f"platform must be one of {', '.join(PLATFORMS)}")
    settings = _settings()
    connection = Connection(
        tenant, platform, account, _pairs(config, "--config"), _pairs(credential, "--credential")
    )
    with db.connect(settings) as conn:
        if tenant not in {t.tenant_id for t in list_tenants(conn)}:
            if not (name and currency and time_zone):
                raise typer.BadParameter(
                    f"{tenant} is new: give --name, --currency and --time-zone"
                )
            upsert_tenant(conn, Tenant(tenant, name, currency.upper(), time_zone))
        upsert_connection(conn, connection, CredentialBox.from_settings(settings))
    console.print(f"connected {platform} {account} to {tenant} (credentials encrypted)")
    if test:
        try:
            result = probe_connection(connection)
        except Exception as error:  # noqa: BLE001 - any failure is the test's answer
            result = f"failed: {type(error).__name__}: {error}"
        with db.connect(settings) as conn:
            record_connection_test(conn, connection, result)
        console.print(result)
        if result.startswith("failed"):
            raise typer.Exit(1)


@app.command("webhook-secret")
def webhook_secret(tenant: Annotated[str, typer.Option(help="tenant id")]) -> None:
    """Print the secret a tenant's CRM signs lead webhooks with (POST /v1/webhooks/leads)."""
    from serving_api.settings import get_api_settings

    typer.echo(get_api_settings().webhook_secret_for(tenant))


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for BIZO_SECRET_KEY (put it in front of the old one to rotate)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


@app.command()
def reseal() -> None:
    """Re-seal every stored credential under the first BIZO_SECRET_KEY (after a rotation)."""
    from warehouse import db
    from warehouse.control import reseal_credentials
    from warehouse.crypto import CredentialBox, SecretsUnavailable

    settings = _settings()
    try:
        with db.connect(settings) as conn:
            count = reseal_credentials(conn, CredentialBox.from_settings(settings))
    except SecretsUnavailable as error:
        console.print(f"nothing re-sealed: {error}")
        raise typer.Exit(1) from error
    console.print(
        f"re-sealed {count} connection credentials under the first key; every key after it "
        "may now leave BIZO_SECRET_KEY"
    )


# -- tokens ----------------------------------------------------------------------------------
@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="tenant id the token grants")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin")] = "viewer",
) -> None:
    """Issue an API token for a tenant (signed with the API's key)."""
    from serving_api.auth import issue_token
    from serving_api.settings import get_api_settings

    if role not in ("viewer", "analyst", "admin"):
        raise typer.BadParameter("role must be viewer, analyst or admin")
    typer.echo(issue_token(get_api_settings(), tenant, role))  # type: ignore[arg-type]


@app.command("api-key")
def api_key(
    tenant: Annotated[str, typer.Option(help="tenant id the key grants")],
    name: Annotated[str, typer.Option(help="what the key is for, e.g. wallboard")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin")] = "viewer",
    rate_limit: Annotated[int, typer.Option(help="requests per minute", min=1)] = 600,
) -> None:
    """Create a dashboard API key (send it as X-API-Key); only its hash is stored."""
    from serving_api.auth import ROLES, new_api_key
    from warehouse import db

    if role not in ROLES:
        raise typer.BadParameter("role must be viewer, analyst or admin")
    key, prefix, key_hash = new_api_key()
    with db.connect(_settings()) as conn:
        conn.execute(
            """INSERT INTO app.api_keys
                   (tenant_id, name, role, key_prefix, key_hash, rate_limit_per_minute)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (tenant, name, role, prefix, key_hash, rate_limit),
        )
    typer.echo(key)


# -- servers ---------------------------------------------------------------------------------
def _start_servers(dagster_port: int, api_port: int) -> list[subprocess.Popen]:
    from bizo.runtime import python_tool, spawn, wait_for_http

    logs = _settings().bizo_home / "logs"
    dagster = spawn(
        [
            python_tool("dagster"),
            "dev",
            "-w",
            "workspace.yaml",
            "-p",
            str(dagster_port),
            "-h",
            "127.0.0.1",
        ],
        logs / "dagster.log",
    )
    api = spawn(
        [
            python_tool("uvicorn"),
            "serving_api.main:app",
            "--port",
            str(api_port),
            "--host",
            "127.0.0.1",
        ],
        logs / "api.log",
    )
    processes = [dagster, api]
    for name, url, process in (
        ("API", f"http://127.0.0.1:{api_port}/health", api),
        ("Dagster UI", f"http://127.0.0.1:{dagster_port}/server_info", dagster),
    ):
        if not wait_for_http(url, 180, process):
            from bizo.runtime import stop

            for p in processes:
                stop(p)
            console.print(f"[red]{name} did not start; see {logs}[/]")
            raise typer.Exit(1)
    return processes


def _serve_until_interrupted(processes: list[subprocess.Popen], services) -> None:
    from bizo.runtime import stop

    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        console.print("[red]a server exited; stopping the rest[/]")
    except KeyboardInterrupt:
        console.print("\nstopping …")
    finally:
        for process in processes:
            stop(process)
        if services is not None:
            services.stop()


@app.command()
def dev(dagster_port: int = 3000, api_port: int = 8000, sandbox_port: int = 50551) -> None:
    """Dagster UI + daemon, the API and the sandbox servers, on the current warehouse."""
    from bizo.demo import DemoOptions, start_sandbox
    from bizo.runtime import export_environment

    settings = _settings()
    services = start_sandbox(settings, DemoOptions(sandbox_port=sandbox_port))
    export_environment(settings, services.client_env())
    processes = _start_servers(dagster_port, api_port)
    console.print(
        f"Dagster UI  http://127.0.0.1:{dagster_port}\nAPI         http://127.0.0.1:{api_port}/docs"
    )
    _serve_until_interrupted(processes, services)


@app.command()
def demo(
    headless: Annotated[
        bool, typer.Option(help="do the work, then exit; leave nothing running")
    ] = False,
    profile: str = "small",
    seed: int = 7,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 90,
    dagster_port: int = 3000,
    api_port: int = 8000,
    sandbox_port: Annotated[int, typer.Option(help="first sandbox port; 0 = any free")] = 50551,
) -> None:
    """Run the main job end to end on the embedded defaults, then serve the UI and the API."""
    from bizo import demo as steps
    from bizo.runtime import export_environment
    from sandbox.grading import grades_as_markdown
    from serving_api.auth import issue_token
    from serving_api.settings import get_api_settings
    from warehouse import db
    from warehouse.server import embedded_server_running, stop_embedded_server

    settings = _settings()
    options = steps.DemoOptions(profile=profile, seed=seed, days=days, sandbox_port=sandbox_port)
    started = time.monotonic()
    services = None
    owns_postgres = settings.embedded and embedded_server_running(settings) is None
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("Starting PostgreSQL", total=None)

            def step(text: str) -> None:
                progress.update(task, description=text)
                progress.console.print(f"[dim]→[/] {text}")

            step("Starting PostgreSQL + pgvector")
            uri = db.warehouse_uri(settings)
            step("Simulating the sandbox world")
            steps.ensure_world(progress.console, options)
            step("Starting the sandbox Google Ads API (gRPC, TLS)")
            services = steps.start_sandbox(settings, options)
            export_environment(settings, services.client_env())
            step("Registering demo tenants")
            tenants = steps.register_tenants(progress.console, settings)
            step("Landing web sessions and CRM exports")
            steps.land_files(settings, tenants, days)
            grades = steps.load_history(tenants, days, step)
            steps.run_agent_cycle(tenants, step)
            progress.update(task, description="Loaded", completed=1, total=1)
        elapsed = time.monotonic() - started
        console.print(f"[green]Loaded {days} days for {len(tenants)} tenants[/] in {elapsed:.0f}s")
        console.print(f"warehouse: {uri}")
        console.print("\nAttribution against the sandbox's truth (lead credit per cause):")
        typer.echo(grades_as_markdown(grades))
        if headless:
            return
        processes = _start_servers(dagster_port, api_port)
        token_value = issue_token(get_api_settings(), tenants[0])
        yesterday = steps.default_end_date()
        console.print(
            f"\n[bold]Dagster UI[/]  http://127.0.0.1:{dagster_port}\n"
            f"[bold]API docs[/]    http://127.0.0.1:{api_port}/docs\n"
        )
        # Plain output: a wrapped token would not survive copy and paste.
        since = yesterday - timedelta(days=13)
        typer.echo(
            f"curl -H 'Authorization: Bearer {token_value}' "
            f"'http://127.0.0.1:{api_port}/v1/performance?start={since}&end={yesterday}'\n"
        )
        console.print("Ctrl-C stops everything this command started.")
        _serve_until_interrupted(processes, services)
        services = None
    finally:
        if services is not None:
            services.stop()
        if owns_postgres:  # we started it, so we stop it: nothing of ours outlives the demo
            stop_embedded_server(settings)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # A shell that starts us in the background hands us SIGINT/SIGTERM ignored; Ctrl-C and
    # `kill` must still stop everything we start, so take both back explicitly.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # gRPC's informational fork notices (we start children while its threads run) are noise.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    app()


if __name__ == "__main__":
    sys.exit(main())
