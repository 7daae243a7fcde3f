"""Every write about accounts. Doors (pages, API, admin) parse input and call one of these."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core import signing
from django.core.files import File
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from backend.accounts.audit import audit_record
from backend.accounts.models import (
    ApprovalState,
    EmailCode,
    LearnerProfile,
    MentorProfile,
    Role,
    User,
)
from backend.core.errors import Conflict, DomainError, Forbidden, TooManyAttempts
from backend.core.events import publish

EMAIL_TOKEN_SALT = "peerlearn.email-verified"
EMAIL_TOKEN_MAX_AGE = 60 * 60 * 2


# --- e-mail verification codes ------------------------------------------------------------------
def _code_hash(email: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{email}:{code}".encode(), hashlib.sha256).hexdigest()


def email_code_send(*, email: str, purpose: str = "register") -> EmailCode:
    """Send a fresh six-digit code. Older codes for the address stop working."""
    email = email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        recent = EmailCode.objects.filter(email=email, purpose=purpose, created_at__gte=now - timedelta(hours=1))
        last = recent.order_by("-created_at").first()
        if last and (now - last.created_at).total_seconds() < settings.EMAIL_CODE_RESEND_SECONDS:
            raise TooManyAttempts("code_cooldown", "A code was just sent. Wait a few seconds before asking again.")
        if recent.count() >= 5:
            raise TooManyAttempts("code_limit", "Too many codes for this address. Try again in an hour.")
        EmailCode.objects.filter(email=email, purpose=purpose, used_at__isnull=True).update(used_at=now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        record = EmailCode.objects.create(
            email=email,
            purpose=purpose,
            code_hash=_code_hash(email, code),
            expires_at=now + timedelta(minutes=settings.EMAIL_CODE_TTL_MINUTES),
        )
        context = {"code": code, "minutes": settings.EMAIL_CODE_TTL_MINUTES}
        transaction.on_commit(
            lambda: send_mail(
                f"{code} is your PeerLearn code",
                render_to_string("emails/email_code.txt", context),
                None,
                [email],
                html_message=render_to_string("emails/email_code.html", context),
            )
        )
    return record


def email_code_verify(*, email: str, code: str, purpose: str = "register") -> str:
    """Check a code and return a signed token proving the address, for the final sign-up call.

    Not atomic on purpose: a failed attempt must stay counted when the error is raised.
    """
    email = email.strip().lower()
    code = (code or "").strip()
    record = (
        EmailCode.objects.filter(email=email, purpose=purpose, used_at__isnull=True).order_by("-created_at").first()
    )
    if record is None:
        raise DomainError("code_missing", "Ask for a new code first.", fields={"code": "Ask for a new code first."})
    if record.expires_at <= timezone.now():
        raise DomainError(
            "code_expired", "That code has expired. Send a new one.", fields={"code": "That code has expired."}
        )
    # Claim an attempt before comparing, so parallel guesses cannot exceed the limit.
    claimed = EmailCode.objects.filter(pk=record.pk, attempts__lt=settings.EMAIL_CODE_MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    if not claimed:
        raise TooManyAttempts(
            "code_locked", "Too many wrong codes. Send a new one.", fields={"code": "Too many wrong codes."}
        )
    if not (code.isdigit() and hmac.compare_digest(record.code_hash, _code_hash(email, code))):
        raise DomainError("code_wrong", "That code is not right.", fields={"code": "That code is not right."})
    EmailCode.objects.filter(pk=record.pk).update(used_at=timezone.now())
    return signing.dumps({"email": email, "purpose": purpose}, salt=EMAIL_TOKEN_SALT)


def email_token_email(token: str, *, purpose: str = "register") -> str | None:
    try:
        data = signing.loads(token or "", salt=EMAIL_TOKEN_SALT, max_age=EMAIL_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("email") if data.get("purpose") == purpose else None


# --- registration -------------------------------------------------------------------------------
@dataclass
class Registration:
    """Everything a sign-up collects, already validated field by field by the wizard's forms."""

    role: str
    email: str
    full_name: str
    password_hash: str  # already hashed: the wizard never keeps a plain password in the session
    email_token: str
    timezone: str = settings.DEFAULT_USER_TIMEZONE
    photo: File | None = None
    # learner
    interests: list = field(default_factory=list)
    career_goal: str = ""
    career_goal_detail: str = ""
    # mentor
    domains: list = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    years_experience: int = 0
    headline: str = ""
    bio: str = ""
    qualifications: str = ""
    intro_video: File | None = None
    availability: list[dict] = field(default_factory=list)


