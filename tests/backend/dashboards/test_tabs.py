"""Dashboard tabs as a browser without JavaScript drives them: the mentor's sessions, requests and
hours, the learner's requests and progress, and requesting / following from a mentor's profile.
Each write goes through the page and the database is checked afterwards."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.dashboards.tabs import compute_progress
from backend.marketplace import services
from backend.marketplace.models import (
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    BookingState,
    Follow,
    RequestState,
    Session,
    SessionRequest,
    SessionState,
)
from tests.backend.marketplace.factories import a_session
from tests.backend.marketplace.test_pages import another_learner, another_mentor
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def text(response) -> str:
    return response.content.decode()


def toasts(response) -> list[str]:
    return [m.message for m in response.context["messages"]] if response.context else []


def local_input(value: datetime, zone: ZoneInfo) -> str:
    """What a datetime-local input sends for `value` seen in `zone`."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def day_ahead(months: tuple[int, ...], at: time, zone: ZoneInfo, min_days: int = 3) -> datetime:
    """The first day at least `min_days` ahead falling in one of `months`, at `at` in `zone`."""
    day = (timezone.now() + timedelta(days=min_days)).astimezone(zone).date()
    while day.month not in months:
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=zone)


def session_form(**overrides) -> dict:
    from backend.marketplace.models import Domain

    starts = (timezone.now() + timedelta(days=5)).astimezone(IST).replace(hour=18, minute=0, second=0, microsecond=0)
    data = {
        "title": "Django deployment clinic",
        "description": "Bring your settings.py.",
        "topics": "Django, Deployment ,  , Gunicorn",
        "domain": Domain.objects.order_by("position").first().pk,
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "60",
        "price": "499",
        "capacity": "3",
    }
    data.update(overrides)
    return data


# --- access -----------------------------------------------------------------------------------
MENTOR_TABS = [
    "/dashboard/mentor/sessions/",
    "/dashboard/mentor/sessions/new/",
    "/dashboard/mentor/requests/",
    "/dashboard/mentor/availability/",
]
LEARNER_TABS = ["/dashboard/learner/requests/", "/dashboard/learner/progress/"]


@pytest.mark.parametrize("path", MENTOR_TABS + LEARNER_TABS)
def test_anonymous_visitors_are_sent_to_login(path, domains):
    response = client_for(None).get(path)
    assert response.status_code == 302 and response.url.startswith("/login/?next=")


@pytest.mark.parametrize("path", MENTOR_TABS)
def test_mentor_tabs(path, mentor, pending_mentor, learner, admin_user):
    assert client_for(mentor).get(path).status_code == 200
    assert client_for(pending_mentor).get(path).status_code == 200
    assert client_for(learner).get(path).url == "/dashboard/learner/"
    assert client_for(admin_user, verified=True).get(path).url == "/dashboard/admin/"


@pytest.mark.parametrize("path", LEARNER_TABS)
def test_learner_tabs(path, mentor, learner):
    assert client_for(learner).get(path).status_code == 200
    assert client_for(mentor).get(path).url == "/dashboard/mentor/"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/mentor/sessions/1/publish/",
        "/dashboard/mentor/sessions/1/reschedule/",
        "/dashboard/mentor/requests/1/accept/",
        "/dashboard/mentor/requests/1/counter/",
        "/dashboard/mentor/requests/1/decline/",
        "/dashboard/mentor/availability/away/",
    ],
)
def test_mentor_write_views_take_posts_only(path, mentor):
    assert client_for(mentor).get(path).status_code == 405


def test_learner_write_views_take_posts_only(learner):
    for path in ("/dashboard/learner/requests/1/answer/", "/dashboard/learner/requests/1/withdraw/"):
        assert client_for(learner).get(path).status_code == 405


def test_posts_need_the_csrf_token(mentor, domains):
    draft = a_session(mentor, state=SessionState.DRAFT)
    strict = client_for(mentor)
    strict.handler.enforce_csrf_checks = True
    assert strict.post(f"/dashboard/mentor/sessions/{draft.pk}/publish/").status_code == 403
    assert strict.post("/dashboard/mentor/sessions/new/", session_form()).status_code == 403
    draft.refresh_from_db()
    assert draft.state == SessionState.DRAFT and Session.objects.count() == 1
    assert 'name="csrfmiddlewaretoken"' in text(strict.get("/dashboard/mentor/sessions/new/"))


def test_navigation_marks_the_current_tab(mentor, learner):
    for client, path in [
        (client_for(mentor), "/dashboard/mentor/sessions/"),
        (client_for(mentor), "/dashboard/mentor/requests/"),
        (client_for(mentor), "/dashboard/mentor/availability/"),
        (client_for(learner), "/dashboard/learner/requests/"),
        (client_for(learner), "/dashboard/learner/progress/"),
    ]:
        body = text(client.get(path))
        # sidebar and bottom navigation both point here and mark it current
        assert len(re.findall(rf'href="{path}"\s+aria-current="page"', body)) == 2, path


# --- mentor sessions list ---------------------------------------------------------------------
def test_sessions_tabs_split_drafts_scheduled_and_past(mentor, learner, outsider, domains):
    a_session(mentor, title="Draft plan", state=SessionState.DRAFT, hours_ahead=72)
    booked = a_session(mentor, title="Booked clinic", capacity=3, price=49_900)
    Booking.objects.create(session=booked, learner=learner, state=BookingState.CONFIRMED)
    Booking.objects.create(
        session=booked, learner=outsider, state=BookingState.HELD, hold_expires_at=timezone.now() + timedelta(minutes=9)
    )
    a_session(mentor, title="Old one", state=SessionState.COMPLETED, hours_ahead=-30)
    a_session(mentor, title="Called off", state=SessionState.CANCELLED, hours_ahead=-60)
    client = client_for(mentor)

    scheduled = text(client.get("/dashboard/mentor/sessions/"))
    assert "Booked clinic" in scheduled and "Draft plan" not in scheduled and "Old one" not in scheduled
    assert "2/3 seats taken" in scheduled and "₹499" in scheduled and "IST" in scheduled
    assert f"/dashboard/mentor/sessions/{booked.pk}/edit/" in scheduled
    assert f"/dashboard/mentor/sessions/{booked.pk}/reschedule/" in scheduled
    assert f"/dashboard/mentor/sessions/{booked.pk}/cancel/" in scheduled
    assert 'type="datetime-local" name="starts_at"' in scheduled and "your time (Asia/Kolkata)" in scheduled
    assert re.search(r'href="\?tab=scheduled" aria-current="page">Scheduled <span class="tab-count">1', scheduled)

    drafts = text(client.get("/dashboard/mentor/sessions/?tab=drafts"))
    assert "Draft plan" in drafts and "Booked clinic" not in drafts and "/publish/" in drafts

    past = text(client.get("/dashboard/mentor/sessions/?tab=past"))
    assert past.index("Old one") < past.index("Called off")  # newest first
    assert "chip-completed" in past and "chip-cancelled" in past
    assert "/edit/" not in past and "/cancel/" not in past and "/reschedule/" not in past


