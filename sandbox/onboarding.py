"""What a new customer would type into `bizo connect`, read off the simulated world.

Only the CLI's demo uses this: it plays the user who connects the sandbox's ad accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from sandbox.crm.data import portal_id_for
from sandbox.crm.server import portal_token

# What each sandbox accepts, as a customer's OAuth flow would have produced it.
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "google_ads": {"access_token": "sandbox-access-token"},
    "meta": {"access_token": "sandbox-meta-token"},
    "linkedin": {"access_token": "sandbox-linkedin-token"},
}
CRM_SANDBOX_TOKEN = "sandbox-crm-token"


@dataclass(frozen=True)
class DemoAccount:
    tenant_id: str
    tenant_name: str
    currency: str
    time_zone: str
    platform: str
    account_id: str

    @property
    def credentials(self) -> dict[str, str]:
        if self.platform == "crm":  # a CRM token opens one portal: the tenant's own
            return {"access_token": portal_token(CRM_SANDBOX_TOKEN, self.tenant_id)}
        return dict(SANDBOX_CREDENTIALS[self.platform])


def demo_accounts(conn: psycopg.Connection, platforms: tuple[str, ...]) -> list[DemoAccount]:
    """Every sandbox ad account on `platforms`, plus each tenant's CRM portal if "crm" is
    among them."""
    rows = conn.execute(
        """SELECT t.tenant_id, t.name, t.currency, t.time_zone, a.platform, a.account_id
           FROM sandbox.tenants t JOIN sandbox.ad_accounts a USING (tenant_id)
           WHERE a.platform = ANY(%s)
           ORDER BY t.tenant_id, a.platform""",
        (list(platforms),),
    ).fetchall()
    accounts = [DemoAccount(*row) for row in rows]
    if "crm" in platforms:
        tenants = conn.execute(
            "SELECT tenant_id, name, currency, time_zone FROM sandbox.tenants ORDER BY 1"
        ).fetchall()
        accounts += [DemoAccount(*t, "crm", str(portal_id_for(t[0]))) for t in tenants]
    return accounts
