"""ML assets: text embeddings in pgvector, the weekly lead-score model, daily lead scores.
Thin: the work is in `ml/`; these fetch, run it, and report metadata and checks."""

import dagster as dg

from assets.dbt import MODELS_FOLLOW_NEW_DATA
from assets.gpu import gpu_op_tags
from assets.resources import WarehouseResource
from ml import registry
from ml.embedder import TextEmbedder
from ml.embeddings import ENTITY_TYPES, refresh_embeddings
from ml.evaluation import promotion_decision, train_and_evaluate
from ml.features import data_horizon, load_leads
from ml.scoring import score_leads

# On the Kubernetes deployment these ops run on the GPU node pool with a GPU (dagster-k8s
# reads the tag); on a laptop the tag is inert and torch runs on the CPU.
GPU_TAGS = gpu_op_tags()
# A calibrated model's probabilities should match observed rates within this, on average.
MAX_CALIBRATION_ERROR = 0.05
# Score drift above this PSI (the usual "significant shift" threshold) fails the check.
MAX_SCORE_PSI = 0.25

EMBEDDINGS = dg.AssetKey(["ml", "embeddings"])
MODEL = dg.AssetKey(["ml", "lead_score_model"])
SCORES = dg.AssetKey(["ml", "lead_scores"])


@dg.asset(
    key=EMBEDDINGS,
    group_name="ml",
    kinds={"pytorch", "postgres"},
    op_tags=GPU_TAGS,
    deps=[
        dg.AssetKey(["raw", "google_ads_ad_daily"]),
        dg.AssetKey(["raw", "meta_ads"]),
        dg.AssetKey(["raw", "linkedin_creatives"]),
        dg.AssetKey(["raw", "crm_companies"]),
        dg.AssetKey(["staging", "stg_crm__contacts"]),
    ],
    automation_condition=MODELS_FOLLOW_NEW_DATA,
    description="all-MiniLM-L6-v2 vectors (pgvector, HNSW cosine) of ad creatives, CRM notes "
    "and company descriptions; only new or changed text is embedded (by content hash).",
)
def embeddings(warehouse: WarehouseResource) -> dg.MaterializeResult:
    embedder = TextEmbedder()
    with warehouse.connect() as conn:
        result = refresh_embeddings(conn, embedder, ENTITY_TYPES)
    return dg.MaterializeResult(
        metadata={
            "embedded": result.embedded,
            "unchanged": result.unchanged,
            "removed": result.removed,
            "distinct_texts_encoded": result.distinct_texts_encoded,
            "device": str(embedder.device),
            "model": embedder.model_name,
        }
    )


@dg.asset(
    key=MODEL,
    group_name="ml",
    kinds={"pytorch"},
    op_tags=GPU_TAGS,
    deps=[
        EMBEDDINGS,
        dg.AssetKey(["staging", "stg_crm__contacts"]),
        dg.AssetKey(["staging", "stg_crm__deals"]),
        dg.AssetKey(["staging", "stg_crm__deal_stages"]),
        dg.AssetKey(["marts", "journey_touches"]),
    ],
    check_specs=[
        dg.AssetCheckSpec("auc_not_worse_than_live", asset=MODEL),
        dg.AssetCheckSpec("calibration_error", asset=MODEL),
    ],
    description="Trains a candidate lead-score model on an out-of-time split, evaluates it "
    "with the baselines, and promotes it to live only if its ROC-AUC is not worse than the "
    "live model's (on the same test leads) by more than the margin.",
)
def lead_score_model(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        leads = load_leads(conn)
        candidate, splits = train_and_evaluate(leads, data_horizon(conn))
        decision = promotion_decision(candidate, registry.load_model(conn), splits.test)
        version = registry.register_model(conn, candidate)
        if decision.promote:
            registry.promote(conn, version)
        else:
            registry.reject(conn, version)
    metrics = candidate.metrics
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "promoted": decision.promote,
            "roc_auc": metrics["roc_auc"],
            "pr_auc": metrics["pr_auc"],
            "top_decile_lift": metrics["top_decile_lift"],
            "brier": metrics["brier"],
            "baseline_roc_auc": {k: v["roc_auc"] for k, v in metrics["baselines"].items()},
            "splits": metrics["splits"],
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="auc_not_worse_than_live",
                passed=decision.promote,
                severity=dg.AssetCheckSeverity.WARN,
                description=decision.reason,
                metadata={"candidate_auc": decision.candidate_auc, "margin": decision.margin},
            ),
            dg.AssetCheckResult(
                check_name="calibration_error",
                passed=metrics["ece"] <= MAX_CALIBRATION_ERROR,
                metadata={"ece": metrics["ece"], "max": MAX_CALIBRATION_ERROR},
            ),
        ],
    )


@dg.asset(
    key=SCORES,
    group_name="ml",
    kinds={"pytorch", "postgres"},
    op_tags=GPU_TAGS,
    deps=[
        MODEL,
        EMBEDDINGS,
        dg.AssetKey(["staging", "stg_crm__contacts"]),
        dg.AssetKey(["marts", "journey_touches"]),
    ],
    check_specs=[dg.AssetCheckSpec("score_drift_psi", asset=SCORES)],
    description="Every lead scored by the live model: calibrated probability of closed-won "
    "within 90 days, quartile tier per tenant, top contributing features.",
)
def lead_scores(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        model = registry.load_model(conn)
        if model is None:
            raise dg.Failure("no live lead-score model yet: materialize ml/lead_score_model first")
        result = score_leads(conn, model, load_leads(conn))
    return dg.MaterializeResult(
        metadata={
            "leads": result.leads,
            "tenants": result.tenants,
            "model_version": result.model_version,
            "tier_counts": {str(k): v for k, v in result.tier_counts.items()},
            "psi": result.psi,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="score_drift_psi",
                passed=result.psi is None or result.psi <= MAX_SCORE_PSI,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"psi": result.psi if result.psi is not None else "first scoring"},
            )
        ],
    )
