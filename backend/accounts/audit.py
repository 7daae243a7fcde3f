"""The audit log's only writer."""

from __future__ import annotations

from backend.accounts.models import AuditEvent


def client_ip(request) -> str | None:
    from backend.core.net import client_ip as address

    return address(request) if request is not None else None


def _kind_of(target) -> str:
    # Through _meta, not type(): request.user is a lazy wrapper whose type says nothing.
    meta = getattr(target, "_meta", None)
    return meta.model_name if meta is not None else type(target).__name__.lower()


def audit_record(*, action: str, actor=None, request=None, target=None, **data) -> AuditEvent:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=_kind_of(target) if target is not None else "",
        target_id=str(getattr(target, "pk", "")) if target is not None else "",
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        data=data,
    )
