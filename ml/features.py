"""Lead features as known when the lead was created, the 90-day closed-won label, and the
feature spec that turns them into a matrix. Post-outcome fields are refused by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from pgvector.psycopg import register_vector

from ml.embedder import DIMENSIONS, MODEL_NAME

LABEL_WINDOW = timedelta(days=90)
CHANNELS = ("google_ads", "meta", "linkedin", "organic_search", "direct", "referral")
PAID_CHANNELS = ("google_ads", "meta", "linkedin")

CATEGORICAL = (
    "job_title",
    "industry",
    "country",
    "original_source",
    "first_channel",
    "last_channel",
)
NUMERIC = (
    "log_company_size",
    "touches",
    "paid_touches",
    *(f"touches_{channel}" for channel in CHANNELS),
    "distinct_channels",
    "active_days",
    "days_first_touch_to_lead",
    "touches_last_7d",
    "has_notes",
)
TEXT = "notes_embedding"
ALLOWED_FEATURES = frozenset((*CATEGORICAL, *NUMERIC, TEXT))
# Columns that exist in the CRM but are written after (or because of) the outcome: a model
# given any of them would learn the answer, not the lead.
POST_OUTCOME = frozenset(
    {
        "lifecycle_stage",
        "deal_id",
        "deal_stage",
        "deal_stage_probability",
        "amount",
        "close_date",
        "is_closed",
        "is_closed_won",
        "won_at",
        "opportunity_at",
        "lost_at",
        "last_modified_at",
        "label",
    }
)


class LeakyFeatureError(ValueError):
    """A post-outcome column was asked for as a feature."""


# Touches before each lead's form fill, from dbt's journeys (identity-stitched sessions with
# their channel). A lead without any session keeps a placeholder 'unknown' touch there, with
# no session: it is not a touch here.
_TOUCHES = """
    SELECT tenant_id, lead_id, touched_at, channel
    FROM marts.journey_touches
    WHERE session_id IS NOT NULL AND touched_at <= converted_at
"""

_LEADS = """
WITH touches AS ({touches}),
per_lead AS (
    SELECT tenant_id, lead_id,
           count(*) AS touches,
           count(*) FILTER (WHERE channel IN ('google_ads', 'meta', 'linkedin')) AS paid_touches,
           {channel_counts},
           count(DISTINCT channel) AS distinct_channels,
           count(DISTINCT touched_at::date) AS active_days,
           min(touched_at) AS first_touch_at,
           (array_agg(channel ORDER BY touched_at))[1] AS first_channel,
           (array_agg(channel ORDER BY touched_at DESC))[1] AS last_channel
    FROM touches GROUP BY tenant_id, lead_id
),
recent AS (
    SELECT t.tenant_id, t.lead_id, count(*) AS touches_last_7d
    FROM touches AS t
    JOIN staging.stg_crm__contacts AS c
      ON c.tenant_id = t.tenant_id AND c.contact_id::bigint = t.lead_id
    WHERE t.touched_at > c.created_at - interval '7 days'
    GROUP BY 1, 2
),
won AS (
    SELECT deals.tenant_id, deals.contact_id::bigint AS lead_id, min(stages.entered_at) AS won_at
    FROM staging.stg_crm__deals AS deals
    JOIN staging.stg_crm__deal_stages AS stages
      ON stages.tenant_id = deals.tenant_id AND stages.deal_id = deals.deal_id
    WHERE stages.stage = 'closed_won'
    GROUP BY 1, 2
)
SELECT c.tenant_id, c.contact_id::bigint AS lead_id, c.created_at,
       c.job_title, c.company_size, c.industry, c.country, c.original_source,
       coalesce(p.touches, 0) AS touches, coalesce(p.paid_touches, 0) AS paid_touches,
       {channel_columns},
       coalesce(p.distinct_channels, 0) AS distinct_channels,
       coalesce(p.active_days, 0) AS active_days,
       (extract(epoch FROM c.created_at - p.first_touch_at) / 86400.0)::float8
           AS days_first_touch_to_lead,
       coalesce(r.touches_last_7d, 0) AS touches_last_7d,
       p.first_channel, p.last_channel,
       e.embedding AS notes_embedding,
       w.won_at
