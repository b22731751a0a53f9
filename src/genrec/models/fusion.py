"""Fused re-scoring: a generative list model (tiger) and a full-catalog scorer (SASRec) ranked together.

tiger ranks the items it finds higher; SASRec finds more of them. The fused model takes, per user,
the union U of the generative model's top ``generative_k`` list and the scorer's top ``scorer_k``
items, scores every candidate by both models and ranks U by

  "logprob":  f(i) = w * log p_gen(i | h) + (1 - w) * log softmax(z)(i)
  "rank":     f(i) = w / (c + r_gen(i)) + (1 - w) / (c + r_scorer(i))

where log p_gen is the generative model's exact log-probability of the item (tiger's
``item_log_probs``; for a model without it, its ``score``), z the scorer's logits over the whole
catalog, r_m(i) the 1-based rank of i within U by model m, and c = ``rank_offset``. Items outside U
score -inf (full-ranking semantics: a target neither model lists is a miss), so the fused model
is evaluated from its top-k lists, as the generative model is.

``fit`` loads the two models (or trains them, when given model names) and picks the method and w
that maximise NDCG@10 on the validation cases (a grid, ``methods`` x ``weights``); nothing is
learned from test. ``with_components`` keeps the learned method and weight and swaps in other
trained models (e.g. the same two refit on train + validation).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrec.config import FusionConfig, config_from_dict, config_to_dict
from genrec.data.dataset import Dataset
from genrec.data.split import EvalCases
from genrec.eval import metrics as M
from genrec.models.base import Histories, Recommendations, Recommender, check_recommend_args, mask_items, top_k
from genrec.models.registry import get_model_class, model_names, register_model

METHODS = ("logprob", "rank")


@dataclasses.dataclass
class Candidates:
    """Per user: the union of both top lists (-1 pads) with both models' scores."""

    items: np.ndarray  # int64 [batch, m], -1 where there is no candidate
    generative: np.ndarray  # float32 [batch, m], log p_gen; -inf on pads
    scorer: np.ndarray  # float32 [batch, m], log softmax of the scorer's logits; -inf on pads


