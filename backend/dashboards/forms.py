"""Forms of the dashboard tabs. They parse what a browser sends (local times, rupees, comma
lists) into what the services take (aware UTC datetimes, integer paise, lists); the services
still decide what is allowed, and their DomainError lands back on these forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from backend.core.errors import DomainError
from backend.core.templatetags.ui import minutes_label
from backend.marketplace import services
from backend.marketplace.models import Domain

LOCAL_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
DURATION_CHOICES = [(m, minutes_label(m)) for m in range(15, 241, 15)]
MAX_WINDOWS_PER_DAY = 6
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


# --- fields -----------------------------------------------------------------------------------
class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")
        self.zone = ZoneInfo("UTC")

    def format_value(self, value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(self.zone).replace(tzinfo=None)
        return super().format_value(value)


class LocalDateTimeField(forms.Field):
    """A datetime-local value read as a wall-clock time in `zone` (the person's own timezone),
    returned as an aware UTC datetime. A time skipped by a daylight-saving jump is refused
    rather than silently moved by an hour."""

    widget = LocalDateTimeInput
    default_error_messages = {"invalid": "Enter a date and time."}

    def __init__(self, *, zone: ZoneInfo | None = None, **kwargs):
        super().__init__(**kwargs)
        self.zone = zone or ZoneInfo("UTC")

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @zone.setter
    def zone(self, value: ZoneInfo) -> None:
        self._zone = value
        self.widget.zone = value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):  # an initial value (disabled field): already a stored time
            return value if value.tzinfo is not None else value.replace(tzinfo=self.zone)
        text = str(value).strip()
        for fmt in LOCAL_INPUT_FORMATS:
            try:
                naive = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        aware = naive.replace(tzinfo=self.zone)
        if aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != naive:
            raise ValidationError(
                f"{naive:%-I:%M %p} does not exist on that day in {self.zone.key}: the clocks change then.",
                code="nonexistent",
            )
        return aware.astimezone(UTC)


class RupeesField(forms.DecimalField):
    """Rupees as typed (at most two decimals), cleaned to integer paise exactly."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", Decimal(settings.MAX_SESSION_PRICE_PAISE) / 100)
        super().__init__(max_digits=12, decimal_places=2, **kwargs)
        self.error_messages["min_value"] = "The amount cannot be negative."
        self.error_messages["max_decimal_places"] = "Use at most two decimals (paise)."
        self.widget.attrs.update({"inputmode": "decimal", "min": "0"})

    def clean(self, value) -> int | None:
        rupees = super().clean(value)
        # Exact: the validators allowed at most two decimals, so this is a whole number of paise.
        return None if rupees is None else int(rupees * 100)


def paise_to_rupees(paise: int) -> str:
    rupee, rest = divmod(int(paise), 100)
    return f"{rupee}" if rest == 0 else f"{rupee}.{rest:02d}"


def apply_domain_error(form: forms.Form, exc: DomainError, field_map: dict[str, str] | None = None) -> None:
    """A refused service call back on the form: field messages next to their fields, the
    overall message on top."""
    for name, message in exc.fields.items():
        target = (field_map or {}).get(name, name)
        if target in form.fields and target not in form.errors:
            form.add_error(target, message)
    form.add_error(None, exc.message)


def _set_zone(form: forms.Form, zone: ZoneInfo, *names: str, future_only: bool = False) -> None:
    now_local = timezone.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    for name in names:
        field = form.fields[name]
        field.zone = zone
        field.help_text = f"Your time ({zone.key})"
        if future_only:  # a hint for the browser's picker; the services decide
            field.widget.attrs["min"] = now_local


