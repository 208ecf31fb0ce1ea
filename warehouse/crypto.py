"""Credentials at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) under BIZO_SECRET_KEY."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from warehouse.settings import WarehouseSettings, local_secret


class SecretsUnavailable(RuntimeError):
    """No key to seal or open credentials with."""


class CredentialBox:
    """Seals and opens credential dicts. Several keys rotate: the first seals, any opens."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretsUnavailable("no encryption key configured (BIZO_SECRET_KEY)")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_settings(cls, settings: WarehouseSettings) -> CredentialBox:
        if settings.secret_key is not None:
            keys = settings.secret_key.get_secret_value().split(",")
            return cls([key.strip() for key in keys if key.strip()])
        if not settings.embedded:
            raise SecretsUnavailable(
                "BIZO_SECRET_KEY must be set when DATABASE_URL is: credentials are encrypted "
                "with it (make one with `bizo secret-key`)"
            )
        key_file = settings.bizo_home / "secrets" / "secret_key"
        return cls([local_secret(key_file, lambda: Fernet.generate_key().decode())])

    def seal(self, credentials: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(bytes(sealed)))
        except InvalidToken as error:
            raise SecretsUnavailable(
                "stored credentials do not open with the configured BIZO_SECRET_KEY "
                "(was the key rotated without keeping the old one second in the list?)"
            ) from error

    def rotate(self, sealed: bytes) -> bytes:
        """Re-seal under the first key (after adding a new key in front of the old ones)."""
        try:
            return self._fernet.rotate(bytes(sealed))
        except InvalidToken as error:
            raise SecretsUnavailable(
                "a stored credential opens with none of the keys in BIZO_SECRET_KEY "
                "(keep the old key in the list until every credential is re-sealed)"
            ) from error
