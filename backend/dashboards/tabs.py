"""Reads for the dashboard tabs (mentor sessions, requests, availability; learner requests and
progress). Built on the marketplace selectors; each list costs a fixed number of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.dashboards.forms import paise_to_rupees
from backend.marketplace import selectors
from backend.marketplace.models import (
    OPEN_REQUEST_STATES,
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    BookingState,
    Follow,
    RequestState,
    Session,
    SessionState,
)

ANSWERED_REQUESTS_SHOWN = 50

# --- mentor sessions --------------------------------------------------------------------------
SESSION_TABS = {
    "drafts": [SessionState.DRAFT],
    "scheduled": [SessionState.SCHEDULED, SessionState.LIVE],
    "past": [SessionState.COMPLETED, SessionState.CANCELLED],
}


def mentor_sessions_tab(mentor: User, tab: str) -> QuerySet:
    qs = selectors.sessions_of_mentor(mentor).filter(state__in=SESSION_TABS[tab])
    return qs.order_by("-starts_at", "-id") if tab == "past" else qs


def mentor_session_counts(mentor: User) -> dict[str, int]:
    counts = Session.objects.filter(mentor=mentor).aggregate(
        **{tab: Count("id", filter=Q(state__in=states)) for tab, states in SESSION_TABS.items()}
    )
    return {tab: counts[tab] or 0 for tab in SESSION_TABS}


def session_cancel_quote(session) -> dict:
    """What a mentor's cancel does to learners (mirrors services.session_cancel): confirmed
    seats are refunded what the session costs, unpaid holds are released."""
    now = timezone.now()
    counts = session.bookings.aggregate(
        confirmed=Count("id", filter=Q(state=BookingState.CONFIRMED)),
        held=Count("id", filter=Q(state=BookingState.HELD, hold_expires_at__gt=now)),
    )
    paid = counts["confirmed"] if session.price_paise else 0
    return {
        "confirmed": counts["confirmed"],
        "refunded": paid,
        "refund_each_paise": session.price_paise,
        "refund_total_paise": paid * session.price_paise,
        "held": counts["held"],
    }


# --- requests ---------------------------------------------------------------------------------
def _decorate(requests, now: datetime):
    for request in requests:
        request.proposed = [datetime.fromisoformat(t) for t in request.preferred_times or []]
        request.budget_rupees = paise_to_rupees(request.budget_paise)
        request.is_open = request.state in OPEN_REQUEST_STATES and request.expires_at > now
        # The periodic job marks lapsed requests; until it runs they read as expired here too.
        due = request.state in OPEN_REQUEST_STATES and not request.is_open
        request.shown_state = RequestState.EXPIRED if due else request.state
        request.shown_state_label = RequestState(request.shown_state).label
    return requests


def with_proposed_times(requests) -> list:
    return _decorate(list(requests), timezone.now())


def mentor_requests(mentor: User) -> dict:
    now = timezone.now()
    received = selectors.requests_of_user(mentor)
    pending = received.filter(state=RequestState.PENDING, expires_at__gt=now).order_by("expires_at", "id")
    answered = received.exclude(state=RequestState.PENDING, expires_at__gt=now)[:ANSWERED_REQUESTS_SHOWN]
    return {"pending": _decorate(list(pending), now), "answered": _decorate(list(answered), now)}


def learner_requests(learner: User) -> list:
    return _decorate(list(selectors.requests_of_user(learner)[:100]), timezone.now())


# --- availability -----------------------------------------------------------------------------
def weekly_windows(mentor: User) -> list[AvailabilityWindow]:
    return list(AvailabilityWindow.objects.filter(mentor=mentor).order_by("weekday", "start_time"))


def away_days(mentor: User) -> list[AvailabilityException]:
    today = timezone.now().astimezone(ZoneInfo(mentor.timezone)).date()
    return list(AvailabilityException.objects.filter(mentor=mentor, date__gte=today).order_by("date")[:60])


def upcoming_availability(mentor: User, viewer_zone: ZoneInfo, *, days: int = 7, now=None) -> list[dict]:
    """The mentor's open hours over the next `days` days as concrete times, grouped by the
    viewer's own days. Computed per date rather than per weekday, so daylight-saving changes on
    either side shift the hours the way they really will."""
    now = now or timezone.now()
    zone = ZoneInfo(mentor.timezone)
    first = now.astimezone(zone).date()
    windows = weekly_windows(mentor)
    away = set(
        AvailabilityException.objects.filter(
            mentor=mentor, date__gte=first, date__lte=first + timedelta(days=days)
        ).values_list("date", flat=True)
    )
    # A window already under way is shown from the next quarter hour, not from its past start.
    soonest = now.replace(second=0, microsecond=0) + timedelta(minutes=-now.minute % 15 or 15)
    grouped: dict[date, dict] = {}
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        for window in (w for w in windows if w.weekday == day.weekday()):
            start = datetime.combine(day, window.start_time, tzinfo=zone)
            end = datetime.combine(day, window.end_time, tzinfo=zone)
            start = max(start, soonest)
            if end <= start:
                continue
            local_day = start.astimezone(viewer_zone).date()
            entry = grouped.setdefault(local_day, {"day": local_day, "slots": [], "away": False})
            if day in away:
                entry["away"] = True
            else:
                next_day = end.astimezone(viewer_zone).date() > local_day
                entry["slots"].append({"start": start, "end": end, "next_day": next_day})
    last = now.astimezone(viewer_zone).date() + timedelta(days=days)
    return [grouped[d] for d in sorted(grouped) if d < last]


# --- follows ----------------------------------------------------------------------------------
def is_following(user, mentor: User) -> bool:
    if not (user.is_authenticated and user.role == "learner"):
        return False
    return Follow.objects.filter(learner=user, mentor=mentor).exists()


# --- learner progress -------------------------------------------------------------------------
@dataclass(frozen=True)
class Badge:
    key: str
    title: str
    description: str
    current: float
    target: float
    unit: str

    @property
    def earned(self) -> bool:
        return self.current >= self.target

    @property
    def remaining(self) -> float:
        return max(0, round(self.target - self.current, 1))

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.current / self.target)) if self.target else 100

    @property
    def remaining_label(self) -> str:
        remaining = self.remaining
        number = int(remaining) if float(remaining).is_integer() else remaining
        unit = self.unit if number == 1 else f"{self.unit}s"
        return f"{number} more {unit}"


@dataclass
class Progress:
    hours_learned: float = 0.0
    sessions_completed: int = 0
    topics: list[tuple[str, int]] = field(default_factory=list)
    streak_weeks: int = 0
    best_streak_weeks: int = 0
    active_this_week: bool = False
    badges: list[Badge] = field(default_factory=list)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _streaks(weeks: set[date], this_week: date) -> tuple[int, int, bool]:
    """(current streak, best streak, active this week) over Monday-dated ISO weeks. A week
    without a session yet does not break the streak until it is over."""
    current, cursor = 0, this_week if this_week in weeks else this_week - timedelta(weeks=1)
    while cursor in weeks:
        current += 1
        cursor -= timedelta(weeks=1)
    best, run, previous = 0, 0, None
    for week in sorted(weeks):
        run = run + 1 if previous is not None and week - previous == timedelta(weeks=1) else 1
        best, previous = max(best, run), week
    return current, best, this_week in weeks


def compute_progress(rows, zone: ZoneInfo, today: date) -> Progress:
    """Progress from completed sessions: rows of (starts_at, duration_minutes, topics)."""
    rows = list(rows)
    minutes = sum(duration for _, duration, _ in rows)
    topic_counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for _, _, topics in rows:
        for topic in {" ".join(t.split()) for t in topics or [] if t and t.strip()}:
            key = topic.casefold()
            spelling.setdefault(key, topic)
            topic_counts[key] += 1
    weeks = {_week_start(starts_at.astimezone(zone).date()) for starts_at, _, _ in rows}
    current, best, active = _streaks(weeks, _week_start(today))
    hours = round(minutes / 60, 1)
    sessions = len(rows)
    badges = [
        Badge("first", "First session", "Complete your first session", sessions, 1, "session"),
        Badge("five", "Five sessions", "Complete 5 sessions", sessions, 5, "session"),
        Badge("ten_hours", "10 hours", "Learn for 10 hours", hours, 10, "hour"),
        Badge("streak", "3-week streak", "Learn 3 weeks in a row", best, 3, "week"),
        Badge("explorer", "Explorer", "Cover 5 different topics", len(topic_counts), 5, "topic"),
    ]
    return Progress(
        hours_learned=hours,
        sessions_completed=sessions,
        topics=sorted(((spelling[k], n) for k, n in topic_counts.items()), key=lambda item: (-item[1], item[0])),
        streak_weeks=current,
        best_streak_weeks=best,
        active_this_week=active,
        badges=badges,
    )


def learner_progress(learner: User, *, now: datetime | None = None) -> Progress:
    """Counted like the learner home: confirmed bookings of sessions that were completed."""
    now = now or timezone.now()
    zone = ZoneInfo(learner.timezone)
    rows = Booking.objects.filter(
        learner=learner, state=BookingState.CONFIRMED, session__state=SessionState.COMPLETED
    ).values_list("session__starts_at", "session__duration_minutes", "session__topics")
    return compute_progress(rows, zone, now.astimezone(zone).date())
