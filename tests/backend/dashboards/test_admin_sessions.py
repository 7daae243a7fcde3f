"""The admin sessions pages and the feedback inbox: a filtered list of sessions, a session's own
page (bookings with what was paid and refunded, the room's attendance) with "Cancel session",
the reviews inbox, and both CSV exports. Only an admin with a verified second factor gets in.

An admin's cancel runs through marketplace.services.session_cancel_by_admin: every confirmed
seat is refunded in full through the local Razorpay stand-in (the real client), held seats are
released, the learners are notified, the audit log says who and why, and the ledger still
balances. Refusals (completed, already cancelled, no reason, a race lost) write nothing."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.http import Http404
from django.test import Client as DjangoClient
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import AuditEvent
from backend.core.errors import Conflict, DomainError, Forbidden
from backend.dashboards import admin_sessions_selectors as selectors
from backend.marketplace import services as marketplace
from backend.marketplace.models import Booking, BookingState, Review, Session, SessionState
from backend.notifications.models import Notification
from backend.payments import ledger
from backend.payments.models import OrderState, PaymentOrder, Refund, RefundState
from backend.rooms.models import Presence
from tests.backend.marketplace.factories import a_session
from tests.backend.payments.conftest import razorpay  # noqa: F401 - the stand-in fixture
from tests.backend.payments.test_refunds_and_jobs import PRICE, assert_balanced, committed, deliver_all, pay
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
REASON = "The mentor broke the community rules."
FORMULA, DEFUSED = '=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'


@pytest.fixture
def admin(admin_user):
    return client_for(admin_user, verified=True)


def toasts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def learners(n: int, prefix: str = "learner") -> list:
    return [make_user(f"{prefix}{i}@example.com", "learner", full_name=f"Learner {prefix} {i}") for i in range(n)]


def confirmed(session: Session, learner) -> Booking:
    """A confirmed seat without a gateway payment (as demo data makes them)."""
    return Booking.objects.create(
        session=session, learner=learner, state=BookingState.CONFIRMED, confirmed_at=session.created_at
    )


def writes() -> tuple:
    """Everything a cancel would touch; sign-ins are audited (auth.*), nothing else may be."""
    return (
        list(Session.objects.order_by("pk").values_list("pk", "state")),
        list(Booking.objects.order_by("pk").values_list("pk", "state", "refund_paise")),
        Refund.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


# --- access ----------------------------------------------------------------------------------
GETS = ["admin-sessions", "admin-sessions-csv", "admin-session", "admin-feedback", "admin-feedback-csv"]
POSTS = ["admin-session-cancel"]


def _url(name: str, session: Session) -> str:
    return reverse(name, args=[session.pk]) if name in ("admin-session", "admin-session-cancel") else reverse(name)


@pytest.mark.parametrize(("method", "name"), [("get", n) for n in GETS] + [("post", n) for n in POSTS])
def test_only_a_verified_admin_gets_in(method, name, learner, mentor, admin_user):
    session = a_session(mentor)
    confirmed(session, learner)
    url = _url(name, session)
    expected = {
        None: f"/login/?next={quote(url, safe='')}",
        learner: "/dashboard/learner/",
        mentor: "/dashboard/mentor/",
        admin_user: f"/account/2fa/?next={quote(url, safe='')}",  # signed in, second factor not verified
    }
    before = writes()
    for user, target in expected.items():
        response = getattr(client_for(user), method)(url, {"reason": REASON} if method == "post" else None)
        assert (response.status_code, response.url) == (302, target), user
    assert writes() == before


def test_the_cancel_is_csrf_protected_and_post_only(admin_user, admin, mentor, learner):
    session = a_session(mentor)
    confirmed(session, learner)
    strict = DjangoClient(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    otp = strict.session
    otp["otp_device_id"] = TOTPDevice.objects.get(user=admin_user).persistent_id
    otp.save()
    before = writes()
    url = reverse("admin-session-cancel", args=[session.pk])
    assert strict.post(url, {"reason": REASON}).status_code == 403  # no token
    assert admin.get(url).status_code == 405
    assert admin.post(reverse("admin-sessions")).status_code == 405
    assert writes() == before
    # With the page's token it goes through.
    page = strict.get(reverse("admin-session", args=[session.pk]))
    token = page.context["csrf_token"]
    assert strict.post(url, {"reason": REASON, "csrfmiddlewaretoken": str(token)}).status_code == 302
    assert Session.objects.get(pk=session.pk).state == SessionState.CANCELLED


def test_a_verified_admin_sees_every_page_never_cached(admin, mentor, learner):
    session = a_session(mentor)
    booking = confirmed(session, learner)
    Review.objects.create(booking=booking, rating=4, comment="Good")
    for name in GETS:
        response = admin.get(_url(name, session))
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
    assert admin.get(reverse("admin-session", args=[session.pk + 99])).status_code == 404
    assert admin.post(reverse("admin-session-cancel", args=[session.pk + 99]), {"reason": REASON}).status_code == 404


def test_selectors_refuse_anyone_but_an_admin(learner, mentor):
    for user in (learner, mentor):
        for read in (
            lambda u: selectors.sessions_for_admin(u, selectors.SessionFilter()),
            lambda u: selectors.get_session_for_admin(u, 1),
            lambda u: selectors.reviews_for_admin(u, selectors.ReviewFilter()),
        ):
            with pytest.raises(Http404):
                read(user)


# --- the sessions list -----------------------------------------------------------------------
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # Wed 12 Mar, 15:30 in Kolkata


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar(frozen, mentor, learner, admin_user, domains):
    """Maya's and Sam's sessions around now; the admin lives in Kolkata (UTC+5:30)."""
    admin_user.timezone = "Asia/Kolkata"
    admin_user.save(update_fields=["timezone"])
    sam = make_user("sam.second@example.com", "mentor", full_name="Sam Second")
    s = {
        "soon": a_session(mentor, hours_ahead=3, price=PRICE, capacity=3, title="Soon paid"),
        # 19:00 UTC on 13 March is 00:30 on 14 March in Kolkata.
        "late": a_session(mentor, hours_ahead=33, title="Late free"),
        "draft": a_session(mentor, hours_ahead=50, state=SessionState.DRAFT, title="A draft"),
        "sam": a_session(sam, hours_ahead=10, price=20_000, title="Sam's"),
        "live": a_session(mentor, hours_ahead=-0.5, state=SessionState.LIVE, title="Live now"),
        "done": a_session(mentor, hours_ahead=-30, state=SessionState.COMPLETED, title="Done"),
        "gone": a_session(sam, hours_ahead=-60, state=SessionState.CANCELLED, title="Gone"),
    }
    confirmed(s["soon"], learner)
    other, third = learners(2)
    marketplace.booking_create(learner=other, session=s["soon"])  # held while paying: takes a seat
    Booking.objects.create(  # an expired hold does not
        session=s["soon"], learner=third, state=BookingState.HELD, hold_expires_at=NOW - timedelta(minutes=1)
    )
    return s


def listed(admin, **params) -> list[str]:
    response = admin.get(reverse("admin-sessions"), params)
    assert response.status_code == 200
    return [s.title for s in response.context["sessions"]]


def test_the_list_shows_upcoming_and_live_soonest_first_with_seats(admin, calendar, django_assert_max_num_queries):
    # 1 for the page + 7 every dashboard page makes here: session, user, 2FA device, the sidebar's
    # photo (two profile reads for an admin) and the bell's two.
    with django_assert_max_num_queries(8):
        response = admin.get(reverse("admin-sessions"))
    rows = list(response.context["sessions"])
    assert [s.title for s in rows] == ["Live now", "Soon paid", "Sam's", "Late free", "A draft"]
    soon = rows[1]
    assert (soon.seats_taken, soon.capacity) == (2, 3)  # confirmed + an unexpired hold
    body = response.content.decode()
    assert "2 / 3" in body and "₹499" in body and "Free" in body
    assert "sam.second@example.com" in body
    assert reverse("admin-session", args=[soon.pk]) in body
    assert '<time datetime="2025-03-12T13:00:00+00:00">Wed 12 Mar, 6:30 pm IST</time>' in body  # admin's zone
    assert f"{reverse('admin-sessions-csv')}" in body


def test_the_list_filters(admin, calendar):
    assert listed(admin, when="past") == ["Done", "Gone"]
    assert listed(admin, when="all") == ["A draft", "Late free", "Sam's", "Soon paid", "Live now", "Done", "Gone"]
    assert listed(admin, when="all", state="cancelled") == ["Gone"]
    assert listed(admin, state="draft") == ["A draft"]
    assert listed(admin, price="free") == ["Live now", "Late free", "A draft"]
    assert listed(admin, price="paid") == ["Soon paid", "Sam's"]
    assert listed(admin, mentor="SAM.SEC") == ["Sam's"]
    assert listed(admin, when="all", mentor="sam.second@example.com") == ["Sam's", "Gone"]
    assert listed(admin, mentor="nobody@") == []
    # Days are the admin's days (Kolkata): "Late free" starts on 14 March there.
    assert listed(admin, date_from="2025-03-14", date_to="2025-03-14") == ["Late free", "A draft"]
    assert listed(admin, date_from="2025-03-13", date_to="2025-03-13") == ["Sam's"]  # 01:30 on the 13th there
    assert listed(admin, when="all", date_to="2025-03-11") == ["Done", "Gone"]
    # A bad field is shown and left out; the others still apply.
    response = admin.get(reverse("admin-sessions"), {"state": "nonsense", "price": "paid"})
    assert response.context["form"].errors["state"]
    assert [s.title for s in response.context["sessions"]] == ["Soon paid", "Sam's"]
    backwards = admin.get(reverse("admin-sessions"), {"date_from": "2025-03-14", "date_to": "2025-03-13"})
    assert "Pick a day on or after the first day." in backwards.content.decode()


def test_upcoming_and_past_split_every_session(admin, mentor, frozen):
    a_session(mentor, hours_ahead=-3, title="Ended, never started")  # still "scheduled"
    a_session(mentor, hours_ahead=-1.5, state=SessionState.LIVE, title="Overrunning")  # ended 30 min ago
    a_session(mentor, hours_ahead=-8, state=SessionState.LIVE, title="Stuck live")  # the closing job never ran
    a_session(mentor, hours_ahead=1, title="Next")
    assert listed(admin) == ["Overrunning", "Next"]
    assert listed(admin, when="past") == ["Ended, never started", "Stuck live"]
    assert listed(admin, when="all", state="live") == ["Overrunning", "Stuck live"]


def test_pages_read_one_row_more_and_no_count(admin, mentor, frozen, django_assert_max_num_queries):
    for n in range(27):
        a_session(mentor, hours_ahead=2 + 2 * n, title=f"S{n:02d}")
    with django_assert_max_num_queries(8) as captured:
        first = admin.get(reverse("admin-sessions"))
    counts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
    assert not [sql for sql in counts if "marketplace_session" in sql]  # only the bell's unread count
    page = first.context["sessions"]
    assert [s.title for s in page][:2] == ["S00", "S01"] and len(page) == 25 and page.has_next
    assert 'rel="next"' in first.content.decode()
    second = admin.get(reverse("admin-sessions"), {"page": 2, "price": "free"})
    assert [s.title for s in second.context["sessions"]] == ["S25", "S26"]
    assert not second.context["sessions"].has_next
    assert "price=free&amp;page=1" in second.content.decode()
    assert admin.get(reverse("admin-sessions"), {"page": "abc"}).context["sessions"].number == 1


# --- a session's page ------------------------------------------------------------------------
def test_the_session_page_shows_bookings_payments_and_attendance(
    razorpay,  # noqa: F811
    admin,
    mentor,
    learner,
    outsider,
    django_assert_max_num_queries,
):
    session = a_session(mentor, price=PRICE, capacity=3, hours_ahead=5)
    order = pay(razorpay, learner, marketplace.booking_create(learner=learner, session=session))
    held = marketplace.booking_create(learner=outsider, session=session)
    now = session.starts_at - timedelta(minutes=5)
    for peer, (user, role, joined, left) in enumerate(
        [
            (mentor, "mentor", now, None),
            (learner, "learner", now, now + timedelta(minutes=10)),
            (learner, "learner", now + timedelta(minutes=12), now + timedelta(minutes=32)),
        ]
    ):
        Presence.objects.create(
            session=session,
            user=user,
            role=role,
            peer=f"p{peer}",
            channel_name="c",
            joined_at=joined,
            last_seen_at=left or joined,
            left_at=left,
        )
    # 7 for the page (session, bookings, orders, refunds, room clock, presences, audit) + the 7 of
    # every dashboard page (see the list's test), however many bookings and presences.
    with django_assert_max_num_queries(14):
        response = admin.get(reverse("admin-session", args=[session.pk]))
    detail = response.context["detail"]
    lines = {line.booking.learner_id: line for line in detail.bookings}
    assert (lines[learner.pk].paid_paise, lines[outsider.pk].paid_paise) == (PRICE, 0)
    assert lines[learner.pk].orders == [order]
    attendance = {a.user.pk: a for a in detail.attendance}
    assert attendance[learner.pk].connections == 2 and attendance[learner.pk].minutes == 30
    assert attendance[mentor.pk].last_left is None  # still connected
    assert response.context["quote"] == {
        "confirmed": 1,
        "held": 1,
        "refunded": 1,
        "unpaid": 0,
        "refund_each_paise": PRICE,
        "refund_total_paise": PRICE,
    }
    body = response.content.decode()
    assert reverse("admin-payment", args=[order.pk]) in body
    assert outsider.email in body and held.get_state_display() in body
    assert "1 learner will get a full refund of ₹499 (₹499 in all)" in body
    assert "still connected" in body and "30 min" in body
    assert reverse("admin-session-cancel", args=[session.pk]) in body


# --- cancelling ------------------------------------------------------------------------------
def test_an_admin_cancel_refunds_every_paid_seat_in_full_and_tells_the_learners(
    razorpay,  # noqa: F811
    admin,
    admin_user,
    mentor,
    learner,
    outsider,
):
    session = a_session(mentor, price=PRICE, capacity=3, hours_ahead=5)
    first = pay(razorpay, learner, marketplace.booking_create(learner=learner, session=session))
    second = pay(razorpay, outsider, marketplace.booking_create(learner=outsider, session=session))
    (paying,) = learners(1, "paying")
    marketplace.booking_create(learner=paying, session=session)  # held, never paid
    assert ledger.balance(ledger.pending(mentor.pk)) == 2 * (PRICE - 4_990)
    Notification.objects.all().delete()

    response = admin.post(
        reverse("admin-session-cancel", args=[session.pk]),
        {"reason": f"  {REASON}  "},
        REMOTE_ADDR="203.0.113.9",
        follow=True,
    )
    assert response.status_code == 200
    assert toasts(response) == [
        "Session cancelled. 2 learners will get ₹499 back each; everyone booked and the mentor are told."
    ]
    session.refresh_from_db()
    assert session.state == SessionState.CANCELLED
    bookings = {b.learner_id: b for b in Booking.objects.filter(session=session)}
    assert {(b.state, b.cancelled_by) for b in bookings.values()} == {(BookingState.CANCELLED, "admin")}
    refund_paise = {pk: b.refund_paise for pk, b in bookings.items()}
    assert refund_paise == {learner.pk: PRICE, outsider.pk: PRICE, paying.pk: 0}  # a hold paid nothing
    refunds = list(Refund.objects.order_by("order_id").values_list("order", "reason", "amount_paise", "requested_by"))
    assert refunds == [
        (first.pk, "admin_cancel", PRICE, admin_user.pk),
        (second.pk, "admin_cancel", PRICE, admin_user.pk),
    ]
    assert set(Refund.objects.values_list("state", flat=True)) == {RefundState.PROCESSED}  # the gateway took them

    # The gateway's webhooks post the refunds to the ledger: everything back, nothing left pending.
    deliver_all(razorpay, razorpay.delivered + 2, kinds=("refund.processed",))
    assert set(PaymentOrder.objects.values_list("state", "refunded_paise")) == {(OrderState.REFUNDED, PRICE)}
    assert ledger.balance(ledger.pending(mentor.pk)) == 0
    assert ledger.balance(ledger.EXTERNAL) == 0
    assert ledger.balance(ledger.PLATFORM_FEES) == 0
    assert_balanced()

    # Everyone booked and the mentor hear about it, with the reason; the admin does not notify themselves.
    told = Notification.objects.filter(event="session.cancelled")
    assert sorted(told.values_list("user", flat=True)) == sorted([learner.pk, outsider.pk, paying.pk, mentor.pk])
    assert all(REASON.rstrip(".") in n.body for n in told)
    assert all("full refund" in n.body for n in told.filter(user__in=[learner, outsider]))
    assert "refund" not in told.get(user=paying).body  # their seat was only held: nothing was taken
    assert "refunded in full" in told.get(user=mentor).body
    assert not Notification.objects.filter(user=admin_user).exists()

    audit = AuditEvent.objects.get(action="session.cancelled_by_admin")
    assert (audit.actor, audit.target_type, audit.target_id, audit.ip_address) == (
        admin_user,
        "session",
        str(session.pk),
        "203.0.113.9",
    )
    assert audit.data == {
        "reason": REASON,
        "previous_state": "scheduled",
        "mentor": mentor.pk,
        "confirmed_seats": 2,
        "held_seats": 1,
        "refund_each_paise": PRICE,
    }
    assert AuditEvent.objects.filter(action="payment.refund_requested", actor=admin_user).count() == 2
    page = admin.get(reverse("admin-session", args=[session.pk])).content.decode()
    assert "This session is cancelled." in page and "session.cancelled_by_admin" in page and REASON in page


def test_a_confirmed_seat_paid_outside_the_gateway_has_nothing_to_refund(admin, mentor, learner):
    session = a_session(mentor, price=PRICE)
    booking = confirmed(session, learner)  # demo data: confirmed, no gateway payment
    page = admin.get(reverse("admin-session", args=[session.pk]))
    assert page.context["quote"] == {
        "confirmed": 1,
        "held": 0,
        "refunded": 0,
        "unpaid": 1,
        "refund_each_paise": PRICE,
        "refund_total_paise": 0,
    }
    assert "1 confirmed seat was not paid through Razorpay (demo data)" in page.content.decode()
    response = admin.post(reverse("admin-session-cancel", args=[session.pk]), {"reason": REASON}, follow=True)
    assert toasts(response) == [
        "Session cancelled. 1 learner booked, nothing paid to refund; everyone booked and the mentor are told."
    ]
    booking.refresh_from_db()
    assert (booking.state, booking.refund_paise) == (BookingState.CANCELLED, PRICE)  # what the rule decides
    assert not Refund.objects.exists()  # and nothing goes to the gateway


def test_the_mentor_and_learners_are_told_peerlearn_cancelled_and_why(admin_user, mentor, learner):
    session = a_session(mentor)
    confirmed(session, learner)
    with committed():
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason=REASON)
    told = {n.user_id: n for n in Notification.objects.filter(event="session.cancelled")}
    assert set(told) == {mentor.pk, learner.pk}
    assert all(n.title == f"Cancelled by PeerLearn: {session.title}" for n in told.values())
    assert REASON.rstrip(".") in told[mentor.pk].body and "refunded in full" in told[mentor.pk].body
    assert REASON.rstrip(".") in told[learner.pk].body


def test_a_learner_who_was_still_paying_is_not_promised_a_refund(admin_user, mentor, learner, outsider):
    from django.utils import timezone

    session = a_session(mentor, price=PRICE, capacity=2)
    confirmed(session, learner)
    Booking.objects.create(
        session=session,
        learner=outsider,
        state=BookingState.HELD,
        hold_expires_at=timezone.now() + timedelta(minutes=10),
    )
    with committed():
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason=REASON)
    told = {n.user_id: n for n in Notification.objects.filter(event="session.cancelled")}
    assert set(told) == {mentor.pk, learner.pk, outsider.pk}
    assert "You get a full refund." in told[learner.pk].body
    assert "refund" not in told[outsider.pk].body and REASON.rstrip(".") in told[outsider.pk].body


def test_the_waitlist_of_a_cancelled_session_closes_and_hears_why(admin_user, mentor, learner, outsider):
    from backend.marketplace.models import WaitlistEntry, WaitlistState

    session = a_session(mentor, price=PRICE, capacity=1)
    confirmed(session, learner)
    marketplace.waitlist_join(learner=outsider, session=session)
    with committed():
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason=REASON)
    assert WaitlistEntry.objects.get(learner=outsider).state == WaitlistState.CLOSED
    told = Notification.objects.get(event="session.cancelled", user=outsider)
    assert REASON.rstrip(".") in told.body and "refund" not in told.body


def test_the_mentor_is_sent_the_event(admin_user, mentor, learner, monkeypatch):
    """The mentor's open pages get the event live."""
    sent = []
    monkeypatch.setattr("backend.core.events._deliver", lambda messages: sent.extend(messages))
    session = a_session(mentor)
    confirmed(session, learner)
    with committed():
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason=REASON)
    cancelled = [(group, data) for group, event, data in sent if event == "session.cancelled"]
    # Their pages, and their room sockets (which close if they are in the call).
    assert sorted(group for group, _ in cancelled) == sorted(
        [f"user.{mentor.pk}", f"user.{learner.pk}", f"room-member.{mentor.pk}", f"room-member.{learner.pk}"]
    )
    assert all(data["by"] == "admin" and data["reason"] == REASON for _, data in cancelled)


