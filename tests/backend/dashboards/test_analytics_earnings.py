"""Mentor analytics: exact figures from real records (weeks in the mentor's own timezone), access,
and pinned query counts. The money pages (earnings, withdrawals, payments) are in test_money_pages.

The clock is frozen on Wednesday 12 March 2025, 15:30 in Kolkata, where the mentor lives. Records
sit on purpose next to week and month boundaries that fall differently in UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.dashboards import analytics
from backend.marketplace.models import Booking, BookingState, Domain, Follow, Review, Session, SessionState
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # Wed 12 Mar, 15:30 IST
THIS_WEEK = date(2025, 3, 10)


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def a_session_at(mentor, starts_at, *, price=0, capacity=1, state=SessionState.COMPLETED, **extra) -> Session:
    return Session.objects.create(
        mentor=mentor,
        title=extra.pop("title", "Intro to Django"),
        domain=Domain.objects.order_by("position").first(),
        starts_at=starts_at,
        duration_minutes=60,
        price_paise=price,
        capacity=capacity,
        state=state,
        **extra,
    )


def book(session, learner, state=BookingState.CONFIRMED, **extra) -> Booking:
    if state == BookingState.CONFIRMED:
        extra.setdefault("confirmed_at", session.starts_at - timedelta(days=2))
    return Booking.objects.create(session=session, learner=learner, state=state, **extra)


def review(booking, rating, created_at) -> Review:
    return Review.objects.create(booking=booking, rating=rating, created_at=created_at)


@pytest.fixture
def cast(mentor, learner, outsider):
    """Lena (learner) and Oscar (outsider) plus three more learners around Maya's sessions."""
    mentor.timezone = "Asia/Kolkata"
    mentor.save(update_fields=["timezone"])
    l3, l4, l5 = (make_user(f"l{n}@example.com", "learner") for n in (3, 4, 5))
    # Monday 02:00 in Kolkata is still Sunday in UTC: the session belongs to the week of 3 March.
    deep_dive = a_session_at(
        mentor,
        ist(2025, 3, 3, 2, 0),
        price=50_000,
        capacity=3,
        title="Django deep dive",
        topics=["Django", "django", "  Django   ORM "],
    )
    clinic = a_session_at(
        mentor, ist(2025, 2, 26, 18, 0), capacity=2, title="Free clinic", topics=["DJANGO", "Testing"]
    )
    upcoming = a_session_at(
        mentor,
        ist(2025, 3, 14, 18, 0),
        price=49_900,
        capacity=3,
        state=SessionState.SCHEDULED,
        title="=cmd|' /C calc'!A0",
        topics=["Career"],
    )
    # 1 March 01:00 in Kolkata is 28 February in UTC: a March earning for Maya.
    growth = a_session_at(mentor, ist(2025, 3, 1, 1, 0), price=20_000, title="+Growth mindset", topics=["Mindset"])
    cancelled = a_session_at(
        mentor, ist(2025, 2, 20, 18, 0), price=30_000, state=SessionState.CANCELLED, title="@risk: ORM tips"
    )
    old = a_session_at(mentor, ist(2024, 11, 4, 18, 0), title="Before the range", topics=["Old"])

    reviews = [
        review(book(deep_dive, learner), 4, ist(2025, 3, 4, 12, 0)),
        review(book(deep_dive, outsider), 5, ist(2025, 3, 5, 12, 0)),
        review(book(clinic, learner), 3, ist(2025, 2, 27, 12, 0)),
        review(book(old, l3), 5, ist(2024, 11, 5, 12, 0)),
    ]
    # Paid, then cancelled too late for a refund: still a paid seat.
    book(deep_dive, l3, BookingState.CANCELLED, confirmed_at=ist(2025, 3, 1), cancelled_by="learner")
    book(clinic, l4, BookingState.CANCELLED, cancelled_by="learner")  # free, never counted
    book(upcoming, outsider)
    book(upcoming, learner, BookingState.HELD, hold_expires_at=NOW + timedelta(minutes=10))
    book(growth, outsider)
    book(growth, learner, BookingState.HELD, hold_expires_at=NOW - timedelta(hours=1))  # ran out unpaid
    book(
        cancelled,
        learner,
        BookingState.CANCELLED,
        confirmed_at=ist(2025, 2, 10),
        cancelled_by="mentor",
        refund_paise=30_000,
    )
    for who, when in [
        (outsider, utc(2024, 10, 1)),
        (l3, utc(2024, 10, 2)),
        (l4, ist(2025, 2, 25, 9, 0)),
        (learner, utc(2025, 3, 9, 20, 0)),  # Sunday night in UTC, Monday 01:30 in Kolkata
        (l5, ist(2025, 3, 11, 9, 0)),
    ]:
        Follow.objects.create(learner=who, mentor=mentor, created_at=when)
    return {"sessions": [deep_dive, clinic, upcoming, growth, cancelled, old], "reviews": reviews}


