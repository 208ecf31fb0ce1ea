"""LinkedIn connector: the versioned Marketing REST API over httpx, at LinkedIn or our sandbox."""

from connectors.linkedin.client import (
    API_VERSION,
    CREATIVE_COLUMNS,
    CREATIVE_DAILY_COLUMNS,
    LinkedInApiError,
    LinkedInAuthError,
    LinkedInConnector,
    LinkedInCreativeDailyRow,
    LinkedInCreativeRow,
    LinkedInResultTooLarge,
    normalize_account_id,
    restli_date_range,
    restli_list,
)
from connectors.linkedin.validation import creative_daily_problems, creative_problems

__all__ = [
    "API_VERSION",
    "CREATIVE_COLUMNS",
    "CREATIVE_DAILY_COLUMNS",
    "LinkedInApiError",
    "LinkedInAuthError",
    "LinkedInConnector",
    "LinkedInCreativeDailyRow",
    "LinkedInCreativeRow",
    "LinkedInResultTooLarge",
    "creative_daily_problems",
    "creative_problems",
    "normalize_account_id",
    "restli_date_range",
    "restli_list",
]
