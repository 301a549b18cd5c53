"""What the GitHub App tells the layers above it. It imports none of them: they connect here.

`workflow_event` is sent while a delivery of one of WORKFLOW_EVENTS is processed, after its
lifecycle changes are applied, with `delivery` and its parsed `payload`. Each receiver returns how
many workflow runs it started. A receiver's exception fails the delivery's attempt, which the
relay retries with backoff, so receivers must be idempotent (a run per workflow and delivery).
"""

from django.dispatch import Signal

workflow_event = Signal()


def workflow_event_send(*, delivery, payload: dict) -> int:
    """Send `workflow_event`; returns the runs its receivers started (a receiver that returns no
    number started none)."""
    responses = workflow_event.send(sender=type(delivery), delivery=delivery, payload=payload)
    return sum(int(runs) for _, runs in responses if runs)