@pytest.mark.parametrize("state", [SessionState.DRAFT, SessionState.LIVE])
def test_drafts_and_live_sessions_can_be_cancelled_too(admin, admin_user, mentor, learner, state):
    session = a_session(mentor, state=state, hours_ahead=-0.2 if state == SessionState.LIVE else 48)
    if state == SessionState.LIVE:
        confirmed(session, learner)
    response = admin.post(reverse("admin-session-cancel", args=[session.pk]), {"reason": REASON})
    assert response.status_code == 302
    assert Session.objects.get(pk=session.pk).state == SessionState.CANCELLED
    assert AuditEvent.objects.get(action="session.cancelled_by_admin").data["previous_state"] == state


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            SessionState.COMPLETED,
            "A completed session cannot be cancelled. To give money back, refund its payments under Payments.",
        ),
        (SessionState.CANCELLED, "This session is already cancelled."),
    ],
)
def test_a_completed_or_cancelled_session_is_refused_and_nothing_is_written(admin, mentor, learner, state, message):
    session = a_session(mentor, state=state, hours_ahead=-30, price=PRICE)
    confirmed(session, learner)
    page = admin.get(reverse("admin-session", args=[session.pk])).content.decode()
    assert reverse("admin-session-cancel", args=[session.pk]) not in page  # not offered
    before = writes()
    response = admin.post(reverse("admin-session-cancel", args=[session.pk]), {"reason": REASON}, follow=True)
    assert toasts(response) == [message]
    assert writes() == before


