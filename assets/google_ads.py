"""Google Ads raw assets: GAQL over gRPC into raw.google_ads_ad_daily, per tenant and day."""

from dataclasses import astuple, fields
from decimal import Decimal

import dagster as dg

from assets.partitions import daily_tenant_partitions, tenant_windows
from assets.resources import GoogleAdsResource, WarehouseResource
from connectors.google_ads.client import AdDailyRow
from connectors.google_ads.validation import ad_daily_problems
from warehouse.control import active_connections
from warehouse.loader import Slice, replace_slice, split_valid

AD_DAILY_COLUMNS = tuple(f.name for f in fields(AdDailyRow))


@dg.asset(
    key=["raw", "google_ads_ad_daily"],
    partitions_def=daily_tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="google_ads",
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    tags={"platform": "google_ads"},
    description=(
        "Ad × day metrics and attributes from the Google Ads API (SearchStream, FROM "
        "ad_group_ad) for every connected customer of the tenant; replaces the partition's "
        "slice, so re-runs never duplicate. Bad rows go to app.quarantine."
    ),
)
def google_ads_ad_daily(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, google_ads: GoogleAdsResource
) -> dg.MaterializeResult:
    loaded = quarantined = 0
    spend = Decimal(0)
    for window in tenant_windows(context.partition_keys):
        with warehouse.connect() as conn:
            accounts = active_connections(conn, window.tenant_id, "google_ads")
        rows: list[AdDailyRow] = []
        for account in accounts:
            connector = google_ads.connector(account.config.get("login_customer_id"))
            rows += connector.fetch_ad_daily(account.account_id, window.start, window.end)
        good, bad = split_valid(rows, ad_daily_problems(window.start, window.end))
        target = Slice("raw", "google_ads_ad_daily", window.tenant_id, window.start, window.end)
        with warehouse.connect() as conn:
            result = replace_slice(conn, target, AD_DAILY_COLUMNS, map(astuple, good), bad)
        context.log.info(
            f"{window.tenant_id} {window.start}..{window.end}: {len(accounts)} account(s), "
            f"{result.rows_loaded} rows loaded, {result.rows_quarantined} quarantined"
        )
        loaded += result.rows_loaded
        quarantined += result.rows_quarantined
        spend += sum((row.cost for row in good), Decimal(0))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": loaded,
            "rows_quarantined": quarantined,
            "spend_account_currency": float(spend),
            "tenant_windows": len(tenant_windows(context.partition_keys)),
        }
    )


@dg.asset_check(asset=google_ads_ad_daily, blocking=True)
def google_ads_no_quarantined_rows(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Rows the API sent that we could not load: zero is the healthy number."""
    with warehouse.connect() as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM app.quarantine WHERE source = 'google_ads_ad_daily'"
        ).fetchone()
    return dg.AssetCheckResult(
        passed=count == 0, severity=dg.AssetCheckSeverity.WARN, metadata={"quarantined": count}
    )
