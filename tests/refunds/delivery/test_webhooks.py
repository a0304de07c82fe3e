"""The inbound webhook view and processors (the view through Django's test client; processing by
calling the processor on the stored event, as the task does)."""

import json

import pytest

from integrations.hepsiglobal.webhooks import basic_authorization
from integrations.shoplazza.webhooks import sign as shoplazza_sign
from refunds.delivery.models import WebhookEvent
from refunds.delivery.processors import webhook_event_process
from refunds.models import Refund
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups

SECRET = "whsec-test"
# HepsiGlobal signs nothing: by default the account's secret is a token in the URL it calls
# (integrations/hepsiglobal/webhooks.py), /hepsiglobal/<token>/webhooks/<name>.
HEPSI_TOKEN = "whsec-test-path-token-0001"
RESULT_URL = "/hepsiglobal/webhooks/refund-create-result"
CANCEL_URL = "/hepsiglobal/webhooks/order-cancel"


@pytest.fixture
def hepsi_account(db):
    return factories.AccountFactory(
        adapter_key="hepsiglobal",
        name="HG",
        base_url="http://127.0.0.1:9/hepsiglobal",
        credentials={"client_id": "x", "client_secret": "y"},
        webhook_secret=HEPSI_TOKEN,
    )


def _send(client, url, payload, *, method="post", token=HEPSI_TOKEN, headers=None, **extra):
    """To HepsiGlobal's URL with `token` in its path (none: the bare URL)."""
    body = json.dumps(payload).encode()
    if token and url.startswith("/hepsiglobal/webhooks/"):
        url = url.replace("/hepsiglobal/", f"/hepsiglobal/{token}/", 1)
    return getattr(client, method)(
        url, data=body, content_type="application/json", headers=dict(headers or {}), **extra
    )


def _result(refund_number="RD1-create-refund-1", status="success", request_id="01J" + "0" * 23):
    return {
        "request_id": request_id,
        "refund_number": refund_number,
        "order_number": "1",
        "status": status,
        "errors": [] if status == "success" else ["Not refundable"],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    ["0" * len(HEPSI_TOKEN), None, "another-account-token-01"],
    ids=["wrong", "missing", "other-key"],
)
def test_bad_url_token_is_refused_and_nothing_stored(client, hepsi_account, token, caplog):
    response = _send(client, RESULT_URL, _result(), token=token)

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert [r.levelname for r in caplog.records if r.name == "refunds.delivery.intake"] == [
        "WARNING"
    ]
    assert "hepsiglobal webhook refund-create-result refused (HTTP 401, from 127.0.0.1)" in (
        caplog.text
    )
    assert token is None or token not in caplog.text  # the URL (and its token) is not logged


