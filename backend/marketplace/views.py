"""Marketplace pages: landing, session and mentor discovery, booking and cancelling.
Thin doors: parse the query or form, call one selector or service, render."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from backend.accounts.models import Role
from backend.core.access import Rule, page
from backend.core.errors import DomainError
from backend.core.redirects import safe_next
from backend.core.templatetags.ui import rupees, viewer_zone
from backend.dashboards import tabs
from backend.dashboards.forms import RequestForm, apply_domain_error
from backend.marketplace import discovery, selectors, services
from backend.marketplace.models import BookingState, Domain, SessionState, WaitlistEntry, WaitlistState
from backend.payments.services import tippable
from backend.recommendations.signals import record_view

SESSIONS_PER_PAGE = 20
MENTORS_PER_PAGE = 24
BOOKINGS_PER_PAGE = 20


@page(Rule.PUBLIC)
def landing(request):
    domains = list(selectors.domains_with_counts())
    context = {
        "live_now": list(selectors.sessions_live_now()[:8]),
        "upcoming": list(selectors.sessions_upcoming(limit=12)),
        "domains": domains,
        "top_mentors": list(selectors.mentors_top(limit=8)),
    }
    return render(request, "marketplace/landing.html", context)


# --- filters --------------------------------------------------------------------------------------
def _domain_choices(empty_label: str) -> list[tuple[str, str]]:
    return [("", empty_label), *Domain.objects.order_by("position", "name").values_list("slug", "name")]


class SessionFilterForm(forms.Form):
    q = forms.CharField(
        label="Search sessions",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Topic, skill or mentor", "enterkeyhint": "search"}
        ),
    )
    domain = forms.ChoiceField(label="Category", required=False)
    price = forms.ChoiceField(
        label="Price", required=False, choices=[("", "Any price"), ("free", "Free only"), ("paid", "Paid only")]
    )
    max_price = forms.IntegerField(
        label="Max price (₹)",
        required=False,
        min_value=0,
        max_value=settings.MAX_SESSION_PRICE_PAISE // 100,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 1, "placeholder": "Any"}),
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    mentor = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = _domain_choices("All categories")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", "Pick a day on or after the start day.")
        return data

    def search_kwargs(self, zone) -> dict:
        """Arguments for `selectors.sessions_search`. Invalid fields are left out (and shown
        as errors), so one typo does not empty the page. Days are the viewer's days."""
        data = self.cleaned_data
        kwargs = {"q": data.get("q") or "", "domain": data.get("domain") or "", "mentor_id": data.get("mentor")}
        kwargs["free"] = {"free": True, "paid": False}.get(data.get("price") or "")
        if data.get("max_price") is not None:
            kwargs["price_max"] = data["max_price"] * 100
        if data.get("date_from"):
            kwargs["date_from"] = datetime.combine(data["date_from"], time.min, tzinfo=zone)
        if data.get("date_to"):
            kwargs["date_to"] = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
        return kwargs

    @property
    def is_filtered(self) -> bool:
        return any(value not in (None, "") for value in self.cleaned_data.values())


# --- cursor pages for the session list ------------------------------------------------------------
class BadCursor(ValueError):
    pass


def encode_cursor(session) -> str:
    """The position after `session` in (starts_at, id) order, opaque to the client."""
    raw = f"{session.starts_at.astimezone(UTC).isoformat()}|{session.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, int]:
    if not value or len(value) > 80:
        raise BadCursor
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True).decode()
        stamp, pk = raw.split("|")
        starts_at, pk = datetime.fromisoformat(stamp), int(pk)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadCursor from None
    if timezone.is_naive(starts_at) or pk < 1:
        raise BadCursor
    return starts_at, pk


def _after(qs: QuerySet, cursor: tuple[datetime, int]) -> QuerySet:
    starts_at, pk = cursor
    return qs.filter(Q(starts_at__gt=starts_at) | Q(starts_at=starts_at, pk__gt=pk))


def _query_with(request, **changes) -> str:
    params = request.GET.copy()
    params.pop("fragment", None)
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None:
            params[key] = value
    return f"?{params.urlencode()}" if params else "?"


