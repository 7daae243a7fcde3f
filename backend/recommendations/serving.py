"""Ranking upcoming sessions for one learner: mentor scores from the newest ALS artefact (the
learner's vector recalculated from their log when they did something since training), blended
with topic match to their interests and with popularity, which carry more weight the less the
learner has done. Sessions are ranked from a per-process catalogue of bookable sessions, and what
is returned is always re-checked against the database: not booked, not full, not past, public,
mentor active and approved."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from scipy.sparse import csr_matrix

from backend.accounts.models import ApprovalState, Role
from backend.marketplace.models import BookingState, Domain, Session, SessionState
from backend.marketplace.selectors import with_seats
from backend.recommendations import training
from backend.recommendations.models import Interaction, Kind
from backend.recommendations.signals import cache_key, weight_of

log = logging.getLogger(__name__)
CANDIDATES = 40  # ranked and cached per learner; a page shows the first bookable ones
PER_MENTOR = 2  # one mentor's many sessions must not fill the carousel
HISTORY = 200  # the learner's most recent interactions read per ranking
COLD_START_WEIGHT = 8.0  # two bookings: then the model and the learner's own signals lead
POPULAR_DAYS = 30


# --- the model ------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    version: str
    trained_at: float
    user_index: dict[int, int]
    item_ids: np.ndarray
    item_index: dict[int, int]
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_unit: np.ndarray  # item factors scaled to length one, for "similar mentor" reasons
    popularity: np.ndarray
    als: object

    @classmethod
    def load(cls, version: str) -> LoadedModel:
        path = training.model_dir() / f"{version}{training.ARTEFACT_SUFFIX}"
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays["meta"]))
        params = training.Params(**meta["params"])
        item_factors = arrays["item_factors"].astype(np.float32)
        user_factors = arrays["user_factors"].astype(np.float32)
        if item_factors.shape[1] != params.factors or len(item_factors) != len(arrays["item_ids"]):
            raise ValueError("artefact arrays do not match")
        als = training.new_model(params, threads=1)  # one learner at a time: no thread pool
        als.item_factors, als.user_factors = item_factors, user_factors
        als.YtY  # noqa: B018  computed once here, not on the first request
        norms = np.linalg.norm(item_factors, axis=1, keepdims=True)
        return cls(
            version=version,
            trained_at=float(meta["trained_at"]),
            user_index={int(u): row for row, u in enumerate(arrays["user_ids"].tolist())},
            item_ids=arrays["item_ids"],
            item_index={int(m): col for col, m in enumerate(arrays["item_ids"].tolist())},
            user_factors=user_factors,
            item_factors=item_factors,
            item_unit=item_factors / np.maximum(norms, 1e-6),
            popularity=arrays["popularity"].astype(np.float32),
            als=als,
        )


class _ModelStore:
    """The newest artefact, looked for at most every RELOAD_SECONDS: a new training run is
    served without a restart. Missing or unreadable → None (the fallback ranking), logged once
    per version."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._model: LoadedModel | None = None
        self._checked_at = float("-inf")
        self._bad_version: str | None = ""

    def current(self) -> LoadedModel | None:
        if time.monotonic() - self._checked_at < settings.RECOMMENDATIONS_RELOAD_SECONDS:
            return self._model
        with self._lock:
            self._checked_at = time.monotonic()
            version = training.latest_version()
            if version is None:
                if self._bad_version is not None:
                    log.warning("no recommendations model on disk; serving the fallback ranking")
                self._model, self._bad_version = None, None
            elif (self._model is None or self._model.version != version) and version != self._bad_version:
                try:
                    self._model = LoadedModel.load(version)
                    self._bad_version = ""
                except Exception:
                    log.exception("recommendations model %s unreadable; serving the fallback ranking", version)
                    self._model, self._bad_version = None, version
            return self._model


models = _ModelStore()