@pytest.mark.parametrize("reason", ["", "   ", "x" * 301])
def test_a_missing_or_overlong_reason_is_refused(admin, mentor, learner, reason):
    session = a_session(mentor)
    confirmed(session, learner)
    before = writes()
    response = admin.post(reverse("admin-session-cancel", args=[session.pk]), {"reason": reason})
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert writes() == before


def test_the_service_checks_its_own_input(admin_user, mentor, learner):
    session = a_session(mentor)
    confirmed(session, learner)
    before = writes()
    with pytest.raises(DomainError) as missing:
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason="  ")
    assert (missing.value.code, missing.value.fields) == ("reason_required", {"reason": "Say why."})
    with pytest.raises(DomainError) as long:
        marketplace.session_cancel_by_admin(admin=admin_user, session=session, reason="x" * 301)
    assert long.value.code == "invalid"
    for user in (mentor, learner):
        with pytest.raises(Forbidden):
            marketplace.session_cancel_by_admin(admin=user, session=session, reason=REASON)
    assert writes() == before


def test_an_admin_whose_page_is_stale_gets_a_clear_refusal(admin, admin_user, mentor, learner):
    """The mentor cancelled after the admin opened the page: the admin's cancel is refused and
    nothing more is written (no second refund, no second notice, no audit entry)."""
    session = a_session(mentor, price=PRICE)
    confirmed(session, learner)
    assert admin.get(reverse("admin-session", args=[session.pk])).context["detail"].cancellable
    with committed():
        marketplace.session_cancel(mentor=mentor, session=session, reason="Ill")
    before = writes()
    response = admin.post(reverse("admin-session-cancel", args=[session.pk]), {"reason": REASON}, follow=True)
    assert toasts(response) == ["This session is already cancelled."]
    assert writes() == before
    assert Booking.objects.get(session=session).cancelled_by == "mentor"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rival", ["admin", "mentor"])
