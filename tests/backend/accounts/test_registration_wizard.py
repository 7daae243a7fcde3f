"""The sign-up wizards through their pages, as a browser without JavaScript would drive them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backend.accounts.models import ApprovalState, AuditEvent, EmailCode, User
from backend.marketplace.models import AvailabilityWindow, Domain
from tests.conftest import MP4_HEAD, PASSWORD, Client, make_user, png_bytes

pytestmark = pytest.mark.django_db

STRONG = "river-Stone-93!"


def basic(client, role="learner", email="new.person@example.com", password=STRONG, name="New Person"):
    return client.post(
        f"/register/{role}/basic/",
        {"full_name": name, "email": email, "password": password, "timezone": "Asia/Kolkata"},
    )


def last_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def verify(client, role="learner", code=None):
    return client.post(f"/register/{role}/verify/", {"code": code or last_code()})


def test_learner_wizard_happy_path_signs_in_on_dashboard():
    client = Client()
    domain_ids = list(Domain.objects.values_list("pk", flat=True)[:2])

    response = basic(client)
    assert response.status_code == 302 and response.url == "/register/learner/verify/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    assert verify(client).url == "/register/learner/interests/"
    assert client.post("/register/learner/interests/", {"interests": domain_ids}).url == "/register/learner/goal/"
    assert (
        client.post("/register/learner/goal/", {"career_goal": "switch", "career_goal_detail": "Move to data"}).url
        == "/register/learner/photo/"
    )
    assert not User.objects.filter(email="new.person@example.com").exists()  # nothing until the end

    photo = SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")
    response = client.post("/register/learner/photo/", {"photo": photo})
    assert response.status_code == 302 and response.url == "/dashboard/learner/"

    user = User.objects.get(email="new.person@example.com")
    assert user.role == "learner" and user.full_name == "New Person" and user.email_verified_at is not None
    assert user.check_password(STRONG)
    profile = user.learner_profile
    assert sorted(profile.interests.values_list("pk", flat=True)) == sorted(domain_ids)
    assert profile.career_goal == "switch" and profile.career_goal_detail == "Move to data"
    assert profile.photo.name.startswith(f"photos/{user.pk}/")
    assert AuditEvent.objects.filter(action="account.registered", actor=user).exists()
    dashboard = client.get("/dashboard/learner/")
    assert dashboard.status_code == 200 and "Welcome to PeerLearn, New!" in dashboard.content.decode()


def test_mentor_wizard_happy_path_is_pending_with_availability():
    client = Client()
    domain_ids = list(Domain.objects.values_list("pk", flat=True)[:2])
    basic(client, role="mentor", email="mo@example.com", name="Mo Mentor")
    verify(client, role="mentor")
    assert (
        client.post(
            "/register/mentor/expertise/",
            {"domains": domain_ids, "skills": "Python, SQL, python", "years_experience": 6},
        ).url
        == "/register/mentor/about/"
    )
    assert (
        client.post(
            "/register/mentor/about/",
            {
                "headline": "Backend engineer at a bank",
                "bio": "I build payment systems. " * 5,
                "qualifications": "B.Tech",
            },
        ).url
        == "/register/mentor/media/"
    )
    media = {
        "photo": SimpleUploadedFile("me.jpg", png_bytes(), content_type="image/png"),
        "intro_video": SimpleUploadedFile("hello.mp4", MP4_HEAD, content_type="video/mp4"),
    }
    assert client.post("/register/mentor/media/", media).url == "/register/mentor/availability/"
    assert not User.objects.filter(email="mo@example.com").exists()
    response = client.post(
        "/register/mentor/availability/",
        {
            "monday_on": "on",
            "monday_start": "18:00",
            "monday_end": "20:00",
            "saturday_on": "on",
            "saturday_start": "10:00",
            "saturday_end": "13:00",
        },
    )
    assert response.status_code == 302 and response.url == "/dashboard/mentor/"

    user = User.objects.get(email="mo@example.com")
    profile = user.mentor_profile
    assert user.role == "mentor" and not user.is_approved_mentor
    assert profile.approval_state == ApprovalState.PENDING
    assert profile.skills == ["Python", "SQL"]
    assert profile.photo and profile.intro_video
    windows = list(AvailabilityWindow.objects.filter(mentor=user).values_list("weekday", "start_time", "end_time"))
    assert [(w[0], w[1].strftime("%H:%M"), w[2].strftime("%H:%M")) for w in windows] == [
        (0, "18:00", "20:00"),
        (5, "10:00", "13:00"),
    ]
    page = client.get("/dashboard/mentor/").content.decode()
    assert "waiting for approval" in page


def test_duplicate_email_is_a_field_error(learner):
    client = Client()
    response = basic(client, email=learner.email.upper())
    assert response.status_code == 200
    assert "An account with this e-mail already exists" in response.content.decode()
    assert User.objects.filter(email__iexact=learner.email).count() == 1
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "too short"),
        ("abcdefghijklmnop", "number or symbol"),
        ("1234567890123", "entirely numeric"),
        ("password123", "too common"),
    ],
)
def test_weak_password_is_a_field_error(password, message):
    response = basic(Client(), password=password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not EmailCode.objects.exists()


def test_wrong_code_then_lockout_after_five_attempts():
    client = Client()
    basic(client)
    right = last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        response = verify(client, code=wrong)
        assert response.status_code == 200
        assert "not right" in response.content.decode()
    response = verify(client, code=right)
    assert "Too many wrong codes" in response.content.decode()
    assert EmailCode.objects.get().attempts == 5
    # A fresh code works again.
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        client.post("/register/learner/resend-code/")
        assert verify(client).url == "/register/learner/interests/"


def test_expired_code_is_refused():
    client = Client()
    basic(client)
    code = last_code()
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = verify(client, code=code)
    assert "expired" in response.content.decode()
    assert client.get("/register/learner/interests/").url == "/register/learner/verify/"


def test_skipping_a_step_by_url_redirects_to_the_first_open_step():
    client = Client()
    response = client.get("/register/learner/photo/", follow=True)
    assert response.redirect_chain[-1][0] == "/register/learner/basic/"
    assert "Finish “Basic info” first." in response.content.decode()
    basic(client)
    assert client.get("/register/mentor/availability/").url == "/register/mentor/basic/"  # roles keep separate drafts
    assert client.post("/register/learner/photo/", {}).url == "/register/learner/verify/"
    assert not User.objects.exists()


def _to_photo_step(client):
    basic(client)
    verify(client)
    client.post("/register/learner/interests/", {"interests": [Domain.objects.first().pk]})
    client.post("/register/learner/goal/", {"career_goal": "grow"})


def test_non_image_photo_is_refused_and_nothing_created():
    client = Client()
    _to_photo_step(client)
    fake = SimpleUploadedFile("me.png", b"<?php echo 'hi'; ?>", content_type="image/png")
    response = client.post("/register/learner/photo/", {"photo": fake})
    assert response.status_code == 200
    assert "not an image we can read" in response.content.decode()
    assert not User.objects.exists()


def test_oversize_photo_is_refused(settings):
    settings.MAX_PHOTO_BYTES = 2048
    client = Client()
    _to_photo_step(client)
    big = SimpleUploadedFile("big.png", png_bytes(size=(600, 600)) + b"\0" * 4096, content_type="image/png")
    response = client.post("/register/learner/photo/", {"photo": big})
    assert "at most" in response.content.decode()
    assert not User.objects.exists()


def test_non_video_intro_is_refused():
    client = Client()
    basic(client, role="mentor")
    verify(client, role="mentor")
    client.post(
        "/register/mentor/expertise/", {"domains": [Domain.objects.first().pk], "skills": "Go", "years_experience": 3}
    )
    client.post("/register/mentor/about/", {"headline": "Go developer at a startup", "bio": "x" * 100})
    response = client.post(
        "/register/mentor/media/",
        {"intro_video": SimpleUploadedFile("intro.mp4", png_bytes(), content_type="video/mp4")},
    )
    assert response.status_code == 200
    assert "not a video we can play" in response.content.decode()


def test_email_taken_during_the_wizard_leaves_no_half_account():
    client = Client()
    _to_photo_step(client)
    make_user("new.person@example.com", "learner")  # someone else finished first
    before = User.objects.count()
    response = client.post("/register/learner/photo/", {}, follow=True)
    assert response.redirect_chain[-1][0] == "/register/learner/basic/"
    assert User.objects.count() == before
    assert not User.objects.filter(email="new.person@example.com", learner_profile__isnull=False).exists()


def test_validate_endpoint_reports_field_errors_as_you_type(learner):
    client = Client()
    response = client.post(
        "/register/learner/validate/basic/", {"full_name": "A", "email": learner.email, "password": "abc"}
    )
    errors = response.json()["errors"]
    assert "already exists" in errors["email"][0]
    assert "full_name" in errors and "password" in errors
    ok = client.post(
        "/register/learner/validate/basic/",
        {"full_name": "Alice", "email": "free@example.com", "password": STRONG, "timezone": "Asia/Kolkata"},
    )
    assert ok.json()["errors"] == {}


def test_signed_in_user_cannot_open_the_wizard(learner):
    client = Client()
    client.force_login(learner)
    assert client.get("/register/mentor/basic/").url == "/dashboard/learner/"


def test_login_page_signs_in_and_respects_next(learner):
    client = Client()
    response = client.post("/login/", {"email": learner.email, "password": PASSWORD, "next": "/dashboard/"})
    assert response.url == "/dashboard/"
    evil = Client().post("/login/", {"email": learner.email, "password": PASSWORD, "next": "https://evil.example/"})
    assert evil.url == "/dashboard/learner/"
