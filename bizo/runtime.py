"""Process-level wiring shared by the CLI commands: Dagster home, child processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from warehouse import db
from warehouse.settings import REPO_ROOT, WarehouseSettings


def dagster_home(settings: WarehouseSettings) -> Path:
    """$BIZO_HOME/dagster holding deploy/dagster.yaml: storage on the warehouse server."""
    home = settings.bizo_home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


def export_environment(settings: WarehouseSettings, extra: dict[str, str] | None = None) -> None:
    """Set, once, the variables that this process and every child (Dagster, dbt) read."""
    os.environ.update(
        {
            "DAGSTER_HOME": str(dagster_home(settings)),
            # Children (dagster dev, its code server, dbt) find the venv's tools first.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "BIZO_DAGSTER_PG_URL": db.dagster_storage_url(settings),
            **db.dbt_env(settings),
            **(extra or {}),
        }
    )


def _default_sigint() -> None:
    # `dagster dev` inherits an ignored SIGINT from non-interactive shells and would then
    # ignore Ctrl-C and SIGTERM; give the child its default handlers back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a child in its own session (so we can stop its whole process group); with `env`,
    in exactly that environment instead of this process's."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    return subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `timeout`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        return


def wait_for_http(url: str, timeout: float, process: subprocess.Popen) -> bool:
    """Poll `url` until it answers 200, the child dies, or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            answered = httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            answered = False  # not listening yet
        if answered:
            return True
        time.sleep(1)
    return False


def python_tool(name: str) -> str:
    """A console script installed beside this interpreter (the venv's dagster, uvicorn)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name
