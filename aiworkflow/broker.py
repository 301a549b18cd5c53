from aiworkflow.celery import app as celery_app


def broker_connection_error() -> str | None:
    """The name of the error connecting to the broker, or None when it answers."""
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any failure is a result to report, not an error to raise
        return type(exc).__name__
    return None
