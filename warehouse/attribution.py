"""Paths in and shares out for the data-driven attribution models (ml.attribution).

Paths are channels in time order joined by '>'. Converting paths are the leads' journeys
(marts.journey_touches); non-converting ones are the visitors who never became a lead (their
paths in intermediate.int_visitor_paths). A lead counts as a non-conversion at a later stage
(opportunity, closed-won) when it never reached it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import psycopg

STAGES = ("lead", "opportunity", "closed_won")
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
