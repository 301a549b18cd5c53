class ApplicationError(Exception):
    """An expected failure that the API answers with the project's error shape.

    Services raise subclasses; the API layer turns them into `{"error": ..., "detail": ...}`
    with the subclass's status code, so no expected failure becomes a 5xx by accident.
    """

    status_code = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, detail: dict | None = None, headers: dict | None = None):
        self.message = message or self.default_message
        self.detail = detail or {}
        self.headers = headers or {}
        super().__init__(self.message)
