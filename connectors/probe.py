"""`bizo connect --test`: one cheap, read-only call per platform with the given credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.factory import open_connector
from connectors.retry import RetryPolicy
from warehouse.control import Connection

# A test should answer quickly: one retry at most, never a long wait.
_PROBE_POLICY = RetryPolicy(max_attempts=2, base_delay_seconds=0.5, max_hint_seconds=5)


def probe_connection(connection: Connection) -> str:
    """Raise the platform's error if the credentials or account do not work; else say what
    the account returned."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    account_id = connection.account_id
    with open_connector(connection, retry_policy=_PROBE_POLICY) as connector:
        if connection.platform == "google_ads":
            spend, clicks = connector.fetch_totals(account_id, yesterday, yesterday)
            return f"ok: customer {account_id} spent {spend} with {clicks} clicks yesterday"
        if connection.platform == "meta":
            totals = connector.fetch_account_totals(account_id, yesterday, yesterday)
            return f"ok: ad account {account_id} spent {totals.spend} yesterday"
        if connection.platform == "linkedin":
            account = connector.fetch_ad_account(account_id)
            return f"ok: ad account {account_id} ({account.get('name', 'unnamed')})"
        portal = connector.fetch_account()
    if str(portal.portal_id) != account_id:
        raise ValueError(f"the token opens portal {portal.portal_id}, not {account_id}")
    return f"ok: portal {portal.portal_id} ({portal.currency}, {portal.time_zone})"