# --- sessions ---------------------------------------------------------------------------------
class SessionForm(forms.Form):
    FIELD_MAP = {"price_paise": "price"}

    title = forms.CharField(label="Title", max_length=140)
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    topics = forms.CharField(
        label="Topics",
        required=False,
        max_length=700,
        help_text="Separate topics with commas, e.g. Django, REST APIs",
    )
    domain = forms.ModelChoiceField(label="Category", queryset=Domain.objects.order_by("position", "name"))
    starts_at = LocalDateTimeField(label="Starts")
    duration_minutes = forms.TypedChoiceField(label="Length", coerce=int, choices=DURATION_CHOICES, initial=60)
    price = RupeesField(label="Price (₹)", initial=0, help_text="0 makes it free")
    capacity = forms.IntegerField(label="Seats", min_value=1, max_value=100, initial=1)

    def __init__(self, *args, zone: ZoneInfo, session=None, **kwargs):
        if session is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": session.title,
                "description": session.description,
                "topics": ", ".join(session.topics or []),
                "domain": session.domain_id,
                "starts_at": session.starts_at,
                "duration_minutes": session.duration_minutes,
                "price": paise_to_rupees(session.price_paise),
                "capacity": session.capacity,
            }
        super().__init__(*args, **kwargs)
        self.session = session
        # A new session's picker starts at now; an existing one may be a past draft being renamed.
        _set_zone(self, zone, "starts_at", future_only=session is None)
        duration = self.fields["duration_minutes"]
        if session is not None and session.duration_minutes not in dict(DURATION_CHOICES):
            duration.choices = sorted(
                [*DURATION_CHOICES, (session.duration_minutes, minutes_label(session.duration_minutes))]
            )
        self.fields["topics"].widget.attrs["placeholder"] = "Django, REST APIs"
        if session is not None and getattr(session, "seats_taken", 0):
            # Booked learners fixed these (services.session_update refuses changes); the
            # disabled inputs keep the stored values, so editing the rest still works.
            for name in ("starts_at", "duration_minutes", "price"):
                self.fields[name].disabled = True
            self.fields[
                "starts_at"
            ].help_text = f"Your time ({zone.key}). Learners have booked: move it with Reschedule."
            self.fields["price"].help_text = "Locked: learners booked at this price."

    def clean_topics(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("topics", "").split(",") if t.strip()]

    def clean_starts_at(self):
        starts_at = self.cleaned_data.get("starts_at")
        session = self.session
        # The input has minute precision; an unchanged minute keeps the stored value exactly.
        if starts_at and session is not None and starts_at == session.starts_at.replace(second=0, microsecond=0):
            return session.starts_at
        return starts_at

    def to_input(self) -> services.SessionInput:
        data = self.cleaned_data
        return services.SessionInput(
            title=data["title"],
            description=data.get("description", ""),
            topics=data["topics"],
            domain=data["domain"],
            starts_at=data["starts_at"],
            duration_minutes=data["duration_minutes"],
            price_paise=data["price"],
            capacity=data["capacity"],
        )


class RescheduleForm(forms.Form):
    starts_at = LocalDateTimeField(label="New start")

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        _set_zone(self, zone, "starts_at")


class CancelSessionForm(forms.Form):
    reason = forms.CharField(label="Message to learners (optional)", required=False, max_length=300)


# --- requests ---------------------------------------------------------------------------------
class VersionedForm(forms.Form):
    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class AcceptRequestForm(VersionedForm):
    starts_at = forms.CharField(max_length=40)

    def clean_starts_at(self) -> datetime:
        try:
            value = datetime.fromisoformat(self.cleaned_data["starts_at"])
        except ValueError:
            raise ValidationError("Pick one of the proposed times.") from None
        if value.tzinfo is None:
            raise ValidationError("Pick one of the proposed times.")
        return value


class CounterRequestForm(VersionedForm):
    FIELD_MAP = {"price_paise": "price"}

    starts_at = LocalDateTimeField(label="Your time")
    price = RupeesField(label="Price (₹)")

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        _set_zone(self, zone, "starts_at")


class DeclineRequestForm(VersionedForm):
    reason = forms.CharField(label="Reason", max_length=500, min_length=3)


