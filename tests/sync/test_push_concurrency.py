"""Two tabs of one device replaying the same outbox at once: each mutation runs once."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile
from backend.marketplace.models import Booking
from sync.models import SyncMutation
from sync.push import QueuedMutation, push
from sync.tasks import prune
from tests.backend.marketplace.factories import a_session
from tests.conftest import make_user, seed_domains


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_outbox_apply_each_mutation_once():
    seed_domains()
    mentor = make_user("race.mentor@example.com", "mentor")
    MentorProfile.objects.create(user=mentor, headline="h", bio="b", approval_state=ApprovalState.APPROVED)
    learner = make_user("race.learner@example.com", "learner")
    LearnerProfile.objects.create(user=learner)
    sessions = [a_session(mentor, hours_ahead=24 + 3 * i, capacity=5) for i in range(6)]
    device = uuid.uuid4()
    batch = [QueuedMutation(i + 1, "booking.create", {"session": s.pk}) for i, s in enumerate(sessions)]
    results, start = [], threading.Barrier(3)

    def replay():
        try:
            start.wait()
            results.append(push(user=learner, client_id=device, queued=batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert Booking.objects.filter(learner=learner).count() == 6
    assert SyncMutation.objects.count() == 6
    applied = [r["id"] for result in results for r in result["results"] if r["status"] == "applied"]
    assert sorted(applied) == [1, 2, 3, 4, 5, 6]  # each applied by exactly one of the tabs
    assert all(r["status"] in ("applied", "duplicate", "retry") for result in results for r in result["results"])


@pytest.mark.django_db
def test_prune_drops_what_is_past_retention(learner, mentor, settings, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    from backend.marketplace import services
    from sync.models import Change

    services.booking_create(learner=learner, session=a_session(mentor))
    logged = Change.objects.count()
    assert logged == 5  # the booking and its session, for the learner and the mentor; the mentor's notification
    assert prune(now=timezone.now()) == (0, 0)
    later = timezone.now() + timedelta(days=settings.SYNC_CHANGE_RETENTION_DAYS, minutes=1)
    removed, _ = prune(now=later)
    assert removed == logged and not Change.objects.exists()
