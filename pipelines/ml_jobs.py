"""ML jobs and schedules: the lead-score model retrains weekly, leads are scored daily after
the morning CRM loads (06:00 UTC) and the dbt rebuild they trigger. Embeddings need no job:
they follow new creative and CRM rows through their automation condition."""

import dagster as dg

from assets.ml import MODEL, SCORES, embeddings, lead_score_model, lead_scores

ml_assets = [embeddings, lead_score_model, lead_scores]

ml_training_job = dg.define_asset_job(
    "ml_training_weekly",
    selection=dg.AssetSelection.assets(MODEL),
    description="Train, evaluate and (if it is not worse) promote the lead-score model.",
)
ml_scoring_job = dg.define_asset_job(
    "ml_scoring_daily",
    selection=dg.AssetSelection.assets(SCORES),
    description="Score every lead with the live model.",
)

ml_schedules = [
    dg.ScheduleDefinition(
        name="ml_training_weekly",
        job=ml_training_job,
        cron_schedule="0 3 * * 1",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    ),
    dg.ScheduleDefinition(
        name="ml_scoring_daily",
        job=ml_scoring_job,
        cron_schedule="30 7 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    ),
]
