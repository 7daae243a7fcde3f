"""sync-engine.js's pure parts, run in Chromium: form posts read as mutations (the same mapping
the page uses offline and the service worker uses when a post cannot reach the server), and wall
times in a profile's zone turned into instants across a daylight-saving change."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ = """([path, fields, zone]) => {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  return self.PeerLearnSync.formMutation(path, form, zone);
}"""


@pytest.fixture
def engine(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/offline/")
    page.add_script_tag(url=f"{live_server.url}/static/vendor/idb/idb.umd.js")
    page.add_script_tag(url=f"{live_server.url}/static/js/sync-engine.js")
    yield page
    context.close()


def read(page, path, fields=None, zone="Asia/Kolkata"):
    return page.evaluate(READ, [path, fields or {}, zone])


def test_offline_forms_become_the_mutations_the_server_knows(engine):
    assert read(engine, "/bookings/7/cancel/") == {
        "name": "booking.cancel",
        "args": {"id": 7},
        "label": "Cancel booking",
    }
    assert read(engine, "/sessions/3/book/")["args"] == {"session": 3}
    assert read(engine, "/sessions/3/waitlist/")["name"] == "waitlist.join"
    assert read(engine, "/mentors/5/follow/", {"action": "unfollow"})["name"] == "mentor.unfollow"
    assert read(engine, "/mentors/5/follow/", {"action": "follow"})["name"] == "mentor.follow"
    request = read(
        engine,
        "/mentors/5/request/",
        {"topic": "Career", "time_1": "2026-12-01T18:00", "time_2": "", "duration_minutes": "45", "budget": "499.50"},
    )
    assert request["args"] == {
        "mentor": 5,
        "topic": "Career",
        "description": "",
        "preferred_times": ["2026-12-01T12:30:00.000Z"],  # 18:00 in India
        "duration_minutes": 45,
        "budget_paise": 49950,
    }
    accept = read(engine, "/dashboard/learner/requests/9/answer/", {"answer": "accept", "version": "3"})
    assert accept["args"] == {"request": 9, "action": "accept_counter", "version": 3}
    decline = read(engine, "/dashboard/mentor/requests/9/decline/", {"reason": "Busy", "version": "1"})
    assert decline["args"] == {"request": 9, "action": "decline", "reason": "Busy", "version": 1}
    counter = read(
        engine, "/dashboard/mentor/requests/9/counter/", {"starts_at": "2026-12-02T09:15", "price": "0", "version": "2"}
    )
    assert counter["args"]["starts_at"] == "2026-12-02T03:45:00.000Z" and counter["args"]["price_paise"] == 0
    draft = read(
        engine,
        "/dashboard/mentor/sessions/4/edit/",
        {
            "title": "SQL",
            "topics": "joins, , indexes",
            "domain": "2",
            "starts_at": "2026-12-03T10:00",
            "price": "0",
            "duration_minutes": "60",
            "capacity": "3",
        },
    )
    assert draft["name"] == "session.update" and draft["args"]["topics"] == ["joins", "indexes"]
    assert read(engine, "/dashboard/mentor/sessions/4/edit/", {"publish": "1"}) is None  # publishing needs the server
    assert read(engine, "/payments/checkout/") is None and read(engine, "/logout/") is None


def test_wall_times_follow_the_profiles_zone_across_daylight_saving(engine):
    zoned = "([local, zone]) => self.PeerLearnSync.zonedIso(local, zone)"
    assert engine.evaluate(zoned, ["2026-03-28T10:00", "Europe/London"]) == "2026-03-28T10:00:00.000Z"  # GMT
    assert engine.evaluate(zoned, ["2026-03-30T10:00", "Europe/London"]) == "2026-03-30T09:00:00.000Z"  # BST
    assert engine.evaluate(zoned, ["2026-11-02T09:00", "America/New_York"]) == "2026-11-02T14:00:00.000Z"
    assert engine.evaluate(zoned, ["", "UTC"]) is None
