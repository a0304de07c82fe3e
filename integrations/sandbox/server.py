"""The sandbox server: one threaded HTTP server that mounts the four marketplace simulators
under /<key>/, applies fault injection, keeps a ledger and sends webhooks back to Refund Desk.

It keeps its own state in memory, apart from Refund Desk's database. The control API under
/_control/ is what the demo and the tests use:

    GET  /_control/health
    POST /_control/reset                         every simulator back to empty
    GET|PUT /_control/<key>/faults               fault settings (see Faults)
    PUT  /_control/<key>/config                  callback_url, webhook_secret, credentials, ...
    POST /_control/<key>/orders                  load orders (a JSON list, simulator's format)
    GET  /_control/<key>/ledger?key=<key>        refunds the platform holds (for one of our keys)
    POST /_control/<key>/advance                 move asynchronous work on now (webhooks, statuses)
    GET  /_control/<key>/requests                the requests the simulator received
    GET  /_control/<key>/webhooks                the webhooks it sent, with our answers, and
                                                 how many are pending (queued, held or being
                                                 sent: 0 means every one scheduled was sent)
    POST /_control/<key>/webhooks/release?order=reverse&duplicate=1   send held webhooks
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger("integrations.sandbox")


# --- request / response ----------------------------------------------------------------------


class Headers(dict):
    """Case-insensitive header lookup."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__((k.lower(), v) for k, v in items)

    def get(self, key: str, default=None):  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str):
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class InvalidJSON(Exception):
    pass


