"""Residual k-means (RQ-KMeans): one faiss k-means codebook per level, fit on the residuals.

Level 1 clusters the embeddings x; each later level clusters what the levels before left
unexplained, r_l = x - sum_{j<l} C_j[c_j], and the item's code at level l is the nearest
centroid of C_l to r_l.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from genrec.semantic_ids.base import SemanticIdTokenizer, nearest


class RQKMeans(SemanticIdTokenizer):
    """Residual k-means semantic IDs (``levels`` x ``codebook_size``), seeded faiss k-means."""

    name = "rq_kmeans"

    codebooks: np.ndarray  # [levels, codebook_size, d]

    def _fit(self, x: np.ndarray) -> None:
        import faiss

        cfg = self.config
        if len(x) < cfg.codebook_size:
            raise ValueError(f"k-means needs at least codebook_size={cfg.codebook_size} items, not {len(x)}")
        faiss.omp_set_num_threads(cfg.threads or os.cpu_count() or 1)
        residual = x.copy()
        books = []
        for level in tqdm(range(cfg.levels), desc="rq-kmeans levels", disable=not cfg.progress):
            km = faiss.Kmeans(
                x.shape[1],
                cfg.codebook_size,
                niter=cfg.kmeans_iters,
                seed=cfg.seed + level,
                max_points_per_centroid=max(256, -(-len(x) // cfg.codebook_size)),  # no subsampling
                min_points_per_centroid=1,  # small data is the caller's choice: no warning
                verbose=False,
            )
            km.train(residual)
            centroids = np.asarray(km.centroids, dtype=np.float32)
            residual -= centroids[nearest(residual, centroids)]
            books.append(centroids)
        self.codebooks = np.stack(books)
        self.fit_info["residual_norm"] = float(np.linalg.norm(residual, axis=1).mean())

    def _encode(self, x: np.ndarray) -> np.ndarray:
        return self._codes_and_residual(x, self.levels)[0]

    def _last_level_ranking(self, x: np.ndarray) -> np.ndarray:
        _, residual = self._codes_and_residual(x, self.levels - 1)
        last = self.codebooks[-1]
        dist = (last**2).sum(1)[None, :] - 2.0 * residual @ last.T
        return np.argsort(dist, axis=1, kind="stable")

    def _codes_and_residual(self, x: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
        residual = x.copy()
        codes = np.zeros((len(x), levels), dtype=np.int64)
        for level in range(levels):
            codes[:, level] = nearest(residual, self.codebooks[level])
            residual -= self.codebooks[level][codes[:, level]]
        return codes, residual

    def _state(self) -> dict[str, np.ndarray]:
        return {"codebooks": self.codebooks}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.codebooks = state["codebooks"].astype(np.float32)