def test_sessions_tabs_have_honest_empty_states(mentor):
    client = client_for(mentor)
    assert "Nothing scheduled" in text(client.get("/dashboard/mentor/sessions/"))
    assert "No drafts" in text(client.get("/dashboard/mentor/sessions/?tab=drafts"))
    assert "Completed and cancelled sessions show up here" in text(client.get("/dashboard/mentor/sessions/?tab=past"))


def test_pending_mentor_sees_a_disabled_publish_button_with_the_reason(pending_mentor, domains):
    a_session(pending_mentor, state=SessionState.DRAFT)
    body = text(client_for(pending_mentor).get("/dashboard/mentor/sessions/?tab=drafts"))
    assert re.search(
        r'<button class="btn btn-primary" type="button" disabled aria-describedby="publish-pending">', body
    )
    assert 'id="publish-pending"' in body and "Publishing opens once an admin approves" in body
    assert "/publish/" not in body


# --- create / edit ----------------------------------------------------------------------------
def test_create_a_draft_through_the_form(mentor):
    client = client_for(mentor)
    form_page = text(client.get("/dashboard/mentor/sessions/new/"))
    assert "Your time (Asia/Kolkata)" in form_page and "Save and publish" in form_page
    assert '<option value="240">4 h</option>' in form_page and '<option value="15">15 min</option>' in form_page
    response = client.post("/dashboard/mentor/sessions/new/", session_form(), follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/mentor/sessions/?tab=drafts"
    assert "Draft “Django deployment clinic” saved." in toasts(response)
    session = Session.objects.get()
    assert session.state == SessionState.DRAFT and session.mentor == mentor
    assert session.topics == ["Django", "Deployment", "Gunicorn"]
    assert session.price_paise == 49_900 and session.capacity == 3 and session.duration_minutes == 60
    assert session.starts_at.astimezone(IST).hour == 18 and session.starts_at.astimezone(IST).minute == 0


def test_save_and_publish_schedules_at_once(mentor):
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", {**session_form(), "publish": "1"})
    assert response.url == "/dashboard/mentor/sessions/?tab=scheduled"
    assert Session.objects.get().state == SessionState.SCHEDULED


def test_pending_mentor_saves_drafts_only(pending_mentor):
    client = client_for(pending_mentor)
    assert "Save and publish" not in text(client.get("/dashboard/mentor/sessions/new/"))
    response = client.post("/dashboard/mentor/sessions/new/", {**session_form(), "publish": "1"}, follow=True)
    session = Session.objects.get()
    assert session.state == SessionState.DRAFT
    assert any("not published" in m and "waiting for approval" in m for m in toasts(response))
    assert response.redirect_chain[-1][0] == f"/dashboard/mentor/sessions/{session.pk}/edit/"


@pytest.mark.parametrize(
    ("typed", "paise"),
    [("499.5", 49_950), ("499.50", 49_950), ("0", 0), ("1", 100), ("0.01", None), ("99999.99", 9_999_999)],
)
def test_price_in_rupees_becomes_exact_paise(mentor, typed, paise):
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", session_form(price=typed))
    if paise is None:  # a valid amount the service refuses: paid sessions cost at least ₹1
        assert response.status_code == 400 and "Paid sessions cost at least ₹1." in text(response)
        assert not Session.objects.exists()
    else:
        assert response.status_code == 302
        assert Session.objects.get().price_paise == paise


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1.234", "Use at most two decimals (paise)."),
        ("-5", "The amount cannot be negative."),
        ("abc", "Enter a number."),
        ("100000.01", "less than or equal to 100000"),
    ],
)
def test_bad_prices_are_refused_on_the_field(mentor, typed, message):
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", session_form(price=typed))
    assert response.status_code == 400
    assert message in text(response)
    assert re.search(r'class="field has-error" data-field="price"', text(response))
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    ("months", "utc_hour"),
    [((1, 2), 14), ((7,), 13)],  # EST is UTC-5 in winter; EDT is UTC-4 in summer
    ids=["winter", "summer"],
)
def test_start_is_read_in_the_mentors_own_timezone(mentor, months, utc_hour):
    mentor.timezone = "America/New_York"
    mentor.save()
    day = day_ahead(months, time(9), NEW_YORK)
    client = client_for(mentor)
    assert "Your time (America/New_York)" in text(client.get("/dashboard/mentor/sessions/new/"))
    response = client.post("/dashboard/mentor/sessions/new/", session_form(starts_at=day.strftime("%Y-%m-%dT09:00")))
    assert response.status_code == 302
    stored = Session.objects.get().starts_at
    assert stored.astimezone(UTC).hour == utc_hour and stored.astimezone(UTC).date() == day.date()
    # The edit form shows it back as 09:00 in New York.
    edit = text(client.get(f"/dashboard/mentor/sessions/{Session.objects.get().pk}/edit/"))
    assert f'value="{day:%Y-%m-%d}T09:00"' in edit


def test_a_time_skipped_by_the_clock_change_is_refused(mentor):
    mentor.timezone = "America/New_York"
    mentor.save()
    # 02:30 on the second Sunday of March does not exist in New York.
    today = timezone.now().astimezone(NEW_YORK).date()
    day = next(
        sunday
        for year in (today.year, today.year + 1)
        for sunday in [date(year, 3, 8) + timedelta(days=(6 - date(year, 3, 8).weekday()) % 7)]
        if sunday > today
    )
    if (day - today).days > 360:
        pytest.skip("the next clock change is more than the services' year ahead")
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", session_form(starts_at=f"{day}T02:30"))
    assert response.status_code == 400 and "the clocks change then" in text(response)
    assert not Session.objects.exists()


