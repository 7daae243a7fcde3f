"""The production cache: Django's Redis cache, degrading to "always a miss" while Redis is away.

Everything kept in the cache can be recomputed (rendered fragments, recommendation lists,
throttle counters), so a Redis outage should cost speed, not requests: reads miss, writes are
dropped, each logged. Throttles fail open meanwhile, which is the lesser evil against every
page answering 500. /readyz still reports the cache as failing (its probe reads back a value
it wrote, and a dropped write reads back as a miss)."""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_WARN_EVERY_SECONDS = 10.0  # one line per burst, not one per cache call of every request


def _tolerant(default):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as exc:
                self._unavailable(method.__name__, exc)
                return default() if callable(default) else default

        return call

    return wrap


class TolerantRedisCache(RedisCache):
    _warned_at = 0.0

    def _unavailable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            TolerantRedisCache._warned_at = now
            log.warning("cache unavailable (%s: %s); serving without it", operation, type(exc).__name__)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNAVAILABLE as exc:
            self._unavailable("get", exc)
            return default

    add = _tolerant(False)(RedisCache.add)
    set = _tolerant(None)(RedisCache.set)
    touch = _tolerant(False)(RedisCache.touch)
    delete = _tolerant(False)(RedisCache.delete)
    get_many = _tolerant(dict)(RedisCache.get_many)
    has_key = _tolerant(False)(RedisCache.has_key)
    set_many = _tolerant(list)(RedisCache.set_many)
    delete_many = _tolerant(None)(RedisCache.delete_many)
    clear = _tolerant(False)(RedisCache.clear)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNAVAILABLE as exc:
            self._unavailable("incr", exc)
            raise ValueError(f"Key '{key}' not found") from None  # what a miss raises
