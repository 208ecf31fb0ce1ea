"""One evaluation run: our model and the scikit-learn baselines on the same out-of-time
split, with the promotion rule against the live model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from ml.features import FeatureSpec, label_leads, out_of_time_split
from ml.lead_model import TrainedModel, TrainingConfig, train_lead_model
from ml.metrics import classification_metrics
from ml.settings import MlSettings

# A candidate may be this much worse (ROC-AUC on the same test leads) than the live model and
# still replace it: fresher data is worth a little noise, not a real loss.
PROMOTION_AUC_MARGIN = 0.01
MIN_LABELLED_LEADS = 500


class NotEnoughDataError(ValueError):
    """Too few leads with a known 90-day outcome to train and evaluate on."""


@dataclass
class Splits:
    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame

    def describe(self) -> dict:
        return {
            name: {
                "leads": len(split),
                "positives": int(split["label"].sum()),
                "from": split["created_at"].min().isoformat(),
                "to": split["created_at"].max().isoformat(),
            }
            for name, split in (
                ("train", self.train),
                ("calibration", self.calibration),
                ("test", self.test),
            )
        }


def make_splits(
    leads: pd.DataFrame, horizon: datetime, minimum: int = MIN_LABELLED_LEADS
) -> Splits:
    labelled = label_leads(leads, horizon)
    if len(labelled) < minimum:
        raise NotEnoughDataError(
            f"{len(labelled)} leads have a known 90-day outcome by {horizon:%Y-%m-%d}; "
            f"training needs at least {minimum}"
        )
    splits = Splits(*out_of_time_split(labelled))
    for name, split in (
        ("train", splits.train),
        ("calibration", splits.calibration),
        ("test", splits.test),
    ):
        if split["label"].nunique() < 2:
            raise NotEnoughDataError(f"the {name} split has only one outcome")
    return splits


def baseline_scores(spec: FeatureSpec, splits: Splits, seed: int = 7) -> dict[str, np.ndarray]:
    """Logistic regression and gradient-boosted trees on the same fitted features (tabular
    and embedding), trained on the same training split; test-split probabilities."""
    train_tab, train_txt = spec.transform(splits.train)
    test_tab, test_txt = spec.transform(splits.test)
    x_train = np.hstack([train_tab, train_txt])
    x_test = np.hstack([test_tab, test_txt])
    y_train = splits.train["label"].to_numpy()
    logistic = LogisticRegression(max_iter=2000, class_weight="balanced")
    boosted = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_leaf_nodes=15,
        class_weight="balanced",
        random_state=seed,
    )
    return {
        "logistic_regression": logistic.fit(x_train, y_train).predict_proba(x_test)[:, 1],
        "gradient_boosted_trees": boosted.fit(x_train, y_train).predict_proba(x_test)[:, 1],
    }


def train_and_evaluate(
    leads: pd.DataFrame,
    horizon: datetime,
    config: TrainingConfig | None = None,
    settings: MlSettings | None = None,
    spec: FeatureSpec | None = None,
) -> tuple[TrainedModel, Splits]:
    """Train on the out-of-time split and record, on its test leads, our metrics and the
    baselines' (ROC-AUC, PR-AUC, lift, Brier, calibration)."""
    splits = make_splits(leads, horizon)
    model = train_lead_model(splits.train, splits.calibration, spec, config, settings)
    labels = splits.test["label"].to_numpy()
    metrics = classification_metrics(labels, model.predict(splits.test, settings))
    metrics["baselines"] = {
        name: {
            key: value
            for key, value in classification_metrics(labels, scores).items()
            if key != "calibration"
        }
        for name, scores in baseline_scores(model.spec, splits).items()
    }
    metrics["splits"] = splits.describe()
    metrics["horizon"] = horizon.isoformat()
    model.metrics = metrics
    return model, splits


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    candidate_auc: float
    live_auc: float | None
    margin: float

    @property
    def reason(self) -> str:
        if self.live_auc is None:
            return "no live model yet"
        verb = "within" if self.promote else "worse than"
        return (
            f"candidate ROC-AUC {self.candidate_auc:.4f} is {verb} {self.margin} of the live "
            f"model's {self.live_auc:.4f} on the same test leads"
        )


def promotion_decision(
    candidate: TrainedModel,
    live: TrainedModel | None,
    test: pd.DataFrame,
    margin: float = PROMOTION_AUC_MARGIN,
) -> PromotionDecision:
    """Both models scored on the candidate's test leads, so the comparison is like for like."""
    candidate_auc = candidate.metrics["roc_auc"]
    if live is None:
        return PromotionDecision(True, candidate_auc, None, margin)
    live_auc = classification_metrics(test["label"].to_numpy(), live.predict(test))["roc_auc"]
    return PromotionDecision(candidate_auc >= live_auc - margin, candidate_auc, live_auc, margin)
