"""The admin users pages: the list (search, filters, keyset pages, a capped count), one
account's page, mentor approval and blocking with the user told (in-app and e-mail), bulk
actions that are all or nothing, and the streamed CSV. Only an admin with a verified second
factor gets in; every action is checked in the database afterwards (state, audit entry,
notification), and every refusal writes nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail
from django.http import Http404, StreamingHttpResponse
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from backend.accounts import services
from backend.accounts.models import ApprovalState, AuditEvent, MentorProfile, Role, User
from backend.dashboards import admin_users_selectors as selectors
from backend.marketplace import services as marketplace
from backend.notifications.models import Notification
from tests.backend.marketplace.factories import a_session
from tests.conftest import _mentor, client_for, make_user

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
USERS = reverse("admin-users")
BULK = reverse("admin-users-bulk")
CSV = reverse("admin-users-csv")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(admin_user):
    return client_for(admin_user, verified=True)


@pytest.fixture
def rejected_mentor(domains) -> User:
    return _mentor("rita.rejected@example.com", ApprovalState.REJECTED, domains)


@pytest.fixture
def other_admin(db) -> User:
    return make_user("otto.admin@example.com", Role.ADMIN, full_name="Otto Admin")


def toasts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def snapshot() -> tuple:
    """Everything an admin action may write; a refusal leaves it exactly as it was."""
    return (
        sorted(User.objects.values_list("pk", "is_active")),
        sorted(MentorProfile.objects.values_list("user_id", "approval_state", "approval_note")),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
        Notification.objects.count(),
        BlacklistedToken.objects.count(),
        len(mail.outbox),
    )


def audited(action: str, target: User) -> AuditEvent:
    return AuditEvent.objects.get(action=action, target_type="user", target_id=str(target.pk))


# --- access ----------------------------------------------------------------------------------
GETS = ["/dashboard/admin/users/", "/dashboard/admin/users/1/", "/dashboard/admin/users/export.csv"]
POSTS = ["/dashboard/admin/users/1/", "/dashboard/admin/users/bulk/"]


@pytest.mark.parametrize(("method", "url"), [("get", u) for u in GETS] + [("post", u) for u in POSTS])
def test_only_a_verified_admin_gets_in(method, url, learner, mentor, pending_mentor, admin_user):
    expected = {
        None: f"/login/?next={quote(url, safe='')}",
        learner: "/dashboard/learner/",
        mentor: "/dashboard/mentor/",
        admin_user: f"/account/2fa/?next={quote(url, safe='')}",  # signed in, second factor not verified
    }
    before = snapshot()
    for user, target in expected.items():
        data = {"action": "block", "reason": "spam", "ids": [learner.pk, pending_mentor.pk]}
        response = getattr(client_for(user), method)(url, data if method == "post" else None)
        assert (response.status_code, response.url) == (302, target), user
    assert snapshot() == before


def test_a_verified_admin_sees_every_page_uncached(admin, learner):
    for url in (USERS, reverse("admin-user", args=[learner.pk]), CSV):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    assert admin.get(reverse("admin-user", args=[learner.pk + 999])).status_code == 404
    assert admin.post(reverse("admin-user", args=[learner.pk + 999]), {"action": "block"}).status_code == 404
    assert admin.put(USERS).status_code == 405
    assert admin.get(BULK).status_code == 405


def test_selectors_refuse_anyone_but_an_admin(learner, mentor):
    for user in (learner, mentor):
        for read in (
            lambda u: selectors.users_for_admin(u, selectors.UserFilter()),
            lambda u: selectors.users_page(u, selectors.UserFilter()),
            lambda u: selectors.get_user_for_admin(u, learner.pk),
        ):
            with pytest.raises(Http404):
                read(user)


def test_services_refuse_anyone_but_an_admin(learner, mentor, pending_mentor, outsider):
    before = snapshot()
    for call in (
        lambda: services.mentor_decide(admin=mentor, mentor=pending_mentor, approve=True),
        lambda: services.user_set_blocked(admin=learner, user=outsider, blocked=True, reason="x"),
        lambda: services.users_bulk_action(admin=mentor, action="block", user_ids=[outsider.pk], reason="x"),
    ):
        with pytest.raises(services.Forbidden):
            call()
    assert snapshot() == before


# --- the list --------------------------------------------------------------------------------
@pytest.fixture
def people(learner, outsider, mentor, pending_mentor, rejected_mentor, admin_user):
    """Six accounts who joined a day apart, oldest first; Oscar is blocked."""
    ordered = [admin_user, mentor, pending_mentor, rejected_mentor, learner, outsider]
    for days, user in enumerate(ordered):
        User.objects.filter(pk=user.pk).update(date_joined=NOW - timedelta(days=10 - days))
    User.objects.filter(pk=outsider.pk).update(is_active=False)
    return ordered


def listed(response) -> list[str]:
    return [u.email for u in response.context["users"].rows]


def test_the_list_filters_and_searches_newest_first(admin, people):
    admin_user, mentor, pending, rejected, learner, outsider = people
    everyone = admin.get(USERS)
    assert listed(everyone) == [u.email for u in reversed(people)]
    assert everyone.context["users"].count_label == "6"
    body = everyone.content.decode()
    assert "Awaiting approval" in body and "Blocked" in body and "Rejected" in body
    assert f'href="{reverse("admin-user", args=[mentor.pk])}?next=' in body

    cases = {
        "role=mentor": [rejected, pending, mentor],
        "role=admin": [admin_user],
        "state=blocked": [outsider],
        "state=active": [learner, rejected, pending, mentor, admin_user],
        "state=mentor_pending": [pending],
        "state=mentor_approved": [mentor],
        "state=mentor_rejected": [rejected],
        "role=learner&state=active": [learner],
        "q=LENA": [learner],  # a name, any case
        "q=mentor": [rejected, pending, mentor],  # "… Mentor" by name
        "q=MAYA.mentor@": [mentor],  # an e-mail from its start, any case
        "q=maya.mentor@example.com": [mentor],
        "q=@example.com": [outsider, learner, rejected, pending, mentor, admin_user],  # a domain
        "q=aya.mentor@": [],  # an e-mail with "@" matches from its start only
        "q=nobody": [],
        "role=wizard": [outsider, learner, rejected, pending, mentor, admin_user],  # unknown: ignored
    }
    for query, expected in cases.items():
        response = admin.get(f"{USERS}?{query}")
        assert response.status_code == 200
        assert listed(response) == [u.email for u in expected], query
    assert "No account matches." in admin.get(f"{USERS}?q=nobody").content.decode()


def test_keyset_pages_walk_every_account_once_both_ways(admin, admin_user, settings):
    # 59 more accounts, some sharing a join time: the id breaks the tie.
    for n in range(59):
        user = make_user(f"p{n:02d}@example.com", Role.LEARNER)
        User.objects.filter(pk=user.pk).update(date_joined=NOW - timedelta(hours=n // 3))
    expected = list(User.objects.order_by("-date_joined", "-id").values_list("email", flat=True))
    assert len(expected) == 60

    seen, pages, url = [], [], USERS
    while url:
        response = admin.get(url)
        page = response.context["users"]
        pages.append(page)
        seen += listed(response)
        url = f"{USERS}?after={page.older}" if page.older else None
    assert seen == expected
    assert [len(p.rows) for p in pages] == [25, 25, 10]
    assert not pages[0].newer and pages[1].newer and not pages[-1].older
    assert {p.count_label for p in pages} == {"60"}

    back = admin.get(f"{USERS}?before={pages[-1].newer}")
    assert listed(back) == expected[25:50]
    top = admin.get(f"{USERS}?before={back.context['users'].newer}")
    assert listed(top) == expected[:25] and not top.context["users"].newer
    assert listed(admin.get(f"{USERS}?after=garbage")) == expected[:25]  # a broken cursor: the first page

    filtered = admin.get(f"{USERS}?q=p0&after={pages[0].older}")  # filters and cursors combine
    assert all(email.startswith("p0") for email in listed(filtered))


def test_the_count_stops_at_the_cap(admin, admin_user, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    for n in range(30):
        make_user(f"c{n:02d}@example.com", Role.LEARNER)
    page = admin.get(USERS).context["users"]
    assert (page.count_label, page.count_capped) == ("10+", True)
    small = admin.get(f"{USERS}?q=c0").context["users"]
    assert (small.count_label, small.count_capped) == ("10", False)


def test_the_list_costs_the_same_queries_whatever_the_number_of_accounts(
    admin, people, django_assert_num_queries, django_assert_max_num_queries
):
    # The page is one query; the rest is every dashboard page's: session, admin, OTP device, the
    # sidebar's photo (2) and the bell (2). No count: every match fits on the first page.
    with django_assert_num_queries(8):
        assert admin.get(USERS).status_code == 200
    for n in range(40):
        make_user(f"q{n:02d}@example.com", Role.LEARNER)
    with django_assert_num_queries(9):  # + the capped count
        response = admin.get(USERS)
    with django_assert_num_queries(9):
        admin.get(f"{USERS}?after={response.context['users'].older}")
    with django_assert_max_num_queries(9):
        admin.get(f"{USERS}?role=mentor&state=mentor_pending&q=pete")


# --- one account -----------------------------------------------------------------------------
def test_the_account_page_shows_facts_activity_and_audit_trail(
    admin, admin_user, learner, pending_mentor, django_assert_num_queries
):
    approved = _mentor(
        "ravi.approved@example.com", ApprovalState.APPROVED, list(pending_mentor.mentor_profile.domains.all())
    )
    marketplace.booking_create(learner=learner, session=a_session(approved, title="SQL"))
    services.user_set_blocked(admin=admin_user, user=learner, blocked=True, reason="Spam in chat")

    # account, interests, bookings by state, audit trail; and every dashboard page's 7
    with django_assert_num_queries(4 + 7):
        page = admin.get(reverse("admin-user", args=[learner.pk]))
    body = page.content.decode()
    assert learner.email in body and "Blocked" in body and "Unblock account" in body
    assert page.context["detail"].bookings["confirmed"] == 1
    assert "user.blocked" in body and "Spam in chat" in body and admin_user.email in body

    with django_assert_num_queries(5 + 7):  # account, domains, sessions by state, upcoming booked, audit
        page = admin.get(reverse("admin-user", args=[approved.pk]))
    detail = page.context["detail"]
    assert detail.sessions["scheduled"] == 1 and detail.upcoming_booked == 1
    assert "1 upcoming session with booked learners stays scheduled" in page.content.decode()

    pending = admin.get(reverse("admin-user", args=[pending_mentor.pk])).content.decode()
    assert "Pending approval" in pending and 'value="approve"' in pending and 'value="reject"' in pending

    own = admin.get(reverse("admin-user", args=[admin_user.pk])).content.decode()
    assert 'value="block"' not in own and "your own account" in own


# --- approving and rejecting mentors ---------------------------------------------------------
def test_approving_a_mentor_writes_audits_and_tells_them(admin, admin_user, pending_mentor):
    url = reverse("admin-user", args=[pending_mentor.pk])
    response = admin.post(url, {"action": "approve", "next": "/dashboard/admin/users/?role=mentor"}, follow=True)
    assert response.redirect_chain[0][0] == f"{url}?next={quote('/dashboard/admin/users/?role=mentor', safe='')}"
    assert "approved, and they have been notified" in " ".join(toasts(response))
    profile = MentorProfile.objects.get(user=pending_mentor)
    assert (profile.approval_state, profile.decided_by, profile.decided_at) == (ApprovalState.APPROVED, admin_user, NOW)
    entry = audited("mentor.approved", pending_mentor)
    assert entry.actor == admin_user and entry.ip_address == "127.0.0.1"
    note = Notification.objects.get(user=pending_mentor)
    assert (note.event, note.title, note.url) == (
        "mentor.approved",
        "Your mentor profile is approved",
        reverse("mentor-sessions"),
    )
    assert not Notification.objects.filter(user=admin_user).exists()
    assert [m.to for m in mail.outbox] == [[pending_mentor.email]]
    assert mail.outbox[0].subject == "Your mentor profile is approved"

    before = snapshot()  # approving again changes nothing and tells nobody
    again = admin.post(url, {"action": "approve"}, follow=True)
    assert "already approved: nothing changed" in " ".join(toasts(again))
    assert snapshot() == before


def test_rejecting_needs_a_reason_which_the_mentor_is_told(admin, admin_user, pending_mentor):
    url = reverse("admin-user", args=[pending_mentor.pk])
    before = snapshot()
    refused = admin.post(url, {"action": "reject", "reason": "   "}, follow=True)
    assert "Say why the profile is rejected." in toasts(refused)
    assert snapshot() == before

    admin.post(url, {"action": "reject", "reason": "Add your work history."})
    profile = MentorProfile.objects.get(user=pending_mentor)
    assert (profile.approval_state, profile.approval_note) == (ApprovalState.REJECTED, "Add your work history.")
    assert audited("mentor.rejected", pending_mentor).data == {"reason": "Add your work history."}
    note = Notification.objects.get(user=pending_mentor, event="mentor.rejected")
    assert note.body == "Reason: Add your work history. Contact support if you have questions."
    assert note.data == {"reason": "Add your work history."}
    assert "Add your work history." in mail.outbox[-1].body


def test_deciding_a_non_mentor_or_an_unknown_action_is_refused(admin, learner):
    before = snapshot()
    url = reverse("admin-user", args=[learner.pk])
    assert "That account is not a mentor." in toasts(admin.post(url, {"action": "approve"}, follow=True))
    assert "Choose what to do with this account." in toasts(admin.post(url, {"action": "delete"}, follow=True))
    assert snapshot() == before


# --- blocking --------------------------------------------------------------------------------
def test_blocking_signs_the_user_out_everywhere_and_tells_them_by_e_mail(admin, admin_user, learner):
    web = client_for(learner)
    assert web.get("/dashboard/learner/").status_code == 200
    refresh = RefreshToken.for_user(learner)
    access = str(refresh.access_token)
    url = reverse("admin-user", args=[learner.pk])

    before = snapshot()
    refused = admin.post(url, {"action": "block", "reason": ""}, follow=True)
    assert "Say why the account is blocked." in toasts(refused)
    assert snapshot() == before

    done = admin.post(url, {"action": "block", "reason": "Abusive messages"}, follow=True)
    assert "blocked and signed out everywhere" in " ".join(toasts(done))
    learner.refresh_from_db()
    assert not learner.is_active
    entry = audited("user.blocked", learner)
    assert (entry.actor, entry.data) == (admin_user, {"reason": "Abusive messages"})
    note = Notification.objects.get(user=learner)
    assert (note.event, note.title, note.url) == ("user.blocked", "Your PeerLearn account is blocked", "")
    assert "Abusive messages" in note.body
    # The e-mail is how a blocked user hears of it: they cannot sign in to see the bell.
    assert [m.to for m in mail.outbox] == [[learner.email]]
    assert "Abusive messages" in mail.outbox[0].body
    # Their web session ends on its next request (ModelBackend refuses an inactive user) ...
    assert web.get("/dashboard/learner/").url.startswith("/login/")
    # ... their refresh token is blacklisted and their access token refused.
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()
    assert client_for(None).get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401

    admin.post(url, {"action": "unblock"})
    learner.refresh_from_db()
    assert learner.is_active
    assert audited("user.unblocked", learner).actor == admin_user
    back = Notification.objects.get(user=learner, event="user.unblocked")
    assert (back.title, back.url) == ("Your PeerLearn account is active again", reverse("login"))
    assert mail.outbox[-1].to == [learner.email]


def test_an_admin_cannot_block_themselves_or_another_admin(admin, admin_user, other_admin):
    before = snapshot()
    own = admin.post(reverse("admin-user", args=[admin_user.pk]), {"action": "block", "reason": "x"}, follow=True)
    assert "You cannot block your own account." in toasts(own)
    other = admin.post(reverse("admin-user", args=[other_admin.pk]), {"action": "block", "reason": "x"}, follow=True)
    assert "Admin accounts cannot be blocked here (otto.admin@example.com). Ask the operators." in toasts(other)
    assert snapshot() == before


def test_blocking_a_blocked_account_again_changes_nothing(admin, admin_user, learner):
    services.user_set_blocked(admin=admin_user, user=learner, blocked=True, reason="Spam")
    before = snapshot()
    again = admin.post(
        reverse("admin-user", args=[learner.pk]), {"action": "block", "reason": "More spam"}, follow=True
    )
    assert "already blocked: nothing changed" in " ".join(toasts(again))
    assert snapshot() == before


# --- bulk actions ----------------------------------------------------------------------------
def test_bulk_approval_audits_and_notifies_each_mentor(admin, admin_user, pending_mentor, rejected_mentor, mentor):
    next_url = f"{USERS}?state=mentor_pending"
    response = admin.post(
        BULK,
        {"action": "approve", "ids": [pending_mentor.pk, rejected_mentor.pk, mentor.pk], "next": next_url},
        follow=True,
    )
    assert response.redirect_chain[0][0] == next_url
    assert "2 accounts approved. 1 already approved, left as they were." in toasts(response)
    assert set(
        MentorProfile.objects.filter(approval_state=ApprovalState.APPROVED).values_list("user_id", flat=True)
    ) == {pending_mentor.pk, rejected_mentor.pk, mentor.pk}
    for user in (pending_mentor, rejected_mentor):
        assert audited("mentor.approved", user).data == {"reason": "", "bulk": True}
        assert Notification.objects.get(user=user).event == "mentor.approved"
    assert not AuditEvent.objects.filter(action="mentor.approved", target_id=str(mentor.pk)).exists()
    assert not Notification.objects.filter(user=mentor).exists()
    summary = AuditEvent.objects.get(action="users.bulk_approve")
    assert summary.actor == admin_user
    assert summary.data == {
        "changed": [pending_mentor.pk, rejected_mentor.pk],
        "unchanged": [mentor.pk],
        "reason": "",
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted([pending_mentor.email, rejected_mentor.email])


def test_bulk_block_and_unblock(admin, admin_user, learner, outsider, mentor):
    web = client_for(mentor)
    response = admin.post(
        BULK, {"action": "block", "ids": [learner.pk, mentor.pk], "reason": "Fake reviews"}, follow=True
    )
    assert "2 accounts blocked." in toasts(response)
    assert set(User.objects.filter(is_active=False).values_list("pk", flat=True)) == {learner.pk, mentor.pk}
    for user in (learner, mentor):
        assert audited("user.blocked", user).data == {"reason": "Fake reviews", "bulk": True}
        assert Notification.objects.get(user=user).event == "user.blocked"
    assert sorted(m.to[0] for m in mail.outbox) == sorted([learner.email, mentor.email])
    assert web.get("/dashboard/mentor/").url.startswith("/login/")
    assert AuditEvent.objects.get(action="users.bulk_block").data["changed"] == [learner.pk, mentor.pk]

    response = admin.post(BULK, {"action": "unblock", "ids": [learner.pk, mentor.pk, outsider.pk]}, follow=True)
    assert "2 accounts unblocked. 1 already unblocked, left as they were." in toasts(response)
    assert not User.objects.filter(is_active=False).exists()
    assert Notification.objects.filter(event="user.unblocked").count() == 2


def test_bulk_actions_build_every_notification_in_a_few_queries(admin_user, django_assert_max_num_queries):
    ids = [make_user(f"b{n:03d}@example.com", Role.LEARNER).pk for n in range(60)]
    with django_assert_max_num_queries(80):  # 60 audit entries; reads and updates are set-based
        services.users_bulk_action(admin=admin_user, action="block", user_ids=ids, reason="Spam ring")
    assert User.objects.filter(pk__in=ids, is_active=False).count() == 60
    assert Notification.objects.filter(event="user.blocked").count() == 60


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "block", "reason": "x", "ids": ["LEARNER", "999999"]}, "No account has the id #999999"),
        ({"action": "approve", "ids": ["PENDING", "LEARNER"]}, "Only mentors can be approved, and lena.learner"),
        ({"action": "block", "reason": "x", "ids": ["LEARNER", "ADMIN"]}, "You cannot block your own account."),
        ({"action": "block", "reason": "x", "ids": ["LEARNER", "OTHER_ADMIN"]}, "Admin accounts cannot be blocked"),
        ({"action": "unblock", "ids": ["OTHER_ADMIN"]}, "Admin accounts cannot be unblocked"),
        ({"action": "block", "reason": "x", "ids": []}, "Select at least one account first."),
        ({"action": "block", "reason": "x", "ids": [str(n) for n in range(1, 202)]}, "at most 200 accounts"),
        ({"action": "block", "reason": " ", "ids": ["LEARNER"]}, "Say why the accounts are blocked."),
        ({"action": "block", "reason": "x" * 241, "ids": ["LEARNER"]}, "Keep the reason under 240 characters."),
        ({"action": "delete", "ids": ["LEARNER"]}, "Choose an action"),
        ({"action": "block", "reason": "x", "ids": ["LEARNER", "1e3"]}, "not valid ids"),
    ],
)
def test_bulk_refusals_name_the_problem_and_write_nothing(
    data, message, admin, admin_user, learner, pending_mentor, other_admin
):
    names = {"LEARNER": learner.pk, "PENDING": pending_mentor.pk, "ADMIN": admin_user.pk, "OTHER_ADMIN": other_admin.pk}
    data = {**data, "ids": [names.get(i, i) for i in data["ids"]]}
    before = snapshot()
    response = admin.post(BULK, data, follow=True)
    assert response.status_code == 200
    assert any(message in toast for toast in toasts(response)), toasts(response)
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action__startswith="users.bulk_").exists()


def test_bulk_refuses_a_foreign_next(admin, learner):
    response = admin.post(BULK, {"action": "unblock", "ids": [learner.pk], "next": "https://evil.example/"})
    assert response.url == USERS


# --- CSV -------------------------------------------------------------------------------------
def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_streams_the_filtered_accounts_guards_formulas_and_is_audited(admin, admin_user, people):
    _, mentor, pending, rejected, learner, outsider = people
    User.objects.filter(pk=learner.pk).update(full_name='=HYPERLINK("http://evil.example","x")')
    response = admin.get(f"{CSV}?role=learner")
    assert response["Content-Disposition"] == 'attachment; filename="peerlearn-users-2025-03-12.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    rows = rows_of(response)
    assert rows[0][:6] == ["ID", "Name", "E-mail", "Role", "State", "Mentor approval"]
    assert [r[2] for r in rows[1:]] == [outsider.email, learner.email]
    assert rows[1][4] == "Blocked" and rows[2][4] == "Active"
    assert rows[2][1] == '\'=HYPERLINK("http://evil.example","x")'  # a spreadsheet shows it, never runs it
    assert rows[2][6] == "2025-03-06 10:00"  # joined, in UTC
    entry = AuditEvent.objects.get(action="export.users")
    assert (entry.actor, entry.data) == (admin_user, {"filters": {"role": "learner"}})

    mentors = rows_of(admin.get(f"{CSV}?state=mentor_pending"))
    assert [(r[2], r[5]) for r in mentors[1:]] == [(pending.email, "pending")]
    assert len(rows_of(admin.get(CSV))) == 1 + 6
