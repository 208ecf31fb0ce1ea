"""What a new customer would type into `bizo connect`, read off the simulated world.

Only the CLI's demo uses this: it plays the user who connects the sandbox's ad accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# What each sandbox accepts, as a customer's OAuth flow would have produced it.
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "google_ads": {"access_token": "sandbox-access-token"},
    "meta": {"access_token": "sandbox-meta-token"},
    "linkedin": {"access_token": "sandbox-linkedin-token"},
    "crm": {"access_token": "sandbox-crm-token"},
}


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
        return dict(SANDBOX_CREDENTIALS[self.platform])


def demo_accounts(conn: psycopg.Connection, platforms: tuple[str, ...]) -> list[DemoAccount]:
    rows = conn.execute(
        """SELECT t.tenant_id, t.name, t.currency, t.time_zone, a.platform, a.account_id
           FROM sandbox.tenants t JOIN sandbox.ad_accounts a USING (tenant_id)
           WHERE a.platform = ANY(%s)
           ORDER BY t.tenant_id, a.platform""",
        (list(platforms),),
    ).fetchall()
    return [DemoAccount(*row) for row in rows]
