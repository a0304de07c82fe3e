"""The admin's people pages in our words: Django's UserAdmin as it is, except that it spells
"E-mail" like every other page of Refund Desk (issue 14, one spelling)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

User = get_user_model()
EMAIL_LABEL = "E-mail address"


class RefundDeskUserAdmin(UserAdmin):
    list_display = ("username", "email_address", "first_name", "last_name", "is_staff")

    @admin.display(description=EMAIL_LABEL, ordering="email")
    def email_address(self, obj):
        return obj.email

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "email" in form.base_fields:
            form.base_fields["email"].label = EMAIL_LABEL
        return form


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, RefundDeskUserAdmin)