@page(Rule.PUBLIC)
def session_list(request):
    """Search and filters as a plain GET form; `?after=` continues after a cursor, and
    `&fragment=1` answers with just the next cards for the infinite scroll script."""
    form = SessionFilterForm(request.GET)
    form.is_valid()  # errors are shown next to their fields; the valid ones still filter
    results = selectors.sessions_search(**form.search_kwargs(viewer_zone({"request": request})))
    fragment = request.GET.get("fragment") == "1"
    cursor_error = ""
    page_qs = results
    if "after" in request.GET:
        try:
            page_qs = _after(results, decode_cursor(request.GET["after"]))
        except BadCursor:
            cursor_error = "That link to more results is broken or out of date."
    if cursor_error and fragment:
        return render(request, "marketplace/_session_page.html", {"error": cursor_error}, status=400)
    # A whole page with a bad cursor still answers 400, but with the first results under the message.
    rows = list(page_qs[: SESSIONS_PER_PAGE + 1])
    sessions, has_next = selectors.sessions_with_details(rows[:SESSIONS_PER_PAGE]), len(rows) > SESSIONS_PER_PAGE
    context = {
        "sessions": sessions,
        "next_url": _query_with(request, after=encode_cursor(sessions[-1])) if has_next else "",
        "continued": "after" in request.GET and not cursor_error,
    }
    if fragment:
        return render(request, "marketplace/_session_page.html", context)
    mentor_id = form.cleaned_data.get("mentor")
    context.update(
        nav="sessions",
        form=form,
        cursor_error=cursor_error,
        first_url=_query_with(request, after=None),
        clear_mentor_url=_query_with(request, mentor=None, after=None),
        total=None if context["continued"] else results.count(),
        mentor_filter=discovery.listed_mentor_or_none(mentor_id) if mentor_id else None,
    )
    return render(request, "marketplace/sessions.html", context, status=400 if cursor_error else 200)


# --- session detail and booking -------------------------------------------------------------------
def _booking_box(user, session) -> str:
    """Which booking box the viewer sees: anonymous, learner, own (the session's mentor) or none."""
    if not user.is_authenticated:
        return "anonymous"
    if user.role == Role.LEARNER:
        return "learner"
    if session.mentor_id == user.pk:
        return "own"
    return ""


@page(Rule.PUBLIC)
def session_detail(request, session_id: int):
    session = selectors.get_session_for_viewer(request.user, session_id)
    mentor = session.mentor
    now = timezone.now()
    context = {
        "session": session,
        "mentor": mentor,
        "mentor_listed": mentor.is_active and mentor.is_approved_mentor,
        "mentor_rating": discovery.mentor_rating(mentor),
        "booking_box": _booking_box(request.user, session),
        "booking": discovery.active_booking_of(request.user, session),
        "waitlist_entry": _open_waitlist_entry(request.user, session),
        "bookable": session.state == SessionState.SCHEDULED and session.starts_at > now and not session.is_private,
        "hold_minutes": settings.BOOKING_HOLD_MINUTES,
        "refund_hours": settings.FULL_REFUND_HOURS_BEFORE,
        "nav": "sessions",
    }
    record_view(request.user, session=session)
    return render(request, "marketplace/session_detail.html", context)


def _open_waitlist_entry(user, session):
    if not user.is_authenticated or user.role != Role.LEARNER:
        return None
    return WaitlistEntry.objects.filter(session=session, learner=user, state=WaitlistState.WAITING).first()


@page(Rule.LEARNER)
@require_http_methods(["GET", "POST"])
def session_book(request, session_id: int):
    if request.method == "GET":  # e.g. after signing in from a stale form: show the session
        return redirect("session-detail", session_id=session_id)
    session = selectors.get_session_for_viewer(request.user, session_id)
    try:
        booking = services.booking_create(learner=request.user, session=session)
    except DomainError as exc:
        if exc.code == "already_booked":
            messages.info(request, "You're already booked for this session.")
        else:
            messages.error(request, exc.message)
    else:
        if booking.state == BookingState.CONFIRMED:
            messages.success(request, "You're booked. Add it to your calendar from the session page.")
        else:
            messages.success(
                request, f"Seat held for {settings.BOOKING_HOLD_MINUTES} minutes. Complete payment to confirm it."
            )
    return redirect("session-detail", session_id=session.pk)


