"""Inbound webhook URLs: /<adapter key>/webhooks/<name>. One pattern for every marketplace; the
view answers 404/405 unless the adapter class declares that name and method in
`webhook_endpoints` (Shoplazza's name is "": /shoplazza/webhooks). csrf_exempt applies to this
view only: the marketplaces authenticate with signatures, secret URLs or their address, not
cookies."""

from django.urls import re_path

from .intake import webhook_view

urlpatterns: list = [
    re_path(
        r"^(?P<key>[a-z0-9_]+)/webhooks(?:/(?P<name>[A-Za-z0-9_.-]+))?/?$",
        webhook_view,
        name="marketplace-webhook",
    ),
    # For platforms that sign nothing (the adapter's `webhook_uses_origin`): a secret token in
    # the path, set up as the base URL the platform calls (integrations/hepsiglobal/DOCS.md).
    re_path(
        r"^(?P<key>[a-z0-9_]+)/(?P<token>[A-Za-z0-9._~-]{16,200})/webhooks/"
        r"(?P<name>[A-Za-z0-9_.-]+)/?$",
        webhook_view,
        name="marketplace-webhook-token",
    ),
]
