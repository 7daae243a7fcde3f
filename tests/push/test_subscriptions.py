"""Subscription validation and ownership (push.services)."""

from __future__ import annotations

import base64
import socket

import pytest
import time_machine
from django.utils import timezone

from backend.core.errors import DomainError
from push import services
from push.models import PushSubscription

# Fixed bytes, not random: parametrized ids must be equal in every pytest-xdist worker.
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes((n * 37) % 256 for n in range(64))).decode()  # padded, as some send
AUTH = base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=").decode()
PUBLIC = "https://93.184.216.34/push/abc"  # a literal public address: getaddrinfo needs no network


def save(user, endpoint=PUBLIC, p256dh=P256DH, auth=AUTH):
    return services.subscription_save(user=user, endpoint=endpoint, p256dh=p256dh, auth=auth, user_agent="UA")


def refused(code, **kwargs):
    with pytest.raises(DomainError) as caught:
        save(**kwargs)
    assert caught.value.code == code
    return caught.value


@pytest.fixture
def strict(settings):
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False


def test_a_public_https_endpoint_is_stored_with_normalized_keys(learner, strict):
    subscription, created = save(learner)
    assert created
    row = PushSubscription.objects.get()
    assert (row.user, row.endpoint, row.user_agent) == (learner, PUBLIC, "UA")
    assert row.p256dh == P256DH.rstrip("=") and row.auth == AUTH
    assert row.failures == 0 and row.last_success_at is None


@pytest.mark.parametrize(
    "endpoint",
    ["http://93.184.216.34/push/abc", "ftp://93.184.216.34/x", "not a url", "https://user:pw@93.184.216.34/x", ""],
)
def test_anything_but_an_https_url_is_refused(learner, strict, endpoint):
    error = refused("invalid_endpoint", user=learner, endpoint=endpoint)
    assert error.status == 400 and "endpoint" in error.fields
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/x",
        "https://10.1.2.3/push/x",
        "https://192.168.0.7:8443/push/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push/x",
        "https://[::ffff:10.0.0.1]/push/x",
        "https://localhost/push/x",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(learner, strict, endpoint):
    refused("private_endpoint", user=learner, endpoint=endpoint)
    assert not PushSubscription.objects.exists()


def test_private_addresses_and_http_are_allowed_when_configured(learner, settings):
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    assert save(learner, endpoint="http://127.0.0.1:9999/push/x")[1]


def test_a_host_that_does_not_resolve_is_refused(learner, strict, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    error = refused("invalid_endpoint", user=learner, endpoint="https://push.example.invalid/x")
    assert "resolve" in error.message


def test_a_host_resolving_to_any_private_address_is_refused(learner, strict, monkeypatch):
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: answers)
    refused("private_endpoint", user=learner, endpoint="https://push.example.com/x")


@pytest.mark.parametrize(
    "p256dh, auth",
    [
        (base64.urlsafe_b64encode(b"\x04" + bytes(63)).decode(), AUTH),
        (base64.urlsafe_b64encode(b"\x02" + bytes(64)).decode(), AUTH),
        ("not*base64", AUTH),
        (P256DH, base64.urlsafe_b64encode(bytes(15)).decode()),
        (P256DH, base64.urlsafe_b64encode(bytes(17)).decode()),
        (P256DH, base64.b64encode(b"\xfb\xff" + bytes(14)).decode()),
    ],
    ids=["p256dh-64-bytes", "p256dh-compressed", "p256dh-not-base64", "auth-15", "auth-17", "auth-standard-alphabet"],
)
def test_keys_of_the_wrong_size_or_alphabet_are_refused(learner, p256dh, auth):
    refused("invalid_keys", user=learner, p256dh=p256dh, auth=auth)
    assert not PushSubscription.objects.exists()


def test_posting_again_refreshes_the_same_row(learner):
    first, _ = save(learner)
    PushSubscription.objects.filter(pk=first.pk).update(failures=3)
    with time_machine.travel(timezone.now() + timezone.timedelta(days=5)):
        again, created = save(learner)
    assert not created and again.pk == first.pk
    assert again.failures == 0 and (again.last_seen_at - first.last_seen_at).days == 5
    assert PushSubscription.objects.count() == 1


def test_an_endpoint_of_another_user_moves_to_whoever_subscribes_it_last(learner, outsider):
    old, _ = save(outsider)
    new, created = save(learner)
    assert created and new.pk != old.pk
    assert list(PushSubscription.objects.values_list("user", flat=True)) == [learner.pk]


def test_a_user_keeps_at_most_the_20_latest_devices(learner):
    for n in range(services.MAX_SUBSCRIPTIONS_PER_USER + 2):
        with time_machine.travel(timezone.now() + timezone.timedelta(minutes=n)):
            save(learner, endpoint=f"https://93.184.216.34/push/{n}")
    endpoints = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert len(endpoints) == services.MAX_SUBSCRIPTIONS_PER_USER
    assert "https://93.184.216.34/push/0" not in endpoints and "https://93.184.216.34/push/21" in endpoints


def test_users_delete_only_their_own_subscriptions(learner, outsider):
    save(outsider)
    with pytest.raises(DomainError) as caught:
        services.subscription_delete(user=learner, endpoint=PUBLIC)
    assert caught.value.code == "not_found" and caught.value.status == 404
    assert PushSubscription.objects.filter(user=outsider).exists()
    services.subscription_delete(user=outsider, endpoint=PUBLIC)
    assert not PushSubscription.objects.exists()


def test_subscriptions_unseen_for_the_idle_limit_are_deleted_by_the_daily_job(learner, outsider, settings):
    from push.tasks import push_expire_idle_subscriptions

    settings.PUSH_SUBSCRIPTION_MAX_IDLE_DAYS = 60
    save(learner, endpoint="https://93.184.216.34/push/old")
    with time_machine.travel(timezone.now() + timezone.timedelta(days=30)):
        save(outsider, endpoint="https://93.184.216.34/push/recent")
    with time_machine.travel(timezone.now() + timezone.timedelta(days=61)):
        push_expire_idle_subscriptions()  # a periodic task runs inline under HUEY_IMMEDIATE
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == ["https://93.184.216.34/push/recent"]
