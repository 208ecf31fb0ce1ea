"""Push sources: files that land in the landing folder (CRM exports, web sessions).

Layout (the contract with whoever drops files; the sandbox writes the same):
    <landing>/<tenant_id>/web/sessions_<YYYY-MM-DD>.jsonl
    <landing>/<tenant_id>/crm/contacts_<YYYY-MM-DD>.csv | .json
A day's files load as that day's slice; broken lines go to quarantine, the rest load.
"""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.ingestion import Fetched, RawTable, ingest, raw_asset, within_window
from assets.partitions import TenantWindow
from assets.resources import WarehouseResource
from connectors.crm.files import CrmContactExportRow, WebSessionRow, parse_landed_file
from connectors.crm.validation import contact_export_problems, web_session_problems
from connectors.retry import CallStats
from warehouse.control import Connection, tenant_time_zone

WEB_SESSIONS = RawTable("web_sessions", WebSessionRow, within_window(web_session_problems))
CONTACT_EXPORTS = RawTable(
    "crm_contact_exports", CrmContactExportRow, within_window(contact_export_problems)
)
LANDING_PATTERNS = {
    "web_sessions": "web/sessions_{day}.jsonl",
    "crm_contact_exports": "crm/contacts_{day}.*",
}


def landed_files(landing: Path, tenant_id: str, table: str, window: TenantWindow) -> list[Path]:
    """The files of `table` for every day of the window, in day order."""
    found = []
    day = window.start
    while day <= window.end:
        pattern = LANDING_PATTERNS[table].format(day=day.isoformat())
        found += sorted((landing / tenant_id).glob(pattern))
        day += timedelta(days=1)
    return [path for path in found if path.suffix in (".jsonl", ".csv", ".json")]


def landing_asset(table: RawTable, description: str) -> dg.AssetsDefinition:
    @raw_asset(table, platform="landing", description=description)
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        landing = warehouse.settings().landing_path

        def fetch(_: Connection | None, window: TenantWindow, stats: CallStats) -> Fetched:
            with warehouse.connect() as conn:
                time_zone = tenant_time_zone(conn, window.tenant_id)
            rows, rejects, unknown = [], [], frozenset()
            for path in landed_files(landing, window.tenant_id, table.name, window):
                parsed = parse_landed_file(path, time_zone=time_zone)
                rows += parsed.rows
                rejects += parsed.rejects
                unknown |= parsed.unknown_fields
            context.log.info(f"{window.tenant_id}: {len(rows)} rows from landed files")
            return Fetched(rows, rejects, unknown)

        return ingest(context, warehouse, platform=None, table=table, fetch=fetch)

    return _asset


web_sessions = landing_asset(
    WEB_SESSIONS,
    "Web sessions landed as JSONL: landing URL, UTMs, click IDs and the anonymous id that a "
    "form fill later ties to a contact.",
)
crm_contact_exports = landing_asset(
    CONTACT_EXPORTS,
    "Contacts from CRM export files (CSV or JSON) dropped in the landing folder.",
)


def landed_partitions(landing: Path, since_mtime: float) -> dict[str, set[date]]:
    """Tenant → days whose landed files changed after `since_mtime` (for the sensor)."""
    changed: dict[str, set[date]] = {}
    for path in landing.glob("*/*/*_*.*"):
        if path.suffix not in (".jsonl", ".csv", ".json") or path.stat().st_mtime <= since_mtime:
            continue
        try:
            day = date.fromisoformat(path.stem.split("_", 1)[1])
        except ValueError:
            continue  # not a landing file name; ignored like any stray file
        changed.setdefault(path.parts[-3], set()).add(day)
    return changed
