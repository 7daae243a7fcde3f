"""Which published events become notifications, for whom, and in what words. One place, so the
bell, push, e-mail and the offline store all say the same thing.

Each builder gets the loaded objects and one recipient and returns a Message, or None when that
recipient should not hear about it (the actor never does: services name them in `actor`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.urls import reverse

from backend.accounts.models import User
from backend.marketplace.models import Booking, Session, SessionRequest
from backend.notifications.models import Category


@dataclass(frozen=True)
class Message:
    title: str
    body: str = ""
    url: str = ""


PERSON = ("id", "full_name", "timezone", "role")
SESSION = ("id", "title", "starts_at", "price_paise", "room_code", "mentor_id", *(f"mentor__{f}" for f in PERSON))


def _prefixed(relation: str, fields) -> list[str]:
    return [f"{relation}__{field}" for field in fields]


def _by_pk(queryset, ids: set[int]) -> dict:
    # order_by(): the models' default ordering would add a sort nobody needs here.
    return {row.pk: row for row in queryset.filter(pk__in=ids).order_by()} if ids else {}


def _ids(items: list[tuple[dict, list[int]]], key: str) -> set[int]:
    return {data[key] for data, _ in items if isinstance(data.get(key), int)}


@dataclass
class Loaded:
    """The objects an event's data names, read once for all its recipients."""

    data: dict
    users: dict[int, User] = field(default_factory=dict)
    session: Session | None = None
    booking: Booking | None = None
    request: SessionRequest | None = None

    @classmethod
    def load(cls, data: dict, recipients: list[int]) -> Loaded:
        return cls.load_many([(data, recipients)])[0]

    @classmethod
    def load_many(cls, items: list[tuple[dict, list[int]]]) -> list[Loaded]:
        """Loaded objects for many events' (data, recipients) at once: a query per kind of
        object, whatever the number of events (a sync push's batch builds them together).
        Only the columns the builders read: building a wide select costs more than running it."""
        bookings = _by_pk(
            Booking.objects.select_related("session__mentor", "learner").only(
                "id", "state", "cancelled_by", *_prefixed("learner", PERSON), *_prefixed("session", SESSION)
            ),
            _ids(items, "booking"),
        )
        known_sessions = {b.session_id for b in bookings.values()}
        sessions = _by_pk(
            Session.objects.select_related("mentor").only(*SESSION), _ids(items, "session") - known_sessions
        )
        requests = _by_pk(
            SessionRequest.objects.select_related("learner", "mentor").only(
                "id", "topic", "learner_id", "mentor_id", *_prefixed("learner", PERSON), *_prefixed("mentor", PERSON)
            ),
            _ids(items, "request"),
        )
        users: dict[int, User] = {}  # shared: the people the objects carry need no second read
        for booking in bookings.values():
            users[booking.learner.pk] = booking.learner
            users[booking.session.mentor.pk] = booking.session.mentor
        for session in sessions.values():
            users[session.mentor.pk] = session.mentor
        for request in requests.values():
            users[request.learner.pk], users[request.mentor.pk] = request.learner, request.mentor
        wanted = {pk for _, recipients in items for pk in recipients} | _ids(items, "learner")
        if missing := wanted - users.keys():
            users.update(
                {u.pk: u for u in User.objects.filter(pk__in=missing).only("id", "full_name", "timezone", "role")}
            )
        loaded = []
        for data, _ in items:
            booking = bookings.get(data.get("booking"))
            session = booking.session if booking else sessions.get(data.get("session"))
            loaded.append(cls(data, users, session, booking, requests.get(data.get("request"))))
        return loaded

    def when(self, recipient: int, moment=None) -> str:
        """A time in the recipient's own zone, with the zone named."""
        moment = moment or (self.session.starts_at if self.session else None)
        if moment is None:
            return ""
        user = self.users.get(recipient)
        zone = ZoneInfo(user.timezone if user else "UTC")
        local = moment.astimezone(zone)
        return f"{local:%a %-d %b, %-I:%M %p} {local.tzname()}"


