"""Synthetic interaction data with planted structure, for evaluation, tests and the benchmark.

Learners belong to communities; each community prefers a few domains and has favourite mentors;
mentor popularity is skewed (log-normal); tastes drift over time and some mentors join late.
Each "engagement" (a learner noticing a mentor) yields a view and, with decreasing probability,
a booking, attendance, a rating, a follow, a request or a tip, so the kinds co-occur as they do
on the site. A model that finds the communities should beat popularity; one that ignores time
is hurt by the drift, as a real one would be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from backend.recommendations.models import Kind
from backend.recommendations.signals import weight_of
from backend.recommendations.training import Dataset

KINDS = list(Kind.values)
SIZES = {  # learners, mentors, interactions
    "tiny": (300, 40, 4_000),
    "small": (5_000, 500, 100_000),
    "medium": (20_000, 2_000, 400_000),
    "bench": (100_000, 5_000, 2_000_000),
}
TIME_BUCKETS = 6
# (kind, probability given the previous step of the chain) after the view every engagement has.
CHAIN = {"book": 0.35, "attend": 0.8, "rate": 0.5, "tip": 0.12, "follow": 0.1, "request": 0.05}


@dataclass
class Synthetic:
    learners: np.ndarray  # learner index per interaction
    mentors: np.ndarray  # mentor index per interaction
    kinds: np.ndarray  # index into KINDS
    values: np.ndarray  # rating for "rated", else 0
    times: np.ndarray  # unix seconds
    n_learners: int
    n_mentors: int
    mentor_domain: np.ndarray
    learner_community: np.ndarray
    learner_interest: np.ndarray  # the domain a learner said they like (their community's first)
    n_domains: int

    def __len__(self) -> int:
        return len(self.learners)

    def weights(self) -> np.ndarray:
        table = np.array([[weight_of(kind, value) for value in range(6)] for kind in KINDS], dtype=np.float32)
        return table[self.kinds, self.values]

    def dataset(self) -> Dataset:
        return Dataset(self.learners.astype(np.int64), self.mentors.astype(np.int64), self.weights(), self.times)


def generate(
    n_learners: int,
    n_mentors: int,
    n_interactions: int,
    *,
    n_domains: int = 12,
    n_communities: int | None = None,
    days: int = 180,
    end: datetime | None = None,
    seed: int = 0,
    outside_share: float = 0.1,
    favourite_boost: float = 6.0,
) -> Synthetic:
    rng = np.random.default_rng(seed)
    n_communities = n_communities or max(4, min(60, n_learners // 500))
    end_ts = (end or datetime.now().astimezone()).timestamp()
    start_ts = end_ts - days * 86400

    mentor_domain = rng.integers(n_domains, size=n_mentors)
    quality = rng.lognormal(0.0, 1.0, size=n_mentors)  # popularity skew
    launch = np.where(rng.random(n_mentors) < 0.25, rng.uniform(0.1, 0.9, n_mentors), 0.0)  # late joiners
    early = rng.dirichlet(np.full(n_domains, 0.25), size=n_communities)
    late = 0.6 * early + 0.4 * rng.dirichlet(np.full(n_domains, 0.25), size=n_communities)  # drift
    favourite = rng.random((n_communities, n_mentors)) < min(1.0, 4.0 / n_communities)
    boost = np.where(favourite, favourite_boost, 1.0)

    learner_community = rng.integers(n_communities, size=n_learners)
    activity = rng.lognormal(0.0, 1.1, size=n_learners)
    learner_interest = early.argmax(axis=1)[learner_community]

    n_engagements = int(n_interactions / (2.0 + sum(CHAIN.values()) * 0.1)) + 1
    e_learner = rng.choice(n_learners, size=n_engagements, p=activity / activity.sum())
    e_time = rng.random(n_engagements)
    e_bucket = np.minimum((e_time * TIME_BUCKETS).astype(int), TIME_BUCKETS - 1)
    e_community = learner_community[e_learner]
    e_mentor = np.empty(n_engagements, dtype=np.int64)
    e_global = rng.random(n_engagements) < outside_share  # outside one's community, by popularity alone
    for bucket in range(TIME_BUCKETS):
        moment = (bucket + 1) / TIME_BUCKETS
        live = launch < moment
        overall = quality * live
        chosen = (e_bucket == bucket) & e_global
        e_mentor[chosen] = rng.choice(n_mentors, size=int(chosen.sum()), p=overall / overall.sum())
        mix = (1 - moment) * early + moment * late
        for community in range(n_communities):
            chosen = (e_bucket == bucket) & ~e_global & (e_community == community)
            if not chosen.any():
                continue
            row = mix[community, mentor_domain] * overall * boost[community]
            e_mentor[chosen] = rng.choice(n_mentors, size=int(chosen.sum()), p=row / row.sum())

    fav = favourite[e_community, e_mentor]
    parts = [(np.ones(n_engagements, dtype=bool), "viewed_session", 0.0)]
    booked = rng.random(n_engagements) < CHAIN["book"] * np.where(fav, 1.4, 1.0)
    attended = booked & (rng.random(n_engagements) < CHAIN["attend"])
    rated = attended & (rng.random(n_engagements) < CHAIN["rate"])
    parts += [
        (rng.random(n_engagements) < 0.3, "viewed_mentor", 0.001),
        (booked, "booked", 0.01),
        (attended, "attended", 0.02),
        (rated, "rated", 0.025),
        (attended & (rng.random(n_engagements) < CHAIN["tip"]), "tipped", 0.026),
        (booked & (rng.random(n_engagements) < CHAIN["follow"]), "followed", 0.027),
        (rng.random(n_engagements) < CHAIN["request"], "requested", 0.003),
    ]
    rating = np.clip(np.round(rng.normal(np.where(fav, 4.5, 3.6), 0.8)), 1, 5).astype(np.int8)
    learners, mentors, kinds, values, times = [], [], [], [], []
    for mask, kind, lag in parts:
        learners.append(e_learner[mask])
        mentors.append(e_mentor[mask])
        kinds.append(np.full(int(mask.sum()), KINDS.index(kind), dtype=np.int8))
        values.append(np.where(kind == "rated", rating[mask], 0).astype(np.int8))
        times.append(np.minimum(e_time[mask] + lag, 1.0))
    all_times = np.concatenate(times)
    order = rng.permutation(len(all_times))[:n_interactions]  # a fair sample, then in time order
    order = order[np.argsort(all_times[order], kind="stable")]
    return Synthetic(
        learners=np.concatenate(learners)[order],
        mentors=np.concatenate(mentors)[order],
        kinds=np.concatenate(kinds)[order],
        values=np.concatenate(values)[order],
        times=start_ts + all_times[order] * (end_ts - start_ts),
        n_learners=n_learners,
        n_mentors=n_mentors,
        mentor_domain=mentor_domain,
        learner_community=learner_community,
        learner_interest=learner_interest,
        n_domains=n_domains,
    )


def of_size(name: str, *, seed: int = 0, **options) -> Synthetic:
    n_learners, n_mentors, n_interactions = SIZES[name]
    return generate(n_learners, n_mentors, n_interactions, seed=seed, **options)


def load_into_db(data: Synthetic, *, email_prefix: str = "syn") -> tuple[list, list]:
    """Users (approved mentors, learners with their interest) and interaction rows for the
    generated data: for tests and small demos; the benchmark keeps its 2M rows in memory."""
    from datetime import UTC

    from django.contrib.auth.hashers import make_password

    from backend.accounts.models import ApprovalState, LearnerProfile, MentorProfile, Role, User
    from backend.marketplace.models import Domain
    from backend.recommendations.models import Interaction

    domains = list(Domain.objects.order_by("position", "pk"))
    password = make_password(None)
    mentors = User.objects.bulk_create(
        User(email=f"{email_prefix}-m{i}@example.com", full_name=f"Mentor {i}", role=Role.MENTOR, password=password)
        for i in range(data.n_mentors)
    )
    profiles = MentorProfile.objects.bulk_create(
        MentorProfile(user=m, headline="Mentor", bio="b", approval_state=ApprovalState.APPROVED) for m in mentors
    )
    MentorProfile.domains.through.objects.bulk_create(
        MentorProfile.domains.through(mentorprofile_id=p.pk, domain_id=domains[d % len(domains)].pk)
        for p, d in zip(profiles, data.mentor_domain, strict=True)
    )
    learners = User.objects.bulk_create(
        User(email=f"{email_prefix}-l{i}@example.com", full_name=f"Learner {i}", role=Role.LEARNER, password=password)
        for i in range(data.n_learners)
    )
    learner_profiles = LearnerProfile.objects.bulk_create(LearnerProfile(user=u) for u in learners)
    LearnerProfile.interests.through.objects.bulk_create(
        LearnerProfile.interests.through(learnerprofile_id=p.pk, domain_id=domains[d % len(domains)].pk)
        for p, d in zip(learner_profiles, data.learner_interest, strict=True)
    )
    Interaction.objects.bulk_create(
        (
            Interaction(
                learner_id=learners[lr].pk,
                mentor_id=mentors[m].pk,
                kind=KINDS[k],
                value=int(v),
                created_at=datetime.fromtimestamp(t, tz=UTC),
            )
            for lr, m, k, v, t in zip(data.learners, data.mentors, data.kinds, data.values, data.times, strict=True)
        ),
        batch_size=2000,
    )
    return learners, mentors