@transaction.atomic
def account_register(*, registration: Registration, request=None) -> User:
    """Create the user, their profile and (mentors) weekly availability in one transaction:
    either the whole account exists afterwards or nothing does."""
    from backend.marketplace.services import availability_replace

    r = registration
    if r.role not in (Role.LEARNER, Role.MENTOR):
        raise Forbidden(
            "role_not_allowed", "Sign up as a learner or a mentor.", fields={"role": "Choose learner or mentor."}
        )
    email = r.email.strip().lower()
    if email_token_email(r.email_token) != email:
        raise DomainError(
            "email_unverified",
            "Verify your e-mail address first.",
            fields={"email": "Verify this address with the code we sent."},
        )
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(
            "email_taken",
            "An account with this e-mail already exists.",
            fields={"email": "An account with this e-mail already exists."},
        )
    try:
        with transaction.atomic():
            user = User(
                email=email,
                full_name=r.full_name.strip(),
                role=r.role,
                timezone=r.timezone,
                email_verified_at=timezone.now(),
            )
            user.password = r.password_hash
            user.save()
    except IntegrityError:
        # Two sign-ups for one address at once: the unique index lets exactly one through.
        raise Conflict(
            "email_taken",
            "An account with this e-mail already exists.",
            fields={"email": "An account with this e-mail already exists."},
        ) from None
    if r.role == Role.LEARNER:
        profile = LearnerProfile.objects.create(
            user=user, career_goal=r.career_goal, career_goal_detail=r.career_goal_detail
        )
        profile.interests.set(r.interests)
    else:
        profile = MentorProfile.objects.create(
            user=user,
            headline=r.headline,
            skills=r.skills,
            bio=r.bio,
            qualifications=r.qualifications,
            years_experience=r.years_experience,
        )
        profile.domains.set(r.domains)
        if r.intro_video:
            profile.intro_video.save(_safe_name(r.intro_video.name, "intro"), r.intro_video, save=False)
        availability_replace(mentor=user, windows=r.availability)
    if r.photo:
        profile.photo.save(_safe_name(r.photo.name, "photo"), r.photo, save=False)
    profile.save()
    audit_record(action="account.registered", actor=user, request=request, target=user, role=r.role)
    return user


def _safe_name(name: str, stem: str) -> str:
    ext = (name or "").rsplit(".", 1)[-1].lower() if "." in (name or "") else "bin"
    return f"{stem}-{secrets.token_hex(6)}.{ext[:5]}"


# --- sign-in ------------------------------------------------------------------------------------
def login_check(*, request, email: str, password: str) -> User:
    """Password check shared by the login page and the token API, with lockout (django-axes).

    `request` must be Django's HttpRequest so axes can record the address.
    """
    from axes.handlers.proxy import AxesProxyHandler

    email = (email or "").strip().lower()
    if AxesProxyHandler.is_locked(request, {"email": email}):
        raise TooManyAttempts(
            "locked_out", "Too many failed sign-in attempts. Try again in 15 minutes or reset your password."
        )
    user = authenticate(request, email=email, password=password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise TooManyAttempts(
                "locked_out", "Too many failed sign-in attempts. Try again in 15 minutes or reset your password."
            )
        blocked = User.objects.filter(email__iexact=email, is_active=False).exists()
        if blocked and _password_matches(email, password):
            raise Forbidden(
                "account_blocked", "This account is blocked. Contact support if you think this is a mistake."
            )
        raise DomainError("invalid_credentials", "E-mail or password is not right.")
    return user


def _password_matches(email: str, password: str) -> bool:
    user = User.objects.filter(email__iexact=email).first()
    return bool(user and user.check_password(password))


# --- profile ------------------------------------------------------------------------------------
@transaction.atomic
def account_update(
    *, user: User, full_name: str | None = None, timezone_name: str | None = None, theme: str | None = None
) -> User:
    changed = []
    if full_name is not None:
        user.full_name = full_name.strip()
        changed.append("full_name")
    if timezone_name is not None:
        user.timezone = timezone_name
        changed.append("timezone")
    if theme is not None:
        user.theme = theme
        changed.append("theme")
    if changed:
        user.save(update_fields=changed)
        publish("profile.updated", to=[user], data={"fields": changed})
    if "full_name" in changed and user.role == Role.MENTOR:
        # Learners find sessions by their mentor's name: keep the search terms in step.
        from backend.marketplace.search import reindex_mentor_sessions

        reindex_mentor_sessions(user)
    return user


# --- admin decisions ----------------------------------------------------------------------------
@transaction.atomic
def mentor_decide(*, admin: User, mentor: User, approve: bool, reason: str = "", request=None) -> MentorProfile:
    if admin.role != Role.ADMIN:
        raise Forbidden("forbidden", "Only admins approve mentors.")
    profile = MentorProfile.objects.select_for_update().filter(user=mentor).first()
    if profile is None:
        raise DomainError("not_a_mentor", "That account is not a mentor.")
    if not approve and not reason.strip():
        raise DomainError("reason_required", "Say why the profile is rejected.", fields={"reason": "Give a reason."})
    profile.approval_state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
    profile.approval_note = reason.strip()
    profile.decided_at = timezone.now()
    profile.decided_by = admin
    profile.save()
    audit_record(
        action="mentor.approved" if approve else "mentor.rejected",
        actor=admin,
        request=request,
        target=mentor,
        reason=reason,
    )
    return profile


@transaction.atomic
def user_set_blocked(*, admin: User, user: User, blocked: bool, reason: str = "", request=None) -> User:
    if admin.role != Role.ADMIN:
        raise Forbidden("forbidden", "Only admins block accounts.")
    if user.pk == admin.pk:
        raise DomainError("cannot_block_self", "You cannot block your own account.")
    user.is_active = not blocked
    user.save(update_fields=["is_active"])
    if blocked:
        from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

        # A blocked user's refresh tokens stop working at once, not when they expire.
        for token in OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False):
            BlacklistedToken.objects.get_or_create(token=token)
    audit_record(
        action="user.blocked" if blocked else "user.unblocked", actor=admin, request=request, target=user, reason=reason
    )
    return user