def rupees(paise: int) -> str:
    rupee, rest = divmod(int(paise or 0), 100)
    return f"₹{rupee:,}" if rest == 0 else f"₹{rupee:,}.{rest:02d}"


def _is_mentor(loaded: Loaded, recipient: int) -> bool:
    return loaded.session is not None and loaded.session.mentor_id == recipient


def _booking_url(loaded: Loaded) -> str:
    return reverse("learner-booking", args=[loaded.booking.pk]) if loaded.booking else ""


def _room_url(loaded: Loaded) -> str:
    return reverse("room", args=[loaded.session.room_code]) if loaded.session else ""


# --- builders ---------------------------------------------------------------------------------------
def booking_created(loaded: Loaded, to: int) -> Message | None:
    booking, session = loaded.booking, loaded.session
    if booking is None or not _is_mentor(loaded, to) or booking.state != "confirmed":
        return None  # a held seat is news once it is paid (booking.confirmed)
    return Message(
        f"New booking: {session.title}",
        f"{booking.learner.full_name} booked a seat for {loaded.when(to)}.",
        reverse("mentor-sessions"),
    )


def booking_confirmed(loaded: Loaded, to: int) -> Message | None:
    booking, session = loaded.booking, loaded.session
    if booking is None:
        return None
    if _is_mentor(loaded, to):
        return Message(
            f"New booking: {session.title}",
            f"{booking.learner.full_name} has a confirmed seat for {loaded.when(to)}.",
            reverse("mentor-sessions"),
        )
    return Message(
        f"Seat confirmed: {session.title}",
        f"{loaded.when(to)} with {session.mentor.full_name}.",
        _booking_url(loaded),
    )


def booking_cancelled(loaded: Loaded, to: int) -> Message | None:
    booking, session = loaded.booking, loaded.session
    if booking is None:
        return None
    if _is_mentor(loaded, to):
        return Message(
            f"Seat cancelled: {session.title}",
            f"{booking.learner.full_name} cancelled their seat for {loaded.when(to)}.",
            reverse("mentor-sessions"),
        )
    if booking.cancelled_by == "learner":
        return None  # their own doing (an offer they let go)
    return Message(f"Your seat is no longer held: {session.title}", "The time to pay ran out.", _booking_url(loaded))


def session_cancelled(loaded: Loaded, to: int) -> Message | None:
    session = loaded.session
    if session is None:
        return None
    by_admin = loaded.data.get("by") == "admin"
    if _is_mentor(loaded, to):
        if by_admin:
            return Message(
                f"Cancelled by PeerLearn: {session.title}",
                _because(loaded, "Everyone booked has been told and refunded in full."),
                reverse("mentor-sessions"),
            )
        if loaded.data.get("by") != "no_show":
            return None  # they cancelled it themselves
        return Message(
            f"Cancelled: {session.title}",
            "You were not in the room 10 minutes after the start, so the session was cancelled and refunded.",
            reverse("mentor-sessions"),
        )
    # "refund" is false for a learner whose seat was only held while paying: nothing was taken.
    refund = " You get a full refund." if loaded.data.get("refund", session.price_paise > 0) else ""
    if by_admin:
        body = _because(loaded, "Sorry for the change of plans.") + refund
        return Message(f"Cancelled by PeerLearn: {session.title}", body, reverse("learner-bookings"))
    reason = loaded.data.get("reason") or "The mentor cancelled it."
    return Message(f"Cancelled: {session.title}", f"{reason}{refund}", reverse("learner-bookings"))


def session_rescheduled(loaded: Loaded, to: int) -> Message | None:
    if loaded.session is None or _is_mentor(loaded, to):
        return None
    return Message(f"New time: {loaded.session.title}", f"Now {loaded.when(to)}.", reverse("learner-bookings"))


def session_published(loaded: Loaded, to: int) -> Message | None:
    session = loaded.session
    if session is None or _is_mentor(loaded, to):
        return None
    return Message(
        f"New from {session.mentor.full_name}: {session.title}",
        loaded.when(to),
        reverse("session-detail", args=[session.pk]),
    )


