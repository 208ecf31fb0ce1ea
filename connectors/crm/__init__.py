"""CRM connector: HubSpot-style API sync (contacts, companies, deals and their stages) and
the parsers for landed files (contact exports, web sessions)."""

from connectors.crm.client import (
    CrmAccount,
    CrmApiError,
    CrmAuthError,
    CrmCompanyRow,
    CrmConnector,
    CrmContactRow,
    CrmDealRow,
    CrmDealStageRow,
    row_columns,
    row_values,
    unknown_property_report,
)
from connectors.crm.files import (
    CrmContactExportRow,
    ParsedFile,
    WebSessionRow,
    landed_file_day,
    parse_contact_export_csv,
    parse_contact_export_json,
    parse_landed_file,
    parse_web_sessions_jsonl,
)
from connectors.crm.validation import (
    company_problems,
    contact_export_problems,
    contact_problems,
    deal_problems,
    deal_stage_problems,
    web_session_problems,
)

__all__ = [
    "CrmAccount",
    "CrmApiError",
    "CrmAuthError",
    "CrmCompanyRow",
    "CrmConnector",
    "CrmContactExportRow",
    "CrmContactRow",
    "CrmDealRow",
    "CrmDealStageRow",
    "ParsedFile",
    "WebSessionRow",
    "company_problems",
    "contact_export_problems",
    "contact_problems",
    "deal_problems",
    "deal_stage_problems",
    "landed_file_day",
    "parse_contact_export_csv",
    "parse_contact_export_json",
    "parse_landed_file",
    "parse_web_sessions_jsonl",
    "row_columns",
    "row_values",
    "unknown_property_report",
    "web_session_problems",
]
