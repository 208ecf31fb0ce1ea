"""Schemathesis against our own OpenAPI, a bounded number of cases per operation: no answer
is a 5xx, and every answer has a documented status, content type and schema. Cases run as a
tenant's admin, so every route (key management included) is reached past authentication."""

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from serving_api.app import create_app
from tests.api_support import auth

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,  # invalid input must answer 4xx, never be taken
]


# The schema is static, so it is read without starting the app; the app starts (pool, role
# check) on the first fuzzed call, after the `built` warehouse exists. schemathesis' lazy
# `from_fixture` loader does not work with pytest 9 (it writes a removed `_nodeid`).
APP = create_app()
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@pytest.fixture(scope="module")
def app_stops_afterwards() -> Iterator[FastAPI]:
    yield APP
    asgi.shutdown_lifespans()  # closes the app's pool before the test database is dropped


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_get_documented_answers(case, built, tenants, app_stops_afterwards):
    case.call_and_validate(headers=auth(tenants[0], role="admin"), checks=CHECKS)