def test_service_refusals_land_on_the_form(mentor):
    past = (timezone.now() - timedelta(hours=2)).astimezone(IST).strftime("%Y-%m-%dT%H:%M")
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", session_form(title="Hi", starts_at=past))
    body = text(response)
    assert response.status_code == 400
    assert "Some fields need attention." in body  # DomainError.message, on top
    assert re.search(r'data-field="title">.*?Use 5 to 140 characters\.', body, re.S)
    assert not Session.objects.exists()
    response = client_for(mentor).post("/dashboard/mentor/sessions/new/", session_form(starts_at=past))
    assert "The start time has passed." in text(response) and "Pick a time in the future." in text(response)


def test_overlap_with_a_scheduled_session_is_explained(mentor):
    taken = a_session(mentor, title="Existing talk", hours_ahead=24 * 5)
    starts = taken.starts_at.astimezone(IST).strftime("%Y-%m-%dT%H:%M")
    client = client_for(mentor)
    client.post("/dashboard/mentor/sessions/new/", session_form(starts_at=starts))
    draft = Session.objects.get(state=SessionState.DRAFT)  # drafts may overlap
    response = client.post(f"/dashboard/mentor/sessions/{draft.pk}/publish/", follow=True)
    assert "This overlaps your session “Existing talk”." in toasts(response)
    draft.refresh_from_db()
    assert draft.state == SessionState.DRAFT


def test_edit_a_draft(mentor):
    draft = a_session(mentor, state=SessionState.DRAFT, title="Old title", topics=["A"])
    client = client_for(mentor)
    page = text(client.get(f"/dashboard/mentor/sessions/{draft.pk}/edit/"))
    assert 'value="Old title"' in page and "Save and publish" in page
    response = client.post(f"/dashboard/mentor/sessions/{draft.pk}/edit/", session_form(title="New title", price="0"))
    assert response.url == "/dashboard/mentor/sessions/?tab=drafts"
    draft.refresh_from_db()
    assert draft.title == "New title" and draft.price_paise == 0 and draft.state == SessionState.DRAFT


