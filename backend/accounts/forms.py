"""Field validation for sign-up and sign-in. The wizard pages, the as-you-type checks and the
registration API all validate through these forms, so a rule lives in one place."""

from __future__ import annotations

from datetime import time

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from PIL import Image

from backend.accounts.models import TIMEZONE_CHOICES, CareerGoal, User
from backend.marketplace.models import Domain

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
# Chromium's ICU still reports some zones by their pre-rename names; store the current ones.
LEGACY_ZONES = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
}


class BasicInfoForm(forms.Form):
    full_name = forms.CharField(label="Full name", min_length=2, max_length=120)
    email = forms.EmailField(label="E-mail")
    password = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False), strip=False)
    timezone = forms.ChoiceField(label="Timezone", choices=TIMEZONE_CHOICES, initial=settings.DEFAULT_USER_TIMEZONE)

    def __init__(self, *args, require_password: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not require_password:
            del self.fields["password"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this e-mail already exists. Sign in instead?", code="email_taken")
        return email

    def clean_timezone(self) -> str:
        zone = self.cleaned_data["timezone"]
        return LEGACY_ZONES.get(zone, zone)

    def clean_full_name(self) -> str:
        return " ".join(self.cleaned_data["full_name"].split())

    def clean(self):
        data = super().clean()
        password = data.get("password")
        if password:
            probe = User(email=data.get("email", ""), full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class VerifyEmailForm(forms.Form):
    code = forms.RegexField(
        label="Verification code", regex=r"^\s*\d{6}\s*$", error_messages={"invalid": "Enter the 6-digit code."}
    )


class InterestsForm(forms.Form):
    interests = forms.ModelMultipleChoiceField(
        label="What do you want to learn?", queryset=Domain.objects.all(), widget=forms.CheckboxSelectMultiple
    )

    def clean_interests(self):
        chosen = self.cleaned_data["interests"]
        if len(chosen) > 8:
            raise ValidationError("Pick at most 8 interests.")
        return chosen


class CareerGoalForm(forms.Form):
    career_goal = forms.ChoiceField(label="Your main goal", choices=CareerGoal.choices, widget=forms.RadioSelect)
    career_goal_detail = forms.CharField(label="Anything specific? (optional)", max_length=280, required=False)


def check_photo(upload) -> None:
    if upload.size > settings.MAX_PHOTO_BYTES:
        raise ValidationError(
            f"Photos can be at most {settings.MAX_PHOTO_BYTES // (1024 * 1024)} MB.", code="photo_too_large"
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            image.verify()
    except Exception:
        raise ValidationError(
            "That file is not an image we can read. Use JPEG, PNG or WebP.", code="photo_invalid"
        ) from None
    finally:
        upload.seek(0)
    if image_format not in PHOTO_FORMATS:
        raise ValidationError("Use a JPEG, PNG or WebP image.", code="photo_format")


def check_video(upload) -> None:
    """Accept MP4/MOV (ISO base media: 'ftyp' box at byte 4) and WebM (EBML magic)."""
    if upload.size > settings.MAX_VIDEO_BYTES:
        raise ValidationError(
            f"Videos can be at most {settings.MAX_VIDEO_BYTES // (1024 * 1024)} MB.", code="video_too_large"
        )
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    if not (head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"):
        raise ValidationError("That file is not a video we can play. Use MP4, MOV or WebM.", code="video_invalid")


class PhotoForm(forms.Form):
    photo = forms.FileField(label="Profile photo (optional)", required=False)

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo:
            check_photo(photo)
        return photo


class ExpertiseForm(forms.Form):
    domains = forms.ModelMultipleChoiceField(
        label="Your domains (up to 3)", queryset=Domain.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    skills = forms.CharField(
        label="Skills", max_length=600, help_text="Separate skills with commas, e.g. Python, SQL, system design"
    )
    years_experience = forms.IntegerField(label="Years of experience", min_value=0, max_value=60)

    def clean_domains(self):
        chosen = self.cleaned_data["domains"]
        if len(chosen) > 3:
            raise ValidationError("Pick at most 3 domains.")
        return chosen

    def clean_skills(self) -> list[str]:
        skills = []
        for raw in self.cleaned_data["skills"].split(","):
            skill = " ".join(raw.split())
            if skill and skill.lower() not in {s.lower() for s in skills}:
                skills.append(skill)
        if not skills:
            raise ValidationError("Add at least one skill.")
        if len(skills) > 15:
            raise ValidationError("List at most 15 skills.")
        if any(len(s) > 40 for s in skills):
            raise ValidationError("Keep each skill under 40 characters.")
        return skills


class AboutForm(forms.Form):
    headline = forms.CharField(
        label="Headline", min_length=10, max_length=120, help_text="e.g. Senior backend engineer at a fintech"
    )
    bio = forms.CharField(label="Bio", min_length=80, max_length=2000, widget=forms.Textarea(attrs={"rows": 5}))
    qualifications = forms.CharField(
        label="Qualifications (optional)", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class MediaForm(PhotoForm):
    intro_video = forms.FileField(
        label="Intro video (optional)", required=False, help_text="MP4, MOV or WebM, up to 100 MB"
    )

    def clean_intro_video(self):
        video = self.cleaned_data.get("intro_video")
        if video:
            check_video(video)
        return video


class AvailabilityForm(forms.Form):
    """One window per weekday on the page; the API may send several per day."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            self.fields[f"{day}_on"] = forms.BooleanField(label=day.title(), required=False)
            self.fields[f"{day}_start"] = forms.TimeField(label="From", required=False, initial=time(18, 0))
            self.fields[f"{day}_end"] = forms.TimeField(label="To", required=False, initial=time(21, 0))

    def day_rows(self):
        return [(day, self[f"{day}_on"], self[f"{day}_start"], self[f"{day}_end"]) for day in WEEKDAYS]

    def clean(self):
        data = super().clean()
        windows = []
        for index, day in enumerate(WEEKDAYS):
            if not data.get(f"{day}_on"):
                continue
            start, end = data.get(f"{day}_start"), data.get(f"{day}_end")
            if start is None or end is None:
                self.add_error(f"{day}_start", "Set a start and an end time.")
            elif start >= end:
                self.add_error(f"{day}_end", "End after the start time.")
            else:
                windows.append({"weekday": index, "start": start, "end": end})
        if not windows and not self.errors:
            raise ValidationError("Choose at least one day you can teach.")
        data["windows"] = windows
        return data


class LoginForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
