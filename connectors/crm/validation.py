"""What makes a CRM or web-session row unfit to load (judges for `warehouse.loader.split_valid`).

The connector and the file parsers turn unreadable values into None rather than failing;
these judges are where a missing id, an implausible email, a negative amount or a timestamp
without a zone becomes a reason in quarantine. A row with no ``date`` (its last-modified
time was unreadable) must be rejected here: it has no slice to load into.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: files.py imports this module
    from connectors.crm.client import CrmCompanyRow, CrmContactRow, CrmDealRow, CrmDealStageRow
    from connectors.crm.files import CrmContactExportRow, WebSessionRow

# One @, something before it, a dot in the domain, no spaces: plausible, not RFC 5322.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def plausible_email(value: str | None) -> bool:
    """Shaped like an address: an unmatchable email is useless for joining leads to deals."""
    return bool(value) and bool(_EMAIL.match(value or ""))


def _id(found: list[str], name: str, value: Any) -> None:
    if value is None:
        found.append(f"missing {name}")
    elif isinstance(value, int) and value <= 0:
        found.append(f"{name} {value} is not a positive id")
    elif isinstance(value, str) and not value.strip():
        found.append(f"missing {name}")


def _timestamp(found: list[str], name: str, value: datetime | None, required: bool) -> None:
    if value is None:
        if required:
            found.append(f"missing or unreadable {name}")
        return
    if value.tzinfo is None:
        found.append(f"{name} has no time zone")
    elif not _EARLIEST <= value < _LATEST:
        found.append(f"{name} {value.isoformat()} is implausible")


def _synced(found: list[str], row_date: date | None, modified: datetime | None) -> None:
    """A synced version's slice day must be the UTC day of its last modification."""
    _timestamp(found, "last_modified_at", modified, required=True)
    if row_date is None:
        found.append("no slice date (last_modified_at unreadable)")
    elif modified is not None and modified.tzinfo and modified.astimezone(UTC).date() != row_date:
        found.append(f"date {row_date} is not the UTC day of last_modified_at {modified}")


def _order(found: list[str], earlier: datetime | None, later: datetime | None, what: str) -> None:
    if earlier and later and earlier.tzinfo and later.tzinfo and later < earlier:
        found.append(what)


def contact_problems(row: CrmContactRow) -> list[str]:
    """Reasons a synced contact version cannot load (empty when it can)."""
    found: list[str] = []
    _id(found, "contact_id", row.contact_id)
    if row.email is not None and not plausible_email(row.email):
        found.append(f"email {row.email!r} is not plausible")
    _timestamp(found, "created_at", row.created_at, required=True)
    _synced(found, row.date, row.last_modified_at)
    _order(found, row.created_at, row.last_modified_at, "last modified before it was created")
    _timestamp(found, "first_visit_at", row.first_visit_at, required=False)
    _timestamp(found, "last_visit_at", row.last_visit_at, required=False)
    _order(found, row.first_visit_at, row.last_visit_at, "last visit before the first")
    if row.num_visits is not None and row.num_visits < 0:
        found.append(f"negative num_visits {row.num_visits}")
    if row.company_size is not None and row.company_size < 0:
        found.append(f"negative company_size {row.company_size}")
    return found


def company_problems(row: CrmCompanyRow) -> list[str]:
    """Reasons a synced company version cannot load."""
    found: list[str] = []
    _id(found, "company_id", row.company_id)
    _timestamp(found, "created_at", row.created_at, required=True)
    _synced(found, row.date, row.last_modified_at)
    _order(found, row.created_at, row.last_modified_at, "last modified before it was created")
    if row.number_of_employees is not None and row.number_of_employees < 0:
        found.append(f"negative number_of_employees {row.number_of_employees}")
    return found


def deal_problems(row: CrmDealRow) -> list[str]:
    """Reasons a synced deal version cannot load: revenue numbers must be sane."""
    found: list[str] = []
    _id(found, "deal_id", row.deal_id)
    if not row.deal_stage:
        found.append("missing deal_stage")
    if row.amount is not None and row.amount < 0:
        found.append(f"negative amount {row.amount}")
    probability = row.deal_stage_probability
    if probability is not None and not 0 <= probability <= 1:
        found.append(f"deal_stage_probability {probability} is outside 0..1")
    _timestamp(found, "created_at", row.created_at, required=True)
    _timestamp(found, "close_date", row.close_date, required=False)
    _synced(found, row.date, row.last_modified_at)
    _order(found, row.created_at, row.last_modified_at, "last modified before it was created")
    if row.is_closed_won and row.is_closed is False:
        found.append("won but not closed")
    return found


def deal_stage_problems(row: CrmDealStageRow) -> list[str]:
    """Reasons a stage entry cannot load."""
    found: list[str] = []
    _id(found, "deal_id", row.deal_id)
    if not row.stage:
        found.append("missing stage")
    _timestamp(found, "entered_at", row.entered_at, required=True)
    if row.date is None:
        found.append("no slice date (the deal's last_modified_at was unreadable)")
    return found


def contact_export_problems(row: CrmContactExportRow) -> list[str]:
    """Reasons an exported contact cannot load; an export without an email is unusable."""
    found: list[str] = []
    _id(found, "contact_id", row.contact_id)
    if not plausible_email(row.email):
        found.append(f"email {row.email!r} is not plausible")
    _timestamp(found, "created_at", row.created_at, required=True)
    if row.company_size is not None and row.company_size < 0:
        found.append(f"negative company_size {row.company_size}")
    return found


def web_session_problems(row: WebSessionRow) -> list[str]:
    """Reasons a landed session cannot load: attribution needs ids, a time and a URL."""
    found: list[str] = []
    _id(found, "session_id", row.session_id)
    _id(found, "anonymous_id", row.anonymous_id)
    _timestamp(found, "started_at", row.started_at, required=True)
    if not row.landing_url or not row.landing_url.startswith(("http://", "https://")):
        found.append(f"landing_url {row.landing_url!r} is not an http(s) URL")
    return found
