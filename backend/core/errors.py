"""Domain errors and the one place that turns them into HTTP answers.

Services raise DomainError with a stable code; every door (page, REST API, sync replay,
WebSocket) maps it the same way, so a client can branch on `code` and show `message`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A request the service refuses for good. `fields` maps form field -> message."""

    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, *, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class Conflict(DomainError):
    status = status.HTTP_409_CONFLICT


class Forbidden(DomainError):
    status = status.HTTP_403_FORBIDDEN


class TooManyAttempts(DomainError):
    status = status.HTTP_429_TOO_MANY_REQUESTS


def error_response(code: str, message: str, http_status: int, fields: dict | None = None) -> Response:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=http_status)


def flatten_detail(detail) -> dict[str, str]:
    """DRF validation detail -> {field: first message} (nested fields joined with '.')."""
    if isinstance(detail, list):
        return {"non_field_errors": str(detail[0])} if detail else {}
    flat: dict[str, str] = {}
    for key, value in detail.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in flatten_detail(value).items()})
        elif isinstance(value, list) and value:
            first = value[0]
            flat[key] = (
                str(first) if not isinstance(first, dict) else str(next(iter(flatten_detail(first).values()), ""))
            )
        else:
            flat[key] = str(value)
    return flat


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.status, exc.fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_detail(exc.detail)
        return error_response("invalid", "Some fields need attention.", response.status_code, fields)
    detail = getattr(exc, "detail", "")
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    if isinstance(detail, dict):
        # simplejwt puts its own dict here ({"detail", "code", "messages"}).
        code = str(detail.get("code", code))
        detail = detail.get("detail", "")
    response.data = {"error": {"code": str(code), "message": str(detail)}}
    return response
