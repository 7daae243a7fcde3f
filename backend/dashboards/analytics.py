"""Mentor analytics and earnings, and the learner's payments: figures over time from real records.

Weeks run Monday to Sunday and months are calendar months, both in the mentor's own timezone, and
are bucketed in the database (TruncWeek / TruncMonth with that zone), so each read costs a fixed
number of queries however many bookings there are. Until the payments ledger exists, money is
what bookings record: the session's price per paid seat, less the refund stored on the booking.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone

from backend.accounts.models import User
from backend.marketplace.models import Booking, BookingState, Follow, Review, Session, SessionState

WEEK_CHOICES = (4, 12, 26, 52)
DEFAULT_WEEKS = 12
TOP_TOPICS = 10
EARNING_MONTHS = 12


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


def paid_booking_q(prefix: str = "") -> Q:
    """Bookings a learner paid for: confirmed ones, and cancelled ones that had been confirmed.
    Cancelling keeps `confirmed_at`, and a refund is only ever made on a confirmed seat, so a paid
    seat that was later refunded still counts in gross and its refund is taken off separately."""
    state, confirmed_at, refund = f"{prefix}state", f"{prefix}confirmed_at__isnull", f"{prefix}refund_paise__gt"
    return Q(**{state: BookingState.CONFIRMED}) | (
        Q(**{state: BookingState.CANCELLED}) & (Q(**{confirmed_at: False}) | Q(**{refund: 0}))
    )


def is_paid(booking: Booking) -> bool:
    """paid_booking_q for one booking already in memory."""
    if booking.state == BookingState.CONFIRMED:
        return True
    return booking.state == BookingState.CANCELLED and (booking.confirmed_at is not None or booking.refund_paise > 0)


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


# --- mentor earnings ----------------------------------------------------------------------------
def _money(row: dict) -> dict:
    gross, refunds = row.get("gross") or 0, row.get("refunds") or 0
    return {
        "gross_paise": gross,
        "refunds_paise": refunds,
        "net_paise": gross - refunds,
        "seats": row.get("seats") or 0,
    }


def _month_starts(zone: ZoneInfo, months: int, now: datetime) -> list[date]:
    first = now.astimezone(zone).date().replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return starts[::-1]


def _paid_bookings(mentor: User) -> QuerySet:
    return Booking.objects.filter(paid_booking_q(), session__mentor=mentor, session__price_paise__gt=0)


def earnings_this_month(mentor: User, *, now: datetime | None = None) -> dict:
    """The mentor home's snapshot: paid seats of sessions starting this (local) month. One query."""
    now = now or timezone.now()
    zone = _zone(mentor)
    start = _local_midnight(now.astimezone(zone).date().replace(day=1), zone)
    end = _local_midnight((start.date() + timedelta(days=32)).replace(day=1), zone)
    row = (
        _paid_bookings(mentor)
        .filter(session__starts_at__gte=start, session__starts_at__lt=end)
        .aggregate(gross=Sum("session__price_paise"), refunds=Sum("refund_paise"), seats=Count("id"))
    )
    return {"month": start.date(), **_money(row)}


def mentor_earnings(mentor: User, *, months: int = EARNING_MONTHS, now: datetime | None = None) -> dict:
    """Gross, refunds and net by month of the session's start (last `months` months, this one
    included), all-time totals and what is booked in sessions still to come. Two queries."""
    now = now or timezone.now()
    zone = _zone(mentor)
    month_starts = _month_starts(zone, months, now)
    paid = _paid_bookings(mentor)
    money = {"gross": Sum("session__price_paise"), "refunds": Sum("refund_paise"), "seats": Count("id")}
    totals = paid.aggregate(
        **money,
        upcoming_gross=Sum("session__price_paise", filter=Q(session__starts_at__gt=now)),
        upcoming_refunds=Sum("refund_paise", filter=Q(session__starts_at__gt=now)),
    )
    rows = (
        paid.filter(session__starts_at__gte=_local_midnight(month_starts[0], zone))
        .annotate(month=TruncMonth("session__starts_at", tzinfo=zone))
        .order_by()
        .values("month")
        .annotate(**money)
    )
    by_month = {_bucket_day(row.pop("month"), zone): _money(row) for row in rows}
    series = [{"month": month, "label": f"{month:%b %Y}", **by_month.get(month, _money({}))} for month in month_starts]
    return {
        "timezone": zone.key,
        "by_month": series,
        "this_month": series[-1],
        "last_months": _money(
            {
                "gross": sum(m["gross_paise"] for m in series),
                "refunds": sum(m["refunds_paise"] for m in series),
                "seats": sum(m["seats"] for m in series),
            }
        ),
        "totals": _money(totals),
        "upcoming_net_paise": (totals["upcoming_gross"] or 0) - (totals["upcoming_refunds"] or 0),
    }


def earning_sessions(mentor: User) -> QuerySet:
    """The mentor's paid sessions with at least one paid seat, newest first, each annotated with
    paid_seats, gross_paise, refunds_paise and net_paise (one grouped query, paginated by callers)."""
    paid = paid_booking_q("bookings__")
    return (
        Session.objects.filter(mentor=mentor, price_paise__gt=0)
        .annotate(
            paid_seats=Count("bookings", filter=paid),
            refunds_paise=Coalesce(Sum("bookings__refund_paise", filter=paid), 0),
        )
        .filter(paid_seats__gt=0)
        .annotate(gross_paise=F("price_paise") * F("paid_seats"))
        .annotate(net_paise=F("gross_paise") - F("refunds_paise"))
        .order_by("-starts_at", "-id")
    )


# --- learner payments ---------------------------------------------------------------------------
def learner_payment_bookings(learner: User) -> QuerySet:
    """The learner's bookings of paid sessions, newest first (paginated by the page)."""
    return (
        Booking.objects.filter(learner=learner, session__price_paise__gt=0)
        .select_related("session", "session__mentor")
        .order_by("-created_at", "-id")
    )


def learner_payment_totals(learner: User, *, now: datetime | None = None) -> dict:
    """Due now (live holds), paid and refunded, in one query."""
    now = now or timezone.now()
    row = Booking.objects.filter(learner=learner, session__price_paise__gt=0).aggregate(
        due=Sum("session__price_paise", filter=Q(state=BookingState.HELD, hold_expires_at__gt=now)),
        held=Count("id", filter=Q(state=BookingState.HELD, hold_expires_at__gt=now)),
        paid=Sum("session__price_paise", filter=paid_booking_q()),
        refunded=Sum("refund_paise"),
    )
    return {
        "due_paise": row["due"] or 0,
        "held": row["held"],
        "paid_paise": row["paid"] or 0,
        "refunded_paise": row["refunded"] or 0,
    }
