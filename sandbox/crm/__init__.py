"""A HubSpot-style CRM sandbox: the world's leads and deals as contacts, companies and deals,
served over HTTP as of a movable "now"."""

from sandbox.crm.data import (
    DEAL_STAGES,
    OBJECT_TYPES,
    PROPERTIES,
    CrmData,
    CrmPortal,
    CrmRecord,
    InMemoryCrmData,
    PostgresCrmData,
    PropertyChange,
    classify_source,
    portal_id_for,
)
from sandbox.crm.server import CrmSandboxServer, format_value, portal_token

__all__ = [
    "DEAL_STAGES",
    "OBJECT_TYPES",
    "PROPERTIES",
    "CrmData",
    "CrmPortal",
    "CrmRecord",
    "CrmSandboxServer",
    "InMemoryCrmData",
    "PostgresCrmData",
    "PropertyChange",
    "classify_source",
    "format_value",
    "portal_id_for",
    "portal_token",
]
