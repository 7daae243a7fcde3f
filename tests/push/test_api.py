"""The push REST API: auth, CSRF, the browser's subscription JSON, the test message."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from push.models import PushSubscription
from push.testing import Reply
from tests.conftest import Client, client_for
from tests.push.conftest import subscribe

URL = "/api/push/subscriptions/"


def post_json(client, url, body=None, **extra):
    return client.post(url, body or {}, content_type="application/json", **extra)


@pytest.mark.parametrize(
    "method, url", [("post", URL), ("delete", URL), ("post", "/api/push/test/"), ("get", "/api/push/config/")]
)
def test_anonymous_callers_are_refused(db, method, url):
    response = getattr(Client(), method)(url, content_type="application/json")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_config_gives_the_vapid_public_key(learner):
    response = client_for(learner).get("/api/push/config/")
    assert response.status_code == 200 and response.json() == {"public_key": settings.VAPID_PUBLIC_KEY}


def test_the_browser_subscription_json_is_stored_then_refreshed(learner, push_service):
    browser = push_service.subscribe()
    client = client_for(learner)
    created = post_json(client, URL, browser.as_json(), HTTP_USER_AGENT="Firefox/140")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["endpoint"] == browser.endpoint and body["last_success_at"] is None
    row = PushSubscription.objects.get()
    assert (row.user, row.user_agent, row.p256dh, row.auth) == (learner, "Firefox/140", browser.p256dh, browser.auth)
    refreshed = post_json(client, URL, browser.as_json())
    assert refreshed.status_code == 200 and refreshed.json()["id"] == body["id"]


def test_bad_subscriptions_answer_400_with_a_stable_code(learner, settings):
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    client = client_for(learner)
    bad_scheme = post_json(client, URL, {"endpoint": "http://93.184.216.34/x", "keys": {"p256dh": "AA", "auth": "AA"}})
    assert bad_scheme.status_code == 400 and bad_scheme.json()["error"]["code"] == "invalid_endpoint"
    private = post_json(client, URL, {"endpoint": "https://10.0.0.1/x", "keys": {"p256dh": "AA", "auth": "AA"}})
    assert private.json()["error"]["code"] == "private_endpoint"
    keys = post_json(client, URL, {"endpoint": "https://93.184.216.34/x", "keys": {"p256dh": "AA", "auth": "AA"}})
    assert keys.json()["error"]["code"] == "invalid_keys"
    missing = post_json(client, URL, {"endpoint": "https://93.184.216.34/x"})
    assert missing.status_code == 400 and missing.json()["error"] == {
        "code": "invalid",
        "message": "Some fields need attention.",
        "fields": {"keys": "This field is required."},
    }
    assert not PushSubscription.objects.exists()


def test_session_callers_need_the_csrf_token(learner, push_service):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    refused = post_json(client, URL, push_service.subscribe().as_json())
    assert refused.status_code == 403 and not PushSubscription.objects.exists()
    client.cookies["csrftoken"] = "x" * 32
    accepted = post_json(client, URL, push_service.subscribe().as_json(), HTTP_X_CSRFTOKEN="x" * 32)
    assert accepted.status_code == 201


def test_jwt_callers_need_no_csrf_token(learner, push_service):
    client = Client(enforce_csrf_checks=True)
    token = str(RefreshToken.for_user(learner).access_token)
    response = post_json(client, URL, push_service.subscribe().as_json(), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201 and PushSubscription.objects.get().user == learner


def test_delete_removes_only_the_callers_own_device(learner, outsider, push_service):
    mine, theirs = push_service.subscribe(), push_service.subscribe()
    subscribe(learner, mine), subscribe(outsider, theirs)
    client = client_for(learner)
    other = client.delete(URL, {"endpoint": theirs.endpoint}, content_type="application/json")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert PushSubscription.objects.count() == 2
    own = client.delete(URL, {"endpoint": mine.endpoint}, content_type="application/json")
    assert own.status_code == 204
    assert list(PushSubscription.objects.values_list("user", flat=True)) == [outsider.pk]


def test_the_test_message_reaches_the_callers_devices(learner, outsider, push_service):
    phone, laptop, theirs = push_service.subscribe(), push_service.subscribe(), push_service.subscribe()
    subscribe(learner, phone), subscribe(learner, laptop), subscribe(outsider, theirs)
    push_service.program(laptop.id, Reply(410))
    response = post_json(client_for(learner), "/api/push/test/")
    assert response.status_code == 200 and response.json() == {"devices": 2, "reached": 1}
    (received,) = [d for d in push_service.received if d.status == 201]
    assert received.subscription_id == phone.id
    assert received.payload["body"] == "This is a test notification"
    assert PushSubscription.objects.filter(user=learner).count() == 1  # the gone one was removed


def test_the_test_message_is_throttled(learner):
    client = client_for(learner)
    statuses = [post_json(client, "/api/push/test/").status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]
