"""Dashboard pages: homes and the learner and mentor tabs. Thin doors: parse the form, call one
service (or read through a selector), then redirect with a toast or render."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat, pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts import services as account_services
from backend.accounts.models import Role, User
from backend.core.access import Rule, dashboard_url, page
from backend.core.errors import DomainError
from backend.core.redirects import safe_next
from backend.core.templatetags.ui import rupees, viewer_zone
from backend.dashboards import admin_reports, analytics, selectors, tabs
from backend.dashboards.forms import (
    AcceptRequestForm,
    AvailabilityForm,
    AwayDayForm,
    CancelSessionForm,
    CounterAnswerForm,
    CounterRequestForm,
    DeclineRequestForm,
    RescheduleForm,
    SessionForm,
    apply_domain_error,
)
from backend.marketplace import selectors as marketplace_selectors
from backend.marketplace import services
from backend.marketplace.models import SessionState


@page(Rule.AUTHENTICATED)
def dashboard_redirect(request):
    return redirect(dashboard_url(request.user))


@page(Rule.LEARNER)
def learner_home(request):
    data = selectors.learner_home(request.user)
    return render(
        request,
        "dashboards/learner_home.html",
        {"nav": "home", **data, **selectors.learner_home_recommended(request.user)},
    )


@page(Rule.MENTOR)
def mentor_home(request):
    data = selectors.mentor_home(request.user)
    tabs.with_proposed_times(data["pending_requests"])
    return render(request, "dashboards/mentor_home.html", {"nav": "home", **data})


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_home(request):
    data = selectors.admin_home(request.user)
    context = {"nav": "home", **data, **admin_reports.overview_context(data)}
    return render(request, "dashboards/admin_home.html", context)


@page(Rule.ADMIN)
@require_POST
def admin_mentor_decide(request, user_id):
    mentor = get_object_or_404(User, pk=user_id, role=Role.MENTOR)
    approve = request.POST.get("decision") == "approve"
    try:
        account_services.mentor_decide(
            admin=request.user, mentor=mentor, approve=approve, reason=request.POST.get("reason", ""), request=request
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{mentor.full_name} {'approved' if approve else 'rejected'}.")
    return redirect("dashboard-admin")


# --- shared helpers for the tabs --------------------------------------------------------------
TAB_PAGE_SIZE = 20


def _zone(request) -> ZoneInfo:
    return viewer_zone({"request": request})


def _when(value, zone: ZoneInfo) -> str:
    """A time for a toast, in the user's zone with the zone named (templates use local_time)."""
    local = value.astimezone(zone)
    return f"{local:%a %-d %b, %-I:%M %p} {local:%Z}".replace("AM", "am").replace("PM", "pm")


def _now_local(zone: ZoneInfo) -> str:
    return timezone.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _posted(request):
    """The POST data to bind a form to, or None on GET (an empty POST still binds)."""
    return request.POST if request.method == "POST" else None


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return "Please check the form."


# --- mentor: sessions -------------------------------------------------------------------------
@page(Rule.MENTOR)
def mentor_sessions(request):
    tab = request.GET.get("tab")
    tab = tab if tab in tabs.SESSION_TABS else "scheduled"
    sessions = Paginator(tabs.mentor_sessions_tab(request.user, tab), TAB_PAGE_SIZE).get_page(request.GET.get("page"))
    zone = _zone(request)
    context = {
        "nav": "sessions",
        "tab": tab,
        "sessions": sessions,
        "counts": tabs.mentor_session_counts(request.user),
        "zone_name": zone.key,
        "now_local": _now_local(zone),
        "this_page": request.get_full_path(),
    }
    return render(request, "dashboards/mentor_sessions.html", context)


def _sessions_tab_url(state: str) -> str:
    tab = next((name for name, states in tabs.SESSION_TABS.items() if state in states), "scheduled")
    return f"{reverse('mentor-sessions')}?tab={tab}"


