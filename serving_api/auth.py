"""Who is calling: a JWT bearer token or a dashboard API key. Either names the tenant; no
request parameter ever does.

Tokens are checked for signature (one configured algorithm: HS256 or RS256), issuer, audience
and expiry; `alg=none` and an HS256 token signed with the RS256 public key (key confusion) are
refused before any verification. API keys are random secrets stored only as SHA-256; each has
its own per-minute rate limit.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from serving_api.settings import ApiSettings, get_api_settings

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")  # app.tenants' own check
API_KEY_PREFIX = "bizo_"

_bearer = HTTPBearer(auto_error=False, description="A JWT from `bizo token --tenant T`.")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A dashboard key from `bizo api-key`."
)


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    role: Role
    api_key_id: int | None = None

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def issue_token(
    settings: ApiSettings, tenant_id: str, role: Role = "viewer", subject: str = "bizo-cli"
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "tenant": tenant_id,
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_ttl_minutes),
    }
    return jwt.encode(claims, settings.signing_key(), algorithm=settings.jwt_algorithm)


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (the key, shown once; its display prefix; the hash that is stored)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def principal_from_token(token: str, settings: ApiSettings) -> Principal:
    """The caller a JWT names, or 401."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as error:
        raise _unauthorized(f"invalid token: {error}") from error
    if algorithm != settings.jwt_algorithm:
        # Refused before verification: no alg=none, no HS256 keyed with our RSA public key.
        raise _unauthorized(f"invalid token: algorithm {algorithm!r} is not accepted")
    try:
        claims = jwt.decode(
            token,
            settings.verification_key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "iss", "aud", "sub", "tenant"]},
        )
    except jwt.PyJWTError as error:
        raise _unauthorized(f"invalid token: {error}") from error
    role = claims.get("role", "viewer")
    if role not in ROLES:
        raise _unauthorized(f"invalid token: unknown role {role!r}")
    tenant = claims["tenant"]
    if not isinstance(tenant, str) or not TENANT_ID.match(tenant):
        raise _unauthorized("invalid token: malformed tenant")
    return Principal(subject=str(claims["sub"]), tenant_id=tenant, role=role)


@dataclass
class RateLimiter:
    """A token bucket per API key, refilled continuously at its per-minute limit. Per process:
    with N workers a key may reach N times its limit, which bounds abuse, not accounting."""

    buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, key_id: int, per_minute: int) -> float | None:
        """Take one request from the key's bucket; None if allowed, else seconds to wait."""
        now = time.monotonic()
        tokens, updated = self.buckets.get(key_id, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - updated) * per_minute / 60.0)
        if tokens < 1.0:
            self.buckets[key_id] = (tokens, now)
            return (1.0 - tokens) * 60.0 / per_minute
        self.buckets[key_id] = (tokens - 1.0, now)
        return None


async def principal_from_api_key(
    key: str, pool: AsyncConnectionPool, limiter: RateLimiter
) -> Principal:
    """The caller an API key names (looked up by hash, never by the key), or 401/429."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 128:
        raise _unauthorized("invalid API key")
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            "SELECT * FROM app.api_key_principal(%s)", (hash_api_key(key),), prepare=True
        )
        row = await cursor.fetchone()
    if row is None:
        raise _unauthorized("invalid or revoked API key")
    wait = limiter.retry_after(row["key_id"], row["rate_limit_per_minute"])
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit of {row['rate_limit_per_minute']} requests per minute reached",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return Principal(
        subject=f"api-key:{row['key_id']}",
        tenant_id=row["tenant_id"],
        role=row["role"],
        api_key_id=row["key_id"],
    )


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    settings: Annotated[ApiSettings, Depends(get_api_settings)],
) -> Principal:
    if credentials is not None:
        return principal_from_token(credentials.credentials, settings)
    if api_key is not None:
        return await principal_from_api_key(
            api_key, request.app.state.pool, request.app.state.rate_limiter
        )
    raise _unauthorized("missing bearer token or API key")


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_role(role: Role):
    """A dependency that lets callers with at least `role` through; others get 403."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.may(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role} role; the caller is {principal.role}",
            )
        return principal

    return check


AnalystPrincipal = Annotated[Principal, Depends(require_role("analyst"))]
AdminPrincipal = Annotated[Principal, Depends(require_role("admin"))]
