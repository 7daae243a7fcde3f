"""Account pages: sign-up wizards, sign-in, sign-out, password reset, second factor."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts import forms, services
from backend.accounts.audit import audit_record
from backend.accounts.models import TIMEZONE_CHOICES, Theme
from backend.accounts.wizard import STEPS, Draft, serialisable, step_of
from backend.core.access import Rule, dashboard_url, page
from backend.core.errors import DomainError
from backend.core.redirects import safe_next

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


@page(Rule.ANONYMOUS)
def register_choice(request):
    return render(request, "accounts/register_choice.html")


def _role_or_404(role: str) -> str:
    if role not in STEPS:
        raise Http404
    return role


@page(Rule.ANONYMOUS)
def register_start(request, role):
    draft = Draft(request.session, _role_or_404(role))
    return redirect("register-step", role=role, step=draft.first_open_step().slug)


@page(Rule.ANONYMOUS)
@require_http_methods(["GET", "POST"])
def register_step(request, role, step):
    role = _role_or_404(role)
    current = step_of(role, step)
    if current is None:
        raise Http404
    draft = Draft(request.session, role)
    if not draft.may_open(step):
        first = draft.first_open_step()
        messages.info(request, f"Finish “{first.title}” first.")
        return redirect("register-step", role=role, step=first.slug)

    if step == "verify":
        return _verify_step(request, draft, current)

    form_kwargs = {}
    if request.method == "POST":
        form = current.form(request.POST, request.FILES, **form_kwargs)
        if form.is_valid():
            if step == "basic":
                draft.complete_basic(form.cleaned_data)
                if not draft.data.get("email_token"):
                    try:
                        services.email_code_send(email=form.cleaned_data["email"])
                    except DomainError as exc:
                        messages.warning(request, exc.message)
            else:
                if current.has_files:
                    draft.keep_files(request.FILES)
                    if request.POST.get("photo-clear"):
                        draft.discard_file("photo")
                draft.complete(step, serialisable(request.POST, current))
            next_step = _next_step(role, step)
            if next_step is None:
                return _finish(request, draft)
            return redirect("register-step", role=role, step=next_step.slug)
    else:
        initial = dict(draft.values(step))
        form = current.form(initial=initial or None)
    return _render_step(request, draft, current, form)


def _next_step(role: str, slug: str):
    steps = STEPS[role]
    index = [s.slug for s in steps].index(slug)
    return steps[index + 1] if index + 1 < len(steps) else None


def _render_step(request, draft: Draft, current, form, **extra):
    steps = STEPS[draft.role]
    index = [s.slug for s in steps].index(current.slug)
    context = {
        "role": draft.role,
        "steps": steps,
        "step": current,
        "step_number": index + 1,
        "step_count": len(steps),
        "progress": round(100 * (index + 1) / len(steps)),
        "form": form,
        "draft": draft,
        "kept_files": draft.data["files"],
        "is_last": index + 1 == len(steps),
        "previous": steps[index - 1] if index else None,
        **extra,
    }
    return render(request, "accounts/register_step.html", context)


def _verify_step(request, draft: Draft, current):
    email = draft.values("basic").get("email", "")
    form = forms.VerifyEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = services.email_code_verify(email=email, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", exc.fields.get("code", exc.message))
        else:
            draft.data["email_token"] = token
            draft.complete("verify", {"email": email})
            audit_record(action="account.email_verified", request=request, email=email)
            return redirect("register-step", role=draft.role, step=_next_step(draft.role, "verify").slug)
    return _render_step(request, draft, current, form, email=email)


def _finish(request, draft: Draft):
    registration, errors = draft.registration()
    if errors:
        first_bad = next(s for s in STEPS[draft.role] if s.slug in errors)
        draft.forget_from(first_bad.slug)
        messages.warning(request, f"Please check “{first_bad.title}” again.")
        return redirect("register-step", role=draft.role, step=first_bad.slug)
    try:
        user = services.account_register(registration=registration, request=request)
    except DomainError as exc:
        step = "basic" if exc.code in ("email_taken", "email_unverified") else draft.first_open_step().slug
        if exc.code == "email_unverified":
            draft.forget_from("verify")
        messages.error(request, exc.message)
        return redirect("register-step", role=draft.role, step=step)
    finally:
        for handle in (registration.photo, registration.intro_video):
            if handle:
                handle.close()
    draft.clear()
    login(request, user, backend=AUTH_BACKEND)
    if user.role == "mentor":
        messages.success(request, "Welcome to PeerLearn! Your mentor profile is now waiting for approval.")
    else:
        messages.success(request, f"Welcome to PeerLearn, {user.first_name}!")
    return redirect(dashboard_url(user))


@page(Rule.ANONYMOUS)
@require_POST
def register_resend_code(request, role):
    draft = Draft(request.session, _role_or_404(role))
    email = draft.values("basic").get("email")
    if not email:
        return redirect("register-step", role=role, step="basic")
    try:
        services.email_code_send(email=email)
    except DomainError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"We sent a new code to {email}.")
    return redirect("register-step", role=role, step="verify")


@page(Rule.ANONYMOUS)
@require_POST
def register_validate(request, role, step):
    """As-you-type checks: validate one step's fields and return the messages per field."""
    current = step_of(_role_or_404(role), step)
    if current is None or current.form is None:
        raise Http404
    form = current.form(request.POST, request.FILES)
    form.is_valid()
    return JsonResponse({"errors": {name: [str(m) for m in msgs] for name, msgs in form.errors.items()}})


