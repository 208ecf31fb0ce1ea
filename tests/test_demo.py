"""`bizo demo --headless` from nothing: a fresh BIZO_HOME, its own PostgreSQL, exit 0,
real rows in the mart, and nothing left running."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import ORIGINAL_ENVIRON

BIZO = str(Path(sys.executable).parent / "bizo")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_headless_demo_from_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in ORIGINAL_ENVIRON.items() if not k.startswith("BIZO_")}
    env.pop("DATABASE_URL", None)
    env["BIZO_HOME"] = str(home)
    port = _free_port()
    result = subprocess.run(
        [BIZO, "demo", "--headless", "--days", "3", "--sandbox-port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Loaded 3 days for 2 tenants" in result.stdout
    assert "| **truth** |" in result.stdout  # the attribution grade table

    # Nothing left running: not the sandbox server, not the PostgreSQL it started.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
    assert not (home / "pgdata" / "postmaster.pid").exists()

    # The data is there: start the server again and read the mart.
    uri = subprocess.run(
        [BIZO, "db", "url"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        with psycopg.connect(uri) as conn:
            days, tenants, spend = conn.execute(
                """SELECT count(DISTINCT date), count(DISTINCT tenant_id), sum(spend)
                   FROM marts.ad_performance_daily"""
            ).fetchone()
            # One morning of the agents ran per tenant: its weekly report is written.
            (reported,) = conn.execute(
                "SELECT count(DISTINCT tenant_id) FROM app.agent_reports"
            ).fetchone()
        assert (days, tenants) == (3, 2) and spend > 0
        assert reported == 2
    finally:
        subprocess.run([BIZO, "db", "stop"], env=env, check=True, capture_output=True)
    assert os.path.exists(home / "dagster" / "dagster.yaml")
