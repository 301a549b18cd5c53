"""What the console handler that settings.LOGGING configures writes, captured for a test."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiworkflow.logcontext import ContextFilter


@contextmanager
def console_output(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """The lines the configured console handler (context filter included) writes meanwhile, in
    `formatter`'s format."""
    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and any(isinstance(f, ContextFilter) for f in handler.filters)
    )
    stream, formatter_before = io.StringIO(), handler.formatter
    stream_before = handler.setStream(stream)
    handler.setFormatter(formatter)
    try:
        yield stream
    finally:
        handler.setFormatter(formatter_before)
        if stream_before is not None:
            handler.setStream(stream_before)
