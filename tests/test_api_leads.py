"""Scored leads, similar leads and creative search through the API, on the session warehouse:
its CRM notes and creatives embedded, a lead model trained, registered and scoring every lead
through the ml/ functions (two weeks hold no 90-day outcomes, so the model learns the world's
own propensity ranking; what is under test here is serving, not the model)."""

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from ml.embeddings import current_texts
from ml.similarity import search_creatives, similar_leads
from tests.api_support import app_client, auth
from warehouse.rls import api_database_uri


@pytest.fixture(scope="module")
def client(scored) -> Iterator[TestClient]:
    yield from app_client()


def _expected_order(conn, tenant: str) -> list[tuple[int, float]]:
    rows = conn.execute(
        "SELECT lead_id, score FROM ml.lead_scores WHERE tenant_id = %s "
        "ORDER BY score DESC, lead_id",
        (tenant,),
    ).fetchall()
    return [(lead, score) for lead, score in rows]


def test_leads_are_listed_by_score_a_page_at_a_time(client, tenants, conn):
    tenant = tenants[0]
    expected = _expected_order(conn, tenant)
    assert len(expected) > 25
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/leads", params=params, headers=auth(tenant))
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [(item["lead_id"], item["score"]) for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected  # every lead once, in order, across pages
    assert pages == -(-len(expected) // 10)
    first = client.get("/v1/leads", params={"limit": 3}, headers=auth(tenant)).json()["items"][0]
    created, source = conn.execute(
        "SELECT lead_created_at, original_source FROM marts.funnel "
        "WHERE tenant_id = %s AND contact_id = %s LIMIT 1",
        (tenant, str(first["lead_id"])),
    ).fetchone()
    assert first["source"] == source and first["created_at"].startswith(created.date().isoformat())
    assert first["tier"] == 1


def test_pages_stay_stable_when_scores_tie(client, tenants, conn, warehouse_uri):
    tenant = tenants[0]
    with psycopg.connect(warehouse_uri) as writer:
        saved = writer.execute(
            "SELECT lead_id, score FROM ml.lead_scores WHERE tenant_id = %s", (tenant,)
        ).fetchall()
        writer.execute("UPDATE ml.lead_scores SET score = 0.5 WHERE tenant_id = %s", (tenant,))
    try:
        ids, cursor = [], None
        while True:
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v1/leads", params=params, headers=auth(tenant)).json()
            ids += [item["lead_id"] for item in body["items"]]
            if not (cursor := body["next_cursor"]):
                break
        assert ids == sorted(lead for lead, _ in saved)  # ties broken by id, none repeated
    finally:
        with psycopg.connect(warehouse_uri) as writer, writer.cursor() as cur:
            cur.executemany(
                "UPDATE ml.lead_scores SET score = %s WHERE tenant_id = %s AND lead_id = %s",
                [(score, tenant, lead) for lead, score in saved],
            )


def test_filters_and_sorting_by_created_date(client, tenants, conn):
    tenant = tenants[0]
    source, count = conn.execute(
        """SELECT f.original_source, count(DISTINCT s.lead_id) FROM ml.lead_scores s
           JOIN marts.funnel f ON f.tenant_id = s.tenant_id AND f.contact_id = s.lead_id::text
           WHERE s.tenant_id = %s AND s.tier = 2 GROUP BY 1 ORDER BY 2 DESC LIMIT 1""",
        (tenant,),
    ).fetchone()
    body = client.get(
        "/v1/leads", params={"tier": 2, "source": source, "limit": 200}, headers=auth(tenant)
    ).json()
    assert len(body["items"]) == count > 0
    assert {(i["tier"], i["source"]) for i in body["items"]} == {(2, source)}

    newest = client.get(
        "/v1/leads", params={"sort": "created_at", "limit": 200}, headers=auth(tenant)
    ).json()["items"]
    created = [item["created_at"] for item in newest]
    assert created == sorted(created, reverse=True)
    day = newest[len(newest) // 2]["created_at"][:10]
    one_day = client.get(
        "/v1/leads",
        params={"created_from": day, "created_to": day, "limit": 200},
        headers=auth(tenant),
    ).json()["items"]
    assert one_day and all(item["created_at"].startswith(day) for item in one_day)


@pytest.mark.parametrize(
    "params",
    [
        {"tier": 5},
        {"sort": "name"},
        {"cursor": "not-a-cursor"},
        {"source": "x; DROP TABLE ml.lead_scores"},
        {"created_from": "2026-06-30", "created_to": "2026-06-01"},
        {"created_to": "0"},  # not read as seconds since 1970
    ],
    ids=["tier", "sort", "cursor", "source", "reversed-dates", "number-as-date"],
)
def test_bad_lead_parameters_are_422_problems(client, tenants, params):
    response = client.get("/v1/leads", params=params, headers=auth(tenants[0]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_cursor_is_tied_to_its_sort(client, tenants):
    cursor = client.get("/v1/leads", params={"limit": 1}, headers=auth(tenants[0])).json()[
        "next_cursor"
    ]
    response = client.get(
        "/v1/leads", params={"cursor": cursor, "sort": "created_at"}, headers=auth(tenants[0])
    )
    assert response.status_code == 422 and "sort=score" in response.json()["detail"]


def test_a_lead_with_its_factors_and_journey(client, tenants, conn):
    tenant = tenants[0]
    lead_id, touches = conn.execute(
        """SELECT s.lead_id, count(j.*) FROM ml.lead_scores s
           JOIN marts.journey_touches j ON j.tenant_id = s.tenant_id AND j.lead_id = s.lead_id
           WHERE s.tenant_id = %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""",
        (tenant,),
    ).fetchone()
    assert touches > 1
    body = client.get(f"/v1/leads/{lead_id}", headers=auth(tenant)).json()
    score, tier, version, factors = conn.execute(
        "SELECT score, tier, model_version, top_features FROM ml.lead_scores "
        "WHERE tenant_id = %s AND lead_id = %s",
        (tenant, lead_id),
    ).fetchone()
    assert (body["score"], body["tier"], body["model_version"]) == (score, tier, version)
    assert body["top_factors"] == factors and len(factors) == 3
    journey = body["journey"]
    assert [t["touch_index"] for t in journey] == list(range(1, touches + 1))
    assert [t["touched_at"] for t in journey] == sorted(t["touched_at"] for t in journey)
    assert all(t["channel"] for t in journey)


def test_another_tenants_lead_answers_404(client, tenants, conn):
    other_lead = conn.execute(
        "SELECT lead_id FROM ml.lead_scores WHERE tenant_id = %s LIMIT 1", (tenants[1],)
    ).fetchone()[0]
    for path in (f"/v1/leads/{other_lead}", f"/v1/leads/{other_lead}/similar"):
        response = client.get(path, headers=auth(tenants[0]))
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert client.get(path, headers=auth(tenants[1])).status_code == 200
    listed = client.get("/v1/leads", params={"limit": 200}, headers=auth(tenants[0])).json()
    assert other_lead not in {item["lead_id"] for item in listed["items"]}


def test_similar_leads_match_the_library_and_stay_in_the_tenant(client, tenants, conn):
    tenant = tenants[0]
    note = next(
        item
        for item in current_texts(conn, "crm_note")
        if item.tenant_id == tenant and "budget approved" in item.content.lower()
    )
    body = client.get(
        f"/v1/leads/{note.entity_id}/similar", params={"k": 5}, headers=auth(tenant)
    ).json()
    expected = similar_leads(conn, tenant, note.entity_id, k=5)
    assert [n["lead_id"] for n in body["neighbours"]] == [int(n.entity_id) for n in expected]
    assert [n["similarity"] for n in body["neighbours"]] == pytest.approx(
        [n.similarity for n in expected], abs=1e-6
    )
    assert "budget approved" in body["neighbours"][0]["notes"].lower()
    mine = dict(
        conn.execute(
            "SELECT lead_id, tier FROM ml.lead_scores WHERE tenant_id = %s", (tenant,)
        ).fetchall()
    )
    assert all(mine[n["lead_id"]] == n["tier"] for n in body["neighbours"])


def test_creative_search_embeds_the_query_and_matches_the_library(client, tenants, conn, embedder):
    tenant = conn.execute("SELECT min(tenant_id) FROM raw.linkedin_creatives").fetchone()[0]
    query = "pipeline proof for the board and CMOs"
    response = client.get("/v1/creatives/search", params={"q": query, "k": 5}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    expected = search_creatives(conn, embedder, tenant, query, k=5)
    assert [h["creative_id"] for h in hits] == [n.entity_id for n in expected]
    assert hits[0]["platform"] == "linkedin" and hits[0]["creative_id"].startswith("linkedin:")
    mine = {item.entity_id for item in current_texts(conn, "creative") if item.tenant_id == tenant}
    assert {h["creative_id"] for h in hits} <= mine
    # The model is loaded once per app, not per request.
    holder = client.app.state.text_embedder
    loaded = holder._embedder
    client.get("/v1/creatives/search", params={"q": "brand search"}, headers=auth(tenant))
    assert holder._embedder is loaded is not None


@pytest.mark.parametrize("q", ["", " ", "  x ", "y" * 201], ids=["empty", "space", "one", "long"])
def test_creative_search_validates_the_query(client, tenants, q):
    response = client.get("/v1/creatives/search", params={"q": q}, headers=auth(tenants[0]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("table", ["ml.lead_scores", "ml.embeddings"])
def test_ml_reads_are_tenant_scoped_for_the_api_role(scored, tenants, table):
    with psycopg.connect(api_database_uri(), autocommit=True) as api:
        query = sql.SQL(
            "SELECT count(*), count(DISTINCT tenant_id), min(tenant_id) FROM {}"
        ).format(sql.Identifier(*table.split(".")))
        assert api.execute(query).fetchone()[:2] == (0, 0)  # no tenant set: nothing
        for tenant in tenants:
            with api.transaction():
                api.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
                rows, distinct, only = api.execute(query).fetchone()
            assert rows > 0 and distinct == 1 and only == tenant


def test_the_api_role_cannot_read_the_model_registry(scored):
    with psycopg.connect(api_database_uri(), autocommit=True) as api:
        for table in ("models", "scoring_runs"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), api.transaction():
                api.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier("ml", table)))


def test_scores_are_real_model_output(scored, conn):
    """The served scores come from the registered model (not typed in): its version, a
    quartile tier per tenant, scores spread over the range."""
    version = conn.execute("SELECT version FROM ml.models WHERE status = 'live'").fetchone()[0]
    scores = np.array([r[0] for r in conn.execute("SELECT score FROM ml.lead_scores")])
    assert conn.execute("SELECT DISTINCT model_version FROM ml.lead_scores").fetchall() == [
        (version,)
    ]
    assert scores.std() > 0.01
