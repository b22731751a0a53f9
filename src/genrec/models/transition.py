"""Item-transition graph: a training-free next-item recommender built by counting.

The graph
---------
For every training sequence s_1..s_n and every pair of positions t < u with u - t <= ``window``,
the directed edge s_t -> s_u gains ``gap_decay ** (u - t - 1)`` (the next item counts 1, the one
after it ``gap_decay``, ...) and the reverse edge s_u -> s_t gains ``reverse_weight`` times that.
With A the summed edge weights (self-loops dropped), the one-step transition probabilities are the
rows of A normalised to sum to one,

    P[i, j] = A[i, j] / sum_k A[i, k],

and the scoring graph adds the two-step walk:  Q = P + ``two_hop`` * P @ P.

Scoring
-------
A history h_1..h_T (most recent last) scores item j by the recency-weighted walk from its last
``max_history`` items, plus a small popularity term that orders what the walk does not reach:

    s(j) = sum_{t > T - max_history} recency_decay ** (T - t) * Q[h_t, j]
           + popularity_weight * n_j / max_k n_k

where n_j is the number of training interactions of item j. Nothing is learned by gradient
descent; ``fit`` is a few sparse matrix products and ignores ``valid`` (the settings are chosen on
validation by ``benchmarks/run_transition.py``; ``TransitionConfig`` checks their ranges).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from genrec.config import TransitionConfig
from genrec.data.dataset import Dataset
from genrec.models.base import Histories, Recommender
from genrec.models.registry import register_model

if TYPE_CHECKING:
    from genrec.train import Validator


@register_model("transition")
class TransitionGraph(Recommender):
    """Scores items by a recency-weighted walk on the item-transition graph of the training log."""

    config_class = TransitionConfig

    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        cfg = self.config
        n = dataset.n_items
        adjacency = transition_counts(dataset.sequences(), n, cfg.window, cfg.gap_decay, cfg.reverse_weight)
        step = row_normalised(adjacency)
        graph = step + cfg.two_hop * (step @ step) if cfg.two_hop else step
        self.graph = sp.csr_matrix(graph, dtype=np.float32)
        counts = dataset.item_popularity().astype(np.float32)
        self.popularity = counts / max(float(counts.max()), 1.0) if len(counts) else counts

    def score(self, histories: Histories) -> np.ndarray:
        """s(j) for every item: the recency-weighted walk from the last items, plus the popularity term."""
        cfg = self.config
        rows, cols, vals = [], [], []
        for b, hist in enumerate(histories):
            recent = np.asarray(hist, dtype=np.int64)[len(hist) - min(len(hist), cfg.max_history) :]
            rows.append(np.full(len(recent), b, dtype=np.int64))
            cols.append(recent)
            vals.append(cfg.recency_decay ** np.arange(len(recent))[::-1])
        empty = np.zeros(0, dtype=np.int64)
        weights = sp.csr_matrix(
            (np.concatenate(vals or [np.zeros(0)]), (np.concatenate(rows or [empty]), np.concatenate(cols or [empty]))),
            shape=(len(histories), self.n_items),
            dtype=np.float32,
        )  # duplicates (an item seen twice) are summed, as the formula says
        walk = np.asarray((weights @ self.graph).toarray(), dtype=np.float32)
        return walk + np.float32(cfg.popularity_weight) * self.popularity[None, :]

    def _state(self) -> dict[str, np.ndarray]:
        g = self.graph
        return {"data": g.data, "indices": g.indices, "indptr": g.indptr, "popularity": self.popularity}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.graph = sp.csr_matrix(
            (state["data"], state["indices"], state["indptr"]), shape=(self.n_items, self.n_items)
        )
        self.popularity = state["popularity"]


def transition_counts(
    sequences: list[np.ndarray], n_items: int, window: int, gap_decay: float, reverse_weight: float
) -> sp.csr_matrix:
    """A[i, j]: summed weights of i -> j transitions (gap d weighs gap_decay ** (d - 1)), self-loops dropped."""
    src, dst, val = [], [], []
    for gap in range(1, window + 1):
        weight = gap_decay ** (gap - 1)
        for seq in sequences:
            if len(seq) > gap:
                src.append(seq[:-gap])
                dst.append(seq[gap:])
                val.append(np.full(len(seq) - gap, weight, dtype=np.float64))
    if not src:
        return sp.csr_matrix((n_items, n_items), dtype=np.float64)
    i, j, w = np.concatenate(src), np.concatenate(dst), np.concatenate(val)
    forward = sp.csr_matrix((w, (i, j)), shape=(n_items, n_items))  # duplicates are summed
    a = forward + reverse_weight * forward.T if reverse_weight else forward
    a = sp.csr_matrix(a)
    a.setdiag(0.0)
    a.eliminate_zeros()
    return a


def row_normalised(a: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to sum to one (all-zero rows stay zero)."""
    sums = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv) @ a)
