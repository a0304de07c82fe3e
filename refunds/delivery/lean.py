"""The webhook URLs' lean path (issue 17).

A marketplace's call to `/<adapter key>/webhooks/<name>` is machine to machine: no cookie, no
session, no signed-in user, no CSRF token (the view is exempt), no page for a browser (so no CSP,
no clickjacking header), no static file. The full middleware chain still cost every delivery its
work (BENCHMARKS.md, Webhook intake). `WebhookLeanPathMiddleware` sits right after
`config.logs.RequestIdMiddleware` (so every delivery keeps its request id and log lines) and
answers the webhook URLs itself by calling the intake view; every other URL goes down the chain
as before.

What a webhook keeps: the request id (header and logs), Django's exception handling (an error in
the view is still a logged 500 answer: every middleware is wrapped by
`convert_exception_to_response`), and the URL patterns of `refunds.delivery.urls`, matched the
same way the resolver would (config/urls.py mounts them at the root; tests/refunds/delivery/
test_lean_path.py checks that both agree).
"""

from __future__ import annotations

from .urls import urlpatterns

MARK = "/webhooks"  # in every webhook URL; a cheap test before the patterns are tried


class WebhookLeanPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if MARK in path:
            route = path.removeprefix("/")
            for pattern in urlpatterns:
                match = pattern.resolve(route)
                if match is not None:
                    request.resolver_match = match
                    return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
