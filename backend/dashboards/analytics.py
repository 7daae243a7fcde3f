"""Mentor analytics: bookings, followers, ratings and topics over time from real records.

Weeks run Monday to Sunday in the mentor's own timezone and are bucketed in the database
(TruncWeek with that zone), so each read costs a fixed number of queries however many bookings
there are. Money is not here: the money pages read the payments ledger (money_selectors).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from backend.accounts.models import User
from backend.marketplace.models import Booking, BookingState, Follow, Review, Session, SessionState

WEEK_CHOICES = (4, 12, 26, 52)
DEFAULT_WEEKS = 12
TOP_TOPICS = 10


def parse_weeks(value) -> int:
    """The `?weeks=` range; anything but one of the offered ranges falls back to the default."""
    try:
        weeks = int(value)
    except (TypeError, ValueError):
        return DEFAULT_WEEKS
    return weeks if weeks in WEEK_CHOICES else DEFAULT_WEEKS


def _zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _bucket_day(value: datetime | date, zone: ZoneInfo) -> date:
    """TruncWeek/TruncMonth return the local start of the bucket; SQLite and PostgreSQL agree on
    the zone but not on the Python type, so reduce both to a plain date."""
    if isinstance(value, datetime):
        return value.astimezone(zone).date() if timezone.is_aware(value) else value.date()
    return value


def normalise_topic(topic: str) -> str:
    """Topics are free text: collapse inner whitespace (compared case-insensitively by callers),
    the same way the learner's progress counts them (tabs.compute_progress)."""
    return " ".join(topic.split())


# --- mentor analytics ---------------------------------------------------------------------------
def _week_range(zone: ZoneInfo, weeks: int, now: datetime) -> list[date]:
    today = now.astimezone(zone).date()
    this_week = today - timedelta(days=today.weekday())
    return [this_week - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]


def _per_week(qs: QuerySet, field: str, zone: ZoneInfo, **aggregates) -> dict[date, dict]:
    rows = qs.annotate(week=TruncWeek(field, tzinfo=zone)).order_by().values("week").annotate(**aggregates)
    return {_bucket_day(row.pop("week"), zone): row for row in rows}


def _topic_ranking(rows) -> list[dict]:
    """rows of (topics, confirmed bookings) per session, newest session first (its spelling wins);
    a topic counts once per session however many case variants the session lists."""
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for topics, bookings in rows:
        names = {}
        for topic in (normalise_topic(t) for t in topics or [] if isinstance(t, str) and t.strip()):
            names.setdefault(topic.casefold(), topic)
        for key, topic in names.items():
            spelling.setdefault(key, topic)
            counts[key] += bookings
    ranked = sorted(((spelling[key], n) for key, n in counts.items() if n), key=lambda item: (-item[1], item[0]))
    return [{"topic": name, "bookings": n} for name, n in ranked[:TOP_TOPICS]]


def mentor_analytics(mentor: User, *, weeks: int = DEFAULT_WEEKS, now: datetime | None = None) -> dict:
    """Bookings, followers, ratings and topic popularity over the last `weeks` weeks (this week
    included), in six queries."""
    now = now or timezone.now()
    zone = _zone(mentor)
    week_starts = _week_range(zone, weeks, now)
    start = _local_midnight(week_starts[0], zone)
    end = _local_midnight(week_starts[-1] + timedelta(weeks=1), zone)
    in_range = {"session__starts_at__gte": start, "session__starts_at__lt": end}

    bookings = _per_week(
        Booking.objects.filter(session__mentor=mentor, state=BookingState.CONFIRMED, **in_range),
        "session__starts_at",
        zone,
        n=Count("id"),
    )
    follows = Follow.objects.filter(mentor=mentor)
    follow_totals = follows.aggregate(total=Count("id"), before=Count("id", filter=Q(created_at__lt=start)))
    new_follows = _per_week(
        follows.filter(created_at__gte=start, created_at__lt=end), "created_at", zone, n=Count("id")
    )
    reviews = Review.objects.filter(booking__session__mentor=mentor)
    ratings = _per_week(
        reviews.filter(created_at__gte=start, created_at__lt=end), "created_at", zone, avg=Avg("rating"), n=Count("id")
    )
    stars = dict(reviews.order_by().values_list("rating").annotate(n=Count("id")))
    # One row per session in range that had a confirmed seat or was taught: topics and fill rate.
    sessions = list(
        Session.objects.filter(mentor=mentor, starts_at__gte=start, starts_at__lt=end)
        .annotate(confirmed=Count("bookings", filter=Q(bookings__state=BookingState.CONFIRMED)))
        .filter(Q(confirmed__gt=0) | Q(state=SessionState.COMPLETED))
        .order_by("-starts_at", "-id")
        .values_list("topics", "state", "capacity", "confirmed")
    )

    series, followers = [], follow_totals["before"]
    for week in week_starts:
        followers += new_follows.get(week, {}).get("n", 0)
        rated = ratings.get(week)
        series.append(
            {
                "week": week,
                "label": f"{week:%-d %b}",
                "bookings": bookings.get(week, {}).get("n", 0),
                "new_followers": new_follows.get(week, {}).get("n", 0),
                "followers": followers,
                "rating_average": round(rated["avg"], 2) if rated else None,
                "rating_count": rated["n"] if rated else 0,
            }
        )
    review_count = sum(stars.values())
    completed = [(capacity, confirmed) for _, state, capacity, confirmed in sessions if state == SessionState.COMPLETED]
    offered, filled = sum(c for c, _ in completed), sum(n for _, n in completed)
    return {
        "weeks": weeks,
        "timezone": zone.key,
        "start": week_starts[0],
        "end": week_starts[-1] + timedelta(days=6),
        "totals": {
            "bookings": sum(row["bookings"] for row in series),
            "followers": follow_totals["total"],
            "new_followers": sum(row["new_followers"] for row in series),
            "rating_average": round(sum(s * n for s, n in stars.items()) / review_count, 2) if review_count else None,
            "review_count": review_count,
            "reviews_in_range": sum(row["rating_count"] for row in series),
            "completed_sessions": len(completed),
            "seats_offered": offered,
            "seats_filled": filled,
            "fill_rate": round(filled / offered, 4) if offered else None,
        },
        "by_week": series,
        "rating_distribution": [
            {
                "stars": s,
                "count": stars.get(s, 0),
                "percent": round(100 * stars.get(s, 0) / review_count) if review_count else 0,
            }
            for s in range(5, 0, -1)
        ],
        "topics": _topic_ranking((topics, confirmed) for topics, _, _, confirmed in sessions),
    }
