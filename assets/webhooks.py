"""Leads that tenants' CRMs push to the API's webhook, processed into raw.crm_webhook_leads."""

import dagster as dg

from assets.resources import WarehouseResource
from warehouse.webhooks import process_pending_webhooks


@dg.asset(
    key=["raw", "crm_webhook_leads"],
    group_name="webhooks",
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    tags={"platform": "crm"},
    description="Lead events from POST /v1/webhooks/leads (app.lead_webhook_events), "
    "validated: good ones load once per event, bad ones go to app.quarantine.",
)
def crm_webhook_leads(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    processed = loaded = quarantined = 0
    with warehouse.connect() as conn:
        while True:
            batch = process_pending_webhooks(conn)
            processed += batch.processed
            loaded += batch.loaded
            quarantined += batch.quarantined
            if batch.processed == 0:
                break
    context.log.info(f"{processed} webhook events: {loaded} leads, {quarantined} quarantined")
    return dg.MaterializeResult(
        metadata={
            "events_processed": processed,
            "dagster/row_count": loaded,
            "rows_quarantined": quarantined,
        }
    )
