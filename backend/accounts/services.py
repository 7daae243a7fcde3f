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
from django.db import IntegrityError, models, transaction
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
# One door for each decision (the dashboard's pages, its bulk form, Django admin): validate, write
# only what changes, audit each account, and tell its owner through the event pipeline (in-app,
# push and e-mail per their settings; e-mail still reaches a blocked user, who cannot sign in).
# Deciding what is already so (approving an approved mentor, blocking a blocked account) writes,
# audits and notifies nothing, so a double-clicked button or a re-run bulk action is harmless.
REASON_MAX_LENGTH = 240  # the reason travels in a notification body of at most 300 characters
BULK_MAX_USERS = 200


class BulkAction(models.TextChoices):
    APPROVE = "approve", "Approve mentors"
    BLOCK = "block", "Block"
    UNBLOCK = "unblock", "Unblock"


def _require_admin(admin: User, message: str) -> None:
    if getattr(admin, "role", None) != Role.ADMIN:
        raise Forbidden("forbidden", message)


def _clean_reason(reason: str, *, required: bool, message: str) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise DomainError("reason_required", message, fields={"reason": "Give a reason."})
    if len(reason) > REASON_MAX_LENGTH:
        raise DomainError(
            "reason_too_long",
            f"Keep the reason under {REASON_MAX_LENGTH} characters.",
            fields={"reason": f"At most {REASON_MAX_LENGTH} characters."},
        )
    return reason


def _record_decisions(*, admin: User, profiles: list[MentorProfile], approve: bool, reason: str, request, **extra):
    """Write the decision on the (locked) profiles that change and audit each; returns them."""
    state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
    changed = [p for p in profiles if p.approval_state != state]
    if not changed:
        return []
    now = timezone.now()
    MentorProfile.objects.filter(pk__in=[p.pk for p in changed]).update(
        approval_state=state, approval_note=reason, decided_at=now, decided_by=admin
    )
    for profile in changed:
        profile.approval_state, profile.approval_note, profile.decided_at = state, reason, now
        profile.decided_by = admin
        audit_record(
            action="mentor.approved" if approve else "mentor.rejected",
            actor=admin,
            request=request,
            target=profile.user,
            reason=reason,
            **extra,
        )
    return changed


def _publish_decisions(*, admin: User, user_ids: list[int], approve: bool, reason: str) -> None:
    # The rejection's reason goes to the mentor; an approval's note stays an admin's note.
    data = {} if approve else {"reason": reason}
    publish("mentor.approved" if approve else "mentor.rejected", to=user_ids, data=data, actor=admin)


@transaction.atomic
def mentor_decide(*, admin: User, mentor: User, approve: bool, reason: str = "", request=None) -> MentorProfile:
    _require_admin(admin, "Only admins approve mentors.")
    profile = MentorProfile.objects.select_for_update().select_related("user").filter(user=mentor).first()
    if profile is None:
        raise DomainError("not_a_mentor", "That account is not a mentor.")
    reason = _clean_reason(reason, required=not approve, message="Say why the profile is rejected.")
    if _record_decisions(admin=admin, profiles=[profile], approve=approve, reason=reason, request=request):
        _publish_decisions(admin=admin, user_ids=[mentor.pk], approve=approve, reason=reason)
    return profile


def _refuse_unblockable(admin: User, users, blocked: bool) -> None:
    """Nobody blocks themselves, and admins are not blocked or unblocked by another admin:
    one admin account (perhaps a stolen one) must not be able to lock every other admin out.
    Admin accounts are switched off by the operators, outside the product."""
    verb = "block" if blocked else "unblock"
    if any(u.pk == admin.pk for u in users):
        raise DomainError("cannot_block_self", f"You cannot {verb} your own account.")
    admins = [u for u in users if u.role == Role.ADMIN]
    if admins:
        raise Forbidden(
            "cannot_block_admin",
            f"Admin accounts cannot be {verb}ed here ({_named(admins)}). Ask the operators.",
        )


