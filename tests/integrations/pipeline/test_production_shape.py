"""The production shape on this machine: PostgreSQL, Redis, two gunicorn web processes on two
ports, three workers on their queues and one beat. A burst of approvals (over the API) and
webhooks (HepsiGlobal's own result webhooks and order-cancel webhooks we send) at both web
processes; one web process and one worker SIGKILLed in the middle and restarted. Every approved
refund ends ISSUED, once on the sandboxes' ledgers; every webhook is processed once. A second
beat started by mistake changes nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundState, WebhookEvent
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories
from tests.fixtures.pipeline import ROOT, WORKER_ENV, WorkerProcess, wait_until
from tests.fixtures.ports import free_port

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

HEPSI_SECRET = "demo-webhook-secret"


def _env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    database_url = os.environ.get("DATABASE_URL") or (
        f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    return {
        **os.environ,
        **WORKER_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": str(settings.CELERY_BROKER_URL),
        "PYTHONUNBUFFERED": "1",
    }


class Process:
    """A command in its own process group, logging to a file; kill() is SIGKILL of the group."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]):
        self.args, self.log_path, self.env = args, log_path, env
        self.process: subprocess.Popen | None = None

    def start(self) -> Process:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def _signal(self, sig) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


class Web(Process):
    def __init__(self, port: int, folder: Path, env: dict[str, str]):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "-b",
                f"127.0.0.1:{port}",
                "config.wsgi",
            ],
            folder / f"web-{port}.log",
            {**env, "WEB_CONCURRENCY": "1", "GUNICORN_WORKERS": "1"},
        )

    def start(self) -> Web:
        super().start()

        def answers():
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"gunicorn on {self.port} exited:\n{self.log()[-4000:]}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                # Not up yet, or up and still importing on a busy machine: ask again.
                return False

        wait_until(answers, timeout=30, message=f"gunicorn on {self.port} to answer")
        return self


@pytest.fixture
def production(no_celery_worker, sandbox):
    """Two web processes, three workers on their queues (the third with the one beat)."""
    no_celery_worker.purge()
    folder = Path(tempfile.mkdtemp(prefix="rd-production-"))
    env = _env()
    broker = str(settings.CELERY_BROKER_URL)
    webs = [Web(free_port(), folder, env), Web(free_port(), folder, env)]
    workers = [
        WorkerProcess(
            broker, folder / "w1", queues=["deliveries.hepsiglobal"], name="hepsi", beat=False
        ),
        WorkerProcess(
            broker,
            folder / "w2",
            queues=["deliveries.llzw", "deliveries.shoplazza", "deliveries.noventiq"],
            name="others",
            beat=False,
        ),
        WorkerProcess(
            broker, folder / "w3", queues=["webhooks", "polling", "default"], name="main"
        ),
    ]
    extra: list[Process] = []
    try:
        for worker in workers:
            worker.folder.mkdir()
            worker.log_path = worker.folder / "worker.log"
            worker.start()
        for web in webs:
            web.start()
        yield webs, workers, extra, folder, env
    finally:
        for process in [*extra, *webs]:
            process.stop()
        for worker in workers:
            worker.stop()


class Client:
    """The API over both web processes: a connection error sends the request to the other."""

    def __init__(self, webs: list[Web], token: str):
        self.webs = webs
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.sent_to: list[int] = []

    def request(self, method: str, first: int, path: str, **kwargs) -> requests.Response:
        order = [self.webs[first], self.webs[1 - first]]

        def attempt():
            for web in order:
                try:
                    response = self.http.request(method, f"{web.url}{path}", timeout=10, **kwargs)
                except requests.ConnectionError:
                    continue
                self.sent_to.append(web.port)
                return response
            return None

        return wait_until(attempt, timeout=30, message=f"{method} {path} answered")


def _requested(order, line: int) -> Refund:
    customer = order.customer
    if customer.user_id is None:
        customer.user = factories.UserFactory(username=customer.email)
        customer.save(update_fields=["user"])
    order_line = order.lines.order_by("id")[line]
    return refund_request(
        actor=customer.user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order_line.pk, quantity=1)],
        customer_explanation="Arrived broken",
    )


def _snapshot(sandbox) -> tuple:
    return (
        OutboundAction.objects.count(),
        sorted(OutboundAction.objects.values_list("id", "state", "attempts")),
        sandbox.ledger("hepsiglobal")["count"],
        sandbox.ledger("llzw")["count"],
        sorted(Refund.objects.values_list("id", "status")),
        WebhookEvent.objects.count(),
    )


