"""The push paths into the platform, played by the sandbox: files a CRM and a website drop.

* ``write_crm_exports`` - the CRM's export of the contacts created on a day (in the
  portal's time zone), as CSV (HubSpot-like labels, every field quoted, CRLF, UTF-8) and as
  JSON (an array of objects keyed by property name, one record per line), each showing the
  contact as it stood at the end of that day.
* ``write_web_sessions`` - the site tracker's sessions of a day (tenant time zone) as JSONL.

Layout: ``<folder>/<tenant_id>/crm/contacts_<day>.csv|json`` and
``<folder>/<tenant_id>/web/sessions_<day>.jsonl``. Every file is written to a hidden temp
file in the same folder and renamed into place, so a sensor never sees half a file.

Only observable columns leave the sandbox: no cause, no propensity, no session channel or
clicked ad id.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from sandbox.crm.data import PostgresCrmData

# (CSV label, CRM property) of a contact export, in file order.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Record ID", "hs_object_id"),
    ("First Name", "firstname"),
    ("Last Name", "lastname"),
    ("Email", "email"),
    ("Job Title", "jobtitle"),
    ("Company Name", "company"),
    ("Number of Employees", "numemployees"),
    ("Industry", "industry"),
    ("Country/Region", "country"),
    ("Notes", "hs_content"),
    ("Bizo Anonymous ID", "bizo_anonymous_id"),
    ("Original Source", "hs_analytics_source"),
    ("Lifecycle Stage", "lifecyclestage"),
    ("Create Date", "createdate"),
)
SESSION_FIELDS = (
    "session_id",
    "anonymous_id",
    "started_at",
    "landing_url",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "gclid",
    "fbclid",
    "li_fat_id",
)
# The observable session columns only: never `channel` or `platform_ad_id`.
_SESSIONS_SQL = """
SELECT session_id, anonymous_id, started_at, landing_url, referrer, utm_source, utm_medium,
       utm_campaign, utm_content, gclid, fbclid, li_fat_id
FROM sandbox.sessions
WHERE tenant_id = %s AND started_at >= %s AND started_at < %s
ORDER BY started_at, session_id"""


def crm_export_paths(folder: Path, tenant_id: str, day: date) -> tuple[Path, Path]:
    """Where a day's CSV and JSON contact exports land."""
    base = Path(folder) / tenant_id / "crm"
    return base / f"contacts_{day.isoformat()}.csv", base / f"contacts_{day.isoformat()}.json"


def web_sessions_path(folder: Path, tenant_id: str, day: date) -> Path:
    """Where a day's web sessions land."""
    return Path(folder) / tenant_id / "web" / f"sessions_{day.isoformat()}.jsonl"


def atomic_write(path: Path, data: bytes) -> Path:
    """Write `data` to `path` all at once: a hidden temp file in the same folder, flushed to
    disk, then renamed over `path` (atomic on one file system)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def _tenant_time_zone(conn: psycopg.Connection, tenant_id: str) -> ZoneInfo:
    found = conn.execute(
        "SELECT time_zone FROM sandbox.tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    if found is None:
        raise ValueError(f"no tenant {tenant_id!r} in the sandbox world")
    return ZoneInfo(found[0])


def _export_value(value: Any, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    return str(value)


def write_crm_exports(
    conninfo: str,
    folder: Path,
    tenant_id: str,
    day: date,
    *,
    data: PostgresCrmData | None = None,
) -> tuple[Path, Path]:
    """Export the contacts created on `day` (tenant time) as CSV and JSON; returns both
    paths. Pass `data` to reuse one CRM across many days (it caches the world)."""
    with psycopg.connect(conninfo) as conn:
        tz = _tenant_time_zone(conn, tenant_id)
    start, end = _day_bounds(day, tz)
    as_of = end - timedelta(microseconds=1)
    crm = data or PostgresCrmData(conninfo)
    records = [r for r in crm.records(tenant_id, "contacts") if start <= r.created_at < end]
    records.sort(key=lambda r: (r.created_at, r.object_id))
    contacts = [
        {prop: _export_value(r.view(as_of).get(prop), tz) for _label, prop in EXPORT_COLUMNS}
        for r in records
    ]

    text = io.StringIO(newline="")
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([label for label, _prop in EXPORT_COLUMNS])
    for contact in contacts:
        writer.writerow([contact[prop] for _label, prop in EXPORT_COLUMNS])
    csv_path, json_path = crm_export_paths(folder, tenant_id, day)
    atomic_write(csv_path, text.getvalue().encode("utf-8"))
    atomic_write(json_path, _json_lines(contacts).encode("utf-8"))
    return csv_path, json_path


def _json_lines(items: Iterable[dict[str, Any]]) -> str:
    """A JSON array with one record per line: valid JSON, and recoverable line by line."""
    body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return f"[\n{body}\n]\n" if body else "[]\n"


def write_web_sessions(conninfo: str, folder: Path, tenant_id: str, day: date) -> Path:
    """The site tracker's sessions that started on `day` (tenant time) as JSONL; returns
    the path. Timestamps carry the tenant's UTC offset."""
    with psycopg.connect(conninfo) as conn:
        tz = _tenant_time_zone(conn, tenant_id)
        start, end = _day_bounds(day, tz)
        rows = conn.execute(_SESSIONS_SQL, (tenant_id, start, end)).fetchall()
    lines = []
    for row in rows:
        record = dict(zip(SESSION_FIELDS, row, strict=True))
        record["started_at"] = record["started_at"].astimezone(tz).isoformat()
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return atomic_write(web_sessions_path(folder, tenant_id, day), "".join(lines).encode("utf-8"))


def land_days(conninfo: str, folder: Path, tenants: Iterable[str], start: date, end: date) -> int:
    """Every day's sessions and contact exports of `tenants` from `start` to `end`; returns
    the files written. One CRM view serves every day (it builds each tenant's records once,
    where a fresh one per day would rebuild them for every file)."""
    crm = PostgresCrmData(conninfo)
    written = 0
    for tenant in tenants:
        day = start
        while day <= end:
            write_web_sessions(conninfo, folder, tenant, day)
            written += len(write_crm_exports(conninfo, folder, tenant, day, data=crm)) + 1
            day += timedelta(days=1)
    return written