def week(data, monday: date) -> dict:
    return next(row for row in data["by_week"] if row["week"] == monday)


# --- analytics figures ------------------------------------------------------------------------
def test_weeks_are_the_mentors_own_weeks(mentor, cast):
    data = analytics.mentor_analytics(mentor, weeks=12)
    assert data["start"] == date(2024, 12, 23) and data["end"] == date(2025, 3, 16)
    assert [row["week"] for row in data["by_week"]] == [THIS_WEEK - timedelta(weeks=11 - n) for n in range(12)]
    # In UTC the deep dive would fall in the week of 24 Feb (making it 4) and 3 Mar would be empty.
    assert [row["bookings"] for row in data["by_week"][-4:]] == [0, 2, 2, 1]
    assert week(data, date(2025, 3, 3))["label"] == "3 Mar"
    assert data["totals"]["bookings"] == 5


def test_followers_accumulate_week_by_week(mentor, cast):
    data = analytics.mentor_analytics(mentor, weeks=12)
    assert [row["followers"] for row in data["by_week"]] == [2] * 9 + [3, 3, 5]
    assert [row["new_followers"] for row in data["by_week"][-3:]] == [1, 0, 2]
    assert data["totals"]["followers"] == 5 and data["totals"]["new_followers"] == 3
    short = analytics.mentor_analytics(mentor, weeks=4)
    assert [row["followers"] for row in short["by_week"]] == [2, 3, 3, 5]


def test_ratings_per_week_and_all_time_distribution(mentor, cast):
    data = analytics.mentor_analytics(mentor, weeks=12)
    assert (week(data, date(2025, 3, 3))["rating_average"], week(data, date(2025, 3, 3))["rating_count"]) == (4.5, 2)
    assert week(data, date(2025, 2, 24))["rating_average"] == 3.0
    assert week(data, THIS_WEEK)["rating_average"] is None
    assert [(row["stars"], row["count"], row["percent"]) for row in data["rating_distribution"]] == [
        (5, 2, 50),
        (4, 1, 25),
        (3, 1, 25),
        (2, 0, 0),
        (1, 0, 0),
    ]
    assert data["totals"]["rating_average"] == 4.25 and data["totals"]["review_count"] == 4
    assert data["totals"]["reviews_in_range"] == 3


def test_topics_are_normalised_and_ranked_by_confirmed_bookings(mentor, cast):
    topics = analytics.mentor_analytics(mentor, weeks=12)["topics"]
    # "Django", "django" and "DJANGO" are one topic, counted once per session (2 + 1 bookings);
    # "  Django   ORM " collapses its spaces; the old session is outside the range.
    assert [(t["topic"], t["bookings"]) for t in topics] == [
        ("Django", 3),
        ("Django ORM", 2),
        ("Career", 1),
        ("Mindset", 1),
        ("Testing", 1),
    ]


def test_top_ten_topics_only(mentor, learner):
    session = a_session_at(mentor, ist(2025, 3, 4, 10, 0), topics=[f"Topic {n:02d}" for n in range(14)])
    book(session, learner)
    assert len(analytics.mentor_analytics(mentor)["topics"]) == analytics.TOP_TOPICS


