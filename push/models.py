from django.conf import settings
from django.db import models
from django.utils import timezone


class PushSubscription(models.Model):
    """One browser profile's push channel (PushSubscription.toJSON() in the browser).

    The endpoint is a capability URL issued by the browser's push service; it is unique because a
    browser profile has one per application server key, whoever is signed in.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=100)  # base64url, 65-byte uncompressed P-256 point
    auth = models.CharField(max_length=32)  # base64url, 16-byte secret
    user_agent = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)  # the app re-posted it
    last_success_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # consecutive refusals since the last success

    def __str__(self):
        return f"push subscription {self.pk} of user {self.user_id}"

    def as_subscription_info(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
