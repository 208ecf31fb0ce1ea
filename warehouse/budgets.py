"""Campaign budgets as rows: what the agents plan with and the connectors read and set."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

AD_PLATFORMS = ("google_ads", "meta", "linkedin")


@dataclass(frozen=True)
class CampaignBudgetLine:
    """One campaign's daily budget on its platform, in the ad account's currency."""

    tenant_id: str
    platform: str
    account_id: str
    campaign_id: str
    currency: str
    daily_budget: Decimal
    budget_id: str | None = None  # Google's campaign budget resource name
