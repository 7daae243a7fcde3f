"""Apply a batch of queued mutations from one client, in order, each exactly once.

Mutations are applied in chunks: each chunk is one transaction that also moves the client's
`last_mutation_id` and records every outcome, and each mutation in it runs in a savepoint, so a
refusal undoes only its own writes. Committing per chunk rather than per mutation saves a disk
flush per mutation on PostgreSQL while keeping locks short; a crash loses at most the chunk in
flight, which the client pushes again and which is then applied once. Outcomes:
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

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Now
from django.http import Http404
from rest_framework.exceptions import ValidationError

from backend.core.errors import DomainError, Forbidden, flatten_detail
from backend.core.events import held_back
from backend.notifications import services as notifications
from backend.recommendations import signals as interactions
from sync import changes, mutations
from sync.models import MutationOutcome, SyncClient, SyncMutation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedMutation:
    id: int
    name: str
    args: object


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
    results: list[dict] = []
    with held_back():  # the batch's live events leave together, after it
        for start in range(0, len(queued), settings.SYNC_COMMIT_EVERY):
            chunk_results, stopped = _apply_chunk(user, client.pk, queued[start : start + settings.SYNC_COMMIT_EVERY])
            results += chunk_results
            if stopped:
                break
    last = SyncClient.objects.values_list("last_mutation_id", flat=True).get(pk=client.pk)
    return {"client_id": str(client_id), "last_mutation_id": last, "results": results}


def _retry(mutation: QueuedMutation, message: str) -> dict:
    return {"id": mutation.id, "status": "retry", "error": {"code": "retry", "message": message}}


def _apply_chunk(user, client_pk: int, chunk: list[QueuedMutation]) -> tuple[list[dict], bool]:
    """(results, stopped). A database error aborts the whole chunk: nothing in it is applied
    and its first mutation is answered `retry`."""
    results: list[dict] = []
    try:
        # Notifications and interactions are built inside the change-log block: their change rows
        # join its insert. All three write once per chunk.
        with transaction.atomic(), changes.collected(), notifications.collected(), interactions.collected():
            # The lock orders concurrent pushes of one client (two tabs replaying at once).
            client = SyncClient.objects.select_for_update().get(pk=client_pk)
            last = client.last_mutation_id
            records = []
            for mutation in chunk:
                if mutation.id <= last:
                    results.append(_duplicate(client, mutation))
                    continue
                if mutation.id > last + 1:
                    results.append(_gap(mutation, last + 1))
                    break
                result = _run(user, mutation)
                if result["status"] == "retry":
                    results.append(result)
                    break
                records.append(_record(client, mutation, result))
                results.append(result)
                last = mutation.id
            SyncMutation.objects.append(records)
            if last != client.last_mutation_id:
                SyncClient.objects.filter(pk=client.pk).update(last_mutation_id=last, last_seen_at=Now())
    except DatabaseError:
        log.warning("sync push of client %s hit a database error", client_pk, exc_info=True)
        return [_retry(chunk[0], "The server is busy; these changes will be sent again.")], True
    stopped = bool(results) and results[-1]["status"] in ("gap", "retry")
    return results, stopped


def _run(user, mutation: QueuedMutation) -> dict:
    notified, logged = notifications.mark(), interactions.mark()
    try:
        with transaction.atomic():  # a savepoint: a refusal undoes only this mutation's writes
            result = mutations.run(user, mutation.name, mutation.args)
        return {"id": mutation.id, "status": MutationOutcome.APPLIED, "result": result}
    except (DomainError, ValidationError, Http404, PermissionDenied) as exc:
        # Nobody hears of, and the model does not learn from, what did not happen.
        notifications.discard_since(notified)
        interactions.discard_since(logged)
        return {"id": mutation.id, "status": MutationOutcome.REFUSED, "result": {}, "error": _refusal(exc)}
    except DatabaseError:
        raise  # the transaction may be unusable (PostgreSQL aborts it): the caller gives up the chunk
    except Exception:  # a bug must not eat the user's action: keep it queued
        notifications.discard_since(notified)
        interactions.discard_since(logged)
        log.exception("sync mutation %s (%s) crashed", mutation.id, mutation.name)
        return _retry(mutation, "Something went wrong on our side; this change will be sent again.")


def _gap(mutation: QueuedMutation, expected: int) -> dict:
    return {
        "id": mutation.id,
        "status": "gap",
        "expected": expected,
        "error": {"code": "mutation_gap", "message": f"Mutation {expected} must come first."},
    }


def _record(client: SyncClient, mutation: QueuedMutation, result: dict) -> SyncMutation:
    error = result.get("error", {})
    return SyncMutation(
        client=client,
        mutation_id=mutation.id,
        name=str(mutation.name)[:60],
        outcome=result["status"],
        result=result["result"],
        error_code=error.get("code", ""),
        error_message=error.get("message", "")[:300],
    )


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
