"""API settings, read once when the app is created."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.settings import get_settings as warehouse_settings
from warehouse.settings import local_secret


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIZO_API_", extra="ignore", frozen=True)

    # HS256 signing key. Unset, a random key is made once and kept in $BIZO_HOME/secrets, so
    # tokens from `bizo token` stay valid across API restarts on the same machine.
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "bizo"
    jwt_audience: str = "bizo-api"
    token_ttl_minutes: int = Field(default=24 * 60, gt=0)
    max_range_days: int = Field(default=731, gt=0)
    # Master key for lead webhooks; each tenant signs with HMAC(master, tenant_id), so one
    # secret serves every tenant and rotating it rotates all. Unset, one is kept locally.
    webhook_secret: SecretStr | None = None
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    webhook_max_bytes: int = Field(default=64 * 1024, gt=0)

    def signing_key(self) -> str:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return local_secret(warehouse_settings().bizo_home / "secrets" / "jwt_secret")

    def webhook_secret_for(self, tenant_id: str) -> str:
        """The secret a tenant's CRM signs its lead webhooks with."""
        if self.webhook_secret is not None:
            master = self.webhook_secret.get_secret_value()
        else:
            master = local_secret(warehouse_settings().bizo_home / "secrets" / "webhook_secret")
        return hmac.new(master.encode(), tenant_id.encode(), hashlib.sha256).hexdigest()


@cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
