"""Instruction-conditioned retrieval: one model for recommendation and search (as SynerGen/UniSAR).

For a user history h and an understood instruction (an ``Intent``), every catalog item i gets

  s(i) = w_rec * z(rec(h, i)) + w_text * z(cos(q, e_i)) + w_like * z(max_r cos(e_r, e_i)) + w_soft * m(i)

where rec is the trained recommender's score, z standardises over the catalog and clips to
[-3, 3] (so recommenders with different score scales and heavy tails combine the same way), q is the instruction's embedding, e_i the
item's text embedding, r the "more like" reference items and m(i) the number of wanted
constraints (brand, category, attribute, style word) the item meets; for "cheapest" / "priciest"
the 30 best items that meet the most of them come first, ordered by price. Hard constraints
(excluded brands, categories, attribute values, words, the price range, "not like" items) set s(i)
to -inf: such an item never appears, so a wrong hard constraint hides items while a wrong soft one
only reorders them. Without an instruction s is the recommender's ranking.

Items past the recommender's catalog (generated items of a model that cannot add items) get a
recommender-scale score from the text encoder (``text_scores``), never a shape error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genrec.data.dataset import is_missing
from genrec.generation.intent import Constraints
from genrec.models.base import Recommendations, Recommender, mask_items, top_k
from genrec.vectors import unit


@dataclass
class RetrievalWeights:
    """Weights of the score parts (see the module docstring)."""

    rec: float = 1.0
    text: float = 1.0
    like: float = 1.0
    soft: float = 2.0


def standardise(x: np.ndarray, clip: float = 3.0) -> np.ndarray:
    """(x - mean) / std per row over finite entries, clipped to +-clip; -inf stays -inf, a constant row is 0."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    safe = np.where(finite, x, np.nan)
    mean = np.nanmean(safe, axis=-1, keepdims=True)
    std = np.nanstd(safe, axis=-1, keepdims=True)
    out = np.where(finite, np.clip((x - mean) / np.where(std > 0, std, 1.0), -clip, clip), -np.inf)
    return np.nan_to_num(out, nan=0.0, neginf=-np.inf)


class CatalogIndex:
    """Lower-cased views of the catalog fields that constraints are matched against."""

    def __init__(self, items: pd.DataFrame) -> None:
        self.n = len(items)
        self.ids = [str(x) for x in items["item_id"]]
        self.position = {x: i for i, x in enumerate(self.ids)}
        self.brand = np.array([_norm(b) for b in items["brand"]], dtype=object)
        self.categories = [
            {_norm(c) for c in (cats if isinstance(cats, (list, tuple, np.ndarray)) else [])}
            for cats in items["categories"]
        ]
        self.price = pd.to_numeric(items["price"], errors="coerce").to_numpy(dtype=np.float64)
        self.attributes = [{k: _norm(v) for k, v in (a or {}).items()} for a in items["attributes"]]
        self.text = [_norm(f"{t} {d}") for t, d in zip(items["title"], items["description"].fillna(""))]

    def hard_mask(self, c: Constraints) -> np.ndarray:
        """True where an item violates no hard constraint."""
        ok = np.ones(self.n, dtype=bool)
        if c.exclude_brands:
            ok &= ~np.isin(self.brand, [_norm(b) for b in c.exclude_brands])
        for cat in c.exclude_categories:
            ok &= np.array([_norm(cat) not in cats for cats in self.categories])
        for name, values in c.exclude_attributes.items():
            bad = {_norm(v) for v in values}
            ok &= np.array([a.get(name) not in bad for a in self.attributes])
        for word in c.exclude_words:
            pattern = re.compile(rf"\b{re.escape(_norm(word))}\b")
            ok &= np.array([not pattern.search(t) for t in self.text])
        if c.price_min is not None:
            ok &= ~(self.price < c.price_min)  # unknown prices are kept
        if c.price_max is not None:
            ok &= ~(self.price > c.price_max)
        for item in c.unlike_items:
            if item in self.position:
                ok[self.position[item]] = False
        return ok

    def order_by_price(self, scores: np.ndarray, order: str, soft: np.ndarray, pool: int) -> np.ndarray:
        """Scores with the ``pool`` best items that meet the most wanted constraints (and have a price)
        first, cheapest first ("asc") or priciest first ("desc"): "the cheapest mascara" lists the
        cheapest of the mascaras that fit the user, not the cheapest item of the catalog."""
        out = scores.astype(np.float64).copy()
        fits = np.isfinite(out) & np.isfinite(self.price) & (soft == soft.max())
        cand = np.flatnonzero(fits)
        if len(cand) == 0:
            return out
        best = cand[np.argsort(-out[cand], kind="stable")[:pool]]
        by_price = best[np.argsort(self.price[best] if order == "asc" else -self.price[best], kind="stable")]
        top = np.nanmax(np.where(np.isfinite(out), out, np.nan))
        out[by_price] = top + 1.0 + np.arange(len(by_price), 0, -1, dtype=np.float64)
        return out

    def soft_matches(self, c: Constraints) -> np.ndarray:
        """How many wanted constraints each item meets."""
        m = np.zeros(self.n)
        if c.brands:
            m += np.isin(self.brand, [_norm(b) for b in c.brands])
        for cat in c.categories:
            m += np.array([_norm(cat) in cats for cats in self.categories])
        for name, values in c.attributes.items():
            good = {_norm(v) for v in values}
            m += np.array([a.get(name) in good for a in self.attributes])
        for word in c.style_words:
            pattern = re.compile(rf"\b{re.escape(_norm(word))}\b")
            m += np.array([bool(pattern.search(t)) for t in self.text])
        return m


