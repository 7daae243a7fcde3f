"""Recommendations: logging, eligibility, cold start, fallback, reasons, caching, training."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import TestCase
from huey.contrib.djhuey import HUEY

from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role
from backend.marketplace import services as market
from backend.marketplace.models import Booking, BookingState, SessionState
from backend.recommendations import generator, serving, tasks, training
from backend.recommendations.models import Interaction, Kind, ModelRun, RunKind
from backend.recommendations.signals import cache_key, weight_of
from tests.backend.marketplace.factories import a_session
from tests.conftest import client_for, make_user

API = "/api/recommendations/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def mentor_in(domain, email):
    user = make_user(email, Role.MENTOR, full_name=email.split("@")[0].title())
    MentorProfile.objects.create(user=user, headline="h", bio="b", approval_state=ApprovalState.APPROVED)
    return user


def committed(fn, *args, **kwargs):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(*args, **kwargs)


# --- the interaction log ------------------------------------------------------------------------
def test_services_and_pages_log_interactions_once(learner, mentor):
    session = a_session(mentor, capacity=3)
    committed(market.booking_create, learner=learner, session=session)
    committed(market.follow, learner=learner, mentor_id=mentor.pk)
    client = client_for(learner)
    assert client.get(f"/sessions/{session.pk}/").status_code == 200
    assert client.get(f"/mentors/{mentor.pk}/").status_code == 200
    assert client_for(mentor).get(f"/sessions/{session.pk}/").status_code == 200  # mentors are not logged
    rows = sorted(Interaction.objects.values_list("kind", "learner_id", "mentor_id", "session_id"))
    assert rows == sorted(
        [
            (Kind.BOOKED, learner.pk, mentor.pk, session.pk),
            (Kind.FOLLOWED, learner.pk, mentor.pk, None),
            (Kind.VIEWED_SESSION, learner.pk, mentor.pk, session.pk),
            (Kind.VIEWED_MENTOR, learner.pk, mentor.pk, None),
        ]
    )


# --- eligibility ------------------------------------------------------------------------------------
def test_only_sessions_the_learner_can_still_book(learner, outsider, mentor, pending_mentor, domains):
    ok = a_session(mentor, title="Bookable", capacity=2)
    booked = a_session(mentor, title="Booked", hours_ahead=50, capacity=2)
    Booking.objects.create(session=booked, learner=learner, state=BookingState.CONFIRMED)
    full = a_session(mentor, title="Full", hours_ahead=52)
    Booking.objects.create(session=full, learner=outsider, state=BookingState.CONFIRMED)
    a_session(mentor, title="Past", hours_ahead=-3)
    # Each at its own hour: PostgreSQL refuses overlapping sessions of one mentor.
    a_session(mentor, title="Private", is_private=True, hours_ahead=54)
    a_session(mentor, title="Cancelled", state=SessionState.CANCELLED, hours_ahead=56)
    a_session(mentor, title="Draft", state=SessionState.DRAFT, hours_ahead=58)
    a_session(pending_mentor, title="Pending mentor")
    blocked = mentor_in(domains[0], "bob.blocked@example.com")
    a_session(blocked, title="Blocked mentor")
    blocked.is_active = False
    blocked.save()
    assert ids(client_for(learner).get(API)) == [ok.pk]
    assert Booking.objects.filter(learner=learner).count() == 1  # reading changed nothing


def test_non_learners_get_a_json_error(mentor, admin_user):
    response = client_for(mentor).get(API)
    assert response.status_code == 403 and response["Content-Type"].startswith("application/json")
    response = client_for(admin_user, verified=True).get(API)
    assert response.status_code == 403 and response.json()  # a JSON error body, never a page
    assert client_for(None).get(API).status_code == 401


# --- cold start and fallback -------------------------------------------------------------------------
def test_cold_start_interests_then_popularity(learner, outsider, mentor, domains, caplog):
    other_mentor = mentor_in(domains[1], "omar.other@example.com")
    interesting = a_session(mentor, title="In my interest", domain=domains[0], hours_ahead=72)
    popular = a_session(other_mentor, title="Popular", domain=domains[1], hours_ahead=24)
    fan = make_user("pat.popular@example.com", Role.LEARNER)
    for _ in range(5):
        Interaction.objects.create(learner=fan, mentor=other_mentor, kind=Kind.BOOKED)
    with caplog.at_level(logging.WARNING, logger="backend.recommendations.serving"):
        body = client_for(learner).get(API).json()
    assert body["fallback"] is True and body["model_version"] is None
    assert [r["id"] for r in body["results"]] == [interesting.pk, popular.pk]
    assert body["results"][0]["reason"] == f"Matches your interest in {domains[0].name}"
    assert "no recommendations model" in caplog.text
    LearnerProfile.objects.get(user=outsider).interests.clear()  # no interests, no history of their own
    other = client_for(outsider).get(API).json()["results"]
    assert other[0]["id"] == popular.pk and other[0]["reason"] == serving.POPULAR_REASON


def test_corrupt_artefact_serves_the_fallback(learner, mentor, settings, caplog):
    session = a_session(mentor)
    folder = training.model_dir()
    (folder / "broken.npz").write_bytes(b"not a model")
    (folder / training.LATEST).write_text("broken")
    with caplog.at_level(logging.WARNING, logger="backend.recommendations.serving"):
        response = client_for(learner).get(API)
    assert response.status_code == 200 and response.json()["fallback"] is True
    assert ids(response) == [session.pk]
    assert "broken unreadable" in caplog.text


# --- reasons, cache, isolation -----------------------------------------------------------------------
def test_reason_names_what_the_learner_did(learner, outsider, mentor, domains):
    first = a_session(mentor, title="Django basics", domain=domains[2], capacity=5)
    committed(market.booking_create, learner=learner, session=first)
    nxt = a_session(mentor, title="Django advanced", domain=domains[2], hours_ahead=96)
    ModelRun.objects.all().delete()
    tasks.train_locked()  # a model with this learner and mentor
    results = client_for(learner).get(API).json()["results"]
    assert results[0]["id"] == nxt.pk
    assert results[0]["reason"] == "Because you booked “Django basics”"
    # Per-learner isolation: the outsider sees no trace of Lena's history.
    theirs = client_for(outsider).get(API).json()["results"]
    assert all("Django basics" not in r["reason"] for r in theirs)


def test_cache_is_per_learner_and_dropped_by_new_interactions(learner, outsider, mentor, domains):
    a_session(mentor, title="First", hours_ahead=30)
    lena, oscar = client_for(learner), client_for(outsider)
    assert len(ids(lena.get(API))) == 1 and len(ids(oscar.get(API))) == 1
    assert cache.get(cache_key(learner.pk)) and cache.get(cache_key(outsider.pk))
    newer = a_session(mentor, title="Second", hours_ahead=40)
    assert newer.pk not in ids(lena.get(API))  # served from the cache
    response = lena.post(f"/mentors/{mentor.pk}/follow/", {"action": "follow"})
    assert response.status_code == 302 and Interaction.objects.filter(kind=Kind.FOLLOWED).count() == 1
    assert cache.get(cache_key(learner.pk)) is None  # Lena's dropped...
    assert cache.get(cache_key(outsider.pk)) is not None  # ...Oscar's kept
    assert newer.pk in ids(lena.get(API))
    assert newer.pk not in ids(oscar.get(API))


# --- training, serving new versions, recalculating one learner -----------------------------------------
@pytest.fixture
def synthetic(db, domains):
    data = generator.generate(300, 24, 4_000, n_communities=4, outside_share=0.05, favourite_boost=10, seed=3)
    learners, mentors = generator.load_into_db(data)
    return data, learners, mentors


def test_training_writes_a_version_served_without_restart(synthetic, learner):
    first = tasks.train_locked()
    assert first.status == "done" and 250 < first.users <= 300 and first.items == 24 and first.interactions > 3_000
    assert serving.recommend(learner).model_version == first.version
    second = tasks.train_locked()
    assert second.version != first.version and training.latest_version() == second.version
    assert serving.recommend(learner).model_version == second.version


def test_the_log_is_read_with_the_weights_of_one_table(learner, outsider, mentor):
    """The training read applies signals.WEIGHTS in SQL: the same numbers as weight_of, times in
    unix seconds, and rows that say nothing (a one- or two-star rating) left out."""
    from datetime import UTC, datetime

    when = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
    rows = [(kind, 0) for kind in Kind.values if kind != Kind.RATED] + [(Kind.RATED, v) for v in (1, 2, 3, 5)]
    for i, (kind, value) in enumerate(rows):
        Interaction.objects.create(
            learner=learner if i % 2 else outsider, mentor=mentor, kind=kind, value=value, created_at=when
        )
    data = training.dataset_from_db()
    expected = sorted(weight_of(kind, value) for kind, value in rows if weight_of(kind, value) > 0)
    assert sorted(data.weights.tolist()) == pytest.approx(expected)
    assert len(data) == len(rows) - 2  # the one- and two-star ratings
    assert set(data.learners.tolist()) == {learner.pk, outsider.pk} and set(data.mentors.tolist()) == {mentor.pk}
    assert data.times.tolist() == pytest.approx([when.timestamp()] * len(data), abs=1e-3)


def test_training_lock_refuses_a_second_run(synthetic, admin_user):
    client = client_for(admin_user, verified=True)
    with HUEY.lock_task(tasks.LOCK):
        assert tasks.recommendations_train() is not None  # enqueued (run inline) ...
        assert not ModelRun.objects.filter(kind=RunKind.TRAIN).exists()  # ... and skipped
        response = client.post("/dashboard/admin/recommendations/retrain/", follow=True)
        assert "already in progress" in response.content.decode()
        assert not ModelRun.objects.exists()
    response = client.post("/dashboard/admin/recommendations/retrain/", follow=True)
    assert "Retraining started" in response.content.decode()
    assert ModelRun.objects.get(kind=RunKind.TRAIN).status == "done"


def test_new_interactions_refresh_recommendations_without_retraining(synthetic, domains):
    data, learners, mentors = synthetic
    for mentor in mentors:
        a_session(mentor, title=f"Session of {mentor.full_name}", domain=domains[0], capacity=3)
    run = tasks.train_locked()
    newcomer = make_user("nina.new@example.com", Role.LEARNER, full_name="Nina New")
    LearnerProfile.objects.create(user=newcomer)
    before = serving.recommend(newcomer)
    assert before.items and all(item.reason == serving.POPULAR_REASON for item in before.items)
    # Nina behaves like community 0: she books and follows two of its favourite mentors.
    import numpy as np

    in_community = data.learner_community[data.learners] == 0
    favourites = np.argsort(-np.bincount(data.mentors[in_community], minlength=len(mentors)))[:2]
    booked = []
    for index in favourites.tolist():
        session = mentors[index].sessions.first()
        committed(market.booking_create, learner=newcomer, session=session)
        committed(market.follow, learner=newcomer, mentor_id=mentors[index].pk)
        booked.append(session)
    after = serving.recommend(newcomer)
    assert after.model_version == run.version and ModelRun.objects.count() == 1  # no retraining
    shown = [item.session.pk for item in after.items]
    assert not {s.pk for s in booked} & set(shown) and shown != [i.session.pk for i in before.items]
    # Mentors she never touched are explained by the ones she did (ALS similarity).
    reasons = {item.reason for item in after.items if item.session.mentor_id not in {s.mentor_id for s in booked}}
    assert reasons & {f"Because you booked “{s.title}”" for s in booked}


# --- evaluation ---------------------------------------------------------------------------------------
def test_evaluation_report_is_stored_and_shown(synthetic, admin_user):
    call_command("recommendations_evaluate", stdout=open("/dev/null", "w"))  # noqa: SIM115
    run = ModelRun.objects.get(kind=RunKind.EVALUATE)
    report = run.report
    assert report["source"] == "database" and report["matrix"]["users"] > 0
    for model in ("als", "popularity"):
        assert set(report[model]) == {"precision_at_10", "recall_at_10", "ndcg_at_10", "coverage"}
    assert report["evaluated_users"] > 0 and report["als"]["ndcg_at_10"] > 0
    body = client_for(admin_user, verified=True).get("/dashboard/admin/recommendations/").content.decode()
    assert "Evaluation (time split)" in body and str(report["als"]["ndcg_at_10"]) in body
    assert str(report["popularity"]["ndcg_at_10"]) in body and "Retrain now" in body


def test_admin_page_is_for_admins_only(learner, admin_user):
    assert client_for(learner).get("/dashboard/admin/recommendations/").status_code == 302
    assert client_for(admin_user, verified=True).get("/dashboard/admin/recommendations/").status_code == 200


# --- the learner home carousel ---------------------------------------------------------------------------
def test_learner_home_shows_the_carousel_with_reasons(learner, mentor, domains):
    session = a_session(mentor, title="Carousel pick", domain=domains[0])
    body = client_for(learner).get("/dashboard/learner/").content.decode()
    assert "Recommended for you" in body and "Carousel pick" in body
    assert f"Matches your interest in {domains[0].name}" in body and f"/sessions/{session.pk}/" in body


def test_generator_plants_structure_at_several_sizes():
    small = generator.generate(1_000, 50, 10_000, seed=1)
    assert len(small) == 10_000 and small.learners.max() < 1_000 and small.mentors.max() < 50
    assert (small.times[1:] >= small.times[:-1]).all()  # in time order
    counts = sorted(__import__("numpy").bincount(small.mentors, minlength=50), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]  # popularity skew


def test_one_event_that_cannot_be_logged_does_not_cost_the_others(learner, mentor, monkeypatch, caplog):
    """A push chunk logs its interactions together; if that fails, each event is tried on its own."""
    from backend.recommendations import signals

    real = signals._rows_for

    def rows_for(event, user_ids, data):
        if data.get("broken"):
            raise ValueError("cannot work out the rows")
        return real(event, user_ids, data)

    monkeypatch.setattr(signals, "_rows_for", rows_for)
    with caplog.at_level(logging.ERROR), signals.collected():
        signals.record_from_event("mentor.followed", [mentor.pk], {"learner": learner.pk, "broken": True})
        signals.record_from_event("mentor.followed", [mentor.pk], {"learner": learner.pk})
    assert list(Interaction.objects.values_list("learner_id", "mentor_id", "kind")) == [
        (learner.pk, mentor.pk, Kind.FOLLOWED)
    ]
    assert "interactions not logged for mentor.followed" in caplog.text
