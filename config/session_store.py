"""Database sessions that refuse malformed session keys before they reach the database.

Django only checks a cookie's session key for length; a key with a NUL byte made PostgreSQL
raise on the lookup and every page answer 500 (found by schemathesis). Django generates keys
from lowercase letters and digits, so anything else is simply no session."""

import re

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

VALID_KEY = re.compile(r"[a-z0-9]{8,40}\Z")


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return bool(key) and VALID_KEY.match(key) is not None
