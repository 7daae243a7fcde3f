"""Named personas shared by every test, instead of ad-hoc setup per test."""

from __future__ import annotations

import ast
import io
import threading

import pytest
from django.core.cache import cache
from django.test import Client as DjangoClient
from django.test import TestCase
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role, User
from backend.marketplace.models import Domain

PASSWORD = "correct-horse-42"


class Client(DjangoClient):
    """A test client whose requests end like real ones: the test wraps everything in a
    transaction that never commits, so run each request's on_commit callbacks (e-mails,
    events) when it returns, as the database would after a real commit."""

    def request(self, **request):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return super().request(**request)


# CPython 3.11 keeps the AST builder's recursion counter in interpreter-wide state, so two threads
# parsing at once trip "SystemError: AST constructor recursion depth mismatch". In a test run that
# happens when pytest formats a failure (it parses the failing source) while a server or event-loop
# thread formats a logged traceback (3.11 parses the line for its carets): pytest then stops with
# INTERNALERROR and never reports the real failure. One lock around ast.parse for the test process.
_ast_parse, _ast_lock = ast.parse, threading.RLock()


def _parse_one_at_a_time(*args, **kwargs):
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; keep tests independent of each other.
    cache.clear()
    yield
    cache.clear()


def make_user(email: str, role: str, **extra) -> User:
    return User.objects.create_user(
        email, PASSWORD, full_name=extra.pop("full_name", email.split("@")[0].title()), role=role, **extra
    )


def seed_domains() -> None:
    """The taxonomy the data migration installs. Transactional tests flush tables between
    tests, so they call this (it is idempotent) instead of relying on migration data."""
    from importlib import import_module

    from django.apps import apps

    import_module("backend.marketplace.migrations.0002_seed_domains").seed(apps, None)


@pytest.fixture
def domains(db):
    seed_domains()
    return list(Domain.objects.all()[:3])


@pytest.fixture
def learner(db, domains) -> User:
    user = make_user("lena.learner@example.com", Role.LEARNER, full_name="Lena Learner")
    LearnerProfile.objects.create(user=user).interests.set(domains[:1])
    return user


@pytest.fixture
def outsider(db) -> User:
    user = make_user("oscar.outsider@example.com", Role.LEARNER, full_name="Oscar Outsider")
    LearnerProfile.objects.create(user=user)
    return user


def _mentor(email: str, state: str, domains) -> User:
    user = make_user(email, Role.MENTOR, full_name=email.split(".")[0].title() + " Mentor")
    profile = MentorProfile.objects.create(
        user=user, headline="Senior engineer", bio="Bio " * 30, skills=["Python"], approval_state=state
    )
    profile.domains.set(domains[:1])
    return user


@pytest.fixture
def mentor(db, domains) -> User:
    return _mentor("maya.mentor@example.com", ApprovalState.APPROVED, domains)


@pytest.fixture
def pending_mentor(db, domains) -> User:
    return _mentor("pete.pending@example.com", ApprovalState.PENDING, domains)


@pytest.fixture
def admin_user(db) -> User:
    user = make_user("ada.admin@example.com", Role.ADMIN, full_name="Ada Admin", is_superuser=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


def totp_now(user: User) -> str:
    from django_otp.oath import totp

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def client_for(user: User | None, *, verified: bool = False) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
        if verified:
            device = TOTPDevice.objects.get(user=user, confirmed=True)
            session = client.session
            session["otp_device_id"] = device.persistent_id
            session.save()
    return client


def png_bytes(size=(64, 64), color=(255, 87, 52)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
