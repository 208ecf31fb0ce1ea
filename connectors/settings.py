"""Platform-level connector settings (endpoints, developer tokens), read once per process.

Per-account values (customer ids, login customer ids) live in `app.connections`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GoogleAdsSettings(BaseSettings):
    """With no endpoint set, the client talks to Google's production API."""

    model_config = SettingsConfigDict(env_prefix="BIZO_GOOGLE_ADS_", extra="ignore", frozen=True)

    endpoint: str | None = None
    ca_cert_path: Path | None = None
    # The agency's developer token (one per API client); account OAuth tokens live, sealed,
    # with each connection in app.connections.
    developer_token: str = Field(default="sandbox-developer-token", repr=False)


class LinkedInSettings(BaseSettings):
    """With no base URL set, the connector talks to api.linkedin.com."""

    model_config = SettingsConfigDict(env_prefix="BIZO_LINKEDIN_", extra="ignore", frozen=True)

    base_url: str = "https://api.linkedin.com"
    version: str = "202611"  # LinkedIn-Version header: the monthly API version we speak


class MetaSettings(BaseSettings):
    """With no base URL set, the SDK talks to graph.facebook.com."""

    model_config = SettingsConfigDict(env_prefix="BIZO_META_", extra="ignore", frozen=True)

    base_url: str | None = None
    api_version: str = "v26.0"
    # First wait between async report status reads (it doubles); Meta's jobs take seconds.
    report_poll_seconds: float = 1.0


class CrmSettings(BaseSettings):
    """The CRM's REST base URL (HubSpot-style)."""

    model_config = SettingsConfigDict(env_prefix="BIZO_CRM_", extra="ignore", frozen=True)

    base_url: str = "https://api.hubapi.com"


class FxSettings(BaseSettings):
    """With no base URL set, rates come from openexchangerates.org."""

    model_config = SettingsConfigDict(env_prefix="BIZO_FX_", extra="ignore", frozen=True)

    base_url: str = "https://openexchangerates.org"
    app_id: str = Field(default="sandbox-fx-app-id", repr=False)
