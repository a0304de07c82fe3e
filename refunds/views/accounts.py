"""The password reset, limited per e-mail address and per client address (refunds.lockout), so
that nobody can make us send anyone any number of e-mails."""

from __future__ import annotations

import logging

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponseRedirect

from refunds.client_address import client_address
from refunds.lockout import password_reset_refusal

logger = logging.getLogger(__name__)


class EmailPasswordResetForm(PasswordResetForm):
    """Django's reset form in our words: "E-mail", and a message that says what to type."""

    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "invalid": "Enter your e-mail address as name@example.com.",
            "required": "Enter the e-mail address of your account.",
        },
    )


class LimitedPasswordResetView(PasswordResetView):
    form_class = EmailPasswordResetForm

    def form_valid(self, form):
        refusal = password_reset_refusal(self.request, form.cleaned_data["email"])
        if refusal:
            # The same "check your e-mail" page either way: the answer tells nothing.
            logger.warning(
                "Password reset e-mail not sent (client %s): %s",
                client_address(self.request),
                refusal,
            )
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
