"""Run the sandbox platform servers that the real SDKs talk to, and say how to reach them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandbox.google_ads.data import PostgresGoogleAdsData
from sandbox.google_ads.server import GoogleAdsSandboxServer


@dataclass
class SandboxServices:
    google_ads: GoogleAdsSandboxServer

    def client_env(self) -> dict[str, str]:
        """The variables that point our connectors (connectors.settings) at these servers."""
        return {
            "BIZO_GOOGLE_ADS_ENDPOINT": self.google_ads.endpoint,
            "BIZO_GOOGLE_ADS_CA_CERT_PATH": str(self.google_ads.ca_cert_path),
        }

    def stop(self) -> None:
        self.google_ads.stop()


def sandbox_tls_dir(home: Path) -> Path:
    """Where the sandbox servers' self-signed certificate lives (reused across runs)."""
    return home / "sandbox" / "tls"


def start_sandbox_services(conninfo: str, home: Path, google_ads_port: int = 0) -> SandboxServices:
    """Start every sandbox server over the world stored at `conninfo`."""
    google_ads = GoogleAdsSandboxServer(
        PostgresGoogleAdsData(conninfo), tls_dir=sandbox_tls_dir(home), port=google_ads_port
    ).start()
    return SandboxServices(google_ads=google_ads)
