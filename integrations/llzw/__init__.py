"""LLZW shop REST API v2: adapter (client.py), mapping, webhooks (none) and simulator."""
