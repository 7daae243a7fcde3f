"""What the background jobs did: one structured log line per task run, and the last run of
each periodic job, for /readyz and the admin health page.

The last runs are kept in huey's own key-value storage (HUEY.put / HUEY.get(peek=True)), not in
Django's cache or a model: it is the one store every web process and every consumer already
share on both setups (Redis in production, the huey SQLite file on the embedded default, where
the cache is per-process local memory and the consumer is another process), it needs no
migration, and a record is one small key per periodic job overwritten at each run.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.utils.module_loading import autodiscover_modules
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING

log = logging.getLogger("peerlearn.jobs")

KEY_PREFIX = "peerlearn.job-last-run."
# How far back to look for a periodic job's previous due time: the rarest jobs run daily.
_LOOKBACK = timedelta(hours=25)
# A job counts as overdue when its last due time passed this long ago without a run.
OVERDUE_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class JobRun:
    name: str
    finished_at: str  # ISO 8601, UTC
    outcome: str  # "complete" | "error"
    duration_ms: float
    last_success_at: str | None = None


_started: dict[str, float] = {}
_started_lock = threading.Lock()


def _huey():
    from huey.contrib.djhuey import HUEY

    return HUEY


def is_periodic(task) -> bool:
    return hasattr(task, "validate_datetime")


def on_signal(signal: str, task, *args) -> None:
    """Huey signal handler (connected in CoreConfig.ready): time each run, log it, and keep
    the last run of periodic jobs. Never raises: a bookkeeping failure must not fail a job."""
    try:
        if signal == SIGNAL_EXECUTING:
            with _started_lock:
                _started[task.id] = time.perf_counter()
            return
        with _started_lock:
            started = _started.pop(task.id, None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else 0.0
        outcome = "complete" if signal == SIGNAL_COMPLETE else "error"
        level = logging.INFO if outcome == "complete" else logging.WARNING
        error = type(args[0]).__name__ if args and isinstance(args[0], BaseException) else None
        log.log(
            level,
            "job %s %s in %.1f ms",
            task.name,
            outcome,
            duration_ms,
            extra={
                "task": task.name,
                "task_id": task.id,
                "duration_ms": duration_ms,
                "outcome": outcome,
                "error": error,
            },
        )
        if is_periodic(task):
            record_run(task.name, outcome=outcome, duration_ms=duration_ms)
    except Exception:
        log.warning("job %s: run not recorded", getattr(task, "name", task), exc_info=True)


def connect() -> None:
    _huey().signal(SIGNAL_EXECUTING, SIGNAL_COMPLETE, SIGNAL_ERROR)(on_signal)


def record_run(name: str, *, outcome: str, duration_ms: float, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    previous = last_run(name)
    last_success = now.isoformat() if outcome == "complete" else (previous.last_success_at if previous else None)
    run = JobRun(name, now.isoformat(), outcome, duration_ms, last_success)
    _huey().put(KEY_PREFIX + name, asdict(run))


def last_run(name: str) -> JobRun | None:
    stored = _huey().get(KEY_PREFIX + name, peek=True)
    return JobRun(**stored) if isinstance(stored, dict) else None


def _last_due(task, now: datetime) -> datetime | None:
    """The latest minute at or before `now` at which huey's scheduler would have started the
    job (crontab validators answer minute by minute), within the last day."""
    minute = now.replace(second=0, microsecond=0, tzinfo=None)  # huey compares naive UTC
    earliest = minute - _LOOKBACK
    while minute >= earliest:
        if task.validate_datetime(minute):
            return minute.replace(tzinfo=UTC)
        minute -= timedelta(minutes=1)
    return None


def periodic_jobs(now: datetime | None = None) -> list[dict]:
    """Every periodic job with its last run and whether it is overdue or last failed."""
    now = now or datetime.now(UTC)
    # A web process imports a tasks module only when something enqueues from it; the consumer
    # imports them all at start. List every job, as the consumer knows them.
    autodiscover_modules("tasks")
    jobs = []
    for task in sorted(_huey()._registry.periodic_tasks, key=lambda t: t.name):
        run = last_run(task.name)
        # The latest run that should have finished by now (started at least the grace ago).
        due = _last_due(task, now - OVERDUE_GRACE)
        finished = datetime.fromisoformat(run.finished_at) if run else None
        overdue = due is not None and (finished is None or finished < due)
        if run is None:
            state = "never_run"
        elif run.outcome == "error":
            state = "failed"
        elif overdue:
            state = "overdue"
        else:
            state = "ok"
        jobs.append(
            {
                "name": task.name,
                "state": state,
                "last_run": run.finished_at if run else None,
                "last_outcome": run.outcome if run else None,
                "last_success": run.last_success_at if run else None,
                "duration_ms": run.duration_ms if run else None,
                "overdue": overdue,
            }
        )
    return jobs