def _save_session(request, form, session=None):
    """Create or update through the services; "Save and publish" publishes a draft after."""
    mentor = request.user
    try:
        if session is None:
            session = services.session_create(mentor=mentor, data=form.to_input())
        else:
            session = services.session_update(mentor=mentor, session=session, data=form.to_input())
    except DomainError as exc:
        apply_domain_error(form, exc, SessionForm.FIELD_MAP)
        return None
    if "publish" in request.POST and session.state == SessionState.DRAFT:
        try:
            session = services.session_publish(mentor=mentor, session=session)
        except DomainError as exc:
            # The draft is kept: the mentor fixes what blocked publishing without retyping.
            messages.warning(request, f"Saved as a draft, but not published: {exc.message}")
            return redirect("mentor-session-edit", session_id=session.pk)
        messages.success(request, f"“{session.title}” is published. Learners can book it now.")
    elif session.state == SessionState.DRAFT:
        messages.success(request, f"Draft “{session.title}” saved.")
    else:
        messages.success(request, f"“{session.title}” updated.")
    return redirect(_sessions_tab_url(session.state))


def _session_form_page(request, form, session=None, status=200):
    context = {
        "nav": "sessions",
        "form": form,
        "session": session,
        "can_publish": request.user.is_approved_mentor and (session is None or session.state == SessionState.DRAFT),
        "zone_name": _zone(request).key,
    }
    return render(request, "dashboards/mentor_session_form.html", context, status=status)


@page(Rule.MENTOR)
@require_http_methods(["GET", "POST"])
def mentor_session_new(request):
    form = SessionForm(_posted(request), zone=_zone(request))
    if request.method == "POST" and form.is_valid():
        response = _save_session(request, form)
        if response is not None:
            return response
    return _session_form_page(request, form, status=400 if form.errors else 200)


@page(Rule.MENTOR)
@require_http_methods(["GET", "POST"])
def mentor_session_edit(request, session_id: int):
    session = marketplace_selectors.get_session_for_mentor(request.user, session_id)
    if session.state not in (SessionState.DRAFT, SessionState.SCHEDULED):
        messages.info(
            request, f"“{session.title}” is {session.get_state_display().lower()}; it can no longer be edited."
        )
        return redirect(_sessions_tab_url(session.state))
    form = SessionForm(_posted(request), zone=_zone(request), session=session)
    if request.method == "POST" and form.is_valid():
        response = _save_session(request, form, session)
        if response is not None:
            return response
    return _session_form_page(request, form, session, status=400 if form.errors else 200)


@page(Rule.APPROVED_MENTOR)
@require_POST
def mentor_session_publish(request, session_id: int):
    session = marketplace_selectors.get_session_for_mentor(request.user, session_id)
    try:
        session = services.session_publish(mentor=request.user, session=session)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(safe_next(request, _sessions_tab_url(session.state)))
    messages.success(request, f"“{session.title}” is published. Learners can book it now.")
    return redirect(safe_next(request, _sessions_tab_url(session.state)))


@page(Rule.MENTOR)
@require_POST
def mentor_session_reschedule(request, session_id: int):
    session = marketplace_selectors.get_session_for_mentor(request.user, session_id)
    zone = _zone(request)
    form = RescheduleForm(request.POST, zone=zone)
    fallback = _sessions_tab_url(session.state)
    if not form.is_valid():
        messages.error(request, f"Not rescheduled: {_first_error(form)}")
        return redirect(safe_next(request, fallback))
    try:
        session = services.session_reschedule(
            mentor=request.user, session=session, starts_at=form.cleaned_data["starts_at"]
        )
    except DomainError as exc:
        messages.error(request, f"Not rescheduled: {exc.message}")
    else:
        messages.success(
            request, f"“{session.title}” now starts {_when(session.starts_at, zone)}. Booked learners are told."
        )
    return redirect(safe_next(request, fallback))