def _set_blocked(*, admin: User, users, blocked: bool, reason: str, request, **extra) -> list[int]:
    """Switch the accounts that change (rows locked while deciding) and audit each; returns
    their ids."""
    ids = [u.pk for u in users]
    changed = list(
        User.objects.select_for_update()
        .filter(pk__in=ids, is_active=blocked)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not changed:
        return []
    User.objects.filter(pk__in=changed).update(is_active=not blocked)
    if blocked:
        _end_sign_ins(changed)
    by_pk = {u.pk: u for u in users}
    for pk in changed:
        by_pk[pk].is_active = not blocked
        audit_record(
            action="user.blocked" if blocked else "user.unblocked",
            actor=admin,
            request=request,
            target=by_pk[pk],
            reason=reason,
            **extra,
        )
    return changed


def _end_sign_ins(user_ids: list[int]) -> None:
    """A blocked user is signed out everywhere at once, not when their credentials expire:
    refresh tokens are blacklisted here; access tokens (minutes long) and web sessions are refused
    on their next request because the account is inactive (JWTAuthentication and ModelBackend
    check is_active)."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    live = OutstandingToken.objects.filter(user_id__in=user_ids, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in live.values_list("pk", flat=True)], ignore_conflicts=True
    )


def _publish_blocked(*, admin: User, user_ids: list[int], blocked: bool, reason: str) -> None:
    data = {"reason": reason} if blocked else {}
    publish("user.blocked" if blocked else "user.unblocked", to=user_ids, data=data, actor=admin)


@transaction.atomic
def user_set_blocked(*, admin: User, user: User, blocked: bool, reason: str = "", request=None) -> User:
    _require_admin(admin, "Only admins block accounts.")
    _refuse_unblockable(admin, [user], blocked)
    reason = _clean_reason(reason, required=blocked, message="Say why the account is blocked.")
    if changed := _set_blocked(admin=admin, users=[user], blocked=blocked, reason=reason, request=request):
        _publish_blocked(admin=admin, user_ids=changed, blocked=blocked, reason=reason)
    return user


def _named(users, limit: int = 5) -> str:
    names = [u.email for u in users[:limit]]
    more = len(users) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _parse_ids(user_ids) -> list[int]:
    """Distinct ids in the order given; anything but whole numbers refuses the lot."""
    ids: dict[int, None] = {}
    for raw in user_ids or []:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or len(text) > 18:
            raise DomainError("invalid_ids", "Some selected users are not valid ids: nothing was changed.")
        ids[int(text)] = None
    return list(ids)


@dataclass(frozen=True)
class BulkOutcome:
    action: str
    changed: list[int]
    unchanged: list[int]

    @property
    def summary(self) -> str:
        done = {"approve": "approved", "block": "blocked", "unblock": "unblocked"}[self.action]
        n = len(self.changed)
        text = f"{n} account{'s' if n != 1 else ''} {done}."
        if self.unchanged:
            text += f" {len(self.unchanged)} already {done}, left as they were."
        return text


@transaction.atomic
def users_bulk_action(*, admin: User, action: str, user_ids, reason: str = "", request=None) -> BulkOutcome:
    """Approve mentors, block or unblock many accounts at once, all or nothing: an unknown id,
    a non-mentor in an approval, the admin's own or another admin's account in a block, too many
    or no ids at all refuse the whole request with a message naming the problem, and nothing is
    written. Each account changed gets its own audit entry and notification, plus one summary
    entry ("users.bulk_<action>") for the request."""
    _require_admin(admin, "Only admins change accounts.")
    if action not in BulkAction.values:
        raise DomainError("unknown_action", "Choose an action: approve mentors, block or unblock.")
    ids = _parse_ids(user_ids)
    if not ids:
        raise DomainError("nothing_selected", "Select at least one account first.")
    if len(ids) > BULK_MAX_USERS:
        raise DomainError(
            "too_many_users",
            f"Select at most {BULK_MAX_USERS} accounts at once (you selected {len(ids)}): nothing was changed.",
        )
    reason = _clean_reason(reason, required=action == BulkAction.BLOCK, message="Say why the accounts are blocked.")
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).only("id", "email", "role", "is_active")}
    if missing := [pk for pk in ids if pk not in users]:
        shown = ", ".join(f"#{pk}" for pk in missing[:10]) + ("…" if len(missing) > 10 else "")
        raise DomainError("unknown_users", f"No account has the id {shown}: nothing was changed.")
    selected = [users[pk] for pk in ids]
    if action == BulkAction.APPROVE:
        changed = _bulk_approve(admin=admin, users=selected, reason=reason, request=request)
    else:
        blocked = action == BulkAction.BLOCK
        _refuse_unblockable(admin, selected, blocked)
        changed = _set_blocked(admin=admin, users=selected, blocked=blocked, reason=reason, request=request, bulk=True)
        if changed:
            _publish_blocked(admin=admin, user_ids=changed, blocked=blocked, reason=reason)
    done = set(changed)
    outcome = BulkOutcome(action, changed, [pk for pk in ids if pk not in done])
    audit_record(
        action=f"users.bulk_{action}",
        actor=admin,
        request=request,
        changed=outcome.changed,
        unchanged=outcome.unchanged,
        reason=reason,
    )
    return outcome


def _bulk_approve(*, admin: User, users: list[User], reason: str, request) -> list[int]:
    not_mentors = [u for u in users if u.role != Role.MENTOR]
    if not_mentors:
        raise DomainError(
            "not_mentors",
            f"Only mentors can be approved, and {_named(not_mentors)} "
            f"{'is' if len(not_mentors) == 1 else 'are'} not: nothing was changed.",
        )
    by_user = {u.pk: u for u in users}
    profiles = list(MentorProfile.objects.select_for_update().filter(user_id__in=by_user).order_by("user_id"))
    if without := [u for u in users if u.pk not in {p.user_id for p in profiles}]:
        raise DomainError("not_a_mentor", f"{_named(without)} has no mentor profile to approve: nothing was changed.")
    for profile in profiles:
        profile.user = by_user[profile.user_id]
    changed = _record_decisions(admin=admin, profiles=profiles, approve=True, reason=reason, request=request, bulk=True)
    ids = [p.user_id for p in changed]
    if ids:
        _publish_decisions(admin=admin, user_ids=ids, approve=True, reason=reason)
    return ids
