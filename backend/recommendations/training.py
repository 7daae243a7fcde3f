"""Learn mentor scores from the interaction log with implicit's ALS and write them as a versioned
artefact on disk. Pure array functions (matrix, fit, popularity) are shared with the evaluation
command and the benchmark; `train()` is the job's entry point."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from backend.recommendations.models import Interaction, Kind, ModelRun, RunKind, RunStatus
from backend.recommendations.signals import WEIGHTS

log = logging.getLogger(__name__)
ARTEFACT_SUFFIX = ".npz"
LATEST = "LATEST"
KEEP_VERSIONS = 3


@dataclass
class Dataset:
    """Interactions as parallel arrays: learner and mentor ids, weights, unix times."""

    learners: np.ndarray
    mentors: np.ndarray
    weights: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.learners)

    def subset(self, mask: np.ndarray) -> Dataset:
        return Dataset(self.learners[mask], self.mentors[mask], self.weights[mask], self.times[mask])


@dataclass(frozen=True)
class Params:
    factors: int
    iterations: int
    regularization: float
    alpha: float
    popularity_half_life_days: float
    threads: int = 0

    @classmethod
    def from_settings(cls) -> Params:
        return cls(
            factors=settings.RECOMMENDATIONS_FACTORS,
            iterations=settings.RECOMMENDATIONS_ITERATIONS,
            regularization=settings.RECOMMENDATIONS_REGULARIZATION,
            alpha=settings.RECOMMENDATIONS_ALPHA,
            popularity_half_life_days=settings.RECOMMENDATIONS_POPULARITY_HALF_LIFE_DAYS,
            threads=settings.RECOMMENDATIONS_TRAIN_THREADS,
        )


# Unix seconds of a stored timestamp, per database.
_EPOCH = {
    "sqlite": "(julianday(created_at) - 2440587.5) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM created_at)::float8",
}
READ_CHUNK = 50_000


def _weight_sql() -> tuple[str, list]:
    """signals.WEIGHTS as a CASE over `kind` (the one table stays in Python; the database applies
    it so that two million rows do not each pass through Python as model values)."""
    whens, params = [], []
    for kind, weight in WEIGHTS.items():
        if kind == Kind.RATED:  # per star above two, as weight_of says
            whens.append("WHEN %s THEN CASE WHEN value > 2 THEN %s * (value - 2) ELSE 0 END")
        else:
            whens.append("WHEN %s THEN %s")
        params += [str(kind), float(weight)]
    # Cast: PostgreSQL would type a bound 4.0 as numeric and hand back two million Decimals.
    return f"CAST(CASE kind {' '.join(whens)} ELSE 0 END AS DOUBLE PRECISION)", params


def dataset_from_db() -> Dataset:
    """The whole log as arrays, read in chunks with the weights and times computed by the database:
    the ORM read of 2,000,000 rows spent most of the nightly job building row tuples and datetimes."""
    weight, params = _weight_sql()
    sql = (
        f"SELECT learner_id, mentor_id, weight, seconds FROM ("
        f"SELECT learner_id, mentor_id, {weight} AS weight, {_EPOCH[connection.vendor]} AS seconds "
        f"FROM {Interaction._meta.db_table}) AS weighted WHERE weight > 0"
    )
    ids, values = [], []
    # A server-side cursor on PostgreSQL (a plain one would hold the whole result in memory).
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(READ_CHUNK):
            ids.append(np.array([(learner, mentor) for learner, mentor, _, _ in rows], dtype=np.int64).reshape(-1, 2))
            values.append(np.array([(w, t) for _, _, w, t in rows], dtype=np.float64).reshape(-1, 2))
    ids = np.concatenate(ids) if ids else np.empty((0, 2), dtype=np.int64)
    values = np.concatenate(values) if values else np.empty((0, 2), dtype=np.float64)
    return Dataset(ids[:, 0].copy(), ids[:, 1].copy(), values[:, 0].astype(np.float32), values[:, 1].copy())


def matrix_from(data: Dataset, user_ids=None, item_ids=None) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
    """Learners × mentors, summed weights squashed by log1p (a learner who viewed a page fifty
    times is not fifty times as keen). Given ids keep the same rows and columns (evaluation)."""
    if user_ids is None:
        user_ids = np.unique(data.learners)
    if item_ids is None:
        item_ids = np.unique(data.mentors)
    rows = np.searchsorted(user_ids, data.learners)
    cols = np.searchsorted(item_ids, data.mentors)
    keep = (rows < len(user_ids)) & (cols < len(item_ids))
    keep[keep] &= (user_ids[rows[keep]] == data.learners[keep]) & (item_ids[cols[keep]] == data.mentors[keep])
    matrix = csr_matrix(
        (data.weights[keep], (rows[keep], cols[keep])), shape=(len(user_ids), len(item_ids)), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    return matrix, user_ids, item_ids


def new_model(params: Params, *, threads: int | None = None):
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(limits=1, user_api="blas"):  # implicit warns about BLAS threads on creation
        return AlternatingLeastSquares(
            factors=params.factors,
            iterations=params.iterations,
            regularization=params.regularization,
            alpha=params.alpha,
            num_threads=params.threads if threads is None else threads,
            random_state=42,
        )


def fit(matrix: csr_matrix, params: Params):
    """implicit parallelises ALS itself; a multi-threaded BLAS underneath fights it (the library
    warns), so BLAS is pinned to one thread for the fit only and restored after, leaving the
    rest of the process (a huey worker, a test run) as it was."""
    with threadpool_limits(limits=1, user_api="blas"):
        model = new_model(params)  # implicit checks the BLAS threads when the model is made
        model.fit(matrix, show_progress=False)
    return model


def popularity(data: Dataset, item_ids: np.ndarray, *, now: float, half_life_days: float) -> np.ndarray:
    """Recent weight per mentor (exponential decay), scaled to [0, 1] on a log scale."""
    cols = np.searchsorted(item_ids, data.mentors)
    cols = np.clip(cols, 0, max(len(item_ids) - 1, 0))
    valid = item_ids[cols] == data.mentors if len(item_ids) else np.zeros(0, dtype=bool)
    age_days = np.maximum(now - data.times[valid], 0) / 86400
    decayed = data.weights[valid] * np.power(0.5, age_days / half_life_days)
    totals = np.bincount(cols[valid], weights=decayed, minlength=len(item_ids)).astype(np.float32)
    totals = np.log1p(totals)
    top = totals.max() if len(totals) else 0
    return totals / top if top > 0 else totals


# --- artefacts -----------------------------------------------------------------------------------
def model_dir() -> Path:
    path = Path(settings.RECOMMENDATIONS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_artefact(*, version: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Written under a temporary name and renamed, then the LATEST pointer is swapped the same
    way: a serving process never reads half a file."""
    folder = model_dir()
    target = folder / f"{version}{ARTEFACT_SUFFIX}"
    temporary = folder / f".{version}.partial{ARTEFACT_SUFFIX}"
    np.savez(temporary, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(temporary, target)
    pointer = folder / f".{LATEST}.{secrets.token_hex(4)}"
    pointer.write_text(version)
    os.replace(pointer, folder / LATEST)
    _prune(folder, keep=version)
    return target


def _prune(folder: Path, *, keep: str) -> None:
    versions = sorted(p for p in folder.glob(f"*{ARTEFACT_SUFFIX}") if not p.name.startswith("."))
    for old in versions[:-KEEP_VERSIONS]:
        if old.stem != keep:
            old.unlink(missing_ok=True)


def latest_version() -> str | None:
    try:
        return (model_dir() / LATEST).read_text().strip() or None
    except FileNotFoundError:
        return None


def new_version(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


# --- the job -------------------------------------------------------------------------------------
class NoInteractions(Exception):
    pass


def train(*, now: datetime | None = None, params: Params | None = None) -> ModelRun:
    """Train on the whole log and publish a new artefact. Callers hold the training lock."""
    now = now or timezone.now()
    params = params or Params.from_settings()
    run = ModelRun.objects.create(kind=RunKind.TRAIN, started_at=now)
    try:
        data = dataset_from_db()
        if not len(data):
            raise NoInteractions("no interactions to learn from yet")
        started = time.perf_counter()
        matrix, user_ids, item_ids = matrix_from(data)
        model = fit(matrix, params)
        run.train_seconds = time.perf_counter() - started
        version = new_version(now)
        save_artefact(
            version=version,
            arrays={
                "user_factors": model.user_factors,
                "item_factors": model.item_factors,
                "user_ids": user_ids,
                "item_ids": item_ids,
                "popularity": popularity(
                    data, item_ids, now=now.timestamp(), half_life_days=params.popularity_half_life_days
                ),
            },
            meta={"version": version, "trained_at": now.timestamp(), "params": params.__dict__},
        )
    except Exception as error:
        log.exception("recommendations training failed")
        run.status, run.error, run.finished_at = RunStatus.FAILED, f"{type(error).__name__}: {error}", timezone.now()
        run.save()
        return run
    run.status, run.version, run.finished_at = RunStatus.DONE, version, timezone.now()
    run.users, run.items, run.interactions = matrix.shape[0], matrix.shape[1], len(data)
    run.save()
    log.info("recommendations model %s trained in %.2fs on %s", version, run.train_seconds, matrix.shape)
    return run
