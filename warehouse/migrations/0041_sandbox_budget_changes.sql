-- Budget mutations the platform sandboxes accepted (Google Ads MutateCampaignBudgets, a POST
-- on a Meta ad set, a LinkedIn campaign partial update). The world delivers the days after
-- `effective_date - 1` with them (sandbox/advance.py).
CREATE TABLE sandbox.budget_changes (
    change_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform       text NOT NULL,
    account_id     text NOT NULL,
    campaign_id    bigint NOT NULL,
    object_type    text NOT NULL CHECK (object_type IN ('campaign_budget', 'adset', 'campaign')),
    object_id      bigint NOT NULL,  -- the budget, ad set or campaign the call changed
    budget_micros  bigint NOT NULL CHECK (budget_micros > 0),
    requested_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    effective_date date NOT NULL
);
CREATE INDEX budget_changes_object_idx ON sandbox.budget_changes (platform, object_id, change_id);