class InstructedRetriever:
    """Recommendations under an instruction: recommender scores + instruction match + constraints."""

    def __init__(
        self,
        recommender: Recommender,
        items: pd.DataFrame,
        item_embeddings: np.ndarray,
        weights: RetrievalWeights | None = None,
    ) -> None:
        if len(items) != len(item_embeddings):
            raise ValueError(f"{len(items)} items but {len(item_embeddings)} item embeddings")
        self.recommender = recommender
        self.index = CatalogIndex(items)
        self.emb = np.asarray(item_embeddings, dtype=np.float32)
        self.weights = weights or RetrievalWeights()
        self.order_pool = 30  # "cheapest": the best this many matching items, ordered by price

    def scores(
        self,
        histories: Sequence[np.ndarray],
        constraints: Sequence[Constraints | None],
        queries: np.ndarray | None = None,
    ) -> np.ndarray:
        """Combined scores [batch, n_items]; ``queries`` are instruction embeddings (rows may be zero)."""
        if len(constraints) != len(histories):
            raise ValueError("give one Constraints (or None) per history")
        w = self.weights
        rec = self.recommender.score(histories)[:, : self.index.n]
        if rec.shape[1] < self.index.n:  # items the recommender cannot score (it cannot add items)
            rec = np.concatenate([rec, self.text_scores(histories, rec)], axis=1)
        total = w.rec * standardise(rec)
        if queries is not None:
            q = np.asarray(queries, dtype=np.float32)
            has_query = np.linalg.norm(q, axis=1) > 0
            text = standardise(q @ self.emb.T)
            total = total + w.text * np.where(has_query[:, None], text, 0.0)
        for row, c in enumerate(constraints):
            if c is None:
                continue
            refs = [self.index.position[x] for x in c.like_items if x in self.index.position]
            if refs:
                total[row] += w.like * standardise((self.emb[refs] @ self.emb.T).max(axis=0))
            soft = self.index.soft_matches(c)
            total[row] += w.soft * soft
            total[row, ~self.index.hard_mask(c)] = -np.inf
            if c.price_order:
                total[row] = self.index.order_by_price(total[row], c.price_order, soft, self.order_pool)
        return total.astype(np.float32)

    def text_scores(self, histories: Sequence[np.ndarray], rec: np.ndarray) -> np.ndarray:
        """Recommender-scale scores of the items past the recommender's catalog, from the text encoder.

        Each such item gets the recommender score of the human item at the same rank by cosine to
        the user's history (mean embedding of the history's items): as close to the user as the
        item the recommender ranks k-th, so it is scored as that item is.
        """
        n_rec = rec.shape[1]
        out = np.zeros((len(histories), self.index.n - n_rec), dtype=np.float64)
        for b, history in enumerate(histories):
            rows = [int(i) for i in np.asarray(history).reshape(-1) if 0 <= int(i) < n_rec]
            finite = np.sort(rec[b][np.isfinite(rec[b])])
            if not rows or not len(finite):
                out[b] = np.median(finite) if len(finite) else 0.0
                continue
            user = self.emb[rows].mean(axis=0)
            cos = self.emb @ unit(user)
            rank = np.searchsorted(np.sort(cos[:n_rec]), cos[n_rec:]) / n_rec  # share of human items below
            out[b] = finite[np.clip((rank * len(finite)).astype(int), 0, len(finite) - 1)]
        return out.astype(np.float32)

    def recommend(
        self,
        histories: Sequence[np.ndarray],
        constraints: Sequence[Constraints | None],
        queries: np.ndarray | None = None,
        k: int = 10,
        exclude: Sequence[np.ndarray] | None = None,
    ) -> Recommendations:
        """Top-k items; slots no item can fill (every item excluded) are -1 with score -inf."""
        scores = self.scores(histories, constraints, queries)
        if exclude is not None:
            mask_items(scores, exclude)
        items, top = top_k(scores, min(k, scores.shape[1]))
        items = np.where(np.isfinite(top), items, -1)
        return Recommendations(items, top)


def _norm(value: object) -> str:
    """Lower-case, trimmed text ('' for missing values)."""
    if is_missing(value):
        return ""
    return " ".join(str(value).lower().split())
