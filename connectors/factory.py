"""The one way a stored connection becomes a connector: its platform's client, configured
from the process settings (endpoints, developer tokens, API versions) and the connection's
own credentials."""

from __future__ import annotations

from typing import Any

from connectors.crm.client import CrmConnector
from connectors.google_ads.client import GoogleAdsConnector
from connectors.linkedin.client import LinkedInConnector
from connectors.meta.client import MetaConnector
from connectors.retry import CallStats, RetryPolicy
from connectors.settings import CrmSettings, GoogleAdsSettings, LinkedInSettings, MetaSettings
from warehouse.control import Connection


def open_connector(
    connection: Connection,
    stats: CallStats | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Any:
    """The connector for `connection`'s platform; `stats` collects its calls and retries,
    `retry_policy` replaces the connector's default one."""
    token = connection.credentials["access_token"]
    if connection.platform == "google_ads":
        google = GoogleAdsSettings()
        return GoogleAdsConnector(
            developer_token=google.developer_token,
            login_customer_id=connection.config.get("login_customer_id"),
            endpoint=google.endpoint,
            ca_cert_path=google.ca_cert_path,
            access_token=token,
            stats=stats,
            retry_policy=retry_policy,
        )
    if connection.platform == "meta":
        meta = MetaSettings()
        return MetaConnector(
            access_token=token,
            base_url=meta.base_url,
            api_version=meta.api_version,
            report_poll_seconds=meta.report_poll_seconds,
            stats=stats,
            retry_policy=retry_policy,
        )
    if connection.platform == "linkedin":
        linkedin = LinkedInSettings()
        return LinkedInConnector(
            access_token=token,
            base_url=linkedin.base_url,
            version=linkedin.version,
            stats=stats,
            retry_policy=retry_policy,
        )
    if connection.platform == "crm":
        return CrmConnector(
            access_token=token,
            base_url=CrmSettings().base_url,
            stats=stats,
            retry_policy=retry_policy,
        )
    raise ValueError(f"no connector for platform {connection.platform!r}")
