"""Validation metrics for early stopping: callables the trainer calls with the model being trained.

``ranking_validator(split.valid)`` scores NDCG@10 exactly as ``evaluate`` would on the same cases
(full ranking over the catalog, ties pessimistic; generative models by their top-k list; history
items kept in the ranking, or removed with ``exclude_history`` as ``EvalConfig.exclude_history``
does), so models need not import this package to stop early.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from genrec.data.split import EvalCases
from genrec.eval import metrics as M
from genrec.models.base import mask_items, top_k


def history_minus_target(histories: list[np.ndarray], targets: np.ndarray) -> list[np.ndarray]:
    """History items to exclude: all of them except the target itself (a repeat stays rankable)."""
    return [h[h != t] for h, t in zip(histories, targets)]


def rank_batch(
    model: Any, histories: list[np.ndarray], targets: np.ndarray, k: int, n_items: int, exclude_history: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """0-based pessimistic rank of each target (``n_items`` when a top-k list misses it) and each case's
    top-``k`` list (-1 where a generative model's list is short or holds an id outside the catalog).

    Full-scoring models rank by their scores; generative ones by the list they return, so invalid
    generated ids count as misses. With ``exclude_history`` the history (but the target) is removed.
    """
    exclude = history_minus_target(histories, targets) if exclude_history else None
    if getattr(model, "full_scores", True):
        scores = model.score(histories)
        if exclude is not None:
            mask_items(scores, exclude)
        return M.pessimistic_rank(scores, targets), top_k(scores, min(k, n_items))[0]
    items = model.recommend(histories, k=k, exclude=exclude).items
    lists = np.where((items >= 0) & (items < n_items), items, -1)
    return M.rank_in_lists(lists, targets, n_items), lists


def target_ranks(
    model: Any, cases: EvalCases, k: int, batch_size: int = 1024, exclude_history: bool = False
) -> np.ndarray:
    """0-based rank of every case's target, batch by batch (see ``rank_batch``)."""
    ranks = np.zeros(len(cases), dtype=np.int64)
    for lo in range(0, len(cases), batch_size):
        hi = min(lo + batch_size, len(cases))
        batch = cases.histories[lo:hi]
        ranks[lo:hi] = rank_batch(model, batch, cases.targets[lo:hi], k, model.n_items, exclude_history)[0]
    return ranks


@dataclass(frozen=True)
class RankingValidator:
    """NDCG@``k`` of a model on ``cases`` (see the module docstring)."""

    cases: EvalCases
    k: int = 10
    batch_size: int = 1024  # histories scored at once by full-scoring models
    exclude_history: bool = False  # history items (but the target) removed from the ranking

    @property
    def name(self) -> str:
        """The metric's key: ``ndcg10`` (history entries get ``valid_ndcg10``)."""
        return f"ndcg{self.k}"

    def __call__(self, model: Any) -> float:
        """NDCG@k of ``model``."""
        ranks = target_ranks(model, self.cases, self.k, self.batch_size, self.exclude_history)
        return M.rank_metrics(ranks, (self.k,))[f"NDCG@{self.k}"]

    def __len__(self) -> int:
        return len(self.cases)

    def subset(self, n: int, seed: int) -> RankingValidator:
        """The same metric on ``n`` cases drawn without replacement (sorted back into case order)."""
        pick = np.random.default_rng(seed).choice(len(self.cases), n, replace=False)
        return replace(self, cases=self.cases.subset(np.sort(pick)))


def ranking_validator(cases: EvalCases | None, k: int = 10, exclude_history: bool = False) -> RankingValidator | None:
    """The early-stopping metric on ``cases`` (None when there are none)."""
    return RankingValidator(cases, k, exclude_history=exclude_history) if cases is not None and len(cases) else None