@page(Rule.LEARNER)
@require_POST
def session_waitlist(request, session_id: int):
    session = selectors.get_session_for_viewer(request.user, session_id)
    try:
        if request.POST.get("leave"):
            entry = selectors.get_waitlist_entry_for_learner(request.user, int(request.POST["leave"]))
            services.waitlist_leave(learner=request.user, entry=entry)
            messages.info(request, "You left the waitlist.")
        else:
            services.waitlist_join(learner=request.user, session=session)
            messages.success(request, "You're on the waitlist. If a seat frees up, we'll hold it for you.")
    except (DomainError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", "That did not work."))
    return redirect("session-detail", session_id=session.pk)


@page(Rule.LEARNER)
@require_POST
def booking_claim(request, booking_id: int):
    booking = _own_booking(request, booking_id)
    try:
        services.booking_claim(learner=request.user, booking=booking)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The seat is yours. See you there!")
    return redirect("session-detail", session_id=booking.session_id)


def _own_booking(request, booking_id: int):
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if booking.learner_id != request.user.pk:  # the session's mentor may read it, not cancel it
        raise Http404
    return booking


def _is_active(booking) -> bool:
    return booking.state in (BookingState.HELD, BookingState.CONFIRMED) and not discovery.is_expired_hold(booking)


@page(Rule.LEARNER)
@require_http_methods(["GET", "POST"])
def booking_cancel(request, booking_id: int):
    """GET: what cancelling now gives back, and a confirm button. POST: cancel."""
    booking = _own_booking(request, booking_id)
    if request.method == "POST":
        try:
            booking = services.booking_cancel(learner=request.user, booking=booking)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("booking-cancel", booking_id=booking.pk)
        if booking.refund_paise:
            messages.success(
                request, f"Booking cancelled. {rupees(booking.refund_paise)} will be refunded to how you paid."
            )
        else:
            messages.success(request, "Booking cancelled. Your seat is free for someone else.")
        return redirect(safe_next(request, reverse("learner-bookings")))
    context = {
        "booking": booking,
        "session": booking.session,
        "active": _is_active(booking),
        "started": booking.session.starts_at <= timezone.now(),
        "quote": services.cancellation_quote(booking),
        "next": safe_next(request, ""),
        "refund_hours": settings.FULL_REFUND_HOURS_BEFORE,
        "nav": "bookings",
    }
    return render(request, "marketplace/booking_cancel.html", context)


# --- mentors --------------------------------------------------------------------------------------
class MentorFilterForm(forms.Form):
    q = forms.CharField(
        label="Search mentors",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, headline or skill", "enterkeyhint": "search"}
        ),
    )
    domain = forms.ChoiceField(label="Category", required=False)
    min_rating = forms.TypedChoiceField(
        label="Rating",
        required=False,
        coerce=float,
        empty_value=None,
        choices=[("", "Any rating"), ("4.5", "4.5 and up"), ("4", "4 and up"), ("3", "3 and up")],
    )
    available = forms.BooleanField(label="Has a session in the next 7 days", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = _domain_choices("All categories")

    def search_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "domain": data.get("domain") or "",
            "min_rating": data.get("min_rating"),
            "available_soon": bool(data.get("available")),
        }


@page(Rule.PUBLIC)
def mentor_list(request):
    form = MentorFilterForm(request.GET)
    form.is_valid()
    paginator = Paginator(discovery.mentors_search(**form.search_kwargs()), MENTORS_PER_PAGE)
    mentors = paginator.get_page(request.GET.get("page"))
    context = {
        "form": form,
        "mentors": mentors,
        "page_query": _query_with(request, page=None),
        "page_range": list(paginator.get_elided_page_range(mentors.number, on_each_side=1, on_ends=1)),
        "filtered": any(form.search_kwargs().values()),
        "nav": "mentors",
    }
    return render(request, "marketplace/mentors.html", context)


def _mentor_detail_context(request, mentor, *, request_form=None) -> dict:
    upcoming = selectors.sessions_with_details(selectors.sessions_search(mentor_id=mentor.pk)[:13])
    zone = viewer_zone({"request": request})
    is_learner = request.user.is_authenticated and request.user.role == Role.LEARNER
    if request_form is None and is_learner:
        request_form = RequestForm(zone=zone)
    return {
        "mentor": mentor,
        "profile": mentor.mentor_profile,
        "domains": discovery.mentor_domains(mentor),
        "sessions": upcoming[:12],
        "more_sessions": len(upcoming) > 12,
        "reviews": discovery.mentor_reviews(mentor, limit=10),
        "breakdown": discovery.mentor_rating_breakdown(mentor),
        "is_learner": is_learner,
        "following": tabs.is_following(request.user, mentor),
        "request_form": request_form,
        "availability": tabs.upcoming_availability(mentor, zone),
        "zone_name": zone.key,
        "now_local": timezone.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "nav": "mentors",
    }


