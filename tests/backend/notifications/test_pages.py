"""The notification pages: the bell on every dashboard page, /dashboard/notifications/ (a page at
a time, all or unread, mark one or all read through plain forms) and /profile/ (name, timezone,
theme and the channels per category). Each user only ever sees and marks their own."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.accounts.models import User
from backend.notifications.models import Notification, NotificationPreference
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def notify(user, n: int = 1, *, read: bool = False, title: str = "Seat confirmed") -> list[Notification]:
    from django.utils import timezone

    rows = [
        Notification(
            user=user,
            event="booking.confirmed",
            category="bookings",
            title=f"{title} {i}",
            body="Tue 5 Nov with Maya",
            url="/dashboard/learner/bookings/",
            read_at=timezone.now() if read else None,
        )
        for i in range(n)
    ]
    return Notification.objects.bulk_create(rows)


def bell_html(html: str) -> str:
    return re.search(r'<details class="bell".*?</details>', html, re.S).group(0)


# --- access -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/dashboard/notifications/", "/profile/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_each_role_sees_only_their_own_notifications(learner, mentor, admin_user):
    notify(learner, title="For the learner")
    notify(mentor, title="For the mentor")
    for user, mine, theirs in (
        (learner, "For the learner", "For the mentor"),
        (mentor, "For the mentor", "For the learner"),
    ):
        html = client_for(user).get("/dashboard/notifications/").content.decode()
        assert mine in html and theirs not in html
    admin_page = client_for(admin_user, verified=True).get("/dashboard/notifications/")
    assert admin_page.status_code == 200
    assert "For the learner" not in admin_page.content.decode()


def test_marking_another_users_notification_does_nothing(learner, outsider):
    (theirs,) = notify(outsider)
    response = client_for(learner).post(f"/dashboard/notifications/{theirs.pk}/read/")
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.read_at is None


# --- the bell --------------------------------------------------------------------------------------
def test_the_bell_shows_the_unread_count_and_the_latest_six(learner):
    notify(learner, 3, read=True, title="Old")
    notify(learner, 7, title="New")
    html = client_for(learner).get("/dashboard/learner/").content.decode()
    bell = bell_html(html)
    assert "7 unread notifications" in bell
    assert re.search(r"data-bell-count>7<", bell)
    assert bell.count('<li class="bell-item') == 6
    assert "New 6" in bell and "New 0" not in bell  # newest first, six of them
    assert "Mark all read" in bell and 'href="/dashboard/notifications/"' in bell
    # Opening the menu is only markup: nothing was marked read by drawing it.
    assert Notification.objects.filter(user=learner, read_at__isnull=True).count() == 7


def test_the_bell_with_nothing_unread_hides_its_badge(mentor):
    html = client_for(mentor).get("/dashboard/mentor/").content.decode()
    bell = bell_html(html)
    assert "data-bell-badge hidden" in bell and "No notifications yet" in bell


def test_opening_a_notification_from_the_bell_marks_it_read_and_follows_its_link(learner):
    (n,) = notify(learner)
    response = client_for(learner).post(f"/dashboard/notifications/{n.pk}/read/", {"next": n.url})
    assert response.status_code == 302 and response["Location"] == "/dashboard/learner/bookings/"
    n.refresh_from_db()
    assert n.read_at is not None


def test_a_link_off_site_is_not_followed(learner):
    (n,) = notify(learner)
    response = client_for(learner).post(f"/dashboard/notifications/{n.pk}/read/", {"next": "https://evil.example/"})
    assert response["Location"] == "/dashboard/notifications/"


# --- the page ------------------------------------------------------------------------------------
def test_the_page_pages_back_with_a_cursor(learner):
    rows = notify(learner, 25)
    client = client_for(learner)
    first = client.get("/dashboard/notifications/")
    ids = [int(i) for i in re.findall(r'id="notification-(\d+)"', first.content.decode())]
    assert ids == sorted((r.pk for r in rows), reverse=True)[:20]
    older = re.search(r'href="\?before=(\d+)"', first.content.decode())
    assert older and int(older.group(1)) == ids[-1]
    second = client.get(f"/dashboard/notifications/?before={ids[-1]}").content.decode()
    assert [int(i) for i in re.findall(r'id="notification-(\d+)"', second)] == sorted(r.pk for r in rows)[:5][::-1]
    assert 'href="?before=' not in second  # the last page
    assert client.get("/dashboard/notifications/?before=junk").status_code == 200  # a bad cursor: the first page


def test_the_unread_filter(learner):
    notify(learner, 2, read=True, title="Seen")
    notify(learner, 1, title="Fresh")
    html = client_for(learner).get("/dashboard/notifications/?unread=1").content.decode()
    main = html.split('id="main"')[1]
    assert "Fresh 0" in main and "Seen" not in main
    assert "data-unread-tab-count>1<" in main


def test_mark_one_and_mark_all_through_the_page_forms(learner):
    one, two, three = notify(learner, 3)
    client = client_for(learner)
    response = client.post(f"/dashboard/notifications/{two.pk}/read/", {"next": "/dashboard/notifications/?unread=1"})
    assert response["Location"] == "/dashboard/notifications/?unread=1"
    assert list(Notification.objects.filter(read_at__isnull=False).values_list("pk", flat=True)) == [two.pk]
    response = client.post("/dashboard/notifications/read-all/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/notifications/"
    assert not Notification.objects.filter(user=learner, read_at__isnull=True).exists()
    assert "Marked 2 notifications read." in client.get("/dashboard/notifications/").content.decode()


def test_the_mark_forms_need_a_post_with_csrf(learner):
    (n,) = notify(learner)
    assert client_for(learner).get(f"/dashboard/notifications/{n.pk}/read/").status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    assert strict.post("/dashboard/notifications/read-all/").status_code == 403
    n.refresh_from_db()
    assert n.read_at is None


# --- query counts ----------------------------------------------------------------------------------
def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_notifications_page_reads_a_fixed_number_of_queries(learner):
    client = client_for(learner)
    notify(learner, 3)
    few = count_queries(client, "/dashboard/notifications/")
    notify(learner, 30)
    assert count_queries(client, "/dashboard/notifications/") == few
    # session, user, the page, the unread count (shared with the bell), the bell's latest, and
    # the two profile reads every dashboard page makes for the avatar.
    assert few == 7


def test_the_bell_costs_the_same_however_many_notifications(learner):
    client = client_for(learner)
    with_bell = count_queries(client, "/dashboard/learner/progress/")
    notify(learner, 12)
    assert count_queries(client, "/dashboard/learner/progress/") == with_bell
    public = count_queries(client, "/mentors/")
    notify(learner, 1)
    assert count_queries(client, "/mentors/") == public  # the bell is lazy: no dashboard, no query


def test_the_profile_page_reads_the_bell_once(learner):
    client = client_for(learner)
    with CaptureQueriesContext(connection) as queries:
        client.get("/profile/")
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "notifications_notification" ' in q["sql"]]
    assert len(reads) == 2  # the bell: count + latest


# --- profile -----------------------------------------------------------------------------------------
def test_profile_saves_name_timezone_and_theme(learner):
    response = client_for(learner).post(
        "/profile/",
        {"section": "profile", "full_name": "  Lena Lovelace ", "timezone": "Europe/Berlin", "theme": "dark"},
    )
    assert response.status_code == 302 and response["Location"] == "/profile/"
    user = User.objects.get(pk=learner.pk)
    assert (user.full_name, user.timezone, user.theme) == ("Lena Lovelace", "Europe/Berlin", "dark")


def test_profile_refuses_an_unknown_timezone_and_saves_nothing(learner):
    before = (learner.full_name, learner.timezone, learner.theme)
    response = client_for(learner).post(
        "/profile/", {"section": "profile", "full_name": "Someone Else", "timezone": "Mars/Olympus", "theme": "dark"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html and "Choose a timezone from the list" in html
    assert 'value="Someone Else"' in html  # what they typed is kept on the page
    user = User.objects.get(pk=learner.pk)
    assert (user.full_name, user.timezone, user.theme) == before


def test_profile_saves_the_channels_per_category(learner):
    client = client_for(learner)
    html = client.get("/profile/").content.decode()
    assert 'aria-label="Push: Reminders before a session" checked' in html
    assert 'aria-label="E-mail: Reminders before a session">' in html  # e-mail reminders are off by default
    ticked = {"push.bookings": "on", "push.reminders": "on", "email.payments": "on"}
    response = client.post("/profile/", {"section": "channels", **ticked})
    assert response.status_code == 302
    channels = NotificationPreference.objects.get(user=learner).channels
    assert channels["push"] == {
        "bookings": True,
        "reminders": True,
        "requests": False,
        "payments": False,
        "following": False,
        "reviews": False,
    }
    assert channels["email"]["payments"] is True and channels["email"]["bookings"] is False
    # The name and zone were not touched by the other form.
    assert User.objects.get(pk=learner.pk).full_name == "Lena Learner"


def test_the_profile_page_offers_push_and_mentors_their_payout_methods(learner, mentor):
    learner_html = client_for(learner).get("/profile/").content.decode()
    assert "Get reminders even when PeerLearn is closed" in learner_html
    assert "data-push-toggle" in learner_html and "js/push-settings.js" in learner_html
    assert "/dashboard/mentor/withdrawals/" not in learner_html
    mentor_html = client_for(mentor).get("/profile/").content.decode()
    assert 'href="/dashboard/mentor/withdrawals/"' in mentor_html


def test_the_dashboard_links_to_notifications_and_profile(learner, mentor):
    for user in (learner, mentor):
        html = client_for(user).get(f"/dashboard/{user.role}/").content.decode()
        sidebar = html.split('class="sidebar-nav"')[1].split("</nav>")[0]
        assert 'href="/dashboard/notifications/"' in sidebar
        assert 'href="/profile/"' in html.split('class="sidebar-footer"')[1]
