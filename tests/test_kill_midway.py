"""SIGKILL in the middle of a load, then a re-run: no partial slice, no duplicates."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date

import psycopg

from warehouse.loader import Slice, replace_slice

COLUMNS = ("date", "ad_id", "cost")
SLICE = Slice("raw", "kill_test", "tenant-k", date(2026, 3, 1), date(2026, 3, 31))
NEW_ROWS = [(date(2026, 3, 1 + i % 31), i, i / 100) for i in range(20_000)]

# A child that loads a slice and stalls half-way through its COPY, flagging the moment.
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    import psycopg
    from warehouse.loader import Slice, replace_slice

    def rows():
        for i in range(20_000):
            if i == 10_000:
                print("midway", flush=True)
                time.sleep(60)
            yield (date(2026, 3, 1 + i % 31), i, i / 100)

    with psycopg.connect(sys.argv[1]) as conn:
        replace_slice(conn, Slice("raw", "kill_test", "tenant-k", date(2026, 3, 1),
                                  date(2026, 3, 31)), ("date", "ad_id", "cost"), rows())
    """
)


def _snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT date, ad_id, cost FROM raw.kill_test ORDER BY ad_id").fetchall()


def test_sigkill_midway_then_rerun(conn: psycopg.Connection, warehouse_uri: str):
    conn.execute("DROP TABLE IF EXISTS raw.kill_test")
    conn.execute(
        "CREATE TABLE raw.kill_test (tenant_id text, date date, ad_id bigint, cost numeric)"
    )
    conn.commit()
    old_rows = [(date(2026, 3, 2), 1, 9.99), (date(2026, 3, 3), 2, 1.25)]
    replace_slice(conn, SLICE, COLUMNS, old_rows)
    before = _snapshot(conn)

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, warehouse_uri], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "midway"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert _snapshot(conn) == before  # the killed load left nothing behind
    replace_slice(conn, SLICE, COLUMNS, NEW_ROWS)
    replace_slice(conn, SLICE, COLUMNS, NEW_ROWS)
    after = conn.execute(
        "SELECT count(*), count(DISTINCT ad_id), sum(cost) FROM raw.kill_test"
    ).fetchone()
    assert after[:2] == (20_000, 20_000)
    conn.execute("DROP TABLE raw.kill_test")
    conn.commit()
