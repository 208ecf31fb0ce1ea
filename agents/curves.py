"""Response curves: geometric adstock feeding a Hill saturation, fitted with scipy.

A channel's expected daily response (revenue, or leads when fitted on leads) is

    response[t] = baseline + beta * A[t]**n / (K**n + A[t]**n),   A[t] = spend[t] + theta * A[t-1]

the same family the sandbox world draws its truth from (see ../shared/SANDBOX_MODEL.md), and
the one Robyn / Meridian / PyMC-Marketing fit. ``baseline`` absorbs what attribution credits to
the channel whatever it spends (journeys the channel touched but did not cause), so only the
Hill part counts as incremental.

Uncertainty comes from a moving-block residual bootstrap (blocks of a week keep the
autocorrelation that adstock leaves in residuals): each draw refits the curve to the fitted
values plus resampled residuals. Fit quality: R² in sample and MAPE on held-out last days,
measured on weekly totals because attributed revenue per day is mostly zeros and lumps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

HOLDOUT_DAYS = 28
MIN_DAYS = 56  # below this a curve is not fitted (guardrails also refuse to act)
_THETA_GRID = np.round(np.arange(0.0, 0.85, 0.05), 2)
_SHAPE_BOUNDS = (0.6, 3.5)
# Weak priors (log scale): Hill shape near 1.5, half saturation near the median adstock.
_PRIOR_LOG_N, _PRIOR_LOG_N_SD = float(np.log(1.5)), 0.35
_PRIOR_LOG_K_SD = 0.7
# The baseline shrinks towards zero (half-normal, in units of the largest daily response):
# where spend barely moved, data cannot tell a level from a response, and crediting it all
# to the baseline would call a working channel useless.
_PRIOR_BASELINE_SD = 0.2


class CurveFitError(ValueError):
    """The data cannot support a curve (too few days, no spend variation, bad values)."""


@dataclass(frozen=True)
class CurveParams:
    theta: float  # adstock carry-over per day, 0 <= theta < 1
    beta: float  # the most incremental response a day can bring
    half_saturation: float  # adstock at which half of beta is reached (K)
    shape: float  # Hill exponent n
    baseline: float = 0.0  # response credited whatever the spend (not incremental)

    def steady_response(self, daily_spend: np.ndarray | float) -> np.ndarray:
        """Incremental response per day once a constant daily spend has built its adstock."""
        adstock = np.asarray(daily_spend, dtype=float) / (1.0 - self.theta)
        return hill(adstock, self.beta, self.half_saturation, self.shape)

    def marginal_response(self, daily_spend: float, step: float | None = None) -> float:
        """d response / d spend at `daily_spend` (steady state), by central difference."""
        step = step or max(1e-6, 1e-3 * max(daily_spend, 1.0))
        low = max(daily_spend - step, 0.0)
        high = daily_spend + step
        return float((self.steady_response(high) - self.steady_response(low)) / (high - low))


@dataclass
class ResponseCurve:
    """A fitted curve with its bootstrap draws and fit quality."""

    params: CurveParams
    draws: list[CurveParams]
    r2: float
    mape_holdout: float | None
    n_days: int
    spend_range: tuple[float, float]  # observed daily spend, min and max
    extra: dict[str, float] = field(default_factory=dict)

    def draw_matrix(self) -> np.ndarray:
        """Draws as rows of (theta, beta, half_saturation, shape)."""
        return np.array(
            [[d.theta, d.beta, d.half_saturation, d.shape] for d in self.draws], dtype=float
        ).reshape(-1, 4)

    def steady_response_draws(self, daily_spend: np.ndarray) -> np.ndarray:
        """Response at each spend for each draw: shape (draws, len(spend))."""
        m = self.draw_matrix()
        if len(m) == 0:
            return self.params.steady_response(daily_spend)[None, :]
        adstock = np.asarray(daily_spend, dtype=float)[None, :] / (1.0 - m[:, :1])
        return hill(adstock, m[:, 1:2], m[:, 2:3], m[:, 3:4])

    def as_record(self) -> dict:
        return {
            **asdict(self.params),
            "draws": [asdict(d) for d in self.draws],
            "r2": self.r2,
            "mape_holdout": self.mape_holdout,
            "n_days": self.n_days,
            "spend_min": self.spend_range[0],
            "spend_max": self.spend_range[1],
        }


def hill(adstock, beta, half_saturation, shape):
    """beta * A^n / (K^n + A^n), written as beta / (1 + (K/A)^n) so large A never overflows."""
    adstock = np.maximum(np.asarray(adstock, dtype=float), 1e-12)
    return beta / (1.0 + np.power(half_saturation / adstock, shape))


def geometric_adstock(spend: np.ndarray, theta: float) -> np.ndarray:
    """A[t] = spend[t] + theta * A[t-1], starting from the steady state of the first day
    (history before the window is unknown; assuming it equals day one beats assuming zero)."""
    spend = np.asarray(spend, dtype=float)
    if len(spend) == 0:
        return spend
    before = theta * spend[0] / (1.0 - theta)
    return lfilter([1.0], [1.0, -theta], spend, zi=[before])[0]


def predict(params: CurveParams, spend: np.ndarray) -> np.ndarray:
    adstock = geometric_adstock(spend, params.theta)
    return params.baseline + hill(adstock, params.beta, params.half_saturation, params.shape)


def _check(spend: np.ndarray, response: np.ndarray) -> None:
    if spend.shape != response.shape or spend.ndim != 1:
        raise CurveFitError("spend and response must be 1-d series of the same length")
    if len(spend) < MIN_DAYS:
        raise CurveFitError(f"{len(spend)} days of data; a curve needs at least {MIN_DAYS}")
    if not (np.isfinite(spend).all() and np.isfinite(response).all()):
        raise CurveFitError("spend or response holds NaN or infinite values")
    if (spend < 0).any() or (response < 0).any():
        raise CurveFitError("spend and response must not be negative")
    if spend.max() <= 0:
        raise CurveFitError("the channel never spent: nothing to learn a curve from")


def _fit_at_theta(
    spend: np.ndarray,
    response: np.ndarray,
    theta: float,
    start: np.ndarray | None = None,
    noise: float | None = None,
) -> tuple[CurveParams, float]:
    """MAP fit of (beta, K, n, baseline) with theta fixed; returns params and the objective.

    Daily attributed response is noisy enough that plain least squares happily trades beta
    against K and n (all saturating curves look alike over a narrow spend range), so weak
    priors hold the solution where the data is silent, as Robyn's and PyMC-Marketing's do:
    n around 1.5 and K around the observed adstock. Bounds keep K within [0.2, 5] x the
    median adstock and beta under 20x the largest daily response."""
    adstock = geometric_adstock(spend, theta)
    a_mid = float(np.median(adstock[adstock > 0])) if (adstock > 0).any() else 1.0
    scale = max(float(response.max()), 1e-9)
    # Parameters in scaled units so the solver sees numbers near one.
    lower = np.array([0.0, 0.2, _SHAPE_BOUNDS[0], 0.0])
    upper = np.array([20.0, 5.0, _SHAPE_BOUNDS[1], 1.0])
    y = response / scale
    a = np.maximum(adstock / a_mid, 1e-9)
    sigma = (noise if noise is not None else _noise(response)) / scale
    sigma = max(sigma, 1e-6)

    def residuals(x: np.ndarray) -> np.ndarray:
        data = (x[3] + hill(a, x[0], x[1], x[2]) - y) / sigma
        prior = [
            np.log(x[1]) / _PRIOR_LOG_K_SD,
            (np.log(x[2]) - _PRIOR_LOG_N) / _PRIOR_LOG_N_SD,
            x[3] / _PRIOR_BASELINE_SD,
        ]
        return np.concatenate([data, prior])

    def jacobian(x: np.ndarray) -> np.ndarray:
        b, k, n = x[0], x[1], x[2]
        ratio = k / a
        u = np.power(ratio, n)
        inv = 1.0 / (1.0 + u)
        jac = np.zeros((len(a) + 3, 4))
        jac[: len(a), 0] = inv / sigma
        jac[: len(a), 1] = -b * inv * inv * n * u / k / sigma
        jac[: len(a), 2] = -b * inv * inv * u * np.log(ratio) / sigma
        jac[: len(a), 3] = 1.0 / sigma
        jac[len(a), 1] = 1.0 / (k * _PRIOR_LOG_K_SD)
        jac[len(a) + 1, 2] = 1.0 / (n * _PRIOR_LOG_N_SD)
        jac[len(a) + 2, 3] = 1.0 / _PRIOR_BASELINE_SD
        return jac

    starts = (
        [start]
        if start is not None
        else [np.array([2.0 * y.mean(), 1.0, 1.5, 0.05]), np.array([y.mean(), 0.5, 1.0, 0.0])]
    )
    best = None
    for x0 in starts:
        x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)
        result = least_squares(
            residuals, x0, jac=jacobian, bounds=(lower, upper), method="trf", max_nfev=200
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    b, k, n, base = best.x
    params = CurveParams(
        theta=float(theta),
        beta=float(b * scale),
        half_saturation=float(k * a_mid),
        shape=float(n),
        baseline=float(base * scale),
    )
    return params, float(best.cost)


def _noise(response: np.ndarray) -> float:
    """The day-to-day noise of a series: first differences remove slow movement."""
    return float(np.std(np.diff(response)) / np.sqrt(2.0)) if len(response) > 2 else 1.0


def _scaled_start(params: CurveParams, spend: np.ndarray, response: np.ndarray) -> np.ndarray:
    adstock = geometric_adstock(spend, params.theta)
    a_mid = float(np.median(adstock[adstock > 0])) if (adstock > 0).any() else 1.0
    scale = max(float(response.max()), 1e-9)
    return np.array(
        [params.beta / scale, params.half_saturation / a_mid, params.shape, params.baseline / scale]
    )


def fit_params(spend: np.ndarray, response: np.ndarray) -> CurveParams:
    """The least-squares curve: a grid over theta (the fit is badly conditioned in it),
    then least squares for the rest at each theta."""
    best_params, best_sse = None, np.inf
    for theta in _THETA_GRID:
        params, sse = _fit_at_theta(spend, response, float(theta))
        if sse < best_sse:
            best_params, best_sse = params, sse
    assert best_params is not None
    return best_params


def _weekly(values: np.ndarray) -> np.ndarray:
    usable = len(values) - len(values) % 7
    return values[len(values) - usable :].reshape(-1, 7).sum(axis=1)


def r_squared(actual: np.ndarray, fitted: np.ndarray) -> float:
    total = float(((actual - actual.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    return 1.0 - float(((actual - fitted) ** 2).sum()) / total


def mape(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Mean absolute percentage error over the entries with a positive actual."""
    mask = actual > 0
    if not mask.any():
        return None
    return float(np.mean(np.abs(predicted[mask] - actual[mask]) / actual[mask]))


