"""`bizo connect`: tenants and connections from the command line, credentials sealed."""

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from bizo.cli import app
from sandbox.onboarding import demo_accounts
from warehouse.control import Connection, active_connections
from warehouse.crypto import CredentialBox, SecretsUnavailable
from warehouse.settings import WarehouseSettings, get_settings

runner = CliRunner()
TOKEN = "sandbox-access-token"


@pytest.fixture
def google_customer(sandbox, conn) -> str:
    (customer,) = conn.execute(
        "SELECT account_id FROM sandbox.ad_accounts WHERE platform = 'google_ads' LIMIT 1"
    ).fetchone()
    return customer


def _cleanup(conn, tenant: str) -> None:
    conn.execute("DELETE FROM app.tenants WHERE tenant_id = %s", (tenant,))
    conn.commit()


def test_a_new_tenant_needs_its_name_currency_and_zone(sandbox):
    result = runner.invoke(
        app, ["connect", "probeco", "--platform", "google_ads", "--account", "1"]
    )
    assert result.exit_code != 0
    assert "--name, --currency and --time-zone" in result.output


def test_connect_and_test_stores_sealed_credentials(google_customer, conn):
    args = [
        "connect",
        "probeco",
        "--platform",
        "google_ads",
        "--account",
        google_customer,
        "--credential",
        f"access_token={TOKEN}",
        "--name",
        "ProbeCo",
        "--currency",
        "usd",
        "--time-zone",
        "America/Denver",
        "--test",
    ]
    try:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"ok: customer {google_customer}" in result.output
        sealed, tested = conn.execute(
            """SELECT credentials, last_test_result FROM app.connections
               WHERE tenant_id = 'probeco'"""
        ).fetchone()
        assert TOKEN.encode() not in bytes(sealed)
        assert tested.startswith("ok:")
        box = CredentialBox.from_settings(get_settings())
        (connection,) = active_connections(conn, "probeco", "google_ads", box)
        assert connection.credentials == {"access_token": TOKEN}
        assert TOKEN not in repr(connection)
        currency = conn.execute(
            "SELECT reporting_currency FROM app.tenants WHERE tenant_id = 'probeco'"
        ).fetchone()[0]
        assert currency == "USD"
    finally:
        _cleanup(conn, "probeco")


def test_a_failing_test_is_recorded_and_exits_nonzero(sandbox, conn):
    args = [
        "connect",
        "probeco",
        "--platform",
        "google_ads",
        "--account",
        "1234500000",
        "--credential",
        f"access_token={TOKEN}",
        "--name",
        "ProbeCo",
        "--currency",
        "USD",
        "--time-zone",
        "UTC",
        "--test",
    ]
    try:
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert "failed" in result.output
        (tested,) = conn.execute(
            "SELECT last_test_result FROM app.connections WHERE tenant_id = 'probeco'"
        ).fetchone()
        assert "PERMISSION_DENIED" in tested or "permission" in tested.lower()
    finally:
        _cleanup(conn, "probeco")


def test_keys_rotate_and_a_wrong_key_is_a_clear_error(tmp_path):
    old, new = (CredentialBox([k]) for k in ("A" * 43 + "=", "B" * 43 + "="))
    sealed = old.seal({"access_token": "t"})
    rotated = CredentialBox(["B" * 43 + "=", "A" * 43 + "="])
    assert rotated.open(sealed) == {"access_token": "t"}
    assert new.open(rotated.rotate(sealed)) == {"access_token": "t"}
    with pytest.raises(SecretsUnavailable, match="do not open"):
        new.open(sealed)
    remote = WarehouseSettings(DATABASE_URL="postgresql://db.example/bizo", BIZO_HOME=tmp_path)
    with pytest.raises(SecretsUnavailable, match="BIZO_SECRET_KEY must be set"):
        CredentialBox.from_settings(remote)
    assert (
        Connection("t", "google_ads", "1", credentials={"access_token": "s3cret"})
        .__repr__()
        .count("s3cret")
        == 0
    )


def _stored_credentials(conn) -> list[bytes]:
    rows = conn.execute(
        "SELECT credentials FROM app.connections ORDER BY tenant_id, platform, account_id"
    ).fetchall()
    conn.commit()
    return [bytes(sealed) for (sealed,) in rows]


def test_reseal_moves_every_credential_to_the_new_key(sandbox, conn, monkeypatch):
    current = CredentialBox.from_settings(get_settings())
    opened = [current.open(sealed) for sealed in _stored_credentials(conn)]
    assert opened
    current_key = get_settings().secret_key
    current_keys = (
        current_key.get_secret_value()
        if current_key is not None
        else (get_settings().bizo_home / "secrets" / "secret_key").read_text().strip()
    )
    new_key = Fernet.generate_key().decode()

    def reseal_with(keys: str) -> str:
        monkeypatch.setenv("BIZO_SECRET_KEY", keys)
        get_settings.cache_clear()
        result = runner.invoke(app, ["reseal"])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        assert f"re-sealed {len(opened)} connection" in reseal_with(f"{new_key},{current_keys}")
        only_new = CredentialBox([new_key])
        assert [only_new.open(sealed) for sealed in _stored_credentials(conn)] == opened
        # A key list missing the one that sealed them refuses, and changes nothing.
        monkeypatch.setenv("BIZO_SECRET_KEY", Fernet.generate_key().decode())
        get_settings.cache_clear()
        refused = runner.invoke(app, ["reseal"])
        assert refused.exit_code == 1
        assert "nothing re-sealed" in refused.output
        assert [only_new.open(sealed) for sealed in _stored_credentials(conn)] == opened
    finally:
        reseal_with(f"{current_keys},{new_key}")
        monkeypatch.delenv("BIZO_SECRET_KEY")
        get_settings.cache_clear()
    assert [current.open(sealed) for sealed in _stored_credentials(conn)] == opened


@pytest.mark.parametrize("platform", ["meta", "linkedin", "crm"])
def test_connection_tests_reach_every_platform(sandbox, conn, platform):
    account = demo_accounts(conn, (platform,))[0]
    token = account.credentials["access_token"]
    args = [
        "connect",
        "probeco",
        "--platform",
        platform,
        "--account",
        account.account_id,
        "--credential",
        f"access_token={token}",
        "--name",
        "ProbeCo",
        "--currency",
        "USD",
        "--time-zone",
        "UTC",
        "--test",
    ]
    try:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "ok:" in result.output
        wrong = [*args[:6], "--credential", "access_token=wrong-token", *args[8:]]
        assert runner.invoke(app, wrong).exit_code == 1
    finally:
        _cleanup(conn, "probeco")
