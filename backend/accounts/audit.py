"""The audit log's only writer."""

from __future__ import annotations

from backend.accounts.models import AuditEvent


def client_ip(request) -> str | None:
    if request is None:
        return None
    # The proxy count setting is shared with axes, which already parses X-Forwarded-For safely.
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(getattr(request, "_request", request)) or None


def audit_record(*, action: str, actor=None, request=None, target=None, **data) -> AuditEvent:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=str(getattr(target, "pk", "")) if target is not None else "",
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        data=data,
    )
