"""Meta Marketing API connector: the official facebook-business SDK, pointed at Meta or at
our sandbox."""

from connectors.meta.client import (
    API_VERSION,
    LEAD_ACTION,
    MetaAdDailyRow,
    MetaAdRow,
    MetaApiError,
    MetaAuthError,
    MetaConnector,
    MetaReportError,
    MetaTotals,
    budget_from_minor_units,
    classify,
    normalize_account_id,
    requested_wait_seconds,
    to_meta_error,
    usage_percent,
)
from connectors.meta.validation import ad_daily_problems, ad_problems

__all__ = [
    "API_VERSION",
    "LEAD_ACTION",
    "MetaAdDailyRow",
    "MetaAdRow",
    "MetaApiError",
    "MetaAuthError",
    "MetaConnector",
    "MetaReportError",
    "MetaTotals",
    "ad_daily_problems",
    "ad_problems",
    "budget_from_minor_units",
    "classify",
    "normalize_account_id",
    "requested_wait_seconds",
    "to_meta_error",
    "usage_percent",
]
