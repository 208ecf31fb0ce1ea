"""Writing a generated world into the `sandbox` schema, and reading back what it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from sandbox.world import GENERATOR_VERSION, TABLE_COLUMNS, World

# Children first, so TRUNCATE order never matters to foreign keys.
_TABLES_IN_LOAD_ORDER = list(TABLE_COLUMNS)


@dataclass(frozen=True)
class WorldMeta:
    seed: int
    profile: str
    start: date
    end: date
    generator_version: int


def read_world_meta(conn: psycopg.Connection) -> WorldMeta | None:
    row = conn.execute(
        "SELECT seed, profile, start_date, end_date, generator_version FROM sandbox.world_meta"
    ).fetchone()
    return WorldMeta(*row) if row else None


def write_world(
    conn: psycopg.Connection,
    world: World | Iterable[World],
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Replace the sandbox world with `world` in one transaction; returns rows per table.
    `world` may come in parts (`generate_tenant_worlds`), each written as it arrives, so a
    large profile is stored with one tenant's rows in memory at a time; `progress` hears of
    each part's rows per table."""
    parts = [world] if isinstance(world, World) else world
    counts = dict.fromkeys(_TABLES_IN_LOAD_ORDER, 0)
    meta: tuple | None = None
    with conn.transaction():
        conn.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(
                    sql.Identifier("sandbox", t) for t in [*_TABLES_IN_LOAD_ORDER, "world_meta"]
                )
            )
        )
        for part in parts:
            meta = meta or (part.seed, part.profile.name, part.start, part.end)
            for table in _TABLES_IN_LOAD_ORDER:
                rows = part.tables.get(table, [])
                copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier("sandbox", table),
                    sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS[table])),
                )
                with conn.cursor().copy(copy) as writer:
                    for row in rows:
                        writer.write_row(row)
                counts[table] += len(rows)
                if progress:
                    progress(table, len(rows))
        if meta is None:
            raise ValueError("no world to write")
        conn.execute(
            """INSERT INTO sandbox.world_meta
                   (seed, profile, start_date, end_date, generator_version)
               VALUES (%s, %s, %s, %s, %s)""",
            (*meta, GENERATOR_VERSION),
        )
    return counts
