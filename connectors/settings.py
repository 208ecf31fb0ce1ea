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