# --- the bookable catalogue -------------------------------------------------------------------------
@dataclass
class Catalogue:
    built_at: float
    session_ids: np.ndarray
    mentor_ids: np.ndarray
    domain_ids: np.ndarray
    full: np.ndarray
    by_topic: dict[str, np.ndarray]
    domain_names: dict[int, str]
    popularity: np.ndarray  # recent interaction weight per session's mentor, for the fallback
    _columns: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def columns(self, model: LoadedModel) -> tuple[np.ndarray, np.ndarray]:
        """Each session's mentor column in the model, and whether the model knows that mentor."""
        if model.version not in self._columns:
            cols = np.searchsorted(model.item_ids, self.mentor_ids)
            cols = np.clip(cols, 0, max(len(model.item_ids) - 1, 0))
            known = model.item_ids[cols] == self.mentor_ids if len(model.item_ids) else cols < 0
            self._columns = {model.version: (cols, known)}
        return self._columns[model.version]

    @classmethod
    def build(cls) -> Catalogue:
        now = timezone.now()
        rows = list(
            with_seats(
                Session.objects.filter(
                    is_private=False,
                    state=SessionState.SCHEDULED,
                    starts_at__gt=now,
                    mentor__is_active=True,
                    mentor__mentor_profile__approval_state=ApprovalState.APPROVED,
                )
            )
            .order_by("starts_at", "pk")
            .values_list("pk", "mentor_id", "domain_id", "topics", "capacity", "seats_taken")
        )
        by_topic: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            for topic in row[3] or []:
                by_topic.setdefault(str(topic).strip().lower(), []).append(index)
        mentor_ids = np.array([r[1] for r in rows], dtype=np.int64)
        recent = (
            Interaction.objects.filter(created_at__gte=now - timedelta(days=POPULAR_DAYS))
            .order_by()
            .values_list("mentor_id", "kind", "value")
            .annotate(n=Count("id"))
        )
        weight: dict[int, float] = {}
        for mentor, kind, value, n in recent:
            weight[mentor] = weight.get(mentor, 0.0) + weight_of(kind, value) * n
        popular = np.log1p(np.array([weight.get(int(m), 0.0) for m in mentor_ids], dtype=np.float32))
        return cls(
            built_at=time.monotonic(),
            session_ids=np.array([r[0] for r in rows], dtype=np.int64),
            mentor_ids=mentor_ids,
            domain_ids=np.array([r[2] for r in rows], dtype=np.int64),
            full=np.array([r[5] >= r[4] for r in rows], dtype=bool),
            by_topic={topic: np.array(found) for topic, found in by_topic.items()},
            domain_names=dict(Domain.objects.values_list("pk", "name")),
            popularity=popular / popular.max() if len(popular) and popular.max() > 0 else popular,
        )


class _CatalogueStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._catalogue: Catalogue | None = None
        self._cards: dict[int, Session] = {}
        self._cards_of: Catalogue | None = None

    def reset(self) -> None:
        self._catalogue = None
        self._cards, self._cards_of = {}, None

    def cards(self, ids: list[int]) -> dict[int, Session]:
        """Sessions with what a card shows (title, topics, times, price, mentor, category),
        kept as long as the catalogue they were ranked from: a title edited meanwhile shows
        within RECOMMENDATIONS_CATALOGUE_SECONDS. Seats are never taken from here."""
        catalogue = self.current()  # also on the warm path, so cards age with the catalogue
        if self._cards_of is not catalogue:
            self._cards, self._cards_of = {}, catalogue
        cards = self._cards
        missing = [pk for pk in ids if pk not in cards]
        if missing:
            found = Session.objects.filter(pk__in=missing).select_related("mentor__mentor_profile", "domain")
            cards.update((session.pk, session) for session in found.only(*CARD_FIELDS).order_by())
        return {pk: cards[pk] for pk in ids if pk in cards}

    def current(self) -> Catalogue:
        found = self._catalogue
        if found is None or time.monotonic() - found.built_at >= settings.RECOMMENDATIONS_CATALOGUE_SECONDS:
            with self._lock:
                found = self._catalogue
                if found is None or time.monotonic() - found.built_at >= settings.RECOMMENDATIONS_CATALOGUE_SECONDS:
                    found = self._catalogue = Catalogue.build()
        return found


catalogues = _CatalogueStore()


def reset() -> None:
    """Forget the loaded model and catalogue (tests; a deploy's warm-up)."""
    models.reset()
    catalogues.reset()


# --- reasons ----------------------------------------------------------------------------------------
def _quoted(title: str | None) -> str:
    return f"“{title}”" if title else "a session"


def reason_for(kind: str, *, title: str | None, mentor: str, value: int = 0) -> str:
    return {
        Kind.BOOKED: f"Because you booked {_quoted(title)}",
        Kind.ATTENDED: f"Because you attended {_quoted(title)}",
        Kind.RATED: f"Because you rated {_quoted(title)} {value}★",
        Kind.TIPPED: f"Because you tipped {mentor}",
        Kind.FOLLOWED: f"Because you follow {mentor}",
        Kind.REQUESTED: f"Because you asked {mentor} for a session",
        Kind.VIEWED_SESSION: f"Because you looked at {_quoted(title)}",
        Kind.VIEWED_MENTOR: f"Because you looked at {mentor}’s profile",
    }.get(kind, "Picked for you")


