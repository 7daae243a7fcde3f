"""The admin sessions pages (a filtered list, a session's own page with its bookings, payments
and attendance, and "Cancel session") and the feedback inbox (reviews, newest first), each
with a streamed CSV of what the filters show. Thin doors: reads through
admin_sessions_selectors, the one write through marketplace.services.session_cancel_by_admin;
a refusal is shown and nothing is written.

Every page answers with `Cache-Control: no-store` (never_cache): they hold learners' names and
e-mails, which must not land in the service worker's page cache. Mounted under
/dashboard/admin/ by dashboards/urls.py."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from backend.accounts.audit import audit_record
from backend.core.access import Rule, page
from backend.core.csv_export import csv_download, csv_lines, csv_rupees, csv_text
from backend.core.errors import DomainError
from backend.core.templatetags.ui import viewer_zone
from backend.dashboards import admin_sessions_selectors as selectors
from backend.dashboards.forms import apply_domain_error
from backend.dashboards.money import inr
from backend.marketplace import services
from backend.marketplace.models import SessionState

WHEN_CHOICES = [
    (selectors.WHEN_UPCOMING, "Upcoming"),  # live ones too: the list says so
    (selectors.WHEN_PAST, "Past"),
    (selectors.WHEN_ALL, "Any time"),
]
PRICE_CHOICES = [("", "Any price"), ("free", "Free only"), ("paid", "Paid only")]
RATING_CHOICES = [
    ("", "Any rating"),
    (selectors.RATING_LOW, "2★ or fewer (needs attention)"),
    *((str(n), f"{n}★ only") for n in range(5, 0, -1)),
]


def _query(request) -> str:
    """The filters as a query string, for the CSV link and the page links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- sessions ---------------------------------------------------------------------------------
class SessionFilterForm(forms.Form):
    mentor = forms.CharField(
        label="Mentor e-mail",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Mentor e-mail", "enterkeyhint": "search"}),
    )
    when = forms.ChoiceField(label="When", required=False, choices=WHEN_CHOICES)
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Any state"), *SessionState.choices])
    price = forms.ChoiceField(label="Price", required=False, choices=PRICE_CHOICES)
    date_from = forms.DateField(label="Starts from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="Starts until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", "Pick a day on or after the first day.")
        return data

    def filters(self, zone) -> selectors.SessionFilter:
        """The valid fields as filters (an invalid one is left out and shown as an error, so a
        typo does not empty the page). Days are the admin's own days."""
        self.is_valid()
        data = self.cleaned_data
        starts_from = starts_before = None
        if data.get("date_from"):
            starts_from = datetime.combine(data["date_from"], time.min, tzinfo=zone)
        if data.get("date_to"):
            starts_before = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
        return selectors.SessionFilter(
            state=data.get("state") or "",
            when=data.get("when") or selectors.WHEN_UPCOMING,
            starts_from=starts_from,
            starts_before=starts_before,
            mentor=data.get("mentor") or "",
            price=data.get("price") or "",
        )


def _session_filters(request) -> tuple[SessionFilterForm, selectors.SessionFilter]:
    form = SessionFilterForm(request.GET)
    return form, form.filters(viewer_zone({"request": request}))


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_sessions(request):
    form, filters = _session_filters(request)
    sessions = selectors.sessions_for_admin(request.user, filters)
    context = {
        "nav": "sessions",
        "form": form,
        "filters": filters,
        "filtered": filters.active,
        "sessions": selectors.page_of(sessions, selectors.page_number(request.GET.get("page"))),
        "query": _query(request),
    }
    return render(request, "dashboards/admin_sessions.html", context)


SESSION_CSV_HEADER = [
    "Session",
    "Title",
    "Mentor",
    "Mentor e-mail",
    "Category",
    "Starts (UTC)",
    "Minutes",
    "State",
    "Seats taken",
    "Capacity",
    "Price (INR)",
    "Private",
    "Created (UTC)",
]


def _session_rows(sessions):
    # .iterator(): an export of every session must not hold them all in memory at once.
    for s in sessions.iterator(chunk_size=500):
        yield [
            s.pk,
            csv_text(s.title),
            csv_text(s.mentor.full_name),
            csv_text(s.mentor.email),
            s.domain.name,
            f"{s.starts_at:%Y-%m-%d %H:%M}",
            s.duration_minutes,
            s.get_state_display(),
            s.seats_taken,
            s.capacity,
            csv_rupees(s.price_paise),
            "yes" if s.is_private else "no",
            f"{s.created_at:%Y-%m-%d %H:%M}",
        ]


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_sessions_csv(request):
    _, filters = _session_filters(request)
    sessions = selectors.sessions_for_admin(request.user, filters)
    audit_record(action="export.sessions", actor=request.user, request=request, filters=filters.as_audit())
    lines = csv_lines(SESSION_CSV_HEADER, _session_rows(sessions))
    return csv_download(request, lines, f"peerlearn-sessions-{timezone.now():%Y-%m-%d}.csv")


class AdminCancelForm(forms.Form):
    reason = forms.CharField(
        label="Why (sent to the learners and the mentor, kept in the audit log)",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why the session is cancelled."},
    )


def _session_page(request, detail: selectors.SessionDetail, form: AdminCancelForm, status: int = 200):
    context = {"nav": "sessions", "detail": detail, "session": detail.session, "form": form, "quote": detail.quote}
    return render(request, "dashboards/admin_session.html", context, status=status)


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_session(request, session_id: int):
    detail = selectors.get_session_for_admin(request.user, session_id)
    return _session_page(request, detail, AdminCancelForm())


@page(Rule.ADMIN)
@never_cache
@require_POST
def admin_session_cancel(request, session_id: int):
    detail = selectors.get_session_for_admin(request.user, session_id)
    form = AdminCancelForm(request.POST)
    if not form.is_valid():
        return _session_page(request, detail, form, status=400)
    quote = detail.quote
    try:
        services.session_cancel_by_admin(
            admin=request.user, session=detail.session, reason=form.cleaned_data["reason"], request=request
        )
    except DomainError as exc:
        if exc.fields:
            apply_domain_error(form, exc)
            return _session_page(request, detail, form, status=400)
        # The session moved on meanwhile (cancelled by someone else, completed): the page, read
        # afresh, shows where it stands.
        messages.error(request, exc.message)
        return redirect("admin-session", session_id=session_id)
    if quote["refunded"]:
        refunds = (
            f"{quote['refunded']} learner{pluralize(quote['refunded'])} will get "
            f"{inr(quote['refund_each_paise'])} back each"
        )
    elif quote["confirmed"]:
        refunds = f"{quote['confirmed']} learner{pluralize(quote['confirmed'])} booked, nothing paid to refund"
    else:
        refunds = "Nobody had booked"
    messages.success(request, f"Session cancelled. {refunds}; everyone booked and the mentor are told.")
    return redirect("admin-session", session_id=session_id)


# --- feedback ---------------------------------------------------------------------------------
class ReviewFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Words in the comment or session title", "enterkeyhint": "search"}
        ),
    )
    rating = forms.ChoiceField(label="Rating", required=False, choices=RATING_CHOICES)
    mentor = forms.CharField(
        label="Mentor e-mail",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Mentor e-mail"}),
    )
    has_comment = forms.BooleanField(label="With a comment only", required=False)

    def filters(self) -> selectors.ReviewFilter:
        self.is_valid()
        data = self.cleaned_data
        return selectors.ReviewFilter(
            rating=data.get("rating") or "",
            mentor=data.get("mentor") or "",
            has_comment=bool(data.get("has_comment")),
            q=data.get("q") or "",
        )


