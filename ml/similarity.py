"""Nearest neighbours over ml.embeddings (cosine, HNSW), always inside one tenant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ml.embedder import MODEL_NAME
from ml.embeddings import Embedder

# HNSW search breadth; pgvector's default is 40. With a tenant and entity-type filter the
# index would otherwise return fewer than k rows, so iterative scans keep searching until k
# rows pass the filter (pgvector >= 0.8).
EF_SEARCH = 100


@dataclass(frozen=True)
class Neighbour:
    entity_id: str
    content: str
    similarity: float  # cosine similarity, 1 = same direction


def _nearest(
    conn: psycopg.Connection,
    tenant_id: str,
    entity_type: str,
    query: np.ndarray,
    k: int,
    exclude_id: str | None = None,
    model_name: str = MODEL_NAME,
) -> list[Neighbour]:
    if k < 1:
        raise ValueError("k must be at least 1")
    register_vector(conn)
    with conn.transaction():
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(EF_SEARCH),))
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        rows = conn.execute(
            """
            SELECT entity_id, content, embedding <=> %(query)s AS distance
            FROM ml.embeddings
            WHERE tenant_id = %(tenant)s AND entity_type = %(type)s AND model_name = %(model)s
              AND entity_id IS DISTINCT FROM %(exclude)s
            ORDER BY embedding <=> %(query)s
            LIMIT %(k)s
            """,
            {
                "query": np.asarray(query, dtype=np.float32),
                "tenant": tenant_id,
                "type": entity_type,
                "model": model_name,
                "exclude": exclude_id,
                "k": k,
            },
        ).fetchall()
    # relaxed_order may return rows slightly out of order; the caller gets them sorted.
    return sorted(
        (
            Neighbour(entity_id, content, 1.0 - float(distance))
            for entity_id, content, distance in rows
        ),
        key=lambda n: -n.similarity,
    )


def _stored_vector(
    conn: psycopg.Connection, tenant_id: str, entity_type: str, entity_id: str
) -> np.ndarray:
    register_vector(conn)
    row = conn.execute(
        "SELECT embedding FROM ml.embeddings WHERE tenant_id = %s AND entity_type = %s "
        "AND entity_id = %s AND model_name = %s",
        (tenant_id, entity_type, entity_id, MODEL_NAME),
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
    if not text.strip():
        raise ValueError("search text is empty")
    if embedder.model_name != MODEL_NAME:
        raise ValueError(f"stored creatives are {MODEL_NAME} vectors, not {embedder.model_name}")
    return _nearest(conn, tenant_id, "creative", embedder.encode([text])[0], k)
