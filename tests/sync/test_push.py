"""POST /api/sync/push: a client's queued mutations applied in order, each exactly once."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from backend.marketplace import services
from backend.marketplace.models import (
    AvailabilityWindow,
    Booking,
    BookingState,
    Domain,
    Follow,
    SessionRequest,
    WaitlistEntry,
)
from backend.recommendations.models import Interaction
from sync import mutations
from sync.models import Change, SyncClient, SyncMutation
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def push(client, client_id, *batch):
    body = {"client_id": str(client_id), "mutations": [{"id": i, "name": n, "args": a} for i, n, a in batch]}
    return client.post("/api/sync/push", json.dumps(body), content_type="application/json")


def statuses(response) -> list[tuple[int, str]]:
    return [(r["id"], r["status"]) for r in response.json()["results"]]


@pytest.fixture
def device():
    return uuid.uuid4()


def test_a_batch_applies_in_order_through_the_services(learner, mentor, device):
    first, second = a_session(mentor, hours_ahead=30, capacity=2), a_session(mentor, hours_ahead=60, capacity=2)
    client = client_for(learner)
    response = push(
        client,
        device,
        (1, "booking.create", {"session": first.pk}),
        (2, "booking.create", {"session": second.pk}),
        (3, "mentor.follow", {"mentor": mentor.pk}),
    )
    assert response.status_code == 200
    assert statuses(response) == [(1, "applied"), (2, "applied"), (3, "applied")]
    assert response.json()["last_mutation_id"] == 3
    booking = Booking.objects.get(session=first, learner=learner)
    assert booking.state == BookingState.CONFIRMED
    assert response.json()["results"][0]["result"] == {"booking": booking.pk, "state": "confirmed"}
    assert Follow.objects.filter(learner=learner, mentor=mentor).exists()
    assert SyncClient.objects.get(client_id=device).last_mutation_id == 3
    assert list(SyncMutation.objects.order_by("mutation_id").values_list("outcome", flat=True)) == ["applied"] * 3
    # The chunk's change-log rows were written with it, for both the learner and the mentor.
    for user in (learner, mentor):
        assert set(Change.objects.filter(user=user, kind="booking").values_list("object_id", flat=True)) == set(
            Booking.objects.values_list("pk", flat=True)
        )
    assert not Change.objects.filter(created_at__isnull=True).exists()
    # And what the learner did is in the recommendations' log, once per act.
    assert sorted(Interaction.objects.filter(learner=learner).values_list("kind", "session_id")) == [
        ("booked", first.pk),
        ("booked", second.pk),
        ("followed", None),
    ]


def test_duplicates_are_acknowledged_with_the_first_answer_and_run_nothing(learner, mentor, device):
    session = a_session(mentor, capacity=3)
    client = client_for(learner)
    push(client, device, (1, "booking.create", {"session": session.pk}))
    booking = Booking.objects.get(learner=learner)
    push(client, device, (2, "booking.cancel", {"id": booking.pk}))
    again = push(
        client,
        device,
        (1, "booking.create", {"session": session.pk}),  # resent after a lost answer
        (2, "booking.cancel", {"id": booking.pk}),
        (3, "booking.create", {"session": session.pk}),  # a new booking, really meant
    )
    assert statuses(again) == [(1, "duplicate"), (2, "duplicate"), (3, "applied")]
    assert again.json()["results"][0]["outcome"] == "applied"
    assert again.json()["results"][0]["result"]["booking"] == booking.pk
    assert Booking.objects.filter(learner=learner).count() == 2
    assert Booking.objects.filter(learner=learner, state=BookingState.CONFIRMED).count() == 1


def test_a_gap_stops_the_batch_and_nothing_after_it_runs(learner, mentor, device):
    session = a_session(mentor)
    client = client_for(learner)
    response = push(client, device, (2, "booking.create", {"session": session.pk}))
    assert statuses(response) == [(2, "gap")]
    assert response.json()["results"][0]["expected"] == 1
    assert response.json()["results"][0]["error"]["code"] == "mutation_gap"
    assert not Booking.objects.exists()
    response = push(
        client, device, (1, "mentor.follow", {"mentor": mentor.pk}), (3, "booking.create", {"session": session.pk})
    )
    assert statuses(response) == [(1, "applied"), (3, "gap")]
    assert not Booking.objects.exists() and SyncClient.objects.get(client_id=device).last_mutation_id == 1


def test_refusals_are_recorded_with_their_code_and_the_queue_moves_on(learner, outsider, mentor, device):
    last_seat = a_session(mentor, capacity=1)
    services.booking_create(learner=outsider, session=last_seat)  # taken while our learner was offline
    other = a_session(mentor, hours_ahead=80)
    client = client_for(learner)
    response = push(
        client,
        device,
        (1, "booking.create", {"session": last_seat.pk}),
        (2, "no.such.action", {}),
        (3, "booking.create", {"session": "seven"}),
        (4, "booking.cancel", {"id": 999999}),
        (5, "booking.create", {"session": other.pk}),
    )
    assert statuses(response) == [(1, "refused"), (2, "refused"), (3, "refused"), (4, "refused"), (5, "applied")]
    errors = [r.get("error", {}).get("code") for r in response.json()["results"]]
    assert errors == ["session_full", "unknown_mutation", "invalid", "not_found", None]
    assert response.json()["results"][2]["error"]["fields"] == {"session": "A valid integer is required."}
    assert SyncMutation.objects.get(mutation_id=1).error_code == "session_full"
    assert SyncClient.objects.get(client_id=device).last_mutation_id == 5
    assert list(Booking.objects.filter(learner=learner).values_list("session_id", flat=True)) == [other.pk]


def test_a_refused_mutation_leaves_no_partial_writes(learner, mentor, device, monkeypatch):
    session = a_session(mentor)

    def book_then_refuse(user, v):
        services.booking_create(learner=user, session=session)
        raise services.Conflict("changed_mind", "Refused after writing.")

    original = mutations.REGISTRY["booking.create"]
    monkeypatch.setitem(mutations.REGISTRY, "booking.create", dataclasses.replace(original, apply=book_then_refuse))
    response = push(client_for(learner), device, (1, "booking.create", {"session": session.pk}))
    assert statuses(response) == [(1, "refused")]
    assert not Booking.objects.exists()
    assert not Interaction.objects.exists()  # the model does not learn from a booking that never was


@pytest.mark.parametrize("commit_every", [1, 25])
def test_a_database_failure_stops_the_batch_and_loses_at_most_the_chunk_in_flight(
    learner, mentor, device, monkeypatch, settings, commit_every
):
    settings.SYNC_COMMIT_EVERY = commit_every
    first, second = a_session(mentor, hours_ahead=30), a_session(mentor, hours_ahead=60)
    real = mutations.run

    def flaky(user, name, args):
        if args.get("session") == second.pk:
            raise DatabaseError("database is locked")
        return real(user, name, args)

    monkeypatch.setattr(mutations, "run", flaky)
    client = client_for(learner)
    batch = [
        (1, "booking.create", {"session": first.pk}),
        (2, "booking.create", {"session": second.pk}),
        (3, "mentor.follow", {"mentor": mentor.pk}),
    ]
    response = push(client, device, *batch)
    if commit_every == 1:  # the first mutation's transaction had committed
        assert statuses(response) == [(1, "applied"), (2, "retry")]
        assert list(Booking.objects.values_list("session_id", flat=True)) == [first.pk]
    else:  # one transaction held all three: none of it stays, change log included
        assert statuses(response) == [(1, "retry")]
        assert not Booking.objects.exists() and not Change.objects.exists()
    assert response.json()["last_mutation_id"] == (1 if commit_every == 1 else 0)
    assert not Follow.objects.exists() and not SyncMutation.objects.filter(mutation_id=2).exists()

    monkeypatch.setattr(mutations, "run", real)  # the database recovers; the client pushes again
    response = push(client, device, *batch)
    assert [status for _, status in statuses(response)][1:] == ["applied", "applied"]
    assert Booking.objects.count() == 2 and Follow.objects.count() == 1  # each applied exactly once


def test_a_crash_mid_batch_keeps_the_applied_prefix_and_queues_the_rest(learner, mentor, device, monkeypatch):
    first, second = a_session(mentor, hours_ahead=30), a_session(mentor, hours_ahead=60)
    real = mutations.run

    def buggy(user, name, args):
        if args.get("session") == second.pk:
            raise KeyError("a bug")
        return real(user, name, args)

    monkeypatch.setattr(mutations, "run", buggy)
    client = client_for(learner)
    batch = [(1, "booking.create", {"session": first.pk}), (2, "booking.create", {"session": second.pk})]
    assert statuses(push(client, device, *batch)) == [(1, "applied"), (2, "retry")]
    assert SyncClient.objects.get(client_id=device).last_mutation_id == 1
    monkeypatch.setattr(mutations, "run", real)
    assert statuses(push(client, device, *batch)) == [(1, "duplicate"), (2, "applied")]
    assert Booking.objects.count() == 2


def test_an_unexpected_crash_keeps_the_mutation_queued(learner, mentor, device, monkeypatch):
    monkeypatch.setattr(mutations, "run", lambda *a: 1 / 0)
    response = push(client_for(learner), device, (1, "mentor.follow", {"mentor": mentor.pk}))
    assert statuses(response) == [(1, "retry")]
    assert SyncClient.objects.get(client_id=device).last_mutation_id == 0


def test_a_client_id_belongs_to_one_user(learner, outsider, mentor, device):
    push(client_for(learner), device, (1, "mentor.follow", {"mentor": mentor.pk}))
    response = push(client_for(outsider), device, (2, "mentor.follow", {"mentor": mentor.pk}))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "foreign_client"
    assert not Follow.objects.filter(learner=outsider).exists()


def test_envelope_errors_are_refused_whole(learner, mentor, device, settings):
    client = client_for(learner)
    settings.SYNC_MAX_BATCH = 3
    too_many = push(client, device, *[(i, "mentor.follow", {"mentor": mentor.pk}) for i in range(1, 5)])
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "batch_too_large"
    for body in (
        {"client_id": "not-a-uuid", "mutations": []},
        {"client_id": str(device), "mutations": [{"id": 0, "name": "mentor.follow"}]},
        {"client_id": str(device), "mutations": [{"id": -4, "name": "mentor.follow"}]},
        {"client_id": str(device), "mutations": "everything"},
        {"client_id": str(device)},
    ):
        response = client.post("/api/sync/push", json.dumps(body), content_type="application/json")
        assert response.status_code == 400, body
    assert not Follow.objects.exists() and not SyncMutation.objects.exists()


def test_signed_out_pushes_and_pushes_without_csrf_are_refused(learner, mentor, device):
    assert push(Client(), device, (1, "mentor.follow", {"mentor": mentor.pk})).status_code in (401, 403)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    assert push(strict, device, (1, "mentor.follow", {"mentor": mentor.pk})).status_code == 403
    assert not Follow.objects.exists()


def test_roles_are_checked_per_mutation(mentor, learner, device):
    session = a_session(mentor)
    response = push(client_for(mentor), device, (1, "booking.create", {"session": session.pk}))
    assert response.json()["results"][0]["error"]["code"] == "wrong_role"
    assert not Booking.objects.exists()


def test_every_offline_action_of_the_product_replays(learner, mentor, device):
    """The actions PRODUCT.md lists as offline-capable, each through its mutation."""
    full = a_session(mentor, hours_ahead=20, capacity=1)
    open_one = a_session(mentor, hours_ahead=40, capacity=3)
    Booking.objects.create(session=full, learner=mentor_learner(), state=BookingState.CONFIRMED)
    past = a_session(mentor, hours_ahead=-5, state="completed")
    attended = Booking.objects.create(session=past, learner=learner, state=BookingState.CONFIRMED, attended=True)
    mentor.timezone = "Asia/Kolkata"
    mentor.save()
    for weekday in range(7):
        AvailabilityWindow.objects.create(mentor=mentor, weekday=weekday, start_time=time(18), end_time=time(21))
    day = (timezone.now() + timedelta(days=3)).astimezone(IST).date()
    times = [datetime.combine(day, time(18), tzinfo=IST).isoformat()]
    client = client_for(learner)
    response = push(
        client,
        device,
        (1, "waitlist.join", {"session": full.pk}),
        (2, "booking.create", {"session": open_one.pk}),
        (
            3,
            "request.create",
            {"mentor": mentor.pk, "topic": "Career chat", "preferred_times": times, "duration_minutes": 45},
        ),
        (4, "review.create", {"booking": attended.pk, "rating": 5, "comment": "Great"}),
        (5, "profile.update", {"full_name": "Lena L.", "theme": "dark"}),
        (6, "mentor.unfollow", {"mentor": mentor.pk}),
    )
    assert statuses(response) == [(i, "applied") for i in range(1, 7)], response.json()
    request = SessionRequest.objects.get(learner=learner)
    booking = Booking.objects.get(session=open_one, learner=learner)
    answer = push(
        client,
        device,
        (7, "request.answer", {"request": request.pk, "action": "withdraw"}),
        (8, "booking.cancel", {"id": booking.pk}),
    )
    assert statuses(answer) == [(7, "applied"), (8, "applied")]
    learner.refresh_from_db()
    assert (learner.full_name, learner.theme) == ("Lena L.", "dark")
    assert WaitlistEntry.objects.filter(learner=learner, session=full).exists()
    assert SessionRequest.objects.get(pk=request.pk).state == "withdrawn"
    assert Booking.objects.get(pk=booking.pk).state == BookingState.CANCELLED
    assert attended.review.rating == 5

    # The mentor answers and edits a draft offline too.
    draft = a_session(mentor, hours_ahead=100, state="draft")
    mentor_device = uuid.uuid4()
    edit = {
        "id": draft.pk,
        "title": "Renamed draft",
        "domain": draft.domain.slug,
        "starts_at": draft.starts_at.isoformat(),
        "duration_minutes": 30,
    }
    response = push(client_for(mentor), mentor_device, (1, "session.update", edit))
    assert statuses(response) == [(1, "applied")], response.json()
    draft.refresh_from_db()
    assert (draft.title, draft.duration_minutes) == ("Renamed draft", 30)
    # The page's form names the category by id; the API by slug. Both are understood.
    other = Domain.objects.exclude(pk=draft.domain_id).first()
    response = push(client_for(mentor), mentor_device, (2, "session.update", {**edit, "domain": str(other.pk)}))
    assert statuses(response) == [(2, "applied")], response.json()
    draft.refresh_from_db()
    assert draft.domain_id == other.pk
    response = push(client_for(mentor), mentor_device, (3, "session.update", {**edit, "domain": "99999"}))
    assert response.json()["results"][0]["error"]["fields"] == {"domain": "Object with id=99999 does not exist."}


def mentor_learner():
    from tests.conftest import make_user

    return make_user("someone.else@example.com", "learner")


@pytest.mark.django_db(transaction=True)  # real commits: on_commit runs inside the push, as in production
def test_a_batchs_live_events_leave_together_after_it(learner, mentor, device, monkeypatch):
    deliveries = []
    monkeypatch.setattr("backend.core.events._deliver", lambda messages: deliveries.append(messages))
    shared, other = a_session(mentor, hours_ahead=30, capacity=3), a_session(mentor, hours_ahead=60, capacity=3)
    response = push(
        client_for(learner),
        device,
        (1, "booking.create", {"session": shared.pk}),
        (2, "booking.create", {"session": other.pk}),
        (3, "mentor.follow", {"mentor": mentor.pk}),
    )
    assert statuses(response) == [(1, "applied"), (2, "applied"), (3, "applied")]
    [messages] = deliveries  # one hop to the channel layer for the whole batch
    seats = sorted((data["session"], data["seats_left"]) for _, event, data in messages if event == "session.seats")
    assert seats == [(shared.pk, 2), (other.pk, 2)]
    assert sum(event == "booking.created" for _, event, _ in messages) == 4  # learner and mentor, twice


def test_a_profile_edit_with_an_unknown_timezone_is_refused_per_field(learner, device):
    response = push(
        client_for(learner),
        device,
        (1, "profile.update", {"timezone": "Mars/Base"}),
        (2, "profile.update", {"timezone": "Europe/Berlin", "full_name": "Asha Rao"}),
    )
    assert statuses(response) == [(1, "refused"), (2, "applied")]
    assert "timezone" in response.json()["results"][0]["error"]["fields"]
    learner.refresh_from_db()
    assert (learner.timezone, learner.full_name) == ("Europe/Berlin", "Asha Rao")
