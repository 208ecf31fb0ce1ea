"""Paths in and shares out for the data-driven attribution models (ml.attribution).

Paths are channels in time order joined by '>'; the additive-hazard model also needs each
touch's day (`read_timed_touches`). Converting paths are the leads' journeys
(marts.journey_touches); non-converting ones are the visitors who never became a lead (their
paths in intermediate.int_visitor_paths). A lead counts as a non-conversion at a later stage
(opportunity, closed-won) when it never reached it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:  # polars is imported where it is used: the API and agents read this module
    import polars as pl

STAGES = ("lead", "opportunity", "closed_won")
# Every model marts.attribution_credits credits with (dbt's attribution_models() macro lists
# the same names), heuristics first.
ATTRIBUTION_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
    "additive_hazard",
)
PATH_SEPARATOR = ">"

Path = tuple[str, ...]
# (tenant, stage) -> path -> [conversions, non-conversions]
StagePaths = dict[tuple[str, str], dict[Path, list[float]]]

_LEAD_PATHS = """
WITH paths AS (
    SELECT tenant_id, lead_id, string_agg(channel, '>' ORDER BY touch_index) AS path
    FROM marts.journey_touches
    WHERE channel <> 'unknown'
    GROUP BY 1, 2
), outcomes AS (
    SELECT tenant_id, contact_id::bigint AS lead_id,
           count(opportunity_at) AS opportunities, count(won_at) AS won
    FROM marts.funnel
    GROUP BY 1, 2
)
SELECT p.tenant_id, p.path,
       count(*) AS leads,
       sum(coalesce(o.opportunities, 0)) AS opportunities,
       count(*) FILTER (WHERE coalesce(o.opportunities, 0) = 0) AS without_opportunity,
       sum(coalesce(o.won, 0)) AS won,
       count(*) FILTER (WHERE coalesce(o.won, 0) = 0) AS without_win
FROM paths AS p LEFT JOIN outcomes AS o USING (tenant_id, lead_id)
GROUP BY 1, 2
"""

_VISITOR_PATHS = """
SELECT v.tenant_id, v.path, count(*)
FROM intermediate.int_visitor_paths AS v
WHERE NOT EXISTS (
    SELECT 1 FROM staging.stg_crm__contacts AS c
    WHERE c.tenant_id = v.tenant_id AND c.anonymous_id = v.anonymous_id)
GROUP BY 1, 2
"""


def read_stage_paths(conn: psycopg.Connection) -> StagePaths:
    """Conversions and non-conversions per path, for every tenant and stage."""
    counts: StagePaths = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for tenant, text, leads, opps, no_opp, won, no_win in conn.execute(_LEAD_PATHS):
        path = tuple(text.split(PATH_SEPARATOR))
        for stage, converted, not_converted in (
            ("lead", leads, 0),
            ("opportunity", opps, no_opp),
            ("closed_won", won, no_win),
        ):
            counts[(tenant, stage)][path][0] += float(converted)
            counts[(tenant, stage)][path][1] += float(not_converted)
    for tenant, text, visitors in conn.execute(_VISITOR_PATHS):
        path = tuple(text.split(PATH_SEPARATOR))
        for stage in STAGES:
            if (tenant, stage) in counts:  # a tenant with no lead yet has nothing to share
                counts[(tenant, stage)][path][1] += float(visitors)
    return counts


# The additive-hazard model reads touches with their days (ml.hazard_attribution): every
# lead's journey, and a sample of the visitors who never converted, weighted back up.
MAX_VISITORS_PER_TENANT = 100_000
_SAMPLE_BUCKETS = 10_000

_TIMED_LEAD_TOUCHES = """
WITH outcomes AS (
    SELECT tenant_id, contact_id::bigint AS lead_id,
           count(opportunity_at) > 0 AS opportunity, count(won_at) > 0 AS won
    FROM marts.funnel
    GROUP BY 1, 2
)
SELECT j.lead_id::text, j.channel,
       floor(extract(epoch FROM j.touched_at) / 86400)::bigint,
       j.touch_index = j.touches_in_path,
       floor(extract(epoch FROM j.converted_at) / 86400)::bigint,
       coalesce(o.opportunity, false), coalesce(o.won, false)