def test_two_cancels_racing_make_one_cancel_and_one_refusal(rival, mentor, admin_user):
    second_admin = make_user("bo.admin@example.com", "admin", full_name="Bo Admin")
    session = a_session(mentor, price=PRICE, capacity=2)
    for learner in learners(2, "racer"):
        confirmed(session, learner)

    def by_admin(admin):
        return lambda: marketplace.session_cancel_by_admin(admin=admin, session=session, reason=REASON)

    def by_mentor():
        marketplace.session_cancel(mentor=mentor, session=session, reason="Ill")

    racers = [by_admin(admin_user), by_admin(second_admin) if rival == "admin" else by_mentor]
    start = threading.Barrier(len(racers))
    outcomes: list[str] = []

    def race(cancel):
        try:
            start.wait()
            cancel()
            outcomes.append("cancelled")
        except (Conflict, DomainError) as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - any other failure is a test failure, report it
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(cancel,)) for cancel in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == 2 and outcomes.count("cancelled") == 1, outcomes
    assert set(outcomes) - {"cancelled"} <= {"already_cancelled", "not_cancellable"}, outcomes
    assert Session.objects.get(pk=session.pk).state == SessionState.CANCELLED
    bookings = list(Booking.objects.filter(session=session).values_list("state", "refund_paise", "cancelled_by"))
    assert len(bookings) == 2 and len(set(bookings)) == 1  # cancelled once, by one of them
    assert bookings[0][:2] == (BookingState.CANCELLED, PRICE)
    by_admin_audits = AuditEvent.objects.filter(action="session.cancelled_by_admin").count()
    assert by_admin_audits == (1 if bookings[0][2] == "admin" else 0)
    # Each learner once, and the mentor when an admin cancelled (not of their own cancel).
    told = Notification.objects.filter(event="session.cancelled").count()
    assert told == (3 if bookings[0][2] == "admin" else 2)


