"""Full-ranking evaluation of a recommender on next-item cases.

Every model is scored against the whole catalog (no sampled negatives). Models that give a
score to every item are ranked exactly, ties pessimistically; models that only emit a top-k
list (generative decoders) are ranked by list position, and a target missing from the list,
or an invalid generated id, is a miss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from tqdm.auto import tqdm

from genrec.config import EvalConfig, config_to_dict
from genrec.data.dataset import Dataset
from genrec.data.split import EvalCases
from genrec.eval import metrics as M
from genrec.eval.validation import rank_batch
from genrec.models.base import Recommender


@dataclass
class EvalResult:
    """Metrics of one model on one set of cases, with the protocol that produced them."""

    metrics: dict[str, float]
    protocol: dict[str, Any]
    n_cases: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "metrics": self.metrics,
            "protocol": self.protocol,
            "n_cases": self.n_cases,
            "eval_seconds": self.seconds,
            **self.extra,
        }


def item_vectors_from_interactions(train: Dataset, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Item vectors from a truncated SVD of the training item-user matrix (for diversity)."""
    inter = train.interactions
    mat = sp.csr_matrix(
        (np.ones(len(inter), dtype=np.float32), (inter.item, inter.user)),
        shape=(train.n_items, max(train.n_users, 1)),
    )
    mat.data[:] = 1.0
    k = max(1, min(dim, min(mat.shape) - 1))
    if min(mat.shape) < 3:
        return np.asarray(mat.todense(), dtype=np.float32)
    rng = np.random.default_rng(seed)
    u, s, _ = svds(mat, k=k, v0=rng.standard_normal(min(mat.shape)))
    return (u * s).astype(np.float32)


def user_popularity(train: Dataset) -> np.ndarray:
    """Number of distinct training users of every item."""
    pairs = np.unique(train.interactions.user.astype(np.int64) * train.n_items + train.interactions.item)
    return np.bincount(pairs % train.n_items, minlength=train.n_items)


def evaluate(
    model: Recommender,
    cases: EvalCases,
    train: Dataset,
    config: EvalConfig | None = None,
    item_vectors: np.ndarray | None = None,
    beyond_accuracy: bool = True,
    progress: bool = True,
    desc: str = "evaluate",
) -> EvalResult:
    """Rank every case's target over the full catalog and compute accuracy and beyond-accuracy metrics."""
    config = config or EvalConfig()
    if not config.ks or min(config.ks) < 1:
        raise ValueError(f"cut-offs must be whole numbers of at least 1, got ks={list(config.ks)}")
    if len(cases) == 0:
        raise ValueError("no cases to evaluate: every user's history is too short for this split")
    start = time.perf_counter()
    n_items = train.n_items
    k_max = max(config.ks)
    ranks = np.zeros(len(cases), dtype=np.int64)
    lists = np.zeros((len(cases), min(k_max, n_items)), dtype=np.int64)
    full_scores = getattr(model, "full_scores", True)
    bar = tqdm(total=len(cases), desc=desc, unit="user", disable=not progress, leave=False)
    for lo in range(0, len(cases), config.batch_size):
        hi = min(lo + config.batch_size, len(cases))
        batch_ranks, batch_lists = rank_batch(
            model, cases.histories[lo:hi], cases.targets[lo:hi], lists.shape[1], n_items, config.exclude_history
        )
        ranks[lo:hi] = batch_ranks
        lists[lo:hi] = np.maximum(batch_lists, 0)  # a missing or invalid id counts as a miss, shown as item 0
        bar.update(hi - lo)
    bar.close()

    metrics = M.rank_metrics(ranks, config.ks)
    if beyond_accuracy and len(cases):
        pop = user_popularity(train)
        vecs = item_vectors if item_vectors is not None else item_vectors_from_interactions(train, config.diversity_dim)
        for k in config.ks:
            top = lists[:, :k]
            metrics[f"Coverage@{k}"] = M.catalog_coverage(top, n_items)
            metrics[f"ILD@{k}"] = M.intra_list_diversity(top, vecs)
            metrics[f"Novelty@{k}"] = M.novelty(top, pop, train.n_users)
            metrics[f"ARP@{k}"] = M.average_popularity(top, pop)
            metrics[f"Gini@{k}"] = M.exposure_gini(top, n_items)
    protocol = {
        "full_ranking": True,
        "exclude_history": config.exclude_history,
        "ties": "pessimistic",
        "ranking": "scores" if full_scores else "top-k list (misses and invalid ids count as misses)",
        "ks": list(config.ks),
        "beyond_accuracy_item_vectors": "given" if item_vectors is not None else "svd-of-train-interactions",
        "novelty_and_arp_popularity": "distinct training users per item",
    }
    return EvalResult(metrics, protocol, len(cases), time.perf_counter() - start)


def evaluation_config_dict(config: EvalConfig) -> dict[str, Any]:
    """The evaluation config as a dict (recorded with results)."""
    return config_to_dict(config)
