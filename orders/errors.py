class OrderError(Exception):
    """An order could not be imported or changed; the message says what to fix."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
