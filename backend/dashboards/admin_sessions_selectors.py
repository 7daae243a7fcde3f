"""Reads for the admin sessions and feedback pages. Each entry point takes the admin and refuses
anyone else (Http404), so a page cannot leak data by forgetting its access rule.

Both lists are read a page at a time without COUNT(*): the sessions table holds a mentor's every
session ever (100,000 in the Marketplace benchmark), and a count over a filtered table would cost
more than the page itself. A page reads one row more than it shows to know whether there is a
next one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import AuditEvent, Role, User
from backend.core.access import require_admin
from backend.marketplace.models import Booking, BookingState, Review, Session, SessionState
from backend.marketplace.selectors import with_seats
from backend.marketplace.services import ADMIN_CANCELLABLE
from backend.payments.models import OrderPurpose, OrderState, PaymentOrder, Refund, RefundState
from backend.rooms.models import Presence, RoomState

PAGE_SIZE = 25
MAX_PAGE = 2_000  # deeper offsets cost a scan each; narrow the filters instead


def _mentors_matching(text: str) -> QuerySet[User]:
    # A semi-join on the (few) mentors whose e-mail matches, rather than a LIKE evaluated on the
    # join with every session row.
    return User.objects.filter(role=Role.MENTOR, email__icontains=text).values("pk")


# --- pages without a count --------------------------------------------------------------------
@dataclass
class Page:
    """The slice of a list a page shows, with the names Django's Page has, so templates read
    the same; `has_next` comes from the one extra row read."""

    object_list: list
    number: int
    has_next: bool

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def page_number(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def page_of(queryset: QuerySet, number: int, size: int = PAGE_SIZE) -> Page:
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return Page(rows[:size], number, len(rows) > size)


# --- sessions ---------------------------------------------------------------------------------
WHEN_UPCOMING, WHEN_PAST, WHEN_ALL = "upcoming", "past", "all"
# A live session is completed by the room-closing job 15 minutes after its end, and sessions last
# at most 4 hours: one that started longer ago than this and is still live is stuck, and listed
# with the past ones. Kept short: the upcoming list's index walk skips what started since then.
LIVE_LOOKBACK = timedelta(hours=6)


@dataclass(frozen=True)
class SessionFilter:
    state: str = ""
    when: str = WHEN_UPCOMING  # upcoming (and live): soonest first; past and all: latest first
    starts_from: datetime | None = None  # starts_at >= this
    starts_before: datetime | None = None  # starts_at < this
    mentor: str = ""  # part of the mentor's e-mail
    price: str = ""  # "free" or "paid"

    @property
    def active(self) -> bool:
        dates = self.starts_from or self.starts_before
        return bool(self.state or self.when != WHEN_UPCOMING or dates or self.mentor or self.price)

    def as_audit(self) -> dict:
        """What an export's audit entry records of the filters (JSON-safe)."""
        return {
            "state": self.state,
            "when": self.when,
            "starts_from": self.starts_from.isoformat() if self.starts_from else "",
            "starts_before": self.starts_before.isoformat() if self.starts_before else "",
            "mentor": self.mentor,
            "price": self.price,
        }


SESSION_COLUMNS = (
    "id",
    "title",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "state",
    "capacity",
    "price_paise",
    "is_private",
    "created_at",
    "mentor__id",
    "mentor__full_name",
    "mentor__email",
    "domain__id",
    "domain__name",
)


