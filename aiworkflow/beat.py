"""Beat's heartbeat: a beat that died stops every relay and purge without a sound, so the
scheduler leaves a timestamp in the shared cache as it ticks, for /health/ready and the beat
container's probe to read."""

import logging
import time

from celery.beat import PersistentScheduler
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "beat-heartbeat"


def beat_heartbeat_age() -> float | None:
    """Seconds since beat's last heartbeat; None when there is none. Raises when the cache does."""
    beaten = cache.get(HEARTBEAT_KEY)
    return None if beaten is None else max(0.0, time.time() - beaten)


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler, writing the heartbeat at most every
    BEAT_HEARTBEAT_INTERVAL_SECONDS; its ticks are never further apart than that."""

    _last_heartbeat = 0.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_interval: float = min(self.max_interval, settings.BEAT_HEARTBEAT_INTERVAL_SECONDS)

    def tick(self, *args, **kwargs) -> float:
        now = time.time()
        if now - self._last_heartbeat >= settings.BEAT_HEARTBEAT_INTERVAL_SECONDS:
            try:
                cache.set(HEARTBEAT_KEY, now, timeout=None)
                self._last_heartbeat = now
            except Exception:  # the cache is down: the schedule goes on, and the probe will say so
                logger.warning("beat's heartbeat could not be written", exc_info=True)
        return super().tick(*args, **kwargs)
