"""Structured logs: a JSON formatter for the stdlib logging config (LOG_FORMAT=json), and a
middleware that logs one line per request (method, path, status, duration, user id).

Fields passed as `extra=` become keys of the JSON object, so the same call reads as a sentence
in the plain format and as queryable fields in the JSON one."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from django.utils.functional import empty

request_log = logging.getLogger("peerlearn.request")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Load balancers poll these every few seconds; a line each would drown the real traffic.
_QUIET_PATHS = {"/healthz", "/readyz"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the `extra=` fields, and the
    traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _user_id(request) -> int | None:
    """The user id if authentication already ran; never loads the user just to log it (that
    would add a query to every public page)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    if getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        status = 500  # what the client gets if the view raises past every handler
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            quiet = request.path in _QUIET_PATHS and status < 400
            request_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s %.1f ms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )
