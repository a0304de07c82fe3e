import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.registry import ADAPTERS
from integrations.sandbox.server import make_server


class Command(BaseCommand):
    help = (
        "Serve the marketplace sandboxes (/hepsiglobal, /noventiq, /llzw, /shoplazza) with "
        "fault injection; see integrations/sandbox/server.py for the control API."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--callback-url", default=None, help="Refund Desk's base URL, where webhooks go."
        )
        parser.add_argument("--only", nargs="*", choices=sorted(ADAPTERS), help="Mount only these.")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument(
            "--error-share",
            type=float,
            default=0.0,
            help="Share of requests answered 500/502/503 (0 to 1).",
        )
        parser.add_argument(
            "--rate-limit-share",
            type=float,
            default=0.0,
            help="Share of requests answered 429 with Retry-After.",
        )
        parser.add_argument("--retry-after", type=float, default=1.0)
        parser.add_argument("--hang-share", type=float, default=0.0)
        parser.add_argument(
            "--drop-share",
            type=float,
            default=0.0,
            help="Share of requests recorded, then the connection dropped.",
        )
        parser.add_argument("--webhook-delay", type=float, default=0.5)
        parser.add_argument("--webhook-duplicate-share", type=float, default=0.0)
        parser.add_argument(
            "--faults",
            default=None,
            help='JSON fault settings per platform, e.g. {"llzw": {"error_share": 0.2}}',
        )

    def handle(self, *args, **opts):
        server, hub = make_server(
            opts["host"],
            opts["port"],
            keys=opts["only"],
            callback_url=opts["callback_url"] or settings.REFUND_DESK_BASE_URL,
        )
        common = {
            "latency_ms": opts["latency_ms"],
            "error_share": opts["error_share"],
            "rate_limit_share": opts["rate_limit_share"],
            "retry_after": opts["retry_after"],
            "hang_share": opts["hang_share"],
            "drop_share": opts["drop_share"],
            "webhook_delay": opts["webhook_delay"],
            "webhook_duplicate_share": opts["webhook_duplicate_share"],
        }
        try:
            per_platform = json.loads(opts["faults"]) if opts["faults"] else {}
            for key, sim in hub.simulators.items():
                sim.faults.update(common)
                sim.faults.update(per_platform.get(key, {}))
        except (ValueError, TypeError) as exc:
            raise CommandError(f"--faults: {exc}") from exc
        self.stdout.write(
            f"Sandboxes {', '.join(sorted(hub.simulators))} on http://{opts['host']}:{opts['port']}"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            hub.stop()
            server.server_close()
