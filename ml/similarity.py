"""Nearest neighbours over ml.embeddings (cosine, HNSW), always inside one tenant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ml.embeddings import MODEL_NAME, Embedder

# HNSW search breadth; pgvector's default is 40. With a tenant and entity-type filter the
# index would otherwise return fewer than k rows, so iterative scans keep searching until k
# rows pass the filter (pgvector >= 0.8).
EF_SEARCH = 100


@dataclass(frozen=True)
class Neighbour:
    entity_id: str
    content: str
    similarity: float  # cosine similarity, 1 = same direction


# The SQL is shared by the sync functions here and their async twins (the API's event loop):
# one text, two drivers. The search settings are transaction-local (set_config(..., true)).
SEARCH_SETTINGS_SQL = (
    "SELECT set_config('hnsw.ef_search', %(ef_search)s, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)
NEAREST_SQL = """
SELECT entity_id, content, embedding <=> %(query)s AS distance
FROM ml.embeddings
WHERE tenant_id = %(tenant)s AND entity_type = %(type)s AND model_name = %(model)s
  AND entity_id IS DISTINCT FROM %(exclude)s
ORDER BY embedding <=> %(query)s
LIMIT %(k)s
"""
STORED_VECTOR_SQL = (
    "SELECT embedding FROM ml.embeddings WHERE tenant_id = %s AND entity_type = %s "
    "AND entity_id = %s AND model_name = %s"
)


def _nearest_params(
    tenant_id: str,
    entity_type: str,
    query: np.ndarray,
    k: int,
    exclude_id: str | None,
    model_name: str,
) -> dict:
    if k < 1:
        raise ValueError("k must be at least 1")
    return {
        "query": np.asarray(query, dtype=np.float32),
        "tenant": tenant_id,
        "type": entity_type,
        "model": model_name,
        "exclude": exclude_id,
        "k": k,
    }


def _neighbours(rows: list) -> list[Neighbour]:
    # relaxed_order may return rows slightly out of order; the caller gets them sorted.
    return sorted(
        (
            Neighbour(entity_id, content, 1.0 - float(distance))
            for entity_id, content, distance in (
                (r["entity_id"], r["content"], r["distance"]) if isinstance(r, dict) else r
                for r in rows
            )
        ),
        key=lambda n: -n.similarity,
    )


def _nearest(
    conn: psycopg.Connection,
    tenant_id: str,
    entity_type: str,
    query: np.ndarray,
    k: int,
    exclude_id: str | None = None,
    model_name: str = MODEL_NAME,
) -> list[Neighbour]:
    params = _nearest_params(tenant_id, entity_type, query, k, exclude_id, model_name)
    register_vector(conn)
    with conn.transaction():
        conn.execute(SEARCH_SETTINGS_SQL, {"ef_search": str(EF_SEARCH)})
        rows = conn.execute(NEAREST_SQL, params).fetchall()
    return _neighbours(rows)


def _stored_vector(
    conn: psycopg.Connection, tenant_id: str, entity_type: str, entity_id: str
) -> np.ndarray:
    register_vector(conn)
    row = conn.execute(
        STORED_VECTOR_SQL, (tenant_id, entity_type, entity_id, MODEL_NAME)
    ).fetchone()
    if row is None:
        raise LookupError(f"no {entity_type} embedding for {entity_id!r} in tenant {tenant_id!r}")
    return row[0].to_numpy()


def similar_leads(
    conn: psycopg.Connection, tenant_id: str, lead_id: int | str, k: int = 10
) -> list[Neighbour]:
    """Leads whose CRM notes read most like this lead's (the lead itself excluded)."""
    query = _stored_vector(conn, tenant_id, "crm_note", str(lead_id))
    return _nearest(conn, tenant_id, "crm_note", query, k, exclude_id=str(lead_id))


def similar_creatives(
    conn: psycopg.Connection, tenant_id: str, creative_id: str, k: int = 10
) -> list[Neighbour]:
    """Creatives closest to this one (`creative_id` is `platform:ad_id`)."""
    query = _stored_vector(conn, tenant_id, "creative", creative_id)
    return _nearest(conn, tenant_id, "creative", query, k, exclude_id=creative_id)


def search_creatives(
    conn: psycopg.Connection, embedder: Embedder, tenant_id: str, text: str, k: int = 10
) -> list[Neighbour]:
    """Free-text search over the tenant's creatives."""
    return _nearest(conn, tenant_id, "creative", search_vector(embedder, text), k)


def search_vector(embedder: Embedder, text: str) -> np.ndarray:
    """The query vector for a free-text search (CPU/GPU bound: the API runs it in a thread)."""
    if not text.strip():
        raise ValueError("search text is empty")
    if embedder.model_name != MODEL_NAME:
        raise ValueError(f"stored creatives are {MODEL_NAME} vectors, not {embedder.model_name}")
    return embedder.encode([text])[0]


# -- async twins, for the API (an open transaction on a connection with pgvector registered) --
async def nearest_async(
    conn: psycopg.AsyncConnection,
    tenant_id: str,
    entity_type: str,
    query: np.ndarray,
    k: int,
    exclude_id: str | None = None,
    model_name: str = MODEL_NAME,
) -> list[Neighbour]:
    """`_nearest` on an async connection already inside a transaction (the settings are
    transaction-local, so they end with it)."""
    params = _nearest_params(tenant_id, entity_type, query, k, exclude_id, model_name)
    await conn.execute(SEARCH_SETTINGS_SQL, {"ef_search": str(EF_SEARCH)})
    rows = await (await conn.execute(NEAREST_SQL, params)).fetchall()
    return _neighbours(rows)


async def similar_leads_async(
    conn: psycopg.AsyncConnection, tenant_id: str, lead_id: int | str, k: int = 10
) -> list[Neighbour]:
    """`similar_leads` on an async connection (LookupError when the lead has no notes vector)."""
    row = await (
        await conn.execute(STORED_VECTOR_SQL, (tenant_id, "crm_note", str(lead_id), MODEL_NAME))
    ).fetchone()
    if row is None:
        raise LookupError(f"no crm_note embedding for {str(lead_id)!r} in tenant {tenant_id!r}")
    vector = row["embedding"] if isinstance(row, dict) else row[0]
    return await nearest_async(
        conn, tenant_id, "crm_note", vector.to_numpy(), k, exclude_id=str(lead_id)
    )
