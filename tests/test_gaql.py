"""GAQL parsing and evaluation in the Google Ads sandbox (pure: no server, no network)."""

from datetime import date
from decimal import Decimal

import pytest
from google.ads.googleads.v26.errors.types.query_error import QueryErrorEnum

from sandbox.google_ads.gaql import Condition, GaqlError, execute, parse


def test_full_query_parses_into_typed_structure():
    query = parse(
        "select campaign.id, campaign.name, metrics.cost_micros, segments.date "
        "FROM campaign "
        "where segments.date BETWEEN '2026-01-01' and '2026-01-31' "
        "AND campaign.status = 'ENABLED' AND campaign.id IN (11, 12) "
        "AND metrics.conversions >= 1.5 "
        "ORDER BY metrics.cost_micros DESC, campaign.id LIMIT 50"
    )
    assert query.select == ("campaign.id", "campaign.name", "metrics.cost_micros", "segments.date")
    assert query.resource == "campaign"
    assert query.conditions == (
        Condition("segments.date", "BETWEEN", (date(2026, 1, 1), date(2026, 1, 31))),
        Condition("campaign.status", "=", ("ENABLED",)),
        Condition("campaign.id", "IN", (11, 12)),
        Condition("metrics.conversions", ">=", (Decimal("1.5"),)),
    )
    assert query.order_by == (("metrics.cost_micros", True), ("campaign.id", False))
    assert query.limit == 50
    assert query.date_range() == (date(2026, 1, 1), date(2026, 1, 31))
    assert query.selects_metrics


def test_date_range_combines_comparisons_and_during():
    query = parse(
        "SELECT segments.date FROM ad_group_ad WHERE segments.date >= '2026-01-05' "
        "AND segments.date < '2026-02-01' AND segments.date DURING LAST_30_DAYS"
    )
    # LAST_30_DAYS from 2026-02-10 is 01-11..02-09; intersected with [01-05, 01-31].
    assert query.date_range(today=date(2026, 2, 10)) == (date(2026, 1, 11), date(2026, 1, 31))
    single = parse("SELECT campaign.id FROM campaign WHERE segments.date = '2026-03-02'")
    assert single.date_range() == (date(2026, 3, 2), date(2026, 3, 2))
    assert parse("SELECT campaign.id FROM campaign").date_range() == (None, None)


def test_during_yesterday_and_last_month():
    today = date(2026, 3, 1)
    yesterday = parse("SELECT segments.date FROM campaign WHERE segments.date DURING YESTERDAY")
    assert yesterday.date_range(today) == (date(2026, 2, 28), date(2026, 2, 28))
    last_month = parse("SELECT segments.date FROM campaign WHERE segments.date DURING last_month")
    assert last_month.date_range(today) == (date(2026, 2, 1), date(2026, 2, 28))


