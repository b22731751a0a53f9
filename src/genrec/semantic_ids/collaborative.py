"""Item vectors from the interaction log alone, to quantise into semantic IDs when items have no text.

Two builders, both a truncated SVD (``scipy.sparse.linalg.svds``) of a sparse matrix of the
training log, so they need no training loop and no item text:

* ``svd_item_vectors`` (``"svd"``): the item-user matrix A (1 where user u interacted with item i)
  factorised as A ~ U S V^T; item i's vector is the row U_i S. Items bought by the same users
  get close vectors.
* ``cooccurrence_item_vectors`` (``"cooc"``): sequential co-occurrence. Items i and j co-occur with
  weight 1 / d each time they are d <= ``window`` positions apart in a user's sequence (both
  directions), giving the symmetric count matrix C. Its positive pointwise mutual information,

      PPMI[i, j] = max(0, log(C_ij * C_total / (C_i * C_j))),   C_i = sum_j C_ij,

  is factorised as U S U^T and item i's vector is U_i sqrt(S) (word2vec as matrix factorisation,
  Levy & Goldberg 2014, with items as words and sequences as sentences). Items that follow the same
  items get close vectors, so the codes group items by the context they are bought in.

Items with no interaction get a zero row; callers impute them (tiger does, from text neighbours)
or leave them to the quantiser's nearest code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from genrec.data.dataset import Dataset

METHODS = ("svd", "cooc")


def collaborative_item_vectors(dataset: Dataset, method: str, dim: int, seed: int, window: int = 3) -> np.ndarray:
    """Item vectors [n_items, <= dim] of the training log by ``method`` ("svd" or "cooc")."""
    if method == "svd":
        return svd_item_vectors(dataset, dim, seed)
    if method == "cooc":
        return cooccurrence_item_vectors(dataset, dim, seed, window)
    raise ValueError(f"collaborative vectors: method must be one of {', '.join(METHODS)}, not {method!r}")


def svd_item_vectors(dataset: Dataset, dim: int, seed: int) -> np.ndarray:
    """Rows U_i S of a rank-``dim`` truncated SVD  A ~ U S V^T  of the binary item-user matrix A."""
    inter = dataset.interactions
    a = sp.csr_matrix(
        (np.ones(len(inter), dtype=np.float32), (inter.item, inter.user)),
        shape=(dataset.n_items, max(dataset.n_users, 1)),
    )
    a.data[:] = 1.0  # repeated interactions count once
    k = min(dim, min(a.shape) - 1)
    if k < 1:
        return np.asarray(a.todense(), dtype=np.float32)
    v0 = np.random.default_rng(seed).standard_normal(min(a.shape))
    u, s, _ = svds(a, k=k, v0=v0)
    return (u * s).astype(np.float32)


def cooccurrence_item_vectors(dataset: Dataset, dim: int, seed: int, window: int = 3) -> np.ndarray:
    """Rows U_i sqrt(S) of a rank-``dim`` truncated SVD of the PPMI of windowed sequence co-occurrence."""
    ppmi = ppmi_matrix(cooccurrence_counts(dataset.sequences(), dataset.n_items, window))
    u, s = _truncated_svd(ppmi, dim, seed)
    return (u * np.sqrt(s)).astype(np.float32)


def cooccurrence_counts(sequences: list[np.ndarray], n_items: int, window: int) -> sp.csr_matrix:
    """Symmetric C[i, j]: sum of 1 / d over the times i and j are d <= ``window`` apart in a sequence."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    rows, cols, vals = [], [], []
    for gap in range(1, window + 1):
        for seq in sequences:
            if len(seq) > gap:
                rows.append(seq[:-gap])
                cols.append(seq[gap:])
                vals.append(np.full(len(seq) - gap, 1.0 / gap))
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    i, j, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = i != j  # an item repeated next to itself says nothing about its neighbours
    c = sp.csr_matrix((w[keep], (i[keep], j[keep])), shape=(n_items, n_items))
    return sp.csr_matrix(c + c.T)


def ppmi_matrix(counts: sp.csr_matrix) -> sp.csr_matrix:
    """max(0, log(C_ij * C_total / (C_i * C_j))) on the non-zeros of the symmetric count matrix C."""
    c = sp.coo_matrix(counts)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    pmi = np.log(c.data * totals.sum() / (totals[c.row] * totals[c.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=counts.shape)


def _truncated_svd(a: sp.spmatrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(U, S), largest first, of a rank-min(dim, min(shape) - 1) truncated SVD (fixed start vector)."""
    k = min(dim, min(a.shape) - 1)
    if k < 1 or a.nnz == 0:
        return np.zeros((a.shape[0], max(k, 1)), dtype=np.float32), np.zeros(max(k, 1), dtype=np.float32)
    v0 = np.random.default_rng(seed).standard_normal(min(a.shape))
    u, s, _ = svds(a.astype(np.float64), k=k, v0=v0)
    order = np.argsort(-s)  # svds returns ascending singular values
    return u[:, order], s[order]
