"""The lead-score model on a year-long world: out-of-time, calibrated, leak-proof, at least
as good as the baselines, graded against the world's true propensities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ml import registry
from ml.evaluation import (
    NotEnoughDataError,
    make_splits,
    promotion_decision,
    train_and_evaluate,
)
from ml.features import (
    CATEGORICAL,
    LABEL_WINDOW,
    FeatureSpec,
    LeakyFeatureError,
    data_horizon,
    load_leads,
)
from ml.lead_model import TrainingConfig, train_lead_model
from ml.scoring import score_leads

# The generator's own weights (sandbox/world.py) for the terms a CRM can observe.
SENIORITY_WEIGHT = {"c_level": 1.1, "vp": 0.7, "director": 0.4, "manager": 0.0, "individual": -0.7}


@pytest.fixture(scope="module")
def leads(ml_world) -> pd.DataFrame:
    with psycopg.connect(ml_world.uri) as conn:
        return load_leads(conn)


@pytest.fixture(scope="module")
def horizon(ml_world):
    with psycopg.connect(ml_world.uri) as conn:
        return data_horizon(conn)


@pytest.fixture(scope="module")
def truth(ml_world) -> pd.DataFrame:
    with psycopg.connect(ml_world.uri) as conn:
        rows = conn.execute(
            "SELECT lead_id, true_propensity, cause_channel, seniority, notes FROM sandbox.leads"
        ).fetchall()
    return pd.DataFrame(
        rows, columns=["lead_id", "true_propensity", "cause_channel", "seniority", "notes"]
    ).set_index("lead_id")


@pytest.fixture(scope="module")
def evaluated(leads, horizon):
    return train_and_evaluate(leads, horizon)


def test_every_crm_contact_is_a_lead_with_its_touches(leads, truth, ml_world):
    """Touches are the sessions of the lead's anonymous id in journey_touches' 30-day
    lookback (attribution_lookback_days)."""
    assert set(leads["lead_id"]) == set(truth.index)
    with psycopg.connect(ml_world.uri) as conn:
        journeys = dict(
            conn.execute(
                """SELECT l.lead_id, count(s.*) FROM sandbox.leads AS l
                   JOIN sandbox.sessions AS s
                     ON s.tenant_id = l.tenant_id AND s.anonymous_id = l.anonymous_id
                    AND s.started_at <= l.created_at
                    AND s.started_at > l.created_at - interval '30 days'
                   GROUP BY 1"""
            ).fetchall()
        )
    assert (leads["touches"].to_numpy() == leads["lead_id"].map(journeys).to_numpy()).all()
    assert leads["notes_embedding"].map(lambda v: v is not None and v.shape == (384,)).all()


def test_the_split_is_out_of_time_and_only_mature_leads_are_labelled(evaluated, horizon):
    _, splits = evaluated
    assert splits.train["created_at"].max() < splits.calibration["created_at"].min()
    assert splits.calibration["created_at"].max() < splits.test["created_at"].min()
    newest = splits.test["created_at"].max()
    assert newest + LABEL_WINDOW <= pd.Timestamp(horizon)
    # The label is "won within 90 days of creation", not "won ever".
    late = splits.train[splits.train["won_at"] > splits.train["created_at"] + LABEL_WINDOW]
    assert (late["label"] == 0).all()


def test_the_model_ranks_at_least_as_well_as_the_baselines(evaluated, truth, capsys):
    model, splits = evaluated
    metrics = model.metrics
    best_baseline = max(b["roc_auc"] for b in metrics["baselines"].values())
    labels = splits.test["label"].to_numpy()
    oracle = roc_auc_score(labels, splits.test["lead_id"].map(truth["true_propensity"]))
    with capsys.disabled():
        print(
            f"\nlead score ROC-AUC {metrics['roc_auc']:.4f}; baselines "
            + ", ".join(f"{k} {v['roc_auc']:.4f}" for k, v in metrics["baselines"].items())
            + f"; oracle {oracle:.4f} ({metrics['roc_auc'] / oracle:.1%} of it)"
        )
    # Same test leads for all; the wide part is fitted like the logistic baseline, so only
    # optimiser tolerance separates them when the deep part adds nothing.
    assert metrics["roc_auc"] >= best_baseline - 0.005
    assert metrics["top_decile_lift"] > 1.8
    assert 0.2 < metrics["pr_auc"] < 1
    assert set(metrics["baselines"]) == {"logistic_regression", "gradient_boosted_trees"}
    assert metrics["roc_auc"] >= 0.9 * oracle


def test_the_model_gets_close_to_what_the_crm_can_know(evaluated, truth):
    """The oracle ranks by true propensity, which includes hidden intent and noise that no
    CRM field carries. The generator's own logistic terms for what is observable (seniority,
    industry, size, journey length, intent phrases) plus the *true* cause bound what any
    model of these fields can reach; ours must reach 97% of that bound."""
    model, splits = evaluated

    def generator_terms(split: pd.DataFrame) -> np.ndarray:
        rows = truth.loc[split["lead_id"]]
        notes = rows["notes"].str.lower()
        return np.column_stack(
            [
                rows["seniority"].map(SENIORITY_WEIGHT),
                pd.get_dummies(split["industry"]).reindex(columns=INDUSTRIES, fill_value=0),
                np.log10(split["company_size"].astype(float)),
                split["touches"],
                pd.get_dummies(rows["cause_channel"]).reindex(columns=CAUSES, fill_value=0),
                notes.str.contains("budget approved|evaluating vendors|pricing proposal|demo"),
                notes.str.contains("just browsing|student research|not a priority|ebook only"),
            ]
        ).astype(float)

    bound = LogisticRegression(max_iter=2000).fit(
        generator_terms(splits.train), splits.train["label"]
    )
    labels = splits.test["label"].to_numpy()
    ceiling = roc_auc_score(labels, bound.predict_proba(generator_terms(splits.test))[:, 1])
    assert model.metrics["roc_auc"] >= 0.97 * ceiling, (model.metrics["roc_auc"], ceiling)


INDUSTRIES = [
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "logistics",
    "education",
    "retail",
    "professional_services",
]
CAUSES = ["google_ads", "meta", "linkedin", "baseline"]


def test_probabilities_are_calibrated(evaluated):
    model, splits = evaluated
    metrics = model.metrics
    base_rate = splits.train["label"].mean()
    constant_brier = np.mean((splits.test["label"] - base_rate) ** 2)
    assert metrics["ece"] < 0.05
    assert metrics["brier"] < constant_brier
    table = metrics["calibration"]
    assert sum(row["leads"] for row in table) == len(splits.test)
    # Each well-filled bin's observed rate lies within three binomial standard errors of what
    # the model predicted for it.
    for row in (row for row in table if row["leads"] >= 100):
        predicted = row["mean_predicted"]
        spread = 3 * (predicted * (1 - predicted) / row["leads"]) ** 0.5
        assert abs(predicted - row["observed_rate"]) <= spread, table


def test_a_post_outcome_column_is_refused_as_a_feature():
    with pytest.raises(LeakyFeatureError, match="lifecycle_stage"):
        FeatureSpec(categorical=(*CATEGORICAL, "lifecycle_stage"))
    with pytest.raises(ValueError, match="not a known pre-outcome feature"):
        FeatureSpec(numeric=("days_to_close",))


def test_a_leaky_column_in_the_data_changes_nothing(evaluated, truth):
    """A column that gives the answer away (the CRM's lifecycle stage after the deal) rides
    along in the training frame: the model never reads it, so its scores are identical."""
    _, splits = evaluated
    leaky_train = splits.train.assign(
        lifecycle_stage=np.where(splits.train["label"], "customer", "lead")
    )
    leaky_cal = splits.calibration.assign(
        lifecycle_stage=np.where(splits.calibration["label"], "customer", "lead")
    )
    # The column really is leaky: it alone would rank the training leads perfectly.
    assert roc_auc_score(leaky_train["label"], leaky_train["lifecycle_stage"] == "customer") == 1
    config = TrainingConfig(epochs=5)
    clean = train_lead_model(splits.train, splits.calibration, config=config)
    leaky = train_lead_model(leaky_train, leaky_cal, config=config)
    assert "lifecycle_stage" not in leaky.spec.to_json()["categorical"]
    np.testing.assert_array_equal(clean.predict(splits.test), leaky.predict(splits.test))


def test_too_little_history_is_a_clear_error(leads, horizon):
    young = leads[leads["created_at"] > pd.Timestamp(horizon) - 2 * LABEL_WINDOW]
    with pytest.raises(NotEnoughDataError, match="known 90-day outcome"):
        make_splits(young.iloc[:100], horizon)


def test_the_registry_round_trips_and_guards_promotion(ml_world, evaluated):
    model, splits = evaluated
    with psycopg.connect(ml_world.uri) as conn:
        version = registry.register_model(conn, model)
        registry.promote(conn, version)
        live = registry.load_model(conn)
        assert live.version == version == registry.load_model(conn, version).version
        assert registry.load_model(conn, version + 100) is None
        np.testing.assert_allclose(live.predict(splits.test), model.predict(splits.test), atol=1e-6)
        stored = conn.execute(
            "SELECT features, metrics FROM ml.models WHERE version = %s", (version,)
        ).fetchone()
        assert stored[1]["roc_auc"] == model.metrics["roc_auc"]
        assert {"roc_auc", "pr_auc", "top_decile_lift", "brier", "calibration"} <= set(stored[1])
        assert "job_title" in stored[0]["categorical"]

        # A candidate trained on shuffled outcomes must not replace the live model.
        rng = np.random.default_rng(0)
        shuffled = splits.train.assign(label=rng.permutation(splits.train["label"].to_numpy()))
        worse = train_lead_model(shuffled, splits.calibration, config=TrainingConfig(epochs=3))
        worse.metrics = {"roc_auc": roc_auc_score(splits.test["label"], worse.predict(splits.test))}
        decision = promotion_decision(worse, live, splits.test)
        assert not decision.promote and "worse than" in decision.reason
        # The live model against itself is within the margin.
        assert promotion_decision(live, live, splits.test).promote


def test_scores_are_written_once_per_lead_with_tiers_and_reasons(ml_world, evaluated, leads):
    model, _ = evaluated
    with psycopg.connect(ml_world.uri) as conn:
        if model.version is None:
            registry.register_model(conn, model)
        first = score_leads(conn, model, leads)
        second = score_leads(conn, model, leads)
        rows = conn.execute(
            "SELECT tenant_id, tier, count(*), min(score), max(score) FROM ml.lead_scores "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        top = conn.execute(
            "SELECT top_features FROM ml.lead_scores ORDER BY score DESC LIMIT 1"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM ml.lead_scores").fetchone()[0]
    assert first.psi is None or first.psi >= 0
    assert second.psi == pytest.approx(0.0, abs=1e-9)  # same leads, same model: no drift
    assert total == len(leads) == second.leads  # a re-run replaces, never duplicates
    by_tenant: dict[str, list] = {}
    for tenant, tier, count, low, high in rows:
        by_tenant.setdefault(tenant, []).append((tier, count, low, high))
    for tiers in by_tenant.values():
        counts = [count for _, count, _, _ in tiers]
        assert [tier for tier, *_ in tiers] == [1, 2, 3, 4]
        assert max(counts) - min(counts) <= 1  # quartiles
        # Tier 1 holds the highest scores: its lowest is above tier 2's highest.
        assert tiers[0][2] >= tiers[1][3]
    assert len(top) == 3 and all({"feature", "contribution"} <= set(item) for item in top)
