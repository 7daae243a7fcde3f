"""/api/auth/…: sign-up, JWT rotation and blacklist, sign-out, forged and expired tokens."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from backend.accounts.models import AuditEvent, User
from backend.marketplace.models import AvailabilityWindow, Domain
from tests.conftest import MP4_HEAD, PASSWORD, Client, png_bytes, totp_now

pytestmark = pytest.mark.django_db


def post(client, path, data, **extra):
    return client.post(path, json.dumps(data), content_type="application/json", **extra)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def email_token(client, email):
    assert post(client, "/api/auth/email-code/", {"email": email}).status_code == 202
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    response = post(client, "/api/auth/email-verify/", {"email": email, "code": code})
    assert response.status_code == 200
    return response.json()["email_token"]


def test_register_learner_via_api_returns_tokens_that_work():
    client = Client()
    token = email_token(client, "api.learner@example.com")
    interest = Domain.objects.first()
    response = client.post(
        "/api/auth/register/",
        {
            "role": "learner",
            "email_token": token,
            "full_name": "Api Learner",
            "email": "api.learner@example.com",
            "password": "Tall-trees-77",
            "timezone": "Europe/Berlin",
            "interests": [interest.pk],
            "career_goal": "grow",
            "photo": _png(),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["role"] == "learner" and body["user"]["timezone"] == "Europe/Berlin"
    me = Client().get("/api/auth/me/", **bearer(body["access"]))
    assert me.status_code == 200 and me.json()["email"] == "api.learner@example.com"
    user = User.objects.get(email="api.learner@example.com")
    assert list(user.learner_profile.interests.all()) == [interest]
    assert user.learner_profile.photo


def _png():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.png", png_bytes(), content_type="image/png")


def test_register_mentor_via_api_with_availability():
    client = Client()
    token = email_token(client, "api.mentor@example.com")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/auth/register/",
        {
            "role": "mentor",
            "email_token": token,
            "full_name": "Api Mentor",
            "email": "api.mentor@example.com",
            "password": "Tall-trees-77",
            "timezone": "Asia/Kolkata",
            "domains": [Domain.objects.first().pk],
            "skills": "Go, Rust",
            "years_experience": "4",
            "headline": "Systems programmer",
            "bio": "I write fast and safe software. " * 4,
            "intro_video": SimpleUploadedFile("v.mp4", MP4_HEAD, content_type="video/mp4"),
            "availability": json.dumps([{"weekday": 2, "start": "09:00", "end": "11:30"}]),
        },
    )
    assert response.status_code == 201, response.content
    user = User.objects.get(email="api.mentor@example.com")
    assert user.mentor_profile.approval_state == "pending" and user.mentor_profile.skills == ["Go", "Rust"]
    assert AvailabilityWindow.objects.filter(mentor=user, weekday=2).count() == 1


def test_register_without_verified_email_creates_nothing():
    response = Client().post(
        "/api/auth/register/",
        {
            "role": "learner",
            "email_token": "forged",
            "full_name": "X Y",
            "email": "x@example.com",
            "password": "Tall-trees-77",
            "timezone": "UTC",
            "interests": [Domain.objects.first().pk],
            "career_goal": "grow",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "email_unverified"
    assert not User.objects.exists()


def test_register_bad_fields_are_reported_per_field():
    client = Client()
    token = email_token(client, "bad@example.com")
    response = client.post(
        "/api/auth/register/",
        {
            "role": "mentor",
            "email_token": token,
            "email": "bad@example.com",
            "password": "weak",
            "timezone": "Mars/Base",
            "domains": [],
            "skills": "",
            "years_experience": "-1",
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    for name in [
        "full_name",
        "password",
        "timezone",
        "domains",
        "skills",
        "years_experience",
        "headline",
        "bio",
        "availability",
    ]:
        assert name in fields, name
    assert not User.objects.exists()


def test_register_as_admin_is_refused():
    response = Client().post("/api/auth/register/", {"role": "admin", "email_token": "x"})
    assert response.status_code == 400
    assert "role" in response.json()["error"]["fields"]


def login(email, password=PASSWORD, **extra):
    return post(Client(), "/api/auth/login/", {"email": email, "password": password, **extra})


def test_refresh_rotates_and_blacklists_the_old_token(learner):
    tokens = login(learner.email).json()
    first = post(Client(), "/api/auth/refresh/", {"refresh": tokens["refresh"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh"] != tokens["refresh"] and rotated["access"]
    reused = post(Client(), "/api/auth/refresh/", {"refresh": tokens["refresh"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    assert BlacklistedToken.objects.count() == 1
    assert post(Client(), "/api/auth/refresh/", {"refresh": rotated["refresh"]}).status_code == 200


def test_logout_blacklists_the_refresh_token(learner):
    tokens = login(learner.email).json()
    assert post(Client(), "/api/auth/logout/", {"refresh": tokens["refresh"]}).status_code == 205
    assert post(Client(), "/api/auth/refresh/", {"refresh": tokens["refresh"]}).status_code == 401
    assert AuditEvent.objects.filter(action="auth.token_revoked").exists()


def test_forged_and_expired_tokens_are_refused(learner):
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(learner.pk), "exp": 9999999999, "jti": "x"},
        "not-our-key-but-long-enough-for-hs256-xx",
        algorithm="HS256",
    )
    response = Client().get("/api/auth/me/", **bearer(forged))
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_not_valid"
    access = login(learner.email).json()["access"]
    assert Client().get("/api/auth/me/", **bearer(access)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        expired = Client().get("/api/auth/me/", **bearer(access))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_not_valid"
    assert Client().get("/api/auth/me/", **bearer("garbage")).status_code == 401


def test_role_change_is_refused(learner):
    access = login(learner.email).json()["access"]
    response = Client().patch(
        "/api/auth/me/", json.dumps({"role": "admin"}), content_type="application/json", **bearer(access)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "field_immutable" and "role" in response.json()["error"]["fields"]
    learner.refresh_from_db()
    assert learner.role == "learner"
    assert AuditEvent.objects.filter(action="account.forbidden_change", actor=learner).exists()


def test_profile_update_through_me(learner):
    access = login(learner.email).json()["access"]
    response = Client().patch(
        "/api/auth/me/",
        json.dumps({"timezone": "America/New_York", "theme": "dark"}),
        content_type="application/json",
        **bearer(access),
    )
    assert response.status_code == 200
    learner.refresh_from_db()
    assert (learner.timezone, learner.theme) == ("America/New_York", "dark")
    bad = Client().patch(
        "/api/auth/me/", json.dumps({"timezone": "Nowhere/City"}), content_type="application/json", **bearer(access)
    )
    assert bad.status_code == 400 and "timezone" in bad.json()["error"]["fields"]


def test_admin_token_needs_a_totp_code(admin_user):
    refused = login(admin_user.email)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "otp_required"
    wrong = login(admin_user.email, otp="000000" if totp_now(admin_user) != "000000" else "111111")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "otp_invalid"
    # django-otp throttles a device for a moment after a wrong code.
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        ok = login(admin_user.email, otp=totp_now(admin_user))
    assert ok.status_code == 200
    claims = jwt.decode(ok.json()["access"], options={"verify_signature": False})
    assert claims["otp"] is True


def test_blocked_user_cannot_sign_in_and_tokens_die(learner, admin_user):
    from backend.accounts.services import user_set_blocked

    tokens = login(learner.email).json()
    user_set_blocked(admin=admin_user, user=learner, blocked=True, reason="spam")
    response = login(learner.email)
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_blocked"
    assert post(Client(), "/api/auth/refresh/", {"refresh": tokens["refresh"]}).status_code == 401
    assert Client().get("/api/auth/me/", **bearer(tokens["access"])).status_code == 401
    assert AuditEvent.objects.filter(action="user.blocked", actor=admin_user).exists()