def test_fill_rate_counts_completed_sessions_in_range(mentor, cast):
    totals = analytics.mentor_analytics(mentor, weeks=12)["totals"]
    # deep dive 2 of 3, clinic 1 of 2, growth 1 of 1; the upcoming and old sessions are not counted
    assert (totals["completed_sessions"], totals["seats_filled"], totals["seats_offered"]) == (3, 4, 6)
    assert totals["fill_rate"] == 0.6667


def test_new_mentor_has_zeros_not_errors(mentor):
    data = analytics.mentor_analytics(mentor, weeks=4)
    assert [row["bookings"] for row in data["by_week"]] == [0, 0, 0, 0]
    assert data["topics"] == [] and data["totals"]["rating_average"] is None and data["totals"]["fill_rate"] is None


@pytest.mark.parametrize(("given", "weeks"), [(None, 12), ("abc", 12), ("7", 12), ("-4", 12), ("4", 4), ("52", 52)])
def test_weeks_parameter_falls_back_to_twelve(given, weeks):
    assert analytics.parse_weeks(given) == weeks


# --- analytics page and API -------------------------------------------------------------------
def text(response) -> str:
    return response.content.decode()


def stat(body: str, label: str) -> str:
    match = re.search(rf'<span class="stat-label">{label}</span><strong class="stat-value">([^<]*)<', body)
    assert match, label
    return match.group(1)


def test_analytics_page_shows_the_figures_charts_and_tables(mentor, cast):
    response = client_for(mentor).get("/dashboard/mentor/analytics/?weeks=abc")
    body = text(response)
    assert response.context["a"]["weeks"] == 12
    assert 'href="?weeks=12" aria-current="page"' in body
    assert stat(body, "Bookings") == "5" and stat(body, "Followers") == "5"
    assert stat(body, "Average rating") == "4.3" and stat(body, "Fill rate") == "67%"
    for key in ("bookings", "followers", "ratings", "stars", "topics"):
        assert f'<canvas data-chart="{key}"' in body and f'aria-describedby="{key}-summary"' in body
    assert "5 confirmed bookings over the last 12 weeks; the busiest week was 24 Feb with 2." in body
    assert "4.3 stars on average from 4 reviews; 2 gave five stars." in body
    assert "The most booked topic is Django with 3 bookings, of 5 topics shown." in body
    # The same numbers as a table, and the chart data as JSON for the script.
    assert '<th scope="row">3 Mar</th><td>2</td>' in body
    charts = response.context["charts"]
    assert charts["bookings"]["datasets"][0]["data"][-4:] == [0, 2, 2, 1]
    assert '<script id="chart-data" type="application/json">' in body
    assert "vendor/chartjs/chart.umd.min.js" in body and "js/analytics.js" in body


def test_analytics_range_switches(mentor, cast):
    body = text(client_for(mentor).get("/dashboard/mentor/analytics/?weeks=4"))
    assert 'href="?weeks=4" aria-current="page"' in body and "17 Feb 2025 – 16 Mar 2025" in body


def test_new_mentor_sees_an_intentional_empty_state(mentor):
    body = text(client_for(mentor).get("/dashboard/mentor/analytics/"))
    assert "empty-state" in body and "appear here once learners book your sessions" in body
    assert "<canvas" not in body and "chart.umd.min.js" not in body and 'id="chart-data"' not in body
    assert stat(body, "Average rating") == "—" and stat(body, "Fill rate") == "—"


def test_analytics_api_returns_the_same_figures(mentor, cast):
    response = client_for(mentor).get("/api/dashboard/mentor/analytics/?weeks=4")
    assert response.status_code == 200
    data = response.json()
    assert data["weeks"] == 4 and data["timezone"] == "Asia/Kolkata" and data["start"] == "2025-02-17"
    assert [w["bookings"] for w in data["by_week"]] == [0, 2, 2, 1]
    assert [w["week"] for w in data["by_week"]] == ["2025-02-17", "2025-02-24", "2025-03-03", "2025-03-10"]
    assert data["totals"]["fill_rate"] == 0.6667 and data["totals"]["rating_average"] == 4.25
    assert data["topics"][0] == {"topic": "Django", "bookings": 3}
    assert data["rating_distribution"][0] == {"stars": 5, "count": 2}
    assert client_for(mentor).get("/api/dashboard/mentor/analytics/?weeks=abc").json()["weeks"] == 12


