"""Which texts get embedded, and keeping ml.embeddings in step with them by content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

# The model every stored vector comes from (ml.embedder loads it). Here, not there, so that
# readers of stored vectors (ml.similarity, the API) need not import torch.
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384

# Each entity type's current text, one row per (tenant_id, entity_id, content). Creatives:
# the latest snapshot of each ad on each platform, headline and body joined; CRM notes: the
# latest contact version (staging); company descriptions: the latest company version (raw:
# there is no staging model for companies yet). Search terms are not ingested by any source
# yet, so that entity type has no query until one is.
SOURCE_QUERIES: dict[str, str] = {
    "creative": """
        SELECT tenant_id, 'google_ads:' || ad_id, concat_ws(E'\\n', ad_headline, ad_description)
        FROM (SELECT DISTINCT ON (tenant_id, ad_id) tenant_id, ad_id, ad_headline, ad_description
              FROM raw.google_ads_ad_daily ORDER BY tenant_id, ad_id, date DESC) AS latest
        UNION ALL
        SELECT tenant_id, 'meta:' || ad_id, concat_ws(E'\\n', creative_title, creative_body)
        FROM (SELECT DISTINCT ON (tenant_id, ad_id) tenant_id, ad_id, creative_title, creative_body
              FROM raw.meta_ads ORDER BY tenant_id, ad_id, date DESC) AS latest
        UNION ALL
        SELECT tenant_id, 'linkedin:' || creative_id, concat_ws(E'\\n', headline, description)
        FROM (SELECT DISTINCT ON (tenant_id, creative_id) tenant_id, creative_id, headline,
                     description
              FROM raw.linkedin_creatives ORDER BY tenant_id, creative_id, date DESC) AS latest
    """,
    "crm_note": "SELECT tenant_id, contact_id::text, notes FROM staging.stg_crm__contacts",
    "company_description": """
        SELECT tenant_id, company_id::text, description
        FROM (SELECT DISTINCT ON (tenant_id, company_id) tenant_id, company_id, description
              FROM raw.crm_companies
              ORDER BY tenant_id, company_id, last_modified_at DESC, _loaded_at DESC) AS latest
    """,
}
ENTITY_TYPES = tuple(SOURCE_QUERIES)


class Embedder(Protocol):
    model_name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EntityText:
    tenant_id: str
    entity_type: str
    entity_id: str
    content: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.tenant_id, self.entity_type, self.entity_id


@dataclass
class RefreshResult:
    embedded: dict[str, int] = field(default_factory=dict)  # new or changed, per entity type
    unchanged: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)  # text gone or emptied
    distinct_texts_encoded: int = 0


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_texts(conn: psycopg.Connection, entity_type: str) -> list[EntityText]:
    """The entity type's non-empty texts as the warehouse holds them now."""
    if entity_type not in SOURCE_QUERIES:
        raise ValueError(f"unknown entity type {entity_type!r}; known: {', '.join(ENTITY_TYPES)}")
    rows = conn.execute(SOURCE_QUERIES[entity_type]).fetchall()
    return [
        EntityText(tenant, entity_type, entity_id, text.strip())
        for tenant, entity_id, text in rows
        if text and text.strip()
    ]


def refresh_embeddings(
    conn: psycopg.Connection,
    embedder: Embedder,
    entity_types: Iterable[str] = ENTITY_TYPES,
) -> RefreshResult:
    """Embed what is new or changed since the last run (by content hash) and drop vectors
    whose text is gone. Runs in the caller's transaction; the caller commits."""
    register_vector(conn)
    result = RefreshResult()
    pending: list[EntityText] = []
    for entity_type in entity_types:
        texts = current_texts(conn, entity_type)
        stored = dict(
            (
                (tenant, entity_type, entity_id),
                stored_hash,
            )
            for tenant, entity_id, stored_hash in conn.execute(
                "SELECT tenant_id, entity_id, content_hash FROM ml.embeddings "
                "WHERE entity_type = %s AND model_name = %s",
                (entity_type, embedder.model_name),
            )
        )
        stale = [item for item in texts if stored.get(item.key) != content_hash(item.content)]
        pending.extend(stale)
        result.embedded[entity_type] = len(stale)
        result.unchanged[entity_type] = len(texts) - len(stale)
        gone = set(stored) - {item.key for item in texts}
        with conn.cursor() as cur:
            cur.executemany(
                "DELETE FROM ml.embeddings WHERE tenant_id = %s AND entity_type = %s "
                "AND entity_id = %s AND model_name = %s",
                [(*key, embedder.model_name) for key in gone],
            )
        result.removed[entity_type] = len(gone)

    # Many entities share a text (template notes, one creative in several accounts): each
    # distinct text is encoded once.
    distinct = sorted({item.content for item in pending})
    vectors = dict(zip(distinct, embedder.encode(distinct), strict=True))
    result.distinct_texts_encoded = len(distinct)
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO ml.embeddings
                (tenant_id, entity_type, entity_id, content_hash, model_name, content, embedding)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, entity_type, entity_id, model_name) DO UPDATE
            SET content_hash = EXCLUDED.content_hash, content = EXCLUDED.content,
                embedding = EXCLUDED.embedding, embedded_at = now()
            """,
            [
                (
                    *item.key,
                    content_hash(item.content),
                    embedder.model_name,
                    item.content,
                    vectors[item.content],
                )
                for item in pending
            ],
        )
    return result
