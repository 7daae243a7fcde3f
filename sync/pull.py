"""GET /api/sync/pull: everything that changed for the user since their cursor, or a full
snapshot when there is no usable cursor.

The cursor is signed and names its user, the last change id the client has seen and that
change's time. Change ids are handed out before their transactions commit, so a change with a
smaller id can become visible after a pull has moved past it; each pull therefore also re-reads
the changes made in the OVERLAP before the cursor's time (records are upserts, so a repeat is
harmless). This holds as long as no writing transaction runs longer than OVERLAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.utils import timezone

from backend.core.errors import DomainError
from sync import records
from sync.models import Change

SALT = "peerlearn.sync.cursor"
OVERLAP = timedelta(seconds=60)
COLLECTIONS = ("bookings", "sessions", "requests", "notifications")
KIND_OF = {"bookings": "booking", "sessions": "session", "requests": "request", "notifications": "notification"}


@dataclass(frozen=True)
class Cursor:
    last_id: int
    at: datetime | None


def _encode(user, cursor: Cursor) -> str:
    return signing.dumps(
        {"u": user.pk, "c": cursor.last_id, "t": cursor.at.timestamp() if cursor.at else None},
        salt=SALT,
        compress=False,
    )


def _decode(user, raw: str) -> Cursor:
    try:
        data = signing.loads(raw, salt=SALT)
    except signing.BadSignature:
        raise DomainError("invalid_cursor", "This sync cursor is not valid. Pull again without one.") from None
    if data.get("u") != user.pk:
        raise DomainError("invalid_cursor", "This sync cursor belongs to another account. Pull again without one.")
    at = datetime.fromtimestamp(data["t"], tz=UTC) if data.get("t") is not None else None
    return Cursor(last_id=int(data.get("c") or 0), at=at)


def _latest(user) -> Cursor:
    last = Change.objects.filter(user=user).order_by("-id").values_list("id", "created_at").first()
    return Cursor(last_id=last[0], at=last[1]) if last else Cursor(last_id=0, at=None)


def _usable(cursor: Cursor) -> bool:
    """Too old (its changes were pruned) or from the future (a restored database): start over."""
    if cursor.at is None:
        return False
    now = timezone.now()
    retention = timedelta(days=settings.SYNC_CHANGE_RETENTION_DAYS)
    if cursor.at < now - retention + OVERLAP or cursor.at > now + OVERLAP:
        return False
    newest = Change.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return cursor.last_id <= newest


def pull(*, user, raw_cursor: str | None) -> dict:
    cursor = _decode(user, raw_cursor) if raw_cursor else None
    if cursor is None or not _usable(cursor):
        return _snapshot(user)
    changes = list(
        Change.objects.filter(user=user)
        .filter(Q(id__gt=cursor.last_id) | Q(created_at__gte=cursor.at - OVERLAP))
        .order_by("id")
        .values_list("id", "kind", "object_id", "created_at")[: settings.SYNC_PULL_MAX_CHANGES + 1]
    )
    if len(changes) > settings.SYNC_PULL_MAX_CHANGES:
        return _snapshot(user)  # a long absence: one snapshot is cheaper than replaying the log
    changed: dict[str, set[int]] = {kind: set() for kind in (*KIND_OF.values(), "profile")}
    for _, kind, object_id, _ in changes:
        changed.setdefault(kind, set()).add(object_id)
    # A session change (cancelled, rescheduled) may have changed the learner's bookings of it.
    changed["booking"] |= set(records.bookings_of_sessions(user, changed["session"]))
    body = {"reset": False, "changes": {}}
    for collection in COLLECTIONS:
        ids = changed[KIND_OF[collection]]
        found = getattr(records, collection)(user, ids) if ids else []
        body["changes"][collection] = {
            "upsert": found,
            "delete": sorted(ids - {row["id"] for row in found}),
        }
    body["profile"] = records.profile(user) if changed["profile"] else None
    newest = max((c for c in changes if c[0] > cursor.last_id), default=None, key=lambda c: c[0])
    after = Cursor(last_id=newest[0], at=newest[3]) if newest else cursor
    body["cursor"] = _encode(user, after)
    return body


def _snapshot(user) -> dict:
    # The cursor is taken before the reads, so whatever commits meanwhile is pulled next time.
    cursor = _latest(user)
    if cursor.at is None:
        cursor = Cursor(last_id=cursor.last_id, at=timezone.now())
    return {
        "reset": True,
        "changes": {
            collection: {"upsert": getattr(records, collection)(user), "delete": []} for collection in COLLECTIONS
        },
        "profile": records.profile(user),
        "cursor": _encode(user, cursor),
    }
