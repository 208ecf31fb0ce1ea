from datetime import date

import psycopg
import pytest

from warehouse.loader import Reject, Slice, replace_slice, split_valid


@pytest.fixture
def scratch(conn: psycopg.Connection) -> Slice:
    conn.execute("DROP TABLE IF EXISTS raw.loader_test")
    conn.execute(
        "CREATE TABLE raw.loader_test (tenant_id text, date date, ad_id bigint, cost numeric)"
    )
    conn.commit()
    return Slice("raw", "loader_test", "tenant-a", date(2026, 1, 1), date(2026, 1, 2))


COLUMNS = ("date", "ad_id", "cost")
ROWS = [(date(2026, 1, 1), 1, 1.5), (date(2026, 1, 2), 1, 2.25), (date(2026, 1, 2), 2, 0)]


def _rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT tenant_id, date, ad_id, cost FROM raw.loader_test ORDER BY date, ad_id"
    ).fetchall()


def test_loading_a_slice_twice_leaves_one_copy(conn, scratch):
    first = replace_slice(conn, scratch, COLUMNS, ROWS)
    second = replace_slice(conn, scratch, COLUMNS, ROWS)
    assert (first.rows_loaded, first.rows_replaced) == (3, 0)
    assert (second.rows_loaded, second.rows_replaced) == (3, 3)
    assert len(_rows(conn)) == 3


def test_other_tenants_and_days_are_untouched(conn, scratch):
    neighbour = Slice("raw", "loader_test", "tenant-b", scratch.start, scratch.end)
    replace_slice(conn, neighbour, COLUMNS, ROWS)
    later = Slice("raw", "loader_test", "tenant-a", date(2026, 1, 3), date(2026, 1, 3))
    replace_slice(conn, later, COLUMNS, [(date(2026, 1, 3), 9, 1)])
    replace_slice(conn, scratch, COLUMNS, ROWS[:1])
    tenants = conn.execute(
        "SELECT tenant_id, count(*) FROM raw.loader_test GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert tenants == [("tenant-a", 2), ("tenant-b", 3)]


def test_a_crash_midway_leaves_the_old_slice(conn, scratch):
    replace_slice(conn, scratch, COLUMNS, ROWS)
    before = _rows(conn)

    def rows_then_crash():
        yield ROWS[0]
        raise ConnectionError("source went away mid-page")

    with pytest.raises(ConnectionError):
        replace_slice(conn, scratch, COLUMNS, rows_then_crash())
    assert _rows(conn) == before


def test_a_row_outside_the_slice_is_refused_and_nothing_changes(conn, scratch):
    replace_slice(conn, scratch, COLUMNS, ROWS)
    with pytest.raises(ValueError, match="outside the slice"):
        replace_slice(conn, scratch, COLUMNS, [(date(2026, 1, 5), 1, 1.0)])
    assert len(_rows(conn)) == 3


def test_rejects_are_quarantined_once_per_slice(conn, scratch):
    rows = [{"ad_id": 1, "cost": -5}, {"ad_id": 2, "cost": 3}]
    good, bad = split_valid(rows, lambda r: ["negative cost"] if r["cost"] < 0 else [])
    assert good == [{"ad_id": 2, "cost": 3}]
    assert bad == [Reject("negative cost", {"ad_id": 1, "cost": -5})]
    for _ in range(2):
        replace_slice(conn, scratch, COLUMNS, [(date(2026, 1, 1), 2, 3)], rejects=bad)
    quarantined = conn.execute(
        "SELECT reason, payload FROM app.quarantine WHERE source = 'loader_test'"
    ).fetchall()
    assert quarantined == [("negative cost", {"ad_id": 1, "cost": -5})]