@pytest.mark.django_db
def test_account_without_secret_refuses_every_webhook(client, hepsi_account):
    hepsi_account.webhook_secret = ""
    hepsi_account.save()

    response = _send(client, RESULT_URL, _result())

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_shoplazza_wrong_hmac_is_refused(client):
    factories.AccountFactory(
        adapter_key="shoplazza",
        name="SL",
        webhook_secret=SECRET,
        base_url="http://127.0.0.1:9/shoplazza",
    )
    body = json.dumps({"id": "r1", "order_id": "1", "refund_status": "finished"}).encode()
    headers = {
        "X-Shoplazza-Topic": "refunds/update",
        "X-Shoplazza-Deduplication-ID": "d-1",
        "X-Shoplazza-Hmac-Sha256": shoplazza_sign("not-the-secret", body),
    }

    response = client.post(
        "/shoplazza/webhooks", data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_unknown_name_and_wrong_method(client, hepsi_account):
    assert _send(client, "/hepsiglobal/webhooks/nope", _result()).status_code == 404
    assert _send(client, "/llzw/webhooks", _result()).status_code == 404
    assert _send(client, "/nowhere/webhooks", _result()).status_code == 404
    response = _send(client, CANCEL_URL, {"cancel_id": 1}, method="post")
    assert response.status_code == 405
    assert response["Allow"] == "PUT"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_verified_webhook_is_stored_once_and_acknowledged(client, hepsi_account):
    first = _send(client, RESULT_URL, _result())
    second = _send(client, RESULT_URL, _result())

    assert (first.status_code, first.json()) == (200, {})
    assert (second.status_code, second.json()) == (200, {})
    event = WebhookEvent.objects.get()
    assert (event.adapter_key, event.name, event.state) == (
        "hepsiglobal",
        "refund-create-result",
        "received",
    )
    assert event.delivery_key == "refund-create-result:01J" + "0" * 23
    assert event.account == hepsi_account
    assert json.loads(event.body) == _result()


@pytest.mark.django_db
def test_csrf_is_not_required_for_webhooks_only(hepsi_account):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert _send(strict, RESULT_URL, _result()).status_code == 200
    assert strict.post("/accounts/login/", {"username": "x"}).status_code == 403


@pytest.mark.django_db
def test_basic_auth_account_is_recognised_by_its_credentials(client, hepsi_account):
    hepsi_account.options = {"webhook_auth": "basic"}
    hepsi_account.save()
    good = {"Authorization": basic_authorization("hepsiglobal", HEPSI_TOKEN)}
    bad = {"Authorization": basic_authorization("hepsiglobal", "not-the-secret")}

    refused = _send(client, RESULT_URL, _result(), token=None, headers=bad)
    by_token = _send(client, RESULT_URL, _result())  # the account no longer takes its URL token
    accepted = _send(client, RESULT_URL, _result(), token=None, headers=good)

    assert (refused.status_code, by_token.status_code, accepted.status_code) == (401, 401, 200)
    assert WebhookEvent.objects.get().headers["Authorization"] == "***"


@pytest.mark.django_db
def test_ip_allowlist_reads_the_client_address_behind_trusted_proxies_only(
    client, hepsi_account, settings
):
    hepsi_account.options = {
        "webhook_auth": "ip_allowlist",
        "webhook_ip_allowlist": ["198.51.100.0/24"],
    }
    hepsi_account.save()
    forged = {"X-Forwarded-For": "198.51.100.9"}

    direct = _send(client, RESULT_URL, _result(), token=None, REMOTE_ADDR="198.51.100.9")
    spoofed = _send(
        client, RESULT_URL, _result(request_id="01J" + "3" * 23), token=None, headers=forged
    )
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    proxied = _send(
        client, RESULT_URL, _result(request_id="01J" + "4" * 23), token=None, headers=forged
    )

    assert (direct.status_code, spoofed.status_code, proxied.status_code) == (200, 401, 200)
    assert sorted(WebhookEvent.objects.values_list("delivery_key", flat=True)) == [
        "refund-create-result:01J" + "0" * 23,
        "refund-create-result:01J" + "4" * 23,
    ]


@pytest.mark.django_db
def test_url_token_route_is_only_for_platforms_that_sign_nothing(client, hepsi_account):
    factories.AccountFactory(adapter_key="shoplazza", name="SL", webhook_secret=HEPSI_TOKEN)

    response = client.post(
        f"/shoplazza/{HEPSI_TOKEN}/webhooks/refunds", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0


# --- processing -------------------------------------------------------------------------------


@pytest.fixture
def processing_refund(hepsi_account):
    ensure_role_groups()
    agent = factories.agent(username="hg-agent@example.com")
    order = factories.make_order(account=hepsi_account, external_number="7001")
    refund = approve_refund(order, agent)
    return refund, refund.outbound_actions.get()


@pytest.mark.django_db
def test_success_result_issues_the_refund_and_a_late_failure_changes_nothing(
    client, processing_refund
):
    refund, action = processing_refund
    _send(client, RESULT_URL, _result(action.idempotency_key, "success", "01J" + "1" * 23))
    _send(client, RESULT_URL, _result(action.idempotency_key, "failed", "01J" + "2" * 23))
    success, failure = WebhookEvent.objects.order_by("id")

    assert webhook_event_process(success.pk) == "processed"
    assert webhook_event_process(success.pk) == "skipped"
    assert webhook_event_process(failure.pk) == "processed"

    refund.refresh_from_db()
    assert refund.status == "ISSUED"
    assert refund.needs_attention is False
    assert refund.external_request_id == "01J" + "1" * 23
    assert refund.events.filter(action="marketplace_confirmed").count() == 1


@pytest.mark.django_db
def test_failed_result_needs_attention_with_the_platform_message(client, processing_refund):
    refund, action = processing_refund
    _send(client, RESULT_URL, _result(action.idempotency_key, "failed"))

    assert webhook_event_process(WebhookEvent.objects.get().pk) == "processed"

    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert refund.needs_attention is True
    assert "Not refundable" in refund.attention_message


@pytest.mark.django_db
def test_result_for_an_unknown_refund_waits_for_it(client, hepsi_account):
    from refunds.delivery.processors import RefundNotYetKnown

    _send(client, RESULT_URL, _result("RD999-create-refund-1"))
    event = WebhookEvent.objects.get()

    with pytest.raises(RefundNotYetKnown):
        webhook_event_process(event.pk)
    event.refresh_from_db()
    assert event.state == "received"


@pytest.mark.django_db
def test_order_cancel_refunds_the_cancelled_units_once(client, hepsi_account):
    order = factories.make_order(
        account=hepsi_account, external_number="7002", lines=((3, "10.00", "0.00", "0.00"),)
    )
    line = order.lines.get()
    payload = {
        "cancel_id": 55,
        "order_number": "7002",
        "cancel_quantity": 2,
        "order_item_number": line.external_id,
        "reason": "out_of_stock",
    }

    assert _send(client, CANCEL_URL, payload, method="put").status_code == 200
    assert _send(client, CANCEL_URL, payload, method="put").status_code == 200
    event = WebhookEvent.objects.get()
    assert webhook_event_process(event.pk) == "processed"
    assert webhook_event_process(event.pk) == "skipped"

    refund = Refund.objects.get()
    assert (refund.status, refund.source, refund.reason_code) == (
        "REQUESTED",
        "marketplace",
        "out_of_stock",
    )
    assert refund.refund_only is True
    assert refund.covers_cancellation is True
    assert str(refund.total) == "20.00"
    assert list(refund.lines.values_list("order_line_id", "quantity")) == [(line.pk, 2)]
    line.refresh_from_db()
    assert line.cancelled_quantity == 2
    event.refresh_from_db()
    assert event.refund == refund


@pytest.mark.django_db
def test_order_cancel_with_cancel_items_refunds_every_line_in_one_refund(client, hepsi_account):
    order = factories.make_order(
        account=hepsi_account,
        external_number="7004",
        lines=((3, "10.00", "0.00", "0.00"), (2, "5.00", "0.00", "0.00")),
    )
    first, second = order.lines.order_by("id")
    payload = {
        "order_number": "7004",
        "cancel_items": [
            {"cancel_id": 61, "order_item_number": first.external_id, "cancel_quantity": 1},
            {"cancel_id": 62, "order_item_number": second.external_id, "cancel_quantity": 2},
        ],
    }

    assert _send(client, CANCEL_URL, payload, method="put").status_code == 200
    event = WebhookEvent.objects.get()
    assert event.delivery_key == "order-cancel:61+62"
    assert webhook_event_process(event.pk) == "processed"

    refund = Refund.objects.get()
    assert refund.external_id == "cancel-order-cancel:61+62"
    assert str(refund.total) == "20.00"
    assert list(
        refund.lines.order_by("order_line_id").values_list("order_line_id", "quantity")
    ) == [
        (first.pk, 1),
        (second.pk, 2),
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.cancelled_quantity, second.cancelled_quantity) == (1, 2)


@pytest.mark.django_db
def test_order_cancel_with_one_unknown_item_writes_nothing(client, hepsi_account):
    order = factories.make_order(
        account=hepsi_account, external_number="7005", lines=((3, "10.00", "0.00", "0.00"),)
    )
    line = order.lines.get()
    payload = {
        "order_number": "7005",
        "cancel_items": [
            {"cancel_id": 71, "order_item_number": line.external_id, "cancel_quantity": 1},
            {"cancel_id": 72, "order_item_number": "NOPE", "cancel_quantity": 1},
        ],
    }
    _send(client, CANCEL_URL, payload, method="put")

    assert webhook_event_process(WebhookEvent.objects.get().pk) == "failed"
    assert Refund.objects.count() == 0
    line.refresh_from_db()
    assert line.cancelled_quantity == 0


@pytest.mark.django_db
def test_order_cancel_for_an_unknown_line_fails_and_writes_nothing(client, hepsi_account):
    factories.make_order(account=hepsi_account, external_number="7003")
    payload = {
        "cancel_id": 56,
        "order_number": "7003",
        "cancel_quantity": 1,
        "order_item_number": "NOPE",
        "reason": "out_of_stock",
    }
    _send(client, CANCEL_URL, payload, method="put")

    assert webhook_event_process(WebhookEvent.objects.get().pk) == "failed"
    assert Refund.objects.count() == 0
    assert WebhookEvent.objects.get().error != ""


@pytest.mark.django_db(transaction=True)
def test_processing_locks_the_event_only_not_its_account(client, hepsi_account):
    """Events of one account are processed side by side: another transaction holding the
    account's row (another event being processed) must not make this one be skipped."""
    import psycopg
    from django.db import connection

    body = {"cancel_id": 1, "order_number": "nope", "cancel_quantity": 1, "order_item_number": "x"}
    assert _send(client, CANCEL_URL, body, method="put").status_code == 200
    event = WebhookEvent.objects.get()
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as other:
        other.execute(
            "SELECT id FROM orders_marketplaceaccount WHERE id = %s FOR UPDATE", [hepsi_account.pk]
        )
        assert webhook_event_process(event.pk) == "failed"  # unknown order: processed, not skipped
    event.refresh_from_db()
    assert event.state == "failed"


# --- enqueueing: one batch message per burst ----------------------------------------------------


class _Sent:
    """Records app.send_task calls instead of publishing (the broker is not what is tested)."""

    def __init__(self, fail: int = 0):
        self.calls: list[tuple[str, list, dict]] = []
        self.fail = fail

    def __call__(self, name, args=None, **options):
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker down")
        self.calls.append((name, args, options))


@pytest.fixture
def sent(monkeypatch):
    from config.celery import app
    from refunds.delivery.publishing import _batcher

    recorder = _Sent()
    monkeypatch.setattr(app, "send_task", recorder)
    monkeypatch.setattr("refunds.delivery.publishing._producer", lambda: None)
    _batcher.flush()
    yield recorder
    _batcher.flush()


@pytest.mark.django_db(transaction=True)
def test_new_events_are_published_in_batches_duplicates_not_at_all(client, hepsi_account, sent):
    from refunds.delivery.publishing import PROCESS_BATCH_TASK, _batcher

    for n in range(5):
        _send(client, RESULT_URL, _result(request_id=f"01J{n:023d}"))
    _send(client, RESULT_URL, _result(request_id=f"01J{0:023d}"))  # a repeat: stored once
    _batcher.flush()

    ids = sorted(WebhookEvent.objects.values_list("pk", flat=True))
    assert len(ids) == 5
    assert {name for name, _args, _options in sent.calls} == {PROCESS_BATCH_TASK}
    published = [event_id for _name, args, _options in sent.calls for event_id in args[0]]
    assert sorted(published) == ids  # each new event once, in as few messages as arrived together
    assert len(sent.calls) <= 5


@pytest.mark.django_db(transaction=True)
def test_a_batch_the_broker_refuses_is_logged_and_the_next_one_published(
    client, hepsi_account, sent, caplog
):
    from refunds.delivery.publishing import _batcher

    sent.fail = 1
    _send(client, RESULT_URL, _result(request_id="01J" + "1" * 23))
    _batcher.flush()
    assert sent.calls == []
    assert "could not enqueue webhook events" in caplog.text  # stays received: the sweeper sends it
    assert WebhookEvent.objects.get().state == "received"

    _send(client, RESULT_URL, _result(request_id="01J" + "2" * 23))
    _batcher.flush()
    assert [args[0] for _name, args, _options in sent.calls] == [
        [WebhookEvent.objects.get(delivery_key__endswith="2" * 23).pk]
    ]


def test_the_publisher_starts_again_in_a_forked_process(sent):
    """gunicorn forks after loading the app: a child must not rely on its parent's thread."""
    import os

    from refunds.delivery.publishing import _batcher

    _batcher.put(1)
    _batcher.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: publish one id through its own thread, report what was sent
        code = 1
        try:
            _batcher.put(2)
            _batcher.flush()
            os.write(write_end, json.dumps([args for _n, args, _o in sent.calls]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _pid, status = os.waitpid(pid, 0)
    child_sent = json.loads(os.read(read_end, 10_000) or b"null")
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_sent == [[[1]], [[2]]]  # the parent's batch (copied at the fork), then its own
    assert [args for _n, args, _o in sent.calls] == [[[1]]]


@pytest.mark.django_db(transaction=True)
def test_batch_task_processes_each_event_and_retries_an_unknown_refund_alone(
    client, hepsi_account, sent, settings
):
    from refunds.delivery.publishing import PROCESS_TASK, _batcher
    from refunds.delivery.tasks import process_webhook_events

    order = factories.make_order(
        account=hepsi_account, external_number="7003", lines=((3, "10.00", "0.00", "0.00"),)
    )
    cancel = {
        "cancel_id": 77,
        "order_number": "7003",
        "cancel_quantity": 1,
        "order_item_number": order.lines.get().external_id,
        "reason": "out_of_stock",
    }
    _send(client, CANCEL_URL, cancel, method="put")
    _send(client, RESULT_URL, _result("RD999-create-refund-1"))
    _batcher.flush()
    cancel_event = WebhookEvent.objects.get(name="order-cancel")
    unknown = WebhookEvent.objects.get(name="refund-create-result")
    sent.calls.clear()

    ids = [cancel_event.pk, unknown.pk, cancel_event.pk]
    assert process_webhook_events(ids) == {"processed": 1, "retry": 1, "skipped": 1}
    # The unknown refund goes to the single-event task, as its own first attempt would.
    assert sent.calls == [
        (
            PROCESS_TASK,
            [unknown.pk],
            {"countdown": settings.WEBHOOK_RETRY_DELAY, "queue": "webhooks"},
        )
    ]
    assert Refund.objects.filter(order=order, external_id="cancel-order-cancel:77").count() == 1
    unknown.refresh_from_db()
    assert unknown.state == "received"

    settings.WEBHOOK_MAX_RETRIES = 0
    assert process_webhook_events([unknown.pk]) == {"failed": 1}
    unknown.refresh_from_db()
    assert unknown.state == "failed"


def test_a_worker_registers_the_batch_and_the_single_task():
    from config.celery import app

    app.loader.import_default_modules()  # what a worker does at start
    assert {
        "refunds.delivery.tasks.process_webhook_event",
        "refunds.delivery.tasks.process_webhook_events",
    } <= set(app.tasks)
