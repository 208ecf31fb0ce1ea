"""Fixtures the API tests of the ML and agent resources share (leads, recommendations, the
dashboard panels): data written through the libraries' own functions, committed for a module
(the app reads it on its own connections) and removed afterwards, since the session
warehouse is shared with the ML and agent tests."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from sklearn.metrics import roc_auc_score

from agents.planning import recommendation_for
from agents.platforms import read_campaign_budgets
from connectors.budgets import ConnectorBudgets
from ml import registry
from ml.embedder import TextEmbedder
from ml.embeddings import refresh_embeddings
from ml.features import load_leads
from ml.lead_model import TrainingConfig, train_lead_model
from ml.scoring import score_leads
from warehouse.agent_store import save_recommendations
from warehouse.crypto import CredentialBox
from warehouse.settings import get_settings

CYCLE = date(2026, 6, 29)


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder()


@pytest.fixture(scope="module")
def scored(built, warehouse_uri, embedder) -> Iterator[None]:
    """Embeddings and lead scores committed for the module, removed afterwards."""
    with psycopg.connect(warehouse_uri) as conn:
        refresh_embeddings(conn, embedder)
        conn.commit()
        leads = load_leads(conn)
        truth = dict(conn.execute("SELECT lead_id, true_propensity FROM sandbox.leads").fetchall())
        propensity = leads["lead_id"].map(truth).astype(float)
        leads = leads.assign(label=(propensity > propensity.median()).astype(int))
        cut = int(len(leads) * 0.7)
        model = train_lead_model(
            leads.iloc[:cut], leads.iloc[cut:], config=TrainingConfig(epochs=3)
        )
        held_out = leads.iloc[cut:]
        model.metrics = {"roc_auc": roc_auc_score(held_out["label"], model.predict(held_out))}
        registry.promote(conn, registry.register_model(conn, model))
        score_leads(conn, model, leads)
        conn.commit()
    yield
    with psycopg.connect(warehouse_uri) as conn:
        for table in ("lead_scores", "scoring_runs", "models", "embeddings"):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("ml", table)))


@pytest.fixture(scope="module")
def box() -> CredentialBox:
    return CredentialBox.from_settings(get_settings())


@pytest.fixture
def proposals(built, sandbox, tenants, box, warehouse_uri) -> Iterator[dict[str, list]]:
    """A proposal per platform per tenant (+10% on one campaign each), removed afterwards."""
    saved = {}
    with psycopg.connect(warehouse_uri) as conn:
        for tenant in tenants:
            lines = {
                line.platform: line
                for line in read_campaign_budgets(conn, box, tenant, ConnectorBudgets())
            }
            saved[tenant] = save_recommendations(
                conn,
                [
                    recommendation_for(
                        line,
                        CYCLE,
                        (line.daily_budget * Decimal("1.1")).quantize(Decimal("0.01")),
                        expected=Decimal("10.00"),
                        confidence=0.7,
                        rationale=f"test: more for {line.platform}",
                        requires_approval=True,
                        created_by="planner",
                    )
                    for line in lines.values()
                ],
            )
        conn.commit()
    yield saved
    with psycopg.connect(warehouse_uri) as conn:
        for table in ("audit_log", "recommendations"):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("app", table)))
        conn.execute("DELETE FROM sandbox.budget_changes")
