"""The audit log's only writer."""

from __future__ import annotations

from backend.accounts.models import AuditEvent


def client_ip(request) -> str | None:
    from backend.core.net import client_ip as address

    return address(request) if request is not None else None


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
