"""Reads for the admin users pages: the filtered list (keyset pages, a capped count), one
account's facts, and the rows of the CSV. Each entry point takes the admin and refuses anyone
else (Http404), so a page cannot leak accounts by forgetting its access rule.

Built for 100,000 accounts and more:
- Pages are keyset pages ("Newer" / "Older" from a cursor of (date_joined, id)), never OFFSET:
  a deep page costs what the first one does, and every filter walks an index in sort order
  (accounts_user_newest, accounts_user_role_newest, accounts_user_blocked_newest) and stops
  after one page.
- No exact COUNT(*) over a filtered table per request: the count stops at COUNT_CAP + 1 rows
  ("1,000+"), which is as much as an admin reads from a number, and is skipped when the first
  page already holds every match.
- An e-mail typed from its start ("ada@", "ada@example.com") is a range over the e-mail index.
  Any other text is a case-insensitive substring of the name or e-mail: PostgreSQL finds it
  through a trigram index (accounts_user_search_trgm); SQLite reads the newest-first index,
  which carries both columns, and stops at a page of matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import ApprovalState, AuditEvent, Role, User
from backend.core.access import require_admin
from backend.marketplace.models import Booking, BookingState, Session, SessionState

PAGE_SIZE = 25
COUNT_CAP = 1000
AUDIT_SHOWN = 15
LIST_FIELDS = ("id", "email", "full_name", "role", "is_active", "date_joined", "last_login")


class UserState:
    ACTIVE = "active"
    BLOCKED = "blocked"
    MENTOR_PENDING = "mentor_pending"
    MENTOR_APPROVED = "mentor_approved"
    MENTOR_REJECTED = "mentor_rejected"
    CHOICES = [
        (ACTIVE, "Active"),
        (BLOCKED, "Blocked"),
        (MENTOR_PENDING, "Mentor awaiting approval"),
        (MENTOR_APPROVED, "Mentor approved"),
        (MENTOR_REJECTED, "Mentor rejected"),
    ]
    APPROVALS = {
        MENTOR_PENDING: ApprovalState.PENDING,
        MENTOR_APPROVED: ApprovalState.APPROVED,
        MENTOR_REJECTED: ApprovalState.REJECTED,
    }


# --- the list ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserFilter:
    q: str = ""
    role: str = ""
    state: str = ""

    @property
    def active(self) -> bool:
        return bool(self.q or self.role or self.state)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("q", self.q), ("role", self.role), ("state", self.state)) if v}


def _email_prefix(prefix: str) -> Q:
    """Addresses starting with `prefix`, in a form the e-mail index serves. Addresses are
    stored lower-cased (UserManager, registration), so lower-casing the prefix makes it
    case-insensitive."""
    if connection.vendor == "sqlite":
        # SQLite's LIKE cannot use a binary index; the half-open range can, and in binary
        # order it holds exactly the strings that start with the prefix.
        upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
        return Q(email__gte=prefix, email__lt=upper)
    # PostgreSQL: LIKE 'prefix%' uses the varchar_pattern_ops index Django adds to the unique column.
    return Q(email__startswith=prefix)


def _search(users: QuerySet[User], q: str) -> QuerySet[User]:
    q = q.strip()
    if not q:
        return users
    if "@" in q[1:]:
        return users.filter(_email_prefix(q.lower()))
    return users.filter(Q(full_name__icontains=q) | Q(email__icontains=q))


def _matching(filters: UserFilter) -> QuerySet[User]:
    users = User.objects.all()
    if filters.role:
        users = users.filter(role=filters.role)
    if filters.state == UserState.ACTIVE:
        users = users.filter(is_active=True)
    elif filters.state == UserState.BLOCKED:
        users = users.filter(is_active=False)
    elif filters.state in UserState.APPROVALS:
        users = users.filter(role=Role.MENTOR, mentor_profile__approval_state=UserState.APPROVALS[filters.state])
    return _search(users, filters.q)


def users_for_admin(admin: User, filters: UserFilter) -> QuerySet[User]:
    """Accounts newest first, narrowed by role, state and a search, with `approval` (the
    mentor profile's state, None for others) and only the columns the list shows."""
    require_admin(admin)
    return (
        _matching(filters)
        .annotate(approval=F("mentor_profile__approval_state"))
        .only(*LIST_FIELDS)
        .order_by("-date_joined", "-id")
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    """A place in the newest-first order: the (date_joined, id) of a row. Written as two
    integers (microseconds since 1970, id) so it survives any URL untouched."""

    joined: datetime
    pk: int

    @classmethod
    def of(cls, user: User) -> Cursor:
        return cls(user.date_joined, user.pk)

    @classmethod
    def parse(cls, raw: str | None) -> Cursor | None:
        micros, _, pk = (raw or "").partition("_")
        if not (micros.lstrip("-").isdigit() and pk.isdigit()) or len(micros) > 18 or len(pk) > 18:
            return None
        try:
            return cls(EPOCH + timedelta(microseconds=int(micros)), int(pk))
        except OverflowError:
            return None

    def __str__(self) -> str:
        delta = self.joined - EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{self.pk}"


def _older_than(users: QuerySet[User], cursor: Cursor) -> QuerySet[User]:
    # The first condition repeats what the OR implies, so the database can start the index scan
    # at the cursor instead of filtering every newer row out on the way there.
    return users.filter(date_joined__lte=cursor.joined).filter(
        Q(date_joined__lt=cursor.joined) | Q(date_joined=cursor.joined, pk__lt=cursor.pk)
    )


def _newer_than(users: QuerySet[User], cursor: Cursor) -> QuerySet[User]:
    return users.filter(date_joined__gte=cursor.joined).filter(
        Q(date_joined__gt=cursor.joined) | Q(date_joined=cursor.joined, pk__gt=cursor.pk)
    )


@dataclass
class UsersPage:
    rows: list[User]
    newer: str = ""  # ?before= for the previous (newer) page, "" on the first page
    older: str = ""  # ?after= for the next (older) page, "" on the last page
    count: int = 0
    count_capped: bool = False

    @property
    def count_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.count_capped else f"{self.count:,}"


def _capped_count(filters: UserFilter) -> tuple[int, bool]:
    counted = _matching(filters).order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(counted, COUNT_CAP), counted > COUNT_CAP


def users_page(
    admin: User, filters: UserFilter, *, after: str | None = None, before: str | None = None, size: int = PAGE_SIZE
) -> UsersPage:
    """One page of `users_for_admin`: the first, the one older than `after` or the one newer
    than `before` (a cursor from a previous page; a broken one means the first page)."""
    users = users_for_admin(admin, filters)
    older_cursor, newer_cursor = Cursor.parse(after), Cursor.parse(before)
    rows: list[User] | None = None
    has_newer = has_older = False
    if newer_cursor is not None:
        found = list(_newer_than(users, newer_cursor).order_by("date_joined", "id")[: size + 1])
        if len(found) > size:  # otherwise these are the newest rows: show the first page
            rows, has_newer, has_older = found[:size][::-1], True, True
    elif older_cursor is not None:
        found = list(_older_than(users, older_cursor)[: size + 1])
        rows, has_newer, has_older = found[:size], True, len(found) > size
    if rows is None:
        found = list(users[: size + 1])
        rows, has_older = found[:size], len(found) > size
    page = UsersPage(rows)
    if has_newer and rows:
        page.newer = str(Cursor.of(rows[0]))
    if has_older and rows:
        page.older = str(Cursor.of(rows[-1]))
    if not has_newer and not has_older:
        page.count = len(rows)  # every match is on this page: no count to run
    else:
        page.count, page.count_capped = _capped_count(filters)
    return page


def users_for_export(admin: User, filters: UserFilter) -> QuerySet[User]:
    """The list's rows for the CSV, with the few extra columns it has."""
    return users_for_admin(admin, filters).only(*LIST_FIELDS, "email_verified_at", "timezone", "is_demo")


# --- one account ------------------------------------------------------------------------------
@dataclass
class UserDetail:
    user: User
    mentor_profile: object | None
    learner_profile: object | None
    domains: list = field(default_factory=list)
    interests: list = field(default_factory=list)
    bookings: dict[str, int] = field(default_factory=dict)  # as a learner, by state
    sessions: dict[str, int] = field(default_factory=dict)  # as a mentor, by state
    upcoming_booked: int = 0  # the mentor's scheduled sessions ahead with confirmed seats
    audit: list[AuditEvent] = field(default_factory=list)

    @property
    def bookings_total(self) -> int:
        return sum(self.bookings.values())

    @property
    def sessions_total(self) -> int:
        return sum(self.sessions.values())


def _by_state(queryset, states) -> dict[str, int]:
    counts = dict(queryset.order_by().values_list("state").annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value, _ in states.choices}


def get_user_for_admin(admin: User, user_id: int) -> UserDetail:
    """An account with its profiles, what it did on the platform (bookings as a learner,
    sessions as a mentor) and the latest audit entries about it."""
    require_admin(admin)
    user = (
        User.objects.select_related("mentor_profile__decided_by", "learner_profile")
        .defer("password", "mentor_profile__bio", "mentor_profile__decided_by__password")
        .filter(pk=user_id)
        .first()
    )
    if user is None:
        raise Http404
    mentor_profile = getattr(user, "mentor_profile", None)
    learner_profile = getattr(user, "learner_profile", None)
    detail = UserDetail(user, mentor_profile, learner_profile)
    if mentor_profile is not None:
        detail.domains = [d.name for d in mentor_profile.domains.only("name").order_by("name")]
    if learner_profile is not None:
        detail.interests = [d.name for d in learner_profile.interests.only("name").order_by("name")]
    if user.role == Role.LEARNER:
        detail.bookings = _by_state(Booking.objects.filter(learner=user), BookingState)
    if user.role == Role.MENTOR:
        detail.sessions = _by_state(Session.objects.filter(mentor=user), SessionState)
        detail.upcoming_booked = (
            Session.objects.filter(
                mentor=user,
                state=SessionState.SCHEDULED,
                starts_at__gt=timezone.now(),
                bookings__state=BookingState.CONFIRMED,
            )
            .order_by()
            .values("pk")
            .distinct()
            .count()
            if detail.sessions.get(SessionState.SCHEDULED)
            else 0
        )
    detail.audit = list(
        AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
        .select_related("actor")
        .only("created_at", "action", "ip_address", "data", "actor__email")
        .order_by("-created_at", "-id")[:AUDIT_SHOWN]
    )
    return detail
