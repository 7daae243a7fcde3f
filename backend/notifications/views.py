"""The notifications page: the user's own notifications, newest first, a page at a time, and
forms to mark one or all read. Plain posts that redirect, so it works without JavaScript; the
same posts are read as sync mutations while offline (sync-engine.js, FORM_ROUTES)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from backend.core.access import Rule, page
from backend.core.redirects import safe_next
from backend.notifications import selectors, services
from backend.notifications.context_processors import bell_for

PAGE_SIZE = 20


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and int(value) > 0 else None


@page(Rule.AUTHENTICATED)
@require_GET
def notifications_page(request):
    unread_only = request.GET.get("unread") == "1"
    before = _cursor(request.GET.get("before"))
    rows = selectors.page_of(request.user, before=before, unread_only=unread_only, size=PAGE_SIZE)
    context = {
        "nav": "notifications",
        "notifications": rows,
        "unread_only": unread_only,
        "before": before,
        "next_before": rows[-1].pk if len(rows) == PAGE_SIZE else None,
        "unread_count": bell_for(request).unread_count,  # the bell's count: one query for both
        "here": request.get_full_path(),
    }
    return render(request, "notifications/list.html", context)


@page(Rule.AUTHENTICATED)
@require_POST
def notification_read(request, notification_id: int):
    # Another user's id marks nothing (the service scopes to the user) and says nothing about it.
    services.notifications_mark_read(user=request.user, ids=[notification_id])
    return redirect(safe_next(request, reverse("notifications")))


@page(Rule.AUTHENTICATED)
@require_POST
def notifications_read_all(request):
    marked = services.notifications_mark_all_read(user=request.user)
    if marked:
        messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return redirect(safe_next(request, reverse("notifications")))