def test_edit_with_bookings_locks_time_and_price_but_saves_the_rest(mentor, learner):
    session = a_session(mentor, price=49_900, capacity=2, title="Locked talk")
    Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    original = session.starts_at
    client = client_for(mentor)
    page = text(client.get(f"/dashboard/mentor/sessions/{session.pk}/edit/"))
    assert "move it with Reschedule" in page and "Locked: learners booked at this price." in page
    assert re.search(r'name="starts_at"[^>]*disabled', page) and re.search(r'name="price"[^>]*disabled', page)
    # A tampered request cannot move it or change the price: disabled fields keep stored values.
    response = client.post(
        f"/dashboard/mentor/sessions/{session.pk}/edit/",
        session_form(title="Locked talk, updated", price="1", capacity="4"),
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.title == "Locked talk, updated" and session.capacity == 4
    assert session.starts_at == original and session.price_paise == 49_900


def test_capacity_below_bookings_is_refused_on_the_field(mentor, learner, outsider):
    session = a_session(mentor, capacity=3)
    for person in (learner, outsider):
        Booking.objects.create(session=session, learner=person, state=BookingState.CONFIRMED)
    response = client_for(mentor).post(f"/dashboard/mentor/sessions/{session.pk}/edit/", session_form(capacity="1"))
    assert response.status_code == 400
    assert "2 seats are already booked." in text(response) and "At least 2." in text(response)
    session.refresh_from_db()
    assert session.capacity == 3


def test_another_mentor_gets_404_on_someone_elses_session(mentor, domains):
    session = a_session(mentor, state=SessionState.DRAFT, title="Mine")
    other = client_for(another_mentor("nosy@example.com"))
    for path in ("edit", "cancel"):
        assert other.get(f"/dashboard/mentor/sessions/{session.pk}/{path}/").status_code == 404
    assert other.post(f"/dashboard/mentor/sessions/{session.pk}/edit/", session_form()).status_code == 404
    assert other.post(f"/dashboard/mentor/sessions/{session.pk}/publish/").status_code == 404
    assert other.post(f"/dashboard/mentor/sessions/{session.pk}/cancel/").status_code == 404
    session.refresh_from_db()
    assert session.title == "Mine" and session.state == SessionState.DRAFT


def test_finished_sessions_are_not_editable(mentor):
    done = a_session(mentor, state=SessionState.COMPLETED, hours_ahead=-30)
    response = client_for(mentor).get(f"/dashboard/mentor/sessions/{done.pk}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/mentor/sessions/?tab=past"
    assert any("can no longer be edited" in m for m in toasts(response))


# --- publish / reschedule / cancel ------------------------------------------------------------
def test_publish_from_the_list(mentor):
    draft = a_session(mentor, state=SessionState.DRAFT)
    response = client_for(mentor).post(
        f"/dashboard/mentor/sessions/{draft.pk}/publish/", {"next": "/dashboard/mentor/sessions/?tab=drafts"}
    )
    assert response.url == "/dashboard/mentor/sessions/?tab=drafts"
    draft.refresh_from_db()
    assert draft.state == SessionState.SCHEDULED


def test_pending_mentor_cannot_publish_through_the_page(pending_mentor, domains):
    draft = a_session(pending_mentor, state=SessionState.DRAFT)
    response = client_for(pending_mentor).post(f"/dashboard/mentor/sessions/{draft.pk}/publish/", follow=True)
    assert response.redirect_chain[0][0] == "/dashboard/mentor/"
    assert "Your mentor profile is waiting for approval." in toasts(response)
    draft.refresh_from_db()
    assert draft.state == SessionState.DRAFT


def test_reschedule_reads_the_mentors_zone_and_bumps_the_sequence(mentor, learner):
    mentor.timezone = "America/New_York"
    mentor.save()
    session = a_session(mentor)
    Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    target = day_ahead((1, 2), time(9), NEW_YORK)
    response = client_for(mentor).post(
        f"/dashboard/mentor/sessions/{session.pk}/reschedule/", {"starts_at": f"{target:%Y-%m-%d}T09:00"}, follow=True
    )
    session.refresh_from_db()
    assert session.starts_at == datetime.combine(target.date(), time(14), tzinfo=UTC)
    assert session.sequence == 1
    assert any("EST" in m and "9:00 am" in m for m in toasts(response))


def test_reschedule_into_the_past_changes_nothing(mentor):
    session = a_session(mentor)
    before = session.starts_at
    past = (timezone.now() - timedelta(days=1)).astimezone(IST).strftime("%Y-%m-%dT%H:%M")
    response = client_for(mentor).post(
        f"/dashboard/mentor/sessions/{session.pk}/reschedule/", {"starts_at": past}, follow=True
    )
    assert "Not rescheduled: The start time has passed." in toasts(response)
    response = client_for(mentor).post(
        f"/dashboard/mentor/sessions/{session.pk}/reschedule/", {"starts_at": "soon"}, follow=True
    )
    assert "Not rescheduled: Enter a date and time." in toasts(response)
    session.refresh_from_db()
    assert session.starts_at == before and session.sequence == 0


def test_cancel_shows_the_refunds_then_cancels(mentor, learner, outsider, domains):
    session = a_session(mentor, price=49_900, capacity=3)
    paid = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    held = Booking.objects.create(
        session=session,
        learner=outsider,
        state=BookingState.HELD,
        hold_expires_at=timezone.now() + timedelta(minutes=9),
    )
    client = client_for(mentor)
    page = text(client.get(f"/dashboard/mentor/sessions/{session.pk}/cancel/"))
    assert "1 learner will get a full refund of ₹499 each" in page
    assert "1 seat held while paying will be released" in page
    response = client.post(f"/dashboard/mentor/sessions/{session.pk}/cancel/", {"reason": "I am ill"}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/mentor/sessions/?tab=past"
    assert "Session cancelled. 1 learner will get ₹499 back." in toasts(response)
    session.refresh_from_db()
    paid.refresh_from_db()
    held.refresh_from_db()
    assert session.state == SessionState.CANCELLED
    assert paid.state == BookingState.CANCELLED and paid.refund_paise == 49_900 and paid.cancelled_by == "mentor"
    assert held.state == BookingState.CANCELLED and held.refund_paise == 0


def test_cancel_a_draft_and_a_finished_session(mentor):
    draft = a_session(mentor, state=SessionState.DRAFT)
    client = client_for(mentor)
    assert "nobody needs a refund" in text(client.get(f"/dashboard/mentor/sessions/{draft.pk}/cancel/"))
    client.post(f"/dashboard/mentor/sessions/{draft.pk}/cancel/")
    draft.refresh_from_db()
    assert draft.state == SessionState.CANCELLED
    assert "can no longer be cancelled" in text(client.get(f"/dashboard/mentor/sessions/{draft.pk}/cancel/"))
    response = client.post(f"/dashboard/mentor/sessions/{draft.pk}/cancel/", follow=True)
    assert "This session can no longer be cancelled." in toasts(response)


# --- requests ---------------------------------------------------------------------------------
@pytest.fixture
def available_mentor(mentor):
    """Maya teaches every day 08:00–22:00 in Kolkata."""
    mentor.timezone = "Asia/Kolkata"
    mentor.save()
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(8), end_time=time(22))
    return mentor


def at(days_ahead: int, hour: int, zone: ZoneInfo = IST) -> datetime:
    day = (timezone.now() + timedelta(days=days_ahead)).astimezone(zone).date()
    return datetime.combine(day, time(hour), tzinfo=zone)


def ask(learner, mentor, times, **overrides) -> SessionRequest:
    data = {"topic": "Help with my Django app", "preferred_times": times, "duration_minutes": 60, "budget_paise": 0}
    data.update(overrides)
    return services.request_create(learner=learner, mentor_id=mentor.pk, data=services.RequestInput(**data))


def test_mentor_sees_pending_requests_first_with_one_button_per_time(available_mentor, learner, outsider):
    older = ask(outsider, available_mentor, [at(2, 10)], topic="Already declined")
    services.request_decline(mentor=available_mentor, request=older, reason="Fully booked that week")
    request = ask(
        learner, available_mentor, [at(2, 18), at(3, 19)], budget_paise=75_000, description="My models are a mess."
    )
    body = text(client_for(available_mentor).get("/dashboard/mentor/requests/"))
    assert body.index("Help with my Django app") < body.index("Already declined")
    assert "Lena Learner" in body and "My models are a mess." in body and "₹750" in body and "1 h" in body
    assert "Answer by" in body and "Reason: Fully booked that week" in body
    buttons = re.findall(r'name="starts_at" value="([^"]+)">.*?Accept <time', body, re.S)
    assert buttons == request.preferred_times
    assert f'name="version" value="{request.version}"' in body
    assert 'value="750"' in body  # the counter-offer price starts at the budget, in rupees


def test_mentor_requests_empty_state(available_mentor):
    assert "No requests are waiting" in text(client_for(available_mentor).get("/dashboard/mentor/requests/"))


def test_accept_a_proposed_time(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18), at(3, 19)])
    response = client_for(available_mentor).post(
        f"/dashboard/mentor/requests/{request.pk}/accept/",
        {"starts_at": request.preferred_times[1], "version": request.version},
        follow=True,
    )
    request.refresh_from_db()
    assert request.state == RequestState.ACCEPTED and request.session.starts_at == at(3, 19)
    assert Booking.objects.get(session=request.session).learner == learner
    assert any(m.startswith("Accepted: “Help with my Django app” with Lena Learner") for m in toasts(response))


