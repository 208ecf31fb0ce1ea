"""Score every lead with the live model into ml.lead_scores, and measure drift (PSI)
against the previous scoring run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from ml.lead_model import TrainedModel
from ml.metrics import bin_shares, decile_edges, population_stability_index
from ml.settings import MlSettings


@dataclass(frozen=True)
class ScoringResult:
    leads: int
    tenants: int
    model_version: int
    scored_at: datetime
    psi: float | None  # None on the first run: nothing to compare with
    tier_counts: dict[int, int]


def quartile_tiers(scores: pd.Series) -> pd.Series:
    """1 for a tenant's top quartile of scores … 4 for its bottom quartile."""
    percentile = scores.rank(method="first", ascending=False, pct=True)
    return np.ceil(percentile * 4).clip(1, 4).astype(int)


def score_leads(
    conn: psycopg.Connection,
    model: TrainedModel,
    leads: pd.DataFrame,
    settings: MlSettings | None = None,
    scored_at: datetime | None = None,
) -> ScoringResult:
    """Replace the scores of the tenants in `leads` (one transaction) and log the run."""
    if model.version is None:
        raise ValueError("only a registered model may write scores (its version is recorded)")
    if leads.empty:
        raise ValueError("no leads to score")
    scored_at = scored_at or datetime.now(UTC)
    scores = pd.Series(model.predict(leads, settings), index=leads.index, dtype=float)
    tiers = scores.groupby(leads["tenant_id"]).transform(quartile_tiers).astype(int)
    contributions = model.contributions(leads)
    previous = conn.execute(
        "SELECT bin_edges, bin_shares FROM ml.scoring_runs WHERE model_name = %s "
        "ORDER BY run_id DESC LIMIT 1",
        (model.model_name,),
    ).fetchone()
    psi = None
    if previous is not None:
        edges, shares = np.asarray(previous[0]), np.asarray(previous[1])
        psi = population_stability_index(shares, bin_shares(scores.to_numpy(), edges))
    edges = decile_edges(scores.to_numpy())
    tenants = sorted(leads["tenant_id"].unique())
    with conn.transaction():
        conn.execute("DELETE FROM ml.lead_scores WHERE tenant_id = ANY(%s)", (tenants,))
        with conn.cursor().copy(
            "COPY ml.lead_scores (tenant_id, lead_id, score, tier, model_name, model_version, "
            "top_features, scored_at) FROM STDIN"
        ) as copy:
            for (tenant, lead), score, tier, top in zip(
                leads[["tenant_id", "lead_id"]].itertuples(index=False, name=None),
                scores.to_numpy(),
                tiers.to_numpy(),
                contributions,
                strict=True,
            ):
                copy.write_row(
                    (tenant, int(lead), float(score), int(tier), model.model_name,
                     model.version, Jsonb(top), scored_at)
                )  # fmt: skip
        conn.execute(
            "INSERT INTO ml.scoring_runs (model_name, model_version, scored_at, leads, "
            "bin_edges, bin_shares) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                model.model_name,
                model.version,
                scored_at,
                len(leads),
                Jsonb(edges.tolist()),
                Jsonb(bin_shares(scores.to_numpy(), edges).tolist()),
            ),
        )
    return ScoringResult(
        leads=len(leads),
        tenants=len(tenants),
        model_version=model.version,
        scored_at=scored_at,
        psi=psi,
        tier_counts={int(k): int(v) for k, v in tiers.value_counts().sort_index().items()},
    )
