"""The compose services' own commands and health checks, run here without Docker: the code
server, the Dagster webserver and the API start from the compose file's `command` in exactly
the compose environment (only addresses and paths rewritten for this machine), pass the
compose health checks, and the webserver loads the `bizo` code location from the code server.

The daemon is not started: its sensors would launch runs against the shared test warehouse.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from bizo.runtime import spawn, stop
from tests.deploy_contract import DEPLOY, ROOT, compose, compose_shared_env
from tests.test_demo import _free_port
from warehouse.server import server_address
from warehouse.settings import get_settings

LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename } } } } }
"""


def _local_value(name: str, value: str) -> str:
    """A compose value as this machine needs it: secrets the operator would supply are made
    up, `${VAR:-default}` takes its default; everything else stays as compose has it."""
    required = re.fullmatch(r"\$\{([A-Z0-9_]+):\?[^}]*\}", value)
    if required:
        return (
            Fernet.generate_key().decode()
            if name == "BIZO_SECRET_KEY"
            else secrets.token_urlsafe(48)
        )
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def compose_env_here(home: Path, dagster_storage_url: str) -> dict[str, str]:
    """The compose environment, with its addresses and paths pointed at this machine: the
    embedded server instead of the `postgres` service, the test session's databases, and a
    scratch home. Variables added to compose later flow through unchanged."""
    compose_env = compose_shared_env()
    env = {name: _local_value(name, str(value)) for name, value in compose_env.items()}
    settings = get_settings()
    address = server_address(settings)
    # Same scheme and database layout as compose, another server.
    assert compose_env["DATABASE_URL"].startswith("postgresql://")
    assert compose_env["BIZO_DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
    env["DATABASE_URL"] = address.uri(address.admin_database)
    env["BIZO_DAGSTER_PG_URL"] = dagster_storage_url
    env["BIZO_WAREHOUSE_DATABASE"] = settings.warehouse_database
    env["BIZO_DAGSTER_DATABASE"] = settings.dagster_database
    for name in ("BIZO_HOME", "BIZO_LANDING_DIR", "DAGSTER_HOME"):
        env[name] = str(home / compose_env[name].lstrip("/"))
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    # What the images set: the venv first on PATH, the source tree importable.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = str(home)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def _with(command: list[str], **options: str) -> list[str]:
    """The compose command with some option values replaced (`--port`, `--host`, …)."""
    command = list(command)
    for option, value in options.items():
        flag = f"--{option}"
        command[command.index(flag) + 1] = value
    return command


def _wait_healthy(check: list[str], env: dict[str, str], process, timeout: float) -> None:
    """Run a compose health-check command until it succeeds, as Docker would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{check} never passed: the service exited"
        if (
            subprocess.run(check, env=env, cwd=ROOT, capture_output=True, check=False).returncode
            == 0
        ):
            return
        time.sleep(2)
    raise AssertionError(f"health check {check} did not pass within {timeout}s")


def _health_check(service: dict, port: int, compose_port: int) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    return [part.replace(f":{compose_port}/", f":{port}/") for part in test[1:]]


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, warehouse_uri: str, dagster_storage_url: str
) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("compose_home")
    env = compose_env_here(home, dagster_storage_url)
    spec = compose()["services"]
    ports = {name: _free_port() for name in ("code-server", "dagster-webserver", "api")}
    started = []
    try:
        code_server = spawn(
            _with(spec["code-server"]["command"], host="127.0.0.1", port=str(ports["code-server"])),
            home / "logs" / "code-server.log",
            env,
        )
        started.append(code_server)
        api = spawn(
            _with(spec["api"]["command"], host="127.0.0.1", port=str(ports["api"])),
            home / "logs" / "api.log",
            env,
        )
        started.append(api)
        check = [
            part if part != "4000" else str(ports["code-server"])
            for part in spec["code-server"]["healthcheck"]["test"][1:]
        ]
        _wait_healthy(check, env, code_server, timeout=240)

        # The webserver's workspace points at the code server compose runs, here.
        workspace = yaml.safe_load((DEPLOY / "compose" / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=ports["code-server"])
        workspace_file = home / "workspace.yaml"
        workspace_file.write_text(yaml.safe_dump(workspace))
        webserver = spawn(
            _with(
                spec["dagster-webserver"]["command"],
                host="127.0.0.1",
                port=str(ports["dagster-webserver"]),
                workspace=str(workspace_file),
            ),
            home / "logs" / "webserver.log",
            env,
        )
        started.append(webserver)
        yield {"env": env, "ports": ports, "processes": dict(zip(ports, started, strict=False))}
    finally:
        for process in started:
            stop(process)


def test_the_api_passes_its_compose_health_check(services):
    api = compose()["services"]["api"]
    compose_port = int(api["command"][api["command"].index("--port") + 1])
    check = _health_check(api, services["ports"]["api"], compose_port)
    _wait_healthy(check, services["env"], services["processes"]["api"], timeout=120)
    answer = httpx.get(f"http://127.0.0.1:{services['ports']['api']}/ready", timeout=5)
    assert answer.json() == {"status": "ready"}


def test_the_webserver_loads_the_code_location_from_the_code_server(services):
    webserver = compose()["services"]["dagster-webserver"]
    port = services["ports"]["dagster-webserver"]
    compose_port = int(webserver["command"][webserver["command"].index("--port") + 1])
    process = services["processes"]["dagster-webserver"]
    _wait_healthy(_health_check(webserver, port, compose_port), services["env"], process, 180)
    deadline = time.monotonic() + 120
    while True:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_QUERY}, timeout=10
        ).json()
        (entry,) = answer["data"]["workspaceOrError"]["locationEntries"]
        if entry["loadStatus"] == "LOADED" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert entry["name"] == "bizo"
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