# --- sign-in / out ------------------------------------------------------------------------------
@page(Rule.ANONYMOUS)
@require_http_methods(["GET", "POST"])
def login_view(request):
    form = forms.LoginForm(request.POST or None)
    context = {"form": form, "next": safe_next(request, "")}
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_check(
                request=request, email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except DomainError as exc:
            if exc.code == "locked_out":
                context["locked_message"] = exc.message
                return render(request, "accounts/login.html", context, status=429)
            form.add_error(None, exc.message)
        else:
            login(request, user, backend=AUTH_BACKEND)
            if user.role == "admin":
                return redirect(f"{reverse('two-factor')}?next={safe_next(request, dashboard_url(user))}")
            messages.success(request, f"Welcome back, {user.first_name}.")
            return redirect(safe_next(request, dashboard_url(user)))
    return render(request, "accounts/login.html", context)


@page(Rule.PUBLIC)
@require_http_methods(["GET", "POST"])
def logout_view(request):
    if request.method == "POST":
        logout(request)
        messages.info(request, "You are signed out.")
        response = redirect("/")
        # "cache" is the browser's HTTP cache only (Chromium: its DATA_TYPE_CACHE); Cache Storage
        # and the service worker stay, so offline support survives. The per-user Cache Storage
        # entries and IndexedDB are removed by pwa.js and sw.js. "storage" would also unregister
        # the service worker.
        response["Clear-Site-Data"] = '"cache"'
        return response
    if not request.user.is_authenticated:
        return redirect("/")
    return render(request, "accounts/logout.html")


password_reset = page(Rule.PUBLIC)(
    auth_views.PasswordResetView.as_view(
        template_name="accounts/password_reset.html",
        email_template_name="emails/password_reset.txt",
        html_email_template_name="emails/password_reset.html",
        subject_template_name="emails/password_reset_subject.txt",
        success_url="/password-reset/sent/",
    )
)
password_reset_sent = page(Rule.PUBLIC)(
    auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html")
)
password_reset_confirm = page(Rule.PUBLIC)(
    auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html", success_url="/password-reset/done/"
    )
)
password_reset_done = page(Rule.PUBLIC)(
    auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_done.html")
)


# --- second factor (admins) ---------------------------------------------------------------------
def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@page(Rule.AUTHENTICATED)
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Set up (first time) or confirm TOTP for this session. Only admins need it today."""
    user = request.user
    if user.role != "admin":
        return redirect(dashboard_url(user))
    target = safe_next(request, dashboard_url(user))
    if user.is_verified():
        return redirect(target)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    setting_up = device is None
    if setting_up:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False
        )
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip().replace(" ", "")
        # Once enrolled, any confirmed device counts (TOTP or a printed backup code).
        matched = (device if device.verify_token(token) else None) if setting_up else match_token(user, token)
        if token and matched is not None:
            device = matched
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit_record(action="auth.2fa_enrolled", actor=user, request=request, target=user)
            otp_login(request, device)
            audit_record(action="auth.2fa_verified", actor=user, request=request, target=user)
            messages.success(request, "Second factor confirmed.")
            return redirect(target)
        audit_record(action="auth.2fa_failed", actor=user, request=request, target=user)
        error = "That code is not right. Codes change every 30 seconds."
    context = {"setting_up": setting_up, "error": error, "next": target}
    if setting_up:
        context["qr"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/two_factor.html", context)


# --- profile and settings ---------------------------------------------------------------------
PROFILE_FIELDS = ("full_name", "timezone", "theme")


@page(Rule.AUTHENTICATED)
@require_http_methods(["GET", "POST"])
def profile(request):
    """Name, timezone and theme (validated as the API's PATCH /api/auth/me/ validates them, and
    saved by the same service), and the notification channels per category. Two forms on one
    page, each saved on its own; a refused profile form saves nothing and says why."""
    from backend.accounts.api import MeView
    from backend.notifications import services as notification_services
    from backend.notifications.models import SWITCHABLE, Channel

    user = request.user
    values = {"full_name": user.full_name, "timezone": user.timezone, "theme": user.theme}
    errors: dict[str, str] = {}
    if request.method == "POST" and request.POST.get("section") == "channels":
        channels = {
            channel: {category: f"{channel}.{category}" in request.POST for category in SWITCHABLE}
            for channel in Channel.values
        }
        notification_services.preferences_update(user=user, channels=channels)
        messages.success(request, "Notification choices saved.")
        return redirect("profile")
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in PROFILE_FIELDS}
        data = MeView.Update(data=values)
        if data.is_valid():
            services.account_update(
                user=user,
                full_name=data.validated_data["full_name"],
                timezone_name=data.validated_data["timezone"],
                theme=data.validated_data["theme"],
            )
            messages.success(request, "Profile saved.")
            return redirect("profile")
        errors = {name: " ".join(str(e) for e in problems) for name, problems in data.errors.items()}
    prefs = notification_services.preferences_of(user)
    context = {
        "nav": "profile",
        "values": values,
        "errors": errors,
        "timezones": TIMEZONE_CHOICES,
        "themes": Theme.choices,
        "channel_rows": [
            {
                "key": c.value,
                "label": c.label,
                "push": prefs.wants("push", c.value),
                "email": prefs.wants("email", c.value),
            }
            for c in SWITCHABLE
        ],
    }
    return render(request, "accounts/profile.html", context, status=400 if errors else 200)
