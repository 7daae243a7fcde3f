"""/room/<code>/: the live room page, the page that says why one cannot enter (yet), and the
review form's target after the session."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backend.core.access import Rule, dashboard_url, page
from backend.core.errors import DomainError
from backend.marketplace import services as marketplace
from backend.marketplace.models import Booking, BookingState, Review, Session, SessionState
from backend.rooms import selectors


@page(Rule.AUTHENTICATED)
def room(request, code: str):
    try:
        access = selectors.room_access(request.user, code)
    except selectors.RoomRefused as refused:
        if refused.code == "not_found":
            raise Http404 from None
        return _gate(request, code, refused)
    config = {
        "code": code,
        "socket": f"/ws/room/{code}/",
        "me": {"user": request.user.pk, "name": request.user.full_name, "role": access.role},
        "session": selectors.session_summary(access.session),
        "booking": access.booking.pk if access.booking else None,
        "review_url": reverse("room-review", args=[code]) if access.role == "learner" else None,
        "dashboard_url": dashboard_url(request.user),
    }
    return render(request, "rooms/room.html", {"session": access.session, "room_config": config})


def _gate(request, code: str, refused: selectors.RoomRefused):
    """A member outside the window (or after the end) sees when the room opens or that it has
    closed, with the review form if they may still leave one; anyone else sees only that the
    room is not theirs."""
    context = {"reason": refused.code, "message": refused.message, "dashboard_url": dashboard_url(request.user)}
    if refused.code == "not_member":
        return render(request, "rooms/gate.html", context, status=403)
    session = Session.objects.get(room_code=code)
    opens, closes = selectors.window(session)
    context.update(session=session, opens_at=opens, closes_at=closes, can_review=False, review_url=None)
    booking = _own_booking(request.user, session)
    if booking is not None and session.state == SessionState.COMPLETED and booking.attended:
        context["can_review"] = not Review.objects.filter(booking=booking).exists()
        context["review_url"] = reverse("room-review", args=[code])
    return render(request, "rooms/gate.html", context)


def _own_booking(user, session: Session) -> Booking | None:
    return Booking.objects.filter(session=session, learner=user, state=BookingState.CONFIRMED).first()


@page(Rule.LEARNER)
@require_POST
def room_review(request, code: str):
    session = Session.objects.filter(room_code=code).first()
    booking = _own_booking(request.user, session) if session else None
    if booking is None:
        raise Http404
    try:
        rating = int(request.POST.get("rating", ""))
    except ValueError:
        rating = 0
    try:
        marketplace.review_create(
            learner=request.user, booking=booking, rating=rating, comment=request.POST.get("comment", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("room", code=code)
    messages.success(request, "Thanks for your review. It helps other learners choose.")
    return redirect("learner-booking", booking_id=booking.pk)
