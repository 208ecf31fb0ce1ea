"""Row-level security: the API's role, and the tenant policy on every tenant table we own.

The API connects as `API_ROLE`, which cannot bypass RLS, and sets `app.tenant_id` per
transaction (`set_config(..., true)`); the policies compare each row's `tenant_id` with it.
With nothing set, `current_setting('app.tenant_id', true)` is NULL and no row matches.
dbt applies the same policy to the marts it rebuilds (macro `tenant_rls`); this module covers
the `app` and `ml` schemas, which migrations own.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from functools import cache

import psycopg
from psycopg import sql

from warehouse.settings import WarehouseSettings, get_settings, local_secret

API_ROLE = "bizo_api"  # created by migration 0030
TENANT_SETTING = "app.tenant_id"
POLICY_NAME = "tenant_isolation"
# Schemas whose tables migrations create; every table with a tenant_id column gets the policy.
MIGRATED_SCHEMAS = ("app", "ml")

_TENANT_TABLES = """
SELECT c.oid::regclass::text AS table_name, c.relrowsecurity AS rls_on,
       EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s) AS has_policy
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p')
ORDER BY 1
"""


def enforce_tenant_policies(conn: psycopg.Connection) -> list[str]:
    """Enable RLS with the tenant policy on every app/ml table carrying tenant_id; returns the
    tables changed now. Idempotent: run after migrations, so tables added by any later
    migration are covered without each migration repeating the policy."""
    changed = []
    tables = conn.execute(_TENANT_TABLES, (POLICY_NAME, list(MIGRATED_SCHEMAS))).fetchall()
    for table_name, rls_on, has_policy in tables:
        schema, _, name = table_name.partition(".")
        table = sql.Identifier(schema, name)
        if not rls_on:
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
        if not has_policy:
            conn.execute(
                sql.SQL(
                    "CREATE POLICY {} ON {} USING (tenant_id = current_setting({}, true)) "
                    "WITH CHECK (tenant_id = current_setting({}, true))"
                ).format(
                    sql.Identifier(POLICY_NAME),
                    table,
                    sql.Literal(TENANT_SETTING),
                    sql.Literal(TENANT_SETTING),
                )
            )
        if not (rls_on and has_policy):
            changed.append(table_name)
    return changed


# What the API's role may do in `app` beyond migration 0030's reads (marts, ml, tenants):
# the agent tables it serves and the decisions it records. Declared here and granted after
# migrations, like the tenant policies, because a grant must follow its table, and these
# tables come from migrations numbered after the API's own. Rows are still the policy's.
API_TABLE_GRANTS: dict[str, tuple[str, ...]] = {
    # Decisions change status and who decided; FOR UPDATE needs an UPDATE privilege.
    "app.recommendations": ("SELECT", "UPDATE (status, decided_by, decided_at, decision_note)"),
    "app.audit_log": ("SELECT", "INSERT"),
    "app.response_curves": ("SELECT",),
    "app.agent_reports": ("SELECT",),
}


def grant_api_privileges(conn: psycopg.Connection) -> None:
    """Grant `API_TABLE_GRANTS` to the API's role (GRANT is idempotent). Run after
    migrations; a table missing then is a bug in the declaration, not something to skip."""
    for table_name, privileges in API_TABLE_GRANTS.items():
        if conn.execute("SELECT to_regclass(%s)", (table_name,)).fetchone()[0] is None:
            raise RuntimeError(f"API_TABLE_GRANTS names {table_name}, which no migration made")
        schema, _, name = table_name.partition(".")
        for privilege in privileges:
            # The privilege texts are this module's constants, never input.
            conn.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(privilege), sql.Identifier(schema, name), sql.Identifier(API_ROLE)
                )
            )


@cache
def api_database_uri(settings: WarehouseSettings | None = None) -> str:
    """How the API connects: `BIZO_API_DATABASE_URL` when set (deployments may manage the
    login themselves), else the warehouse server as `API_ROLE`, given LOGIN and a password
    here (see `_api_role_password`)."""
    from warehouse.db import warehouse_address

    settings = settings or get_settings()
    if settings.api_database_url is not None:
        return settings.api_database_url.get_secret_value()
    address = warehouse_address(settings)
    password = _api_role_password(settings)
    with psycopg.connect(address.uri(settings.warehouse_database), autocommit=True) as admin:
        # Utility statements take no bind parameters; Literal quotes the password safely.
        admin.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(API_ROLE), sql.Literal(password)
            )
        )
    return replace(address, user=API_ROLE, password=password).uri(settings.warehouse_database)


def _api_role_password(settings: WarehouseSettings) -> str:
    """Embedded: a local secret. Against a shared server every API replica must set the same
    password, so it is derived from the first BIZO_SECRET_KEY, which they all share."""
    if settings.embedded:
        return local_secret(settings.bizo_home / "secrets" / "api_db_password")
    if settings.secret_key is None:
        raise RuntimeError(
            "the API needs BIZO_API_DATABASE_URL, or BIZO_SECRET_KEY to derive the password of "
            f"role {API_ROLE} from"
        )
    first_key = settings.secret_key.get_secret_value().split(",")[0].strip()
    return hmac.new(first_key.encode(), b"bizo_api database password", hashlib.sha256).hexdigest()
