"""API settings, read once when the app is created."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.settings import get_settings as warehouse_settings


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
        return _local_secret(warehouse_settings().bizo_home / "secrets" / "jwt_secret")


def _local_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


@cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
