"""ItemKNN: item-item similarity from the user-item matrix, top neighbours kept sparse.

With X the binary user x item matrix of the training split, c_ij = (X^T X)_ij counts users who
interacted with both i and j, and n_i = c_ii. Similarity:

  cosine:        s_ij = c_ij / (sqrt(n_i * n_j) + shrink)
  cooccurrence:  s_ij = c_ij

Only the ``neighbors`` largest s_ij per item i are kept (s_ii = 0). A user with history
h_1..h_T (most recent last) scores item j as sum_t decay^(T - t) * s_{h_t j}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from genrec.config import ItemKNNConfig
from genrec.data.dataset import Dataset
from genrec.models.base import Histories, Recommender
from genrec.models.registry import register_model

if TYPE_CHECKING:
    from genrec.train import Validator


@register_model("itemknn")
class ItemKNN(Recommender):
    """Sparse item-item nearest-neighbour recommender."""

    config_class = ItemKNNConfig

    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        cfg = self.config
        inter = dataset.interactions
        x = sp.csr_matrix(
            (np.ones(len(inter), dtype=np.float32), (inter.user, inter.item)),
            shape=(dataset.n_users, dataset.n_items),
        )
        x.data[:] = 1.0  # repeated interactions count once
        xt = x.T.tocsr()
        counts = np.asarray(x.sum(axis=0)).ravel()
        norms = np.sqrt(counts)
        k = min(cfg.neighbors, max(dataset.n_items - 1, 1))
        rows, cols, vals = [], [], []
        chunk = max(1, min(2048, 50_000_000 // max(dataset.n_items, 1)))
        for lo in tqdm(range(0, dataset.n_items, chunk), desc="itemknn", unit="chunk", leave=False):
            hi = min(lo + chunk, dataset.n_items)
            co = (xt[lo:hi] @ x).toarray()  # [chunk, n_items] co-occurrence counts
            if cfg.similarity == "cosine":
                denom = norms[lo:hi, None] * norms[None, :] + cfg.shrink
                co = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
            co[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            top = np.argpartition(-co, k - 1, axis=1)[:, :k]
            top_vals = np.take_along_axis(co, top, axis=1)
            keep = top_vals > 0
            rows.append(np.repeat(np.arange(lo, hi), k)[keep.ravel()])
            cols.append(top.ravel()[keep.ravel()])
            vals.append(top_vals.ravel()[keep.ravel()])
        self.similarity = sp.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(dataset.n_items, dataset.n_items),
        )

    def score(self, histories: Histories) -> np.ndarray:
        """Recency-weighted sum of the similarity rows of each history's items."""
        cfg = self.config
        rows, cols, vals = [], [], []
        for b, hist in enumerate(histories):
            recent = np.asarray(hist[-cfg.max_history :], dtype=np.int64)
            age = np.arange(len(recent))[::-1]
            rows.append(np.full(len(recent), b))
            cols.append(recent)
            vals.append(cfg.recency_decay**age)
        empty = np.zeros(0, dtype=np.int64)
        weights = sp.csr_matrix(
            (np.concatenate(vals or [np.zeros(0)]), (np.concatenate(rows or [empty]), np.concatenate(cols or [empty]))),
            shape=(len(histories), self.n_items),
            dtype=np.float32,
        )
        return np.asarray((weights @ self.similarity).toarray(), dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"data": s.data, "indices": s.indices, "indptr": s.indptr}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.similarity = sp.csr_matrix(
            (state["data"], state["indices"], state["indptr"]), shape=(self.n_items, self.n_items)
        )