# --- feedback --------------------------------------------------------------------------------
@pytest.fixture
def inbox(mentor, learner, outsider):
    sam = make_user("sam.second@example.com", "mentor", full_name="Sam Second")
    past = [
        a_session(mentor, hours_ahead=-48, state=SessionState.COMPLETED, capacity=5, title="Django deep dive"),
        a_session(sam, hours_ahead=-24, state=SessionState.COMPLETED, capacity=5, title="Async Python"),
    ]
    people = [learner, outsider, *learners(2, "rev")]
    made = {}
    for key, (session, person, rating, comment) in {
        "angry": (past[0], people[0], 1, "The mentor never shared the screen."),
        "meh": (past[0], people[1], 2, ""),
        "good": (past[1], people[2], 4, "Clear and patient"),
        "great": (past[1], people[3], 5, FORMULA),
    }.items():
        booking = Booking.objects.create(session=session, learner=person, state=BookingState.CONFIRMED, attended=True)
        made[key] = Review.objects.create(booking=booking, rating=rating, comment=comment)
    return made


def inbox_ids(admin, **params) -> list[int]:
    response = admin.get(reverse("admin-feedback"), params)
    assert response.status_code == 200
    return [r.pk for r in response.context["reviews"]]


def test_the_feedback_inbox_newest_first_and_its_filters(admin, inbox, django_assert_max_num_queries):
    angry, meh, good, great = (inbox[k].pk for k in ("angry", "meh", "good", "great"))
    with django_assert_max_num_queries(8):
        response = admin.get(reverse("admin-feedback"))
    assert [r.pk for r in response.context["reviews"]] == [great, good, meh, angry]
    body = response.content.decode()
    assert "The mentor never shared the screen." in body and "lena.learner@example.com" in body
    assert "maya.mentor@example.com" in body and 'aria-label="1.0 out of 5 stars"' in body
    assert reverse("admin-session", args=[inbox["angry"].booking.session_id]) in body

    assert inbox_ids(admin, rating="low") == [meh, angry]
    assert inbox_ids(admin, rating="5") == [great]
    assert inbox_ids(admin, mentor="SAM.") == [great, good]
    assert inbox_ids(admin, has_comment="on") == [great, good, angry]
    assert inbox_ids(admin, q="SCREEN") == [angry]
    assert inbox_ids(admin, q="async") == [great, good]  # the session's title
    assert inbox_ids(admin, rating="low", mentor="maya", has_comment="on") == [angry]
    assert inbox_ids(admin, rating="9") == [great, good, meh, angry]  # invalid: left out, shown

    # More reviews do not mean more queries.
    for n, person in enumerate(learners(5, "more")):
        session = a_session(inbox["angry"].booking.session.mentor, hours_ahead=-100 - 2 * n, state="completed")
        booking = Booking.objects.create(session=session, learner=person, state=BookingState.CONFIRMED)
        Review.objects.create(booking=booking, rating=3, comment=f"n{n}")
    with django_assert_max_num_queries(8):
        assert len(admin.get(reverse("admin-feedback")).context["reviews"]) == 9


