"""Tenant isolation by Postgres row-level security, hardened JWTs, roles, hashed API keys with
rate limits, and problem-details errors."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from psycopg import sql

from serving_api.app import create_app
from serving_api.settings import ApiSettings
from tests.api_support import RANGE, app_client, auth
from warehouse.rls import api_database_uri


@pytest.fixture(scope="module")
def client(built) -> Iterator[TestClient]:
    yield from app_client()


# -- the database enforces tenancy ------------------------------------------------------------
@pytest.fixture
def api_conn(built) -> Iterator[psycopg.Connection]:
    """A connection as the API's role. Autocommit, as the app's pooled connections are idle
    between requests: each `transaction()` below is a real transaction, not a savepoint."""
    with psycopg.connect(api_database_uri(), autocommit=True) as connection:
        yield connection


def test_the_api_role_cannot_bypass_rls(api_conn):
    role = api_conn.execute(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert role == ("bizo_api", False, False)


@pytest.mark.parametrize(
    "table", ["marts.ad_performance_daily", "marts.funnel", "app.tenants", "app.api_keys"]
)
def test_a_query_without_tenant_filter_sees_only_its_tenant(api_conn, conn, tenants, table):
    relation = sql.Identifier(*table.split("."))
    unfiltered = sql.SQL("SELECT count(*), count(DISTINCT tenant_id) FROM {}").format(relation)
    assert api_conn.execute(unfiltered).fetchone() == (0, 0)  # no tenant set: nothing
    for tenant in tenants:
        with api_conn.transaction():
            api_conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
            seen = api_conn.execute(
                sql.SQL("SELECT DISTINCT tenant_id FROM {}").format(relation)
            ).fetchall()
        assert set(seen) <= {(tenant,)}
    # The setting is per transaction: it is gone after the commit.
    assert api_conn.execute(unfiltered).fetchone() == (0, 0)
    # Pipelines keep the admin connection, which sees every tenant.
    everyone = conn.execute(
        sql.SQL("SELECT count(DISTINCT tenant_id) FROM {}").format(relation)
    ).fetchone()[0]
    assert everyone == len(tenants) or table == "app.api_keys"


def test_the_api_role_cannot_read_raw_sandbox_or_credentials(api_conn):
    for query in (
        "SELECT 1 FROM raw.google_ads_ad_daily",
        "SELECT 1 FROM sandbox.world_meta",
        "SELECT credentials FROM app.connections",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), api_conn.transaction():
            api_conn.execute(query)


def test_rls_is_reapplied_when_dbt_rebuilds_marts(conn):
    tables = conn.execute(
        """SELECT c.relname, c.relrowsecurity,
                  (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'marts' AND c.relkind = 'r'"""
    ).fetchall()
    assert tables and all(rls and policies == 1 for _, rls, policies in tables), tables


def test_the_app_refuses_to_run_as_a_privileged_role(built, warehouse_uri):
    with (
        pytest.raises(RuntimeError, match="bypasses row-level security"),
        TestClient(create_app(warehouse_uri)),
    ):
        pass


# -- tokens -----------------------------------------------------------------------------------
def test_no_credentials_is_401_problem(client):
    response = client.get("/v1/performance", params=RANGE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Unauthorized"


@pytest.mark.parametrize(
    "overrides",
    [
        {"key": "an-attacker-key-that-is-long-enough-for-hs256!!"},
        {"exp": datetime.now(UTC) - timedelta(minutes=5)},
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"role": "superuser"},
        {"tenant": "Robert'); DROP TABLE app.tenants;--"},
        {"algorithm": "HS512"},
    ],
    ids=["wrong-key", "expired", "audience", "issuer", "role", "tenant", "other-algorithm"],
)
def test_bad_tokens_are_401(client, tenants, overrides):
    response = client.get("/v1/performance", params=RANGE, headers=auth(tenants[0], **overrides))
    assert response.status_code == 401


def test_unsigned_token_is_refused(client, tenants):
    unsigned = jwt.encode(
        {"tenant": tenants[0], "sub": "x", "iss": "bizo", "aud": "bizo-api", "exp": 9999999999},
        key=None,
        algorithm="none",
    )
    response = client.get(
        "/v1/performance", params=RANGE, headers={"Authorization": f"Bearer {unsigned}"}
    )
    assert response.status_code == 401
    assert "not accepted" in response.json()["detail"]


def test_a_token_for_an_unknown_tenant_sees_nothing(client):
    body = client.get("/v1/performance", params=RANGE, headers=auth("nobody-here")).json()
    assert body["series"] == [] and body["totals"]["spend"] == "0"
    assert body["currency"] is None


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rs256_client(built, rsa_keys) -> Iterator[tuple[TestClient, ApiSettings]]:
    private, public = rsa_keys
    settings = ApiSettings(jwt_algorithm="RS256", jwt_public_key=public, jwt_private_key=private)
    with TestClient(create_app(settings=settings)) as test_client:
        yield test_client, settings


def test_rs256_tokens_and_key_confusion(rs256_client, rsa_keys, tenants):
    from serving_api.auth import issue_token

    client, settings = rs256_client
    good = issue_token(settings, tenants[0])
    assert jwt.get_unverified_header(good)["alg"] == "RS256"
    ok = client.get("/v1/performance", params=RANGE, headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200
    # Key confusion: an HS256 token whose HMAC key is our published RSA public key.
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = _hs256_with_raw_key(claims, rsa_keys[1].encode())
    response = client.get(
        "/v1/performance", params=RANGE, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert "'HS256' is not accepted" in response.json()["detail"]
    # And the HS256 tokens of the default configuration mean nothing here.
    hs256 = client.get("/v1/performance", params=RANGE, headers=auth(tenants[0]))
    assert hs256.status_code == 401


def _hs256_with_raw_key(claims: dict, key: bytes) -> str:
    """Sign by hand: PyJWT itself refuses PEM keys for HMAC, an attacker would not."""
    import base64
    import hmac
    import json

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps(claims).encode())
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


# -- roles and API keys ---------------------------------------------------------------------
def test_api_keys_need_the_admin_role(client, tenants):
    for role in ("viewer", "analyst"):
        response = client.post(
            "/v1/api-keys", json={"name": "wall"}, headers=auth(tenants[0], role=role)
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"


def test_api_key_lifecycle(client, tenants, conn):
    admin = auth(tenants[0], role="admin")
    created = client.post(
        "/v1/api-keys", json={"name": "wallboard", "role": "viewer"}, headers=admin
    )
    assert created.status_code == 201
    key = created.json()["key"]
    key_id = created.json()["key_id"]
    stored = conn.execute(
        "SELECT key_hash, tenant_id, row_to_json(k)::text FROM app.api_keys k WHERE key_id = %s",
        (key_id,),
    ).fetchone()
    assert stored[0] == hashlib.sha256(key.encode()).hexdigest()
    assert stored[1] == tenants[0]
    assert key not in stored[2]  # only the hash is kept

    body = client.get("/v1/performance", params=RANGE, headers={"X-API-Key": key}).json()
    mine = client.get("/v1/performance", params=RANGE, headers=auth(tenants[0])).json()
    assert body["totals"] == mine["totals"]
    # A viewer key cannot manage keys.
    assert client.get("/v1/api-keys", headers={"X-API-Key": key}).status_code == 403
    listing = client.get("/v1/api-keys", headers=admin)
    assert listing.headers["cache-control"] == "no-store"  # administration is never cached
    listed = listing.json()
    assert key_id in [k["key_id"] for k in listed]
    assert all("key" not in k for k in listed)

    # Another tenant's admin neither sees nor revokes it: its id answers 404 there.
    other_admin = auth(tenants[1], role="admin")
    assert key_id not in [
        k["key_id"] for k in client.get("/v1/api-keys", headers=other_admin).json()
    ]
    assert client.delete(f"/v1/api-keys/{key_id}", headers=other_admin).status_code == 404

    assert client.delete(f"/v1/api-keys/{key_id}", headers=admin).status_code == 204
    revoked = client.get("/v1/performance", params=RANGE, headers={"X-API-Key": key})
    assert revoked.status_code == 401


def test_a_value_postgres_cannot_hold_is_a_422_problem(client, tenants):
    """The fuzzer's find: a NUL character passes validation but no text column takes it."""
    response = client.post(
        "/v1/api-keys", json={"name": "\u0000"}, headers=auth(tenants[0], role="admin")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "cannot be stored" in response.json()["detail"]


def test_unknown_or_malformed_api_keys_are_401(client):
    assert (
        client.get("/v1/performance", params=RANGE, headers={"X-API-Key": "bizo_nope"}).status_code
        == 401
    )
    assert (
        client.get("/v1/performance", params=RANGE, headers={"X-API-Key": "x" * 500}).status_code
        == 401
    )


def test_each_key_has_its_own_rate_limit(client, tenants):
    admin = auth(tenants[0], role="admin")
    slow = client.post(
        "/v1/api-keys", json={"name": "slow", "rate_limit_per_minute": 3}, headers=admin
    ).json()["key"]
    fast = client.post(
        "/v1/api-keys", json={"name": "fast", "rate_limit_per_minute": 1000}, headers=admin
    ).json()["key"]
    statuses = [
        client.get("/v1/funnel", params=RANGE, headers={"X-API-Key": slow}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/v1/funnel", params=RANGE, headers={"X-API-Key": slow})
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert client.get("/v1/funnel", params=RANGE, headers={"X-API-Key": fast}).status_code == 200


def test_unknown_paths_are_problems_too(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/v1/nothing-here",
    }


def test_cors_allows_configured_origins_only(built):
    settings = ApiSettings(cors_origins="https://dash.example")  # type: ignore[arg-type]
    assert settings.cors_origins == ["https://dash.example"]
    with TestClient(create_app(settings=settings)) as cors_client:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = cors_client.options(
            "/v1/performance", headers={"Origin": "https://dash.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
        refused = cors_client.options(
            "/v1/performance", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in refused.headers


def test_bizo_api_key_command_makes_a_working_key(client, tenants):
    from typer.testing import CliRunner

    from bizo.cli import app as cli

    result = CliRunner().invoke(
        cli, ["api-key", "--tenant", tenants[1], "--name", "tv", "--role", "analyst"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    body = client.get("/v1/funnel", params=RANGE, headers={"X-API-Key": key})
    mine = client.get("/v1/funnel", params=RANGE, headers=auth(tenants[1]))
    assert body.status_code == 200 and body.json() == mine.json()
