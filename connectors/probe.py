"""`bizo connect --test`: one cheap, read-only call per platform with the given credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.retry import RetryPolicy
from connectors.settings import GoogleAdsSettings
from warehouse.control import Connection

# A test should answer quickly: one retry at most, never a long wait.
_PROBE_POLICY = RetryPolicy(max_attempts=2, base_delay_seconds=0.5, max_hint_seconds=5)


def probe_connection(connection: Connection) -> str:
    """Raise the platform's error if the credentials or account do not work; else say what
    the account returned."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    if connection.platform == "google_ads":
        from connectors.google_ads.client import GoogleAdsConnector

        settings = GoogleAdsSettings()
        with GoogleAdsConnector(
            developer_token=settings.developer_token,
            access_token=connection.credentials["access_token"],
            login_customer_id=connection.config.get("login_customer_id"),
            endpoint=settings.endpoint,
            ca_cert_path=settings.ca_cert_path,
            retry_policy=_PROBE_POLICY,
        ) as connector:
            spend, clicks = connector.fetch_totals(connection.account_id, yesterday, yesterday)
        return f"ok: customer {connection.account_id} spent {spend} with {clicks} clicks yesterday"
    raise NotImplementedError(f"no connection test for {connection.platform} yet")
