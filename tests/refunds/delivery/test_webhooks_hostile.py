"""Hostile and careless webhooks through the real view, signed with each platform's own scheme:
text PostgreSQL cannot store (NUL, unpaired surrogates), JSON nested too deep, credentials in
headers and bodies; and the processing and sweeping of events that keep failing."""

import datetime as dt
import json

import pytest
from django.db.models import F
from django.urls import reverse

from integrations.hepsiglobal.webhooks import basic_authorization
from integrations.noventiq.webhooks import sign as noventiq_sign
from integrations.shoplazza.webhooks import sign as shoplazza_sign
from orders.models import MarketplaceAccount
from refunds.delivery.models import WebhookEvent
from refunds.delivery.processors import _message_of, stale_events_claim, webhook_event_process
from refunds.delivery.publishing import PROCESS_TASK, _batcher
from refunds.delivery.tasks import process_webhook_event, sweep_outbox
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups

SECRET = "whsec-hostile-test"
HEPSI_URL = "/hepsiglobal/webhooks/refund-create-result"
# HepsiGlobal signs nothing: by default its account's secret is a token in the URL it calls
# (integrations/hepsiglobal/webhooks.py).
HEPSI_TOKEN_URL = f"/hepsiglobal/{SECRET}/webhooks/refund-create-result"
REQUEST_ID = "01J" + "7" * 23
DEEP = b"[" * 1000 + b"]" * 1000  # 2 kB of [[[[...]]]]


@pytest.fixture
def accounts(db):
    return {
        key: factories.AccountFactory(
            adapter_key=key,
            name=f"hostile {key}",
            base_url=f"http://127.0.0.1:9/{key}",
            # Shoplazza signs its webhooks with the app's client secret.
            credentials={"client_id": "x", "client_secret": SECRET if key == "shoplazza" else "y"},
            webhook_secret=SECRET,
        )
        for key in ("hepsiglobal", "shoplazza", "noventiq")
    }


