"""docker-compose and the Dockerfile, checked against the code (no Docker daemon needed): every
variable the code reads, every service, port, health check and image stage."""

import re

import pytest

from tests.deploy_contract import (
    DEPLOY,
    ROOT,
    api_paths,
    code_env_vars,
    compose,
    compose_left_at_defaults,
    compose_shared_env,
    environ_reads,
    exec_form,
    instance_only_env,
    load_yaml,
    parse_dockerfile,
    repo_workspace_module,
    settings_env_names,
    shipped_packages,
    stage_chain,
)

SERVICES = {"postgres", "code-server", "dagster-webserver", "dagster-daemon", "api"}
BIZO_SERVICES = SERVICES - {"postgres"}
IMAGE_TARGETS = {"code-server", "dagster", "api"}


def _option(command: list[str], *names: str) -> str:
    for name in names:
        if name in command:
            return command[command.index(name) + 1]
    raise AssertionError(f"none of {names} in {command}")


def _container_ports(service: dict) -> set[int]:
    ports = {int(str(p).split(":")[-1]) for p in service.get("ports", [])}
    return ports | {int(p) for p in service.get("expose", [])}


# -- the code's variables -------------------------------------------------------------------
def test_the_variable_scan_finds_what_settings_and_environ_reads_declare():
    """The scan is what the other tests trust, so check it finds each kind of read."""
    from warehouse.settings import WarehouseSettings

    assert {"DATABASE_URL", "BIZO_SECRET_KEY", "BIZO_HOME"} <= settings_env_names(WarehouseSettings)
    source = (
        "import os\nNAME = 'FROM_CONSTANT'\n"
        "os.environ.get('A'); os.getenv('B'); os.environ['C']; os.environ.get(NAME)\n"
        "os.environ['WRITTEN'] = '1'; os.environ.setdefault('DEFAULTED', '1')\n"
    )
    assert environ_reads(source) == {"A", "B", "C", "FROM_CONSTANT"}
    found = code_env_vars()
    assert {"DATABASE_URL", "BIZO_API_JWT_SECRET", "BIZO_GOOGLE_ADS_ENDPOINT"} <= found
    assert "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" in found  # read through a module constant
    assert "BIZO_DAGSTER_PG_URL" in found  # deploy/dagster.yaml's env reference


def test_compose_sets_or_deliberately_leaves_every_variable_the_code_reads():
    declared = set(compose_shared_env()) | set(compose_left_at_defaults())
    missing = sorted(code_env_vars() - declared)
    assert missing == [], (
        f"the code reads {missing}: set them in deploy/docker-compose.yaml x-bizo-environment "
        "(and in deploy/k8s/config.yaml or the bizo-secrets Secret), or list them under "
        "x-bizo-left-at-defaults with the reason"
    )


def test_compose_declares_no_variable_the_code_does_not_read():
    declared = set(compose_shared_env()) | set(compose_left_at_defaults())
    assert sorted(declared - code_env_vars()) == []
    assert not set(compose_shared_env()) & set(compose_left_at_defaults())


def test_secrets_come_from_the_operator_not_the_file():
    """Required secrets use ${VAR:?…}: compose refuses to start without them."""
    env = compose_shared_env()
    for name in ("BIZO_SECRET_KEY", "BIZO_API_JWT_SECRET", "BIZO_API_WEBHOOK_SECRET"):
        assert env[name].startswith(f"${{{name}:?"), name
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    example = (DEPLOY / ".env.example").read_text()
    referenced = {
        name for value in env.values() for name in re.findall(r"\$\{([A-Z0-9_]+)", str(value))
    }
    assert sorted(n for n in referenced if f"{n}=" not in example) == []


def test_dbt_profile_variables_come_from_the_database_url(warehouse_uri):
    """profiles.yml reads BIZO_PG_*; the code derives them from DATABASE_URL at run time, so
    compose need not set them."""
    from tests.deploy_contract import dbt_profile_env_vars
    from warehouse.db import dbt_env

    assert dbt_profile_env_vars() <= set(dbt_env())


# -- services, ports, health ----------------------------------------------------------------
def test_compose_runs_every_service_with_a_health_check():
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_every_bizo_service_gets_the_same_environment_and_waits_for_healthy_postgres():
    services = compose()["services"]
    for name in BIZO_SERVICES:
        assert services[name]["environment"] == compose_shared_env(), name
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["depends_on"]["code-server"]["condition"] == "service_healthy"


def test_database_urls_point_at_the_compose_postgres():
    env = compose_shared_env()
    postgres = compose()["services"]["postgres"]
    user = postgres["environment"]["POSTGRES_USER"]
    assert env["DATABASE_URL"].startswith(f"postgresql://{user}:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/postgres")
    # dagster-postgres needs the psycopg2 driver named (SQLAlchemy 2.1, STACK_NOTES).
    assert env["BIZO_DAGSTER_PG_URL"].startswith(f"postgresql+psycopg2://{user}:")
    assert env["BIZO_DAGSTER_PG_URL"].endswith(f"@postgres:5432/{env['BIZO_DAGSTER_DATABASE']}")
    init = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    assert f"CREATE DATABASE {env['BIZO_DAGSTER_DATABASE']};" in init
    assert 5432 in _container_ports(postgres)
    assert "pgvector" in postgres["image"]


