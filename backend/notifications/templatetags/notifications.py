"""How long ago a notification came, as the bell and the notifications page write it (and
notifications.js / offline-views.js mirror it for rows they add)."""

from __future__ import annotations

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def ago(moment) -> str:
    if not moment:
        return ""
    minutes = int((timezone.now() - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h ago"
    days = hours // 24
    return "yesterday" if days == 1 else f"{days} days ago"