POPULAR_REASON = "Popular with learners right now"


# --- ranking ----------------------------------------------------------------------------------------
@dataclass
class Profile:
    """What one learner did, summed per mentor, with the strongest act per mentor for reasons."""

    weight: dict[int, float]
    strongest: dict[int, tuple[float, str, str | None, str, int]]
    topics: set[str]
    domains: dict[int, float]
    booked_sessions: set[int]
    latest: float
    interests: dict[int, str]

    @property
    def total(self) -> float:
        return sum(self.weight.values())


# The learner's recent history and interests, in SQL written once for the same reason as the
# eligibility check below: the ORM spent longer composing these joins than the database answering.
_HISTORY_SQL = """
SELECT i.mentor_id, i.kind, i.value, i.session_id, s.title, s.topics, s.domain_id, u.full_name, i.created_at
FROM recommendations_interaction i
JOIN accounts_user u ON u.id = i.mentor_id
LEFT JOIN marketplace_session s ON s.id = i.session_id
WHERE i.learner_id = %s
ORDER BY i.created_at DESC
LIMIT %s
"""
_INTERESTS_SQL = """
SELECT d.id, d.name
FROM marketplace_domain d
JOIN accounts_learnerprofile_interests li ON li.domain_id = d.id
JOIN accounts_learnerprofile lp ON lp.id = li.learnerprofile_id
WHERE lp.user_id = %s
"""


def profile_of(learner) -> Profile:
    topics_field = Session._meta.get_field("topics")
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL, [learner.pk, HISTORY])
        history = cursor.fetchall()
        cursor.execute(_INTERESTS_SQL, [learner.pk])
        interests = dict(cursor.fetchall())
    weight: dict[int, float] = {}
    strongest: dict[int, tuple] = {}
    topics: set[str] = set()
    domains: dict[int, float] = {}
    booked: set[int] = set()
    latest = 0.0
    for mentor, kind, value, session, title, session_topics, domain, name, created_at in history:
        if latest == 0.0:  # newest first
            latest = _aware(created_at).timestamp()
        w = weight_of(kind, value)
        weight[mentor] = weight.get(mentor, 0.0) + w
        if mentor not in strongest or w > strongest[mentor][0]:
            strongest[mentor] = (w, kind, title, name, value)
        if kind == Kind.BOOKED and session:
            booked.add(session)
        if w >= 1:  # a booking or more says something about topics; a glance does not
            # JSON text from a raw cursor (psycopg 3 too, as Django sets it up): the field decodes it.
            session_topics = topics_field.from_db_value(session_topics, None, connection)
            topics.update(str(t).strip().lower() for t in session_topics or [])
            if domain:
                domains[domain] = domains.get(domain, 0.0) + w
    return Profile(weight, strongest, topics, domains, booked, latest, interests)


def _aware(moment):
    """A raw query's datetime: aware on PostgreSQL, naive UTC from SQLite."""
    if isinstance(moment, str):
        moment = parse_datetime(moment)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def _user_vector(learner_id: int, profile: Profile, model: LoadedModel) -> np.ndarray | None:
    row = model.user_index.get(learner_id)
    if row is not None and profile.latest <= model.trained_at:
        return model.user_factors[row]
    # New interactions since training (or a learner the model never saw): ALS solves this one
    # learner's vector against the fixed mentor factors, no retraining.
    known = [(model.item_index[m], w) for m, w in profile.weight.items() if w > 0 and m in model.item_index]
    if not known:
        return None
    cols, weights = zip(*sorted(known), strict=True)
    items = csr_matrix(
        (np.log1p(np.array(weights, dtype=np.float32)), (np.zeros(len(cols), dtype=np.int32), np.array(cols))),
        shape=(1, len(model.item_ids)),
    )
    return model.als.recalculate_user(0, items)


class _Explainer:
    """Which of the learner's own mentors a recommended mentor is most like (factor cosine,
    weighted by how much the learner did with them): the act behind "because you …"."""

    def __init__(self, profile: Profile, model: LoadedModel):
        self.profile, self.model = profile, model
        mine = [(m, w) for m, w in profile.weight.items() if w > 0 and m in model.item_index]
        self.mentors = [m for m, _ in mine]
        self.units = model.item_unit[[model.item_index[m] for m in self.mentors]] if mine else None
        self.log_weights = np.log1p(np.array([w for _, w in mine], dtype=np.float32))

    def reason(self, mentor_id: int) -> str | None:
        if self.units is None or mentor_id not in self.model.item_index:
            return None
        similarity = (self.units @ self.model.item_unit[self.model.item_index[mentor_id]]) * self.log_weights
        _, kind, title, name, value = self.profile.strongest[self.mentors[int(np.argmax(similarity))]]
        return reason_for(kind, title=title, mentor=name, value=value)


