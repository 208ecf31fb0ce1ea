"""`bizo connect --test`: one cheap, read-only call per platform with the given credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.retry import RetryPolicy
from connectors.settings import CrmSettings, GoogleAdsSettings, LinkedInSettings, MetaSettings
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
    token = connection.credentials["access_token"]
    if connection.platform == "meta":
        from connectors.meta.client import MetaConnector

        settings = MetaSettings()
        with MetaConnector(
            access_token=token,
            base_url=settings.base_url,
            api_version=settings.api_version,
            retry_policy=_PROBE_POLICY,
        ) as connector:
            totals = connector.fetch_account_totals(connection.account_id, yesterday, yesterday)
        return f"ok: ad account {connection.account_id} spent {totals.spend} yesterday"
    if connection.platform == "linkedin":
        from connectors.linkedin.client import LinkedInConnector

        settings = LinkedInSettings()
        with LinkedInConnector(
            access_token=token,
            base_url=settings.base_url,
            version=settings.version,
            retry_policy=_PROBE_POLICY,
        ) as connector:
            account = connector.fetch_ad_account(connection.account_id)
        return f"ok: ad account {connection.account_id} ({account.get('name', 'unnamed')})"
    if connection.platform == "crm":
        from connectors.crm.client import CrmConnector

        with CrmConnector(
            access_token=token, base_url=CrmSettings().base_url, retry_policy=_PROBE_POLICY
        ) as connector:
            account = connector.fetch_account()
        if str(account.portal_id) != connection.account_id:
            raise ValueError(
                f"the token opens portal {account.portal_id}, not {connection.account_id}"
            )
        return f"ok: portal {account.portal_id} ({account.currency}, {account.time_zone})"
    raise ValueError(f"unknown platform {connection.platform!r}")
