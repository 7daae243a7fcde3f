"""Twenty learners race for the last seat: exactly one gets it (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from backend.accounts.models import LearnerProfile, Role
from backend.core.errors import DomainError
from backend.marketplace import services
from backend.marketplace.models import Booking
from tests.backend.marketplace.factories import a_session
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("price", [0, 49900], ids=["free", "paid-hold"])
def test_twenty_learners_race_for_the_last_seat(mentor, price):
    session = a_session(mentor, price=price, capacity=3)
    for index in range(2):  # two of three seats are gone already
        early = make_user(f"early{index}@example.com", Role.LEARNER)
        services.booking_create(learner=early, session=session)
    racers = [make_user(f"racer{index}@example.com", Role.LEARNER) for index in range(20)]
    LearnerProfile.objects.bulk_create(LearnerProfile(user=u) for u in racers)

    start = threading.Barrier(len(racers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(user):
        try:
            start.wait()
            services.booking_create(learner=user, session=session)
            result = "booked"
        except DomainError as exc:
            result = exc.code
        except Exception as exc:  # noqa: BLE001 - any other failure is a test failure, report it
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(user,)) for user in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(set(outcomes)) == ["booked", "session_full"], outcomes
    assert outcomes.count("booked") == 1
    assert Booking.objects.filter(session=session, learner__in=racers).count() == 1
    assert services.seats_taken(session) == 3
