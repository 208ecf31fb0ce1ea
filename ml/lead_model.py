"""The lead-score model: a wide-and-deep torch network on tabular features plus the notes
embedding, trained with class weighting on an out-of-time split, then calibrated."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from ml.features import TEXT, FeatureSpec
from ml.settings import MlSettings, configure_torch, get_ml_settings

MODEL_NAME = "lead_score"
TOP_FEATURES = 3


class LeadScoreNet(nn.Module):
    """logit = wide (linear) + deep (MLP) over [tabular, text components]; then a
    calibration of the logit (temperature and bias) fitted after training. The wide part is
    fitted first, to convergence; the deep part then learns the residual."""

    def __init__(self, tabular_dim: int, text_dim: int, hidden: int = 64) -> None:
        super().__init__()
        joined = tabular_dim + text_dim
        self.wide = nn.Linear(joined, 1)
        self.deep = nn.Sequential(
            nn.Linear(joined, hidden),
            nn.GELU(),
            nn.Dropout(0.2),
            nn.Linear(hidden, hidden // 2),
            nn.GELU(),
            nn.Linear(hidden // 2, 1),
        )
        self.register_buffer("temperature", torch.ones(1))
        self.register_buffer("bias", torch.zeros(1))

    def raw_logit(self, tabular: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([tabular, text], dim=1)
        return (self.wide(joined) + self.deep(joined)).squeeze(1)

    def forward(self, tabular: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Calibrated logit."""
        return self.raw_logit(tabular, text) / self.temperature + self.bias


@dataclass
class TrainingConfig:
    wide_l2: float = 1e-4
    epochs: int = 80
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-3
    patience: int = 10
    seed: int = 7


@dataclass
class TrainedModel:
    spec: FeatureSpec
    net: LeadScoreNet
    metrics: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    model_name: str = MODEL_NAME

    # -- inference ----------------------------------------------------------------------
    def predict(
        self, frame: pd.DataFrame, settings: MlSettings | None = None, chunk_rows: int = 100_000
    ) -> np.ndarray:
        """Calibrated probability of closed-won within 90 days, one per row of `frame`.
        Features are built a chunk at a time, so a million leads never sit in memory as one
        float matrix."""
        out = np.empty(len(frame), dtype=np.float32)
        for start in range(0, len(frame), chunk_rows):
            tabular, text = self.spec.transform(frame.iloc[start : start + chunk_rows])
            out[start : start + chunk_rows] = predict_matrix(self.net, tabular, text, settings)
        return out

    def contributions(
        self, frame: pd.DataFrame, top: int = TOP_FEATURES, chunk_rows: int = 50_000
    ) -> list[list[dict]]:
        """Per lead, the features that moved its calibrated logit most: gradient × input,
        summed over each feature's one-hot columns (and over the text components for the
        notes). Numeric features are standardised and text components centred on the training
        mean, so theirs is the shift from an average lead; a category counts from absent."""
        groups = self.spec.groups
        names = list(dict.fromkeys(groups))
        labels = [*names, TEXT] if self.spec.use_text else names
        membership = np.zeros((len(groups), len(names)), dtype=np.float32)
        for column, group in enumerate(groups):
            membership[column, names.index(group)] = 1.0
        net = self.net.cpu().eval()
        out: list[list[dict]] = []
        for start in range(0, len(frame), chunk_rows):
            chunk = frame.iloc[start : start + chunk_rows]
            tabular, text = self.spec.transform(chunk)
            tab = torch.from_numpy(tabular).requires_grad_(True)
            txt = torch.from_numpy(text).requires_grad_(True)
            net(tab, txt).sum().backward()
            grouped = (tab.grad * tab).detach().numpy() @ membership
            if self.spec.use_text:
                text_part = (txt.grad * txt).sum(dim=1, keepdim=True).detach().numpy()
                grouped = np.hstack([grouped, text_part])
            best = np.argsort(-np.abs(grouped), axis=1)[:, :top]
            values = chunk.to_dict("records")
            for row, picks in enumerate(best):
                out.append(
                    [
                        {
                            "feature": _describe(labels[i], values[row]),
                            "contribution": round(float(grouped[row, i]), 4),
                        }
                        for i in picks
                    ]
                )
        return out

    # -- persistence --------------------------------------------------------------------
    def weights_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
                "tabular_dim": len(self.spec.tabular_names),
                "text_dim": self.spec.text_dim,
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def from_stored(
        cls, features: dict, weights: bytes, metrics: dict, version: int, model_name: str
    ) -> TrainedModel:
        saved = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
        net = LeadScoreNet(saved["tabular_dim"], saved["text_dim"])
        net.load_state_dict(saved["state_dict"])
        spec = FeatureSpec.from_json(features)
        return cls(spec, net.eval(), metrics, version, model_name)