# --- CSV -------------------------------------------------------------------------------------
def read_csv(response) -> list[list[str]]:
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_sessions_csv_follows_the_filters_and_is_audited(admin, admin_user, calendar):
    calendar["sam"].title = FORMULA
    calendar["sam"].save()
    response = admin.get(reverse("admin-sessions-csv"), {"price": "paid"})
    assert response["Content-Disposition"] == 'attachment; filename="peerlearn-sessions-2025-03-12.csv"'
    rows = read_csv(response)
    assert rows[0] == [
        "Session",
        "Title",
        "Mentor",
        "Mentor e-mail",
        "Category",
        "Starts (UTC)",
        "Minutes",
        "State",
        "Seats taken",
        "Capacity",
        "Price (INR)",
        "Private",
        "Created (UTC)",
    ]
    soon, sam = calendar["soon"], calendar["sam"]
    assert rows[1] == [
        str(soon.pk),
        "Soon paid",
        "Maya Mentor",
        "maya.mentor@example.com",
        soon.domain.name,
        "2025-03-12 13:00",
        "60",
        "Scheduled",
        "2",
        "3",
        "499.00",
        "no",
        "2025-03-12 10:00",
    ]
    assert rows[2][:2] == [str(sam.pk), DEFUSED]  # a formula defused
    assert len(rows) == 3
    audit = AuditEvent.objects.get(action="export.sessions")
    assert audit.actor == admin_user
    assert audit.data == {
        "filters": {
            "state": "",
            "when": "upcoming",
            "starts_from": "",
            "starts_before": "",
            "mentor": "",
            "price": "paid",
        }
    }
    everything = read_csv(admin.get(reverse("admin-sessions-csv"), {"when": "all"}))
    assert len(everything) == 1 + 7