def fit_curve(
    spend: np.ndarray,
    response: np.ndarray,
    *,
    draws: int = 40,
    holdout_days: int = HOLDOUT_DAYS,
    seed: int = 0,
) -> ResponseCurve:
    """Fit a curve to daily spend and response, with bootstrap draws and fit quality.

    The held-out MAPE comes from a fit on all but the last `holdout_days` days, predicting
    those days (weekly totals) from the spend they really had; the stored parameters and the
    draws come from all days."""
    spend = np.asarray(spend, dtype=float)
    response = np.asarray(response, dtype=float)
    _check(spend, response)
    mape_holdout = None
    if len(spend) - holdout_days >= MIN_DAYS:
        train = fit_params(spend[:-holdout_days], response[:-holdout_days])
        # Predict the held-out days with the adstock carried in from the training days.
        predicted = predict(train, spend)[-holdout_days:]
        mape_holdout = mape(_weekly(response[-holdout_days:]), _weekly(predicted))
    params = fit_params(spend, response)
    fitted = predict(params, spend)
    residuals = response - fitted
    rng = np.random.default_rng(seed)
    block = 7
    n_blocks = int(np.ceil(len(spend) / block))
    draw_params: list[CurveParams] = []
    start = _scaled_start(params, spend, response)
    noise = _noise(response)
    for _ in range(draws):
        starts = rng.integers(0, len(spend) - block + 1, n_blocks)
        resampled = np.concatenate([residuals[s : s + block] for s in starts])[: len(spend)]
        synthetic = np.maximum(fitted + resampled, 0.0)
        # Theta moves too: the neighbouring grid points are refitted and the best one kept.
        candidates = [
            _fit_at_theta(spend, synthetic, t, start, noise)
            for t in {max(params.theta - 0.05, 0.0), params.theta, min(params.theta + 0.05, 0.8)}
        ]
        draw_params.append(min(candidates, key=lambda c: c[1])[0])
    positive = spend[spend > 0]
    return ResponseCurve(
        params=params,
        draws=draw_params,
        r2=r_squared(_weekly(response), _weekly(fitted)),
        mape_holdout=mape_holdout,
        n_days=len(spend),
        spend_range=(float(positive.min()), float(positive.max())),
    )