@register_model("fusion")
class Fusion(Recommender):
    """Ranks the union of two models' top lists by a fused score learned on validation."""

    config_class = FusionConfig
    full_scores = False  # evaluated from recommend()'s lists: items outside the union are misses

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.generative: Recommender | None = None
        self.scorer: Recommender | None = None

    # ---- components ---------------------------------------------------------------------
    def _fit(self, dataset: Dataset, valid: EvalCases | None) -> None:
        cfg = self.config
        check_config(cfg)
        if self.generative is None:
            self.generative = _component(cfg.generative, "generative", dataset, valid)
        if self.scorer is None:
            self.scorer = _component(cfg.scorer, "scorer", dataset, valid)
        for role, model in (("generative", self.generative), ("scorer", self.scorer)):
            if model.item_ids != self.item_ids:
                raise ValueError(f"fusion: the {role} model was trained on another catalog than {dataset.name!r}")
        if cfg.learn and valid is not None and len(valid):
            self._learn(valid)

    @classmethod
    def over(cls, generative: Recommender, scorer: Recommender, config: FusionConfig | None = None) -> Fusion:
        """An unfitted fused model over two trained models; ``fit`` then learns the weights only."""
        if generative.item_ids != scorer.item_ids:
            raise ValueError("fusion: the two models were trained on different catalogs")
        fused = cls(config)
        fused.generative, fused.scorer = generative, scorer
        return fused

    def with_components(self, generative: Recommender, scorer: Recommender) -> Fusion:
        """A fitted fused model with this one's method and weight over two other trained models."""
        other = Fusion.over(generative, scorer, dataclasses.replace(self.config, learn=False))
        other.n_items, other.item_ids = generative.n_items, list(generative.item_ids)
        other.fit_info = {"learned": self.fit_info.get("learned"), "components": "given"}
        return other

    def _require(self) -> tuple[Recommender, Recommender]:
        if self.generative is None or self.scorer is None:
            raise RuntimeError("fusion model has no components; call fit, with_components or load first")
        return self.generative, self.scorer

    # ---- learning the fused score --------------------------------------------------------
    def _learn(self, valid: EvalCases) -> None:
        """Pick (method, w) by NDCG@10 on ``valid``; ties keep the first in grid order."""
        cfg = self.config
        cand = self.candidates(valid.histories)
        grid = []
        for method in cfg.methods:
            for weight in cfg.weights:
                lists = ranked(cand, method, weight, cfg.rank_offset, 10)
                ranks = M.rank_in_lists(lists, valid.targets, self.n_items)
                m = M.rank_metrics(ranks, (10,))
                grid.append({"method": method, "weight": weight, "NDCG@10": m["NDCG@10"], "Recall@10": m["Recall@10"]})
        best = max(grid, key=lambda g: g["NDCG@10"])  # max keeps the first of equal scores
        self.config = dataclasses.replace(cfg, method=best["method"], weight=best["weight"])
        union = (cand.items >= 0).sum(1)
        in_union = (cand.items == valid.targets[:, None]).any(1)
        self.fit_info.update(
            learned={"method": best["method"], "weight": best["weight"], "valid_NDCG@10": best["NDCG@10"]},
            grid=grid,
            valid_cases=len(valid),
            valid_mean_candidates=float(union.mean()),
            valid_target_in_union=float(in_union.mean()),
        )

    # ---- scoring --------------------------------------------------------------------------
    def candidates(self, histories: Histories, exclude: Sequence[np.ndarray] | None = None) -> Candidates:
        """The union of both top lists for every history, with both models' scores (batched)."""
        cfg = self.config
        parts = []
        for lo in range(0, len(histories), cfg.batch_size):
            drop = None if exclude is None else exclude[lo : lo + cfg.batch_size]
            parts.append(self._candidates(histories[lo : lo + cfg.batch_size], drop))
        width = max((p.items.shape[1] for p in parts), default=0)
        return Candidates(
            np.concatenate([_pad(p.items, width, -1) for p in parts]) if parts else np.zeros((0, 0), np.int64),
            np.concatenate([_pad(p.generative, width, -np.inf) for p in parts]) if parts else np.zeros((0, 0)),
            np.concatenate([_pad(p.scorer, width, -np.inf) for p in parts]) if parts else np.zeros((0, 0)),
        )

    def _candidates(self, histories: Histories, exclude: Sequence[np.ndarray] | None) -> Candidates:
        generative, scorer = self._require()
        cfg = self.config
        gen = generative.recommend(histories, k=min(cfg.generative_k, self.n_items), exclude=exclude)
        logits = scorer.score(histories).astype(np.float64)
        log_softmax = logits - _logsumexp(logits)
        if exclude is not None:
            mask_items(logits, exclude)
        top = top_k(logits, min(cfg.scorer_k, self.n_items))[0]
        top = np.where(np.take_along_axis(logits, top, axis=1) > -np.inf, top, -1)  # excluded: no candidate
        items = _row_union(np.concatenate([np.where(gen.items >= 0, gen.items, -1), top], axis=1))
        # the generative list's own scores are tiger's exact log-probabilities: look them up, and
        # score only the candidates the scorer added
        same = items[:, :, None] == gen.items[:, None, :]  # [batch, m, generative_k]
        listed = same.any(2) & (items >= 0)
        g = np.where(listed, np.take_along_axis(gen.scores, same.argmax(2), axis=1), -np.inf).astype(np.float32)
        extra = np.where(listed, -1, items)
        if (extra >= 0).any():
            g = np.where(extra >= 0, _item_scores(generative, histories, extra), g).astype(np.float32)
        s = np.where(items >= 0, np.take_along_axis(log_softmax, np.maximum(items, 0), axis=1), -np.inf)
        return Candidates(items, g, s.astype(np.float32))

    def score(self, histories: Histories) -> np.ndarray:
        """Fused scores [batch, n_items]: f(i) on the union of both top lists, -inf elsewhere."""
        cand = self.candidates(histories)
        fused = fused_scores(cand, self.config.method, self.config.weight, self.config.rank_offset)
        out = np.full((len(histories), self.n_items), -np.inf, dtype=np.float32)
        rows, cols = np.nonzero(cand.items >= 0)
        out[rows, cand.items[rows, cols]] = fused[rows, cols]
        return out

    def recommend(
        self,
        histories: Histories,
        k: int = 10,
        exclude: str | Sequence[np.ndarray] | None = None,
        batch_size: int = 0,
    ) -> Recommendations:
        """Top-``k`` of the union by the fused score; slots beyond the union are -1 / -inf."""
        check_recommend_args(histories, k, exclude)
        drop = None
        if exclude is not None:
            drop = [np.asarray(h, dtype=np.int64) for h in (histories if isinstance(exclude, str) else exclude)]
        cand = self.candidates(histories, drop)
        cfg = self.config
        fused = fused_scores(cand, cfg.method, cfg.weight, cfg.rank_offset)
        order = _order(fused, cand.items)[:, :k]
        items = np.take_along_axis(cand.items, order, axis=1) if order.size else np.zeros((len(histories), 0))
        scores = np.take_along_axis(fused, order, axis=1) if order.size else np.zeros((len(histories), 0))
        out_items = np.full((len(histories), k), -1, dtype=np.int64)
        out_scores = np.full((len(histories), k), -np.inf, dtype=np.float32)
        out_items[:, : items.shape[1]] = items
        out_scores[:, : items.shape[1]] = np.where(items >= 0, scores, -np.inf)
        return Recommendations(out_items, out_scores)

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {}
        for prefix, model in zip(("gen", "scr"), self._require()):
            meta = {"model": model.name, "config": config_to_dict(model.config), "n_items": model.n_items}
            state[f"meta.{prefix}"] = np.array(json.dumps(meta))
            state.update({f"{prefix}.{k}": v for k, v in model._state().items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        models = []
        for prefix in ("gen", "scr"):
            meta = json.loads(str(state[f"meta.{prefix}"]))
            cls: Any = get_model_class(meta["model"])
            model = cls(config_from_dict(cls.config_class, meta["config"]))
            model.n_items, model.item_ids = int(meta["n_items"]), list(self.item_ids)
            model._set_state({k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(f"{prefix}.")})
            models.append(model)
        self.generative, self.scorer = models


# ---- the fused score --------------------------------------------------------------------
def fused_scores(cand: Candidates, method: str, weight: float, rank_offset: float) -> np.ndarray:
    """f [batch, m] for every candidate (-inf on pads), as the module docstring defines it."""
    pad = cand.items < 0
    if method == "logprob":
        gen = np.where(pad, 0.0, cand.generative).astype(np.float64)
        scr = np.where(pad, 0.0, cand.scorer).astype(np.float64)
        if weight >= 1.0:  # w = 1 or 0 ignores the other model, even where it gives -inf
            fused = gen
        elif weight <= 0.0:
            fused = scr
        else:
            fused = weight * gen + (1.0 - weight) * scr
    elif method == "rank":
        fused = weight / (rank_offset + _ranks(cand.generative, pad)) + (1.0 - weight) / (
            rank_offset + _ranks(cand.scorer, pad)
        )
    else:
        raise ValueError(f"fusion method must be one of {', '.join(METHODS)}, not {method!r}")
    return np.where(pad, -np.inf, fused).astype(np.float32)


def ranked(cand: Candidates, method: str, weight: float, rank_offset: float, k: int) -> np.ndarray:
    """Top-``k`` candidate items per row by the fused score, -1 where the union is shorter."""
    fused = fused_scores(cand, method, weight, rank_offset)
    order = _order(fused, cand.items)[:, :k]
    lists = np.take_along_axis(cand.items, order, axis=1)
    if lists.shape[1] < k:
        lists = _pad(lists, k, -1)
    return lists


def check_config(cfg: FusionConfig) -> None:
    """Raise a ValueError naming the first bad setting."""
    for name in ("generative_k", "scorer_k", "batch_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"fusion: {name} must be at least 1, got {getattr(cfg, name)}")
    for method in (cfg.method, *cfg.methods):
        if method not in METHODS:
            raise ValueError(f"fusion: method must be one of {', '.join(METHODS)}, not {method!r}")
    if not cfg.weights or any(not 0.0 <= w <= 1.0 for w in (cfg.weight, *cfg.weights)):
        raise ValueError("fusion: weight and weights must lie in [0, 1] (and weights must not be empty)")
    if cfg.rank_offset < 0:
        raise ValueError(f"fusion: rank_offset must not be negative, got {cfg.rank_offset}")


def _component(spec: str, role: str, dataset: Dataset, valid: EvalCases | None) -> Recommender:
    """A saved model (``spec`` is a directory) or a new one of that name trained here."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return Recommender.load(path)
    if spec in model_names():
        cls: Any = get_model_class(spec)
        return cls().fit(dataset, valid)
    raise ValueError(f"fusion: {role}={spec!r} is neither a saved-model directory nor a model name")


def _item_scores(model: Recommender, histories: Histories, items: np.ndarray) -> np.ndarray:
    """The model's score of each (user, item) pair in ``items`` [batch, m] (-1 -> -inf)."""
    if hasattr(model, "item_log_probs"):
        return np.asarray(model.item_log_probs(histories, items), dtype=np.float32)
    scores = model.score(histories)
    return np.where(items >= 0, np.take_along_axis(scores, np.maximum(items, 0), axis=1), -np.inf)


def _row_union(items: np.ndarray) -> np.ndarray:
    """Each row's distinct non-negative ids in first-seen order, then -1 pads (same width)."""
    order = np.argsort(items, axis=1, kind="stable")
    srt = np.take_along_axis(items, order, axis=1)
    repeat = np.zeros_like(srt, dtype=bool)
    repeat[:, 1:] = srt[:, 1:] == srt[:, :-1]
    dup = np.zeros_like(repeat)
    np.put_along_axis(dup, order, repeat, axis=1)
    keep = (items >= 0) & ~dup
    # stable compaction: kept entries first, in their original order
    pos = np.argsort(~keep, axis=1, kind="stable")
    out = np.take_along_axis(np.where(keep, items, -1), pos, axis=1)
    return out


def _ranks(scores: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """1-based rank of every candidate within its row by ``scores`` (higher first; ties by position)."""
    order = np.argsort(np.where(pad, np.inf, -scores.astype(np.float64)), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :].repeat(len(scores), 0), axis=1)
    return ranks.astype(np.float64)


def _order(fused: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Candidate positions best first; pads last; ties by position (the generative list first)."""
    return np.argsort(np.where(items < 0, np.inf, -fused.astype(np.float64)), axis=1, kind="stable")


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """log sum exp over each row, [batch, 1] (rows of -inf give -inf)."""
    top = x.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(x - top).sum(axis=1, keepdims=True))


def _pad(a: np.ndarray, width: int, value: float) -> np.ndarray:
    """``a`` [n, w] padded on the right with ``value`` to [n, width]."""
    if a.shape[1] >= width:
        return a
    fill = np.full((len(a), width - a.shape[1]), value, dtype=a.dtype)
    return np.concatenate([a, fill], axis=1)
