"""Request ids (config.logs): taken from X-Request-ID when well-formed or made, answered, and
written with every log line of the request, as JSON in production."""

import io
import json
import logging
import re

import pytest
from django.core.cache import cache

from config.celery import _receive_request_id, _send_request_id
from config.logs import Formatter, RequestContextFilter, request_id_var


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def json_lines():
    """Lines written through the production handler set-up (filter + JSON formatter) by the
    root logger, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(Formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_request_without_an_id_gets_a_new_one(client, db):
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


def test_a_well_formed_request_id_from_the_proxy_is_kept(client, db):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="edge-7f3a.01_b")
    assert response["X-Request-ID"] == "edge-7f3a.01_b"


@pytest.mark.parametrize("sent", ["two words", "x" * 65, "id\r\nforged: line", "é"])
def test_a_malformed_request_id_is_replaced(client, db, sent):
    answered = client.get("/accounts/login/", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", answered)


def test_a_log_line_written_during_a_request_carries_its_request_id(
    client, customer_user, settings, json_lines
):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 0
    response = client.post(
        "/accounts/password_reset/",
        {"email": "alice@example.com"},
        HTTP_X_REQUEST_ID="req-123",
        REMOTE_ADDR="10.0.2.1",
    )
    assert response["X-Request-ID"] == "req-123"
    (line,) = [line for line in json_lines() if line["logger"] == "refunds.views.accounts"]
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-123"
    assert line["task_id"] == ""
    assert line["message"] == (
        "Password reset e-mail not sent (client 10.0.2.1): "
        "1 requests for this e-mail address in 3600 s"
    )
    assert request_id_var.get() == ""  # nothing leaks into the next request


def test_a_line_outside_requests_and_tasks_has_empty_ids_and_its_extra_fields(json_lines):
    logging.getLogger("refunds.test").warning("hello %s", "world", extra={"refund_id": 7})
    (line,) = json_lines()
    assert {k: line[k] for k in ("level", "logger", "message", "request_id", "task_id")} == {
        "level": "WARNING",
        "logger": "refunds.test",
        "message": "hello world",
        "request_id": "",
        "task_id": "",
    }
    assert line["refund_id"] == 7
    assert "time" in line


def test_a_task_published_during_a_request_carries_the_request_id_to_the_worker():
    class Task:
        class request:  # what Celery's task.request looks like to the handler
            is_eager = False
            request_id = None

    headers = {}
    token = request_id_var.set("req-9")
    try:
        _send_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {"request_id": "req-9"}
    Task.request.request_id = headers["request_id"]
    _receive_request_id(task=Task)
    assert request_id_var.get() == "req-9"
    Task.request.request_id = None  # the next task, published outside a request
    _receive_request_id(task=Task)
    assert request_id_var.get() == ""