def rank(learner, model: LoadedModel | None, catalogue: Catalogue) -> list[tuple[int, str, float]]:
    """[(session id, reason, score)] best first, at most CANDIDATES."""
    profile = profile_of(learner)
    n = len(catalogue.session_ids)
    if not n:
        return []
    cf = np.zeros(n, dtype=np.float32)
    excluded = catalogue.full | np.isin(catalogue.session_ids, list(profile.booked_sessions))
    vector = _user_vector(learner.pk, profile, model) if model is not None and profile.weight else None
    if model is not None:
        cols, known = catalogue.columns(model)
        popularity = np.where(known, model.popularity[cols], 0.0)
        if vector is not None:
            # Score each mentor once, then spread to their sessions: gathering every session's
            # factor row first would copy a few MB per request.
            raw = np.where(known, (model.item_factors @ vector)[cols], 0.0)
            top = raw[~excluded].max() if (~excluded).any() else 0.0  # scaled among what can be shown
            cf = np.clip(raw / top, 0, 1) if top > 0 else cf
    else:
        popularity = catalogue.popularity
    interest = np.isin(catalogue.domain_ids, list(profile.interests)).astype(np.float32)
    explored = np.zeros(n, dtype=np.float32)
    if profile.domains:
        top_domain = max(profile.domains.values())
        for domain, w in profile.domains.items():
            explored[catalogue.domain_ids == domain] = w / top_domain
    topic_hits = np.zeros(n, dtype=np.float32)
    for topic in profile.topics:
        found = catalogue.by_topic.get(topic)
        if found is not None:
            topic_hits[found] += 1
    match = 0.6 * interest + 0.25 * explored + 0.15 * np.minimum(topic_hits, 2) / 2
    # Cold start: the fewer signals, the more interests and popularity decide.
    trust = profile.total / (profile.total + COLD_START_WEIGHT) if vector is not None else 0.0
    cf_part = trust * cf
    match_part = (1 - trust) * 0.65 * match + 0.1 * match
    pop_part = (1 - trust) * 0.35 * popularity
    score = cf_part + match_part + pop_part
    score -= np.arange(n, dtype=np.float32) * 1e-7  # ties: the sooner session first
    score[excluded] = -np.inf
    shortlist = min(CANDIDATES * 4, n)
    top = np.argpartition(-score, shortlist - 1)[:shortlist]  # no full sort of the catalogue
    order = top[np.argsort(-score[top], kind="stable")]
    picked: list[tuple[int, str, float]] = []
    per_mentor: dict[int, int] = {}
    explainer = _Explainer(profile, model) if vector is not None else None
    for index in order.tolist():
        if not np.isfinite(score[index]) or len(picked) == CANDIDATES:
            break
        mentor = int(catalogue.mentor_ids[index])
        if per_mentor.get(mentor, 0) >= PER_MENTOR:
            continue
        per_mentor[mentor] = per_mentor.get(mentor, 0) + 1
        reason = None
        if mentor in profile.strongest:  # their own history with this mentor says it best
            _, kind, title, name, value = profile.strongest[mentor]
            reason = reason_for(kind, title=title, mentor=name, value=value)
        elif cf_part[index] > 0 and cf_part[index] >= max(match_part[index], pop_part[index]):
            reason = explainer.reason(mentor)
        if reason is None:
            reason = _match_reason(index, profile, catalogue, interest, explored, topic_hits)
        picked.append((int(catalogue.session_ids[index]), reason, round(float(score[index]), 5)))
    return picked


def _match_reason(index, profile, catalogue, interest, explored, topic_hits) -> str:
    domain = int(catalogue.domain_ids[index])
    if interest[index]:
        return f"Matches your interest in {catalogue.domain_names.get(domain, 'this topic')}"
    if topic_hits[index]:
        return "Similar topics to sessions you booked"
    if explored[index]:
        return f"More {catalogue.domain_names.get(domain, 'of what you explored')}, like sessions you booked"
    return POPULAR_REASON


# --- the door ---------------------------------------------------------------------------------------
@dataclass
class Recommendation:
    session: Session
    reason: str
    score: float


@dataclass
class Recommendations:
    items: list[Recommendation]
    model_version: str | None

    @property
    def fallback(self) -> bool:
        return self.model_version is None


