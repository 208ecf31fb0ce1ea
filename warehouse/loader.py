"""Idempotent bulk loads: one (tenant, source, day range) slice replaced in one transaction.

DELETE the slice, COPY the new rows, and record rejected rows in `app.quarantine` - all or
nothing. Loading the same slice twice leaves one copy; a failure midway leaves the old one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import psycopg
from psycopg import sql

T = TypeVar("T")


@dataclass(frozen=True)
class Slice:
    """The unit of replacement: a tenant's rows of one raw table over a date range.

    `tenant_id=None` is for the few sources that belong to no tenant (FX rates): their
    tables have no tenant_id column and a slice is just a date range.
    """

    schema: str
    table: str
    tenant_id: str | None
    start: date
    end: date
    date_column: str = "date"

    @property
    def source(self) -> str:
        return self.table

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"slice ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Reject:
    """A row that failed validation, kept with the reason."""

    reason: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    rows_replaced: int
    rows_quarantined: int


def split_valid(
    rows: Iterable[T], problems: Callable[[T], list[str]]
) -> tuple[list[T], list[Reject]]:
    """Partition rows into the valid and the rejected, using `problems(row)` as the judge."""
    good: list[T] = []
    bad: list[Reject] = []
    for row in rows:
        found = problems(row)
        if found:
            bad.append(Reject("; ".join(found), _jsonable(row)))
        else:
            good.append(row)
    return good, bad


def _jsonable(row: Any) -> dict[str, Any]:
    data = row if isinstance(row, dict) else vars(row)
    return json.loads(json.dumps(data, default=str))


def replace_slice(
    conn: psycopg.Connection,
    target: Slice,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    rejects: Sequence[Reject] = (),
) -> LoadResult:
    """Replace `target` with `rows` (values in `columns` order, without tenant_id).

    Every row's date must fall inside the slice: a row outside it would survive the next
    replacement and duplicate, so it is refused with an error before anything changes.
    """
    if "tenant_id" in columns:
        raise ValueError("rows must not carry tenant_id: the slice sets it")
    date_index = list(columns).index(target.date_column)
    table = sql.Identifier(target.schema, target.table)
    tenant_scoped = target.tenant_id is not None
    in_slice = sql.SQL("{} BETWEEN %s AND %s").format(sql.Identifier(target.date_column))
    params: tuple[Any, ...] = (target.start, target.end)
    if tenant_scoped:
        in_slice = sql.SQL("tenant_id = %s AND ") + in_slice
        params = (target.tenant_id, *params)
    prefix = (target.tenant_id,) if tenant_scoped else ()
    with conn.transaction():
        deleted = conn.execute(
            sql.SQL("DELETE FROM {} WHERE ").format(table) + in_slice, params
        ).rowcount
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            table,
            sql.SQL(", ").join(
                map(sql.Identifier, ["tenant_id", *columns] if tenant_scoped else columns)
            ),
        )
        loaded = 0
        with conn.cursor().copy(copy) as writer:
            for row in rows:
                day = row[date_index]
                if not target.start <= day <= target.end:
                    raise ValueError(
                        f"row dated {day} is outside the slice {target.start}..{target.end} "
                        f"of {target.schema}.{target.table} for {target.tenant_id}"
                    )
                writer.write_row((*prefix, *row))
                loaded += 1
        # Rejects of any earlier load inside this slice are superseded by this load's.
        conn.execute(
            """DELETE FROM app.quarantine
               WHERE source = %s AND tenant_id IS NOT DISTINCT FROM %s
                 AND slice_start >= %s AND slice_end <= %s""",
            (target.source, target.tenant_id, target.start, target.end),
        )
        for reject in rejects:
            conn.execute(
                """INSERT INTO app.quarantine
                       (tenant_id, source, slice_start, slice_end, reason, payload)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    target.tenant_id,
                    target.source,
                    target.start,
                    target.end,
                    reject.reason,
                    psycopg.types.json.Jsonb(reject.payload),
                ),
            )
    return LoadResult(rows_loaded=loaded, rows_replaced=deleted, rows_quarantined=len(rejects))
