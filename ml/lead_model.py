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
    calibration of the logit (temperature and bias) fitted after training."""

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
    def predict(self, frame: pd.DataFrame, settings: MlSettings | None = None) -> np.ndarray:
        """Calibrated probability of closed-won within 90 days, one per row of `frame`."""
        tabular, text = self.spec.transform(frame)
        return predict_matrix(self.net, tabular, text, settings)

    def contributions(self, frame: pd.DataFrame, top: int = TOP_FEATURES) -> list[list[dict]]:
        """Per lead, the features that moved its logit most from the average lead's:
        gradient × (input − training mean), summed over each feature's one-hot columns (and
        over the embedding for the notes)."""
        tabular, text = self.spec.transform(frame)
        net = self.net.cpu().eval()
        tab = torch.from_numpy(tabular).requires_grad_(True)
        txt = torch.from_numpy(text).requires_grad_(True)
        net(tab, txt).sum().backward()
        # Inputs are standardised/one-hot: the training mean of a numeric input is 0, of a
        # one-hot column its frequency; the spec keeps neither for one-hots, so use 0 (absent).
        tab_contrib = (tab.grad * tab).detach().numpy()
        groups = self.spec.groups
        names = list(dict.fromkeys(groups))
        grouped = np.zeros((len(frame), len(names) + (1 if self.spec.use_text else 0)))
        positions = {name: i for i, name in enumerate(names)}
        for column, group in enumerate(groups):
            grouped[:, positions[group]] += tab_contrib[:, column]
        labels = names[:]
        if self.spec.use_text:
            grouped[:, -1] = (txt.grad * txt).sum(dim=1).detach().numpy()
            labels.append(TEXT)
        out = []
        for row in range(len(frame)):
            best = np.argsort(-np.abs(grouped[row]))[:top]
            out.append(
                [
                    {
                        "feature": _describe(labels[i], frame.iloc[row]),
                        "contribution": round(float(grouped[row, i]), 4),
                    }
                    for i in best
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


def _describe(group: str, row: pd.Series) -> str:
    if group == TEXT:
        return "notes (text)"
    if group in row.index and not isinstance(row[group], float | int | np.number):
        return f"{group}={row[group]}"
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
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    best_auc, best_state, waited = -1.0, None, 0
    for _epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss_fn(net.raw_logit(tab[batch], txt[batch]), y[batch]).backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            scores = net.raw_logit(cal_tab, cal_txt).cpu().numpy()
        auc = roc_auc_score(cal_y.cpu().numpy(), scores)
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
