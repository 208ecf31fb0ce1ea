-- What the ML assets write: text embeddings (pgvector), the lead-score model registry and
-- the scores. Everything is keyed so that a re-run replaces rather than duplicates.

-- One vector per (tenant, entity, model). content_hash is sha256 of the embedded text, so a
-- run embeds only text that is new or changed since the last one.
CREATE TABLE ml.embeddings (
    tenant_id    text NOT NULL,
    entity_type  text NOT NULL
        CHECK (entity_type IN ('creative', 'crm_note', 'company_description', 'search_term')),
    entity_id    text NOT NULL,
    content_hash text NOT NULL,
    model_name   text NOT NULL,
    content      text NOT NULL,
    embedding    vector(384) NOT NULL,
    embedded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, entity_type, entity_id, model_name)
);
-- Cosine distance because the vectors are L2-normalised; m/ef_construction are pgvector's
-- defaults, spelled out so the benchmark can print what it measured.
CREATE INDEX embeddings_hnsw_cosine_idx ON ml.embeddings
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);

-- The model registry. At most one live model per name; candidates that failed the promotion
-- check stay for the record as 'rejected'.
CREATE TABLE ml.models (
    model_name  text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    status      text NOT NULL CHECK (status IN ('candidate', 'live', 'retired', 'rejected')),
    features    jsonb NOT NULL,  -- the feature spec the weights expect (names, vocabularies, scaling)
    metrics     jsonb NOT NULL,  -- test-split metrics, baselines and the calibration table
    trained_at  timestamptz NOT NULL DEFAULT now(),
    promoted_at timestamptz,
    weights     bytea NOT NULL,  -- torch state_dict, saved with torch.save
    PRIMARY KEY (model_name, version)
);
CREATE UNIQUE INDEX models_one_live_idx ON ml.models (model_name) WHERE status = 'live';

-- The current score of every lead (replaced by each scoring run).
CREATE TABLE ml.lead_scores (
    tenant_id     text NOT NULL,
    lead_id       bigint NOT NULL,  -- the CRM contact id
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    tier          smallint NOT NULL CHECK (tier BETWEEN 1 AND 4),  -- 1: the tenant's top quartile
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    top_features  jsonb NOT NULL,  -- [{feature, contribution}], largest |contribution| first
    scored_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX lead_scores_tier_idx ON ml.lead_scores (tenant_id, tier, score DESC);

-- One row per scoring run: the score distribution that the next run's drift check (PSI)
-- compares against.
CREATE TABLE ml.scoring_runs (
    run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    scored_at     timestamptz NOT NULL,
    leads         integer NOT NULL,
    bin_edges     jsonb NOT NULL,
    bin_shares    jsonb NOT NULL
);
