"""API settings, read once when the app is created."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache, cached_property
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from warehouse.settings import get_settings as warehouse_settings
from warehouse.settings import local_secret

JwtAlgorithm = Literal["HS256", "RS256"]


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIZO_API_", extra="ignore", frozen=True)

    # One algorithm, chosen here; tokens naming any other (none included) are refused.
    jwt_algorithm: JwtAlgorithm = "HS256"
    # HS256 signing key. Unset, a random key is made once and kept in $BIZO_HOME/secrets, so
    # tokens from `bizo token` stay valid across API restarts on the same machine.
    jwt_secret: SecretStr | None = None
    # RS256: the issuer's public key verifies (PEM); the private key, where this side issues
    # tokens too (`bizo token`), signs.
    jwt_public_key: str | None = None
    jwt_private_key: SecretStr | None = None
    jwt_issuer: str = "bizo"
    jwt_audience: str = "bizo-api"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    token_ttl_minutes: int = Field(default=24 * 60, gt=0)
    max_range_days: int = Field(default=731, gt=0)
    # Browsers' origins allowed to call the API (comma-separated); none by default.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Reads are tenant-private: browsers may keep them this long, then revalidate by ETag.
    cache_max_age_seconds: int = Field(default=60, ge=0)
    # Master key for lead webhooks; each tenant signs with HMAC(master, tenant_id), so one
    # secret serves every tenant and rotating it rotates all. Unset, one is kept locally.
    webhook_secret: SecretStr | None = None
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    webhook_max_bytes: int = Field(default=64 * 1024, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, values: Any) -> Any:
        origins = values.get("cors_origins") if isinstance(values, dict) else None
        if isinstance(origins, str):
            values["cors_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return values

    @model_validator(mode="after")
    def _keys_match_algorithm(self) -> ApiSettings:
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            raise ValueError("BIZO_API_JWT_ALGORITHM=RS256 needs BIZO_API_JWT_PUBLIC_KEY (PEM)")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("BIZO_API_JWT_SECRET must be at least 32 characters")
        return self

    @cached_property
    def verification_key(self) -> str | RSAPublicKey:
        """What checks a token's signature: the HMAC secret or the RSA public key object."""
        if self.jwt_algorithm == "HS256":
            return self._hmac_secret()
        key = load_pem_public_key(self.jwt_public_key.encode())  # type: ignore[union-attr]
        if not isinstance(key, RSAPublicKey):
            raise ValueError("BIZO_API_JWT_PUBLIC_KEY is not an RSA public key")
        return key

    def signing_key(self) -> str | RSAPrivateKey:
        """What signs tokens this side issues (`bizo token`, tests)."""
        if self.jwt_algorithm == "HS256":
            return self._hmac_secret()
        if self.jwt_private_key is None:
            raise ValueError("issuing RS256 tokens needs BIZO_API_JWT_PRIVATE_KEY (PEM)")
        key = load_pem_private_key(self.jwt_private_key.get_secret_value().encode(), None)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("BIZO_API_JWT_PRIVATE_KEY is not an RSA private key")
        return key

    def _hmac_secret(self) -> str:
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