def test_stale_answer_gets_the_services_message_and_changes_nothing(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    client = client_for(available_mentor)
    for path, data in [
        ("accept", {"starts_at": request.preferred_times[0]}),
        ("counter", {"starts_at": local_input(at(4, 12), IST), "price": "100"}),
        ("decline", {"reason": "Not my area"}),
    ]:
        response = client.post(
            f"/dashboard/mentor/requests/{request.pk}/{path}/", {**data, "version": request.version + 1}, follow=True
        )
        assert any("This request changed since you opened it" in m for m in toasts(response)), path
    request.refresh_from_db()
    assert request.state == RequestState.PENDING and request.session is None and request.version == 1
    assert not Session.objects.exists()


def test_answering_twice_says_it_was_answered(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    client = client_for(available_mentor)
    client.post(f"/dashboard/mentor/requests/{request.pk}/decline/", {"reason": "Away", "version": 1})
    response = client.post(
        f"/dashboard/mentor/requests/{request.pk}/accept/",
        {"starts_at": request.preferred_times[0], "version": 1},
        follow=True,
    )
    assert "This request was already answered." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED and not Session.objects.exists()


def test_accept_only_a_proposed_time(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    response = client_for(available_mentor).post(
        f"/dashboard/mentor/requests/{request.pk}/accept/",
        {"starts_at": at(2, 19).isoformat(), "version": 1},
        follow=True,
    )
    assert "Pick one of the learner's times, or counter-offer another." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING


def test_counter_offer_in_the_mentors_zone_and_rupees(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    available_mentor.timezone = "America/New_York"
    available_mentor.save()
    target = day_ahead((1, 2), time(9), NEW_YORK)  # 09:00 EST is 14:00 UTC
    response = client_for(available_mentor).post(
        f"/dashboard/mentor/requests/{request.pk}/counter/",
        {"starts_at": local_input(target, NEW_YORK), "price": "649.5", "version": 1},
        follow=True,
    )
    request.refresh_from_db()
    assert request.state == RequestState.COUNTERED
    assert request.counter_starts_at == target and request.counter_price_paise == 64_950
    assert request.counter_starts_at.astimezone(UTC).hour == 14
    assert any(m.startswith("Counter-offer sent to Lena Learner") and "₹649.50" in m for m in toasts(response))


def test_counter_offer_with_bad_input_is_refused(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    client = client_for(available_mentor)
    response = client.post(
        f"/dashboard/mentor/requests/{request.pk}/counter/",
        {"starts_at": local_input(at(3, 12), IST), "price": "1.234", "version": 1},
        follow=True,
    )
    assert "Counter-offer not sent: Use at most two decimals (paise)." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING and request.version == 1


def test_decline_needs_a_reason(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    client = client_for(available_mentor)
    response = client.post(
        f"/dashboard/mentor/requests/{request.pk}/decline/", {"reason": "", "version": 1}, follow=True
    )
    assert "Not declined: This field is required." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    client.post(f"/dashboard/mentor/requests/{request.pk}/decline/", {"reason": "Away that week", "version": 1})
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED and request.decline_reason == "Away that week"


def test_requests_of_others_are_404(available_mentor, learner, outsider, domains):
    request = ask(learner, available_mentor, [at(2, 18)])
    other_mentor = client_for(another_mentor("nosy@example.com"))
    assert (
        other_mentor.post(
            f"/dashboard/mentor/requests/{request.pk}/accept/", {"starts_at": request.preferred_times[0], "version": 1}
        ).status_code
        == 404
    )
    assert client_for(outsider).post(f"/dashboard/learner/requests/{request.pk}/withdraw/").status_code == 404
    request.refresh_from_db()
    assert request.state == RequestState.PENDING


def test_mentor_home_lists_pending_requests_with_one_click_accept(available_mentor, learner, outsider):
    Follow.objects.create(learner=outsider, mentor=available_mentor)
    request = ask(learner, available_mentor, [at(2, 18), at(3, 19)])
    client = client_for(available_mentor)
    body = text(client.get("/dashboard/mentor/"))
    assert "Pending requests" in body and "Help with my Django app" in body and "2 times proposed" in body
    assert re.search(r'<span class="stat-label">Followers</span><strong class="stat-value">1</strong>', body)
    assert f'value="{request.preferred_times[0]}"' in body and f'value="{request.preferred_times[1]}"' not in body
    for href in ("/dashboard/mentor/sessions/", "/dashboard/mentor/requests/", "/dashboard/mentor/availability/"):
        assert f'href="{href}' in body
    response = client.post(
        f"/dashboard/mentor/requests/{request.pk}/accept/",
        {"starts_at": request.preferred_times[0], "version": 1, "next": "/dashboard/mentor/"},
    )
    assert response.url == "/dashboard/mentor/"
    request.refresh_from_db()
    assert request.state == RequestState.ACCEPTED


# --- learner requests -------------------------------------------------------------------------
def test_learner_sees_each_state_with_what_to_do(available_mentor, learner):
    pending = ask(learner, available_mentor, [at(2, 18)], topic="Still waiting here")
    body = text(client_for(learner).get("/dashboard/learner/requests/"))
    assert "Still waiting here" in body and "chip-pending" in body and "Withdraw request" in body
    services.request_withdraw(learner=learner, request=pending)
    countered = ask(learner, available_mentor, [at(2, 18)], topic="Countered one")
    countered = services.request_counter(
        mentor=available_mentor, request=countered, starts_at=at(3, 11), price_paise=49_900, version=1
    )
    body = text(client_for(learner).get("/dashboard/learner/requests/"))
    assert "chip-withdrawn" in body and "chip-countered" in body
    assert "Maya proposed" in body and "₹499" in body
    assert 'name="answer" value="accept"' in body and 'name="answer" value="decline"' in body
    assert f'name="version" value="{countered.version}"' in body


def test_learner_accepts_a_counter_offer(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    services.request_counter(mentor=available_mentor, request=request, starts_at=at(3, 11), price_paise=49_900)
    request.refresh_from_db()
    client = client_for(learner)
    response = client.post(
        f"/dashboard/learner/requests/{request.pk}/answer/",
        {"answer": "accept", "version": request.version},
        follow=True,
    )
    assert "Accepted. Your seat is held: complete the payment to confirm it." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.ACCEPTED and request.session.starts_at == at(3, 11)
    booking = Booking.objects.get(session=request.session)
    assert booking.learner == learner and booking.state == BookingState.HELD
    assert f'href="/sessions/{request.session_id}/"' in text(response) and "chip-accepted" in text(response)
    assert client.get(f"/sessions/{request.session_id}/").status_code == 200


def test_learner_declines_a_counter_offer_and_stale_answers_are_refused(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    services.request_counter(mentor=available_mentor, request=request, starts_at=at(3, 11), price_paise=0)
    client = client_for(learner)
    stale = client.post(
        f"/dashboard/learner/requests/{request.pk}/answer/", {"answer": "accept", "version": 1}, follow=True
    )
    assert any("This request changed since you opened it" in m for m in toasts(stale))
    request.refresh_from_db()
    assert request.state == RequestState.COUNTERED and not Session.objects.exists()
    client.post(f"/dashboard/learner/requests/{request.pk}/answer/", {"answer": "decline", "version": request.version})
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED and not Session.objects.exists()


def test_learner_withdraws_an_open_request(available_mentor, learner):
    request = ask(learner, available_mentor, [at(2, 18)])
    response = client_for(learner).post(f"/dashboard/learner/requests/{request.pk}/withdraw/", follow=True)
    assert "Request to Maya Mentor withdrawn." in toasts(response)
    request.refresh_from_db()
    assert request.state == RequestState.WITHDRAWN
    again = client_for(learner).post(f"/dashboard/learner/requests/{request.pk}/withdraw/", follow=True)
    assert "This request was already answered." in toasts(again)


def test_learner_requests_empty_state(learner):
    assert "You have not requested a session yet" in text(client_for(learner).get("/dashboard/learner/requests/"))


# --- mentor profile: request and follow -------------------------------------------------------
def request_form(times: list[str], **overrides) -> dict:
    data = {"topic": "Review my Django project", "description": "It is on GitHub.", "duration_minutes": "60"}
    data.update({f"time_{i + 1}": t for i, t in enumerate(times)})
    data.update(overrides)
    return data


def test_learner_requests_from_the_profile_in_their_own_zone(available_mentor, learner):
    learner.timezone = "Europe/London"
    learner.save()
    wanted = at(2, 18).astimezone(ZoneInfo("Europe/London"))  # 18:00 in Kolkata, as London sees it
    client = client_for(learner)
    page = text(client.get(f"/mentors/{available_mentor.pk}/"))
    assert "Request a session" in page and "your time, Europe/London" in page
    assert 'type="datetime-local" name="time_1"' in page
    response = client.post(
        f"/mentors/{available_mentor.pk}/request/",
        request_form([local_input(wanted, ZoneInfo("Europe/London"))], budget="499.5"),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/dashboard/learner/requests/"
    assert any(m.startswith("Request sent to Maya Mentor.") for m in toasts(response))
    request = SessionRequest.objects.get()
    assert request.preferred_times == [at(2, 18).astimezone(UTC).isoformat()]
    assert request.budget_paise == 49_950 and request.learner == learner and request.duration_minutes == 60


def test_request_errors_come_back_on_the_profile(available_mentor, learner):
    client = client_for(learner)
    outside = local_input(at(2, 23), IST)  # Maya's hours end at 22:00
    response = client.post(f"/mentors/{available_mentor.pk}/request/", request_form([outside], topic="Hi"))
    body = text(response)
    assert response.status_code == 400
    assert "Some fields need attention." in body and "Use 5 to 140 characters." in body
    assert "Some times are outside the mentor&#x27;s availability." in body
    assert 'value="Hi"' in body  # what they typed is kept
    response = client.post(f"/mentors/{available_mentor.pk}/request/", request_form([outside], budget="-1"))
    assert "The amount cannot be negative." in text(response)
    assert not SessionRequest.objects.exists()
    ask(learner, available_mentor, [at(2, 18)])
    response = client.post(f"/mentors/{available_mentor.pk}/request/", request_form([local_input(at(3, 18), IST)]))
    assert response.status_code == 400 and "You already have an open request with this mentor." in text(response)
    assert SessionRequest.objects.count() == 1


def test_profile_shows_open_hours_in_the_viewers_zone(available_mentor, learner):
    learner.timezone = "America/New_York"
    learner.save()
    AvailabilityException.objects.create(mentor=available_mentor, date=at(3, 12).date())
    body = text(client_for(learner).get(f"/mentors/{available_mentor.pk}/"))
    start = at(2, 8).astimezone(NEW_YORK)  # 08:00 in Kolkata is the previous evening in New York
    assert f"{start:%-I:%M %p}".replace("PM", "pm").replace("AM", "am") in body
    assert "shown in America/New_York" in body and ("EST" in body or "EDT" in body)
    assert "Away" in body


def test_profile_request_box_for_each_viewer(available_mentor, admin_user, domains):
    anonymous = text(client_for(None).get(f"/mentors/{available_mentor.pk}/"))
    assert "Sign up to request or follow" in anonymous and 'action="/mentors/' not in anonymous
    other = text(client_for(another_mentor("peer@example.com")).get(f"/mentors/{available_mentor.pk}/"))
    assert "Send request" not in other and "Follow" not in other
    assert client_for(None).post(f"/mentors/{available_mentor.pk}/request/").url.startswith("/login/")
    assert client_for(available_mentor).post(f"/mentors/{available_mentor.pk}/follow/").url == "/dashboard/mentor/"


def test_open_hours_are_concrete_times_on_the_viewers_days(mentor):
    from backend.dashboards.tabs import upcoming_availability

    mentor.timezone = "Europe/London"
    mentor.save()
    AvailabilityWindow.objects.create(mentor=mentor, weekday=0, start_time=time(8), end_time=time(20))  # Mondays
    AvailabilityException.objects.create(mentor=mentor, date=date(2030, 3, 25))
    # Sunday 24 March 2030, noon in London; clocks there go forward on the 31st.
    now = datetime(2030, 3, 24, 12, tzinfo=LONDON)
    days = upcoming_availability(mentor, IST, days=14, now=now)
    assert [d["day"] for d in days] == [date(2030, 3, 25), date(2030, 4, 1)]
    away, after_change = days
    assert away["away"] and away["slots"] == []
    (slot,) = after_change["slots"]
    # 08:00 BST is 12:30 IST; 20:00 BST ends 00:30 IST the next day.
    assert slot["start"].astimezone(IST).time() == time(12, 30) and slot["next_day"]
    # A window under way starts at the next quarter hour, never in the past.
    monday_morning = datetime(2030, 4, 1, 9, 7, tzinfo=LONDON)
    (today,) = upcoming_availability(mentor, LONDON, days=1, now=monday_morning)
    assert today["slots"][0]["start"] == datetime(2030, 4, 1, 9, 15, tzinfo=LONDON)


def test_mentor_without_hours_says_requests_cannot_be_sent(mentor, learner):
    body = text(client_for(learner).get(f"/mentors/{mentor.pk}/"))
    assert "has not set open hours for the coming week" in body


def test_follow_and_unfollow_from_the_profile(mentor, learner):
    client = client_for(learner)
    assert 'aria-pressed="false"' in text(client.get(f"/mentors/{mentor.pk}/"))
    response = client.post(f"/mentors/{mentor.pk}/follow/", {"action": "follow"}, follow=True)
    assert Follow.objects.filter(learner=learner, mentor=mentor).exists()
    assert 'aria-pressed="true"' in text(response) and "Following Maya Mentor." in toasts(response)[0]
    client.post(f"/mentors/{mentor.pk}/follow/", {"action": "follow"})  # twice is still once
    assert Follow.objects.filter(learner=learner, mentor=mentor).count() == 1
    client.post(f"/mentors/{mentor.pk}/follow/", {"action": "unfollow"})
    assert not Follow.objects.exists()
    assert client.get(f"/mentors/{mentor.pk}/follow/").url == f"/mentors/{mentor.pk}/"


def test_cannot_follow_an_unlisted_mentor(pending_mentor, learner):
    assert client_for(learner).post(f"/mentors/{pending_mentor.pk}/follow/").status_code == 404
    assert not Follow.objects.exists()


# --- availability -----------------------------------------------------------------------------
def windows_of(mentor) -> list[tuple[int, str, str]]:
    return [
        (w.weekday, f"{w.start_time:%H:%M}", f"{w.end_time:%H:%M}")
        for w in AvailabilityWindow.objects.filter(mentor=mentor).order_by("weekday", "start_time")
    ]


def test_weekly_hours_editor_saves_several_windows_per_day(mentor):
    mentor.timezone = "America/New_York"
    mentor.save()
    AvailabilityWindow.objects.create(mentor=mentor, weekday=4, start_time=time(10), end_time=time(12))
    client = client_for(mentor)
    page = text(client.get("/dashboard/mentor/availability/"))
    assert "America/New_York" in page and 'value="10:00"' in page
    assert page.count('name="d0_') == 4 and 'name="d0_2_start"' not in page  # two rows a day, no JavaScript needed
    response = client.post(
        "/dashboard/mentor/availability/",
        {
            "d0_0_start": "09:00",
            "d0_0_end": "11:00",
            "d0_1_start": "18:00",
            "d0_1_end": "20:00",
            "d2_3_start": "07:00",
            "d2_3_end": "08:30",
            "d4_0_start": "",
            "d4_0_end": "",
        },
        follow=True,
    )
    assert "Weekly hours saved." in toasts(response)
    assert windows_of(mentor) == [(0, "09:00", "11:00"), (0, "18:00", "20:00"), (2, "07:00", "08:30")]
    assert text(response).count('name="d0_') == 6  # two windows and a spare row


def test_weekly_hours_errors_keep_the_old_hours(mentor):
    AvailabilityWindow.objects.create(mentor=mentor, weekday=1, start_time=time(10), end_time=time(12))
    client = client_for(mentor)
    overlap = client.post(
        "/dashboard/mentor/availability/",
        {"d0_0_start": "09:00", "d0_0_end": "11:00", "d0_1_start": "10:00", "d0_1_end": "12:00"},
    )
    assert overlap.status_code == 400 and "Two availability windows overlap on the same day." in text(overlap)
    half = client.post("/dashboard/mentor/availability/", {"d3_0_start": "09:00"})
    assert half.status_code == 400 and "Set both a start and an end, or clear both." in text(half)
    backwards = client.post("/dashboard/mentor/availability/", {"d3_0_start": "12:00", "d3_0_end": "09:00"})
    assert "End after the start" in text(backwards)
    assert windows_of(mentor) == [(1, "10:00", "12:00")]


def test_clearing_every_window_warns(mentor):
    AvailabilityWindow.objects.create(mentor=mentor, weekday=1, start_time=time(10), end_time=time(12))
    response = client_for(mentor).post("/dashboard/mentor/availability/", {}, follow=True)
    assert any("Weekly hours cleared" in m for m in toasts(response))
    assert windows_of(mentor) == []


def test_away_days_add_and_remove(mentor):
    day = (timezone.now() + timedelta(days=10)).astimezone(IST).date()
    client = client_for(mentor)
    response = client.post(
        "/dashboard/mentor/availability/away/", {"day": day.isoformat(), "note": "Conference"}, follow=True
    )
    assert AvailabilityException.objects.get(mentor=mentor).date == day
    assert "Conference" in text(response) and f'value="{day.isoformat()}"' in text(response)
    past = client.post("/dashboard/mentor/availability/away/", {"day": "2001-01-01"}, follow=True)
    assert "Pick today or a later day." in toasts(past)
    client.post("/dashboard/mentor/availability/away/", {"remove": day.isoformat()})
    assert not AvailabilityException.objects.exists()


# --- progress ---------------------------------------------------------------------------------
MONDAY = date(2030, 1, 7)


def row(day: date, minutes: int = 60, topics=(), hour: int = 12, zone: ZoneInfo = IST):
    return (datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC), minutes, list(topics))


def test_progress_counts_hours_sessions_and_topics():
    rows = [
        row(MONDAY, 90, ["Django", "ORM"]),
        row(MONDAY + timedelta(days=1), 30, ["django ", "Testing"]),
        row(MONDAY - timedelta(weeks=3), 60, ["ORM", "ORM"]),  # a topic counts once per session
    ]
    progress = compute_progress(rows, IST, MONDAY + timedelta(days=2))
    assert progress.hours_learned == 3.0 and progress.sessions_completed == 3
    assert progress.topics == [("Django", 2), ("ORM", 2), ("Testing", 1)]


@pytest.mark.parametrize(
    ("weeks_ago", "today_offset", "current", "best"),
    [
        ([], 0, 0, 0),
        ([0], 0, 1, 1),
        ([0, 1, 2], 3, 3, 3),  # Thursday: this week counts
        ([1, 2], 2, 2, 2),  # nothing yet this week: the streak is still alive
        ([2, 3, 4, 5], 0, 0, 4),  # last week was missed: broken, but the best run stays
        ([0, 2, 3, 4], 6, 1, 3),
    ],
)
def test_weekly_streak(weeks_ago, today_offset, current, best):
    rows = [row(MONDAY - timedelta(weeks=w) + timedelta(days=3)) for w in weeks_ago]
    progress = compute_progress(rows, IST, MONDAY + timedelta(days=today_offset))
    assert (progress.streak_weeks, progress.best_streak_weeks) == (current, best)


def test_weeks_are_the_learners_own_weeks():
    # Sunday 23:30 in Kolkata is still Sunday there, though Sunday 18:00 UTC.
    late_sunday = row(MONDAY - timedelta(days=1), hour=23, zone=IST)
    assert compute_progress([late_sunday], IST, MONDAY).streak_weeks == 1  # last week's, still alive
    assert compute_progress([late_sunday], IST, MONDAY).active_this_week is False
    # The same instant is Monday in Tokyo: this week.
    assert compute_progress([late_sunday], ZoneInfo("Asia/Tokyo"), MONDAY).active_this_week is True


def test_badges_show_earned_or_how_far_away():
    rows = [row(MONDAY - timedelta(weeks=w), 150, [f"T{w}"]) for w in range(3)]
    badges = {b.key: b for b in compute_progress(rows, IST, MONDAY).badges}
    assert badges["first"].earned and badges["streak"].earned
    assert not badges["five"].earned and badges["five"].remaining_label == "2 more sessions"
    assert not badges["ten_hours"].earned and badges["ten_hours"].remaining_label == "2.5 more hours"
    assert badges["explorer"].remaining_label == "2 more topics" and badges["five"].percent == 60
    nothing = {b.key: b for b in compute_progress([], IST, MONDAY).badges}
    assert nothing["first"].remaining_label == "1 more session" and not any(b.earned for b in nothing.values())


def test_progress_page_uses_completed_sessions_only(mentor, learner, outsider):
    for index, topics in enumerate([["Django"], ["Django", "Celery"]]):
        done = a_session(mentor, hours_ahead=-30 - 24 * 7 * index, state=SessionState.COMPLETED, topics=topics)
        Booking.objects.create(session=done, learner=learner, state=BookingState.CONFIRMED, attended=True)
    cancelled = a_session(mentor, hours_ahead=-60, state=SessionState.COMPLETED, topics=["Nope"])
    Booking.objects.create(session=cancelled, learner=learner, state=BookingState.CANCELLED)
    Booking.objects.create(session=a_session(mentor, hours_ahead=40), learner=learner, state=BookingState.CONFIRMED)
    body = text(client_for(learner).get("/dashboard/learner/progress/"))
    assert re.search(r"Hours learned</span><strong class=\"stat-value\">2.0<", body)
    assert re.search(r"Sessions completed</span><strong class=\"stat-value\">2<", body)
    assert "Django" in body and "Celery" in body and "Nope" not in body
    assert "First session" in body and "Earned" in body and "3 more sessions to go" in body
    empty = text(client_for(outsider).get("/dashboard/learner/progress/"))
    assert "Topics from sessions you complete show up here." in empty and "1 more session to go" in empty


# --- pinned query counts ----------------------------------------------------------------------
def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_mentor_sessions_query_count_is_constant(mentor, learner):
    client = client_for(mentor)
    a_session(mentor, hours_ahead=30)
    a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED)
    a_session(mentor, hours_ahead=300, state=SessionState.DRAFT)
    few = {
        tab: count_queries(client, f"/dashboard/mentor/sessions/?tab={tab}") for tab in ("drafts", "scheduled", "past")
    }
    for index in range(12):
        session = a_session(mentor, hours_ahead=40 + index * 3, capacity=2)
        Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
        a_session(mentor, hours_ahead=-40 - index * 3, state=SessionState.COMPLETED)
        a_session(mentor, hours_ahead=200 + index * 3, state=SessionState.DRAFT)
    many = {
        tab: count_queries(client, f"/dashboard/mentor/sessions/?tab={tab}") for tab in ("drafts", "scheduled", "past")
    }
    assert few == many
    assert max(many.values()) <= 8


def test_request_tabs_query_counts_are_constant(available_mentor, learner, domains):
    learners = [another_learner(f"l{index}@example.com") for index in range(8)]
    ask(learner, available_mentor, [at(2, 9)])
    mentor_client, learner_client = client_for(available_mentor), client_for(learner)
    few = (
        count_queries(mentor_client, "/dashboard/mentor/requests/"),
        count_queries(learner_client, "/dashboard/learner/requests/"),
    )
    home_few = count_queries(mentor_client, "/dashboard/mentor/")
    for index, person in enumerate(learners):
        request = ask(person, available_mentor, [at(2, 10 + index)])
        if index % 2:
            services.request_accept(mentor=available_mentor, request=request, starts_at=at(2, 10 + index))
    other = another_mentor("second@example.com")
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=other, weekday=weekday, start_time=time(8), end_time=time(22))
    countered = ask(learner, other, [at(3, 9)])
    services.request_counter(mentor=other, request=countered, starts_at=at(3, 12), price_paise=100)
    many = (
        count_queries(mentor_client, "/dashboard/mentor/requests/"),
        count_queries(learner_client, "/dashboard/learner/requests/"),
    )
    assert few == many and max(many) <= 8  # 6 + the bell's 2
    assert count_queries(mentor_client, "/dashboard/mentor/") == home_few


def test_progress_and_profile_query_counts_are_constant(available_mentor, learner):
    client = client_for(learner)
    few = (
        count_queries(client, "/dashboard/learner/progress/"),
        count_queries(client, f"/mentors/{available_mentor.pk}/"),
    )
    for index in range(6):
        done = a_session(available_mentor, hours_ahead=-30 - index * 24 * 7, state=SessionState.COMPLETED, topics=["X"])
        Booking.objects.create(session=done, learner=learner, state=BookingState.CONFIRMED)
    AvailabilityException.objects.create(mentor=available_mentor, date=at(3, 12).date())
    many = (
        count_queries(client, "/dashboard/learner/progress/"),
        count_queries(client, f"/mentors/{available_mentor.pk}/"),
    )
    assert few == many
