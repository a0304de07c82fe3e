class RefundError(Exception):
    """A refused refund action. The message says what to do; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
