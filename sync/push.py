"""Apply a batch of queued mutations from one client, in order, each exactly once.

Each mutation runs in its own transaction together with the client's `last_mutation_id` and the
record of its outcome, so a crash halfway through a batch leaves the applied prefix applied once
and the rest to be pushed again. Outcomes:
  applied    the service ran; its result is returned
  refused    the service (or validation) refused it for good; recorded, the id advances
  duplicate  the id was processed before; the first outcome is returned again, nothing runs
  gap        the id skips ahead of the next expected one; the batch stops, nothing runs
  retry      a temporary failure (database busy, unexpected error); the batch stops, the id
             does not advance, and the client pushes it again later
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Now
from django.http import Http404
from rest_framework.exceptions import ValidationError

from backend.core.errors import DomainError, Forbidden, flatten_detail
from backend.core.events import held_back
from sync import mutations
from sync.models import MutationOutcome, SyncClient, SyncMutation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedMutation:
    id: int
    name: str
    args: object


class _Temporary(Exception):
    pass


def client_for(user, client_id: uuid.UUID) -> SyncClient:
    """The user's client record, created on first use. A client id belongs to the user who
    first pushed with it; anyone else presenting it is refused."""
    client = SyncClient.objects.filter(client_id=client_id).first()
    if client is None:
        try:
            with transaction.atomic():
                client = SyncClient.objects.create(client_id=client_id, user=user)
        except IntegrityError:  # two first pushes at once
            client = SyncClient.objects.get(client_id=client_id)
    if client.user_id != user.pk:
        raise Forbidden("foreign_client", "This client id belongs to another account. Start a new one.")
    return client


def push(*, user, client_id: uuid.UUID, queued: list[QueuedMutation]) -> dict:
    client = client_for(user, client_id)
    results = []
    with held_back():  # the batch's live events leave together, after it
        for mutation in queued:
            try:
                result = _apply_one(user, client.pk, mutation)
            except _Temporary as exc:
                results.append({"id": mutation.id, "status": "retry", "error": {"code": "retry", "message": str(exc)}})
                break
            results.append(result)
            if result["status"] == "gap":
                break
    last = SyncClient.objects.values_list("last_mutation_id", flat=True).get(pk=client.pk)
    return {"client_id": str(client_id), "last_mutation_id": last, "results": results}


def _apply_one(user, client_pk: int, mutation: QueuedMutation) -> dict:
    try:
        with transaction.atomic():
            # The lock orders concurrent pushes of one client (two tabs replaying at once).
            client = SyncClient.objects.select_for_update().get(pk=client_pk)
            early = _out_of_turn(client, mutation)
            if early is not None:
                return early
            result = mutations.run(user, mutation.name, mutation.args)
            _record(client, mutation, MutationOutcome.APPLIED, result=result)
            return {"id": mutation.id, "status": MutationOutcome.APPLIED, "result": result}
    except (DomainError, ValidationError, Http404, PermissionDenied) as exc:
        error = _refusal(exc)  # the transaction rolled back whatever the mutation wrote
    except DatabaseError as exc:
        log.warning("sync mutation %s of client %s hit a database error", mutation.id, client_pk, exc_info=True)
        raise _Temporary("The server is busy; this change will be sent again.") from exc
    except Exception as exc:  # a bug must not eat the user's action: keep it queued
        log.exception("sync mutation %s (%s) crashed", mutation.id, mutation.name)
        raise _Temporary("Something went wrong on our side; this change will be sent again.") from exc
    try:
        with transaction.atomic():
            client = SyncClient.objects.select_for_update().get(pk=client_pk)
            early = _out_of_turn(client, mutation)  # another tab recorded it meanwhile
            if early is not None:
                return early
            _record(client, mutation, MutationOutcome.REFUSED, error=error)
    except DatabaseError as exc:
        raise _Temporary("The server is busy; this change will be sent again.") from exc
    return {"id": mutation.id, "status": MutationOutcome.REFUSED, "result": {}, "error": error}


def _out_of_turn(client: SyncClient, mutation: QueuedMutation) -> dict | None:
    expected = client.last_mutation_id + 1
    if mutation.id < expected:
        return _duplicate(client, mutation)
    if mutation.id > expected:
        return {
            "id": mutation.id,
            "status": "gap",
            "expected": expected,
            "error": {"code": "mutation_gap", "message": f"Mutation {expected} must come first."},
        }
    return None


def _record(client: SyncClient, mutation: QueuedMutation, outcome: str, *, result=None, error=None) -> None:
    error = error or {}
    SyncMutation.objects.create(
        client=client,
        mutation_id=mutation.id,
        name=str(mutation.name)[:60],
        outcome=outcome,
        result=result or {},
        error_code=error.get("code", ""),
        error_message=error.get("message", "")[:300],
    )
    SyncClient.objects.filter(pk=client.pk).update(last_mutation_id=mutation.id, last_seen_at=Now())


def _refusal(exc: Exception) -> dict:
    if isinstance(exc, DomainError):
        return exc.as_dict()
    if isinstance(exc, ValidationError):
        return {"code": "invalid", "message": "Some details are not valid.", "fields": flatten_detail(exc.detail)}
    if isinstance(exc, Http404):
        return {"code": "not_found", "message": "That item no longer exists."}
    return {"code": "forbidden", "message": "You cannot do this."}


def _duplicate(client: SyncClient, mutation: QueuedMutation) -> dict:
    record = SyncMutation.objects.filter(client=client, mutation_id=mutation.id).first()
    body = {"id": mutation.id, "status": "duplicate"}
    if record is not None:
        body["outcome"] = record.outcome
        body["result"] = record.result
        if record.error_code:
            body["error"] = {"code": record.error_code, "message": record.error_message}
    return body