@page(Rule.MENTOR)
@require_http_methods(["GET", "POST"])
def mentor_session_cancel(request, session_id: int):
    """GET: who is refunded what, and a confirm button. POST: cancel."""
    session = marketplace_selectors.get_session_for_mentor(request.user, session_id)
    cancellable = session.state in (SessionState.DRAFT, SessionState.SCHEDULED)
    form = CancelSessionForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        quote = tabs.session_cancel_quote(session)
        try:
            session = services.session_cancel(mentor=request.user, session=session, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(_sessions_tab_url(session.state))
        if quote["refunded"]:
            messages.success(
                request,
                f"Session cancelled. {quote['refunded']} learner{pluralize(quote['refunded'])} "
                f"will get {rupees(quote['refund_each_paise'])} back.",
            )
        else:
            messages.success(request, "Session cancelled.")
        return redirect(_sessions_tab_url(session.state))
    context = {
        "nav": "sessions",
        "session": session,
        "form": form,
        "cancellable": cancellable,
        "quote": tabs.session_cancel_quote(session) if cancellable else None,
    }
    return render(request, "dashboards/mentor_session_cancel.html", context)


# --- mentor: requests -------------------------------------------------------------------------
def _mentor_request(request, request_id: int):
    found = marketplace_selectors.get_request_for_user(request.user, request_id)
    if found.mentor_id != request.user.pk:
        raise Http404
    return found


def _learner_request(request, request_id: int):
    found = marketplace_selectors.get_request_for_user(request.user, request_id)
    if found.learner_id != request.user.pk:
        raise Http404
    return found


@page(Rule.MENTOR)
def mentor_requests(request):
    zone = _zone(request)
    context = {
        "nav": "requests",
        **tabs.mentor_requests(request.user),
        "zone_name": zone.key,
        "now_local": _now_local(zone),
    }
    return render(request, "dashboards/mentor_requests.html", context)


@page(Rule.MENTOR)
@require_POST
def mentor_request_accept(request, request_id: int):
    session_request = _mentor_request(request, request_id)
    form = AcceptRequestForm(request.POST)
    fallback = reverse("mentor-requests")
    if not form.is_valid():
        messages.error(request, f"Not accepted: {_first_error(form)}")
        return redirect(safe_next(request, fallback))
    try:
        accepted = services.request_accept(
            mentor=request.user,
            request=session_request,
            starts_at=form.cleaned_data["starts_at"],
            version=form.cleaned_data["version"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Accepted: “{accepted.topic}” with {accepted.learner.full_name}, "
            f"{_when(form.cleaned_data['starts_at'], _zone(request))}.",
        )
    return redirect(safe_next(request, fallback))


@page(Rule.MENTOR)
@require_POST
def mentor_request_counter(request, request_id: int):
    session_request = _mentor_request(request, request_id)
    zone = _zone(request)
    form = CounterRequestForm(request.POST, zone=zone)
    fallback = reverse("mentor-requests")
    if not form.is_valid():
        messages.error(request, f"Counter-offer not sent: {_first_error(form)}")
        return redirect(safe_next(request, fallback))
    data = form.cleaned_data
    try:
        services.request_counter(
            mentor=request.user,
            request=session_request,
            starts_at=data["starts_at"],
            price_paise=data["price"],
            version=data["version"],
        )
    except DomainError as exc:
        messages.error(request, f"Counter-offer not sent: {exc.message}")
    else:
        messages.success(
            request,
            f"Counter-offer sent to {session_request.learner.full_name}: "
            f"{_when(data['starts_at'], zone)} for {rupees(data['price'])}.",
        )
    return redirect(safe_next(request, fallback))


@page(Rule.MENTOR)
@require_POST
def mentor_request_decline(request, request_id: int):
    session_request = _mentor_request(request, request_id)
    form = DeclineRequestForm(request.POST)
    fallback = reverse("mentor-requests")
    if not form.is_valid():
        messages.error(request, f"Not declined: {_first_error(form)}")
        return redirect(safe_next(request, fallback))
    try:
        services.request_decline(
            mentor=request.user,
            request=session_request,
            reason=form.cleaned_data["reason"],
            version=form.cleaned_data["version"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Declined. {session_request.learner.first_name} sees your reason.")
    return redirect(safe_next(request, fallback))


# --- mentor: availability ---------------------------------------------------------------------
@page(Rule.MENTOR)
@require_http_methods(["GET", "POST"])
def mentor_availability(request):
    mentor = request.user
    form = AvailabilityForm(_posted(request), windows=tabs.weekly_windows(mentor))
    if request.method == "POST" and form.is_valid():
        try:
            services.availability_replace(mentor=mentor, windows=form.cleaned_data["windows"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if form.cleaned_data["windows"]:
                messages.success(request, "Weekly hours saved.")
            else:
                messages.warning(request, "Weekly hours cleared: learners cannot request sessions until you add some.")
            return redirect("mentor-availability")
    zone = _zone(request)
    context = {
        "nav": "availability",
        "form": form,
        "away_form": AwayDayForm(),
        "away_days": tabs.away_days(mentor),
        "mentor_zone": zone.key,
        "today": timezone.now().astimezone(zone).date(),
    }
    return render(request, "dashboards/mentor_availability.html", context, status=400 if form.errors else 200)


@page(Rule.MENTOR)
@require_POST
def mentor_away(request):
    mentor = request.user
    today = timezone.now().astimezone(_zone(request)).date()
    if request.POST.get("remove"):
        form = AwayDayForm({"day": request.POST["remove"]})
        away = False
    else:
        form = AwayDayForm(request.POST)
        away = True
    if not form.is_valid():
        messages.error(request, _first_error(form))
    elif away and form.cleaned_data["day"] < today:
        messages.error(request, "Pick today or a later day.")
    else:
        day = form.cleaned_data["day"]
        try:
            services.availability_exception_set(mentor=mentor, day=day, away=away, note=form.cleaned_data["note"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            label = f"{day:%a %-d %b %Y}"
            messages.success(request, f"Away on {label}." if away else f"You're available again on {label}.")
    return redirect("mentor-availability")


# --- learner: requests and progress -----------------------------------------------------------
@page(Rule.LEARNER)
def learner_requests(request):
    context = {"nav": "requests", "requests": tabs.learner_requests(request.user)}
    return render(request, "dashboards/learner_requests.html", context)


@page(Rule.LEARNER)
@require_POST
def learner_request_answer(request, request_id: int):
    session_request = _learner_request(request, request_id)
    form = CounterAnswerForm(request.POST)
    fallback = reverse("learner-requests")
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(fallback)
    accept = form.cleaned_data["answer"] == "accept"
    try:
        answered = services.request_counter_answer(
            learner=request.user, request=session_request, accept=accept, version=form.cleaned_data["version"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if accept and answered.counter_price_paise:
            messages.success(request, "Accepted. Your seat is held: complete the payment to confirm it.")
        elif accept:
            messages.success(request, "Accepted. You're booked.")
        else:
            messages.info(request, "Counter-offer declined.")
    return redirect(fallback)


@page(Rule.LEARNER)
@require_POST
def learner_request_withdraw(request, request_id: int):
    session_request = _learner_request(request, request_id)
    try:
        services.request_withdraw(learner=request.user, request=session_request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Request to {session_request.mentor.full_name} withdrawn.")
    return redirect("learner-requests")


@page(Rule.LEARNER)
def learner_progress(request):
    context = {"nav": "progress", "progress": tabs.learner_progress(request.user)}
    return render(request, "dashboards/learner_progress.html", context)


# --- mentor: analytics (money pages: dashboards/money.py) ------------------------------------
def _plural(count: int, word: str) -> str:
    return f"{count} {word}{pluralize(count)}"


def _chart(kind: str, labels: list, datasets: list[dict], **options) -> dict:
    """What static/js/analytics.js draws: colours are design-token names, resolved in the browser
    so both themes look right."""
    return {"type": kind, "labels": labels, "datasets": datasets, **options}


def _panel(key: str, title: str, summary: str, chart: dict | None, columns: list[str], rows: list[list]) -> dict:
    """One chart card: the chart (None when there is nothing to draw), a text summary, and the
    same numbers as a table for screen readers and for anyone without the chart."""
    return {"key": key, "title": title, "summary": summary, "chart": chart, "columns": columns, "rows": rows}


def _bookings_panel(data: dict, labels: list[str], span: str) -> dict:
    series, total = data["by_week"], data["totals"]["bookings"]
    busiest = max(series, key=lambda row: row["bookings"])
    summary = f"No confirmed bookings in sessions over {span}."
    chart = None
    if total:
        summary = (
            f"{_plural(total, 'confirmed booking')} over {span}; "
            f"the busiest week was {busiest['label']} with {busiest['bookings']}."
        )
        chart = _chart(
            "bar", labels, [{"label": "Bookings", "data": [r["bookings"] for r in series], "color": "brand"}]
        )
    rows = [[r["label"], r["bookings"]] for r in series]
    return _panel("bookings", "Bookings per week", summary, chart, ["Week of", "Bookings"], rows)


def _followers_panel(data: dict, labels: list[str], span: str) -> dict:
    series, totals = data["by_week"], data["totals"]
    summary = "No followers yet. Learners follow you from your profile to hear about new sessions."
    chart = None
    if totals["followers"]:
        summary = f"{_plural(totals['followers'], 'follower')} now, {totals['new_followers']} new over {span}."
        chart = _chart(
            "line",
            labels,
            [
                {"label": "Followers", "data": [r["followers"] for r in series], "color": "accent", "fill": True},
                {"label": "New", "data": [r["new_followers"] for r in series], "color": "brand", "type": "bar"},
            ],
        )
    rows = [[r["label"], r["new_followers"], r["followers"]] for r in series]
    return _panel("followers", "Followers", summary, chart, ["Week of", "New", "Total"], rows)


def _ratings_panel(data: dict, labels: list[str], span: str) -> dict:
    series = data["by_week"]
    rated = sum(row["rating_count"] for row in series)
    summary = f"No reviews over {span}."
    chart = None
    if rated:
        average = sum((row["rating_average"] or 0) * row["rating_count"] for row in series) / rated
        summary = f"{_plural(rated, 'review')} over {span}, averaging {floatformat(average, 1)} stars."
        averages = [r["rating_average"] for r in series]
        chart = _chart(
            "line", labels, [{"label": "Average rating", "data": averages, "color": "star"}], y={"min": 0, "max": 5}
        )
    rows = [
        [r["label"], floatformat(r["rating_average"], 1) if r["rating_count"] else "—", r["rating_count"]]
        for r in series
    ]
    return _panel("ratings", "Average rating per week", summary, chart, ["Week of", "Average", "Reviews"], rows)


def _stars_panel(data: dict) -> dict:
    stars, totals = data["rating_distribution"], data["totals"]
    summary = "No reviews yet. Learners rate a session after it ends."
    chart = None
    if totals["review_count"]:
        summary = (
            f"{floatformat(totals['rating_average'], 1)} stars on average from "
            f"{_plural(totals['review_count'], 'review')}; {stars[0]['count']} gave five stars."
        )
        chart = _chart(
            "bar",
            [f"{row['stars']} star{pluralize(row['stars'])}" for row in stars],
            [{"label": "Reviews", "data": [row["count"] for row in stars], "color": "star"}],
            horizontal=True,
        )
    rows = [[row["stars"], row["count"], f"{row['percent']}%"] for row in stars]
    return _panel("stars", "Ratings, all time", summary, chart, ["Stars", "Reviews", "Share"], rows)


def _topics_panel(data: dict, span: str) -> dict:
    topics = data["topics"]
    summary = f"No booked topics over {span}. Add topics to your sessions to see which ones learners pick."
    chart = None
    if topics:
        top = topics[0]
        shown = f", of {len(topics)} topics shown" if len(topics) > 1 else ""
        summary = f"The most booked topic is {top['topic']} with {_plural(top['bookings'], 'booking')}{shown}."
        chart = _chart(
            "bar",
            [row["topic"] for row in topics],
            [{"label": "Bookings", "data": [row["bookings"] for row in topics], "color": "accent"}],
            horizontal=True,
        )
    rows = [[row["topic"], row["bookings"]] for row in topics]
    return _panel("topics", "Topic popularity", summary, chart, ["Topic", "Bookings"], rows)


def _analytics_panels(data: dict) -> list[dict]:
    labels = [row["label"] for row in data["by_week"]]
    span = f"the last {data['weeks']} weeks"
    return [
        _bookings_panel(data, labels, span),
        _followers_panel(data, labels, span),
        _ratings_panel(data, labels, span),
        _stars_panel(data),
        _topics_panel(data, span),
    ]


@page(Rule.MENTOR)
def mentor_analytics(request):
    weeks = analytics.parse_weeks(request.GET.get("weeks"))
    data = analytics.mentor_analytics(request.user, weeks=weeks)
    panels = _analytics_panels(data)
    totals = data["totals"]
    context = {
        "nav": "analytics",
        "a": data,
        "week_choices": analytics.WEEK_CHOICES,
        "panels": panels,
        "charts": {panel["key"]: panel["chart"] for panel in panels if panel["chart"]},
        "has_data": any(totals[k] for k in ("bookings", "followers", "review_count", "completed_sessions")),
    }
    return render(request, "dashboards/mentor_analytics.html", context)
