"""Google Ads connector: the official client, pointed at Google or at our sandbox."""

from connectors.google_ads.client import (
    AD_DAILY_QUERY,
    AdDailyRow,
    ErrorDetail,
    GoogleAdsApiError,
    GoogleAdsConnector,
    to_api_error,
    trust_certificate,
)

__all__ = [
    "AD_DAILY_QUERY",
    "AdDailyRow",
    "ErrorDetail",
    "GoogleAdsApiError",
    "GoogleAdsConnector",
    "to_api_error",
    "trust_certificate",
]
