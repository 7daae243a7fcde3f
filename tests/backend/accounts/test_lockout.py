"""Repeated failed sign-ins lock the e-mail + address pair (django-axes)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import AuditEvent
from tests.conftest import PASSWORD, Client

pytestmark = pytest.mark.django_db


def test_page_login_locks_after_five_failures_then_recovers(learner):
    client = Client()
    for _ in range(4):
        response = client.post("/login/", {"email": learner.email, "password": "wrong-password-1"})
        assert response.status_code == 200
        assert "E-mail or password is not right." in response.content.decode()
    fifth = client.post("/login/", {"email": learner.email, "password": "wrong-password-1"})
    assert fifth.status_code == 429
    right = client.post("/login/", {"email": learner.email, "password": PASSWORD})
    assert right.status_code == 429
    assert "Too many failed sign-in attempts" in right.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login_failed").count() >= 5
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    # The API shares the lock.
    api = client.post(
        "/api/auth/login/", {"email": learner.email, "password": PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 429 and api.json()["error"]["code"] == "locked_out"
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        later = client.post("/login/", {"email": learner.email, "password": PASSWORD})
        assert later.status_code == 302 and later.url == "/dashboard/learner/"


def test_lock_is_per_account_and_address(learner, outsider):
    client = Client()
    for _ in range(5):
        client.post("/login/", {"email": learner.email, "password": "nope-nope-1"})
    ok = client.post("/login/", {"email": outsider.email, "password": PASSWORD})
    assert ok.status_code == 302
