"""LinkedIn Marketing API sandbox: the versioned REST API over the simulated world."""

from sandbox.linkedin.data import (
    Account,
    Campaign,
    CampaignGroup,
    Creative,
    Delivery,
    LinkedInData,
    PostgresLinkedInData,
)
from sandbox.linkedin.server import (
    API_VERSION,
    USD_PER_UNIT,
    LinkedInSandboxServer,
    RequestRecord,
    RestliSyntaxError,
    parse_restli,
    restli_date,
)

__all__ = [
    "API_VERSION",
    "USD_PER_UNIT",
    "Account",
    "Campaign",
    "CampaignGroup",
    "Creative",
    "Delivery",
    "LinkedInData",
    "LinkedInSandboxServer",
    "PostgresLinkedInData",
    "RequestRecord",
    "RestliSyntaxError",
    "parse_restli",
    "restli_date",
]
