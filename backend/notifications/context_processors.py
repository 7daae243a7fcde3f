"""The bell in the dashboard header: the unread count and the latest few, read lazily (a page
that never draws the bell, such as the public site, pays no query) and once per request (the
notifications page reuses the count the bell read)."""

from __future__ import annotations

from functools import cached_property

from backend.notifications import selectors

BELL_SIZE = 6


class Bell:
    def __init__(self, user):
        self.user = user

    @cached_property
    def unread_count(self) -> int:
        return selectors.unread_count(self.user)

    @cached_property
    def latest(self) -> list:
        return selectors.latest(self.user, BELL_SIZE)


def bell_for(request) -> Bell | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if getattr(request, "_notification_bell", None) is None:
        request._notification_bell = Bell(user)
    return request._notification_bell


def bell(request) -> dict:
    return {"bell": bell_for(request)}