class _Sent:
    """Records app.send_task calls instead of publishing: the messages a worker would run."""

    def __init__(self):
        self.calls: list[tuple[str, list, dict]] = []

    def __call__(self, name, args=None, **options):
        self.calls.append((name, args, options))

    def take(self) -> list[tuple[str, list, dict]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def sent(monkeypatch):
    from config.celery import app

    recorder = _Sent()
    monkeypatch.setattr(app, "send_task", recorder)
    monkeypatch.setattr("refunds.delivery.publishing._producer", lambda: None)
    _batcher.flush()
    yield recorder
    _batcher.flush()


def _hepsi(client, body: bytes, *, basic=False, headers=None):
    """To the account's secret URL; with `basic`, the account takes basic auth instead and the
    credentials travel in the Authorization header."""
    sent_headers = dict(headers or {})
    url = HEPSI_TOKEN_URL
    if basic:
        MarketplaceAccount.objects.filter(adapter_key="hepsiglobal").update(
            options={"webhook_auth": "basic"}
        )
        sent_headers["Authorization"] = basic_authorization("hepsiglobal", SECRET)
        url = HEPSI_URL
    return client.post(url, data=body, content_type="application/json", headers=sent_headers)


def _shoplazza(client, body: bytes, *, dedup="d-1", topic="refunds/update"):
    headers = {
        "X-Shoplazza-Topic": topic,
        "X-Shoplazza-Deduplication-ID": dedup,
        "X-Shoplazza-Hmac-Sha256": shoplazza_sign(SECRET, body),
    }
    return client.post(
        "/shoplazza/webhooks", data=body, content_type="application/json", headers=headers
    )


def _noventiq(client, body: bytes, *, signed_fields: dict | None = None):
    fields = signed_fields if signed_fields is not None else json.loads(body)
    return client.post(
        "/noventiq/webhooks",
        data=body,
        content_type="application/json",
        headers={"signature": noventiq_sign(fields, SECRET)},
    )


def _hepsi_result(refund_number: str, *, status="success", errors="[]", request_id=REQUEST_ID):
    """The body as text, so that escapes such as \\u0000 reach the view exactly as written."""
    return (
        f'{{"request_id": "{request_id}", "refund_number": "{refund_number}", '
        f'"order_number": "7001", "status": "{status}", "errors": {errors}}}'
    ).encode()


def _noventiq_returned(email: str, sku: str) -> bytes:
    return (
        # The documented shape (Noventiq "Webhook examples"): order_id a number, the signed
        # payment_method inside the `payment` object.
        '{"event": "product.returned", "order_id": 900001, '
        '"create_date": "2026-11-01T10:00:00+00:00", "payment": {"payment_method": "card"}, '
        f'"currency": "EUR", "customer": {{"email": "{email}"}}, '
        f'"product": {{"id": "L1", "sku": "{sku}", "quantity": 1}}}}'
    ).encode()


def _shoplazza_refund(refund_id: str, fail_reason: str) -> bytes:
    return (
        f'{{"id": "{refund_id}", "order_id": "5501", "refund_status": "failed", '
        f'"fail_reason": "{fail_reason}"}}'
    ).encode()


@pytest.fixture
def processing_refund(accounts):
    ensure_role_groups()
    agent = factories.agent(username="hostile-agent@example.com")
    order = factories.make_order(account=accounts["hepsiglobal"], external_number="7001")
    refund = approve_refund(order, agent)
    return refund, refund.outbound_actions.get()


# --- item 5: NUL bytes and unpaired surrogates ------------------------------------------------


@pytest.mark.django_db
def test_nul_and_lone_surrogate_in_a_signed_result_are_stored_safely_and_applied(
    client, processing_refund
):
    refund, action = processing_refund
    body = _hepsi_result(
        action.idempotency_key, status="failed", errors='["Not refundable\\u0000 here \\ud800"]'
    )

    response = _hepsi(client, body)

    assert (response.status_code, response.json()) == (200, {})
    event = WebhookEvent.objects.get()
    assert event.body == body.decode()  # the escapes are text: kept as they came
    assert webhook_event_process(event.pk) == "processed"
    refund.refresh_from_db()
    assert refund.needs_attention is True
    assert "Not refundable\ufffd here \ufffd" in refund.attention_message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("request_id", "delivery_key"),
    [
        ("01J\\u0000" + "0" * 22, "refund-create-result:01J\ufffd" + "0" * 22),
        ("01J\\ud800" + "0" * 22, "refund-create-result:01J\ufffd" + "0" * 22),
    ],
    ids=["nul", "surrogate"],
)
def test_unstorable_text_in_the_delivery_key_is_stored_replaced(
    client, accounts, request_id, delivery_key
):
    response = _hepsi(client, _hepsi_result("RD1-create-refund-1", request_id=request_id))

    assert (response.status_code, response.json()) == (200, {})
    assert list(WebhookEvent.objects.values_list("delivery_key", "state")) == [
        (delivery_key, "received")
    ]


@pytest.mark.django_db
def test_a_raw_nul_in_a_header_is_stored_replaced_raw_nul_or_surrogate_bodies_are_400(
    client, accounts, sent
):
    stored = _shoplazza(client, _shoplazza_refund("r-1", "bank"), dedup="d-\x00-1")
    refused = [
        _hepsi(client, body)
        for body in (
            _hepsi_result("RD1-create-refund-1").replace(b"RD1", b"RD1\x00"),  # in a string
            b"\x00" + _hepsi_result("RD1-create-refund-1"),  # outside any
            _hepsi_result("RD1-create-refund-1").replace(b"RD1", b"RD1\xed\xa0\x80"),
        )
    ]

    assert (stored.status_code, stored.json()) == (200, {})
    event = WebhookEvent.objects.get()
    assert event.delivery_key == "d-\ufffd-1"
    assert event.headers["X-Shoplazza-Deduplication-Id"] == "d-\ufffd-1"
    assert [(r.status_code, r.json()) for r in refused] == [
        (400, {"message": "The HepsiGlobal webhook body is not JSON."})
    ] * 3
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_shoplazza_unstorable_text_is_stored_and_processing_retries_instead_of_crashing(
    client, accounts, sent, settings
):
    body = _shoplazza_refund("r-\\ud800", "bank\\u0000")

    assert _shoplazza(client, body).status_code == 200
    event = WebhookEvent.objects.get()
    sent.take()

    assert process_webhook_event(event.pk) == "retry"  # its refund is not known yet: wait

    event.refresh_from_db()
    assert (event.state, event.processing_attempts) == ("received", 1)
    assert event.error == (
        "Attempt 1 failed (tried again): No refund for shoplazza webhook d-1 "
        "(request -, key -, refund r-\ufffd)"
    )
    assert sent.take() == [
        (PROCESS_TASK, [event.pk], {"countdown": settings.WEBHOOK_RETRY_DELAY, "queue": "webhooks"})
    ]


