"""API settings, read once when the app is created."""

from __future__ import annotations

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

    def signing_key(self) -> str:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return local_secret(warehouse_settings().bizo_home / "secrets" / "jwt_secret")


@cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
