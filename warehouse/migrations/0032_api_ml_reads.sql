-- The API's role reads ml tables through migration 0030's default privileges, and row-level
-- security keeps each tenant to its own embeddings and scores. The model registry and the
-- scoring-run log have no tenant: they hold every tenant's training metrics and weights, so
-- the API may not read them (what a lead's score came from is in ml.lead_scores itself).
REVOKE SELECT ON ml.models, ml.scoring_runs FROM bizo_api;
