"""The peer the lists are measured against (issue 17): a stock Django `ModelAdmin` changelist for
refunds as a team would first write it. Related columns in `list_display` (Django 5.1+ follows
`__` paths there and joins them with select_related), a status filter, the default
`icontains` search over the order number and the customer's e-mail and name, the default counts
(the filtered and the full one), 50 rows. Mounted on its own AdminSite by tests/benchmarks/
urls.py only, never by the product's URLs."""

from __future__ import annotations

from django.contrib import admin

from refunds.models import Refund

peer_site = admin.AdminSite(name="peer_admin")


class StockRefundAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "order__external_number",
        "order__customer__email",
        "order__account__name",
        "total",
        "currency",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("order__external_number", "order__customer__email", "order__customer__name")
    list_per_page = 50


peer_site.register(Refund, StockRefundAdmin)
