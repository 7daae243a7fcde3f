"""Word-prefix search over sessions, backed by SessionSearchTerm."""

from __future__ import annotations

import re

from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet

from backend.marketplace.models import Session, SessionSearchTerm, SessionState

WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Above this many matches a word is common: walking upcoming sessions in start order finds a
# page of them quickly, so an id list would only cost more.
SPARSE_LIMIT = 12000
DESCRIPTION_WORDS = 80  # the start of a description says what it is about; keep the index small
# How long a word's "common or rare" verdict is reused. Only the query plan depends on it, never
# the results, so a stale verdict costs a little speed at worst.
COMMONNESS_SECONDS = 15 * 60


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


def reindex_mentor_sessions(mentor) -> None:
    """After a mentor renames themselves: their sessions that can still be found."""
    sessions = Session.objects.filter(
        mentor=mentor, state__in=[SessionState.DRAFT, SessionState.SCHEDULED, SessionState.LIVE]
    ).select_related("mentor", "domain")
    for session in sessions:
        index_session(session)


def _terms(word: str) -> QuerySet:
    return SessionSearchTerm.objects.filter(term__gte=word, term__lt=word + "\U0010ffff")


def _is_common(word: str) -> bool:
    # Probes the covering (term, session) index only and stops after SPARSE_LIMIT entries; the
    # verdict is cached so a repeated search costs no extra query. (PostgreSQL could pick the plan
    # from its own statistics, but SQLite, built without STAT4, cannot tell a rare word from a
    # common one.)
    key = f"search:common:{word}"
    verdict = cache.get(key)
    if verdict is None:
        verdict = _terms(word)[SPARSE_LIMIT : SPARSE_LIMIT + 1].exists()
        cache.set(key, verdict, COMMONNESS_SECONDS)
    return verdict


def filter_text(qs: QuerySet, text: str) -> QuerySet:
    """Sessions having, for every word of `text`, a term starting with it.

    A rare word is resolved through the term index (the database looks the few sessions up by
    key); a common one is checked per row while walking upcoming sessions in start order, which
    finds a page of matches quickly.
    """
    for word in words(text)[:5]:
        if _is_common(word):
            qs = qs.filter(Exists(_terms(word).filter(session=OuterRef("pk"))))
        else:
            qs = qs.filter(pk__in=_terms(word).values("session_id"))
    return qs
