"""Inbound webhook URLs: /<adapter key>/webhooks/<name>, from each adapter's declaration."""

from django.urls import path

urlpatterns: list = []
