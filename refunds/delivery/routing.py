"""Which Celery queue each task goes to, so that one platform never holds up another.

- `deliveries.<adapter key>`: the outbox deliveries to that marketplace, one queue per platform.
  A slow or failing platform fills only its own queue; the workers on the others go on.
- `webhooks`: processing stored webhook events (one event or a batch).
- `polling`: the poll fan-out and each account's poll.
- `default`: beat's sweeps (outbox and webhook sweep, stale PROCESSING check) and anything else.

`enqueue_delivery` passes the queue itself when its caller knows the action's marketplace; the
router (`route_task`, settings.CELERY_TASK_ROUTES) reads it from the database otherwise (the
sweeper's path). A worker started without -Q consumes every queue (config/celery.py declares them
all as task_queues); production runs one worker per queue (Procfile, docs).
"""

from __future__ import annotations

from integrations.registry import ADAPTERS

DEFAULT_QUEUE = "default"
WEBHOOKS_QUEUE = "webhooks"
POLLING_QUEUE = "polling"

DELIVER_TASK = "refunds.delivery.tasks.deliver_outbound_action"
_FIXED_ROUTES = {
    "refunds.delivery.tasks.process_webhook_event": WEBHOOKS_QUEUE,
    "refunds.delivery.tasks.process_webhook_events": WEBHOOKS_QUEUE,
    "refunds.delivery.tasks.poll_marketplaces": POLLING_QUEUE,
    "refunds.delivery.tasks.poll_account": POLLING_QUEUE,
}


def delivery_queue(adapter_key: str | None) -> str:
    """The queue for deliveries to this marketplace; `default` for a key no adapter has (an
    account naming a removed platform: its delivery task gives it up, see the task)."""
    if adapter_key in ADAPTERS:
        return f"deliveries.{adapter_key}"
    return DEFAULT_QUEUE


def all_queues() -> list[str]:
    """Every queue, in the order a worker started without -Q lists them."""
    return [
        DEFAULT_QUEUE,
        WEBHOOKS_QUEUE,
        POLLING_QUEUE,
        *(delivery_queue(key) for key in ADAPTERS),
    ]


def _action_adapter_key(action_id) -> str | None:
    from .models import OutboundAction  # the router is loaded by Celery, after the apps

    return (
        OutboundAction.objects.filter(pk=action_id)
        .values_list("account__adapter_key", flat=True)
        .first()
    )


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router (settings.CELERY_TASK_ROUTES). A queue given by the sender wins."""
    if options.get("queue"):
        return None
    if name == DELIVER_TASK:
        action_id = (args or [None])[0] if args else (kwargs or {}).get("action_id")
        if action_id is None:
            return {"queue": DEFAULT_QUEUE}
        return {"queue": delivery_queue(_action_adapter_key(action_id))}
    queue = _FIXED_ROUTES.get(name)
    return {"queue": queue} if queue else None
