"""Shoplazza OpenAPI: adapter, mapping, webhooks and sandbox."""
