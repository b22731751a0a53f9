"""Recommendations for many requests at once: histories in, top-k catalog items out.

``score_batch`` is the batcher's work function: the requests of a batch that use the same model
are scored in one ``recommend`` call (one forward pass, or one beam search for ``tiger``), each
with its own exclusions (history, dislikes, items failing its hard filters). A request with no
history at all gets the catalog's most popular items that pass its filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genrec.models.base import Recommender
from genrec.serve.catalog import CatalogIndex, Filters


@dataclass
class RecQuery:
    """One recommendation request, resolved to internal ids."""

    model: Recommender
    catalog: CatalogIndex
    history: list[int]
    k: int
    exclude: set[int] = field(default_factory=set)
    filters: Filters = field(default_factory=Filters)


def excluded(query: RecQuery) -> np.ndarray:
    """Internal ids the request must not get: its exclusions and every item failing its filters."""
    out = np.fromiter(query.exclude, dtype=np.int64, count=len(query.exclude))
    mask = query.catalog.allowed(query.filters)
    if mask is not None:
        out = np.union1d(out, np.flatnonzero(~mask))
    return out


def score_batch(queries: Sequence[RecQuery]) -> list[list[tuple[int, float]]]:
    """Top-k (internal id, score) per query, best first; models are run once per batch each."""
    results: list[list[tuple[int, float]]] = [[] for _ in queries]
    groups: dict[int, list[int]] = {}
    for n, q in enumerate(queries):
        if q.history:
            groups.setdefault(id(q.model), []).append(n)
        else:
            results[n] = _popular(q)
    for members in groups.values():
        model = queries[members[0]].model
        drops = [excluded(queries[n]) for n in members]
        k = min(max(queries[n].k for n in members), model.n_items)
        recs = model.recommend([np.asarray(queries[n].history, dtype=np.int64) for n in members], k=k, exclude=drops)
        for row, n in enumerate(members):
            pairs = [
                (int(i), float(s))
                for i, s in zip(recs.items[row], recs.scores[row])
                if i >= 0 and np.isfinite(s) and i < len(queries[n].catalog)
            ]
            results[n] = pairs[: queries[n].k]
    return results


def _popular(query: RecQuery) -> list[tuple[int, float]]:
    drop = set(excluded(query).tolist())
    out: list[tuple[int, float]] = []
    for rank, i in enumerate(query.catalog.popular):
        if int(i) not in drop:
            out.append((int(i), -float(rank)))
            if len(out) >= query.k:
                break
    return out