def test_api_port_probe_and_routes_agree():
    api = compose()["services"]["api"]
    port = int(_option(api["command"], "--port"))
    assert port in _container_ports(api)
    probe = " ".join(api["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/ready" in probe
    assert {"/health", "/ready"} <= api_paths()


def test_the_webserver_and_daemon_load_the_code_server_compose_runs():
    services = compose()["services"]
    code_server = services["code-server"]
    port = int(_option(code_server["command"], "--port", "-p"))
    assert port in _container_ports(code_server)
    assert str(port) in code_server["healthcheck"]["test"]
    workspace = load_yaml(DEPLOY / "compose" / "workspace.yaml")
    (entry,) = workspace["load_from"]
    assert entry["grpc_server"]["host"] == "code-server"
    assert entry["grpc_server"]["port"] == port
    module, attribute = repo_workspace_module()
    assert _option(code_server["command"], "--module-name", "-m") == module
    assert _option(code_server["command"], "--attribute", "-a") == attribute
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "/opt/dagster/workspace.yaml" in services[name]["command"]
    webserver = services["dagster-webserver"]
    assert int(_option(webserver["command"], "--port", "-p")) in _container_ports(webserver)


# -- images -----------------------------------------------------------------------------------
def test_compose_builds_only_targets_the_dockerfile_has():
    stages = parse_dockerfile()
    assert set(stages) >= IMAGE_TARGETS
    for name, service in compose()["services"].items():
        if "build" in service:
            assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
            assert service["build"]["target"] in IMAGE_TARGETS, name
            assert (DEPLOY / service["build"]["context"]).resolve() == ROOT


@pytest.mark.parametrize("target", sorted(IMAGE_TARGETS))
def test_images_run_unprivileged_without_an_entrypoint(target):
    """dagster-k8s and the chart pass the whole command as container args, so an ENTRYPOINT
    would be prepended to `dagster api execute_run …` and break every run pod."""
    chain = stage_chain(parse_dockerfile(), target)
    users = [user for stage in chain for user in stage.all("USER")]
    assert users and users[0] not in ("root", "0"), f"{target} runs as root"
    assert not [e for stage in chain for e in stage.all("ENTRYPOINT")]
    assert chain[0].all("CMD"), f"{target} has no CMD"
    exec_form(chain[0].all("CMD")[-1])


def test_compose_commands_match_the_images_defaults():
    stages = parse_dockerfile()
    services = compose()["services"]
    for service, target in (
        ("code-server", "code-server"),
        ("dagster-webserver", "dagster"),
        ("api", "api"),
    ):
        assert services[service]["command"] == exec_form(stages[target].all("CMD")[-1]), service


def test_the_code_server_image_carries_a_dbt_manifest_built_at_image_build_time():
    stages = parse_dockerfile()
    manifest_stage = stages["dbt-manifest"]
    assert any("dbt parse" in run for run in manifest_stage.all("RUN"))
    copies = stages["code-server"].all("COPY")
    assert any(
        "--from=dbt-manifest" in c and c.split()[-1].endswith("dbt_project/target/manifest.json")
        for c in copies
    )
    exposes = stages["code-server"].all("EXPOSE")
    command = exec_form(stages["code-server"].all("CMD")[-1])
    assert _option(command, "--port") in exposes


def test_images_copy_every_shipped_package_and_install_through_the_constraints():
    stages = parse_dockerfile()
    copied = {c.split()[-2] for c in stages["source"].all("COPY") if "--from" not in c}
    assert set(shipped_packages()) | {"dbt_project"} <= copied
    installs = [
        (stage.name, part)
        for stage in stages.values()
        for run in stage.all("RUN")
        for part in run.split("&&")
        if "pip install" in part and "--upgrade pip" not in part
    ]
    assert len(installs) >= 2  # the project's dependencies and the Dagster services'
    for stage_name, install in installs:
        assert "-c constraints.txt" in install, f"{stage_name}: {install}"


def test_the_dagster_image_ships_the_laptop_instance_config():
    stages = parse_dockerfile()
    chain = stage_chain(stages, "dagster")
    copies = [c for stage in chain for c in stage.all("COPY")]
    assert any("deploy/dagster.yaml" in c and "/opt/dagster/home/dagster.yaml" in c for c in copies)
    env = " ".join(e for stage in chain for e in stage.all("ENV"))
    assert "DAGSTER_HOME=/opt/dagster/home" in env
    assert compose_shared_env()["DAGSTER_HOME"] == "/opt/dagster/home"


def test_the_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".bizo", "dbt_project/target", ".git"} <= ignored


def test_instance_only_variables_are_what_dagster_yaml_reads():
    assert instance_only_env() <= set(compose_shared_env())
    # and the code never reads them itself (only the Dagster instance does)
    code_reads = set()
    for package in shipped_packages():
        for path in (ROOT / package).rglob("*.py"):
            code_reads |= environ_reads(path.read_text())
    assert not code_reads & instance_only_env()
