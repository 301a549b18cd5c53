"""Fields every log line of a unit of work carries: request_id, delivery_id, installation_id, run_id.

A request (aiworkflow/request_id.py: begin, then clear once answered) or a Celery task
(task_context_begin/task_context_end) opens the unit; code that learns more about it (the delivery
being processed, the run being executed) binds those fields too. ContextFilter, on the log
handlers, adds them to every record. Being contextvars, they stay with their thread (or asyncio
task) and never reach another request.
"""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})
_fields: ContextVar[Mapping[str, object]] = ContextVar("log_fields", default=_EMPTY)
# Per task id, the context as it was before the task began; in eager mode that is the request's.
_task_tokens: dict[str, Token[Mapping[str, object]]] = {}


def fields() -> Mapping[str, object]:
    return _fields.get()


def begin(**values: object) -> None:
    """A new unit of work (a request): only these fields, none left from an earlier one."""
    _fields.set(MappingProxyType(values))


def clear() -> None:
    """The unit of work is over."""
    _fields.set(_EMPTY)


def bind(**values: object) -> Token[Mapping[str, object]]:
    """Add fields to the current unit of work, replacing those of the same names; a None value
    (not known) is bound but not logged. The token undoes this, and whatever was bound after it,
    through `restore`."""
    return _fields.set(MappingProxyType({**_fields.get(), **values}))


def restore(token: Token[Mapping[str, object]]) -> None:
    _fields.reset(token)


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """The fields bound within the block only."""
    token = bind(**values)
    try:
        yield
    finally:
        restore(token)


def task_context_begin(task_id: str) -> None:
    """A Celery task starts (task_prerun): its lines carry its id as their request_id."""
    _task_tokens[task_id] = bind(request_id=task_id)


def task_context_end(task_id: str) -> None:
    """A Celery task ended (task_postrun): what it bound goes, so that nothing reaches the next
    task of the process."""
    restore(_task_tokens.pop(task_id))


class ContextFilter(logging.Filter):
    """Adds the bound fields that are known to each record; a field the call passed itself
    (`extra=`) wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if value is not None and name not in record.__dict__:
                setattr(record, name, value)
        return True
