"""The roles table of PRODUCT.md, route by route and persona by persona."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from backend.core.access import Rule, _rule_of, decide
from tests.conftest import client_for

PERSONAS = ["anonymous", "learner", "mentor_pending", "mentor_approved", "admin_no2fa", "admin_2fa"]
DASH = {
    "learner": "/dashboard/learner/",
    "mentor_pending": "/dashboard/mentor/",
    "mentor_approved": "/dashboard/mentor/",
    "admin_no2fa": "/dashboard/admin/",
    "admin_2fa": "/dashboard/admin/",
}
OK = 200


def login_redirect(path: str) -> str:
    from urllib.parse import quote

    return f"/login/?next={quote(path, safe='')}"


def own(persona):
    return DASH[persona]


# path -> persona -> expected status (int) or redirect target (str)
MATRIX: dict[str, dict[str, int | str]] = {
    "/": dict.fromkeys(PERSONAS, OK),
    "/password-reset/": dict.fromkeys(PERSONAS, OK),
    "/register/": {"anonymous": OK, **{p: own(p) for p in DASH}},
    "/register/learner/basic/": {"anonymous": OK, **{p: own(p) for p in DASH}},
    "/register/mentor/basic/": {"anonymous": OK, **{p: own(p) for p in DASH}},
    "/login/": {"anonymous": OK, **{p: own(p) for p in DASH}},
    "/dashboard/": {"anonymous": login_redirect("/dashboard/"), **{p: own(p) for p in DASH}},
    "/dashboard/learner/": {
        "anonymous": login_redirect("/dashboard/learner/"),
        "learner": OK,
        "mentor_pending": "/dashboard/mentor/",
        "mentor_approved": "/dashboard/mentor/",
        "admin_no2fa": "/dashboard/admin/",
        "admin_2fa": "/dashboard/admin/",
    },
    "/dashboard/mentor/": {
        "anonymous": login_redirect("/dashboard/mentor/"),
        "learner": "/dashboard/learner/",
        "mentor_pending": OK,
        "mentor_approved": OK,
        "admin_no2fa": "/dashboard/admin/",
        "admin_2fa": "/dashboard/admin/",
    },
    "/dashboard/admin/": {
        "anonymous": login_redirect("/dashboard/admin/"),
        "learner": "/dashboard/learner/",
        "mentor_pending": "/dashboard/mentor/",
        "mentor_approved": "/dashboard/mentor/",
        "admin_no2fa": "/account/2fa/?next=%2Fdashboard%2Fadmin%2F",
        "admin_2fa": OK,
    },
    "/account/2fa/": {
        "anonymous": login_redirect("/account/2fa/"),
        "learner": "/dashboard/learner/",
        "mentor_pending": "/dashboard/mentor/",
        "mentor_approved": "/dashboard/mentor/",
        "admin_no2fa": OK,
        "admin_2fa": "/dashboard/admin/",
    },
    "/admin/": {
        "anonymous": "/admin/login/?next=/admin/",
        "learner": "/admin/login/?next=/admin/",
        "mentor_pending": "/admin/login/?next=/admin/",
        "mentor_approved": "/admin/login/?next=/admin/",
        "admin_no2fa": "/admin/login/?next=/admin/",
        "admin_2fa": OK,
    },
    "/admin/accounts/auditevent/": {
        **{p: "/admin/login/?next=/admin/accounts/auditevent/" for p in PERSONAS if p != "admin_2fa"},
        "admin_2fa": OK,
    },
    "/api/schema/": dict.fromkeys(PERSONAS, OK),
    "/api/auth/me/": {"anonymous": 401, **dict.fromkeys(DASH, OK)},
}
CASES = [(path, persona, expected) for path, row in MATRIX.items() for persona, expected in row.items()]


@pytest.fixture
def personas(learner, pending_mentor, mentor, admin_user):
    return {
        "anonymous": client_for(None),
        "learner": client_for(learner),
        "mentor_pending": client_for(pending_mentor),
        "mentor_approved": client_for(mentor),
        "admin_no2fa": client_for(admin_user),
        "admin_2fa": client_for(admin_user, verified=True),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "persona", "expected"), CASES, ids=[f"{p}-{who}" for p, who, _ in CASES])
def test_route_matrix(personas, path, persona, expected):
    response = personas[persona].get(path)
    if isinstance(expected, int):
        assert response.status_code == expected, response.content[:300]
    else:
        assert response.status_code == 302
        assert response.url == expected
    if path.startswith("/api/") and response.status_code == 401:
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_unauthorised_page_leaves_a_toast(learner):
    client = client_for(learner)
    response = client.get("/dashboard/mentor/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/learner/"
    assert "That area is not part of your account." in response.content.decode()


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def test_every_route_declares_an_access_rule():
    missing = [route for route, callback in _walk(get_resolver().url_patterns) if _rule_of(callback) is None]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rule", "persona", "code"),
    [
        (Rule.APPROVED_MENTOR, "mentor_pending", "mentor_pending"),
        (Rule.APPROVED_MENTOR, "mentor_approved", ""),
        (Rule.APPROVED_MENTOR, "learner", "wrong_role"),
        (Rule.LEARNER, "mentor_approved", "wrong_role"),
        (Rule.LEARNER, "anonymous", "not_authenticated"),
        (Rule.ADMIN, "admin_no2fa", "otp_required"),
        (Rule.ANONYMOUS, "learner", "already_signed_in"),
    ],
)
def test_rule_decisions(learner, pending_mentor, mentor, admin_user, rule, persona, code):
    from django.contrib.auth.models import AnonymousUser

    users = {
        "anonymous": AnonymousUser(),
        "learner": learner,
        "mentor_pending": pending_mentor,
        "mentor_approved": mentor,
        "admin_no2fa": admin_user,
    }
    request = RequestFactory().get("/")
    request.user = users[persona]
    decision = decide(rule, request)
    assert decision.allowed is (code == "")
    assert decision.code == code
