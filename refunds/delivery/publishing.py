"""Publishing stored webhook events to the workers: one message per event (the sweeper's path,
`enqueue_processing`) or, from the intake view, batches of the ids of a few milliseconds from one
thread per process (`enqueue_processing_soon`), because one Celery publish per webhook was most of
the view's cost (BENCHMARKS.md, Webhook intake). A batch that cannot be published (broker
down) leaves its events `received`: the beat sweeper sends them again."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time

from celery import current_app as app

from .routing import WEBHOOKS_QUEUE

logger = logging.getLogger(__name__)
PROCESS_TASK = "refunds.delivery.tasks.process_webhook_event"
PROCESS_BATCH_TASK = "refunds.delivery.tasks.process_webhook_events"


_publishing = threading.local()


def _producer():
    """This thread's own broker connection and producer, kept between calls (a thread never
    shares it) and rebuilt when the broker URL changes. Acquiring one from Celery's producer pool
    and releasing it on every send_task was about a quarter of the publish's CPU in a profile."""
    url = app.conf.broker_url
    producer = getattr(_publishing, "producer", None)
    if producer is None or getattr(_publishing, "url", None) != url:
        _drop_producer()
        producer = app.amqp.Producer(app.connection_for_write())
        _publishing.producer, _publishing.url = producer, url
    return producer


def _drop_producer() -> None:
    producer = getattr(_publishing, "producer", None)
    _publishing.producer = None  # start again from a new connection next time
    if producer is not None:
        with contextlib.suppress(Exception):  # a broken connection: nothing more to do
            producer.connection.release()


def enqueue_processing(event_id: int) -> None:
    """Publish one event at once as its own `process_webhook_event` message (the sweeper's path:
    it does not depend on the batch task). The view uses `enqueue_processing_soon`."""
    try:
        app.send_task(PROCESS_TASK, args=[event_id], producer=_producer(), queue=WEBHOOKS_QUEUE)
    except Exception:  # the broker is down: the event is stored and the sweeper sends it again
        logger.warning("could not enqueue webhook event %s", event_id, exc_info=True)
        _drop_producer()


class _Batcher:
    """Publishes new events in batches, one `process_webhook_events` message per batch: one
    Celery publish per webhook was most of the view's cost (BENCHMARKS.md, Webhook intake).

    The view only puts the id in a queue; one daemon thread per process takes what is queued (up
    to BATCH_SIZE ids, waiting at most BATCH_WAIT after the first) and publishes it. Started
    lazily and again in each process (gunicorn forks after loading the app). A batch that cannot
    be published (broker down) or is still queued when the process ends is logged; its events are
    stored as `received` and the beat sweeper (tasks.sweep_outbox) enqueues them again."""

    BATCH_SIZE = 50
    BATCH_WAIT = 0.005  # seconds after a batch's first id
    EXIT_WAIT = 2.0  # seconds given at exit to publish what is queued

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue | None = None
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        # The parent's queue and thread are not ours (a fork copies neither thread nor held lock).
        self._lock = threading.Lock()
        self._pid = self._queue = self._thread = None

    def put(self, event_id: int) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            self._queue.put(event_id)

    def _start(self) -> None:
        pid = os.getpid()
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, args=(self._queue,), name="webhook-publisher", daemon=True
        )
        self._thread.start()
        self._pid = pid
        atexit.register(self._flush_at_exit, pid)

    def _run(self, ids: queue.SimpleQueue) -> None:
        while True:
            batch = [ids.get()]
            if batch[0] is None:
                return
            deadline = time.monotonic() + self.BATCH_WAIT
            stop = False
            while len(batch) < self.BATCH_SIZE:
                try:
                    event_id = ids.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if event_id is None:
                    stop = True
                    break
                batch.append(event_id)
            self._publish(batch)
            if stop:
                return

    @staticmethod
    def _publish(batch: list[int]) -> None:
        try:
            app.send_task(
                PROCESS_BATCH_TASK, args=[batch], producer=_producer(), queue=WEBHOOKS_QUEUE
            )
        except Exception:  # the broker is down: the events are stored, the sweeper sends them
            logger.warning(
                "could not enqueue webhook events %s (the sweeper will)", batch, exc_info=True
            )
            _drop_producer()

    def _flush_at_exit(self, pid: int) -> None:
        thread, ids = self._thread, self._queue
        if self._pid != pid or pid != os.getpid() or thread is None:
            return
        ids.put(None)  # the thread publishes what is queued before it, then stops
        thread.join(self.EXIT_WAIT)
        if thread.is_alive():
            logger.warning("webhook events still queued at exit: the sweeper will enqueue them")

    def flush(self, timeout: float = 5.0) -> None:
        """Publish everything queued so far in this process and stop the thread (the next put
        starts a new one). For tests."""
        with self._lock:
            if self._pid != os.getpid() or self._thread is None:
                return
            self._queue.put(None)
            self._thread.join(timeout)
            self._pid = self._queue = self._thread = None


_batcher = _Batcher()


def enqueue_processing_soon(event_id: int) -> None:
    """Hand a stored event to the process's batching publisher (returns at once)."""
    _batcher.put(event_id)


def enqueue_processing_later(event_id: int, *, countdown: float) -> None:
    """Send one event again as its own message after `countdown` seconds (a retry)."""
    try:
        app.send_task(PROCESS_TASK, args=[event_id], countdown=countdown, queue=WEBHOOKS_QUEUE)
    except Exception:  # the broker is down: the sweeper sends it once its retry is overdue
        logger.warning("could not enqueue webhook event %s again", event_id, exc_info=True)
