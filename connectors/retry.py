"""Retries for every connector: capped exponential backoff with full jitter.

Full jitter (a uniform draw below the exponential cap) spreads out clients that failed
together, so they do not come back in lockstep and trip the same rate limit again. A delay
the server asks for (Retry-After, Google's ``retry_delay``) is a floor: retrying sooner only
burns attempts. Sleep and randomness are injectable so tests run instantly and exactly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``max_hint_seconds`` caps how long a server may make us wait: a
    longer hint (a daily quota, say) fails at once instead of blocking a run for hours."""

    max_attempts: int = 5
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    multiplier: float = 2.0
    max_hint_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("delays must not be negative")

    def backoff_cap(self, attempt: int) -> float:
        """The jitter ceiling after failed attempt number ``attempt`` (1-based)."""
        return min(
            self.max_delay_seconds, self.base_delay_seconds * self.multiplier ** (attempt - 1)
        )


@dataclass(frozen=True)
class Retryable:
    """A classifier's verdict that an error is transient; ``hint_seconds`` is the
    server's minimum wait, when it gave one."""

    hint_seconds: float | None = None


Classifier = Callable[[Exception], Retryable | None]


@dataclass
class CallStats:
    """What a connector's calls cost, for asset metadata: attempts made and retries among them."""

    calls: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


class CircuitOpen(Exception):
    """The platform failed too often just now; calls are refused until the cool-down ends."""


class CircuitBreaker:
    """Stops hammering a platform that is down: after ``failure_threshold`` transient failures
    in a row the circuit opens and calls fail fast for ``reset_seconds``; then one trial call
    is let through (half-open), and its outcome closes or re-opens the circuit."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 8,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._reset_seconds else "open"

    def before_call(self) -> None:
        with self._lock:
            if self._state() == "open":
                remaining = self._reset_seconds - (self._clock() - self._opened_at)
                raise CircuitOpen(
                    f"{self.name}: circuit open after {self._failures} failures in a row; "
                    f"next trial in {remaining:.0f}s"
                )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state() == "half_open" or self._failures >= self._threshold:
                self._opened_at = self._clock()


_BREAKERS: dict[str, CircuitBreaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(platform: str) -> CircuitBreaker:
    """The process-wide breaker of a platform: every connector to it shares one."""
    with _BREAKERS_LOCK:
        return _BREAKERS.setdefault(platform, CircuitBreaker(platform))


class RetryExhausted(Exception):
    """Gave up on a transient error; ``last_error`` is the final failure (also the cause)."""

    def __init__(self, attempts: int, last_error: Exception, reason: str) -> None:
        super().__init__(f"gave up after {attempts} attempt(s) ({reason}): {last_error}")
        self.attempts = attempts
        self.last_error = last_error


def compute_delay(
    policy: RetryPolicy, attempt: int, hint_seconds: float | None, rand: Callable[[], float]
) -> float:
    """Full-jitter delay after failed attempt ``attempt``, never below the server's hint."""
    delay = rand() * policy.backoff_cap(attempt)
    return max(delay, hint_seconds) if hint_seconds is not None else delay


def call_with_retry(
    operation: Callable[[], T],
    *,
    classify: Classifier,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[int, Exception, float], None] | None = None,
    breaker: CircuitBreaker | None = None,
    stats: CallStats | None = None,
) -> T:
    """Run ``operation`` until it succeeds, fails permanently, or the policy runs out.

    Errors the classifier does not call retryable propagate unchanged on the first
    occurrence; transient ones end in ``RetryExhausted``. ``on_retry(attempt, error,
    delay)`` is for logging. With a ``breaker``, an open circuit fails the call at once
    (``CircuitOpen``) and transient failures count towards opening it; ``stats`` counts
    attempts and retries.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        if breaker is not None:
            breaker.before_call()
        if stats is not None:
            stats.calls += 1
        try:
            result = operation()
        except Exception as error:
            verdict = classify(error)
            if verdict is None:
                raise
            if breaker is not None:
                breaker.record_failure()
            hint = verdict.hint_seconds
            if hint is not None and hint > policy.max_hint_seconds:
                raise RetryExhausted(
                    attempt,
                    error,
                    f"server asked to wait {hint:g}s, over the {policy.max_hint_seconds:g}s limit",
                ) from error
            if attempt >= policy.max_attempts:
                raise RetryExhausted(attempt, error, "no attempts left") from error
            delay = compute_delay(policy, attempt, hint, rand)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            if stats is not None:
                stats.retries += 1
                stats.waited_seconds += delay
            sleep(delay)
        else:
            if breaker is not None:
                breaker.record_success()
            return result
