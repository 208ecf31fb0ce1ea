"""Google Ads API sandbox: a GAQL engine and a gRPC+TLS server the real client can call."""

from sandbox.google_ads.data import GoogleAdsData, InMemoryGoogleAdsData, PostgresGoogleAdsData
from sandbox.google_ads.gaql import GaqlError, GaqlQuery, parse
from sandbox.google_ads.server import ApiError, CallRecord, GoogleAdsSandboxServer
from sandbox.google_ads.tls import TlsFiles, ensure_self_signed_cert

__all__ = [
    "ApiError",
    "CallRecord",
    "GaqlError",
    "GaqlQuery",
    "GoogleAdsData",
    "GoogleAdsSandboxServer",
    "InMemoryGoogleAdsData",
    "PostgresGoogleAdsData",
    "TlsFiles",
    "ensure_self_signed_cert",
    "parse",
]
