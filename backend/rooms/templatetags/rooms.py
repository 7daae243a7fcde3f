"""{% room_button session %}: the way into a session's room from a dashboard, in the state the
room is in now. live.js turns it into "Join now" when the mentor goes live."""

from __future__ import annotations

from django import template
from django.utils import timezone

from backend.marketplace.models import SessionState
from backend.rooms.selectors import window

register = template.Library()


@register.inclusion_tag("rooms/_room_button.html", takes_context=True)
def room_button(context, session, label_lobby: str = "Enter the lobby"):
    now = timezone.now()
    opens, closes = window(session)
    if session.state not in (SessionState.SCHEDULED, SessionState.LIVE) or now >= closes:
        phase = "closed"
    elif session.state == SessionState.LIVE:
        phase = "live"
    elif now >= opens:
        phase = "open"
    else:
        phase = "soon"
    return {
        "session": session,
        "phase": phase,
        "opens_at": opens,
        "label_lobby": label_lobby,
        "request": context.get("request"),
    }