@page(Rule.PUBLIC)
def mentor_detail(request, mentor_id: int):
    mentor = discovery.get_listed_mentor(mentor_id)
    record_view(request.user, mentor=mentor)
    return render(request, "marketplace/mentor_detail.html", _mentor_detail_context(request, mentor))


@page(Rule.LEARNER)
@require_http_methods(["GET", "POST"])
def mentor_request(request, mentor_id: int):
    """The profile's "Request a session" form. Refused input is shown on the profile again."""
    if request.method == "GET":  # e.g. after signing in from the form: show the profile
        return redirect("mentor-detail", mentor_id=mentor_id)
    mentor = discovery.get_listed_mentor(mentor_id)
    form = RequestForm(request.POST, zone=viewer_zone({"request": request}))
    if form.is_valid():
        try:
            sent = services.request_create(learner=request.user, mentor_id=mentor.pk, data=form.to_input())
        except DomainError as exc:
            apply_domain_error(form, exc, RequestForm.FIELD_MAP)
        else:
            messages.success(
                request,
                f"Request sent to {mentor.full_name}. You'll hear back before {_toast_time(request, sent.expires_at)}.",
            )
            return redirect("learner-requests")
    context = _mentor_detail_context(request, mentor, request_form=form)
    return render(request, "marketplace/mentor_detail.html", context, status=400)


def _toast_time(request, value) -> str:
    local = value.astimezone(viewer_zone({"request": request}))
    return f"{local:%a %-d %b, %-I:%M %p} {local:%Z}".replace("AM", "am").replace("PM", "pm")


@page(Rule.LEARNER)
@require_http_methods(["GET", "POST"])
def mentor_follow(request, mentor_id: int):
    if request.method == "GET":
        return redirect("mentor-detail", mentor_id=mentor_id)
    mentor = discovery.get_listed_mentor(mentor_id)
    try:
        if request.POST.get("action") == "unfollow":
            services.unfollow(learner=request.user, mentor_id=mentor.pk)
            messages.info(request, f"You unfollowed {mentor.full_name}.")
        else:
            services.follow(learner=request.user, mentor_id=mentor.pk)
            messages.success(request, f"Following {mentor.full_name}. You'll hear when they publish a session.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("mentor-detail", mentor_id=mentor.pk)


# --- learner bookings -----------------------------------------------------------------------------
@page(Rule.LEARNER)
def learner_bookings(request):
    when = request.GET.get("when")
    when = when if when in ("upcoming", "past") else "upcoming"
    paginator = Paginator(selectors.bookings_of_learner(request.user, when=when), BOOKINGS_PER_PAGE)
    bookings = paginator.get_page(request.GET.get("page"))
    now = timezone.now()
    for booking in bookings:
        booking.expired_hold = discovery.is_expired_hold(booking)
        booking.can_cancel = _is_active(booking) and booking.session.starts_at > now
    context = {"bookings": bookings, "when": when, "nav": "bookings", "page_query": _query_with(request, page=None)}
    return render(request, "dashboards/learner_bookings.html", context)


@page(Rule.LEARNER)
def learner_booking(request, booking_id: int):
    """One booking: the session, its state, the hold or the refund, and what can be done next."""
    booking = _own_booking(request, booking_id)
    session = booking.session
    now = timezone.now()
    expired_hold = discovery.is_expired_hold(booking)
    ongoing = session.state in (SessionState.SCHEDULED, SessionState.LIVE) and session.ends_at > now
    context = {
        "booking": booking,
        "session": session,
        "expired_hold": expired_hold,
        "upcoming": _is_active(booking) and ongoing,
        "can_cancel": _is_active(booking) and session.starts_at > now,
        "can_tip": tippable(booking, now=now),
        "room_opens_at": session.starts_at - timedelta(minutes=settings.ROOM_OPENS_MINUTES_BEFORE),
        "room_minutes": settings.ROOM_OPENS_MINUTES_BEFORE,
        "nav": "bookings",
    }
    return render(request, "dashboards/learner_booking.html", context)
