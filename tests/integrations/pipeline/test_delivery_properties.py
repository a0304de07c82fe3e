"""A property of the whole delivery path: whatever faults the platform shows (answers dropped
after it acted, hangs before it acted, 5xx, 429), however its webhooks arrive (held, duplicated,
reversed) and whenever staff press Retry, the platform never holds more than one refund for one
Refund Desk refund, and an ISSUED refund holds exactly one.

Hypothesis draws the story; the delivery task, the webhook processing and the poll run in this
process (no worker: each step is one call, so nothing races the assertions), against the
sandboxes over HTTP and with webhooks posted to the live server by the sandbox itself."""

import contextlib
import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from refunds.delivery import adapters
from refunds.delivery.models import OutboundAction, OutboundState, WebhookEvent, WebhookState
from refunds.delivery.polling import account_poll
from refunds.delivery.processors import webhook_event_process
from refunds.delivery.tasks import deliver_outbound_action
from refunds.errors import RefundError
from refunds.models import Refund
from refunds.services import refund_retry
from tests import factories
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPEN = (OutboundState.PENDING, OutboundState.IN_FLIGHT)
# A fault for the platform's next request. "drop": the platform acts, then the connection is
# closed without an answer (a timeout after it acted); "hang": closed before it acts.
FAULTS = st.sampled_from(
    [
        None,
        {"fault": "drop"},
        {"fault": "hang", "seconds": 0.05},
        {"fault": "500"},
        {"fault": "503"},
        {"fault": "429", "retry_after": 0},
    ]
)
# The platform's refund calls (create, look up), so that every fault meets one.
REFUND_PATH = {"hepsiglobal": "/v1/refunds", "llzw": "/api/v2/refunds"}
STEPS = st.one_of(
    st.tuples(st.just("deliver"), st.lists(FAULTS, max_size=3)),
    st.tuples(st.just("retry"), st.none()),
    st.tuples(st.just("webhooks"), st.sampled_from(["in order", "reversed", "duplicated"])),
    st.tuples(st.just("advance"), st.none()),
    st.tuples(st.just("poll"), st.none()),
)


def _deliver_open_actions(refund_id):
    """Run the delivery task once for each open action, as if its retry were due now."""
    for action in OutboundAction.objects.filter(refund_id=refund_id, state__in=OPEN):
        OutboundAction.objects.filter(pk=action.pk).update(
            next_attempt_at=timezone.now() - dt.timedelta(seconds=1), claimed_until=None
        )
        deliver_outbound_action(action.pk)


def _deliver_webhooks(sandbox, key, how):
    before = len(sandbox.webhooks(key)["sent"])
    released = sandbox.release(key, reverse=how == "reversed", duplicate=how == "duplicated")[
        "released"
    ]
    expected = before + released * (2 if how == "duplicated" else 1)
    wait_until(
        lambda: len(sandbox.webhooks(key)["sent"]) >= expected,
        message="the sandbox delivered its webhooks",
    )
    for event in WebhookEvent.objects.filter(state=WebhookState.RECEIVED).order_by("id"):
        # A result racing its refund stays stored for a later step, as in production.
        with contextlib.suppress(Exception):
            webhook_event_process(event.pk)


def _step(kind, arg, *, sandbox, key, refund_id, account, staff):
    if kind == "deliver":
        # Attempts until the platform has shown every fault of this step (or nothing is left
        # to send): each fault meets a real call.
        script = [{**f, "path": REFUND_PATH[key]} for f in arg if f]
        sandbox.faults(key, hold_webhooks=True, script=script)
        for _ in range(len(arg) + 1):
            _deliver_open_actions(refund_id)
            if not sandbox._call("GET", f"/{key}/faults")["script"]:
                break
    elif kind == "retry":
        refund = Refund.objects.get(pk=refund_id)
        if refund.needs_attention:
            with contextlib.suppress(RefundError):
                refund_retry(actor=staff, refund=refund, note="staff retry")
    elif kind == "webhooks":
        _deliver_webhooks(sandbox, key, arg)
    elif kind == "advance":
        sandbox.advance(key)
    elif kind == "poll":
        account_poll(account.pk)


def _platform_refunds(sandbox, key):
    return sandbox.ledger(key)["count"]


@pytest.mark.parametrize("key", ["hepsiglobal", "llzw"])
def test_one_refund_on_the_platform_whatever_happens(
    key, settings, no_celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    settings.OUTBOX_MAX_ATTEMPTS = 2  # so that faults exhaust deliveries within a short story
    checker = factories.agent(username="checker@example.com")

    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(steps=st.lists(STEPS, min_size=1, max_size=8))
    def story(steps):
        sandbox.reset()  # the platform forgets its tokens: so does this thread's adapter
        adapters._adapters.by_account = {}
        sandbox.faults(key, hold_webhooks=True)
        account = marketplace_account(key)
        order = sandbox_order(account)
        refund = approve_refund(order, pipeline_staff)
        context = {
            "sandbox": sandbox,
            "key": key,
            "refund_id": refund.pk,
            "account": account,
            "staff": checker,
        }
        for kind, arg in steps:
            _step(kind, arg, **context)
            assert _platform_refunds(sandbox, key) <= 1, (kind, arg)

        # Then the platform behaves and staff retry what needs it: the story must end with the
        # refund issued once.
        sandbox.faults(key, hold_webhooks=True)
        for _ in range(4):
            _step("retry", None, **context)
            _step("deliver", [], **context)
            _step("advance", None, **context)
            _step("webhooks", "in order", **context)
            _step("poll", None, **context)
            assert _platform_refunds(sandbox, key) <= 1
            if Refund.objects.get(pk=refund.pk).status == "ISSUED":
                break
        refund.refresh_from_db()
        assert refund.status == "ISSUED", refund.attention_message
        assert _platform_refunds(sandbox, key) == 1

    story()
