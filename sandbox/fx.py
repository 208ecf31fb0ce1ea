"""An openexchangerates-style FX service over the world's daily rates.

``GET /api/historical/{YYYY-MM-DD}.json?app_id=...[&base=USD][&symbols=EUR,GBP]`` answers
``{"disclaimer", "license", "timestamp", "base": "USD", "rates": {"EUR": 0.92, ...}}`` as
openexchangerates.org does: rates are units of each currency per US dollar, as JSON numbers.
Only ``base=USD`` is served (changing the base is a paid feature there: 403
``not_allowed``); an unknown app id is 401 ``invalid_app_id``; a day without rates is 400
``not_available``; throttled calls are 429 ``too_many_requests``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal

import psycopg

from sandbox.http import Request, Response, SandboxHttpServer

SANDBOX_FX_APP_ID = "sandbox-fx-app-id"
_HISTORICAL = re.compile(r"^/api/historical/(\d{4}-\d{2}-\d{2})\.json$")


class PostgresFxRates:
    """Rates of one day from `sandbox.fx_rates`."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def rates_on(self, day: date) -> dict[str, Decimal]:
        with psycopg.connect(self._conninfo) as conn:
            rows = conn.execute(
                "SELECT currency, units_per_usd FROM sandbox.fx_rates WHERE date = %s", (day,)
            ).fetchall()
        return {currency.strip(): rate for currency, rate in rows}


class FxSandboxServer(SandboxHttpServer):
    """Daily historical rates from `data`, with the base server's faults."""

    def __init__(
        self, data: PostgresFxRates | Mapping[date, Mapping[str, Decimal]], *, port: int = 0
    ) -> None:
        super().__init__("fx", self._handle, throttled=self._throttled, port=port)
        self._data = data
        self.app_id = SANDBOX_FX_APP_ID

    @staticmethod
    def _error(status: int, message: str, description: str) -> Response:
        return Response(
            status,
            {"error": True, "status": status, "message": message, "description": description},
        )

    def _throttled(self, request: Request) -> Response:
        return self._error(429, "too_many_requests", "Request rate exceeded; slow down.")

    def _rates_on(self, day: date) -> Mapping[str, Decimal]:
        if isinstance(self._data, PostgresFxRates):
            return self._data.rates_on(day)
        return self._data.get(day, {})

    def _handle(self, request: Request) -> Response:
        match = _HISTORICAL.match(request.path)
        if request.method != "GET" or match is None:
            return self._error(404, "not_found", f"No such endpoint: {request.path}")
        if request.param("app_id") != self.app_id:
            return self._error(401, "invalid_app_id", "Invalid App ID provided.")
        if (request.param("base") or "USD").upper() != "USD":
            return self._error(403, "not_allowed", "Changing the API `base` currency is paid.")
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            return self._error(400, "invalid_date", f"Not a date: {match[1]}")
        rates = self._rates_on(day)
        if not rates:
            return self._error(400, "not_available", f"Historical rates for {day} are missing.")
        symbols = request.param("symbols")
        if symbols:
            wanted = {s.strip().upper() for s in symbols.split(",")}
            rates = {c: r for c, r in rates.items() if c in wanted}
        stamp = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        return Response(
            200,
            {
                "disclaimer": "Sandbox rates, simulated: https://openexchangerates.org/terms",
                "license": "https://openexchangerates.org/license",
                "timestamp": int(stamp.timestamp()),
                "base": "USD",
                "rates": {c: float(r) for c, r in sorted(rates.items())},
            },
        )
