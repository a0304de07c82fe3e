"""HepsiGlobal: adapter, mapping, webhooks and sandbox (see client.py and sandbox.py)."""