def test_burst_with_a_web_process_and_a_worker_killed_issues_every_refund_once(
    production, sandbox, marketplace_account, sandbox_order, pipeline_staff, request
):
    webs, workers, extra, folder, env = production
    hepsi_account = marketplace_account("hepsiglobal", webhook_secret=HEPSI_SECRET)
    llzw_account = marketplace_account("llzw")
    # HepsiGlobal's result webhooks go to the first web process (path-token authentication).
    sandbox.configure("hepsiglobal", callback_url=webs[0].url, webhook_auth="path_token")
    # The sandbox keeps its configuration across resets: later tests' webhooks must go to the
    # live server again, not to this test's (stopped) web process.
    request.addfinalizer(lambda: sandbox.configure("hepsiglobal", callback_url=""))
    # HepsiGlobal answers after 1.5 s, so the worker killed below has calls in flight.
    sandbox.faults("hepsiglobal", latency_ms=1500)
    lines = [(1, "10.00", "0.00", "0.00")] * 10
    hepsi_order = sandbox_order(hepsi_account, lines=lines)
    llzw_order = sandbox_order(llzw_account, lines=lines)
    cancel_order = sandbox_order(hepsi_account, lines=[(1, "7.00", "0.00", "0.00")] * 4)
    refunds = []
    for i in range(10):
        refunds += [_requested(hepsi_order, i), _requested(llzw_order, i)]
    token = Token.objects.create(user=pipeline_staff).key
    client = Client(webs, token)

    def approve(i: int, refund: Refund) -> None:
        response = client.request(
            "PATCH", i % 2, f"/api/v2/refunds/{refund.pk}", json={"action": "APPROVE"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "PROCESSING"

    def cancel(i: int) -> None:
        line = cancel_order.lines.order_by("id")[i]
        response = client.request(
            "PUT",
            i % 2,
            f"/hepsiglobal/{HEPSI_SECRET}/webhooks/order-cancel",
            json={
                "cancel_id": 900000 + i,
                "order_number": cancel_order.external_number,
                "cancel_quantity": 1,
                "order_item_number": line.external_id,
                "reason": "out_of_stock",
            },
        )
        assert response.status_code == 200, response.text

    for i, refund in enumerate(refunds[:10]):
        approve(i, refund)
    cancel(0)
    cancel(1)
    # The middle of the burst: the second web process and the HepsiGlobal worker die at once,
    # while the worker waits on the platform (the sandbox will have taken those refunds).
    wait_until(
        lambda: OutboundAction.objects.filter(
            refund__in=refunds[:10:2], state=OutboundState.IN_FLIGHT
        ).exists(),
        timeout=20,
        message="a HepsiGlobal call in flight",
    )
    webs[1].kill()
    workers[0].kill()
    for i, refund in enumerate(refunds[10:15], start=10):
        approve(i, refund)  # the ones meant for the dead port go to the other
    cancel(2)
    webs[1].start()
    workers[0].start()
    for i, refund in enumerate(refunds[15:], start=15):
        approve(i, refund)
    cancel(3)
    assert set(client.sent_to) == {webs[0].port, webs[1].port}

    pks = [refund.pk for refund in refunds]

    def all_issued():
        sandbox.advance("llzw")  # the shop's staff accept its refunds (the simulator's clock)
        statuses = list(Refund.objects.filter(pk__in=pks).values_list("status", flat=True))
        return statuses.count("ISSUED") == len(pks)

    wait_until(all_issued, timeout=60, interval=0.5, message="every approved refund ISSUED")

    actions = OutboundAction.objects.filter(refund__in=pks)
    assert actions.count() == 20
    for action in actions.select_related("account"):
        key = action.account.adapter_key
        assert sandbox.ledger(key, action.idempotency_key)["count"] == 1, action
    assert sandbox.ledger("hepsiglobal")["count"] == 10
    # The call cut off by the kill was sent again after its lease ran out, and still made once.
    hepsi_attempts = actions.filter(account=hepsi_account).values_list("attempts", flat=True)
    assert max(hepsi_attempts) >= 2
    assert sandbox.ledger("llzw")["count"] == 10

    # Webhooks: 10 HepsiGlobal results and 4 order-cancels, each one row, each processed.
    wait_until(
        lambda: WebhookEvent.objects.filter(state="processed").count() == 14,
        timeout=20,
        message="14 webhook events processed",
    )
    events = WebhookEvent.objects.all()
    assert events.count() == 14
    assert len({(e.adapter_key, e.delivery_key) for e in events}) == 14
    assert set(events.values_list("state", flat=True)) == {"processed"}
    cancels = Refund.objects.filter(order=cancel_order, covers_cancellation=True)
    assert cancels.count() == 4
    assert sorted(line.cancelled_quantity for line in cancel_order.lines.all()) == [1, 1, 1, 1]

    # A second beat started by mistake: both beats send sweeps, nothing changes.
    before = _snapshot(sandbox)
    beat = Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(folder / "beat2-schedule"),
        ],
        folder / "beat2.log",
        env,
    )
    extra.append(beat.start())
    mark = workers[2].log_mark()
    wait_until(
        lambda: beat.log().count("Sending due task outbox-sweep") >= 3,
        timeout=30,
        message="the second beat to send 3 sweeps",
    )
    runs = workers[2].wait_for_runs(mark, sweep_outbox=8, poll_account=2, timeout=30)
    assert len([run for run in runs if run.short_name == "sweep_outbox"]) >= 8
    assert _snapshot(sandbox) == before
