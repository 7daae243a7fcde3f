"""Recommendations benchmark: training time, recommend latency, and offline quality.

Exact command:
  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recommendations.py

What it does:
- Generates 100,000 learners × 5,000 mentors × 2,000,000 interactions in memory
  (backend/recommendations/generator.py, default structure) and times ALS training on all of it.
- Evaluates on a time split (last 20% of time held out): precision@10, recall@10, nDCG@10 and
  catalogue coverage for ALS and a popularity baseline, and their nDCG ratio; then the same for a
  harder variant of the data (twice the share of engagements outside a learner's community).
- Loads a fresh SQLite database with the 5,000 mentors, ~20,000 upcoming public sessions, 2,000
  learners (interests, 5 bookings and 20 logged interactions each) and times
  serving.recommend() for 500 different learners: cache-missed (ranking + eligibility query) and
  warm (cached ranking + eligibility query). The model served is the 2M-interaction one, with the
  DB learners mapped onto its first 2,000 users.
- Writes the 2M interactions into the database's log and times the nightly training job end to
  end (read, matrix, fit, artefact), with the log read through the ORM as the naive baseline.
Options: BENCH_LEARNER_CALLS (default 500).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
data_dir = tempfile.mkdtemp(prefix="peerlearn-bench-recs-")
os.environ["PEERLEARN_DATA_DIR"] = data_dir
for name in ("REDIS_URL", "DATABASE_URL"):
    os.environ.pop(name, None)
os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
CALLS = int(os.environ.get("BENCH_LEARNER_CALLS", "500"))

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from backend.recommendations import evaluation, generator, serving, training  # noqa: E402


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000, q))


def quality(label, data, params):
    report = evaluation.evaluate(data, params=params)
    print(
        f"\n[{label}] time split: {report['interactions']['train']:,} train / {report['interactions']['test']:,} test "
        f"interactions; {report['evaluated_users']:,} learners scored; matrix {report['matrix']}"
    )
    for model in ("als", "popularity"):
        m = report[model]
        print(
            f"  {model:<10} precision@10 {m['precision_at_10']:.4f}  recall@10 {m['recall_at_10']:.4f}  "
            f"nDCG@10 {m['ndcg_at_10']:.4f}  coverage {m['coverage']:.4f}"
        )
    print(f"  nDCG@10 ratio ALS / popularity: {report['ndcg_ratio']}x  (goal >= 1.5x)")


def load_db(n_mentors, n_learners, per_mentor=4):
    from django.contrib.auth.hashers import make_password

    from backend.accounts.models import LearnerProfile, MentorProfile, User
    from backend.marketplace.models import Booking, Domain, Session
    from backend.recommendations.models import Interaction

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(1)
    domains = list(Domain.objects.all())
    password = make_password(None)
    now = timezone.now()
    with transaction.atomic():
        mentors = User.objects.bulk_create(
            [
                User(email=f"m{i}@b.local", full_name=f"Mentor {i}", role="mentor", password=password)
                for i in range(n_mentors)
            ],
            batch_size=2000,
        )
        MentorProfile.objects.bulk_create(
            [MentorProfile(user=m, headline="h", bio="b", approval_state="approved") for m in mentors], batch_size=2000
        )
        learners = User.objects.bulk_create(
            [
                User(email=f"l{i}@b.local", full_name=f"Learner {i}", role="learner", password=password)
                for i in range(n_learners)
            ],
            batch_size=2000,
        )
        profiles = LearnerProfile.objects.bulk_create([LearnerProfile(user=u) for u in learners])
        through = LearnerProfile.interests.through
        through.objects.bulk_create(
            [through(learnerprofile_id=p.pk, domain_id=domains[i % len(domains)].pk) for i, p in enumerate(profiles)]
        )
        sessions = []
        for i, m in enumerate(mentors):
            for j in range(per_mentor):
                starts = now + timezone.timedelta(hours=int(rng.integers(2, 24 * 30)))
                sessions.append(
                    Session(
                        mentor=m,
                        title=f"Session {i}-{j}",
                        domain=domains[i % len(domains)],
                        topics=["python", f"t{i % 50}"],
                        starts_at=starts,
                        ends_at=starts + timezone.timedelta(hours=1),
                        duration_minutes=60,
                        capacity=int(rng.integers(1, 6)),
                        state="scheduled",
                    )
                )
        # bulk_create skips Session.save (search terms): not needed for recommendations.
        sessions = Session.objects.bulk_create(sessions, batch_size=2000)
        bookings, interactions = [], []
        for learner in learners:
            for s in rng.choice(len(sessions), size=5, replace=False).tolist():
                bookings.append(Booking(session=sessions[s], learner=learner, state="confirmed"))
                interactions.append(
                    Interaction(learner=learner, mentor_id=sessions[s].mentor_id, session=sessions[s], kind="booked")
                )
            for m in rng.choice(n_mentors, size=15, replace=False).tolist():
                interactions.append(Interaction(learner=learner, mentor=mentors[m], kind="viewed_mentor"))
        Booking.objects.bulk_create(bookings, batch_size=5000)
        Interaction.objects.bulk_create(interactions, batch_size=5000)
    return learners, mentors, len(sessions), len(bookings), len(interactions)


def main():
    params = training.Params.from_settings()
    started = time.perf_counter()
    synthetic = generator.of_size("bench")
    data = synthetic.dataset()
    print(
        f"generated {len(data):,} interactions, {synthetic.n_learners:,} learners, {synthetic.n_mentors:,} mentors "
        f"in {time.perf_counter() - started:.1f}s"
    )

    matrix, user_ids, item_ids = training.matrix_from(data)
    started = time.perf_counter()
    model = training.fit(matrix, params)
    seconds = time.perf_counter() - started
    print(
        f"\nTRAINING: ALS factors={params.factors} iterations={params.iterations} on {matrix.shape[0]:,} x "
        f"{matrix.shape[1]:,} ({matrix.nnz:,} non-zero pairs): {seconds:.2f}s (goal <= 30s; BLAS pinned to 1 thread, "
        f"implicit threads={params.threads or os.cpu_count()})"
    )

    quality("default data", data, params)
    quality("harder data: outside_share=0.2", generator.of_size("bench", outside_share=0.2).dataset(), params)

    learners, mentors, n_sessions, n_bookings, n_interactions = load_db(synthetic.n_mentors, 2_000)
    print(
        f"\nDATABASE (SQLite, fresh): {len(mentors):,} approved mentors, {n_sessions:,} upcoming public sessions "
        f"(capacity 1-5), {len(learners):,} learners with 1 interest, {n_bookings:,} confirmed bookings, "
        f"{n_interactions:,} logged interactions"
    )
    # Serve the trained model with DB ids: model mentors -> DB mentors, first 2,000 model users -> DB learners.
    mentor_ids = np.array([m.pk for m in mentors], dtype=np.int64)[item_ids]
    order = np.argsort(mentor_ids)
    user_map = np.concatenate([np.array([u.pk for u in learners]), 10**9 + np.arange(len(user_ids) - len(learners))])
    uorder = np.argsort(user_map)
    training.save_artefact(
        version=training.new_version(timezone.now()),
        arrays={
            "user_factors": model.user_factors[uorder],
            "item_factors": model.item_factors[order],
            "user_ids": user_map[uorder],
            "item_ids": mentor_ids[order],
            "popularity": training.popularity(data, item_ids, now=data.times.max(), half_life_days=21)[order],
        },
        meta={"version": "bench", "trained_at": time.time() - 3600, "params": params.__dict__},
    )
    serving.reset()
    started = time.perf_counter()
    serving.catalogues.current()
    model_loaded = serving.models.current()
    print(
        f"catalogue + model load (once per process, then every "
        f"{os.environ.get('RECOMMENDATIONS_CATALOGUE_SECONDS', 30)}s / on new version): "
        f"{(time.perf_counter() - started) * 1000:.0f} ms; model {model_loaded.version}"
    )

    sample = learners[:CALLS]
    for label in ("cache-missed (rank + eligibility query)", "warm (cached ranking + eligibility query)"):
        if label.startswith("cache-missed"):
            cache.clear()
        times, shown = [], 0
        for learner in sample:
            t = time.perf_counter()
            found = serving.recommend(learner, limit=10)
            times.append(time.perf_counter() - t)
            shown += len(found.items)
        print(
            f"RECOMMEND {label}: {len(times)} learners  p50 {pct(times, 50):.2f} ms  p99 {pct(times, 99):.2f} ms  "
            f"max {max(times) * 1000:.2f} ms  (avg {shown / len(times):.1f} sessions; goal p99 <= 10 ms)"
        )
    recalculated = [u for u in sample[:50]]
    from backend.recommendations.models import Interaction

    Interaction.objects.bulk_create([Interaction(learner=u, mentor=mentors[0], kind="followed") for u in recalculated])
    cache.clear()
    times = []
    for learner in recalculated:
        t = time.perf_counter()
        serving.recommend(learner, limit=10)
        times.append(time.perf_counter() - t)
    print(
        f"RECOMMEND after a new interaction (ALS recalculate_user, cache-missed): {len(times)} learners  "
        f"p50 {pct(times, 50):.2f} ms  p99 {pct(times, 99):.2f} ms"
    )
    train_from_database(synthetic)


def orm_read() -> training.Dataset:
    """The naive baseline: the log read through the ORM, weights and times in Python per row
    (what the nightly job did before it read with SQL)."""
    from backend.recommendations.models import Interaction
    from backend.recommendations.signals import weight_of

    rows = Interaction.objects.order_by().values_list("learner_id", "mentor_id", "kind", "value", "created_at")
    learners, mentors, weights, times = [], [], [], []
    for learner, mentor, kind, value, created_at in rows.iterator(chunk_size=20_000):
        weight = weight_of(kind, value)
        if weight > 0:
            learners.append(learner)
            mentors.append(mentor)
            weights.append(weight)
            times.append(created_at.timestamp())
    return training.Dataset(
        np.asarray(learners, dtype=np.int64),
        np.asarray(mentors, dtype=np.int64),
        np.asarray(weights, dtype=np.float32),
        np.asarray(times, dtype=np.float64),
    )


def train_from_database(synthetic):
    """The nightly job end to end on the 2M-row log in SQLite: read, matrix, fit, artefact."""
    from datetime import UTC, datetime

    from django.db import connection

    from backend.recommendations.generator import KINDS
    from backend.recommendations.models import Interaction

    started = time.perf_counter()
    # Ids far above the serving section's users; foreign keys off for the load only (the job
    # reads the log alone, and 100,000 users would take longer to make than the log itself).
    rows = (
        (
            10_000_000 + int(lr),
            20_000_000 + int(m),
            KINDS[k],
            int(v),
            datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        )
        for lr, m, k, v, t in zip(
            synthetic.learners, synthetic.mentors, synthetic.kinds, synthetic.values, synthetic.times, strict=True
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
        with transaction.atomic():
            cursor.executemany(
                f"INSERT INTO {Interaction._meta.db_table} (learner_id, mentor_id, kind, value, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
        cursor.execute("PRAGMA foreign_keys = ON")
    total = Interaction.objects.count()
    print(
        f"\nTRAINING FROM THE DATABASE: {total:,} logged interactions (SQLite), loaded in {time.perf_counter() - started:.1f}s"
    )
    t = time.perf_counter()
    baseline = orm_read()
    orm_seconds = time.perf_counter() - t
    t = time.perf_counter()
    data = training.dataset_from_db()
    sql_seconds = time.perf_counter() - t
    assert len(data) == len(baseline) and abs(float(data.weights.sum()) - float(baseline.weights.sum())) < 1.0
    print(
        f"  read the log: ORM per row {orm_seconds:.1f}s   SQL with weights and times in the database "
        f"{sql_seconds:.1f}s   ({orm_seconds / sql_seconds:.1f}x)"
    )
    t = time.perf_counter()
    run = training.train()
    assert run.status == "done", run.error
    print(
        f"  nightly job end to end (read + matrix + fit + artefact): {time.perf_counter() - t:.1f}s, of which fit "
        f"{run.train_seconds:.1f}s on {run.users:,} x {run.items:,}  (goal <= 30s)"
    )


if __name__ == "__main__":
    main()
