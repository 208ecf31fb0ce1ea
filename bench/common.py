"""What every benchmark shares: its own database on the warehouse server, and a timer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg import sql

T = TypeVar("T")


def use_bench_database(name: str, *, keep: bool = False) -> str:
    """Point this process's settings at database `name`, fresh unless `keep`; its URI."""
    os.environ["BIZO_WAREHOUSE_DATABASE"] = name
    from warehouse import db
    from warehouse.server import server_address
    from warehouse.settings import get_settings

    if not keep:
        address = server_address(get_settings())
        with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    return db.warehouse_uri()


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `runs` timings (least disturbed by the machine), and the last result."""
    best = float("inf")
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  {label}: {time.perf_counter() - started:.1f}s", flush=True)
