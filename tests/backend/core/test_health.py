"""/healthz, /readyz and the admin health page: what they check, what they reveal, and the
periodic jobs' last runs recorded from huey's signals."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings
from huey import crontab
from huey.contrib.djhuey import HUEY

from backend.core import health, jobs_status
from tests.conftest import Client, client_for


def _dead_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there once the socket closed


@pytest.fixture(autouse=True)
def _fresh_huey_storage():
    # Tests run huey immediately, on an in-memory storage: start each test without last runs.
    HUEY.flush()
    yield
    HUEY.flush()


@pytest.fixture
def flaky_job():
    """A periodic job that succeeds or fails on demand, registered for one test only."""
    calls = {"fail": False}

    @HUEY.periodic_task(crontab(minute="*"), name="flaky_probe_job")
    def flaky_probe_job():
        if calls["fail"]:
            raise RuntimeError("boom")

    yield calls, flaky_probe_job
    HUEY._registry.unregister(flaky_probe_job.task_class)


def test_healthz_answers_without_touching_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_when_every_part_answers(db):
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "queue"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["queue"]["pending"] >= 0
    names = {job["name"] for job in body["jobs"]}
    assert "nightly_planner_statistics" in names


def test_readyz_names_the_failing_part_and_reveals_nothing(db, monkeypatch):
    def database_down():
        raise OperationalError('connection to server at "db.internal.example" (10.0.0.5) failed: password=hunter2')

    monkeypatch.setattr(health, "_database", database_down)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["database"]
    assert body["checks"]["database"] == {
        "ok": False,
        "ms": body["checks"]["database"]["ms"],
        "error": "OperationalError",
    }
    text = response.content.decode()
    for secret in ("db.internal.example", "10.0.0.5", "hunter2", "Traceback", settings.SECRET_KEY):
        assert secret not in text
    db_settings = settings.DATABASES["default"]
    for value in (db_settings.get("HOST"), db_settings.get("PASSWORD"), settings.REDIS_URL):
        if value:
            assert value not in text


def test_readyz_fails_on_an_unreachable_cache_and_channel_layer(db):
    dead = _dead_redis_url()
    with override_settings(
        CACHES={"default": {"BACKEND": "backend.core.cache.TolerantRedisCache", "LOCATION": dead}},
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}},
    ):
        response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["cache", "channel_layer"]
    assert body["checks"]["database"]["ok"] and body["checks"]["queue"]["ok"]
    assert "127.0.0.1" not in response.content.decode()


def test_periodic_job_runs_are_recorded_from_huey_signals(db, flaky_job, caplog):
    calls, job = flaky_job
    caplog.set_level("INFO", logger="peerlearn.jobs")
    job()  # huey runs it at once under test (HUEY_IMMEDIATE), through the consumer's execute path
    run = jobs_status.last_run("flaky_probe_job")
    assert run is not None and run.outcome == "complete" and run.duration_ms >= 0
    assert run.last_success_at == run.finished_at

    calls["fail"] = True
    job()  # huey catches the error (and logs it), as the consumer does
    failed = jobs_status.last_run("flaky_probe_job")
    assert failed.outcome == "error" and failed.last_success_at == run.last_success_at

    body = Client().get("/readyz").json()
    entry = next(j for j in body["jobs"] if j["name"] == "flaky_probe_job")
    assert entry["state"] == "failed" and entry["last_outcome"] == "error"
    assert "job_failed:flaky_probe_job" in body["warnings"]
    assert Client().get("/readyz").status_code == 200  # a failed job warns; it does not unready the web

    lines = [r for r in caplog.records if r.name == "peerlearn.jobs" and r.task == "flaky_probe_job"]
    assert [r.outcome for r in lines] == ["complete", "error"]
    assert lines[1].error == "RuntimeError" and all(isinstance(r.duration_ms, float) for r in lines)


def test_a_job_that_missed_its_schedule_is_overdue(db, flaky_job):
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    jobs_status.record_run("flaky_probe_job", outcome="complete", duration_ms=1.0, now=long_ago)
    entry = next(j for j in jobs_status.periodic_jobs() if j["name"] == "flaky_probe_job")
    assert entry["state"] == "overdue" and entry["overdue"]
    jobs_status.record_run("flaky_probe_job", outcome="complete", duration_ms=1.0)
    entry = next(j for j in jobs_status.periodic_jobs() if j["name"] == "flaky_probe_job")
    assert entry["state"] == "ok"


def test_last_due_time_follows_the_crontab():
    from backend.core.tasks import nightly_planner_statistics

    task = nightly_planner_statistics.task_class()
    assert jobs_status._last_due(task, datetime(2026, 1, 2, 5, 0, tzinfo=UTC)) == datetime(
        2026, 1, 2, 3, 40, tzinfo=UTC
    )
    assert jobs_status._last_due(task, datetime(2026, 1, 2, 3, 39, tzinfo=UTC)) == datetime(
        2026, 1, 1, 3, 40, tzinfo=UTC
    )


def test_admin_health_page_shows_checks_and_jobs(admin_user, flaky_job):
    _, job = flaky_job
    job()
    response = client_for(admin_user, verified=True).get("/dashboard/admin/health/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Platform health" in page and "Live updates" in page and "flaky_probe_job" in page
    assert "nightly_planner_statistics" in page
    home = client_for(admin_user, verified=True).get("/dashboard/admin/").content.decode()
    assert 'href="/dashboard/admin/health/"' in home


def test_admin_health_page_is_for_admins_only(learner):
    response = client_for(learner).get("/dashboard/admin/health/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/learner/"


def test_readyz_json_is_small_and_flat_enough_for_a_load_balancer(db):
    body = json.loads(Client().get("/readyz").content)
    assert set(body) == {"status", "failing", "warnings", "checks", "jobs"}