@pytest.mark.django_db
def test_noventiq_signature_over_a_lone_surrogate_verifies_and_is_stored(client, accounts):
    body = _noventiq_returned("alice\\ud800@example.com", "SKU\\u0000")

    response = _noventiq(client, body)

    assert (response.status_code, response.json()) == (200, {})
    event = WebhookEvent.objects.get()
    assert event.body == body.decode()
    message = _message_of(event)
    assert message.payload["customer"] == {"email": "alice\ufffd@example.com"}
    assert message.message == "Noventiq reports product SKU\ufffd returned"


# --- item 5: failing events are retried a bounded number of times; the sweeper never starves --


def _stored_event(account, *, adapter_key, key):
    return WebhookEvent.objects.create(
        account=account,
        adapter_key=adapter_key,
        name="",
        delivery_key=key,
        topic="refund_result",
        headers={},
        body="{}",
    )


@pytest.mark.django_db
def test_an_event_that_crashes_is_retried_then_failed_with_the_reason(accounts, sent, settings):
    settings.WEBHOOK_MAX_RETRIES = 2
    # Stored for a marketplace whose adapter is gone: processing raises UnknownAdapter, not a
    # domain error.
    event = _stored_event(accounts["shoplazza"], adapter_key="retired", key="k-1")

    assert [process_webhook_event(event.pk) for _ in range(3)] == ["retry", "retry", "failed"]

    event.refresh_from_db()
    assert (event.state, event.processing_attempts, event.next_attempt_at) == ("failed", 3, None)
    assert event.error == (
        "Gave up after 3 attempts; the last one: Refund Desk could not process the event: "
        "UnknownAdapter: No marketplace adapter is registered for 'retired'"
    )
    assert event.processed_at is not None
    assert (
        sent.take()
        == [
            (
                PROCESS_TASK,
                [event.pk],
                {"countdown": settings.WEBHOOK_RETRY_DELAY, "queue": "webhooks"},
            )
        ]
        * 2
    )
    assert process_webhook_event(event.pk) == "skipped"


@pytest.mark.django_db
def test_an_unknown_refund_is_failed_after_its_retries(client, accounts, sent, settings):
    settings.WEBHOOK_MAX_RETRIES = 1
    _hepsi(client, _hepsi_result("RD999-create-refund-1"))
    event = WebhookEvent.objects.get()

    assert [process_webhook_event(event.pk) for _ in range(2)] == ["retry", "failed"]

    event.refresh_from_db()
    assert event.state == "failed"
    assert event.error == (
        "Gave up after 2 attempts; the last one: No refund for hepsiglobal webhook "
        f"refund-create-result:{REQUEST_ID} (request {REQUEST_ID}, key RD999-create-refund-1, "
        "refund RD999-create-refund-1)"
    )


def _swept(sent) -> list[int]:
    """Sweep once; the events it sent for processing (the outbox's messages are not ours)."""
    sweep_outbox()
    return [args[0] for name, args, _options in sent.take() if name == PROCESS_TASK]


def _run(event_ids) -> dict[int, str]:
    """Run the messages as a worker would: one process_webhook_event each."""
    return {event_id: process_webhook_event(event_id) for event_id in event_ids}


