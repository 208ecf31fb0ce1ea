"""What the API tests share: an app on the session's built warehouse, and credentials."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
from fastapi.testclient import TestClient

from serving_api.app import create_app
from serving_api.auth import issue_token
from serving_api.settings import get_api_settings
from tests.pipeline_window import END, WINDOW_START

RANGE = {"start": WINDOW_START.isoformat(), "end": END.isoformat()}


def app_client() -> Iterator[TestClient]:
    """The app as deployed: connected as bizo_api, bound by row-level security. Each module
    wraps it in its own `client` fixture (after the `built` warehouse exists)."""
    with TestClient(create_app()) as test_client:
        yield test_client


def auth(tenant: str, /, role: str = "viewer", **overrides) -> dict[str, str]:
    """Headers with a token for `tenant`; overrides change claims, `key` or `algorithm`."""
    settings = get_api_settings()
    if not overrides:
        return {"Authorization": f"Bearer {issue_token(settings, tenant, role)}"}  # type: ignore[arg-type]
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "test",
        "tenant": tenant,
        "role": role,
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    key = overrides.pop("key", settings.signing_key())
    algorithm = overrides.pop("algorithm", "HS256")
    claims.update(overrides)
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}
