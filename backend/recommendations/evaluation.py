"""Offline evaluation on a time split: train on everything before a cut-off, ask both the model
and a popularity baseline for ten mentors per learner, and score against the mentors each learner
went on to engage with after the cut-off that they had not engaged with before (discovery:
items already in a learner's history are filtered out for both)."""

from __future__ import annotations

import time

import numpy as np

from backend.recommendations import training
from backend.recommendations.training import Dataset, Params

K = 10


def time_split(data: Dataset, *, test_fraction: float) -> tuple[Dataset, Dataset, float]:
    cut = float(np.quantile(data.times, 1 - test_fraction))
    return data.subset(data.times < cut), data.subset(data.times >= cut), cut


def _relevant(test: Dataset, train_matrix, user_ids, item_ids, min_weight: float) -> dict[int, set[int]]:
    """Test mentors per training row: only strong signals (a booking or more), only learners and
    mentors the model knows, minus what the learner already had in training."""
    strong = test.subset(test.weights >= min_weight)
    rows = np.searchsorted(user_ids, strong.learners)
    cols = np.searchsorted(item_ids, strong.mentors)
    rows, cols = np.clip(rows, 0, len(user_ids) - 1), np.clip(cols, 0, len(item_ids) - 1)
    known = (user_ids[rows] == strong.learners) & (item_ids[cols] == strong.mentors)
    relevant: dict[int, set[int]] = {}
    for row, col in zip(rows[known].tolist(), cols[known].tolist(), strict=True):
        relevant.setdefault(row, set()).add(col)
    for row in list(relevant):
        seen = set(train_matrix.indices[train_matrix.indptr[row] : train_matrix.indptr[row + 1]].tolist())
        relevant[row] -= seen
        if not relevant[row]:
            del relevant[row]
    return relevant


def metrics(recommended: np.ndarray, rows: list[int], relevant: dict[int, set[int]], n_items: int) -> dict:
    discount = 1 / np.log2(np.arange(2, K + 2))
    precision = recall = ndcg = 0.0
    for ranked, row in zip(recommended, rows, strict=True):
        truth = relevant[row]
        hits = np.array([item in truth for item in ranked[:K]], dtype=float)
        precision += hits.sum() / K
        recall += hits.sum() / len(truth)
        ndcg += (hits * discount[: len(hits)]).sum() / discount[: min(len(truth), K)].sum()
    n = max(len(rows), 1)
    return {
        "precision_at_10": round(precision / n, 5),
        "recall_at_10": round(recall / n, 5),
        "ndcg_at_10": round(ndcg / n, 5),
        "coverage": round(len(np.unique(recommended[recommended >= 0])) / max(n_items, 1), 5),
    }


def _top_popular(popularity: np.ndarray, matrix, rows: list[int]) -> np.ndarray:
    order = np.argsort(-popularity)
    out = np.full((len(rows), K), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        seen = set(matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]].tolist())
        picked = []
        for item in order:
            if item not in seen:
                picked.append(item)
                if len(picked) == K:
                    break
        out[i, : len(picked)] = picked
    return out


def evaluate(
    data: Dataset,
    *,
    params: Params,
    test_fraction: float = 0.2,
    max_users: int = 20_000,
    min_weight: float = 4.0,
    seed: int = 0,
) -> dict:
    train, test, cut = time_split(data, test_fraction=test_fraction)
    matrix, user_ids, item_ids = training.matrix_from(train)
    started = time.perf_counter()
    model = training.fit(matrix, params)
    train_seconds = time.perf_counter() - started
    relevant = _relevant(test, matrix, user_ids, item_ids, min_weight)
    rows = sorted(relevant)
    if len(rows) > max_users:
        rows = sorted(np.random.default_rng(seed).choice(rows, size=max_users, replace=False).tolist())
    report = {
        "train_seconds": round(train_seconds, 3),
        "matrix": {"users": int(matrix.shape[0]), "items": int(matrix.shape[1]), "nonzeros": int(matrix.nnz)},
        "interactions": {"train": len(train), "test": len(test), "total": len(data)},
        "evaluated_users": len(rows),
        "test_fraction": test_fraction,
        "params": params.__dict__,
    }
    if not rows:
        report["als"] = report["popularity"] = metrics(np.zeros((0, K), dtype=np.int64), [], {}, matrix.shape[1])
        report["ndcg_ratio"] = None
        return report
    ids, _ = model.recommend(np.asarray(rows), matrix[rows], N=K, filter_already_liked_items=True)
    report["als"] = metrics(np.asarray(ids), rows, relevant, matrix.shape[1])
    popular = training.popularity(train, item_ids, now=cut, half_life_days=params.popularity_half_life_days)
    report["popularity"] = metrics(_top_popular(popular, matrix, rows), rows, relevant, matrix.shape[1])
    base = report["popularity"]["ndcg_at_10"]
    report["ndcg_ratio"] = round(report["als"]["ndcg_at_10"] / base, 3) if base else None
    return report