@pytest.mark.django_db
def test_101_poison_events_do_not_keep_a_good_one_from_the_sweeper(
    client, processing_refund, sent, settings
):
    refund, action = processing_refund
    for n in range(101):  # each names a refund nobody has, in text PostgreSQL refuses
        body = _shoplazza_refund(f"r-{n}\\u0000", "bank\\ud800")
        assert _shoplazza(client, body, dedup=f"poison-{n}").status_code == 200
    assert _hepsi(client, _hepsi_result(action.idempotency_key)).status_code == 200
    good = WebhookEvent.objects.get(adapter_key="hepsiglobal")
    _batcher.flush()
    sent.take()  # the view's batch messages are lost (the broker dropped them)
    WebhookEvent.objects.update(received_at=F("received_at") - dt.timedelta(minutes=10))

    poison = list(
        WebhookEvent.objects.filter(adapter_key="shoplazza")
        .order_by("id")
        .values_list("pk", flat=True)
    )

    first = _swept(sent)
    assert first == poison[:100]  # the oldest hundred
    assert set(_run(first).values()) == {"retry"}  # their refunds are unknown: tried again later
    sent.take()  # their retries, due in WEBHOOK_RETRY_DELAY: not run yet

    second = _swept(sent)
    assert second == [poison[100], good.pk]  # not the same hundred again
    assert _run(second) == {poison[100]: "retry", good.pk: "processed"}
    refund.refresh_from_db()
    assert refund.status == "ISSUED"
    sent.take()
    assert _swept(sent) == []  # every retry is due later, none is overdue


@pytest.mark.django_db
def test_the_sweeper_takes_events_that_never_failed_before_those_that_keep_failing(
    accounts, sent, settings
):
    settings.WEBHOOK_MAX_RETRIES = 50
    failing = [
        _stored_event(accounts["shoplazza"], adapter_key="retired", key=f"f-{n}") for n in range(3)
    ]
    for event in failing:
        assert process_webhook_event(event.pk) == "retry"
    fresh = _stored_event(accounts["shoplazza"], adapter_key="retired", key="fresh")
    # Long ago, all of them: the failing ones' retries overdue, the new one never sent.
    WebhookEvent.objects.update(
        received_at=F("received_at") - dt.timedelta(hours=2),
        next_attempt_at=F("received_at") - dt.timedelta(hours=1),
    )
    WebhookEvent.objects.filter(pk=fresh.pk).update(next_attempt_at=None)
    sent.take()

    assert stale_events_claim(limit=2) == [fresh.pk, failing[0].pk]
    assert stale_events_claim(limit=2) == [failing[1].pk, failing[2].pk]
    assert stale_events_claim(limit=2) == []


# --- item 6: JSON nested too deep -------------------------------------------------------------


