"""Daily FX rates from an openexchangerates-style API (historical endpoint, USD base).

Rates are units of each currency per US dollar. They are parsed as decimals straight from
the JSON text, so a quoted ``0.921234`` stays exactly that, never a binary float.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from connectors.retry import (
    CallStats,
    CircuitBreaker,
    Retryable,
    RetryPolicy,
    breaker_for,
    call_with_retry,
)
from connectors.settings import FxSettings

log = logging.getLogger(__name__)
PLATFORM = "fx"
SOURCE = "openexchangerates"


@dataclass(frozen=True)
class FxRateRow:
    """One ``raw.fx_rates`` row."""

    date: date
    currency: str
    units_per_usd: Decimal | None
    source: str


class FxApiError(Exception):
    def __init__(self, status: int, message: str, description: str) -> None:
        super().__init__(f"FX API {status} {message}: {description}")
        self.status = status
        self.message = message
        self.retryable = status == 429 or status >= 500


class FxConnector:
    """Reads one day of rates per call, through the shared retry policy and breaker."""

    def __init__(
        self,
        settings: FxSettings,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        stats: CallStats | None = None,
        breaker: CircuitBreaker | None = None,
        timeout: float = 30,
    ) -> None:
        self._http = httpx.Client(base_url=settings.base_url.rstrip("/"), timeout=timeout)
        self._app_id = settings.app_id
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._breaker = breaker if breaker is not None else breaker_for(PLATFORM)
        self.stats = stats if stats is not None else CallStats()

    def __enter__(self) -> FxConnector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def fetch_rates(self, day: date) -> list[FxRateRow]:
        """Every currency's rate on `day`; a rate that is not a positive number arrives as
        None, for validation to quarantine with its reason."""
        body = call_with_retry(
            lambda: self._get(f"/api/historical/{day.isoformat()}.json"),
            classify=_classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            on_retry=lambda attempt, error, delay: log.warning(
                "FX rates for %s failed (attempt %d), retrying in %.1fs: %s",
                day,
                attempt,
                delay,
                error,
            ),
            breaker=self._breaker,
            stats=self.stats,
        )
        if body.get("base") != "USD":
            raise FxApiError(200, "unexpected_base", f"rates quoted in {body.get('base')!r}")
        return [
            FxRateRow(day, str(currency).upper(), _positive(rate), SOURCE)
            for currency, rate in sorted(body.get("rates", {}).items())
        ]

    def _get(self, path: str) -> dict[str, Any]:
        response = self._http.get(path, params={"app_id": self._app_id})
        try:
            body = json.loads(response.text, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise FxApiError(response.status_code, "bad_json", response.text[:200]) from error
        if response.status_code != 200 or body.get("error"):
            raise FxApiError(
                response.status_code, str(body.get("message")), str(body.get("description"))
            )
        return body


def _positive(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    rate = Decimal(value)
    return rate if rate > 0 else None


def _classify(error: Exception) -> Retryable | None:
    if isinstance(error, FxApiError):
        return Retryable() if error.retryable else None
    if isinstance(error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return Retryable()
    return None
