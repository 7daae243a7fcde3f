"""The embedded default's channel layer: Channels' in-memory layer, with its expiry sweep run
at most once a second. The stock layer sweeps every channel and group on every send and
receive, so with a few hundred room sockets each signal paid for all of them."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer

SWEEP_EVERY = 1.0  # seconds; messages expire after 60, so a late sweep changes nothing visible


class InMemoryChannelLayer(StockInMemoryChannelLayer):
    _swept_at = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        super()._clean_expired()
