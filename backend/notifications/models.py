"""What users are told: one row per notification per recipient, read in the bell, on the
notifications page and offline; and each user's choice of channels per kind of news."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Category(models.TextChoices):
    """Kinds of news a user can switch per channel (the in-app bell always gets everything)."""

    BOOKINGS = "bookings", "Bookings and sessions"
    REMINDERS = "reminders", "Reminders before a session"
    REQUESTS = "requests", "Session requests"
    PAYMENTS = "payments", "Payments, refunds and payouts"
    FOLLOWING = "following", "New sessions from mentors you follow"
    REVIEWS = "reviews", "Reviews and feedback"
    ACCOUNT = "account", "Your account"


# Decisions about the account itself (approval, blocking) always go out on every channel: a
# blocked user cannot sign in to read the bell, so the e-mail is how they learn of it.
ALWAYS_SENT = frozenset({Category.ACCOUNT})
SWITCHABLE = [category for category in Category if category not in ALWAYS_SENT]


class Channel(models.TextChoices):
    PUSH = "push", "Push notifications on this device and others"
    EMAIL = "email", "E-mail"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=40)  # the published event, e.g. "booking.confirmed"
    category = models.CharField(max_length=12, choices=Category.choices)
    title = models.CharField(max_length=140)
    body = models.CharField(max_length=300, blank=True)
    url = models.CharField(max_length=300, blank=True)  # a path on this site
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "-id"], name="notifications_latest"),
            # The bell's unread count reads only unread rows.
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notifications_unread"),
        ]


def default_channels() -> dict:
    """Everything on by default except e-mail for reminders and following (push covers them)."""
    return {
        Channel.PUSH: {category.value: True for category in SWITCHABLE},
        Channel.EMAIL: {
            category.value: category not in (Category.REMINDERS, Category.FOLLOWING) for category in SWITCHABLE
        },
    }


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs")
    channels = models.JSONField(default=default_channels)
    updated_at = models.DateTimeField(auto_now=True)

    def wants(self, channel: str, category: str) -> bool:
        if category in ALWAYS_SENT:
            return True
        return bool(self.channels.get(channel, {}).get(category, default_channels()[channel].get(category, False)))


class NoticeSent(models.Model):
    """A scheduled notice claimed once: "reminder:<session>:<user>:<minutes>:<sequence>",
    "feedback:<booking>". The unique key makes two workers (or two scheduler ticks) racing for
    the same notice send it once; the row commits with the notification it produced."""

    key = models.CharField(max_length=80, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)
