"""Dashboard APIs: content and constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.marketplace.models import Booking, BookingState
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


def test_learner_dashboard_api(mentor, learner):
    client = client_for(learner)
    few, empty = queries(client, "/api/dashboard/learner/")
    assert empty["upcoming"] == [] and empty["sessions_completed"] == 0
    for index in range(8):
        Booking.objects.create(
            session=a_session(mentor, hours_ahead=24 + index * 3), learner=learner, state=BookingState.CONFIRMED
        )
    many, full = queries(client, "/api/dashboard/learner/")
    assert len(full["upcoming"]) == 6 and len(full["activity"]) == 8
    assert few == many


def test_mentor_dashboard_api(mentor, learner):
    client = client_for(mentor)
    few, _ = queries(client, "/api/dashboard/mentor/")
    for index in range(8):
        session = a_session(mentor, hours_ahead=2 + index * 3, capacity=2)
        Booking.objects.create(
            session=session, learner=make_user(f"l{index}@example.com", "learner"), state=BookingState.CONFIRMED
        )
    many, full = queries(client, "/api/dashboard/mentor/")
    assert len(full["upcoming"]) == 6 and all(s["seats_taken"] == 1 for s in full["upcoming"])
    assert few == many
    assert client_for(learner).get("/api/dashboard/mentor/").status_code == 403