def _describe(group: str, row: dict[str, Any]) -> str:
    if group == TEXT:
        return "notes (text)"
    value = row.get(group)
    if isinstance(value, str):
        return f"{group}={value}"
    return group


def predict_matrix(
    net: LeadScoreNet,
    tabular: np.ndarray,
    text: np.ndarray,
    settings: MlSettings | None = None,
) -> np.ndarray:
    """Batched inference; fp16 autocast on CUDA (the sigmoid runs in fp32)."""
    settings = settings or get_ml_settings()
    device = configure_torch(settings)
    net = net.to(device).eval()
    out = np.empty(len(tabular), dtype=np.float32)
    step = settings.scoring_batch_size
    with torch.inference_mode():
        for start in range(0, len(tabular), step):
            tab = torch.from_numpy(tabular[start : start + step]).to(device, non_blocking=True)
            txt = torch.from_numpy(text[start : start + step]).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                logits = net(tab, txt)
            out[start : start + step] = torch.sigmoid(logits.float()).cpu().numpy()
    return out


def _tensors(spec: FeatureSpec, frame: pd.DataFrame, device: torch.device):
    tabular, text = spec.transform(frame)
    labels = torch.from_numpy(frame["label"].to_numpy(dtype=np.float32))
    return (
        torch.from_numpy(tabular).to(device),
        torch.from_numpy(text).to(device),
        labels.to(device),
    )


def train_lead_model(
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    spec: FeatureSpec | None = None,
    config: TrainingConfig | None = None,
    settings: MlSettings | None = None,
) -> TrainedModel:
    """Fit the spec and the network on `train`, stop early and calibrate on `calibration`
    (never on the test split). Only the spec's columns are read from the frames."""
    config = config or TrainingConfig()
    spec = (spec or FeatureSpec()).fit(train)
    for name, split in (("training", train), ("calibration", calibration)):
        if split["label"].nunique() < 2:
            raise ValueError(f"the {name} split needs both won and not-won leads")
    device = configure_torch(settings)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    tab, txt, y = _tensors(spec, train, device)
    cal_tab, cal_txt, cal_y = _tensors(spec, calibration, device)
    net = LeadScoreNet(tab.shape[1], txt.shape[1]).to(device)
    # Won leads are the minority: weight them so both classes pull equally on the loss.
    positives = float(y.sum())
    loss_fn = nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor([(len(y) - positives) / positives], device=device)
    )
    _fit_wide(net, tab, txt, y, loss_fn, config.wide_l2)

    # The deep part learns what the linear part cannot (interactions), starting from zero,
    # and is kept only for as long as it improves ranking on the calibration leads.
    nn.init.zeros_(net.deep[-1].weight)
    nn.init.zeros_(net.deep[-1].bias)
    optimizer = torch.optim.AdamW(
        net.deep.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    cal_labels = cal_y.cpu().numpy()

    def calibration_auc() -> float:
        net.eval()
        with torch.no_grad():
            return roc_auc_score(cal_labels, net.raw_logit(cal_tab, cal_txt).cpu().numpy())

    best_auc, waited = calibration_auc(), 0
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    for _epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss_fn(net.raw_logit(tab[batch], txt[batch]), y[batch]).backward()
            optimizer.step()
        auc = calibration_auc()
        if auc > best_auc + 1e-4:
            best_auc, waited = auc, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= config.patience:
                break
    net.load_state_dict(best_state)
    _calibrate(net, cal_tab, cal_txt, cal_y)
    return TrainedModel(spec, net.cpu().eval())


def _fit_wide(
    net: LeadScoreNet,
    tabular: torch.Tensor,
    text: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: nn.Module,
    l2: float,
) -> None:
    """The linear part alone, to convergence (a convex problem: L-BFGS, full batch)."""
    joined = torch.cat([tabular, text], dim=1)
    optimizer = torch.optim.LBFGS(
        net.wide.parameters(), lr=1.0, max_iter=500, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(net.wide(joined).squeeze(1), labels) + l2 * net.wide.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def _calibrate(
    net: LeadScoreNet, tabular: torch.Tensor, text: torch.Tensor, labels: torch.Tensor
) -> None:
    """Temperature scaling with a bias term: class weighting shifts every logit by about
    log(pos_weight), which a temperature alone cannot undo. Two parameters fitted by
    log-loss on the calibration split cannot reorder leads, so ranking is untouched."""
    with torch.no_grad():
        logits = net.raw_logit(tabular, text).detach()
    log_temperature = torch.zeros(1, device=logits.device, requires_grad=True)
    bias = torch.zeros(1, device=logits.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature, bias], lr=0.5, max_iter=200)
    loss_fn = nn.BCEWithLogitsLoss()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(logits / log_temperature.exp() + bias, labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    net.temperature.copy_(log_temperature.detach().exp())
    net.bias.copy_(bias.detach())
