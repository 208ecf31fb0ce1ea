-- Daily FX rates. The sandbox world quotes them (sandbox.fx_rates, truth); the pipeline
-- ingests them from the FX service into raw.fx_rates like any other source, one slice per
-- day. Rates are units of `currency` per US dollar (openexchangerates' convention), so any
-- cross rate is a ratio of two rows of the same day.
CREATE TABLE sandbox.fx_rates (
    date          date NOT NULL,
    currency      char(3) NOT NULL,
    units_per_usd numeric(18, 6) NOT NULL,
    PRIMARY KEY (date, currency)
);

CREATE TABLE raw.fx_rates (
    date          date NOT NULL,
    currency      char(3) NOT NULL,
    units_per_usd numeric(18, 6) NOT NULL CHECK (units_per_usd > 0),
    source        text NOT NULL,
    _loaded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, currency)
);

-- Rows of sources that belong to no tenant (FX) are quarantined too.
ALTER TABLE app.quarantine ALTER COLUMN tenant_id DROP NOT NULL;
