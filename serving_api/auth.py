"""JWT bearer auth: the token names the tenant; no request parameter ever does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving_api.settings import ApiSettings, get_api_settings

Role = Literal["viewer", "analyst", "admin"]
_ALGORITHM = "HS256"
_bearer = HTTPBearer(auto_error=False, description="A JWT from `bizo token --tenant T`.")


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    role: Role


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
    return jwt.encode(claims, settings.signing_key(), algorithm=_ALGORITHM)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def authenticate(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[ApiSettings, Depends(get_api_settings)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    try:
        claims = jwt.decode(
            credentials.credentials,
            settings.signing_key(),
            algorithms=[_ALGORITHM],  # one algorithm, fixed: no alg=none, no key confusion
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "sub", "tenant"]},
        )
    except jwt.PyJWTError as error:
        raise _unauthorized(f"invalid token: {error}") from error
    role = claims.get("role", "viewer")
    if role not in ("viewer", "analyst", "admin"):
        raise _unauthorized(f"invalid token: unknown role {role!r}")
    return Principal(subject=claims["sub"], tenant_id=claims["tenant"], role=role)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