def test_analytics_api_access(mentor, learner):
    anonymous = client_for(None).get("/api/dashboard/mentor/analytics/")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    assert client_for(learner).get("/api/dashboard/mentor/analytics/").status_code == 403


def test_analytics_api_is_in_the_schema(admin_user):
    schema = client_for(None).get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "weeks" in str(schema.json()["paths"]["/api/dashboard/mentor/analytics/"]["get"]["parameters"])


# --- access and navigation --------------------------------------------------------------------
MENTOR_PAGES = ["/dashboard/mentor/analytics/"]


@pytest.mark.parametrize("page", MENTOR_PAGES)
def test_anonymous_visitors_go_to_login(page, domains):
    response = client_for(None).get(page)
    assert response.status_code == 302 and response.url.startswith("/login/?next=")


@pytest.mark.parametrize("page", MENTOR_PAGES)
def test_mentor_pages_for_each_role(page, mentor, pending_mentor, learner, admin_user):
    assert client_for(mentor).get(page).status_code == 200
    assert client_for(pending_mentor).get(page).status_code == 200
    assert client_for(learner).get(page).url == "/dashboard/learner/"
    assert client_for(admin_user, verified=True).get(page).url == "/dashboard/admin/"


def test_navigation_marks_the_new_tabs(mentor, learner):
    for client, page in [
        (client_for(mentor), "/dashboard/mentor/analytics/"),
        (client_for(mentor), "/dashboard/mentor/earnings/"),
        (client_for(learner), "/dashboard/learner/payments/"),
    ]:
        body = text(client.get(page))
        # sidebar and bottom navigation (directly or in "More") both point here and mark it current
        assert len(re.findall(rf'href="{page}"\s+aria-current="page"', body)) == 2, page
    body = text(client_for(mentor).get("/dashboard/mentor/analytics/"))
    assert '<details class="nav-more has-current">' in body
    assert '<details class="nav-more">' in text(client_for(mentor).get("/dashboard/mentor/"))


# --- pinned query counts ----------------------------------------------------------------------
PAGES = {
    "mentor": [
        "/dashboard/mentor/analytics/",
        "/dashboard/mentor/analytics/?weeks=52",
        "/api/dashboard/mentor/analytics/",
        "/dashboard/mentor/",
    ],
    "learner": [],
}


def count_queries(client, page) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


def counts(mentor, learner) -> dict[str, int]:
    clients = {"mentor": client_for(mentor), "learner": client_for(learner)}
    return {page: count_queries(clients[who], page) for who, pages in PAGES.items() for page in pages}


def test_query_counts_do_not_grow_with_records(mentor, learner, cast):
    few = counts(mentor, learner)
    learners = [make_user(f"more{n}@example.com", "learner") for n in range(6)]
    for n in range(20):
        session = a_session_at(
            mentor, ist(2025, 3, 9, 8, 0) - timedelta(days=5 * n), price=10_000 * (n % 3), capacity=6, topics=[f"T{n}"]
        )
        for person in learners[: 1 + n % 6]:
            booking = book(session, person)
            if n % 2:
                review(booking, 1 + n % 5, session.starts_at + timedelta(hours=3))
        book(
            session, learner, BookingState.CANCELLED, confirmed_at=session.starts_at - timedelta(days=3), refund_paise=1
        )
    for n, person in enumerate(learners):
        Follow.objects.create(learner=person, mentor=mentor, created_at=NOW - timedelta(days=9 * n))
    many = counts(mentor, learner)
    assert few == many
    # besides session, user and profile: six reads for analytics (money pages: test_money_pages)
    assert (
        many["/dashboard/mentor/analytics/"] == 11
    )  # 9 + the bell's 2 and many["/api/dashboard/mentor/analytics/"] == 8
