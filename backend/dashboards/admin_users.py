"""The admin users pages, mounted under /dashboard/admin/: the list (search, filters, keyset
pages, bulk actions, CSV) and one account's page (facts, activity, audit trail, approve or
reject a mentor, block or unblock). Thin doors: reads through admin_users_selectors, every
write through accounts.services; a refusal is shown as a toast and writes nothing.

Every page answers with `Cache-Control: no-store` (never_cache): they list people's e-mails,
which must not land in the service worker's page cache."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts import services
from backend.accounts.audit import audit_record
from backend.accounts.models import ApprovalState, Role
from backend.accounts.services import BULK_MAX_USERS, REASON_MAX_LENGTH, BulkAction
from backend.core.access import Rule, page
from backend.core.csv_export import csv_download, csv_lines, csv_text
from backend.core.errors import DomainError
from backend.core.redirects import safe_next
from backend.dashboards import admin_users_selectors as selectors
from backend.dashboards.admin_users_selectors import UserState


class UserFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or e-mail"}),
    )
    role = forms.ChoiceField(label="Role", required=False, choices=[("", "Any role"), *Role.choices])
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Any state"), *UserState.CHOICES])

    def filters(self) -> selectors.UserFilter:
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.UserFilter(q=data.get("q", "").strip(), role=data.get("role", ""), state=data.get("state", ""))


def _filters(request) -> tuple[UserFilterForm, selectors.UserFilter]:
    form = UserFilterForm(request.GET)
    return form, form.filters()


def _query(filters: selectors.UserFilter) -> str:
    return urlencode(filters.as_dict())


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_users(request):
    form, filters = _filters(request)
    users = selectors.users_page(
        request.user, filters, after=request.GET.get("after"), before=request.GET.get("before")
    )
    context = {
        "nav": "users",
        "form": form,
        "filtered": filters.active,
        "users": users,
        "query": _query(filters),
        "this_page": request.get_full_path(),
        "back_param": urlencode({"next": request.get_full_path()}),  # each row links back to this page
        "bulk_actions": BulkAction.choices,
        "bulk_max": BULK_MAX_USERS,
        "reason_max": REASON_MAX_LENGTH,
    }
    return render(request, "dashboards/admin_users.html", context)


@page(Rule.ADMIN)
@require_POST
def admin_users_bulk(request):
    back = safe_next(request, reverse("admin-users"))
    try:
        outcome = services.users_bulk_action(
            admin=request.user,
            action=request.POST.get("action", ""),
            user_ids=request.POST.getlist("ids"),
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, outcome.summary)
    return redirect(back)


def _users_csv_lines(users) -> Iterator[str]:
    header = [
        "ID",
        "Name",
        "E-mail",
        "Role",
        "State",
        "Mentor approval",
        "Joined (UTC)",
        "Last sign-in (UTC)",
        "E-mail verified (UTC)",
        "Timezone",
        "Demo",
    ]

    def when(value) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else ""

    # .iterator(): an export of every account must not hold them all in memory at once.
    rows = (
        [
            u.pk,
            csv_text(u.full_name),
            csv_text(u.email),
            u.get_role_display(),
            "Active" if u.is_active else "Blocked",
            u.approval or "",
            when(u.date_joined),
            when(u.last_login),
            when(u.email_verified_at),
            u.timezone,
            "yes" if u.is_demo else "",
        ]
        for u in users.iterator(chunk_size=500)
    )
    return csv_lines(header, rows)


@page(Rule.ADMIN)
@never_cache
@require_GET
def admin_users_csv(request):
    _, filters = _filters(request)
    users = selectors.users_for_export(request.user, filters)
    audit_record(action="export.users", actor=request.user, request=request, filters=filters.as_dict())
    return csv_download(request, _users_csv_lines(users), f"peerlearn-users-{timezone.now():%Y-%m-%d}.csv")


# --- one account ------------------------------------------------------------------------------
ACTIONS = ("approve", "reject", "block", "unblock")


def _already(detail: selectors.UserDetail, action: str) -> bool:
    approval = getattr(detail.mentor_profile, "approval_state", None)
    return {
        "approve": approval == ApprovalState.APPROVED,
        "reject": approval == ApprovalState.REJECTED,
        "block": not detail.user.is_active,
        "unblock": detail.user.is_active,
    }[action]


def _act(request, detail: selectors.UserDetail, action: str, reason: str) -> str:
    """Run one decision through its service (which also refuses what is not allowed); the
    toast to show. Deciding what is already so changes nothing and tells nobody."""
    user, already = detail.user, _already(detail, action)
    if action in ("approve", "reject"):
        services.mentor_decide(
            admin=request.user, mentor=user, approve=action == "approve", reason=reason, request=request
        )
        done = "approved" if action == "approve" else "rejected"
        if already:
            return f"{user.full_name}'s mentor profile was already {done}: nothing changed."
        return f"{user.full_name}'s mentor profile is {done}, and they have been notified."
    services.user_set_blocked(admin=request.user, user=user, blocked=action == "block", reason=reason, request=request)
    if already:
        return f"{user.full_name} was already {action}ed: nothing changed."
    if action == "block":
        return f"{user.full_name} is blocked and signed out everywhere, and has been notified."
    return f"{user.full_name} is unblocked, and has been notified."


@page(Rule.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def admin_user(request, user_id: int):
    detail = selectors.get_user_for_admin(request.user, user_id)
    user = detail.user
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            messages.error(request, "Choose what to do with this account.")
        else:
            try:
                done = _act(request, detail, action, request.POST.get("reason", ""))
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, done)
        here = reverse("admin-user", args=[user.pk])
        back = safe_next(request, "")
        return redirect(f"{here}?{urlencode({'next': back})}" if back else here)
    context = {
        "nav": "users",
        "detail": detail,
        "u": user,
        "is_self": user.pk == request.user.pk,
        "reason_max": REASON_MAX_LENGTH,
        "back": safe_next(request, reverse("admin-users")),
    }
    return render(request, "dashboards/admin_user.html", context)


urlpatterns = [
    path("users/", admin_users, name="admin-users"),
    path("users/export.csv", admin_users_csv, name="admin-users-csv"),
    path("users/bulk/", admin_users_bulk, name="admin-users-bulk"),
    path("users/<int:user_id>/", admin_user, name="admin-user"),
]