def session_live(loaded: Loaded, to: int) -> Message | None:
    if loaded.session is None or _is_mentor(loaded, to):
        return None
    return Message(f"Live now: {loaded.session.title}", "Your mentor has started. Join now.", _room_url(loaded))


def waitlist_offered(loaded: Loaded, to: int) -> Message | None:
    if loaded.session is None:
        return None
    return Message(
        f"A seat opened: {loaded.session.title}",
        "It is held for you for a short while. Claim it before it goes to the next person.",
        _booking_url(loaded),
    )


def _request_url(loaded: Loaded, to: int) -> str:
    request = loaded.request
    return reverse("mentor-requests" if request and request.mentor_id == to else "learner-requests")


def request_message(verb: str) -> Callable[[Loaded, int], Message | None]:
    def build(loaded: Loaded, to: int) -> Message | None:
        request = loaded.request
        if request is None:
            return None
        other = request.learner if request.mentor_id == to else request.mentor
        return Message(f"{other.full_name} {verb}", f"“{request.topic}”", _request_url(loaded, to))

    return build


def request_expired(loaded: Loaded, to: int) -> Message | None:
    if loaded.request is None:
        return None
    return Message("A request expired", f"“{loaded.request.topic}” was not answered in time.", _request_url(loaded, to))


def review_created(loaded: Loaded, to: int) -> Message | None:
    stars = loaded.data.get("rating")
    return Message(
        f"New review: {'★' * int(stars or 0)}", "A learner reviewed your session.", reverse("dashboard-mentor")
    )


def tip_received(loaded: Loaded, to: int) -> Message | None:
    session = loaded.session
    title = f" for {session.title}" if session else ""
    return Message(
        f"You received a tip of {rupees(loaded.data.get('amount_paise'))}",
        f"{rupees(loaded.data.get('share_paise'))} is yours{title} after the platform fee.",
        reverse("mentor-earnings"),
    )


def refund_processed(loaded: Loaded, to: int) -> Message | None:
    title = f" for {loaded.session.title}" if loaded.session else ""
    return Message(
        f"Refund of {rupees(loaded.data.get('amount_paise'))} processed",
        f"The money{title} is on its way back to how you paid. Banks take up to 5–7 working days.",
        reverse("learner-payments"),
    )


def withdrawal_message(title: str, body: str) -> Callable[[Loaded, int], Message | None]:
    def build(loaded: Loaded, to: int) -> Message | None:
        data = loaded.data
        amount = rupees(data.get("amount_paise"))
        return Message(title.format(amount=amount), body.format(amount=amount, **data), reverse("mentor-earnings"))

    return build


def reminder(loaded: Loaded, to: int) -> Message | None:
    if loaded.session is None:
        return None
    minutes = loaded.data.get("minutes")
    return Message(
        f"Starts in {minutes} minutes: {loaded.session.title}",
        f"{loaded.when(to)}. The room opens 10 minutes before.",
        _room_url(loaded),
    )


def room_presence(who: str) -> Callable[[Loaded, int], Message | None]:
    def build(loaded: Loaded, to: int) -> Message | None:
        if loaded.session is None:
            return None
        name = loaded.users.get(loaded.data.get("learner")) if who == "learner" else loaded.session.mentor
        text = (
            f"{name.full_name if name else 'Your learner'} is in the room"
            if who == "learner"
            else "Your mentor is in the room"
        )
        return Message(f"{text}: {loaded.session.title}", "Join when you are ready.", _room_url(loaded))

    return build


def feedback_prompt(loaded: Loaded, to: int) -> Message | None:
    if loaded.session is None or loaded.booking is None:
        return None
    return Message(
        f"How was {loaded.session.title}?",
        f"Rate your session with {loaded.session.mentor.full_name}: it helps other learners choose.",
        _booking_url(loaded) + "#review",
    )


def _because(loaded: Loaded, then: str) -> str:
    reason = str(loaded.data.get("reason") or "").strip().rstrip(".")
    return f"Reason: {reason}. {then}" if reason else then


def mentor_approved(loaded: Loaded, to: int) -> Message | None:
    return Message(
        "Your mentor profile is approved",
        "You can now publish sessions and answer learners' requests.",
        reverse("mentor-sessions"),
    )


