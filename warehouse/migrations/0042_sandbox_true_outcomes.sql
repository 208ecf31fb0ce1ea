-- What the world really produced on the days it was advanced past its generation (sandbox/
-- advance.py): per tenant, channel and day, spend in the tenant's currency, adstock, expected
-- and drawn incremental leads, and their worth. The closed-loop benchmark grades on this.
CREATE TABLE sandbox.true_daily_outcomes (
    tenant_id         text NOT NULL,
    date              date NOT NULL,
    channel           text NOT NULL,
    spend             double precision NOT NULL,
    adstock           double precision NOT NULL,
    expected_leads    double precision NOT NULL,
    leads             integer NOT NULL,
    value_per_lead    double precision NOT NULL,
    expected_revenue  double precision NOT NULL,
    PRIMARY KEY (tenant_id, date, channel)
);