class CounterAnswerForm(VersionedForm):
    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class RequestForm(forms.Form):
    """A learner's request from a mentor's profile; times in the learner's own timezone."""

    FIELD_MAP = {"preferred_times": "time_1", "budget_paise": "budget"}

    topic = forms.CharField(label="What do you want help with?", max_length=140)
    description = forms.CharField(
        label="Details (optional)", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    time_1 = LocalDateTimeField(label="First choice")
    time_2 = LocalDateTimeField(label="Second choice (optional)", required=False)
    time_3 = LocalDateTimeField(label="Third choice (optional)", required=False)
    duration_minutes = forms.TypedChoiceField(label="Length", coerce=int, choices=DURATION_CHOICES, initial=60)
    budget = RupeesField(label="Budget (₹)", required=False, initial=0, help_text="0 asks for a free session")

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        _set_zone(self, zone, "time_1", "time_2", "time_3", future_only=True)
        self.fields["time_2"].help_text = self.fields["time_3"].help_text = ""
        self.fields["topic"].widget.attrs["placeholder"] = "e.g. Review my Django project's structure"

    @property
    def times_errors(self) -> list[str]:
        return [str(e) for name in ("time_1", "time_2", "time_3") for e in self.errors.get(name, [])]

    def to_input(self) -> services.RequestInput:
        data = self.cleaned_data
        return services.RequestInput(
            topic=data["topic"],
            description=data.get("description", ""),
            preferred_times=[t for t in (data.get("time_1"), data.get("time_2"), data.get("time_3")) if t],
            duration_minutes=data["duration_minutes"],
            budget_paise=data.get("budget") or 0,
        )


# --- availability -----------------------------------------------------------------------------
WINDOW_FIELD = re.compile(r"^d([0-6])_(\d)_(start|end)$")


class AvailabilityForm(forms.Form):
    """Weekly windows: rows `d<weekday>_<n>_start/end`. The page shows at least two rows per
    day (one spare to add a window without JavaScript); the form accepts up to six."""

    def __init__(self, *args, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        by_day: dict[int, list] = {d: [] for d in range(7)}
        for window in windows:
            by_day[window.weekday].append(window)
        self.rows_per_day = {}
        for day in range(7):
            shown = min(MAX_WINDOWS_PER_DAY, max(2, len(by_day[day]) + 1))
            if self.is_bound:
                posted = [
                    int(m.group(2)) for key in self.data if (m := WINDOW_FIELD.match(key)) and int(m.group(1)) == day
                ]
                shown = max(shown, min(MAX_WINDOWS_PER_DAY, max(posted, default=-1) + 1))
            self.rows_per_day[day] = shown
            for index in range(MAX_WINDOWS_PER_DAY):
                existing = by_day[day][index] if index < len(by_day[day]) else None
                label = f"{WEEKDAY_NAMES[day]} window {index + 1}"
                self.fields[f"d{day}_{index}_start"] = forms.TimeField(
                    label=f"{label} from",
                    required=False,
                    initial=existing.start_time if existing else None,
                    widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                )
                self.fields[f"d{day}_{index}_end"] = forms.TimeField(
                    label=f"{label} to",
                    required=False,
                    initial=existing.end_time if existing else None,
                    widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                )

    def days(self) -> list[dict]:
        return [
            {
                "weekday": day,
                "name": WEEKDAY_NAMES[day],
                "rows": [
                    (index, self[f"d{day}_{index}_start"], self[f"d{day}_{index}_end"])
                    for index in range(self.rows_per_day[day])
                ],
                "can_add": self.rows_per_day[day] < MAX_WINDOWS_PER_DAY,
            }
            for day in range(7)
        ]

    def clean(self):
        data = super().clean()
        windows = []
        for day in range(7):
            for index in range(MAX_WINDOWS_PER_DAY):
                start, end = data.get(f"d{day}_{index}_start"), data.get(f"d{day}_{index}_end")
                if start is None and end is None:
                    continue
                if start is None or end is None:
                    self.add_error(f"d{day}_{index}_start", "Set both a start and an end, or clear both.")
                elif start >= end:
                    self.add_error(f"d{day}_{index}_end", "End after the start (windows end by midnight).")
                else:
                    windows.append({"weekday": day, "start": start, "end": end})
        data["windows"] = windows
        return data


class AwayDayForm(forms.Form):
    day = forms.DateField(label="Day away", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Note (optional)", required=False, max_length=120)
