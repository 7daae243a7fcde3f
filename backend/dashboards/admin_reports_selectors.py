"""Reads for the admin overview, the audit log and the monthly revenue report. Each entry point
takes the admin and refuses anyone else (Http404), so a page cannot leak data by forgetting its
access rule.

Money comes from the payments ledger, the truth about money (integer paise): a charge or a tip
is "external −gross, platform:fees +fee, mentor pending +share" and a refund the reverse, so
gross = mentor shares + platform fee exactly, and the same holds for what refunds took back.
Figures are bucketed in SQL (grouped by day in the reporting zone), so every read is a fixed
number of aggregate queries however many users, sessions or ledger lines there are.

Days, weeks and months run in the reporting zone (settings.DEFAULT_USER_TIMEZONE, India: the
platform charges in rupees), not in the viewing admin's zone: two admins downloading March's
report get the same figures."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Count, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from backend.accounts.models import ApprovalState, AuditEvent, Role, User
from backend.core.access import require_admin
from backend.marketplace.models import Session, SessionState
from backend.payments.ledger import EXTERNAL, PLATFORM_FEES
from backend.payments.models import EntryKind, LedgerEntry

PAID_IN = (EntryKind.CHARGE, EntryKind.TIP)
HELD_STATES = (SessionState.SCHEDULED, SessionState.LIVE, SessionState.COMPLETED)
CHART_WEEKS = 12
CHART_DAYS = 14
ACTIVE_MENTOR_DAYS = 30


def report_zone() -> ZoneInfo:
    return ZoneInfo(settings.DEFAULT_USER_TIMEZONE)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _day_key(value) -> date:
    # TruncDate gives a date; a datetime (some backends) is cut to its day; SQLite's date() text.
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _offset_stretches(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """[(from, UTC offset)] for the stretches of [start, end) over which `zone` keeps one offset
    (one stretch in India; a daylight-saving zone adds one per change). Found day by day, then
    to the minute: zones change offset at most twice a year."""
    stretches = [(start, start.astimezone(zone).utcoffset())]
    moment = start
    while moment < end:
        later = min(moment + timedelta(days=1), end)
        if later.astimezone(zone).utcoffset() != stretches[-1][1]:
            low, high = moment, later  # the change is in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == stretches[-1][1]:
                    low = middle
                else:
                    high = middle
            stretches.append((high.replace(second=0, microsecond=0), later.astimezone(zone).utcoffset()))
        moment = later
    return stretches


def _local_day(column: str, periods: Periods, since: datetime):
    """The day of `column` (a UTC timestamp) in the reporting zone, for grouping. PostgreSQL
    converts zones itself. SQLite has no zones, and TruncDate there calls back into Python for
    every row (most of the overview's time with 100,000 rows); instead each stretch of the window
    with one UTC offset gets SQLite's own date(column, '+N minutes')."""
    if connection.vendor != "sqlite":
        return TruncDate(column, tzinfo=periods.zone)
    stretches = _offset_stretches(periods.zone, since, periods.now + timedelta(days=8))
    adapt = connection.ops.adapt_datetimefield_value

    def shift(offset: timedelta) -> str:
        return f"{int(offset.total_seconds() // 60):+d} minutes"

    # Oldest stretch first: WHEN before the first change THEN its offset, ... ELSE the newest.
    whens, params = [], []
    for (_, offset), (change, _) in zip(stretches, stretches[1:], strict=False):
        whens.append(f"WHEN {column} < %s THEN date({column}, %s)")
        params += [adapt(change), shift(offset)]
    sql = f"CASE {' '.join(whens)} ELSE date({column}, %s) END" if whens else f"date({column}, %s)"
    params.append(shift(stretches[-1][1]))
    return RawSQL(sql, params, output_field=CharField())


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- overview -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Periods:
    """The overview's calendar in the reporting zone."""

    zone: ZoneInfo
    now: datetime
    today: date
    week_start: date  # this Monday
    month_start: date
    first_week: date  # Monday of the oldest week charted

    @classmethod
    def at(cls, now: datetime, zone: ZoneInfo) -> Periods:
        today = now.astimezone(zone).date()
        week_start = today - timedelta(days=today.weekday())
        return cls(
            zone=zone,
            now=now,
            today=today,
            week_start=week_start,
            month_start=today.replace(day=1),
            first_week=week_start - timedelta(weeks=CHART_WEEKS - 1),
        )

    @property
    def weeks(self) -> list[date]:
        return [self.first_week + timedelta(weeks=n) for n in range(CHART_WEEKS)]

    @property
    def chart_days(self) -> list[date]:
        return [self.today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]

    @property
    def last_30_start(self) -> date:
        return self.today - timedelta(days=29)

    def week_of(self, day: date) -> date:
        return day - timedelta(days=day.weekday())


def _user_counts(periods: Periods) -> dict:
    """Everyone by role, the mentors by approval, and the sign-ups of the last 7 days. One
    aggregate query (the profile is a one-to-one join on its unique user_id)."""
    week_ago = periods.now - timedelta(days=7)
    by_role = {role: Count("id", filter=Q(role=role)) for role in Role.values}
    mentors = Q(role=Role.MENTOR)
    row = User.objects.aggregate(
        **by_role,
        approved=Count("id", filter=mentors & Q(mentor_profile__approval_state=ApprovalState.APPROVED)),
        pending=Count("id", filter=mentors & Q(mentor_profile__approval_state=ApprovalState.PENDING)),
        blocked=Count("id", filter=Q(is_active=False)),
        new_7d=Count("id", filter=Q(date_joined__gte=week_ago)),
    )
    return {
        "learners": row[Role.LEARNER],
        "mentors": row[Role.MENTOR],
        "admins": row[Role.ADMIN],
        "blocked": row["blocked"],
        "new_7d": row["new_7d"],
        "approved_mentors": row["approved"],
        "pending_mentors": row["pending"],
    }


def _active_mentors(periods: Periods) -> int:
    """Approved mentors with a scheduled, live or completed session in the last 30 days or
    upcoming. One query, on the (state, starts_at) index."""
    return Session.objects.filter(
        state__in=HELD_STATES,
        starts_at__gte=periods.now - timedelta(days=ACTIVE_MENTOR_DAYS),
        mentor__mentor_profile__approval_state=ApprovalState.APPROVED,
    ).aggregate(n=Count("mentor", distinct=True))["n"]


def _sessions_by_day(periods: Periods) -> dict[date, dict]:
    """Published sessions (held = scheduled, live or completed; and cancelled) by the local day
    they start, from the oldest charted day to the end of this week. One query.

    Each day is a range of starts_at with its own conditional count, its bounds worked out here
    in the reporting zone: SQLite has no time zones, so TruncDate would call back into Python
    for every session in the window (over a second for 100,000 of them)."""
    first = min(periods.chart_days[0], periods.week_start)
    days = [first + timedelta(days=n) for n in range((periods.week_start + timedelta(days=7) - first).days)]
    bounds = [_midnight(day, periods.zone) for day in [*days, days[-1] + timedelta(days=1)]]
    counts = {}
    for n in range(len(days)):
        in_day = Q(starts_at__gte=bounds[n], starts_at__lt=bounds[n + 1])
        counts[f"held_{n}"] = Count("id", filter=in_day & Q(state__in=HELD_STATES))
        counts[f"cancelled_{n}"] = Count("id", filter=in_day & Q(state=SessionState.CANCELLED))
    totals = (
        Session.objects.filter(starts_at__gte=bounds[0], starts_at__lt=bounds[-1])
        .exclude(state=SessionState.DRAFT)
        .aggregate(**counts)
    )
    return {day: {"held": totals[f"held_{n}"], "cancelled": totals[f"cancelled_{n}"]} for n, day in enumerate(days)}


def _money_by_day(periods: Periods) -> dict[date, dict]:
    """Gross paid in (sessions and tips), refunded, and the platform fee kept (fees charged less
    fees given back with refunds) by local day since the oldest charted week. One query."""
    since = _midnight(periods.first_week, periods.zone)
    rows = (
        LedgerEntry.objects.filter(
            created_at__gte=since,
            account__in=(EXTERNAL, PLATFORM_FEES),
            kind__in=(*PAID_IN, EntryKind.REFUND),
        )
        .annotate(day=_local_day("created_at", periods, since))
        .order_by()
        .values("day")
        .annotate(
            paid_in=Sum("amount_paise", filter=Q(account=EXTERNAL, kind__in=PAID_IN)),  # negative
            refunded=Sum("amount_paise", filter=Q(account=EXTERNAL, kind=EntryKind.REFUND)),
            fee=Sum("amount_paise", filter=Q(account=PLATFORM_FEES)),
            payments=Count("id", filter=Q(account=EXTERNAL, kind__in=PAID_IN)),
        )
    )
    return {
        _day_key(row["day"]): {
            "gross": -(row["paid_in"] or 0),
            "refunded": row["refunded"] or 0,
            "fee": row["fee"] or 0,
            "payments": row["payments"],
        }
        for row in rows
    }


def _signups_by_day(periods: Periods) -> dict[date, dict]:
    """Accounts created per local day and role since the oldest charted week. One query."""
    since = _midnight(periods.first_week, periods.zone)
    rows = (
        User.objects.filter(date_joined__gte=since)
        .annotate(day=_local_day("date_joined", periods, since))
        .order_by()
        .values("day", "role")
        .annotate(n=Count("id"))
    )
    days: dict[date, dict] = defaultdict(lambda: dict.fromkeys(Role.values, 0))
    for row in rows:
        days[_day_key(row["day"])][row["role"]] += row["n"]
    return days


def _sum_days(days: dict[date, dict], keys: tuple[str, ...], start: date, end: date) -> dict[str, int]:
    """Totals of `keys` over the days in [start, end)."""
    totals = dict.fromkeys(keys, 0)
    for day, row in days.items():
        if start <= day < end:
            for key in keys:
                totals[key] += row[key]
    return totals


def _weekly(days: dict[date, dict], keys: tuple[str, ...], periods: Periods) -> list[dict]:
    weeks = {week: dict.fromkeys(keys, 0) for week in periods.weeks}
    for day, row in days.items():
        week = weeks.get(periods.week_of(day))
        if week is not None:
            for key in keys:
                week[key] += row[key]
    return [{"week": week, **values} for week, values in weeks.items()]


MONEY_KEYS = ("gross", "refunded", "fee", "payments")


def overview(admin: User, *, now: datetime | None = None) -> dict:
    """The overview's KPIs and chart series: five aggregate queries."""
    require_admin(admin)
    periods = Periods.at(now or timezone.now(), report_zone())
    money = _money_by_day(periods)
    sessions = _sessions_by_day(periods)
    signups = _signups_by_day(periods)
    users = _user_counts(periods)
    mentor_counts = {
        "approved": users.pop("approved_mentors"),
        "pending": users.pop("pending_mentors"),
        "active": _active_mentors(periods),
    }
    tomorrow = periods.today + timedelta(days=1)
    last_30 = _sum_days(money, MONEY_KEYS, periods.last_30_start, tomorrow)
    return {
        "zone": periods.zone.key,
        "today": periods.today,
        "week_start": periods.week_start,
        "month_start": periods.month_start,
        "users": users,
        "mentor_counts": mentor_counts,
        "sessions_this_week": _sum_days(
            sessions, ("held", "cancelled"), periods.week_start, periods.week_start + timedelta(days=7)
        ),
        "money_month": _sum_days(money, MONEY_KEYS, periods.month_start, tomorrow),
        "money_30d": last_30,
        "refund_rate_30d": percent(last_30["refunded"], last_30["gross"]),
        "money_by_week": _weekly(money, MONEY_KEYS, periods),
        "sessions_by_day": [
            {"day": day, **sessions.get(day, {"held": 0, "cancelled": 0})} for day in periods.chart_days
        ],
        "signups_by_week": _weekly(signups, tuple(Role.values), periods),
    }


# --- audit log ----------------------------------------------------------------------------------
AUDIT_PAGE_SIZE = 50
# The actions the code writes today, offered as suggestions; any other action (or prefix) can be
# typed. A static list: a DISTINCT over a table of millions of rows on every page view is not.
AUDIT_FAMILIES = (
    ("account.*", "Accounts"),
    ("auth.*", "Sign-in and 2FA"),
    ("mentor.*", "Mentor approvals"),
    ("user.*", "Users (block, unblock)"),
    ("session.*", "Sessions"),
    ("payment.*", "Payments and refunds"),
    ("payout_method.*", "Payout methods"),
    ("withdrawal.*", "Withdrawals"),
    ("export.*", "Exports"),
)
KNOWN_ACTIONS = (
    "account.email_verified",
    "account.forbidden_change",
    "account.registered",
    "auth.2fa_enrolled",
    "auth.2fa_failed",
    "auth.2fa_verified",
    "auth.locked_out",
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.token_issued",
    "auth.token_revoked",
    "export.audit",
    "export.revenue_csv",
    "export.revenue_pdf",
    "mentor.approved",
    "mentor.rejected",
    "payment.after_hold",
    "payment.bad_checkout_signature",
    "payment.callback_unknown_order",
    "payment.checkout_failed",
    "payment.checkout_refused",
    "payment.duplicate",
    "payment.failed",
    "payment.refund_failed",
    "payment.refund_requested",
    "payment.webhook_bad_signature",
    "payment.webhook_refused",
    "payout_method.saved",
    "user.blocked",
    "user.unblocked",
    "withdrawal.approved",
    "withdrawal.details_viewed",
    "withdrawal.paid",
    "withdrawal.rejected",
    "withdrawal.requested",
)
ACTION_PATTERN = re.compile(r"^[a-z0-9_.]+\*?$")


@dataclass(frozen=True)
class AuditFilter:
    """`action` is exact ("auth.login") or a prefix ("auth.*" or "auth."); `actor` an e-mail
    (any case); dates are days in the viewer's zone, both included."""

    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    zone: ZoneInfo = field(default_factory=report_zone)

    @property
    def active(self) -> bool:
        return any((self.action, self.actor, self.target_type, self.target_id, self.date_from, self.date_to))

    def as_data(self) -> dict:
        """The filters for the export's audit entry (only those set)."""
        data = {
            "action": self.action,
            "actor": self.actor,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {key: value for key, value in data.items() if value}


def _actor_id(email: str) -> int | None:
    # LOWER(email) = … matches the case-insensitive unique index on e-mails.
    return (
        User.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=email.strip().lower())
        .values_list("pk", flat=True)
        .first()
    )


def audit_events(admin: User, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """The filtered audit log, newest first (created_at and action are indexed; a prefix uses
    the LIKE index PostgreSQL gets for an indexed CharField)."""
    require_admin(admin)
    events = AuditEvent.objects.select_related("actor").only(
        "created_at",
        "action",
        "target_type",
        "target_id",
        "ip_address",
        "user_agent",
        "data",
        "actor__email",
        "actor__full_name",
    )
    if action := filters.action:
        if action.endswith(("*", ".")):
            events = events.filter(action__startswith=action.rstrip("*"))
        else:
            events = events.filter(action=action)
    if filters.actor:
        actor_id = _actor_id(filters.actor)
        events = events.filter(actor_id=actor_id) if actor_id is not None else events.none()
    if filters.target_type:
        events = events.filter(target_type=filters.target_type.strip().lower())
    if filters.target_id:
        events = events.filter(target_id=filters.target_id.strip())
    if filters.date_from:
        events = events.filter(created_at__gte=_midnight(filters.date_from, filters.zone))
    if filters.date_to:
        events = events.filter(created_at__lt=_midnight(filters.date_to + timedelta(days=1), filters.zone))
    return events.order_by("-created_at", "-id")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def audit_cursor(event: AuditEvent) -> str:
    """A position in the log: the entry's time (exact, in microseconds) and id."""
    return f"{(event.created_at - EPOCH) // timedelta(microseconds=1)}_{event.pk}"


def parse_audit_cursor(value: str | None) -> tuple[datetime, int] | None:
    match = re.fullmatch(r"(-?\d{1,20})_(\d{1,20})", value or "")
    if not match:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    newer: str  # cursors for the links; "" when there is no such page
    older: str


def audit_page(events: QuerySet[AuditEvent], *, older_than: str = "", newer_than: str = "") -> AuditPage:
    """One page of the log by keyset (no COUNT(*) and no OFFSET over a table of millions): the
    page after `older_than` or before `newer_than`, or the newest. One query."""
    size = AUDIT_PAGE_SIZE
    if (cursor := parse_audit_cursor(newer_than)) is not None:
        at, pk = cursor
        rows = list(
            events.filter(created_at__gte=at)
            .filter(Q(created_at__gt=at) | Q(id__gt=pk))
            .order_by("created_at", "id")[: size + 1]
        )
        if len(rows) <= size:  # back at the top: show the newest page whole
            return audit_page(events)
        rows = rows[:size][::-1]
        return AuditPage(rows, audit_cursor(rows[0]), audit_cursor(rows[-1]))
    cursor = parse_audit_cursor(older_than)
    if cursor is not None:
        at, pk = cursor
        # The plain bound lets the created_at index do the range; the OR breaks ties by id.
        events = events.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(id__lt=pk))
    rows = list(events[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer = audit_cursor(rows[0]) if cursor is not None and rows else ""
    return AuditPage(rows, newer, audit_cursor(rows[-1]) if more_older else "")


# --- monthly revenue ----------------------------------------------------------------------------
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_MONTH = date(2000, 1, 1)


class MonthError(ValueError):
    """A `?month=` the report cannot be made for; the message says why, for the page."""


def current_month(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(report_zone()).date().replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def default_month(now: datetime | None = None) -> date:
    """The last complete month."""
    return previous_month(current_month(now))


def parse_month(value: str | None, *, now: datetime | None = None) -> date:
    """`YYYY-MM` → the first of that month; blank → the last complete month."""
    value = (value or "").strip()
    if not value:
        return default_month(now)
    match = MONTH_PATTERN.match(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise MonthError("Choose a month as YYYY-MM, for example 2025-03.")
    month = date(int(match[1]), int(match[2]), 1)
    if month < FIRST_MONTH:
        raise MonthError("Choose a month from January 2000 on.")
    if month > current_month(now):
        raise MonthError(f"{month:%B %Y} has not started yet: there is nothing to report.")
    return month


def _mentor_sums() -> dict:
    external_in = Q(account=EXTERNAL, kind__in=PAID_IN)
    refund = Q(kind=EntryKind.REFUND)
    return {
        "paid_in": Sum("amount_paise", filter=external_in),  # negative
        "tips_in": Sum("amount_paise", filter=Q(account=EXTERNAL, kind=EntryKind.TIP)),  # negative
        "share": Sum("amount_paise", filter=Q(account__startswith="mentor:", kind__in=PAID_IN)),
        "fee": Sum("amount_paise", filter=Q(account=PLATFORM_FEES, kind__in=PAID_IN)),
        "refunds": Sum("amount_paise", filter=refund & Q(account=EXTERNAL)),
        "fee_back": Sum("amount_paise", filter=refund & Q(account=PLATFORM_FEES)),  # negative
        "payouts": Sum("amount_paise", filter=Q(account=EXTERNAL, kind=EntryKind.WITHDRAWAL_PAID)),
        "payments": Count("id", filter=Q(account=EXTERNAL, kind=EntryKind.CHARGE)),
        "tip_count": Count("id", filter=Q(account=EXTERNAL, kind=EntryKind.TIP)),
        "sessions": Count("booking__session", distinct=True, filter=Q(account=EXTERNAL, kind=EntryKind.CHARGE)),
        "payout_count": Count("id", filter=Q(account=EXTERNAL, kind=EntryKind.WITHDRAWAL_PAID)),
    }


AMOUNTS = (
    "gross",
    "sessions_gross",
    "tips",
    "share",
    "fee",
    "refunds",
    "share_back",
    "fee_back",
    "net",
    "net_share",
    "net_fee",
    "payouts",
)
COUNTS = ("payments", "sessions", "tip_count", "payout_count")


def _revenue_row(row: dict) -> dict:
    gross = -(row["paid_in"] or 0)
    tips = -(row["tips_in"] or 0)
    share, fee = row["share"] or 0, row["fee"] or 0
    refunds, fee_back = row["refunds"] or 0, -(row["fee_back"] or 0)
    figures = {
        "gross": gross,
        "sessions_gross": gross - tips,
        "tips": tips,
        "share": share,
        "fee": fee,
        "refunds": refunds,
        "fee_back": fee_back,
        "share_back": refunds - fee_back,
        "net": gross - refunds,
        "net_share": share - (refunds - fee_back),
        "net_fee": fee - fee_back,
        "payouts": row["payouts"] or 0,
    }
    return {**figures, **{key: row[key] for key in COUNTS}}


@dataclass(frozen=True)
class RevenueReport:
    month: date
    zone: str
    start: datetime
    end: datetime
    complete: bool  # False for the month still running
    totals: dict
    mentors: list[dict]  # {mentor_id, name, email, …figures}, largest gross first

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def last_day(self) -> date:
        return self.end.astimezone(ZoneInfo(self.zone)).date() - timedelta(days=1)


def revenue_report(admin: User, month: date, *, now: datetime | None = None) -> RevenueReport:
    """The month's money from the ledger, by mentor and in total. One grouped query.

    Money counts in the month its ledger entry was posted: a payment when captured, a refund
    when the gateway confirmed it (not when it was asked for), a payout when marked paid."""
    require_admin(admin)
    zone = report_zone()
    start, end = _midnight(month, zone), _midnight(next_month(month), zone)
    rows = (
        LedgerEntry.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind__in=(*PAID_IN, EntryKind.REFUND, EntryKind.WITHDRAWAL_PAID),
        )
        .order_by()
        .values("mentor_id", "mentor__full_name", "mentor__email")
        .annotate(**_mentor_sums())
    )
    mentors = [
        {
            "mentor_id": row["mentor_id"],
            "name": row["mentor__full_name"] or "",
            "email": row["mentor__email"] or "",
            **_revenue_row(row),
        }
        for row in rows
    ]
    mentors.sort(key=lambda m: (-m["gross"], -m["payouts"], m["name"].lower(), m["mentor_id"] or 0))
    totals = {key: sum(m[key] for m in mentors) for key in (*AMOUNTS, *COUNTS)}
    totals["mentors_paid"] = sum(1 for m in mentors if m["gross"])
    totals["refund_rate"] = percent(totals["refunds"], totals["gross"])
    return RevenueReport(
        month=month,
        zone=zone.key,
        start=start,
        end=end,
        complete=month < current_month(now),
        totals=totals,
        mentors=mentors,
    )