def sessions_for_admin(admin: User, filters: SessionFilter, *, now: datetime | None = None) -> QuerySet[Session]:
    """Sessions with their mentor, domain and seats taken (a correlated count that runs only for
    the rows read), narrowed by the filters. Upcoming ones (and live ones, which may overrun)
    come soonest first; past ones, or all, the latest first. Every order walks the starts_at
    index from near now (checked with EXPLAIN on 100,000 sessions: a page skips at most the
    sessions of the last six hours, never the other half of the table)."""
    require_admin(admin)
    now = now or timezone.now()
    sessions = Session.objects.select_related("mentor", "domain").only(*SESSION_COLUMNS)
    if filters.state:
        sessions = sessions.filter(state=filters.state)
    if filters.starts_from:
        sessions = sessions.filter(starts_at__gte=filters.starts_from)
    if filters.starts_before:
        sessions = sessions.filter(starts_at__lt=filters.starts_before)
    if mentor := filters.mentor.strip():
        sessions = sessions.filter(mentor__in=_mentors_matching(mentor))
    if filters.price == "free":
        sessions = sessions.filter(price_paise=0)
    elif filters.price == "paid":
        sessions = sessions.filter(price_paise__gt=0)
    # Upcoming and past split every session in two. Both are bounded on starts_at, so the index
    # walk starts near now instead of filtering its way through all of the other half first.
    recent = now - LIVE_LOOKBACK
    live_now = Q(state=SessionState.LIVE, starts_at__gte=recent)
    if filters.when == WHEN_UPCOMING:
        sessions = sessions.filter(Q(ends_at__gt=now) | live_now, starts_at__gte=recent).order_by("starts_at", "id")
    elif filters.when == WHEN_PAST:
        sessions = sessions.filter(starts_at__lt=now, ends_at__lte=now).exclude(live_now).order_by("-starts_at", "-id")
    else:
        sessions = sessions.order_by("-starts_at", "-id")
    return with_seats(sessions)


@dataclass
class BookingLine:
    booking: Booking
    paid_paise: int = 0  # captured for the seat (session orders, paid or since refunded)
    orders: list[PaymentOrder] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded_paise(self) -> int:
        return sum(r.amount_paise for r in self.refunds if r.state == RefundState.PROCESSED)

    @property
    def refunding_paise(self) -> int:
        return sum(r.amount_paise for r in self.refunds if r.state == RefundState.REQUESTED)


@dataclass
class Attendance:
    """One person's time in the room, from their presence rows (one per socket)."""

    user: User
    role: str
    first_joined: datetime
    last_left: datetime | None  # None while a socket is still open
    connections: int
    seconds: int

    @property
    def minutes(self) -> int:
        return round(self.seconds / 60)


@dataclass
class SessionDetail:
    session: Session
    bookings: list[BookingLine]
    attendance: list[Attendance]
    room: RoomState | None
    history: list[AuditEvent]

    @property
    def cancellable(self) -> bool:
        return self.session.state in ADMIN_CANCELLABLE

    @property
    def quote(self) -> dict:
        """What an admin's cancel gives back (mirrors marketplace.services._cancel_session): each
        confirmed seat paid through the gateway is refunded in full (what is left of its
        payment), held seats are released. A confirmed seat with no gateway payment (demo data)
        has nothing to go back through Razorpay."""
        price = self.session.price_paise
        seats = [line for line in self.bookings if line.booking.state == BookingState.CONFIRMED]
        paid = [line for line in seats if price and line.paid_paise]
        left = [min(price, line.paid_paise - line.refunded_paise - line.refunding_paise) for line in paid]
        return {
            "confirmed": len(seats),
            "held": sum(1 for line in self.bookings if line.booking.state == BookingState.HELD),
            "refunded": len(paid),
            "unpaid": len(seats) - len(paid) if price else 0,
            "refund_each_paise": price,
            "refund_total_paise": sum(max(amount, 0) for amount in left),
        }


def _attendance(session: Session) -> list[Attendance]:
    presences = (
        Presence.objects.filter(session=session)
        .select_related("user")
        .only("role", "joined_at", "last_seen_at", "left_at", "user__id", "user__full_name", "user__email")
        .order_by("joined_at", "id")
    )
    people: dict[int, Attendance] = {}
    for presence in presences:
        end = presence.left_at or presence.last_seen_at
        seconds = max(int((end - presence.joined_at).total_seconds()), 0)
        seen = people.get(presence.user_id)
        if seen is None:
            people[presence.user_id] = Attendance(
                presence.user, presence.role, presence.joined_at, presence.left_at, 1, seconds
            )
            continue
        seen.connections += 1
        seen.seconds += seconds
        if seen.last_left is not None:
            seen.last_left = None if presence.left_at is None else max(seen.last_left, presence.left_at)
    return list(people.values())


