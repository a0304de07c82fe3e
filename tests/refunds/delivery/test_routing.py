"""Queues that isolate platforms: what each path publishes, read back from kombu's in-memory
transport (no worker; the messages themselves are inspected)."""

import pytest

from config.celery import app
from refunds.delivery.publishing import enqueue_processing
from refunds.delivery.tasks import poll_marketplaces, sweep_outbox
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups, use_broker

ALL = [
    "default",
    "webhooks",
    "polling",
    "deliveries.hepsiglobal",
    "deliveries.noventiq",
    "deliveries.llzw",
    "deliveries.shoplazza",
]


@pytest.fixture
def memory_broker(settings):
    use_broker("memory://")
    _drain_all()
    yield
    _drain_all()
    use_broker(str(settings.CELERY_BROKER_URL))


def _drain(queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on `queue`, oldest first; takes them."""
    found = []
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        channel.queue_declare(queue=queue, passive=False)
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            found.append((message.headers["task"], list(args)))
    return found


def _drain_all() -> dict[str, list[tuple[str, list]]]:
    return {queue: _drain(queue) for queue in ALL}


def _refund_on(key: str, agent):
    account = factories.AccountFactory(adapter_key=key, name=f"{key} routing")
    order = factories.make_order(account=account, lines=[(1, "10.00", "0.00", "0.00")])
    return approve_refund(order, agent)


@pytest.fixture
def agent(db):
    ensure_role_groups()
    return factories.agent(username="routing-agent@example.com")


def test_a_worker_without_q_consumes_every_queue():
    assert list(app.amqp.queues) == ALL
    assert app.conf.task_default_queue == "default"


def test_each_approval_publishes_its_delivery_on_its_marketplace_queue(
    memory_broker, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        llzw = _refund_on("llzw", agent)
    with django_capture_on_commit_callbacks(execute=True):
        hepsi = _refund_on("hepsiglobal", agent)
    llzw_action = llzw.outbound_actions.get()
    hepsi_action = hepsi.outbound_actions.get()

    assert _drain_all() == {
        **{queue: [] for queue in ALL},
        "deliveries.llzw": [("refunds.delivery.tasks.deliver_outbound_action", [llzw_action.pk])],
        "deliveries.hepsiglobal": [
            ("refunds.delivery.tasks.deliver_outbound_action", [hepsi_action.pk])
        ],
    }


def test_the_sweeper_sends_a_due_delivery_again_to_its_marketplace_queue(memory_broker, agent):
    # No on_commit here: the approval's own message is never sent, as when it was lost.
    shoplazza = _refund_on("shoplazza", agent).outbound_actions.get()
    noventiq = _refund_on("noventiq", agent).outbound_actions.get()

    assert sweep_outbox() == 2

    deliver = "refunds.delivery.tasks.deliver_outbound_action"
    assert _drain_all() == {
        **{queue: [] for queue in ALL},
        "deliveries.shoplazza": [(deliver, [shoplazza.pk])],
        "deliveries.noventiq": [(deliver, [noventiq.pk])],
    }


def test_webhooks_polling_and_beat_sweeps_have_their_own_queues(memory_broker, db):
    account = factories.AccountFactory(adapter_key="llzw", name="llzw polling")
    enqueue_processing(4321)
    assert poll_marketplaces() == 1
    app.send_task("refunds.delivery.tasks.sweep_outbox")
    app.send_task("refunds.tasks.flag_stale_processing")

    assert _drain_all() == {
        **{queue: [] for queue in ALL},
        "webhooks": [("refunds.delivery.tasks.process_webhook_event", [4321])],
        "polling": [("refunds.delivery.tasks.poll_account", [account.pk])],
        "default": [
            ("refunds.delivery.tasks.sweep_outbox", []),
            ("refunds.tasks.flag_stale_processing", []),
        ],
    }