def test_the_feedback_csv_follows_the_filters_and_is_audited(admin, admin_user, inbox):
    rows = read_csv(admin.get(reverse("admin-feedback-csv"), {"mentor": "sam"}))
    assert rows[0][:4] == ["Review", "Created (UTC)", "Rating", "Comment"]
    great, good = inbox["great"], inbox["good"]
    assert [r[0] for r in rows[1:]] == [str(great.pk), str(good.pk)]
    assert rows[1][2:4] == ["5", DEFUSED]
    assert rows[2][4:10] == [
        good.booking.learner.full_name,
        good.booking.learner.email,
        "Sam Second",
        "sam.second@example.com",
        str(good.booking.session_id),
        "Async Python",
    ]
    audit = AuditEvent.objects.get(action="export.feedback")
    assert audit.actor == admin_user
    assert audit.data == {"filters": {"rating": "", "mentor": "sam", "has_comment": False, "q": ""}}


def test_an_export_under_asgi_streams(admin_user, mentor):
    """Daphne serves the app: the export is pulled chunk by chunk there too."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    for n in range(3):
        a_session(mentor, hours_ahead=5 + 2 * n, title=f"S{n}")
    client = AsyncClient()
    client.force_login(admin_user)
    otp = client.session
    otp["otp_device_id"] = TOTPDevice.objects.get(user=admin_user).persistent_id
    otp.save()

    async def fetch():
        response = await client.get(reverse("admin-sessions-csv"))
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(fetch)()
    assert response.status_code == 200 and response.is_async
    assert body.decode().count("\n") == 4
