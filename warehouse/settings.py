"""Where the warehouse lives: resolved once, when a process starts, never at import time."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class WarehouseSettings(BaseSettings):
    """`DATABASE_URL` picks an existing server; without it an embedded one runs in `BIZO_HOME`."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", populate_by_name=True, frozen=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    bizo_home: Path = Field(default=REPO_ROOT / ".bizo", alias="BIZO_HOME")
    # Dagster's run and event storage lives in its own database on the same server.
    dagster_database: str = Field(default="dagster", alias="BIZO_DAGSTER_DATABASE")
    warehouse_database: str = Field(default="bizo", alias="BIZO_WAREHOUSE_DATABASE")
    # Fernet key(s) that encrypt connection credentials at rest; comma-separated to rotate
    # (the first encrypts, all decrypt). Unset on the embedded default, one is generated.
    secret_key: SecretStr | None = Field(default=None, alias="BIZO_SECRET_KEY", repr=False)
    # The serving API's login: a role without BYPASSRLS (warehouse/rls.py). Unset, the API
    # uses the warehouse server as role bizo_api with a locally kept password.
    api_database_url: SecretStr | None = Field(
        default=None, alias="BIZO_API_DATABASE_URL", repr=False
    )

    # Where CRM exports and web-session files land for the landing sensor to pick up.
    landing_dir: Path | None = Field(default=None, alias="BIZO_LANDING_DIR")

    @property
    def landing_path(self) -> Path:
        return self.landing_dir or self.bizo_home / "landing"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.bizo_home / "pgdata"


def local_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """A secret kept in a private file: made once, then read. For laptops and the demo only;
    deployments pass secrets through the environment."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


@cache
def get_settings() -> WarehouseSettings:
    """The process-wide settings, read from the environment on first use."""
    return WarehouseSettings()
