"""A WebsocketCommunicator with patient defaults.

Channels' communicator waits one second for a connect or a frame. On a loaded CI machine (two
cores, a browser test's Chromium still winding down) a consumer can take longer than that to
answer, and a test then fails on a TimeoutError that says nothing about the product. Waiting for
a frame that should come is given ten seconds; `receive_nothing` keeps its short windows because
it asserts that something does *not* come."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

PATIENCE = 10  # seconds


class Communicator(WebsocketCommunicator):
    async def connect(self, timeout=PATIENCE):
        return await super().connect(timeout)

    async def receive_output(self, timeout=PATIENCE):
        return await super().receive_output(timeout)

    async def receive_from(self, timeout=PATIENCE):
        return await super().receive_from(timeout)
