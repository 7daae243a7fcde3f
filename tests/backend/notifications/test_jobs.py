"""Notices on a clock: reminders 30 and 10 minutes before a session and the feedback prompt an
hour after it, each sent once per person however often (or however concurrently) the job runs;
rescheduling moves reminders and cancelling drops them. Time is moved, never slept."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from backend.marketplace import services as marketplace
from backend.marketplace.models import Booking, BookingState, Review, SessionState
from backend.notifications import jobs
from backend.notifications.models import NoticeSent, Notification
from backend.rooms import services as rooms
from tests.backend.marketplace.factories import a_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(mentor, learner):
    session = a_session(mentor, hours_ahead=2, title="Graphs")
    booking = marketplace.booking_create(learner=learner, session=session)
    Notification.objects.all().delete()
    return booking


def reminders():
    return list(Notification.objects.filter(event="reminder.due").order_by("id").values_list("user_id", "title"))


def test_each_reminder_goes_once_to_the_learner_and_the_mentor(booked, mentor, learner):
    starts = booked.session.starts_at
    with time_machine.travel(starts - timedelta(minutes=31), tick=False):
        assert jobs.send_due_reminders() == 0
    with time_machine.travel(starts - timedelta(minutes=30), tick=False):
        assert jobs.send_due_reminders() == 2
        assert jobs.send_due_reminders() == 0  # the next tick: already sent
    with time_machine.travel(starts - timedelta(minutes=10), tick=False):
        assert jobs.send_due_reminders() == 2
    assert reminders() == [
        (learner.pk, "Starts in 30 minutes: Graphs"),
        (mentor.pk, "Starts in 30 minutes: Graphs"),
        (learner.pk, "Starts in 10 minutes: Graphs"),
        (mentor.pk, "Starts in 10 minutes: Graphs"),
    ]
    learners = Notification.objects.filter(event="reminder.due", user=learner).order_by("id").first()
    assert learners.url == f"/room/{booked.session.room_code}/"  # a reminder opens the room
    assert learners.data["topic"] == f"reminder-{booked.session_id}"  # a newer one replaces it on the phone
    assert learners.data["ttl_seconds"] == 30 * 60  # useful until the start, no longer


def test_a_late_job_sends_the_nearer_reminder_only(booked, learner):
    with time_machine.travel(booked.session.starts_at - timedelta(minutes=8), tick=False):
        assert jobs.send_due_reminders() == 2
    assert {title for _, title in reminders()} == {"Starts in 10 minutes: Graphs"}
    with time_machine.travel(booked.session.starts_at + timedelta(minutes=1), tick=False):
        assert jobs.send_due_reminders() == 0  # started: nothing more


def test_rescheduling_moves_the_reminders_and_cancelling_drops_them(booked, mentor, learner):
    session = booked.session
    with time_machine.travel(session.starts_at - timedelta(minutes=30), tick=False):
        jobs.send_due_reminders()
        session = marketplace.session_reschedule(
            mentor=mentor, session=session, starts_at=session.starts_at + timedelta(days=1)
        )
    with time_machine.travel(session.starts_at - timedelta(minutes=30), tick=False):
        assert jobs.send_due_reminders() == 2  # the new time is reminded of again
        marketplace.booking_cancel(learner=learner, booking=Booking.objects.get(pk=booked.pk))
    with time_machine.travel(session.starts_at - timedelta(minutes=10), tick=False):
        assert jobs.send_due_reminders() == 0  # no confirmed seat left: nothing to remind


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_reminder_once(mentor, learner):
    session = a_session(mentor, hours_ahead=2)
    Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED)
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def worker():
        try:
            with time_machine.travel(session.starts_at - timedelta(minutes=29), tick=False):
                barrier.wait()
                sent.append(jobs.send_due_reminders())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 2 and sorted(sent) in ([0, 2], [1, 1])
    assert Notification.objects.filter(event="reminder.due").count() == 2
    assert NoticeSent.objects.count() == 2


def test_the_feedback_prompt_comes_an_hour_after_once_and_not_after_a_review(mentor, learner, outsider):
    session = a_session(mentor, hours_ahead=-3, minutes=60, state=SessionState.COMPLETED, title="Trees")
    attended = Booking.objects.create(session=session, learner=learner, state=BookingState.CONFIRMED, attended=True)
    reviewed = Booking.objects.create(session=session, learner=outsider, state=BookingState.CONFIRMED, attended=True)
    Review.objects.create(booking=reviewed, rating=5, comment="Great")
    with time_machine.travel(session.ends_at + timedelta(minutes=59), tick=False):
        assert jobs.send_feedback_prompts() == 0
    with time_machine.travel(session.ends_at + timedelta(minutes=61), tick=False):
        assert jobs.send_feedback_prompts() == 1
        assert jobs.send_feedback_prompts() == 0
    prompt = Notification.objects.get(event="feedback.prompt")
    assert (prompt.user, prompt.title) == (learner, "How was Trees?")
    assert prompt.url == f"/dashboard/learner/bookings/{attended.pk}/#review"


def test_the_other_side_hears_once_that_someone_came_into_the_room(booked, mentor, learner):
    session = booked.session
    now = timezone.now()
    for peer in ("tab-1", "tab-2"):  # a reload or a second tab is not news
        with time_machine.travel(now, tick=False):
            rooms.presence_join(session=session, user=mentor, role="mentor", peer=peer, channel_name="c")
    rooms.presence_join(session=session, user=learner, role="learner", peer="tab-3", channel_name="c")
    by_event = list(Notification.objects.order_by("id").values_list("event", "user_id"))
    assert by_event == [("room.mentor_ready", learner.pk), ("room.learner_joined", mentor.pk)]
    assert Notification.objects.get(user=mentor).title.startswith(f"{learner.full_name} is in the room")