FROM staging.stg_crm__contacts AS c
LEFT JOIN per_lead AS p ON p.tenant_id = c.tenant_id AND p.lead_id = c.contact_id::bigint
LEFT JOIN recent AS r ON r.tenant_id = c.tenant_id AND r.lead_id = c.contact_id::bigint
LEFT JOIN won AS w ON w.tenant_id = c.tenant_id AND w.lead_id = c.contact_id::bigint
LEFT JOIN ml.embeddings AS e
  ON e.tenant_id = c.tenant_id AND e.entity_type = 'crm_note' AND e.entity_id = c.contact_id
 AND e.model_name = %(model)s
WHERE %(tenant)s::text IS NULL OR c.tenant_id = %(tenant)s
ORDER BY c.created_at, c.tenant_id, c.contact_id
"""


def _leads_query() -> str:
    counts = ",\n           ".join(
        f"count(*) FILTER (WHERE channel = '{channel}') AS touches_{channel}"
        for channel in CHANNELS
    )
    columns = ", ".join(f"coalesce(p.touches_{c}, 0) AS touches_{c}" for c in CHANNELS)
    return _LEADS.format(touches=_TOUCHES, channel_counts=counts, channel_columns=columns)


def load_leads(conn: psycopg.Connection, tenant_id: str | None = None) -> pd.DataFrame:
    """Every lead (CRM contact) with its pre-creation features, its notes embedding and
    `won_at` (first closed-won, if any). One row per lead, oldest first."""
    register_vector(conn)
    with conn.cursor() as cur:
        cur.execute(_leads_query(), {"model": MODEL_NAME, "tenant": tenant_id})
        columns = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["won_at"] = pd.to_datetime(frame["won_at"], utc=True)
    frame["notes_embedding"] = [
        None if value is None else value.to_numpy() for value in frame["notes_embedding"]
    ]
    return add_derived_columns(frame)


def add_derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    size = pd.to_numeric(frame["company_size"], errors="coerce").astype(float)
    frame["log_company_size"] = np.log1p(size.clip(lower=0))
    frame["has_notes"] = frame["notes_embedding"].map(lambda v: 0.0 if v is None else 1.0)
    return frame


def label_leads(frame: pd.DataFrame, horizon: datetime) -> pd.DataFrame:
    """`label` (closed-won within 90 days of creation) for leads whose 90 days have passed
    by `horizon`; younger leads are dropped, since their outcome is not known yet."""
    horizon = pd.Timestamp(horizon)
    mature = frame[frame["created_at"] + LABEL_WINDOW <= horizon].copy()
    deadline = mature["created_at"] + LABEL_WINDOW
    mature["label"] = (mature["won_at"].notna() & (mature["won_at"] <= deadline)).astype(int)
    return mature


def data_horizon(conn: psycopg.Connection) -> datetime:
    """How far the CRM data reaches: the latest change synced from it. Outcomes are known
    up to here, not up to the wall clock (a sync can lag, a sandbox world ends)."""
    horizon = conn.execute(
        "SELECT greatest((SELECT max(last_modified_at) FROM staging.stg_crm__contacts), "
        "(SELECT max(last_modified_at) FROM staging.stg_crm__deals))"
    ).fetchone()[0]
    if horizon is None:
        raise ValueError("the CRM has no contacts yet: nothing to train or score")
    return horizon


@dataclass
class FeatureSpec:
    """Which columns feed the model and how: category vocabularies, numeric scaling, and
    whether the notes embedding is used. Fitted on the training split only."""

    categorical: tuple[str, ...] = CATEGORICAL
    numeric: tuple[str, ...] = NUMERIC
    use_text: bool = True
    # The notes embedding enters as its leading principal components (fitted on the training
    # split): the signal in notes is a few intents, and 384 raw inputs would mostly add noise.
    text_components: int = 16
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    text_mean: list[float] = field(default_factory=list)
    text_basis: list[list[float]] = field(default_factory=list)  # components × 384

    def __post_init__(self) -> None:
        requested = {*self.categorical, *self.numeric, *([TEXT] if self.use_text else [])}
        leaky = sorted(requested & POST_OUTCOME)
        if leaky:
            raise LeakyFeatureError(f"post-outcome columns cannot be features: {', '.join(leaky)}")
        unknown = sorted(requested - ALLOWED_FEATURES)
        if unknown:
            raise ValueError(
                f"not a known pre-outcome feature: {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(ALLOWED_FEATURES))})"
            )

    def fit(self, frame: pd.DataFrame, min_count: int = 5) -> FeatureSpec:
        for column in self.categorical:
            counts = frame[column].fillna("(missing)").astype(str).value_counts()
            self.vocabularies[column] = sorted(counts[counts >= min_count].index)
        for column in self.numeric:
            values = pd.to_numeric(frame[column], errors="coerce").astype(float)
            mean = float(values.mean()) if values.notna().any() else 0.0
            scale = float(values.std()) if values.notna().sum() > 1 else 1.0
            self.means[column] = mean
            self.scales[column] = scale if scale > 1e-9 else 1.0
        if self.use_text:
            embedded = np.stack([v for v in frame[TEXT] if v is not None] or [np.zeros(DIMENSIONS)])
            mean = embedded.mean(axis=0)
            _, singular, basis = np.linalg.svd(embedded - mean, full_matrices=False)
            # Unit variance per component, so the components share one scale with the rest.
            scale = singular[: self.text_components] / np.sqrt(max(1, len(embedded) - 1))
            basis = basis[: self.text_components] / np.clip(scale, 1e-6, None)[:, None]
            self.text_mean, self.text_basis = mean.tolist(), basis.tolist()
        return self

    @property
    def tabular_names(self) -> list[str]:
        names = []
        for column in self.categorical:
            names += [f"{column}={value}" for value in self.vocabularies[column]]
            names.append(f"{column}=(other)")
        return names + list(self.numeric)

    @property
    def groups(self) -> list[str]:
        """The source column of each tabular input (one-hot columns share their feature)."""
        groups = []
        for column in self.categorical:
            groups += [column] * (len(self.vocabularies[column]) + 1)
        return groups + list(self.numeric)

    @property
    def text_dim(self) -> int:
        return len(self.text_basis) if self.use_text else 0

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(tabular, text) float32 matrices. Only the spec's columns are read: any other
        column in `frame`, leaky or not, cannot reach the model."""
        parts = []
        for column in self.categorical:
            vocabulary = self.vocabularies[column]
            index = {value: i for i, value in enumerate(vocabulary)}
            values = frame[column].fillna("(missing)").astype(str)
            positions = values.map(index).fillna(len(vocabulary)).to_numpy(dtype=np.int64)
            onehot = np.zeros((len(frame), len(vocabulary) + 1), dtype=np.float32)
            onehot[np.arange(len(frame)), positions] = 1.0
            parts.append(onehot)
        for column in self.numeric:
            values = pd.to_numeric(frame[column], errors="coerce").astype(float)
            values = values.fillna(self.means[column])
            scaled = (values.to_numpy() - self.means[column]) / self.scales[column]
            parts.append(scaled.astype(np.float32)[:, None])
        tabular = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0), np.float32)
        text = np.zeros((len(frame), self.text_dim), dtype=np.float32)
        if self.use_text:
            present = np.array([v is not None for v in frame[TEXT]], dtype=bool)
            if present.any():
                embedded = np.stack([v for v in frame[TEXT] if v is not None]).astype(np.float32)
                mean = np.asarray(self.text_mean, dtype=np.float32)
                basis = np.asarray(self.text_basis, dtype=np.float32)
                text[present] = (embedded - mean) @ basis.T
        return tabular, text

    def to_json(self) -> dict[str, Any]:
        return {
            "categorical": list(self.categorical),
            "numeric": list(self.numeric),
            "use_text": self.use_text,
            "text_model": MODEL_NAME if self.use_text else None,
            "text_components": self.text_components,
            "text_mean": self.text_mean,
            "text_basis": self.text_basis,
            "vocabularies": self.vocabularies,
            "means": self.means,
            "scales": self.scales,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            categorical=tuple(data["categorical"]),
            numeric=tuple(data["numeric"]),
            use_text=data["use_text"],
            text_components=data["text_components"],
            text_mean=data["text_mean"],
            text_basis=data["text_basis"],
            vocabularies=data["vocabularies"],
            means=data["means"],
            scales=data["scales"],
        )


def out_of_time_split(
    labelled: pd.DataFrame, fractions: Sequence[float] = (0.7, 0.15, 0.15)
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, calibration and test splits by creation time: every calibration lead is newer
    than every training lead, and every test lead newer still."""
    if abs(sum(fractions) - 1.0) > 1e-9 or len(fractions) != 3:
        raise ValueError("fractions must be three numbers that sum to 1")
    ordered = labelled.sort_values(["created_at", "tenant_id", "lead_id"], kind="stable")
    times = ordered["created_at"]
    first_cut = times.iloc[int(len(ordered) * fractions[0])]
    second_cut = times.iloc[int(len(ordered) * (fractions[0] + fractions[1]))]
    return (
        ordered[times < first_cut],
        ordered[(times >= first_cut) & (times < second_cut)],
        ordered[times >= second_cut],
    )
