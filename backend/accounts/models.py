from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now


class Role(models.TextChoices):
    LEARNER = "learner", "Learner"
    MENTOR = "mentor", "Mentor"
    ADMIN = "admin", "Admin"


class Theme(models.TextChoices):
    SYSTEM = "system", "Follow my device"
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"


TIMEZONE_CHOICES = sorted((name, name.replace("_", " ")) for name in zoneinfo.available_timezones())
TIMEZONE_NAMES = frozenset(name for name, _ in TIMEZONE_CHOICES)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(role=Role.ADMIN, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Signs in with e-mail. The role is fixed at sign-up (no service changes it)."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=120)
    role = models.CharField(max_length=10, choices=Role.choices)
    timezone = models.CharField(max_length=64, default=settings.DEFAULT_USER_TIMEZONE)
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    is_active = models.BooleanField(default=True, help_text="Off when an admin blocks the account.")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    is_demo = models.BooleanField(default=False, help_text="Created by the demo data command.")
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]
        # The admin users pages (migration 0003 explains each; it also adds PostgreSQL's trigram
        # index for name and e-mail search, which is raw SQL and so not listed here).
        indexes = [
            models.Index(fields=["-date_joined", "-id", "full_name", "email"], name="accounts_user_newest"),
            models.Index(fields=["role", "-date_joined", "-id"], name="accounts_user_role_newest"),
            models.Index(
                fields=["-date_joined", "-id"], condition=models.Q(is_active=False), name="accounts_user_blocked_newest"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_staff(self) -> bool:
        # Django admin is for admins only; deriving it means it cannot drift from the role.
        return self.role == Role.ADMIN

    @property
    def is_approved_mentor(self) -> bool:
        if self.role != Role.MENTOR:
            return False
        profile = getattr(self, "mentor_profile", None)
        return profile is not None and profile.approval_state == ApprovalState.APPROVED

    @property
    def first_name(self) -> str:
        return self.full_name.split(" ", 1)[0]

    @property
    def initials(self) -> str:
        parts = [p for p in self.full_name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or self.email[:1].upper()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.first_name

    @property
    def photo_url(self) -> str:
        profile = getattr(self, "mentor_profile", None) or getattr(self, "learner_profile", None)
        return profile.photo.url if profile is not None and profile.photo else ""


class CareerGoal(models.TextChoices):
    FIRST_JOB = "first_job", "Land my first job in tech"
    SWITCH = "switch", "Switch careers"
    GROW = "grow", "Grow in my current role"
    LEAD = "lead", "Move into leadership"
    FOUNDER = "founder", "Build my own company"
    EXAM = "exam", "Prepare for an exam or interview"
    CURIOSITY = "curiosity", "Learn for fun"


def photo_path(instance, filename: str) -> str:
    return f"photos/{instance.user_id}/{filename}"


def video_path(instance, filename: str) -> str:
    return f"intro-videos/{instance.user_id}/{filename}"


class LearnerProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_profile")
    interests = models.ManyToManyField("marketplace.Domain", blank=True, related_name="interested_learners")
    career_goal = models.CharField(max_length=20, choices=CareerGoal.choices, blank=True)
    career_goal_detail = models.CharField(max_length=280, blank=True)
    photo = models.ImageField(upload_to=photo_path, blank=True)

    def __str__(self) -> str:
        return f"Learner {self.user}"


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class MentorProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentor_profile")
    headline = models.CharField(max_length=120)
    domains = models.ManyToManyField("marketplace.Domain", related_name="mentors")
    skills = models.JSONField(default=list, help_text="Free-form skill tags.")
    bio = models.TextField()
    qualifications = models.TextField(blank=True)
    years_experience = models.PositiveSmallIntegerField(default=0)
    photo = models.ImageField(upload_to=photo_path, blank=True)
    intro_video = models.FileField(upload_to=video_path, blank=True)
    approval_state = models.CharField(max_length=10, choices=ApprovalState.choices, default=ApprovalState.PENDING)
    approval_note = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["approval_state"])]

    def __str__(self) -> str:
        return f"Mentor {self.user}"


class EmailCode(models.Model):
    """A one-time code sent to an address before any account exists for it.

    Only a hash is stored; attempts are counted so a code cannot be guessed.
    """

    email = models.EmailField(db_index=True)
    purpose = models.CharField(max_length=20, default="register")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email", "purpose", "-created_at"])]


class AuditEvent(models.Model):
    """Append-only record of security-relevant and admin actions."""

    created_at = models.DateTimeField(default=now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"], name="audit_target_latest")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"
