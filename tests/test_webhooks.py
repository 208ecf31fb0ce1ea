"""POST /v1/webhooks/leads: signed, fresh, idempotent, and stored untouched."""

import json
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from assets.resources import WarehouseResource
from pipelines.definitions import defs
from pipelines.jobs import QUIET_RUN_CONFIG
from serving_api.app import create_app
from serving_api.routers.webhooks import signature
from serving_api.settings import get_api_settings

LEAD = {"email": "ana.rossi@apex.example", "first_name": "Ana", "anonymous_id": "abc123"}


@pytest.fixture(scope="module")
def client(world: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def tenant(tenants) -> str:
    return tenants[0]


def _post(client, tenant, body: bytes, *, secret=None, timestamp=None, event_id=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = secret or get_api_settings().webhook_secret_for(tenant)
    headers = {
        "X-Bizo-Tenant": tenant,
        "X-Bizo-Timestamp": str(timestamp),
        "X-Bizo-Signature": signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }
    if event_id:
        headers["X-Bizo-Event-Id"] = event_id
    return client.post("/v1/webhooks/leads", content=body, headers=headers)


def test_a_signed_lead_is_stored_as_sent(client, tenant, conn):
    body = json.dumps(LEAD).encode()
    response = _post(client, tenant, body)
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    stored = conn.execute(
        "SELECT tenant_id, payload, signature_valid, processed_at FROM app.lead_webhook_events "
        "WHERE event_id = %s",
        (event_id,),
    ).fetchone()
    assert stored == (tenant, LEAD, True, None)


def test_a_retried_event_is_stored_once(client, tenant, conn):
    body = json.dumps({**LEAD, "email": "retry@apex.example"}).encode()
    first = _post(client, tenant, body, event_id="evt-42").json()
    second = _post(client, tenant, body, event_id="evt-42").json()
    assert first["event_id"] == second["event_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    (copies,) = conn.execute(
        "SELECT count(*) FROM app.lead_webhook_events WHERE event_key = 'evt-42'"
    ).fetchone()
    assert copies == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"secret": "0" * 64}, 401),  # signed with someone else's secret
        ({"timestamp": int(time.time()) - 3600}, 401),  # a replay from an hour ago
    ],
    ids=["wrong-secret", "stale"],
)
def test_bad_signatures_and_replays_are_refused(client, tenant, change, status):
    assert _post(client, tenant, json.dumps(LEAD).encode(), **change).status_code == status


def test_a_tampered_body_is_refused(client, tenant):
    timestamp = int(time.time())
    secret = get_api_settings().webhook_secret_for(tenant)
    headers = {
        "X-Bizo-Tenant": tenant,
        "X-Bizo-Timestamp": str(timestamp),
        "X-Bizo-Signature": signature(secret, timestamp, json.dumps(LEAD).encode()),
    }
    tampered = json.dumps({**LEAD, "email": "evil@example.com"}).encode()
    response = client.post("/v1/webhooks/leads", content=tampered, headers=headers)
    assert response.status_code == 401


def test_secrets_differ_per_tenant(tenants):
    settings = get_api_settings()
    assert settings.webhook_secret_for(tenants[0]) != settings.webhook_secret_for(tenants[1])


@pytest.mark.parametrize(
    ("body", "status"), [(b"not json", 422), (b"[1, 2]", 422), (b"{" + b" " * 70_000 + b"}", 413)]
)
def test_malformed_payloads(client, tenant, body, status):
    assert _post(client, tenant, body).status_code == status


def test_unknown_tenant_is_404(client):
    assert _post(client, "nobody-here", json.dumps(LEAD).encode()).status_code == 404


def test_the_sensor_and_job_turn_events_into_leads_once(client, tenant, conn, instance):
    for email in ("bo@birch.example", "not-an-email"):
        assert (
            _post(client, tenant, json.dumps({**LEAD, "email": email}).encode()).status_code == 202
        )
    sensor = defs.resolve_sensor_def("lead_webhooks")
    context = dg.build_sensor_context(
        instance=instance, resources={"warehouse": WarehouseResource()}
    )
    (request,) = sensor(context).run_requests
    job = defs.resolve_job_def("lead_webhooks")
    assert job.execute_in_process(instance=instance, run_config=QUIET_RUN_CONFIG).success
    assert sensor(context).run_requests == []  # nothing waits any more
    assert job.execute_in_process(instance=instance, run_config=QUIET_RUN_CONFIG).success
    emails = [row[0] for row in conn.execute("SELECT email FROM raw.crm_webhook_leads")]
    assert emails.count("bo@birch.example") == 1
    (reason,) = conn.execute(
        "SELECT reason FROM app.quarantine WHERE source = 'crm_webhook_leads'"
    ).fetchone()
    assert "not-an-email" in reason
    assert request.run_key.startswith("webhooks-through-")
