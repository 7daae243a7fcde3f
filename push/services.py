"""Every write to push subscriptions."""

from __future__ import annotations

import ipaddress
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from backend.core.errors import DomainError
from push.models import PushSubscription
from push.vapid import b64url_decode, b64url_encode

# A user with more devices than this loses the longest-unseen one: one account must not be able
# to make every notification fan out to thousands of endpoints.
MAX_SUBSCRIPTIONS_PER_USER = 20


class SubscriptionRefused(DomainError):
    """codes: invalid_endpoint, private_endpoint, invalid_keys."""


class SubscriptionNotFound(DomainError):
    status = status.HTTP_404_NOT_FOUND


def _refuse_endpoint(message: str) -> SubscriptionRefused:
    return SubscriptionRefused("invalid_endpoint", message, fields={"endpoint": message})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def validate_endpoint(endpoint: str) -> str:
    allow_private = settings.PUSH_ALLOW_PRIVATE_ENDPOINTS
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1000:
        raise _refuse_endpoint("The push endpoint must be a URL of at most 1000 characters.")
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise _refuse_endpoint("The push endpoint is not a valid URL.")
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not host or parts.username or parts.password or parts.fragment:
        raise _refuse_endpoint("The push endpoint must be an https:// URL.")
    if allow_private:
        return endpoint
    # What the host resolves to now; a push service's names resolve to public addresses. (The
    # answer may change later; delivery never follows redirects, which keeps the rest in bounds.)
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse_endpoint("The push endpoint's host name does not resolve.")
    if not infos or not all(_is_public(info[4][0]) for info in infos):
        message = "The push endpoint points at a private network address."
        raise SubscriptionRefused("private_endpoint", message, fields={"endpoint": message})
    return endpoint


def normalize_key(value: str, *, length: int, field: str, first_byte: int | None = None) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raw = b""
    if len(raw) != length or (first_byte is not None and raw[0] != first_byte):
        message = f"keys.{field} must be base64url of {length} bytes."
        raise SubscriptionRefused("invalid_keys", message, fields={f"keys.{field}": message})
    return b64url_encode(raw)


@transaction.atomic
def subscription_save(
    *, user, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[PushSubscription, bool]:
    """Store or refresh a browser's subscription; (subscription, created).

    An endpoint already stored for another user moves to this user: the endpoint belongs to a
    browser profile, and that profile now has this user signed in (the previous user signed out,
    or a shared device). Keeping the old row would push one user's notifications to another's
    screen; refusing would leave the signed-in user without notifications on their own device.
    """
    endpoint = validate_endpoint(endpoint)
    p256dh = normalize_key(p256dh, length=65, field="p256dh", first_byte=0x04)
    auth = normalize_key(auth, length=16, field="auth")
    now = timezone.now()
    values = {
        "user": user,
        "p256dh": p256dh,
        "auth": auth,
        "user_agent": (user_agent or "")[:300],
        "last_seen_at": now,
        "failures": 0,
    }
    existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
    if existing is not None and existing.user_id != user.pk:
        existing.delete()  # re-assigned: the new owner starts a fresh row
        existing = None
    if existing is not None:
        PushSubscription.objects.filter(pk=existing.pk).update(**values)
        existing.refresh_from_db()
        return existing, False
    try:
        with transaction.atomic():
            subscription = PushSubscription.objects.create(endpoint=endpoint, created_at=now, **values)
    except IntegrityError:  # the same browser posted twice at once; the other request created it
        PushSubscription.objects.filter(endpoint=endpoint).update(**values)
        return PushSubscription.objects.get(endpoint=endpoint), False
    _trim_devices(user)
    return subscription, True


def _trim_devices(user) -> None:
    stale = PushSubscription.objects.filter(user=user).order_by("-last_seen_at", "-pk")[MAX_SUBSCRIPTIONS_PER_USER:]
    stale_ids = list(stale.values_list("pk", flat=True))
    if stale_ids:
        PushSubscription.objects.filter(pk__in=stale_ids).delete()


@transaction.atomic
def subscription_delete(*, user, endpoint: str) -> None:
    """Forget one of the user's own devices; another user's endpoint is "not found", untouched."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    if not deleted:
        raise SubscriptionNotFound("not_found", "No such push subscription on your account.")


def subscriptions_expire_idle(*, now=None) -> int:
    """Delete subscriptions the app has not re-posted for PUSH_SUBSCRIPTION_MAX_IDLE_DAYS. Safari
    may answer 200 for a subscription that is dead, so delivery alone cannot find every one."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PUSH_SUBSCRIPTION_MAX_IDLE_DAYS)
    deleted, _ = PushSubscription.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted
