"""Ranking and beyond-accuracy metrics.

Accuracy metrics start from the 0-based rank of the single target item among all catalog
items. Ties are ranked pessimistically: the target is placed after every other item with the
same score, so a model that scores everything equal gets the worst rank, not an average one.

With ``r`` the 0-based rank and ``K`` the cut-off:
  HR@K = Recall@K = 1[r < K]          (one target per case, so both coincide)
  NDCG@K = 1[r < K] / log2(r + 2)      (the ideal DCG of one relevant item is 1)
  MRR@K = 1[r < K] / (r + 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pessimistic_rank(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of ``targets[b]`` in ``scores[b]``, counting every tie as ranked above it."""
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > target_scores).sum(axis=1)
    tied = (scores == target_scores).sum(axis=1) - 1
    # A target scored -inf (excluded or impossible) or NaN is ranked last.
    worst = np.isneginf(target_scores[:, 0]) | np.isnan(target_scores[:, 0])
    rank = higher + tied
    rank[worst] = scores.shape[1] - 1
    return rank.astype(np.int64)


def rank_in_lists(lists: np.ndarray, targets: np.ndarray, n_items: int) -> np.ndarray:
    """0-based position of each target in a top-k list; absent targets (misses) get ``n_items``."""
    hit = lists == targets[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), n_items).astype(np.int64)


def rank_metrics(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """HR, Recall, NDCG and MRR at each cut-off in ``ks``, averaged over cases."""
    ranks = np.asarray(ranks)
    out: dict[str, float] = {}
    for k in ks:
        hit = ranks < k
        out[f"HR@{k}"] = float(hit.mean()) if len(ranks) else 0.0
        out[f"Recall@{k}"] = out[f"HR@{k}"]
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()) if len(ranks) else 0.0
        out[f"MRR@{k}"] = float(np.where(hit, 1.0 / (ranks + 1.0), 0.0).mean()) if len(ranks) else 0.0
    return out


def catalog_coverage(lists: np.ndarray, n_items: int) -> float:
    """Share of the catalog that appears in at least one list."""
    return float(len(np.unique(lists)) / n_items) if n_items else 0.0


def intra_list_diversity(lists: np.ndarray, item_vectors: np.ndarray) -> float:
    """Mean over lists of the mean pairwise cosine distance between the listed items."""
    k = lists.shape[1]
    if k < 2 or len(lists) == 0:
        return 0.0
    vecs = item_vectors / np.maximum(np.linalg.norm(item_vectors, axis=1, keepdims=True), 1e-12)
    # The sum of all pairwise cosines of a list is |sum v|^2 - sum |v|^2: no [batch, k, k] matrix.
    off_diag = np.empty(len(lists), dtype=np.float64)
    step = max(1, (1 << 24) // max(k * vecs.shape[1], 1))
    for lo in range(0, len(lists), step):
        v = vecs[lists[lo : lo + step]]  # [batch, k, dim]
        total = np.square(v.sum(axis=1)).sum(axis=1) - np.square(v).sum(axis=(1, 2))
        off_diag[lo : lo + step] = total / (k * (k - 1))
    return float((1.0 - off_diag).mean())


def novelty(lists: np.ndarray, popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(p(i)) of recommended items, p(i) = users of i / all users."""
    p = np.maximum(popularity[lists], 1) / max(n_users, 1)
    return float((-np.log2(p)).mean()) if lists.size else 0.0


def average_popularity(lists: np.ndarray, popularity: np.ndarray) -> float:
    """Mean training interaction count of recommended items (ARP)."""
    return float(popularity[lists].mean()) if lists.size else 0.0


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of a non-negative vector (0: equal exposure, ->1: all on one item)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    index = np.arange(1, n + 1)
    return float((2 * index - n - 1).dot(x) / (n * x.sum()))


def exposure_gini(lists: np.ndarray, n_items: int) -> float:
    """Gini coefficient of how often each catalog item is recommended (items never shown count as 0)."""
    return gini(np.bincount(lists.ravel(), minlength=n_items))
