"""Noventiq Checkout (formerly Softline): adapter, mapping, webhooks and sandbox."""