def get_session_for_admin(admin: User, session_id: int) -> SessionDetail:
    """One session with every booking (learner, what they paid, refunds), the room's attendance
    and clock, and the admin actions on it: a query each, whatever the number of bookings."""
    require_admin(admin)
    session = with_seats(Session.objects.select_related("mentor", "domain").filter(pk=session_id)).first()
    if session is None:
        raise Http404
    bookings = list(
        Booking.objects.filter(session=session)
        .select_related("learner")
        .only(
            "id",
            "session_id",
            "state",
            "created_at",
            "confirmed_at",
            "cancelled_at",
            "cancelled_by",
            "refund_paise",
            "attended",
            "hold_expires_at",
            "learner__id",
            "learner__full_name",
            "learner__email",
        )
        .order_by("created_at", "id")
    )
    lines = {b.pk: BookingLine(b) for b in bookings}
    if lines:
        orders = PaymentOrder.objects.filter(booking__session=session, purpose=OrderPurpose.BOOKING).only(
            "id", "booking_id", "state", "amount_paise", "gateway_order_id", "payment_id"
        )
        for order in orders.order_by("id"):
            line = lines[order.booking_id]
            line.orders.append(order)
            if order.state in (OrderState.PAID, OrderState.REFUNDED):
                line.paid_paise += order.amount_paise
        refunds = Refund.objects.filter(order__booking__session=session, order__purpose=OrderPurpose.BOOKING)
        refunds = refunds.select_related("order").only("id", "amount_paise", "state", "reason", "order__booking_id")
        for refund in refunds.order_by("id"):
            lines[refund.order.booking_id].refunds.append(refund)
    room = RoomState.objects.filter(session=session).first()
    history = list(
        AuditEvent.objects.filter(target_type="session", target_id=str(session.pk))
        .select_related("actor")
        .order_by("-created_at", "-id")[:20]
    )
    return SessionDetail(session, list(lines.values()), _attendance(session), room, history)


# --- feedback ---------------------------------------------------------------------------------
RATING_LOW = "low"  # two stars or fewer: "needs attention"


@dataclass(frozen=True)
class ReviewFilter:
    rating: str = ""  # "", "low", or "1".."5"
    mentor: str = ""  # part of the mentor's e-mail
    has_comment: bool = False
    q: str = ""  # words in the comment or the session's title

    @property
    def active(self) -> bool:
        return bool(self.rating or self.mentor or self.has_comment or self.q)

    def as_audit(self) -> dict:
        return {"rating": self.rating, "mentor": self.mentor, "has_comment": self.has_comment, "q": self.q}


REVIEW_COLUMNS = (
    "id",
    "rating",
    "comment",
    "created_at",
    "booking__id",
    "booking__learner__id",
    "booking__learner__full_name",
    "booking__learner__email",
    "booking__session__id",
    "booking__session__title",
    "booking__session__starts_at",
    "booking__session__mentor__id",
    "booking__session__mentor__full_name",
    "booking__session__mentor__email",
)


def reviews_for_admin(admin: User, filters: ReviewFilter) -> QuerySet[Review]:
    """Reviews newest first with their learner, session and mentor in the same query."""
    require_admin(admin)
    reviews = Review.objects.select_related("booking__learner", "booking__session__mentor").only(*REVIEW_COLUMNS)
    if filters.rating == RATING_LOW:
        reviews = reviews.filter(rating__lte=2)
    elif filters.rating:
        reviews = reviews.filter(rating=int(filters.rating))
    if mentor := filters.mentor.strip():
        reviews = reviews.filter(booking__session__mentor__in=_mentors_matching(mentor))
    if filters.has_comment:
        reviews = reviews.exclude(comment="")
    if q := filters.q.strip():
        reviews = reviews.filter(Q(comment__icontains=q) | Q(booking__session__title__icontains=q))
    # Newest first by id: every review is written with created_at = now (review_create), so the
    # primary key is the same order, and it has the index created_at lacks.
    return reviews.order_by("-id")