def mentor_rejected(loaded: Loaded, to: int) -> Message | None:
    return Message(
        "Your mentor profile was not approved",
        _because(loaded, "Contact support if you have questions."),
        reverse("dashboard-mentor"),
    )


def account_blocked(loaded: Loaded, to: int) -> Message | None:
    # No link: a blocked account cannot sign in, which is why this also goes out by e-mail.
    return Message(
        "Your PeerLearn account is blocked",
        _because(loaded, "Contact support if you think this is a mistake."),
    )


def account_unblocked(loaded: Loaded, to: int) -> Message | None:
    return Message("Your PeerLearn account is active again", "You can sign in again.", reverse("login"))


@dataclass(frozen=True)
class Spec:
    category: str
    build: Callable[[Loaded, int], Message | None]
    urgent: bool = False  # push urgency "high" (wakes a phone) rather than "normal"
    ttl_seconds: int = 24 * 3600  # how long a push service keeps trying an offline device


CATALOGUE: dict[str, Spec] = {
    "booking.created": Spec(Category.BOOKINGS, booking_created),
    "booking.confirmed": Spec(Category.BOOKINGS, booking_confirmed),
    "booking.cancelled": Spec(Category.BOOKINGS, booking_cancelled),
    "session.cancelled": Spec(Category.BOOKINGS, session_cancelled, urgent=True),
    "session.rescheduled": Spec(Category.BOOKINGS, session_rescheduled, urgent=True),
    "session.published": Spec(Category.FOLLOWING, session_published),
    "session.live": Spec(Category.REMINDERS, session_live, urgent=True, ttl_seconds=30 * 60),
    "waitlist.offered": Spec(Category.BOOKINGS, waitlist_offered, urgent=True, ttl_seconds=15 * 60),
    "request.created": Spec(Category.REQUESTS, request_message("asked you for a session")),
    "request.accepted": Spec(Category.REQUESTS, request_message("accepted your request")),
    "request.countered": Spec(Category.REQUESTS, request_message("suggested another time or price")),
    "request.declined": Spec(Category.REQUESTS, request_message("declined the request")),
    "request.withdrawn": Spec(Category.REQUESTS, request_message("withdrew the request")),
    "request.expired": Spec(Category.REQUESTS, request_expired),
    "review.created": Spec(Category.REVIEWS, review_created),
    "tip.received": Spec(Category.PAYMENTS, tip_received),
    "refund.processed": Spec(Category.PAYMENTS, refund_processed),
    "withdrawal.approved": Spec(
        Category.PAYMENTS, withdrawal_message("Withdrawal of {amount} approved", "It will be sent to {method}.")
    ),
    "withdrawal.rejected": Spec(
        Category.PAYMENTS,
        withdrawal_message("Withdrawal of {amount} not approved", "The money is back in your available balance."),
    ),
    "withdrawal.paid": Spec(
        Category.PAYMENTS, withdrawal_message("Withdrawal of {amount} paid", "Sent to {method}, reference {reference}.")
    ),
    "reminder.due": Spec(Category.REMINDERS, reminder, urgent=True),
    "room.mentor_ready": Spec(Category.REMINDERS, room_presence("mentor"), urgent=True, ttl_seconds=15 * 60),
    "room.learner_joined": Spec(Category.REMINDERS, room_presence("learner"), urgent=True, ttl_seconds=15 * 60),
    "feedback.prompt": Spec(Category.REVIEWS, feedback_prompt, ttl_seconds=3 * 24 * 3600),
    # Account decisions by an admin: always sent (see models.ALWAYS_SENT).
    "mentor.approved": Spec(Category.ACCOUNT, mentor_approved, ttl_seconds=7 * 24 * 3600),
    "mentor.rejected": Spec(Category.ACCOUNT, mentor_rejected, ttl_seconds=7 * 24 * 3600),
    "user.blocked": Spec(Category.ACCOUNT, account_blocked, ttl_seconds=7 * 24 * 3600),
    "user.unblocked": Spec(Category.ACCOUNT, account_unblocked, ttl_seconds=7 * 24 * 3600),
}
