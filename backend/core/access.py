"""The one permission layer: the roles table of PRODUCT.md as code.

Every page and API view declares one rule. `decide()` is the only place that compares a
request with a rule; pages (PageAccessMiddleware) and the API (ApiAccess) are two thin
adapters over it. A view that declares nothing is refused (fail closed).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect
from rest_framework.permissions import BasePermission

log = logging.getLogger(__name__)


class Rule(enum.Enum):
    PUBLIC = "public"
    ANONYMOUS = "anonymous"  # sign-up and login pages: a signed-in user goes to their dashboard
    AUTHENTICATED = "authenticated"
    LEARNER = "learner"
    MENTOR = "mentor"  # pending or approved
    APPROVED_MENTOR = "approved_mentor"
    ADMIN = "admin"  # with a verified second factor


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    message: str = ""
    redirect_to: str = ""  # where a page request goes instead
    status: int = 403


ALLOW = Decision(True)


def dashboard_url(user) -> str:
    return {"learner": "/dashboard/learner/", "mentor": "/dashboard/mentor/", "admin": "/dashboard/admin/"}.get(
        getattr(user, "role", ""), "/"
    )


def is_two_factor_verified(request) -> bool:
    """Session logins are verified by django-otp's middleware; API tokens carry an `otp` claim
    that the token view only sets after checking a TOTP code."""
    user = request.user
    if getattr(user, "is_verified", None) and user.is_verified():
        return True
    token = getattr(request, "auth", None)
    return bool(token is not None and hasattr(token, "get") and token.get("otp"))


def decide(rule: Rule, request) -> Decision:
    user = request.user
    if rule is Rule.PUBLIC:
        return ALLOW
    if rule is Rule.ANONYMOUS:
        if user.is_authenticated:
            return Decision(False, "already_signed_in", "You are already signed in.", dashboard_url(user))
        return ALLOW
    if not user.is_authenticated:
        return Decision(False, "not_authenticated", "Please sign in to continue.", "", status=401)
    if rule is Rule.AUTHENTICATED:
        return ALLOW
    wrong_role = Decision(False, "wrong_role", "That area is not part of your account.", dashboard_url(user))
    if rule is Rule.LEARNER:
        return ALLOW if user.role == "learner" else wrong_role
    if rule in (Rule.MENTOR, Rule.APPROVED_MENTOR):
        if user.role != "mentor":
            return wrong_role
        if rule is Rule.APPROVED_MENTOR and not user.is_approved_mentor:
            return Decision(
                False, "mentor_pending", "Your mentor profile is waiting for approval.", "/dashboard/mentor/"
            )
        return ALLOW
    if rule is Rule.ADMIN:
        if user.role != "admin":
            return wrong_role
        if not is_two_factor_verified(request):
            return Decision(False, "otp_required", "Confirm your sign-in with your authenticator app.", "/account/2fa/")
        return ALLOW
    raise AssertionError(f"unhandled rule {rule}")


# --- pages ------------------------------------------------------------------------------------
def page(rule: Rule):
    """Declare the access rule of a page view (function or class)."""

    def mark(view):
        view.access_rule = rule
        return view

    return mark


def _rule_of(view_func) -> Rule | None:
    for candidate in (view_func, getattr(view_func, "view_class", None), getattr(view_func, "cls", None)):
        rule = getattr(candidate, "access_rule", None)
        if rule is not None:
            return rule
    return None


class PageAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from rest_framework.views import APIView  # imported late: DRF settings import this module

        cls = getattr(view_func, "cls", None)
        if cls is not None and issubclass(cls, APIView):
            return None  # the API adapter below decides, after DRF has authenticated the request
        match = request.resolver_match
        if match is not None and "admin" in match.namespaces:
            return None  # Django admin is an OTPAdminSite: staff + verified second factor
        rule = _rule_of(view_func)
        if rule is None:
            log.error("page %s declares no access rule; refusing", request.path)
            return HttpResponseForbidden("This page is not available.")
        decision = decide(rule, request)
        if decision.allowed:
            return None
        if decision.code == "not_authenticated":
            messages.info(request, decision.message)
            return redirect(f"/login/?{urlencode({'next': request.get_full_path()})}")
        if decision.code != "already_signed_in":
            messages.warning(request, decision.message)
        if decision.code == "otp_required":
            return redirect(f"{decision.redirect_to}?{urlencode({'next': request.get_full_path()})}")
        return redirect(decision.redirect_to or "/")


# --- API --------------------------------------------------------------------------------------
class ApiAccess(BasePermission):
    """DRF adapter: reads `access_rule` from the view class."""

    def has_permission(self, request, view) -> bool:
        rule = getattr(view, "access_rule", None)
        if rule is None:
            log.error("API view %s declares no access rule; refusing", type(view).__name__)
            self.message = {"code": "forbidden", "detail": "Not available."}
            return False
        decision = decide(rule, request)
        if not decision.allowed:
            self.code = decision.code
            self.message = decision.message
        return decision.allowed


def require_admin(user) -> None:
    """The check at the top of every admin selector, whatever door called it: anyone but an
    admin finds nothing (404), so a page that forgot its rule still leaks no data."""
    from backend.accounts.models import Role

    if getattr(user, "role", None) != Role.ADMIN:
        raise Http404