FROM marts.journey_touches AS j
LEFT JOIN outcomes AS o USING (tenant_id, lead_id)
WHERE j.tenant_id = %(tenant)s AND j.channel <> 'unknown'
"""

_NON_CONVERTING_VISITORS = """
SELECT count(*) FROM intermediate.int_visitor_paths AS v
WHERE v.tenant_id = %(tenant)s AND NOT EXISTS (
    SELECT 1 FROM staging.stg_crm__contacts AS c
    WHERE c.tenant_id = v.tenant_id AND c.anonymous_id = v.anonymous_id)
"""

# A deterministic sample by the visitor's id, so a re-run fits on the same visitors.
_VISITOR_TOUCHES = """
SELECT s.anonymous_id, s.channel, floor(extract(epoch FROM s.started_at) / 86400)::bigint
FROM staging.stg_web__sessions AS s
WHERE s.tenant_id = %(tenant)s
  AND mod(abs(hashtext(s.anonymous_id)), %(buckets)s) < %(kept)s
  AND NOT EXISTS (
      SELECT 1 FROM staging.stg_crm__contacts AS c
      WHERE c.tenant_id = s.tenant_id AND c.anonymous_id = s.anonymous_id)
"""


def read_timed_touches(
    conn: psycopg.Connection, tenant: str
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """One tenant's touches for the additive-hazard model (visitor, channel, day,
    converting, converted_day, weight, data_end) and the converting visitors per stage."""
    import polars as pl

    leads = conn.execute(_TIMED_LEAD_TOUCHES, {"tenant": tenant}).fetchall()
    (others,) = conn.execute(_NON_CONVERTING_VISITORS, {"tenant": tenant}).fetchone()
    kept = min(_SAMPLE_BUCKETS, -(-_SAMPLE_BUCKETS * MAX_VISITORS_PER_TENANT // max(others, 1)))
    visitors = conn.execute(
        _VISITOR_TOUCHES, {"tenant": tenant, "buckets": _SAMPLE_BUCKETS, "kept": kept}
    ).fetchall()
    schema = {"visitor": pl.String, "channel": pl.String, "day": pl.Int64}
    lead_frame = pl.DataFrame(
        leads,
        schema={
            **schema,
            "converting": pl.Boolean,
            "converted_day": pl.Int64,
            "opportunity": pl.Boolean,
            "won": pl.Boolean,
        },
        orient="row",
    )
    visitor_frame = pl.DataFrame(visitors, schema=schema, orient="row").with_columns(
        converting=pl.lit(False), converted_day=pl.lit(None, pl.Int64)
    )
    data_end = max(
        [int(frame["day"].max()) for frame in (lead_frame, visitor_frame) if len(frame)],
        default=0,
    )
    touches = pl.concat(
        [
            lead_frame.drop("opportunity", "won").with_columns(weight=pl.lit(1.0)),
            visitor_frame.with_columns(weight=pl.lit(_SAMPLE_BUCKETS / kept)),
        ]
    ).with_columns(data_end=pl.lit(data_end, pl.Int64))
    stages = {
        "lead": lead_frame["visitor"].unique().to_list(),
        "opportunity": lead_frame.filter("opportunity")["visitor"].unique().to_list(),
        "closed_won": lead_frame.filter("won")["visitor"].unique().to_list(),
    }
    return touches, stages


def channel_set_key(channels: frozenset[str]) -> str:
    """How marts.attribution_credits spells a path's channel set: sorted, comma-joined."""
    return ",".join(sorted(channels))


def replace_channel_set_shares(
    conn: psycopg.Connection,
    shares: Mapping[tuple[str, str, str], Mapping[frozenset[str], Mapping[str, float]]],
) -> int:
    """Replace the stored shares of every (tenant, stage, model) in `shares`, in one
    transaction; returns the rows written."""
    rows = [
        (tenant, stage, model, channel_set_key(channels), channel, share)
        for (tenant, stage, model), per_set in shares.items()
        for channels, split in per_set.items()
        for channel, share in split.items()
    ]
    with conn.transaction():
        for tenant, stage, model in shares:
            conn.execute(
                """DELETE FROM attribution.channel_set_shares
                   WHERE tenant_id = %s AND stage = %s AND model = %s""",
                (tenant, stage, model),
            )
        with conn.cursor().copy(
            """COPY attribution.channel_set_shares
                   (tenant_id, stage, model, channel_set, channel, share) FROM STDIN"""
        ) as writer:
            for row in rows:
                writer.write_row(row)
    return len(rows)