def _review_filters(request) -> tuple[ReviewFilterForm, selectors.ReviewFilter]:
    form = ReviewFilterForm(request.GET)
    return form, form.filters()


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_feedback(request):
    form, filters = _review_filters(request)
    reviews = selectors.reviews_for_admin(request.user, filters)
    context = {
        "nav": "feedback",
        "form": form,
        "filtered": filters.active,
        "reviews": selectors.page_of(reviews, selectors.page_number(request.GET.get("page"))),
        "query": _query(request),
    }
    return render(request, "dashboards/admin_feedback.html", context)


FEEDBACK_CSV_HEADER = [
    "Review",
    "Created (UTC)",
    "Rating",
    "Comment",
    "Learner",
    "Learner e-mail",
    "Mentor",
    "Mentor e-mail",
    "Session",
    "Title",
    "Session starts (UTC)",
    "Booking",
]


def _review_rows(reviews):
    for r in reviews.iterator(chunk_size=500):
        booking, session = r.booking, r.booking.session
        yield [
            r.pk,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.rating,
            csv_text(r.comment),
            csv_text(booking.learner.full_name),
            csv_text(booking.learner.email),
            csv_text(session.mentor.full_name),
            csv_text(session.mentor.email),
            session.pk,
            csv_text(session.title),
            f"{session.starts_at:%Y-%m-%d %H:%M}",
            booking.pk,
        ]


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_feedback_csv(request):
    _, filters = _review_filters(request)
    reviews = selectors.reviews_for_admin(request.user, filters)
    audit_record(action="export.feedback", actor=request.user, request=request, filters=filters.as_audit())
    lines = csv_lines(FEEDBACK_CSV_HEADER, _review_rows(reviews))
    return csv_download(request, lines, f"peerlearn-feedback-{timezone.now():%Y-%m-%d}.csv")


urlpatterns = [
    path("sessions/", admin_sessions, name="admin-sessions"),
    path("sessions/export.csv", admin_sessions_csv, name="admin-sessions-csv"),
    path("sessions/<int:session_id>/", admin_session, name="admin-session"),
    path("sessions/<int:session_id>/cancel/", admin_session_cancel, name="admin-session-cancel"),
    path("feedback/", admin_feedback, name="admin-feedback"),
    path("feedback/export.csv", admin_feedback_csv, name="admin-feedback-csv"),
]