# What a card and the API show, and what eligibility reads: no descriptions, bios or passwords.
CARD_FIELDS = (
    "id",
    "title",
    "topics",
    "starts_at",
    "duration_minutes",
    "price_paise",
    "capacity",
    "state",
    "is_private",
    "room_code",
    "mentor_id",
    "domain_id",
    "mentor__id",
    "mentor__full_name",
    "mentor__is_active",
    "mentor__is_demo",
    "mentor__mentor_profile__id",
    "mentor__mentor_profile__approval_state",
    "domain__id",
    "domain__name",
    "domain__slug",
    "domain__icon",
)


# The final eligibility check, in SQL written once: building the same check with the ORM took
# 4 ms a request, eight times what the database spends answering it. The conditions sit in the
# SELECT list, not in WHERE, so the planner reads the few ranked ids by primary key (with them in
# WHERE, SQLite walks the (state, starts_at) index over every upcoming session instead).
_HOLDS_SEAT = "(b.state = %s OR (b.state = %s AND b.hold_expires_at > %s))"
_ELIGIBILITY_SQL = f"""
SELECT s.id, s.capacity,
       (SELECT COUNT(*) FROM marketplace_booking b WHERE b.session_id = s.id AND {_HOLDS_SEAT}) AS taken,
       (s.state = %s AND NOT s.is_private AND s.starts_at > %s AND s.mentor_id <> %s
        AND u.is_active AND p.approval_state = %s
        AND NOT EXISTS (SELECT 1 FROM marketplace_booking b
                        WHERE b.session_id = s.id AND b.learner_id = %s AND {_HOLDS_SEAT})) AS open
FROM marketplace_session s
JOIN accounts_user u ON u.id = s.mentor_id
LEFT JOIN accounts_mentorprofile p ON p.user_id = u.id
WHERE s.id IN ({{ids}})
"""


def _eligible_seats(learner, ids: list[int]) -> dict[int, int]:
    """{session id: seats taken} for those of `ids` the learner can book now."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    held = (BookingState.CONFIRMED, BookingState.HELD, now)
    params = [*held, SessionState.SCHEDULED, now, learner.pk, ApprovalState.APPROVED, learner.pk, *held, *ids]
    with connection.cursor() as cursor:
        cursor.execute(_ELIGIBILITY_SQL.format(ids=", ".join(["%s"] * len(ids))), params)
        return {pk: taken for pk, capacity, taken, open_ in cursor.fetchall() if open_ and capacity > taken}


def _bookable(learner, ids: list[int], limit: int) -> dict[int, Session]:
    """The first `limit` of the ranked ids the learner can still book (not booked, not full, not
    past, public, mentor active and approved), as sessions with what a card shows. Checked
    against the database every time; the card's words come from the catalogue's card cache."""
    if not ids:
        return {}
    seats = _eligible_seats(learner, ids)
    chosen = [pk for pk in ids if pk in seats][:limit]
    cards = catalogues.cards(chosen)
    shown = {}
    for pk in chosen:
        if pk in cards:
            # A copy per request: the cached instance is shared between threads.
            session = copy.copy(cards[pk])
            session.seats_taken = seats[pk]
            shown[pk] = session
    return shown


def recommend(learner, *, limit: int = 10) -> Recommendations:
    """Up to `limit` sessions `learner` can book now, best first, each with a reason. Never
    raises for a missing or broken model: that is the fallback ranking (logged by the store)."""
    if getattr(learner, "role", None) != Role.LEARNER:
        return Recommendations([], None)
    model = models.current()
    version = model.version if model is not None else None
    key = cache_key(learner.pk)
    cached = cache.get(key)
    fresh = not (cached and cached.get("version") == version)
    ranked = rank(learner, model, catalogues.current()) if fresh else cached["items"]
    if fresh:
        cache.set(key, {"version": version, "items": ranked}, settings.RECOMMENDATIONS_CACHE_SECONDS)
    sessions = _bookable(learner, [sid for sid, _, _ in ranked], limit)
    if not fresh and len(sessions) < min(limit, len(ranked)):
        # Cached picks got booked or filled up meanwhile: rank again.
        ranked = rank(learner, model, catalogues.current())
        cache.set(key, {"version": version, "items": ranked}, settings.RECOMMENDATIONS_CACHE_SECONDS)
        sessions = _bookable(learner, [sid for sid, _, _ in ranked], limit)
    items = [Recommendation(sessions[sid], reason, score) for sid, reason, score in ranked if sid in sessions]
    return Recommendations(items[:limit], version)