# -- charts and stored curves (app.response_curves) ------------------------------------------
# How far past the highest observed daily spend a chart reaches: far enough to show the
# saturation the optimizer would run into, not so far that the curve is mostly guesswork.
CHART_REACH = 1.5
CHART_POINTS = 25
CHART_BAND = (10, 90)  # percentiles of the bootstrap draws


def chart_points(
    curve: ResponseCurve, value_per_response: float, points: int = CHART_POINTS
) -> list[dict[str, float | None]]:
    """The curve as a chart: expected incremental revenue a day at `points` constant daily
    spends from 0 to CHART_REACH × the highest observed, once the spend has built its
    adstock, with the CHART_BAND percentiles of the bootstrap draws (None without draws).
    Stored with the curve, so whoever draws it needs none of this math."""
    top = max(curve.spend_range[1], 1.0) * CHART_REACH
    spend = np.linspace(0.0, top, points)
    mean = curve.params.steady_response(spend) * value_per_response
    band = None
    if curve.draws:
        draws = curve.steady_response_draws(spend) * value_per_response
        band = np.percentile(draws, CHART_BAND, axis=0)

    def finite(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    return [
        {
            "spend": float(s),
            "expected_revenue": float(m),
            "lower": finite(band[0][i]) if band is not None else None,
            "upper": finite(band[1][i]) if band is not None else None,
        }
        for i, (s, m) in enumerate(zip(spend, mean, strict=True))
    ]


def curve_from_record(record: dict) -> ResponseCurve:
    """A stored curve (a row of `warehouse.agent_store.LATEST_CURVES_SQL`) as the fitted
    object."""
    return ResponseCurve(
        params=CurveParams(
            record["theta"],
            record["beta"],
            record["half_saturation"],
            record["shape"],
            record["baseline"],
        ),
        draws=[CurveParams(**d) for d in record["draws"]],
        r2=record["r2"],
        mape_holdout=record["mape_holdout"],
        n_days=record["n_days"],
        spend_range=(record["spend_min"], record["spend_max"]),
    )
