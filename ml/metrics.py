"""Metrics recorded for every trained model (and its baselines), on held-out leads."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def top_decile_lift(labels: np.ndarray, scores: np.ndarray) -> float:
    """Positive rate among the top 10% by score, over the overall positive rate."""
    labels = np.asarray(labels)
    base_rate = labels.mean()
    if base_rate == 0:
        return float("nan")
    top = np.argsort(-np.asarray(scores), kind="stable")[: max(1, len(labels) // 10)]
    return float(labels[top].mean() / base_rate)


def calibration_table(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-width probability bins: leads, mean predicted probability, observed rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "leads": int(members.sum()),
                "mean_predicted": float(probabilities[members].mean()),
                "observed_rate": float(labels[members].mean()),
            }
        )
    return table


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    """Lead-weighted mean |predicted − observed| over the calibration table's bins."""
    table = calibration_table(labels, probabilities, bins)
    total = sum(row["leads"] for row in table)
    return float(
        sum(row["leads"] * abs(row["mean_predicted"] - row["observed_rate"]) for row in table)
        / total
    )


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    if labels.min() == labels.max():
        raise ValueError("metrics need both won and not-won leads in the evaluation split")
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "top_decile_lift": top_decile_lift(labels, probabilities),
        "brier": float(brier_score_loss(labels, probabilities)),
        "ece": expected_calibration_error(labels, probabilities),
        "calibration": calibration_table(labels, probabilities),
        "leads": len(labels),
        "positives": int(labels.sum()),
    }


def population_stability_index(
    expected_shares: np.ndarray, actual_shares: np.ndarray, floor: float = 1e-4
) -> float:
    """PSI between two binned distributions (shares per bin). Empty bins are floored so a
    bin that appears or vanishes counts heavily but finitely."""
    expected = np.clip(np.asarray(expected_shares, dtype=float), floor, None)
    actual = np.clip(np.asarray(actual_shares, dtype=float), floor, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin of `edges` (the outer edges are open-ended)."""
    which = np.clip(np.searchsorted(edges[1:-1], values, side="right"), 0, len(edges) - 2)
    counts = np.bincount(which, minlength=len(edges) - 1)
    return counts / max(1, len(values))


def decile_edges(values: np.ndarray) -> np.ndarray:
    edges = np.quantile(values, np.linspace(0, 1, 11))
    edges[0], edges[-1] = 0.0, 1.0
    return np.maximum.accumulate(edges)
