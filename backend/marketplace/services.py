"""Marketplace writes. The Foundation issue needs weekly availability; the rest arrives with
the Marketplace issue."""

from __future__ import annotations

from datetime import time

from django.db import transaction

from backend.core.errors import DomainError
from backend.marketplace.models import AvailabilityWindow


def _check_windows(windows: list[dict]) -> list[tuple[int, time, time]]:
    parsed = []
    for window in windows:
        weekday, start, end = window["weekday"], window["start"], window["end"]
        if not (0 <= weekday <= 6) or start >= end:
            raise DomainError("invalid_window", "Each window needs a weekday and a start before its end.")
        parsed.append((weekday, start, end))
    parsed.sort()
    for (day_a, _, end_a), (day_b, start_b, _) in zip(parsed, parsed[1:], strict=False):
        if day_a == day_b and start_b < end_a:
            raise DomainError("overlapping_windows", "Two availability windows overlap on the same day.")
    return parsed


@transaction.atomic
def availability_replace(*, mentor, windows: list[dict]) -> list[AvailabilityWindow]:
    """Replace a mentor's weekly windows (times in the mentor's own timezone)."""
    parsed = _check_windows(windows)
    AvailabilityWindow.objects.filter(mentor=mentor).delete()
    return AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(mentor=mentor, weekday=d, start_time=s, end_time=e) for d, s, e in parsed
    )
