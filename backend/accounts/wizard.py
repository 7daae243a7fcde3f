"""The sign-up wizards: which steps each role walks, and the draft kept between them.

The draft lives in the Django session (server side). Uploaded files wait in a draft folder
until the last step; only then does `account_register` create the account, in one
transaction. So an abandoned or failed wizard leaves no user row behind.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

from django import forms as django_forms
from django.contrib.auth.hashers import make_password
from django.core.files.storage import default_storage
from django.http import QueryDict

from backend.accounts import forms
from backend.accounts.services import Registration


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    form: type | None  # None for the e-mail code step, handled by the view
    has_files: bool = False


STEPS: dict[str, list[Step]] = {
    "learner": [
        Step("basic", "Basic info", forms.BasicInfoForm),
        Step("verify", "Verify e-mail", forms.VerifyEmailForm),
        Step("interests", "Interests", forms.InterestsForm),
        Step("goal", "Career goal", forms.CareerGoalForm),
        Step("photo", "Photo", forms.PhotoForm, has_files=True),
    ],
    "mentor": [
        Step("basic", "Basic info", forms.BasicInfoForm),
        Step("verify", "Verify e-mail", forms.VerifyEmailForm),
        Step("expertise", "Domains and skills", forms.ExpertiseForm),
        Step("about", "Bio and qualifications", forms.AboutForm),
        Step("media", "Photo and intro video", forms.MediaForm, has_files=True),
        Step("availability", "Availability", forms.AvailabilityForm),
    ],
}
FILE_FIELDS = ("photo", "intro_video")


def step_of(role: str, slug: str) -> Step | None:
    return next((s for s in STEPS[role] if s.slug == slug), None)


class Draft:
    """One role's wizard progress, stored in request.session["signup"][role]."""

    def __init__(self, session, role: str):
        self.session = session
        self.role = role
        self.data = session.setdefault("signup", {}).setdefault(role, {"steps": {}, "files": {}})

    def save(self) -> None:
        self.session.modified = True

    def done(self, slug: str) -> bool:
        return slug in self.data["steps"]

    def first_open_step(self) -> Step:
        for step in STEPS[self.role]:
            if not self.done(step.slug):
                return step
        return STEPS[self.role][-1]

    def may_open(self, slug: str) -> bool:
        """A step opens once every step before it is done: no skipping ahead by URL."""
        for step in STEPS[self.role]:
            if step.slug == slug:
                return True
            if not self.done(step.slug):
                return False
        return False

    def values(self, slug: str) -> dict:
        return self.data["steps"].get(slug, {})

    def complete(self, slug: str, values: dict) -> None:
        self.data["steps"][slug] = values
        self.save()

    def forget_from(self, slug: str) -> None:
        self.data["steps"].pop(slug, None)
        self.save()

    # basic info: the password is kept only as a hash
    def complete_basic(self, cleaned: dict) -> None:
        previous = self.values("basic").get("email")
        self.complete(
            "basic",
            {
                "full_name": cleaned["full_name"],
                "email": cleaned["email"],
                "timezone": cleaned["timezone"],
                "password_hash": make_password(cleaned["password"]),
            },
        )
        if previous != cleaned["email"]:
            self.data.pop("email_token", None)
            self.forget_from("verify")

    # files wait in a draft folder until the account exists
    def keep_files(self, files: dict) -> None:
        folder = self.data.setdefault("folder", secrets.token_hex(12))
        for name in FILE_FIELDS:
            upload = files.get(name)
            if upload:
                self.discard_file(name)
                self.data["files"][name] = default_storage.save(
                    f"signup-drafts/{folder}/{name}-{upload.name[-40:]}", upload
                )
        self.save()

    def discard_file(self, name: str) -> None:
        path = self.data["files"].pop(name, None)
        if path and default_storage.exists(path):
            default_storage.delete(path)

    def open_file(self, name: str):
        path = self.data["files"].get(name)
        if path and default_storage.exists(path):
            return default_storage.open(path, "rb")
        return None

    def clear(self) -> None:
        for name in list(self.data["files"]):
            self.discard_file(name)
        self.session.get("signup", {}).pop(self.role, None)
        self.save()

    def registration(self) -> tuple[Registration | None, dict[str, dict]]:
        """Rebuild and re-validate every step; returns the registration or errors by step."""
        basic = self.values("basic")
        errors: dict[str, dict] = {}
        basic_form = forms.BasicInfoForm(_querydict(basic), require_password=False)
        if not basic_form.is_valid():
            errors["basic"] = basic_form.errors
        kwargs = {}
        for step in STEPS[self.role]:
            if step.form is None or step.slug in ("basic", "verify") or step.has_files:
                continue
            form = step.form(_querydict(self.values(step.slug)))
            if not form.is_valid():
                errors[step.slug] = form.errors
                continue
            kwargs.update(form.cleaned_data)
        if errors:
            return None, errors
        windows = kwargs.pop("windows", [])
        # Keep what the registration has a field for (drops the per-weekday form inputs).
        known = {f.name for f in dataclass_fields(Registration)}
        kwargs = {key: value for key, value in kwargs.items() if key in known}
        registration = Registration(
            role=self.role,
            email=basic_form.cleaned_data["email"],
            full_name=basic_form.cleaned_data["full_name"],
            password_hash=basic["password_hash"],
            email_token=self.data.get("email_token", ""),
            timezone=basic_form.cleaned_data["timezone"],
            photo=self.open_file("photo"),
            intro_video=self.open_file("intro_video"),
            availability=windows,
            **kwargs,
        )
        return registration, {}


def _querydict(values: dict) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in values.items():
        if isinstance(value, list):
            query.setlist(key, [str(v) for v in value])
        else:
            query[key] = "" if value is None else str(value)
    return query


def serialisable(data: QueryDict, step: Step) -> dict:
    """The raw POST values of a step, kept so the last step can re-validate everything."""
    form = step.form()
    kept = {}
    for name in form.fields:
        if name in FILE_FIELDS or name == "password":
            continue
        values = data.getlist(name)
        kept[name] = (
            values if len(values) > 1 or isinstance(form.fields[name], _MULTI) else (values[0] if values else "")
        )
    return kept


_MULTI = (django_forms.MultipleChoiceField, django_forms.ModelMultipleChoiceField)
