"""The OpenAPI schema matches what the API does: schemathesis drives every operation in
/api/schema/ as a customer, a staff member and an anonymous caller and finds no 5xx and no
response outside the schema. Small max_examples keeps it a normal, quick test."""

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.models import Status
from schemathesis.runner import events, from_schema

from refunds.calculator import LineChoice
from refunds.services import refund_request

pytestmark = pytest.mark.django_db

SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v2/refunds/{id}" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs.content
    assert b"cdn." not in docs.content


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """The raw WSGI app closes the database connection after each request (the test client
    disconnects that handler; do the same, or the test transaction is lost)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _run(headers: dict) -> list[str]:
    schema = schemathesis.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    runner = from_schema(
        schema,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
        hypothesis_settings=SETTINGS,
        headers=headers,
    )
    problems, operations = [], 0
    for event in runner.execute():
        if isinstance(event, events.AfterExecution):
            operations += 1
            if event.status != Status.success:
                for check in event.result.checks:
                    if check.value != Status.success:
                        problems.append(
                            f"{event.result.verbose_name}: {check.name} -> "
                            f"{check.response and check.response.status_code} "
                            f"{check.message or ''} "
                            f"{check.example.method} {check.example.full_path} "
                            f"{check.example.path_parameters} {check.example.query} "
                            f"{check.example.body} "
                            f"{check.response and check.response.body}"
                        )
                problems.extend(
                    f"{event.result.verbose_name}: {e.exception}" for e in event.result.errors
                )
    assert operations == 9
    return problems


@pytest.fixture
def data(order, customer_user):
    line = order.lines.first()
    refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _token(user) -> dict:
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def test_schemathesis_as_customer(data, customer_user):
    assert _run(_token(customer_user)) == []


def test_schemathesis_as_staff(data, manager):
    assert _run(_token(manager)) == []


def test_schemathesis_as_anonymous(data):
    assert _run({}) == []
