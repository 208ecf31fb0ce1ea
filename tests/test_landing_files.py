"""Landed files: what the sandbox writes parses back to exactly the world's rows, damage
costs only the records it touches, and loading the result is idempotent."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from connectors.crm import (
    CrmContactExportRow,
    WebSessionRow,
    landed_file_day,
    parse_contact_export_csv,
    parse_contact_export_json,
    parse_landed_file,
    parse_web_sessions_jsonl,
    row_columns,
    row_values,
)
from sandbox.landing import (
    EXPORT_COLUMNS,
    SESSION_FIELDS,
    write_crm_exports,
    write_web_sessions,
)
from warehouse.loader import Slice, replace_slice

DAY = date(2026, 6, 20)
TRUTH_WORDS = ("cause_channel", "true_propensity", "platform_ad_id", "baseline", '"channel"')


@pytest.fixture(scope="module")
def tenant(world: str) -> tuple[str, ZoneInfo]:
    with psycopg.connect(world) as conn:
        tenant_id, tz = conn.execute(
            "SELECT tenant_id, time_zone FROM sandbox.tenants ORDER BY tenant_id LIMIT 1"
        ).fetchone()
    return tenant_id, ZoneInfo(tz)


@pytest.fixture(scope="module")
def landed(world: str, tenant, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("landing")
    csv_path, json_path = write_crm_exports(world, folder, tenant[0], DAY)
    sessions = write_web_sessions(world, folder, tenant[0], DAY)
    return {"folder": folder, "csv": csv_path, "json": json_path, "sessions": sessions}


def _local_day(tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(DAY, time.min, tzinfo=tz)
    return start, datetime.combine(DAY + timedelta(days=1), time.min, tzinfo=tz)


def _world_contacts(world: str, tenant_id: str, tz: ZoneInfo) -> list[tuple]:
    with psycopg.connect(world) as conn:
        return conn.execute(
            """SELECT lead_id, email, first_name, last_name, job_title, company, company_size,
                      industry, country, notes, anonymous_id, created_at
               FROM sandbox.leads WHERE tenant_id = %s AND created_at >= %s AND created_at < %s
               ORDER BY lead_id""",
            (tenant_id, *_local_day(tz)),
        ).fetchall()


def _contact_tuple(row: CrmContactExportRow) -> tuple:
    return (
        row.contact_id,
        row.email,
        row.first_name,
        row.last_name,
        row.job_title,
        row.company,
        row.company_size,
        row.industry,
        row.country,
        row.notes,
        row.anonymous_id,
        row.created_at,
    )


def _world_sessions(world: str, tenant_id: str, tz: ZoneInfo) -> list[tuple]:
    with psycopg.connect(world) as conn:
        return conn.execute(
            """SELECT session_id, anonymous_id, started_at, landing_url, referrer, utm_source,
                      utm_medium, utm_campaign, utm_content, gclid, fbclid, li_fat_id
               FROM sandbox.sessions WHERE tenant_id = %s AND started_at >= %s AND started_at < %s
               ORDER BY session_id""",
            (tenant_id, *_local_day(tz)),
        ).fetchall()


def _session_tuple(row: WebSessionRow) -> tuple:
    return tuple(getattr(row, name) for name in SESSION_FIELDS)


# -- what the sandbox writes parses back to the world ----------------------------------------


def test_contact_exports_parse_back_to_the_days_leads(world, tenant, landed):
    expected = _world_contacts(world, *tenant)
    assert len(expected) > 5
    for path, parse in [
        (landed["csv"], parse_contact_export_csv),
        (landed["json"], parse_contact_export_json),
    ]:
        parsed = parse(path.read_bytes(), source_file=path.name, day=DAY)
        assert parsed.rejects == []
        assert parsed.unknown_fields == frozenset()
        assert sorted(_contact_tuple(r) for r in parsed.rows) == expected
        assert {r.lifecycle_stage for r in parsed.rows} <= {"lead", "opportunity", "customer"}
        assert {r.date for r in parsed.rows} == {DAY}
        text = path.read_text(encoding="utf-8").lower()
        for word in TRUTH_WORDS:
            assert word not in text
    header = landed["csv"].read_bytes().split(b"\r\n", 1)[0].decode()
    assert header == ",".join(f'"{label}"' for label, _prop in EXPORT_COLUMNS)
    # Offsets in the tenant's zone, as a CRM export in portal time would show them.
    assert _local_day(tenant[1])[0].isoformat()[-6:] in landed["csv"].read_text()


def test_web_sessions_parse_back_to_the_days_sessions(world, tenant, landed):
    expected = _world_sessions(world, *tenant)
    assert len(expected) > 50
    data = landed["sessions"].read_bytes()
    parsed = parse_web_sessions_jsonl(
        data, source_file=landed["sessions"].name, day=DAY, time_zone=str(tenant[1])
    )
    assert parsed.rejects == []
    assert sorted(_session_tuple(r) for r in parsed.rows) == expected
    assert {r.started_at.utcoffset() for r in parsed.rows} == {_local_day(tenant[1])[0].utcoffset()}
    for line in data.decode().splitlines():
        keys = list(json.loads(line))
        assert keys == list(SESSION_FIELDS)
        assert not {"channel", "platform_ad_id"} & set(keys)  # the truth stays home
    assert any(r.gclid for r in parsed.rows) and any(r.fbclid or r.li_fat_id for r in parsed.rows)


def test_files_land_whole_and_name_their_day(landed, tenant):
    files = sorted(p.relative_to(landed["folder"]) for p in landed["folder"].rglob("*"))
    assert [str(p) for p in files if p.suffix] == [
        f"{tenant[0]}/crm/contacts_{DAY}.csv",
        f"{tenant[0]}/crm/contacts_{DAY}.json",
        f"{tenant[0]}/web/sessions_{DAY}.jsonl",
    ]  # no temp files left behind
    assert landed_file_day(landed["sessions"]) == DAY
    parsed = parse_landed_file(landed["csv"], time_zone=str(tenant[1]))
    assert parsed.rejects == [] and parsed.rows


# -- damage costs only what it touches ---------------------------------------------------------


def test_broken_csv_lines_become_rejects_and_good_rows_survive(landed):
    header, *records = landed["csv"].read_bytes().decode().split("\r\n")
    records = [next(csv.reader([r])) for r in records if r]
    sample = records[0]
    n = len(EXPORT_COLUMNS)

    def line(values: list[str]) -> bytes:
        # Every record gains a column the parser does not know, right after Record ID.
        cells = [values[0], "teal", *values[1:]]
        return (",".join('"' + c.replace('"', '""') + '"' for c in cells) + "\r\n").encode()

    def variant(**changes: str) -> list[str]:
        values = list(sample)
        for key, value in changes.items():
            values[int(key[1:])] = value
        return values

    bad_lines = [
        line(variant(i3="not-an-email")),  # implausible email
        line(variant(i3="")),  # missing required field
        line(variant(i0="abc")),  # bad type
        line(variant(i13="yesterday")),  # bad timestamp
        line(variant(i13="2026-06-20T10:00:00")),  # a timestamp without an offset
        line(variant(i2="Müller")).replace("Müller".encode(), "Müller".encode("latin-1")),
        b'"900000000002","teal","Ana","Smith\r\n',  # an unterminated quote
        line([*variant(i0="900000000003"), "one too many"]),
    ]
    multi_line_note = line(variant(i0="900000000001", i9="Line one\nline two, with a comma"))
    data = b"".join(
        [
            header.replace('"Record ID"', '"Record ID","Favourite Colour"').encode() + b"\r\n",
            *(line(r) for r in records[:3]),
            *bad_lines,
            multi_line_note,
            *(line(r) for r in records[3:]),
        ]
    )
    parsed = parse_contact_export_csv(data, source_file="contacts_broken.csv", day=DAY)
    assert parsed.unknown_fields == {"Favourite Colour"}
    assert len(parsed.rows) == len(records) + 1
    assert [r.notes for r in parsed.rows if r.contact_id == 900000000001] == [
        "Line one\nline two, with a comma"
    ]
    reasons = [r.reason for r in parsed.rejects]
    assert len(reasons) == len(bad_lines)
    for expected in [
        "email 'not-an-email' is not plausible",
        "missing required field 'Email'",
        "Record ID: 'abc' is not an integer",
        "Create Date: 'yesterday' is not an ISO 8601 timestamp",
        "Create Date: '2026-06-20T10:00:00' has no UTC offset",
        "not valid UTF-8 (byte 0xfc",
        "malformed CSV: unexpected end of data",
        f"expected {n + 1} fields, got {n + 2}",
    ]:
        assert any(expected in reason for reason in reasons), expected
    assert [r.payload["line"] for r in parsed.rejects] == list(range(5, 5 + len(bad_lines)))
    for reject in parsed.rejects:
        assert reject.payload["source_file"] == "contacts_broken.csv"
        assert reject.payload["raw"]
    latin = next(r for r in parsed.rejects if "UTF-8" in r.reason)
    assert "M\\xfcller" in latin.payload["raw"]


def test_an_unusable_csv_header_is_one_file_level_reject():
    data = b'"Record ID","First Name"\r\n"1","Ana"\r\n"2","Ben"\r\n'
    parsed = parse_contact_export_csv(data, source_file="contacts_x.csv", day=DAY)
    assert parsed.rows == []
    assert len(parsed.rejects) == 1
    assert "missing required columns ['Email', 'Create Date']" in parsed.rejects[0].reason
    assert parsed.rejects[0].payload["lines_in_file"] == 3


def test_a_damaged_json_export_is_recovered_line_by_line(landed):
    lines = landed["json"].read_bytes().split(b"\n")
    assert lines[0] == b"[" and len(lines) > 6
    record = json.loads(lines[1].rstrip(b","))
    lines[2] = b'{"hs_object_id": "77", "email": "broken@'  # truncated mid-record
    lines[3] = json.dumps({**record, "hs_object_id": "x1"}).encode() + b","
    lines[4] = json.dumps({**record, "hs_object_id": "78", "shoe_size": "44"}).encode() + b","
    parsed = parse_contact_export_json(b"\n".join(lines), source_file="c.json", day=DAY)
    records = len(lines) - 3  # "[", "]" and the empty last line
    assert len(parsed.rows) == records - 2
    assert sorted(r.payload["line"] for r in parsed.rejects) == [3, 4]
    assert "malformed JSON" in parsed.rejects[0].reason
    assert "'x1' is not an integer" in parsed.rejects[1].reason
    assert parsed.unknown_fields == {"shoe_size"}
    assert [r.row_number for r in parsed.rows][:3] == [1, 4, 5]


def test_broken_session_lines_become_rejects_and_good_rows_survive(landed, tenant):
    good = landed["sessions"].read_bytes().splitlines(keepends=True)
    sample = json.loads(good[0])
    other_day = datetime.combine(DAY - timedelta(days=1), time(12), tzinfo=tenant[1])

    def variant(**changes) -> bytes:
        return (json.dumps({**sample, **changes}, ensure_ascii=False) + "\n").encode()

    bad_lines = [
        b'{"session_id": "s-1", "anonymous_id": \n',  # malformed JSON
        variant(session_id="s-2", referrer="Müller").replace(
            "Müller".encode(), "Müller".encode("latin-1")
        ),
        variant(session_id=None),  # missing required field
        variant(session_id="s-3", utm_source=5),  # bad type
        variant(session_id="s-4", started_at="sometime"),  # bad timestamp
        variant(session_id="s-5", started_at=other_day.isoformat()),  # not the file's day
        variant(session_id="s-6", landing_url="ftp://nowhere"),  # fails validation
        good[1],  # a duplicate session id
        b"[1, 2]\n",
    ]
    extra = variant(session_id="s-7", device="mobile", screen={"w": 390})
    data = b"".join([*good[:5], *bad_lines, extra, *good[5:]])
    parsed = parse_web_sessions_jsonl(
        data, source_file="sessions_x.jsonl", day=DAY, time_zone=str(tenant[1])
    )
    assert parsed.unknown_fields == {"device", "screen"}
    assert len(parsed.rows) == len(good) + 1
    reasons = [r.reason for r in parsed.rejects]
    assert len(reasons) == len(bad_lines)
    for expected in [
        "malformed JSON",
        "not valid UTF-8",
        "missing required field 'session_id'",
        "utm_source: expected text, got int 5",
        "started_at: 'sometime' is not an ISO 8601 timestamp",
        f"is on {DAY - timedelta(days=1)}",
        "landing_url 'ftp://nowhere' is not an http(s) URL",
        "duplicate session_id (first on line 2)",
        "a session must be a JSON object",
    ]:
        assert any(expected in reason for reason in reasons), expected
    assert [r.payload["line"] for r in parsed.rejects] == list(range(6, 6 + len(bad_lines)))


# -- loading twice leaves one copy -------------------------------------------------------------


def test_loading_landed_rows_twice_leaves_one_copy(landed, tenant, conn):
    # An open outer transaction turns the loader's transactions into savepoints, so the
    # rollback at the end leaves the session's shared warehouse as the pipeline loaded it.
    conn.execute("SELECT 1")
    tenant_id, tz = tenant
    sessions = parse_web_sessions_jsonl(
        landed["sessions"].read_bytes() + b"not json\n",
        source_file=landed["sessions"].name,
        day=DAY,
        time_zone=str(tz),
    )
    csv_rows = parse_contact_export_csv(
        landed["csv"].read_bytes() + b'"1","x"\r\n', source_file=landed["csv"].name, day=DAY
    )
    json_rows = parse_contact_export_json(
        landed["json"].read_bytes(), source_file=landed["json"].name, day=DAY
    )
    exports = [*csv_rows.rows, *json_rows.rows]
    assert len(sessions.rejects) == 1 and len(csv_rows.rejects) == 1
    for _attempt in range(2):
        replace_slice(
            conn,
            Slice("raw", "web_sessions", tenant_id, DAY, DAY),
            row_columns(WebSessionRow),
            [row_values(r) for r in sessions.rows],
            sessions.rejects,
        )
        replace_slice(
            conn,
            Slice("raw", "crm_contact_exports", tenant_id, DAY, DAY),
            row_columns(CrmContactExportRow),
            [row_values(r) for r in exports],
            [*csv_rows.rejects, *json_rows.rejects],
        )

    def count(sql: str, *params: object) -> int:
        return conn.execute(sql, params).fetchone()[0]

    assert count(
        "SELECT count(*) FROM raw.web_sessions WHERE tenant_id = %s AND date = %s", tenant_id, DAY
    ) == len(sessions.rows)
    assert count(
        "SELECT count(*) FROM raw.crm_contact_exports WHERE tenant_id = %s AND date = %s",
        tenant_id,
        DAY,
    ) == len(exports)
    for source in ("web_sessions", "crm_contact_exports"):
        assert (
            count(
                "SELECT count(*) FROM app.quarantine WHERE source = %s AND tenant_id = %s"
                " AND slice_start = %s",
                source,
                tenant_id,
                DAY,
            )
            == 1
        )
    stored = conn.execute(
        "SELECT started_at, utm_campaign FROM raw.web_sessions WHERE tenant_id = %s"
        " AND session_id = %s",
        (tenant_id, sessions.rows[0].session_id),
    ).fetchone()
    assert stored == (sessions.rows[0].started_at, sessions.rows[0].utm_campaign)
    assert stored[0].astimezone(UTC).tzinfo is UTC
    conn.rollback()


@pytest.mark.parametrize(
    ("table", "row_type"),
    [("web_sessions", WebSessionRow), ("crm_contact_exports", CrmContactExportRow)],
)
def test_rows_are_exactly_the_raw_columns(conn, table, row_type):
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw'"
            " AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
    ]
    assert [c for c in columns if c not in ("tenant_id", "_loaded_at")] == list(
        row_columns(row_type)
    )
