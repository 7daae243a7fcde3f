"""Liveness (/healthz), readiness (/readyz) and the admin health page.

/healthz answers as long as the process serves requests and touches nothing else, so a
supervisor restarts only a process that is truly stuck. /readyz checks what a request needs
(database, cache, channel layer, the huey queue's storage) and answers 503 naming the failing
part, so a load balancer stops sending traffic to a process that cannot serve it.

Both are public, so they say what is wrong and never where or why in detail: a check's failure
is reported as the exception's class name, never its message (which may name hosts or users).

The queue depth and the periodic jobs' last runs are reported but do not make a web process
unready: taking every web process out of the load balancer because a consumer is behind or a
nightly job failed would turn a background problem into an outage. They show as `warnings`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from backend.core import jobs_status
from backend.core.access import Rule, page

CHECK_TIMEOUT_SECONDS = 3
# More tasks waiting than this is worth a warning (the consumers are not keeping up).
QUEUE_WARN_DEPTH = 500
CHECK_LABELS = {"database": "Database", "cache": "Cache", "channel_layer": "Live updates", "queue": "Job queue"}


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = check() or {}
        ok = True
    except Exception as exc:  # reported by class name only, see the module docstring
        result, ok = {"error": type(exc).__name__}, False
    return {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 1), **result}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = f"readyz.{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise LookupError("cache did not keep a value")
    cache.delete(key)


def _channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise LookupError("no channel layer")

    async def probe():
        # A group send to a group nobody joined: one real round trip to the layer's backend.
        await asyncio.wait_for(layer.group_send("health.probe", {"type": "health.probe"}), CHECK_TIMEOUT_SECONDS)

    async_to_sync(probe)()


def _queue() -> dict:
    from huey.contrib.djhuey import HUEY

    return {"pending": HUEY.pending_count(), "scheduled": HUEY.scheduled_count()}


def readiness() -> dict:
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "channel_layer": _timed(_channel_layer),
        "queue": _timed(_queue),
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    jobs: list[dict] = []
    warnings: list[str] = []
    if checks["queue"]["ok"]:
        try:
            jobs = jobs_status.periodic_jobs()
        except Exception:
            warnings.append("jobs_unreadable")
        if checks["queue"]["pending"] > QUEUE_WARN_DEPTH:
            warnings.append("queue_backlog")
    warnings += [f"job_{job['state']}:{job['name']}" for job in jobs if job["state"] in ("failed", "overdue")]
    return {
        "status": "unavailable" if failing else "ok",
        "failing": failing,
        "warnings": warnings,
        "checks": checks,
        "jobs": jobs,
    }


@never_cache
@page(Rule.PUBLIC)
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@page(Rule.PUBLIC)
def readyz(request):
    report = readiness()
    return JsonResponse(report, status=503 if report["failing"] else 200)


def _parsed(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@page(Rule.ADMIN)
def admin_health(request):
    report = readiness()
    jobs = [
        {**job, "last_run_at": _parsed(job["last_run"]), "last_success_at": _parsed(job["last_success"])}
        for job in report["jobs"]
    ]
    checks = [(CHECK_LABELS[name], check) for name, check in report["checks"].items()]
    return render(request, "dashboards/admin_health.html", {"report": report, "checks": checks, "jobs": jobs})
