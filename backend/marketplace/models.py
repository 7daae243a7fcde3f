"""Marketplace records. The Foundation issue needs domains, weekly availability (the mentor
wizard's last step) and enough of sessions, bookings and reviews for the landing page,
dashboards and demo data; the Marketplace issue adds their services and the rest."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class Domain(models.Model):
    """A teaching category: landing tabs, mentor domains, learner interests."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=60)
    icon = models.CharField(max_length=40, default="academic-cap", help_text="Heroicon name")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class AvailabilityWindow(models.Model):
    """A weekly window in the mentor's own timezone (weekday 0 = Monday)."""

    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_time__gt=models.F("start_time")), name="window_positive"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="window_weekday_valid"),
        ]


def new_room_code() -> str:
    return secrets.token_urlsafe(9)


class SessionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Session(models.Model):
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sessions")
    title = models.CharField(max_length=140)
    description = models.TextField(blank=True)
    topics = models.JSONField(default=list)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField(db_index=True)
    # Stored (not derived) so overlap checks and the PostgreSQL exclusion constraint can index it.
    ends_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(15), MaxValueValidator(240)])
    price_paise = models.PositiveIntegerField(default=0)
    capacity = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    thumbnail = models.ImageField(upload_to="thumbnails/", blank=True)
    room_code = models.CharField(max_length=16, unique=True, default=new_room_code)
    state = models.CharField(max_length=10, choices=SessionState.choices, default=SessionState.DRAFT)
    is_private = models.BooleanField(default=False, help_text="Created from a request; not listed publicly.")
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE, bumped on reschedule.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["state", "starts_at"]),
            models.Index(fields=["mentor", "starts_at"]),
            models.Index(fields=["domain", "starts_at"]),  # a category's upcoming sessions in order
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        from backend.marketplace.search import index_session

        self.ends_at = self.starts_at + timedelta(minutes=self.duration_minutes)
        super().save(*args, **kwargs)
        # Derived data kept beside the row, like ends_at: every write path stays searchable.
        if kwargs.get("update_fields") is None or {"title", "topics", "domain", "description"} & set(
            kwargs["update_fields"]
        ):
            index_session(self)

    @property
    def seats_left(self) -> int:
        """Needs `seats_taken`, annotated by marketplace.selectors.with_seats."""
        return self.capacity - self.seats_taken

    @property
    def is_free(self) -> bool:
        return self.price_paise == 0


class BookingState(models.TextChoices):
    HELD = "held", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class Booking(models.Model):
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="bookings")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings")
    state = models.CharField(max_length=10, choices=BookingState.choices)
    created_at = models.DateTimeField(default=timezone.now)
    hold_expires_at = models.DateTimeField(null=True, blank=True, help_text="Paid bookings: seat held until then.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, blank=True)
    refund_paise = models.PositiveIntegerField(default=0)
    attended = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["session", "state"]),  # seat counts
            models.Index(fields=["learner", "state"]),  # a learner's bookings
        ]
        constraints = [
            # One live booking per learner and session; cancelled ones may be re-booked.
            models.UniqueConstraint(
                fields=["session", "learner"],
                condition=models.Q(state__in=["held", "confirmed"]),
                name="booking_one_active_per_learner",
            )
        ]


class Review(models.Model):
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="review")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_5")
        ]


class AvailabilityException(models.Model):
    """A date the mentor is away (whole day, in the mentor's timezone)."""

    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability_exceptions"
    )
    date = models.DateField()
    note = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["mentor", "date"], name="exception_once_per_day")]


class Follow(models.Model):
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following")
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["learner", "mentor"], name="follow_once")]


class WaitlistState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Seat offered"
    CLAIMED = "claimed", "Seat taken"
    LEFT = "left", "Left the waitlist"
    MISSED = "missed", "Offer expired"
    CLOSED = "closed", "Session cancelled"


class WaitlistEntry(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="waitlist")
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries")
    state = models.CharField(max_length=10, choices=WaitlistState.choices, default=WaitlistState.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    offered_booking = models.OneToOneField(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_offer"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "learner"],
                condition=models.Q(state__in=["waiting", "offered"]),
                name="waitlist_once_while_open",
            )
        ]


class RequestState(models.TextChoices):
    PENDING = "pending", "Waiting for the mentor"
    COUNTERED = "countered", "Mentor proposed another time or price"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


OPEN_REQUEST_STATES = [RequestState.PENDING, RequestState.COUNTERED]


class SessionRequest(models.Model):
    """A learner asks a mentor for a session; answered by accept, counter-offer or decline."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="requests_sent")
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="requests_received")
    topic = models.CharField(max_length=140)
    description = models.TextField(blank=True)
    preferred_times = models.JSONField(help_text="One to three ISO 8601 UTC start times.")
    duration_minutes = models.PositiveSmallIntegerField()
    budget_paise = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=RequestState.choices, default=RequestState.PENDING)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every answer; stale answers are refused.")
    counter_starts_at = models.DateTimeField(null=True, blank=True)
    counter_price_paise = models.PositiveIntegerField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    session = models.OneToOneField(Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="request")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["mentor", "state"]), models.Index(fields=["learner", "state"])]


class SessionSearchTerm(models.Model):
    """Words of a session's title, topics, domain and mentor name, for prefix search.

    A rare word is found through the (term, session) index instead of scanning every upcoming
    session with LIKE; written by the session services whenever those fields change.
    """

    # The (session, term) index below replaces the plain foreign-key index: it answers "does this
    # session have a term starting with w?" from the index alone while walking sessions in order.
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="search_terms", db_index=False)
    term = models.CharField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["term", "session"], name="search_term_once")]
        indexes = [models.Index(fields=["session", "term"], name="search_term_by_session")]