@pytest.mark.django_db
def test_deep_json_to_noventiq_is_400_before_any_signature_check(client, accounts):
    response = client.post(
        "/noventiq/webhooks",
        data=DEEP,
        content_type="application/json",
        headers={"signature": "0" * 128},
    )

    assert (response.status_code, response.json()) == (
        400,
        {
            "message": "The Noventiq webhook body is refused: "
            "The JSON is nested more than 64 levels deep"
        },
    )
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_deep_json_inside_a_signed_noventiq_body_is_400(client, accounts):
    body = _noventiq_returned("alice@example.com", "SKU-1")[:-1] + b', "extra": ' + DEEP + b"}"
    fields = json.loads(_noventiq_returned("alice@example.com", "SKU-1"))

    response = _noventiq(client, body, signed_fields=fields)

    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["message"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_signed_deep_json_to_hepsiglobal_and_shoplazza_is_400_up_to_the_bound_200(client, accounts):
    hepsi = _hepsi(client, DEEP)
    shoplazza = _shoplazza(client, DEEP)
    nested = b"[" * 63 + b"1" + b"]" * 63  # 64 levels with the object around it
    at_the_bound = _hepsi(client, _hepsi_result("RD1-create-refund-1", errors=nested.decode()))

    assert (hepsi.status_code, hepsi.json()) == (
        400,
        {
            "message": "The HepsiGlobal webhook body is refused: "
            "The JSON is nested more than 64 levels deep."
        },
    )
    assert (shoplazza.status_code, shoplazza.json()) == (
        400,
        {"message": "The webhook body is refused: The JSON is nested more than 64 levels deep"},
    )
    assert at_the_bound.status_code == 200
    assert WebhookEvent.objects.count() == 1


# --- item 7: credentials never stored, never shown --------------------------------------------


@pytest.mark.django_db
def test_basic_credentials_and_body_tokens_are_redacted_before_they_are_stored_and_still_apply(
    client, processing_refund
):
    refund, action = processing_refund
    body = _hepsi_result(action.idempotency_key)[:-1] + b', "access_token": "tok-SECRET-42"}'

    response = _hepsi(client, body, basic=True, headers={"X-Api-Key": "key-SECRET-43"})

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    stored = json.dumps(event.headers) + event.body
    assert SECRET not in stored
    assert basic_authorization("hepsiglobal", SECRET) not in stored
    assert "tok-SECRET-42" not in stored
    assert "key-SECRET-43" not in stored
    assert (event.headers["Authorization"], event.headers["X-Api-Key"]) == ("***", "***")
    assert json.loads(event.body)["access_token"] == "***"
    assert webhook_event_process(event.pk) == "processed"  # verified once, on arrival
    refund.refresh_from_db()
    assert refund.status == "ISSUED"


@pytest.mark.django_db
@pytest.mark.parametrize("adapter_key", ["shoplazza", "noventiq"])  # HepsiGlobal signs nothing
def test_signatures_are_stored_as_a_fingerprint_only(client, accounts, adapter_key):
    import hashlib

    if adapter_key == "shoplazza":
        body = _shoplazza_refund("r-1", "bank")
        header, signature = "X-Shoplazza-Hmac-Sha256", shoplazza_sign(SECRET, body)
        response = _shoplazza(client, body)
    else:
        body = _noventiq_returned("alice@example.com", "SKU-1")
        header, signature = "Signature", noventiq_sign(json.loads(body), SECRET)
        response = _noventiq(client, body)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    digest = hashlib.sha256(signature.encode()).hexdigest()[:12]
    assert event.headers[header] == f"*** (sha256 {digest})"
    assert signature not in json.dumps(event.headers)


@pytest.mark.django_db
def test_an_agent_viewing_the_event_in_the_admin_never_sees_the_secret(client, accounts):
    ensure_role_groups()
    body = _hepsi_result("RD1-create-refund-1")[:-1] + b', "password": "pw-SECRET-44"}'
    assert _hepsi(client, body, basic=True).status_code == 200
    event = WebhookEvent.objects.get()
    client.force_login(factories.agent(username="admin-viewer@example.com"))

    page = client.get(reverse("admin:refunds_webhookevent_change", args=[event.pk]))

    assert page.status_code == 200
    content = page.content.decode()
    assert "RD1-create-refund-1" in content  # the event is shown...
    assert SECRET not in content  # ...without the credentials it came with
    assert "pw-SECRET-44" not in content


@pytest.mark.django_db
def test_stored_headers_cannot_be_replayed(client, accounts):
    """What an admin page shows of an event is not enough to send one: the view refuses the
    stored headers and body posted again."""
    assert _hepsi(client, _hepsi_result("RD1-create-refund-1"), basic=True).status_code == 200
    event = WebhookEvent.objects.get()

    replay = client.post(
        HEPSI_URL,
        data=event.body.encode(),
        content_type="application/json",
        headers={"Authorization": event.headers["Authorization"]},
    )

    assert (replay.status_code, replay.json()) == (
        401,
        {"message": "The HepsiGlobal webhook's basic credentials do not match."},
    )
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_events_stored_before_redaction_are_redacted_by_the_migration(accounts):
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    # The models as that migration sees them (they have moved to refunds since).
    apps = (
        MigrationLoader(connection)
        .project_state(("integrations", "0003_webhookevent_processing_attempts_next_attempt_at"))
        .apps
    )
    migration = importlib.import_module(
        "integrations.migrations.0003_webhookevent_processing_attempts_next_attempt_at"
    )
    body = '{"request_id": "r", "client_secret": "cs-SECRET-45"}'
    old = WebhookEvent.objects.create(
        account=accounts["hepsiglobal"],
        adapter_key="hepsiglobal",
        name="refund-create-result",
        delivery_key="old-1",
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
        body=body,
    )

    migration.redact_stored_events(apps, None)

    old.refresh_from_db()
    assert old.headers == {"Authorization": "***", "Content-Type": "application/json"}
    assert old.body == '{"request_id": "r", "client_secret": "***"}'
