"""Find my order without an account: the order number and the order's e-mail get a one-time
sign-in link e-mailed to that address (refunds.services.guest_access), and the link binds this
browser to that one order (refunds.views.portal_access).

The form always gives the same answer, whether or not the order exists and whether or not an
e-mail was sent, and it is limited per e-mail address and per client address the way the
password reset is (refunds.lockout's counters in the cache): past a limit nothing is sent, a
warning is logged and the answer is the same. The link's page asks for a click before using the
link (a POST), so that a mail scanner fetching links does not use it up; a used, expired or
unknown link gets one page that says so and writes nothing."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from refunds.client_address import client_address
from refunds.errors import RefundError
from refunds.lockout import _count, _key
from refunds.services.guest_access import guest_link_check, guest_link_open, guest_link_send

from .portal_access import bind_guest_session

logger = logging.getLogger(__name__)

SENT_MESSAGE = (
    "If an order with that number and e-mail exists, we sent a sign-in link to that address. "
    "It works once, for 30 minutes."
)


class FindOrderForm(forms.Form):
    order_number = forms.CharField(
        label="Order number",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    email = forms.EmailField(
        label="E-mail used for the order",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


def guest_link_refusal(request, email: str) -> str:
    """Count a link request per e-mail address and per client address; why no e-mail may be
    sent for it ("" when one may). Every request counts, whether the order exists or not."""
    seconds = settings.GUEST_LINK_WINDOW_SECONDS
    address = client_address(request)
    per_email = _count(_key("email", email or "", "guest-links"), seconds)
    per_address = _count(_key("address", address, "guest-links"), seconds)
    if per_email > settings.GUEST_LINK_EMAIL_LIMIT:
        return f"{per_email} requests for this e-mail address in {seconds} s"
    if per_address > settings.GUEST_LINK_ADDRESS_LIMIT:
        return f"{per_address} requests from {address} in {seconds} s"
    return ""


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


class FindOrderView(View):
    template_name = "portal/guest/find_order.html"

    def get(self, request):
        return render(request, self.template_name, {"form": FindOrderForm()})

    def post(self, request):
        form = FindOrderForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        email = form.cleaned_data["email"]
        refusal = guest_link_refusal(request, email)
        if refusal:
            logger.warning(
                "Guest sign-in link not sent (client %s): %s", client_address(request), refusal
            )
        else:
            guest_link_send(
                order_number=form.cleaned_data["order_number"],
                email=email,
                link_for=lambda token: request.build_absolute_uri(
                    reverse("portal:guest-link", args=[token])
                ),
                client_address=client_address(request),
            )
        return HttpResponseRedirect(reverse("portal:find-order-sent"))


class FindOrderSentView(View):
    def get(self, request):
        return render(request, "portal/guest/find_order_sent.html", {"message": SENT_MESSAGE})


class GuestLinkView(View):
    """GET: the link's page, with one button that uses it. POST: use it and open the order."""

    def _invalid(self, request, exc: RefundError):
        return _no_store(
            render(request, "portal/guest/link_invalid.html", {"message": exc.message}, status=410)
        )

    def get(self, request, token):
        try:
            link = guest_link_check(token=token)
        except RefundError as exc:
            return self._invalid(request, exc)
        return _no_store(render(request, "portal/guest/link_open.html", {"order": link.order}))

    def post(self, request, token):
        try:
            link = guest_link_open(token=token)
        except RefundError as exc:
            return self._invalid(request, exc)
        bind_guest_session(request, link.order_id)
        return HttpResponseRedirect(reverse("portal:order-detail", args=[link.order_id]))
