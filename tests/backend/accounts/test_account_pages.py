"""Password reset, the admin second factor, mentor approval, and the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import ApprovalState, AuditEvent
from tests.conftest import PASSWORD, Client, client_for, make_user, totp_now

pytestmark = pytest.mark.django_db


def test_password_reset_by_email(learner):
    client = Client()
    response = client.post("/password-reset/", {"email": learner.email})
    assert response.url == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "Brand-new-pass-9", "new_password2": "Brand-new-pass-9"})
    assert done.url == "/password-reset/done/"
    learner.refresh_from_db()
    assert learner.check_password("Brand-new-pass-9")
    # Links work once.
    assert "This link has expired" in client.get(link, follow=True).content.decode()


def test_password_reset_for_unknown_email_reveals_nothing():
    response = Client().post("/password-reset/", {"email": "nobody@example.com"})
    assert response.url == "/password-reset/sent/"
    assert mail.outbox == []


def test_admin_enrols_totp_then_reaches_the_dashboard(db):
    admin = make_user("new.admin@example.com", "admin", is_superuser=True)
    client = Client()
    response = client.post("/login/", {"email": admin.email, "password": PASSWORD})
    assert response.url.startswith("/account/2fa/")
    page = client.get("/account/2fa/")
    assert "Set up two-step sign-in" in page.content.decode() and "data:image/svg+xml;base64," in page.content.decode()
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert client.get("/dashboard/admin/").url.startswith("/account/2fa/")
    wrong = client.post("/account/2fa/", {"token": "123"})
    assert "not right" in wrong.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        response = client.post("/account/2fa/", {"token": code, "next": "/dashboard/admin/"})
    assert response.url == "/dashboard/admin/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/dashboard/admin/").status_code == 200
    actions = set(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True))
    assert {"auth.login", "auth.2fa_enrolled", "auth.2fa_verified", "auth.2fa_failed"} <= actions


def test_enrolled_admin_confirms_with_a_code(admin_user):
    client = Client()
    client.post("/login/", {"email": admin_user.email, "password": PASSWORD})
    assert "Confirm it" in client.get("/account/2fa/").content.decode()
    response = client.post("/account/2fa/", {"token": totp_now(admin_user)})
    assert response.url == "/dashboard/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_approves_and_rejects_mentors_from_the_dashboard(admin_user, pending_mentor, mentor):
    client = client_for(admin_user, verified=True)
    page = client.get("/dashboard/admin/").content.decode()
    assert pending_mentor.full_name in page
    refused = client.post(
        f"/dashboard/admin/mentors/{pending_mentor.pk}/decide/", {"decision": "reject", "reason": ""}, follow=True
    )
    assert "Say why" in refused.content.decode()
    pending_mentor.mentor_profile.refresh_from_db()
    assert pending_mentor.mentor_profile.approval_state == ApprovalState.PENDING
    client.post(f"/dashboard/admin/mentors/{pending_mentor.pk}/decide/", {"decision": "approve"})
    pending_mentor.mentor_profile.refresh_from_db()
    assert pending_mentor.mentor_profile.approval_state == ApprovalState.APPROVED
    assert pending_mentor.mentor_profile.decided_by == admin_user
    assert AuditEvent.objects.filter(
        action="mentor.approved", actor=admin_user, target_id=str(pending_mentor.pk)
    ).exists()


def test_only_verified_admins_can_decide(learner, admin_user, pending_mentor):
    for client in (client_for(learner), client_for(admin_user)):
        client.post(f"/dashboard/admin/mentors/{pending_mentor.pk}/decide/", {"decision": "approve"})
    pending_mentor.mentor_profile.refresh_from_db()
    assert pending_mentor.mentor_profile.approval_state == ApprovalState.PENDING


def test_logout_needs_a_post_and_is_audited(learner):
    client = client_for(learner)
    assert client.get("/logout/").status_code == 200
    assert "_auth_user_id" in client.session
    assert client.post("/logout/").url == "/"
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.logout", actor=learner).exists()


def test_csrf_is_enforced_on_pages(learner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": learner.email, "password": PASSWORD})
    assert response.status_code == 403
