"""Dagster resources: thin handles on the libraries' own settings objects."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from connectors.crm.client import CrmConnector
from connectors.factory import open_connector
from connectors.fx import FxConnector
from connectors.google_ads.client import GoogleAdsConnector
from connectors.linkedin.client import LinkedInConnector
from connectors.meta.client import MetaConnector
from connectors.retry import CallStats
from connectors.settings import (
    FxSettings,
)
from warehouse import db
from warehouse.control import Connection
from warehouse.crypto import CredentialBox
from warehouse.settings import WarehouseSettings, get_settings


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse that `DATABASE_URL` (or the embedded default) names."""

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with db.connect() as conn:
            yield conn

    def settings(self) -> WarehouseSettings:
        return get_settings()

    def credential_box(self) -> CredentialBox:
        return CredentialBox.from_settings(get_settings())

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt_project/profiles.yml reads, for this warehouse."""
        return db.dbt_env()


class GoogleAdsResource(dg.ConfigurableResource):
    """The Google Ads API (or the sandbox, when BIZO_GOOGLE_ADS_ENDPOINT points at it)."""

    def connector(
        self, connection: Connection, stats: CallStats | None = None
    ) -> GoogleAdsConnector:
        return open_connector(connection, stats)


class LinkedInResource(dg.ConfigurableResource):
    """LinkedIn Marketing API (or the sandbox, when BIZO_LINKEDIN_BASE_URL points at it)."""

    def connector(
        self, connection: Connection, stats: CallStats | None = None
    ) -> LinkedInConnector:
        return open_connector(connection, stats)


class MetaResource(dg.ConfigurableResource):
    """Meta Marketing API (or the sandbox, when BIZO_META_BASE_URL points at it)."""

    def connector(self, connection: Connection, stats: CallStats | None = None) -> MetaConnector:
        return open_connector(connection, stats)


class CrmResource(dg.ConfigurableResource):
    """The tenant's CRM (HubSpot-style REST; the sandbox when BIZO_CRM_BASE_URL points at it)."""

    def connector(self, connection: Connection, stats: CallStats | None = None) -> CrmConnector:
        return open_connector(connection, stats)


class FxResource(dg.ConfigurableResource):
    """Daily FX rates (openexchangerates; the sandbox when BIZO_FX_BASE_URL points at it)."""

    def connector(self, stats: CallStats | None = None) -> FxConnector:
        return FxConnector(FxSettings(), stats=stats)
