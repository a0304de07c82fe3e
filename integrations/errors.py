"""The errors a marketplace client raises; the adapter base turns them into results.

A leaf module (it imports nothing of ours), so that both `integrations.http` (the transport,
which raises them) and `integrations.base` (the adapter interface, which re-exports them) can
import it without a file circle between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MarketplaceError(Exception):
    def __init__(self, message: str, *, code: str = "", raw: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.raw: Mapping[str, Any] = raw or {}


class TransientError(MarketplaceError):
    """Did not work this time; the same request may succeed later. `may_have_acted`: see
    `integrations.base.FailedForNow`; None lets `integrations.base.may_have_acted` decide from
    the code and the exception chain."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        may_have_acted: bool | None = None,
        code: str = "",
        raw: Mapping[str, Any] | None = None,
    ):
        super().__init__(message, code=code, raw=raw)
        self.retry_after = retry_after
        self.may_have_acted = may_have_acted


class PermanentError(MarketplaceError):
    """Refused for good: the same request can never succeed."""
