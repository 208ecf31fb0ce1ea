"""Run the sandbox platform servers that the real SDKs talk to, and say how to reach them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from sandbox.crm.data import PostgresCrmData
from sandbox.crm.server import CrmSandboxServer
from sandbox.fx import FxSandboxServer, PostgresFxRates
from sandbox.google_ads.data import PostgresGoogleAdsData
from sandbox.google_ads.server import GoogleAdsSandboxServer
from sandbox.linkedin.data import PostgresLinkedInData
from sandbox.linkedin.server import LinkedInSandboxServer
from sandbox.meta.data import PostgresMetaData
from sandbox.meta.server import MetaSandboxServer
from sandbox.store import read_world_meta


@dataclass
class SandboxServices:
    google_ads: GoogleAdsSandboxServer
    linkedin: LinkedInSandboxServer
    meta: MetaSandboxServer
    crm: CrmSandboxServer
    fx: FxSandboxServer

    def client_env(self) -> dict[str, str]:
        """The variables that point our connectors (connectors.settings) at these servers."""
        return {
            "BIZO_GOOGLE_ADS_ENDPOINT": self.google_ads.endpoint,
            "BIZO_GOOGLE_ADS_CA_CERT_PATH": str(self.google_ads.ca_cert_path),
            "BIZO_LINKEDIN_BASE_URL": self.linkedin.base_url,
            "BIZO_META_BASE_URL": self.meta.base_url,
            "BIZO_CRM_BASE_URL": self.crm.base_url,
            "BIZO_FX_BASE_URL": self.fx.base_url,
            "BIZO_FX_APP_ID": self.fx.app_id,
            # The sandbox's report runs advance per status read, not per second.
            "BIZO_META_REPORT_POLL_SECONDS": "0.05",
        }

    def stop(self) -> None:
        self.google_ads.stop()
        self.linkedin.stop()
        self.meta.stop()
        self.crm.stop()
        self.fx.stop()


def sandbox_tls_dir(home: Path) -> Path:
    """Where the sandbox servers' self-signed certificate lives (reused across runs)."""
    return home / "sandbox" / "tls"


def world_clock(conninfo: str) -> Callable[[], datetime]:
    """The sandbox's now: the day after the world's last simulated day, at the wall clock's
    time of day. Platforms judge 'today' and 'too old' in the world's time, so a world that
    ended in June still answers for June (and one advanced by a day moves its clock)."""

    def now() -> datetime:
        wall = datetime.now(UTC)
        with psycopg.connect(conninfo) as conn:
            meta = read_world_meta(conn)
        if meta is None:
            return wall
        return datetime.combine(meta.end + timedelta(days=1), wall.timetz())

    return now


def start_sandbox_services(conninfo: str, home: Path, base_port: int = 0) -> SandboxServices:
    """Start every sandbox server over the world stored at `conninfo`, on consecutive ports
    from `base_port` (Google Ads first), or on any free ports when it is 0."""

    def port(offset: int) -> int:
        return base_port + offset if base_port else 0

    google_ads = GoogleAdsSandboxServer(
        PostgresGoogleAdsData(conninfo),
        tls_dir=sandbox_tls_dir(home),
        port=port(0),
        now=world_clock(conninfo),
    ).start()
    linkedin = LinkedInSandboxServer(PostgresLinkedInData(conninfo), port=port(1)).start()
    meta = MetaSandboxServer(PostgresMetaData(conninfo), port=port(2)).start()
    crm = CrmSandboxServer(PostgresCrmData(conninfo), port=port(3)).start()
    fx = FxSandboxServer(PostgresFxRates(conninfo), port=port(4)).start()
    return SandboxServices(google_ads=google_ads, linkedin=linkedin, meta=meta, crm=crm, fx=fx)
