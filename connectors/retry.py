"""Retries for every connector: capped exponential backoff with full jitter.

Full jitter (a uniform draw below the exponential cap) spreads out clients that failed
together, so they do not come back in lockstep and trip the same rate limit again. A delay
the server asks for (Retry-After, Google's ``retry_delay``) is a floor: retrying sooner only
burns attempts. Sleep and randomness are injectable so tests run instantly and exactly.
"""

from __future__ import annotations

import random
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
) -> T:
    """Run ``operation`` until it succeeds, fails permanently, or the policy runs out.

    Errors the classifier does not call retryable propagate unchanged on the first
    occurrence; transient ones end in ``RetryExhausted``. ``on_retry(attempt, error,
    delay)`` is for logging.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except Exception as error:
            verdict = classify(error)
            if verdict is None:
                raise
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
            sleep(delay)