def test_metrics_without_date_range_are_allowed_and_parameters_accepted():
    query = parse("SELECT campaign.id, metrics.clicks FROM campaign PARAMETERS include_drafts=true")
    assert query.conditions == () and query.selects_metrics


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "EXPECTED_SELECT"),
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
        ("SELECT campaign.id campaign", "EXPECTED_FROM"),
        ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
        ("SELECT campaign.id, FROM campaign", "BAD_FIELD_NAME"),
        ("SELECT campaign.bogus FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id FROM keyword_view", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        (
            "SELECT ad_group_ad.ad.id FROM campaign",
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE ad_group.id = 1",
            "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM ad_group ORDER BY ad_group_ad.ad.id",
            "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
        ),
        ("SELECT campaign.id, segments.date FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        (
            "SELECT segments.date FROM campaign WHERE segments.date >= '2026-01-01'",
            "EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date = '2026-13-01'",
            "INVALID_DATE_FORMAT",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date = '01/02/2026'",
            "INVALID_DATE_FORMAT",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-01-02'",
            "UNEXPECTED_END_OF_QUERY",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-01-02' "
            "AND '2026-01-01'",
            "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_9_DAYS",
            "INVALID_VALUE_WITH_DURING_OPERATOR",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.name BETWEEN 'a' AND 'b'",
            "OPERATOR_FIELD_MISMATCH",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.status = 'LIVE'", "BAD_ENUM_CONSTANT"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id = 'abc'", "BAD_NUMBER"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = 12", "INVALID_STRING_VALUE"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id IN ()",
            "PROHIBITED_EMPTY_LIST_IN_CONDITION",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.id IN 1", "EXPECTED_LIST"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id LIKE 1", "BAD_OPERATOR"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id = 1 OR campaign.id = 2",
            "EXPECTED_AND",
        ),
        ("SELECT campaign.id FROM campaign ORDER campaign.id", "EXPECTED_BY"),
        ("SELECT campaign.id FROM campaign LIMIT ten", "BAD_LIMIT_VALUE"),
        ("SELECT campaign.id FROM campaign LIMIT 0", "LIMIT_VALUE_TOO_LOW"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = 'open", "STRING_NOT_TERMINATED"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.name = 'a\nb'",
            "PROHIBITED_NEWLINE_IN_STRING",
        ),
        ("SELECT campaign.id; DROP TABLE x", "BAD_SYMBOL"),
        ("SELECT campaign.id FROM campaign LIMIT 5 campaign.id", "UNEXPECTED_INPUT"),
        (
            "SELECT ad_group_ad.ad.id FROM ad_group_ad WHERE ad_group_ad.ad.final_urls = 'x'",
            "PROHIBITED_FIELD_IN_WHERE_CLAUSE",
        ),
        ("SELECT campaign.id FROM campaign PARAMETERS bogus=true", "BAD_PARAMETER_NAME"),
    ],
)
def test_bad_queries_fail_with_the_api_error_code(text: str, code: str):
    with pytest.raises(GaqlError) as raised:
        parse(text)
    assert raised.value.code == code
    # Every code we emit must exist in the real API's enum, or the server could not send it.
    assert code in QueryErrorEnum.QueryError.__members__


def _row(ad: int, campaign: int, day: int, cost: int, conversions: float) -> dict:
    return {
        "customer.id": 1234567890,
        "campaign.id": campaign,
        "campaign.status": "ENABLED" if campaign == 1 else "PAUSED",
        "ad_group.id": 10 * campaign,
        "ad_group_ad.ad.id": ad,
        "segments.date": date(2026, 1, day),
        "metrics.cost_micros": cost,
        "metrics.impressions": 100,
        "metrics.clicks": 3,
        "metrics.conversions": conversions,
        "metrics.conversions_value": 0.0,
    }


ROWS = [
    _row(101, 1, 1, 1_000_000, 0.5),
    _row(102, 1, 1, 2_500_000, 1.0),
    _row(101, 1, 2, 3_000_000, 0.25),
    _row(201, 2, 1, 7_000_000, 0.0),
]


def test_execute_aggregates_to_campaign_per_day_and_over_the_range():
    per_day = execute(
        parse(
            "SELECT campaign.id, segments.date, metrics.cost_micros, metrics.conversions "
            "FROM campaign WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-02'"
        ),
        ROWS,
    )
    assert [
        (
            r["campaign.id"],
            r["segments.date"].day,
            r["metrics.cost_micros"],
            r["metrics.conversions"],
        )
        for r in per_day
    ] == [(1, 1, 3_500_000, 1.5), (1, 2, 3_000_000, 0.25), (2, 1, 7_000_000, 0.0)]
    total = execute(parse("SELECT campaign.id, metrics.cost_micros FROM campaign"), ROWS)
    assert [(r["campaign.id"], r["metrics.cost_micros"]) for r in total] == [
        (1, 6_500_000),
        (2, 7_000_000),
    ]


def test_execute_filters_attributes_before_and_metrics_after_aggregation():
    query = parse(
        "SELECT ad_group_ad.ad.id, metrics.cost_micros FROM ad_group_ad "
        "WHERE segments.date DURING LAST_7_DAYS AND campaign.status != 'PAUSED' "
        "AND metrics.cost_micros > 2000000 ORDER BY metrics.cost_micros DESC"
    )
    rows = execute(query, ROWS, today=date(2026, 1, 5))
    # Ad 101 totals 4.0 (over the limit only after summing two days); 102 has 2.5; 201 paused.
    assert [(r["ad_group_ad.ad.id"], r["metrics.cost_micros"]) for r in rows] == [
        (101, 4_000_000),
        (102, 2_500_000),
    ]
