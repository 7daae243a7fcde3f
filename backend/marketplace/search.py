"""Word-prefix search over sessions, backed by SessionSearchTerm."""

from __future__ import annotations

import re

from django.db.models import Exists, OuterRef, QuerySet

from backend.marketplace.models import Session, SessionSearchTerm

WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Above this many matches a word is common: walking upcoming sessions in start order finds a
# page of them quickly, so an id list would only cost more.
SPARSE_LIMIT = 5000
DESCRIPTION_WORDS = 80  # the start of a description says what it is about; keep the index small


def words(text: str) -> list[str]:
    return [w[:40] for w in WORD.findall(text.casefold())]


def terms_for(session: Session, mentor_name: str, domain_name: str) -> set[str]:
    text = " ".join([session.title, " ".join(session.topics or []), mentor_name, domain_name])
    return set(words(text)) | set(words(session.description or "")[:DESCRIPTION_WORDS])


def index_session(session: Session) -> None:
    terms = terms_for(session, session.mentor.full_name, session.domain.name)
    SessionSearchTerm.objects.filter(session=session).exclude(term__in=terms).delete()
    existing = set(SessionSearchTerm.objects.filter(session=session).values_list("term", flat=True))
    SessionSearchTerm.objects.bulk_create(SessionSearchTerm(session=session, term=t) for t in terms - existing)


def _ids_with_prefix(word: str) -> set[int] | None:
    """Session ids having a term that starts with `word`, or None when the word is common."""
    ids = list(
        SessionSearchTerm.objects.filter(term__gte=word, term__lt=word + "\U0010ffff").values_list(
            "session_id", flat=True
        )[: SPARSE_LIMIT + 1]
    )
    return None if len(ids) > SPARSE_LIMIT else set(ids)


def filter_text(qs: QuerySet, text: str) -> QuerySet:
    """Sessions having, for every word of `text`, a term starting with it."""
    sparse: set[int] | None = None
    for word in words(text)[:5]:
        ids = _ids_with_prefix(word)
        if ids is None:  # common word: checked per row while walking sessions in start order
            qs = qs.filter(
                Exists(
                    SessionSearchTerm.objects.filter(
                        session=OuterRef("pk"), term__gte=word, term__lt=word + "\U0010ffff"
                    )
                )
            )
        else:
            sparse = ids if sparse is None else sparse & ids
    return qs if sparse is None else qs.filter(pk__in=sparse)