@dataclass
class SandboxRequest:
    method: str
    path: str  # below the simulator's prefix, e.g. /v1/refunds
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    remote: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidJSON(str(exc)) from None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class SandboxResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict | None = None) -> SandboxResponse:
        return cls(
            status=status,
            body=json.dumps(data, default=str).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def empty(cls, status: int = 200) -> SandboxResponse:
        return cls(status=status)


Route = tuple[str, re.Pattern, Callable[..., SandboxResponse]]


# --- faults ----------------------------------------------------------------------------------


@dataclass
class Faults:
    """Fault injection for one simulator. Shares are probabilities from 0 to 1. `script` is a
    list of faults for the next matching requests, consumed in order, e.g.
    [{"fault": "500", "method": "POST", "path": "/v1/refunds"}, {"fault": "429", "retry_after": 2}]
    with fault one of 500, 502, 503, 429, hang, drop, latency."""

    latency_ms: int = 0
    error_share: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    rate_limit_share: float = 0.0
    retry_after: float = 1.0
    hang_share: float = 0.0
    hang_seconds: float = 30.0
    drop_share: float = 0.0  # record the request, then drop the connection
    webhook_delay: float = 0.5  # seconds before an asynchronous result is sent
    webhook_duplicate_share: float = 0.0
    hold_webhooks: bool = False  # keep webhooks until /webhooks/release (for order tests)
    script: list[dict] = field(default_factory=list)

    def update(self, data: dict) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for key, value in data.items():
            setattr(self, key, value)


# --- the simulator base ----------------------------------------------------------------------


class Simulator:
    """Base for one platform's simulator. Subclasses set `key`, fill `routes()` and keep their
    state in attributes guarded by `self.lock`."""

    key: str = ""

    def __init__(self, hub: SandboxHub):
        self.hub = hub
        self.lock = threading.RLock()
        self.faults = Faults()
        self.config: dict[str, Any] = {}
        self.requests: list[dict] = []
        self._routes: list[Route] = [
            (method, re.compile(f"^{pattern}$"), handler)
            for method, pattern, handler in self.routes()
        ]
        self.reset()

    # To override ----------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Callable[..., SandboxResponse]]]:
        """(method, path regex with named groups, handler(request, **groups))."""
        return []

    def reset(self) -> None:
        """Forget everything (orders, refunds, tokens); keep the configuration."""

    def load_orders(self, orders: list[dict]) -> int:
        raise NotImplementedError

    def ledger(self, key: str | None) -> dict:
        """{"count": n, "refunds": [...]} for refunds made with our idempotency key `key`
        (all refunds when None)."""
        raise NotImplementedError

    def advance(self) -> dict:
        """Move asynchronous work on at once (used by tests instead of waiting)."""
        return {}

    def not_found(self, request: SandboxRequest) -> SandboxResponse:
        return SandboxResponse.json({"message": "Not found"}, status=404)

    # Helpers --------------------------------------------------------------------------------
    def configure(self, data: dict) -> None:
        with self.lock:
            self.config.update(data)

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match:
                path_matched = True
                if method == request.method:
                    return handler(request, **match.groupdict())
        if path_matched:
            return SandboxResponse.json({"message": "Method not allowed"}, status=405)
        return self.not_found(request)

    def send_webhook(
        self,
        *,
        url: str,
        method: str = "POST",
        headers: dict,
        body: bytes,
        delay: float | None = None,
    ) -> None:
        self.hub.schedule_webhook(
            self,
            url=url,
            method=method,
            headers=headers,
            body=body,
            delay=self.faults.webhook_delay if delay is None else delay,
        )

    def callback_url(self, path: str) -> str:
        base = self.config.get("callback_url") or self.hub.callback_url
        return f"{base.rstrip('/')}{path}"


# --- the hub: routing, faults, webhooks, control ---------------------------------------------


@dataclass(order=True)
class _Webhook:
    due: float
    seq: int
    key: str = field(compare=False)
    url: str = field(compare=False)
    method: str = field(compare=False)
    headers: dict = field(compare=False)
    body: bytes = field(compare=False)


class SandboxHub:
    def __init__(
        self,
        keys: Iterable[str] | None = None,
        *,
        callback_url: str = "",
        simulators: dict[str, type[Simulator]] | None = None,
    ):
        # Here, not at the top: the registry names the simulators, which import this module.
        from integrations.registry import ADAPTERS, sandbox_class

        self.callback_url = callback_url or "http://127.0.0.1:8000"
        classes = simulators or {k: sandbox_class(k) for k in (keys or ADAPTERS)}
        self.simulators: dict[str, Simulator] = {k: cls(self) for k, cls in classes.items()}
        self._queue: list[_Webhook] = []
        self._held: dict[str, list[_Webhook]] = {k: [] for k in self.simulators}
        self._sent: dict[str, list[dict]] = {k: [] for k in self.simulators}
        self._sending: dict[str, int] = dict.fromkeys(self.simulators, 0)
        self._seq = 0
        self._cv = threading.Condition()
        self._stopping = False
        self._http = requests.Session()
        self._sender = threading.Thread(
            target=self._send_loop, name="sandbox-webhooks", daemon=True
        )
        self._sender.start()

    # Webhooks --------------------------------------------------------------------------------
    def schedule_webhook(self, sim: Simulator, *, url, method, headers, body, delay) -> None:
        with self._cv:
            self._seq += 1
            hook = _Webhook(
                time.monotonic() + delay, self._seq, sim.key, url, method, headers, body
            )
            if sim.faults.hold_webhooks:
                self._held[sim.key].append(hook)
                return
            heapq.heappush(self._queue, hook)
            if random.random() < sim.faults.webhook_duplicate_share:
                self._seq += 1
                heapq.heappush(
                    self._queue, dataclasses.replace(hook, seq=self._seq, due=hook.due + 0.05)
                )
            self._cv.notify()

    def release_webhooks(self, key: str, *, reverse: bool, duplicate: bool) -> int:
        with self._cv:
            held, self._held[key] = self._held[key], []
            if reverse:
                held.reverse()
            now = time.monotonic()
            for i, hook in enumerate(held):
                for copy in range(2 if duplicate else 1):
                    self._seq += 1
                    heapq.heappush(
                        self._queue,
                        dataclasses.replace(hook, due=now + i * 0.05 + copy * 0.01, seq=self._seq),
                    )
            self._cv.notify()
            return len(held)

    def flush_webhooks(self, key: str) -> None:
        """Make every queued webhook of `key` due now."""
        with self._cv:
            now = time.monotonic()
            self._queue = [
                dataclasses.replace(h, due=min(h.due, now)) if h.key == key else h
                for h in self._queue
            ]
            heapq.heapify(self._queue)
            self._cv.notify()

    def _send_loop(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and (
                    not self._queue or self._queue[0].due > time.monotonic()
                ):
                    timeout = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cv.wait(timeout)
                if self._stopping:
                    return
                hook = heapq.heappop(self._queue)
                self._sending[hook.key] += 1
            entry = {
                "url": hook.url,
                "method": hook.method,
                "body": hook.body.decode("utf-8", "replace"),
                "headers": hook.headers,
                "sent_at": time.time(),
            }
            try:
                response = self._http.request(
                    hook.method, hook.url, headers=hook.headers, data=hook.body, timeout=(3, 10)
                )
                entry["status"] = response.status_code
            except requests.RequestException as exc:
                entry["status"] = None
                entry["error"] = type(exc).__name__
            with self._cv:
                self._sent[hook.key].append(entry)
                self._sending[hook.key] -= 1

    def pending_webhooks(self, key: str) -> int:
        """Webhooks of `key` not sent yet: queued, held, or on their way."""
        with self._cv:
            queued = sum(1 for h in self._queue if h.key == key)
            return queued + len(self._held[key]) + self._sending[key]

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()

    # Requests --------------------------------------------------------------------------------
    def handle(self, request: SandboxRequest, raw_path: str) -> SandboxResponse:
        parts = raw_path.split("/", 2)
        prefix = parts[1] if len(parts) > 1 else ""
        if prefix == "_control":
            return self._control(request, "/" + (parts[2] if len(parts) > 2 else ""))
        sim = self.simulators.get(prefix)
        if sim is None:
            return SandboxResponse.json({"message": f"No sandbox at /{prefix}"}, status=404)
        request.path = "/" + (parts[2] if len(parts) > 2 else "")
        with sim.lock:
            sim.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "headers": dict(request.headers),
                    "body": request.body.decode("utf-8", "replace"),
                    "at": time.time(),
                }
            )
        return self._with_faults(sim, request)

    def _take_scripted(self, sim: Simulator, request: SandboxRequest) -> dict | None:
        with sim.lock:
            for i, entry in enumerate(sim.faults.script):
                if entry.get("method") and entry["method"].upper() != request.method:
                    continue
                if entry.get("path") and entry["path"] not in request.path:
                    continue
                return sim.faults.script.pop(i)
        return None

    def _with_faults(self, sim: Simulator, request: SandboxRequest) -> SandboxResponse:
        faults = sim.faults
        fault = self._take_scripted(sim, request)
        kind = str(fault["fault"]) if fault else ""
        if not kind:
            roll = random.random()
            for name, share in (
                ("hang", faults.hang_share),
                ("429", faults.rate_limit_share),
                ("error", faults.error_share),
                ("drop", faults.drop_share),
            ):
                if roll < share:
                    kind = name
                    break
                roll -= share
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if kind == "latency":
            time.sleep(float(fault.get("seconds", 1)))
            kind = ""
        if kind == "hang":
            time.sleep(float((fault or {}).get("seconds", faults.hang_seconds)))
            return SandboxResponse(drop=True)
        if kind == "429":
            retry_after = (fault or {}).get("retry_after", faults.retry_after)
            return SandboxResponse.json(
                {"message": "Too many requests"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if kind == "error":
            kind = str(random.choice(faults.error_statuses))
        if kind in {"500", "502", "503", "504"}:
            return SandboxResponse.json({"message": "Injected server error"}, status=int(kind))
        response = sim.dispatch(request)
        if kind == "drop":
            return SandboxResponse(drop=True)
        return response

    # Control ---------------------------------------------------------------------------------
    def _control(self, request: SandboxRequest, path: str) -> SandboxResponse:
        if path == "/health":
            return SandboxResponse.json({"ok": True, "simulators": sorted(self.simulators)})
        if path == "/reset" and request.method == "POST":
            for sim in self.simulators.values():
                with sim.lock:
                    sim.faults = Faults()
                    sim.requests.clear()
                    sim.reset()
            with self._cv:
                self._queue.clear()
                for key in self._held:
                    self._held[key].clear()
                    self._sent[key].clear()
            return SandboxResponse.json({"ok": True})
        match = re.match(r"^/(?P<key>[a-z0-9_-]+)(?P<rest>/.*)$", path)
        if not match or match["key"] not in self.simulators:
            return SandboxResponse.json({"message": "Unknown control path"}, status=404)
        sim, rest = self.simulators[match["key"]], match["rest"]
        try:
            body = request.json() if request.body else None
        except InvalidJSON as exc:
            return SandboxResponse.json({"message": f"Invalid JSON: {exc}"}, status=400)
        try:
            return self._control_sim(sim, request, rest, body)
        except (ValueError, TypeError, KeyError) as exc:
            return SandboxResponse.json({"message": str(exc)}, status=400)

    def _control_sim(
        self, sim: Simulator, request: SandboxRequest, rest: str, body
    ) -> SandboxResponse:
        method = request.method
        if rest == "/faults":
            if method == "PUT":
                with sim.lock:
                    sim.faults = Faults()
                    sim.faults.update(body or {})
            return SandboxResponse.json(dataclasses.asdict(sim.faults))
        if rest == "/config" and method == "PUT":
            sim.configure(body or {})
            return SandboxResponse.json({"ok": True})
        if rest == "/orders" and method == "POST":
            return SandboxResponse.json({"loaded": sim.load_orders(body or [])})
        if rest == "/ledger" and method == "GET":
            with sim.lock:
                return SandboxResponse.json(sim.ledger(request.arg("key")))
        if rest == "/advance" and method == "POST":
            with sim.lock:
                result = sim.advance()
            self.flush_webhooks(sim.key)
            return SandboxResponse.json(result)
        if rest == "/requests" and method == "GET":
            with sim.lock:
                return SandboxResponse.json(list(sim.requests))
        if rest == "/webhooks" and method == "GET":
            with self._cv:
                return SandboxResponse.json(
                    {"sent": list(self._sent[sim.key]), "pending": self.pending_webhooks(sim.key)}
                )
        if rest == "/webhooks/release" and method == "POST":
            count = self.release_webhooks(
                sim.key,
                reverse=request.arg("order") == "reverse",
                duplicate=request.arg("duplicate") in ("1", "true"),
            )
            return SandboxResponse.json({"released": count})
        return SandboxResponse.json({"message": "Unknown control path"}, status=404)


# --- HTTP plumbing ---------------------------------------------------------------------------


def _handler_class(hub: SandboxHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "RefundDeskSandbox/1.0"
        # Keep-alive connections with small answers: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK can hold an answer back for tens of milliseconds.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = SandboxRequest(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=Headers(self.headers.items()),
                body=body,
                remote=self.client_address[0],
            )
            try:
                response = hub.handle(request, url.path)
            except Exception:
                logger.exception("sandbox handler crashed on %s %s", self.command, url.path)
                response = SandboxResponse.json({"message": "Sandbox crashed"}, status=500)
            if response.drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            # Headers and body leave in one write (end_headers would send the headers alone).
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)
            self.flush_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format, *args):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s - %s", self.address_string(), format % args)

    return Handler


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_server(
    host: str = "127.0.0.1", port: int = 8001, **hub_kwargs
) -> tuple[SandboxServer, SandboxHub]:
    hub = SandboxHub(**hub_kwargs)
    server = SandboxServer((host, port), _handler_class(hub))
    return server, hub


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, **hub_kwargs):
    """Start a sandbox server on a free port in a background thread (tests). Returns
    (server, hub, base_url); call server.shutdown() and hub.stop() when done."""
    server, hub = make_server(host, port, **hub_kwargs)
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    return server, hub, f"http://{host}:{server.server_address[1]}"
