"""Discovery and booking pages as a browser without JavaScript drives them: session search and
its cursor pages, session detail and booking, cancelling, mentors, and the learner's bookings."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace.models import Booking, BookingState, Domain, Review, SessionState
from backend.marketplace.views import encode_cursor
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return response.content.decode()


def titles(response) -> list[str]:
    """Session titles on a list page or fragment, in order."""
    return re.findall(r'class="card-link" href="/sessions/\d+/">([^<]+)</a>', page_text(response))


def another_mentor(email: str, domain=None, **profile):
    user = make_user(email, Role.MENTOR, full_name=profile.pop("full_name", "Second Mentor"))
    mp = MentorProfile.objects.create(
        user=user,
        headline=profile.pop("headline", "Designer"),
        bio="Bio",
        skills=profile.pop("skills", ["Figma"]),
        approval_state=profile.pop("approval_state", ApprovalState.APPROVED),
    )
    if domain is not None:
        mp.domains.set([domain])
    return user


def another_learner(email: str, full_name: str = "Other Learner"):
    user = make_user(email, Role.LEARNER, full_name=full_name)
    LearnerProfile.objects.create(user=user)
    return user


def review(session, learner, rating: int, comment: str = ""):
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, attended=True)
    return Review.objects.create(booking=booking, rating=rating, comment=comment)


# --- /sessions/ search and filters ------------------------------------------------------------------
def test_search_matches_title_description_and_mentor(mentor, domains):
    a_session(mentor, title="Intro to Django", hours_ahead=24)
    a_session(mentor, title="Pandas for analysts", hours_ahead=30, description="DataFrames and joins")
    a_session(mentor, title="Draft idea", hours_ahead=36, state=SessionState.DRAFT)
    client = client_for(None)
    assert titles(client.get("/sessions/?q=django")) == ["Intro to Django"]
    assert titles(client.get("/sessions/?q=dataframes")) == ["Pandas for analysts"]
    assert titles(client.get("/sessions/?q=maya")) == ["Intro to Django", "Pandas for analysts"]
    response = client.get("/sessions/")
    assert response.status_code == 200
    assert "2 sessions" in page_text(response) and "Draft idea" not in page_text(response)


def test_each_filter_narrows_the_list(mentor, domains):
    design = Domain.objects.get(slug="design")
    other = another_mentor("dee.designer@example.com", domain=design)
    a_session(mentor, title="Free Python clinic", hours_ahead=24)
    a_session(mentor, title="Paid code review", hours_ahead=30, price=49_900)
    a_session(mentor, title="Premium mock interview", hours_ahead=40, price=150_000)
    a_session(other, title="Figma basics", hours_ahead=26, domain=design)
    client = client_for(None)
    assert titles(client.get("/sessions/?domain=design")) == ["Figma basics"]
    assert titles(client.get("/sessions/?price=free")) == ["Free Python clinic", "Figma basics"]
    assert titles(client.get("/sessions/?price=paid")) == ["Paid code review", "Premium mock interview"]
    assert titles(client.get("/sessions/?price=paid&max_price=499")) == ["Paid code review"]
    assert titles(client.get("/sessions/?max_price=0")) == ["Free Python clinic", "Figma basics"]
    assert titles(client.get(f"/sessions/?mentor={other.pk}")) == ["Figma basics"]


def test_date_filters_use_the_viewers_days(mentor, learner, domains):
    soon = a_session(mentor, title="Soon", hours_ahead=30)
    later = a_session(mentor, title="Later", hours_ahead=24 * 9)
    zone = zoneinfo.ZoneInfo(learner.timezone)
    soon_day = soon.starts_at.astimezone(zone).date().isoformat()
    later_day = later.starts_at.astimezone(zone).date().isoformat()
    client = client_for(learner)
    assert titles(client.get(f"/sessions/?date_from={soon_day}&date_to={soon_day}")) == ["Soon"]
    assert titles(client.get(f"/sessions/?date_from={later_day}")) == ["Later"]
    assert titles(client.get(f"/sessions/?date_to={soon_day}")) == ["Soon"]


def test_bad_filter_values_are_explained_and_the_rest_still_apply(mentor, domains):
    a_session(mentor, title="Free Python clinic", hours_ahead=24)
    a_session(mentor, title="Paid code review", hours_ahead=30, price=49_900)
    response = client_for(None).get("/sessions/?max_price=-5&price=free&date_to=someday")
    assert response.status_code == 200
    body = page_text(response)
    assert "greater than or equal to 0" in body and "Enter a valid date" in body
    assert titles(response) == ["Free Python clinic"]
    inverted = page_text(client_for(None).get("/sessions/?date_from=2030-02-10&date_to=2030-02-01"))
    assert "on or after the start day" in inverted


def test_empty_results_say_so_honestly(domains):
    body = page_text(client_for(None).get("/sessions/"))
    assert "No sessions are open for booking right now" in body and "0 sessions" in body
    filtered = page_text(client_for(None).get("/sessions/?q=nothing-like-this"))
    assert "No upcoming sessions match these filters" in filtered


# --- cursor pages ---------------------------------------------------------------------------------
def test_first_page_has_twenty_and_a_load_more_link_that_continues_in_order(mentor, domains):
    sessions = [a_session(mentor, title=f"Session {i:02d}", hours_ahead=24 + i * 2) for i in range(25)]
    client = client_for(None)
    first = client.get("/sessions/?price=free")
    assert titles(first) == [f"Session {i:02d}" for i in range(20)]
    more = re.search(r'href="(\?[^"]*after=[^"]+)" data-more', page_text(first)).group(1).replace("&amp;", "&")
    assert "price=free" in more and f"after={encode_cursor(sessions[19])}" in more

    fragment = client.get(f"/sessions/{more}&fragment=1")
    assert fragment.status_code == 200
    assert titles(fragment) == [f"Session {i:02d}" for i in range(20, 25)]
    assert "data-more" not in page_text(fragment) and "<html" not in page_text(fragment)

    # Without JavaScript the same link opens a whole page of the next results.
    full = client.get(f"/sessions/{more}")
    assert titles(full) == [f"Session {i:02d}" for i in range(20, 25)]
    assert "Back to the first results" in page_text(full)


def test_cursor_breaks_ties_on_the_same_start_by_id(mentor, domains):
    starts = timezone.now() + timedelta(days=2)
    twins = []
    for index in range(3):
        other = mentor if index == 0 else another_mentor(f"twin{index}@example.com")
        twins.append(a_session(other, title=f"Twin {index}", hours_ahead=48))
    for twin in twins:
        twin.starts_at = starts.replace(microsecond=0)
        twin.save()
    response = client_for(None).get(f"/sessions/?after={encode_cursor(twins[0])}&fragment=1")
    assert titles(response) == ["Twin 1", "Twin 2"]


@pytest.mark.parametrize("cursor", ["not-base64!", "bm9waXBl", "MjAzMC0wMS0wMVQwMDowMDowMHw1", "x" * 200, ""])
def test_bad_cursor_is_a_400_with_a_message(mentor, domains, cursor):
    a_session(mentor)
    client = client_for(None)
    fragment = client.get(f"/sessions/?after={cursor}&fragment=1")
    assert fragment.status_code == 400
    assert "broken or out of date" in page_text(fragment)
    full = client.get(f"/sessions/?after={cursor}")
    assert full.status_code == 400
    assert "broken or out of date" in page_text(full) and titles(full) == ["Intro to Django"]


# --- session detail -------------------------------------------------------------------------------
def test_detail_shows_the_session_in_the_viewers_zone(mentor, learner, domains):
    session = a_session(
        mentor, title="System design drill", price=49_900, capacity=3, description="Caches.", topics=["Queues"]
    )
    response = client_for(learner).get(f"/sessions/{session.pk}/")
    assert response.status_code == 200
    body = page_text(response)
    local = session.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert local.strftime("%-I:%M").lstrip("0") in body and "IST" in body
    for text in ["System design drill", "Caches.", "Queues", "₹499", "1 h", "3 of 3 left", f"/mentors/{mentor.pk}/"]:
        assert text in body
    assert "Reserve and pay" in body


def test_detail_404s_for_drafts_and_private_sessions_of_others(mentor, learner, outsider, domains):
    draft = a_session(mentor, state=SessionState.DRAFT, title="Secret draft")
    private = a_session(mentor, is_private=True, hours_ahead=72, title="Private one")
    Booking.objects.create(session=private, learner=learner, state=BookingState.CONFIRMED)
    for user in (None, outsider, another_mentor("nosy@example.com")):
        assert client_for(user).get(f"/sessions/{draft.pk}/").status_code == 404
        assert client_for(user).get(f"/sessions/{private.pk}/").status_code == 404
    assert client_for(None).get("/sessions/999999/").status_code == 404
    own = client_for(mentor).get(f"/sessions/{draft.pk}/")
    assert own.status_code == 200 and "This is your session" in page_text(own)
    assert client_for(learner).get(f"/sessions/{private.pk}/").status_code == 200


def test_booking_box_for_each_viewer(mentor, learner, admin_user, domains):
    session = a_session(mentor)
    path = f"/sessions/{session.pk}/"
    anonymous = page_text(client_for(None).get(path))
    assert "Sign up to book" in anonymous and "/register/learner/" in anonymous
    assert f'href="/login/?next={path}"' in anonymous
    assert "Book this session" in page_text(client_for(learner).get(path))
    assert "This is your session" in page_text(client_for(mentor).get(path))
    for user in (another_mentor("peer@example.com"), admin_user):
        body = page_text(client_for(user, verified=user.role == Role.ADMIN).get(path))
        assert "booking-heading" not in body and "Book this session" not in body


# --- booking through the page ---------------------------------------------------------------------
def test_free_booking_is_confirmed_and_the_page_says_so(mentor, learner, domains):
    session = a_session(mentor)
    client = client_for(learner)
    response = client.post(f"/sessions/{session.pk}/book/")
    assert response.status_code == 302 and response.url == f"/sessions/{session.pk}/"
    booking = Booking.objects.get(session=session, learner=learner)
    assert booking.state == BookingState.CONFIRMED and booking.confirmed_at is not None
    body = page_text(client.get(response.url))
    assert "You&#x27;re booked" in body
    assert f"/api/bookings/{booking.pk}/invite.ics" in body and f"/bookings/{booking.pk}/cancel/" in body
    assert client.get(f"/api/bookings/{booking.pk}/invite.ics").status_code == 200  # session auth works


def test_paid_booking_holds_the_seat_and_asks_for_payment(mentor, learner, domains):
    session = a_session(mentor, price=99_900)
    client = client_for(learner)
    response = client.post(f"/sessions/{session.pk}/book/", follow=True)
    booking = Booking.objects.get(session=session, learner=learner)
    assert booking.state == BookingState.HELD and booking.hold_expires_at > timezone.now()
    body = page_text(response)
    assert "Seat held for 15 minutes" in body  # the toast
    assert "Complete payment by" in body and "invite.ics" not in body


def test_full_session_shows_the_message_and_books_nothing(mentor, learner, outsider, domains):
    session = a_session(mentor, capacity=1)
    Booking.objects.create(session=session, learner=outsider, state=BookingState.CONFIRMED)
    client = client_for(learner)
    assert "All seats are taken" in page_text(client.get(f"/sessions/{session.pk}/"))
    response = client.post(f"/sessions/{session.pk}/book/", follow=True)
    assert "This session is full" in page_text(response)
    assert not Booking.objects.filter(session=session, learner=learner).exists()


def test_booking_twice_keeps_one_booking(mentor, learner, domains):
    session = a_session(mentor, capacity=3)
    client = client_for(learner)
    client.post(f"/sessions/{session.pk}/book/")
    response = client.post(f"/sessions/{session.pk}/book/", follow=True)
    assert "already booked" in page_text(response) and "You&#x27;re booked" in page_text(response)
    assert Booking.objects.filter(session=session, learner=learner).count() == 1


def test_anonymous_and_mentors_cannot_book_through_the_page(mentor, domains):
    session = a_session(mentor)
    anonymous = client_for(None).post(f"/sessions/{session.pk}/book/")
    assert anonymous.status_code == 302 and anonymous.url.startswith("/login/?next=")
    own = client_for(mentor).post(f"/sessions/{session.pk}/book/")
    assert own.status_code == 302 and own.url == "/dashboard/mentor/"
    other = client_for(another_mentor("peer@example.com")).post(f"/sessions/{session.pk}/book/")
    assert other.status_code == 302 and other.url == "/dashboard/mentor/"
    assert not Booking.objects.exists()


def test_book_needs_a_post_with_csrf(mentor, learner, domains):
    session = a_session(mentor)
    assert client_for(learner).get(f"/sessions/{session.pk}/book/").status_code == 302  # GET only shows the page
    strict = client_for(learner)
    strict.handler.enforce_csrf_checks = True
    assert strict.post(f"/sessions/{session.pk}/book/").status_code == 403
    assert not Booking.objects.exists()


def test_booking_a_draft_or_missing_session_is_404(mentor, learner, domains):
    draft = a_session(mentor, state=SessionState.DRAFT)
    assert client_for(learner).post(f"/sessions/{draft.pk}/book/").status_code == 404
    assert client_for(learner).post("/sessions/999999/book/").status_code == 404
    assert not Booking.objects.exists()


# --- cancelling -----------------------------------------------------------------------------------
def test_cancel_page_quotes_a_full_refund_then_cancels(mentor, learner, domains):
    session = a_session(mentor, price=49_900, hours_ahead=48)
    booking = Booking.objects.create(
        session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=timezone.now()
    )
    client = client_for(learner)
    quote = client.get(f"/bookings/{booking.pk}/cancel/")
    assert quote.status_code == 200
    body = page_text(quote)
    assert body.count("₹499") == 2 and "Full refund" in body and 'name="csrfmiddlewaretoken"' in body

    response = client.post(f"/bookings/{booking.pk}/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/learner/bookings/"
    assert "₹499 will be refunded" in page_text(response)
    booking.refresh_from_db()
    assert booking.state == BookingState.CANCELLED and booking.refund_paise == 49_900
    assert booking.cancelled_by == "learner"


def test_cancel_page_warns_when_too_late_for_a_refund(mentor, learner, domains):
    session = a_session(mentor, price=49_900, hours_ahead=0.5)
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    client = client_for(learner)
    assert "Too late for a refund" in page_text(client.get(f"/bookings/{booking.pk}/cancel/"))
    client.post(f"/bookings/{booking.pk}/cancel/", {"next": f"/sessions/{session.pk}/"})
    booking.refresh_from_db()
    assert booking.state == BookingState.CANCELLED and booking.refund_paise == 0


def test_cancel_returns_to_a_safe_next_only(mentor, learner, domains):
    session = a_session(mentor)
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    response = client_for(learner).post(f"/bookings/{booking.pk}/cancel/", {"next": "https://evil.example/"})
    assert response.url == "/dashboard/learner/bookings/"
    again = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    response = client_for(learner).post(f"/bookings/{again.pk}/cancel/", {"next": f"/sessions/{session.pk}/"})
    assert response.url == f"/sessions/{session.pk}/"


def test_cancelled_booking_page_says_there_is_nothing_to_cancel(mentor, learner, domains):
    session = a_session(mentor)
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CANCELLED)
    client = client_for(learner)
    assert "nothing to cancel" in page_text(client.get(f"/bookings/{booking.pk}/cancel/"))
    response = client.post(f"/bookings/{booking.pk}/cancel/", follow=True)
    assert "This booking is not active." in page_text(response)


def test_only_the_booking_learner_reaches_the_cancel_page(mentor, learner, outsider, domains):
    session = a_session(mentor)
    booking = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    assert client_for(outsider).get(f"/bookings/{booking.pk}/cancel/").status_code == 404
    assert client_for(outsider).post(f"/bookings/{booking.pk}/cancel/").status_code == 404
    assert client_for(mentor).post(f"/bookings/{booking.pk}/cancel/").url == "/dashboard/mentor/"
    booking.refresh_from_db()
    assert booking.state == BookingState.CONFIRMED


# --- mentors --------------------------------------------------------------------------------------
def mentor_names(response) -> list[str]:
    return re.findall(r'class="card-link" href="/mentors/\d+/">([^<]+)</a>', page_text(response))


def test_mentor_list_shows_approved_active_mentors_best_rated_first(mentor, pending_mentor, learner, domains):
    design = Domain.objects.get(slug="design")
    dee = another_mentor("dee@example.com", domain=design, full_name="Dee Designer", skills=["Figma", "Framer"])
    blocked = another_mentor("bo@example.com", full_name="Blocked Mentor")
    blocked.is_active = False
    blocked.save()
    review(a_session(dee, hours_ahead=-30, state=SessionState.COMPLETED), learner, 5)
    review(a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED), learner, 3)
    response = client_for(None).get("/mentors/")
    assert response.status_code == 200
    assert mentor_names(response) == ["Dee Designer", "Maya Mentor"]
    assert "(1 review)" in page_text(response)


def test_mentor_filters(mentor, learner, domains):
    design = Domain.objects.get(slug="design")
    dee = another_mentor("dee@example.com", domain=design, full_name="Dee Designer", skills=["Figma"])
    review(a_session(dee, hours_ahead=-30, state=SessionState.COMPLETED), learner, 5)
    review(a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED), learner, 3)
    a_session(mentor, hours_ahead=48)  # Maya teaches within the week; Dee only in a month
    a_session(dee, hours_ahead=24 * 30)
    client = client_for(None)
    assert mentor_names(client.get("/mentors/?q=dee")) == ["Dee Designer"]
    assert mentor_names(client.get("/mentors/?q=senior+engineer")) == ["Maya Mentor"]  # headline
    assert mentor_names(client.get("/mentors/?q=figma")) == ["Dee Designer"]  # skills
    assert mentor_names(client.get("/mentors/?domain=design")) == ["Dee Designer"]
    assert mentor_names(client.get(f"/mentors/?domain={domains[0].slug}")) == ["Maya Mentor"]
    assert mentor_names(client.get("/mentors/?min_rating=4")) == ["Dee Designer"]
    assert mentor_names(client.get("/mentors/?available=on")) == ["Maya Mentor"]
    assert "No mentors match" in page_text(client.get("/mentors/?min_rating=4.5&available=on"))
    assert client.get("/mentors/?min_rating=abc&page=zzz").status_code == 200


def test_mentor_list_pages_of_24(domains):
    for index in range(26):
        another_mentor(f"m{index:02d}@example.com", full_name=f"Mentor {index:02d}")
    client = client_for(None)
    first, second = client.get("/mentors/"), client.get("/mentors/?page=2")
    assert len(mentor_names(first)) == 24 and len(mentor_names(second)) == 2
    assert 'aria-current="page"' in page_text(second) and "26 mentors" in page_text(first)


def test_mentor_detail_shows_profile_sessions_and_reviews(mentor, learner, domains):
    profile = mentor.mentor_profile
    profile.qualifications = "MSc Computer Science"
    profile.skills = ["Python", "Django"]
    profile.years_experience = 7
    profile.save()
    past = a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED, title="Old one")
    review(past, learner, 4, "Clear and kind.")
    a_session(mentor, hours_ahead=50, title="Next clinic")
    response = client_for(None).get(f"/mentors/{mentor.pk}/")
    assert response.status_code == 200
    body = page_text(response)
    for text in ["Senior engineer", "MSc Computer Science", "Django", "7 years", "Next clinic", "Clear and kind."]:
        assert text in body
    assert "Lena" in body and "Lena Learner" not in body  # first name only
    assert 'aria-label="4.0 out of 5 stars"' in body
    assert "<video" not in body and "MM" in body  # no video; initials stand in for a photo


def test_mentor_detail_404s(mentor, pending_mentor, learner, domains):
    blocked = another_mentor("bo@example.com")
    blocked.is_active = False
    blocked.save()
    rejected = another_mentor("rej@example.com", approval_state=ApprovalState.REJECTED)
    client = client_for(None)
    for user in (pending_mentor, blocked, rejected, learner):
        assert client.get(f"/mentors/{user.pk}/").status_code == 404
    assert client.get(f"/mentors/{mentor.pk}/").status_code == 200


# --- learner bookings -----------------------------------------------------------------------------
def test_learner_bookings_upcoming_and_past(mentor, learner, domains):
    soon = a_session(mentor, title="Soon", hours_ahead=24)
    paid = a_session(mentor, title="Paid soon", hours_ahead=30, price=49_900)
    done = a_session(mentor, title="Done", hours_ahead=-30, state=SessionState.COMPLETED)
    confirmed = Booking.objects.create(session=soon, learner=learner, state=BookingState.CONFIRMED)
    held = Booking.objects.create(
        session=paid, learner=learner, state=BookingState.HELD, hold_expires_at=timezone.now() + timedelta(minutes=9)
    )
    Booking.objects.create(session=done, learner=learner, state=BookingState.CONFIRMED)
    client = client_for(learner)
    upcoming = page_text(client.get("/dashboard/learner/bookings/"))
    assert "Soon" in upcoming and "Paid soon" in upcoming and "Done" not in upcoming
    assert f"/api/bookings/{confirmed.pk}/invite.ics" in upcoming
    assert f"/bookings/{confirmed.pk}/cancel/" in upcoming and f"/bookings/{held.pk}/cancel/" in upcoming
    assert "Complete payment by" in upcoming
    assert re.search(r'href="/dashboard/learner/bookings/"\s+aria-current="page"', upcoming)
    past = page_text(client.get("/dashboard/learner/bookings/?when=past"))
    assert "Done" in past and "Paid soon" not in past and "/cancel/" not in past
    assert "No upcoming bookings" in page_text(
        client_for(another_learner("new@example.com")).get("/dashboard/learner/bookings/")
    )


def test_learner_bookings_is_for_learners_only(mentor, domains):
    assert client_for(None).get("/dashboard/learner/bookings/").url.startswith("/login/")
    assert client_for(mentor).get("/dashboard/learner/bookings/").url == "/dashboard/mentor/"


def test_learner_navigation_points_at_the_discovery_pages(learner):
    body = page_text(client_for(learner).get("/dashboard/learner/"))
    for href in ['href="/sessions/"', 'href="/mentors/"', 'href="/dashboard/learner/bookings/"']:
        assert body.count(href) >= 2  # sidebar and bottom navigation
    landing = page_text(client_for(None).get("/"))
    assert '<a href="/sessions/">Sessions</a>' in landing and '<a href="/mentors/">Mentors</a>' in landing
    assert re.search(r'btn-primary btn-lg" href="/sessions/">Find a session', landing)


# --- pinned query counts --------------------------------------------------------------------------
def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_session_list_query_count_is_constant(mentor, learner, domains):
    client = client_for(learner)
    for index in range(5):
        a_session(mentor, hours_ahead=24 + index * 2)
    few = _count(client, "/sessions/")
    fragment_few = _count(client, "/sessions/?fragment=1&after=" + encode_cursor(a_session(mentor, hours_ahead=1)))
    for index in range(5, 45):
        other = a_session(mentor, hours_ahead=24 + index * 2)
        Booking.objects.create(session=other, learner=learner, state=BookingState.CONFIRMED)
    many = _count(client, "/sessions/")
    fragment_many = _count(client, "/sessions/?fragment=1&after=" + encode_cursor(a_session(mentor, hours_ahead=2)))
    assert few == many <= 6
    assert fragment_few == fragment_many


def test_mentor_list_query_count_is_constant(learner, domains):
    def add(start, stop):
        for index in range(start, stop):
            teacher = another_mentor(f"m{index:02d}@example.com", domain=domains[0], full_name=f"Mentor {index:02d}")
            review(a_session(teacher, hours_ahead=-30, state=SessionState.COMPLETED), learner, 1 + index % 5)
            a_session(teacher, hours_ahead=48)

    client = client_for(None)
    add(0, 5)
    few = _count(client, "/mentors/")
    add(5, 25)
    many = _count(client, "/mentors/")
    assert few == many <= 5


def test_mentor_detail_query_count_is_constant(mentor, domains):
    client = client_for(None)
    learners = [another_learner(f"l{index}@example.com") for index in range(12)]
    review(a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED), learners[0], 5)
    a_session(mentor, hours_ahead=40)
    one = _count(client, f"/mentors/{mentor.pk}/")
    for index, person in enumerate(learners[1:], start=1):
        review(a_session(mentor, hours_ahead=-30 - index * 2, state=SessionState.COMPLETED), person, 4)
        a_session(mentor, hours_ahead=40 + index * 2)
    assert _count(client, f"/mentors/{mentor.pk}/") == one


def test_learner_bookings_query_count_is_constant(mentor, learner, domains):
    client = client_for(learner)
    Booking.objects.create(session=a_session(mentor, hours_ahead=30), learner=learner, state=BookingState.CONFIRMED)
    one = _count(client, "/dashboard/learner/bookings/")
    for index in range(10):
        Booking.objects.create(
            session=a_session(mentor, hours_ahead=40 + index * 2), learner=learner, state=BookingState.CONFIRMED
        )
    assert _count(client, "/dashboard/learner/bookings/") == one


def test_waitlist_and_claim_through_the_session_page(mentor, learner, outsider, domains):
    from backend.marketplace.models import WaitlistEntry

    session = a_session(mentor, capacity=1)
    client_for(learner).post(f"/sessions/{session.pk}/book/")
    waiting = client_for(outsider)
    page = waiting.get(f"/sessions/{session.pk}/").content.decode()
    assert "Join the waitlist" in page
    waiting.post(f"/sessions/{session.pk}/waitlist/")
    entry = WaitlistEntry.objects.get(learner=outsider)
    assert "Leave the waitlist" in waiting.get(f"/sessions/{session.pk}/").content.decode()
    booking = Booking.objects.get(learner=learner)
    client_for(learner).post(f"/bookings/{booking.pk}/cancel/")
    entry.refresh_from_db()
    assert entry.state == "offered"
    assert "Take the seat" in waiting.get(f"/sessions/{session.pk}/").content.decode()
    waiting.post(f"/bookings/{entry.offered_booking_id}/claim/")
    assert Booking.objects.get(pk=entry.offered_booking_id).state == BookingState.CONFIRMED
    assert client_for(learner).post(f"/bookings/{entry.offered_booking_id}/claim/").status_code == 404


def test_get_on_the_book_url_shows_the_session(mentor, learner, domains):
    session = a_session(mentor)
    response = client_for(learner).get(f"/sessions/{session.pk}/book/")
    assert response.status_code == 302 and response.url == f"/sessions/{session.pk}/"
    assert not Booking.objects.exists()
