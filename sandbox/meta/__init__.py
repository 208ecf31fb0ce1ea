"""Meta Marketing API (Graph v26.0) sandbox: the simulated world as Graph JSON over HTTP."""

from sandbox.meta.data import (
    MetaAccount,
    MetaAd,
    MetaAdSet,
    MetaCampaign,
    MetaData,
    MetaDelivery,
    PostgresMetaData,
    all_clicks,
    split_budget,
)
from sandbox.meta.server import (
    API_VERSION,
    DEFAULT_ACCESS_TOKEN,
    CallRecord,
    GraphError,
    MetaSandboxServer,
    parse_fields,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_ACCESS_TOKEN",
    "CallRecord",
    "GraphError",
    "MetaAccount",
    "MetaAd",
    "MetaAdSet",
    "MetaCampaign",
    "MetaData",
    "MetaDelivery",
    "MetaSandboxServer",
    "PostgresMetaData",
    "all_clicks",
    "parse_fields",
    "split_budget",
]
