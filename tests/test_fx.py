"""The FX source: the sandbox service, the connector and the asset's quarantine."""

from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from assets.fx import fx_rates
from assets.resources import FxResource, WarehouseResource
from connectors.fx import FxApiError, FxConnector
from connectors.retry import CircuitBreaker, RetryPolicy
from connectors.settings import FxSettings
from sandbox.fx import SANDBOX_FX_APP_ID, FxSandboxServer

DAY = date(2026, 3, 2)
RATES = {DAY: {"USD": Decimal(1), "EUR": Decimal("0.921234"), "GBP": Decimal("0.790001")}}
FAST = RetryPolicy(base_delay_seconds=0, max_delay_seconds=0)


@pytest.fixture
def server():
    with FxSandboxServer(RATES) as running:
        yield running


def connector(server: FxSandboxServer, app_id: str = SANDBOX_FX_APP_ID) -> FxConnector:
    settings = FxSettings(base_url=server.base_url, app_id=app_id)
    return FxConnector(settings, retry_policy=FAST, breaker=CircuitBreaker("fx-test"))


def test_rates_arrive_as_exact_decimals(server):
    with connector(server) as fx:
        rows = fx.fetch_rates(DAY)
    assert {r.currency: r.units_per_usd for r in rows} == RATES[DAY]
    assert all(r.date == DAY for r in rows)


def test_a_wrong_app_id_fails_at_once_with_the_apis_reason(server):
    with connector(server, app_id="wrong") as fx, pytest.raises(FxApiError, match="invalid_app"):
        fx.fetch_rates(DAY)
    assert server.calls == 1


def test_a_missing_day_is_a_clear_error(server):
    with connector(server) as fx, pytest.raises(FxApiError, match="not_available"):
        fx.fetch_rates(date(2026, 3, 3))


def test_throttling_and_drops_are_retried(server):
    server.inject("throttle")
    server.inject("drop")
    with connector(server) as fx:
        stats = fx.stats
        assert len(fx.fetch_rates(DAY)) == 3
    assert stats.retries == 2


@pytest.fixture
def fx_day_cleaned(conn):
    yield DAY
    conn.execute("DELETE FROM raw.fx_rates WHERE date = %s", (DAY,))
    conn.execute("DELETE FROM app.quarantine WHERE source = 'fx_rates'")
    conn.commit()


def test_a_bad_rate_is_quarantined_and_the_good_ones_load(conn, monkeypatch, fx_day_cleaned):
    broken = {DAY: {**RATES[DAY], "EUR": Decimal(0)}}
    with FxSandboxServer(broken) as server:
        monkeypatch.setenv("BIZO_FX_BASE_URL", server.base_url)
        for _ in range(2):  # twice: a re-run replaces, never duplicates
            result = dg.materialize(
                [fx_rates],
                partition_key=DAY.isoformat(),
                resources={"warehouse": WarehouseResource(), "fx": FxResource()},
            )
            assert result.success
    loaded = conn.execute(
        "SELECT currency, units_per_usd FROM raw.fx_rates WHERE date = %s ORDER BY 1", (DAY,)
    ).fetchall()
    assert loaded == [("GBP", Decimal("0.790001")), ("USD", Decimal("1.000000"))]
    reasons = conn.execute(
        "SELECT reason FROM app.quarantine WHERE source = 'fx_rates' AND slice_start = %s",
        (DAY,),
    ).fetchall()
    assert reasons == [("rate is not a positive number",)]
