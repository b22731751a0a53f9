"""Fused re-scoring: a generative list model (tiger) and full-catalog scorers (SASRec, ...) ranked together.

tiger ranks the items it finds higher; SASRec finds more of them. The fused model takes, per user,
the union U of the generative model's top ``generative_k`` list and each scorer's top ``scorer_k``
items, scores every candidate by every model and ranks U by

  "logprob":  f(i) = sum_m w_m * s_m(i)
  "rank":     f(i) = sum_m w_m / (c + r_m(i))

with the weights w (``mix``, generative model first) on the simplex. s_m is the generative model's
exact log-probability of the item (tiger's ``item_log_probs``; for a model without it, its
``score``) or a scorer's log-softmax over the whole catalog, log softmax(z_m)(i); r_m(i) is the
1-based rank of i within U by s_m, and c = ``rank_offset``. Items outside U score -inf
(full-ranking semantics: a target no model lists is a miss), so the fused model is evaluated from
its top-k lists, as the generative model is.

``fit`` loads the models (or trains them, when given model names: their default settings, early
stopping on ``valid``) and picks the method and the mix that maximise NDCG@10 on the validation
cases of ``valid`` (a ``genrec.eval.ranking_validator``; every point of the simplex on
``grid_step``, for each of ``methods``); nothing is learned from test. Under ``fit_protocol`` the
fused model has no epochs, so it is tested as fit (components trained on the training split);
``benchmarks/run_fusion.py`` instead swaps in components refit on train + validation. A mix with one weight 1 is that model's own
ranking of U, so the chosen point is never below any single model on validation.
``with_components`` keeps the learned method and mix and swaps in other trained models (e.g. the
same ones refit on train + validation).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrec.config import FusionConfig, config_from_dict, config_to_dict
from genrec.data.dataset import Dataset
from genrec.models.base import Histories, Recommendations, Recommender, check_recommend_args, mask_items, top_k
from genrec.models.registry import get_model_class, model_names, register_model

if TYPE_CHECKING:
    from genrec.train import Validator

METHODS = ("logprob", "rank")


@dataclasses.dataclass
class Candidates:
    """Per user: the union of all top lists (-1 pads) with every model's score of each candidate."""

    items: np.ndarray  # int64 [batch, m], -1 where there is no candidate
    scores: np.ndarray  # float32 [models, batch, m]: s_m (generative first); -inf on pads


@register_model("fusion")
class Fusion(Recommender):
    """Ranks the union of several models' top lists by a fused score learned on validation."""

    config_class = FusionConfig
    full_scores = False  # evaluated from recommend()'s lists: items outside the union are misses

    def __init__(self, config: FusionConfig | None = None) -> None:
        super().__init__(config)
        self.components: list[Recommender] = []  # the generative model, then the scorers

    # ---- components ---------------------------------------------------------------------
    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        cfg = self.config
        if not self.components:
            specs = [("generative", cfg.generative), *(("scorer", s) for s in cfg.scorers)]
            self.components = [_component(spec, role, dataset, valid) for role, spec in specs]
        for model in self.components:
            if model.item_ids != self.item_ids:
                raise ValueError(f"fusion: the {model.name} model was trained on another catalog than {dataset.name!r}")
        if len(cfg.mix) not in (0, len(self.components)):
            raise ValueError(f"fusion: mix has {len(cfg.mix)} weights for {len(self.components)} models")
        if cfg.learn and valid is not None and len(valid):
            self._learn(valid)

    @classmethod
    def over(cls, generative: Recommender, *scorers: Recommender, config: FusionConfig | None = None) -> Fusion:
        """An unfitted fused model over trained models; ``fit`` then learns the method and mix only."""
        if not scorers or any(s.item_ids != generative.item_ids for s in scorers):
            raise ValueError("fusion: give at least one scorer, all trained on the generative model's catalog")
        fused = cls(config)
        fused.components = [generative, *scorers]
        return fused

    def with_components(self, generative: Recommender, *scorers: Recommender) -> Fusion:
        """A fitted fused model with this one's method and mix over other trained models."""
        other = Fusion.over(generative, *scorers, config=self.config.replace(learn=False))
        other.n_items, other.item_ids = generative.n_items, list(generative.item_ids)
        other.fit_info = {"learned": self.fit_info.get("learned"), "components": "given"}
        return other

    def _require(self) -> list[Recommender]:
        if len(self.components) < 2:
            raise RuntimeError("fusion model has no components; call fit, with_components or load first")
        return self.components

    def _mix(self) -> tuple[float, ...]:
        n = len(self._require())
        return tuple(self.config.mix) or (1.0 / n,) * n

    # ---- learning the fused score --------------------------------------------------------
    def _learn(self, valid: Validator) -> None:
        """Pick (method, mix) by the validator's metric (NDCG@10); ties keep the first in grid order.

        Every grid point is scored by ``valid`` itself (the metric ``evaluate`` computes) on a probe
        that ranks candidates computed once. Recall@10 per point and the share of targets in the
        union are recorded too when the validator exposes its cases (``ranking_validator`` does).
        """
        cfg = self.config
        key = "NDCG@10" if valid.name == "ndcg10" else valid.name
        probe = _GridPoint(self)
        cases = getattr(valid, "cases", None)
        targets = getattr(cases, "targets", None)
        grid = []
        for method in cfg.methods:
            for mix in simplex(len(self.components), cfg.grid_step):
                probe.method, probe.mix = method, mix
                entry: dict[str, Any] = {"method": method, "mix": list(mix), key: float(valid(probe))}
                if targets is not None and probe.lists is not None:
                    entry["Recall@10"] = float((probe.lists[:, :10] == targets[:, None]).any(1).mean())
                grid.append(entry)
        best = max(grid, key=lambda g: g[key])  # max keeps the first of equal scores
        self.config = cfg.replace(method=best["method"], mix=tuple(best["mix"]))
        self.fit_info.update(
            learned={"method": best["method"], "mix": best["mix"], f"valid_{key}": best[key]},
            models=[m.name for m in self.components],
            grid=grid,
            valid_cases=len(valid),
        )
        cand = probe.cand
        if cand is not None:
            self.fit_info["valid_mean_candidates"] = float((cand.items >= 0).sum(1).mean())
            if targets is not None:
                self.fit_info["valid_target_in_union"] = float((cand.items == targets[:, None]).any(1).mean())

    # ---- scoring --------------------------------------------------------------------------
    def candidates(self, histories: Histories, exclude: Sequence[np.ndarray] | None = None) -> Candidates:
        """The union of all top lists for every history, with every model's scores (batched)."""
        step = self.config.batch_size
        parts = [
            self._candidates(histories[lo : lo + step], None if exclude is None else exclude[lo : lo + step])
            for lo in range(0, len(histories), step)
        ]
        if not parts:
            return Candidates(np.zeros((0, 0), np.int64), np.zeros((len(self._require()), 0, 0), np.float32))
        width = max(p.items.shape[1] for p in parts)
        return Candidates(
            np.concatenate([_pad(p.items, width, -1) for p in parts]),
            np.concatenate([_pad(p.scores, width, -np.inf) for p in parts], axis=1),
        )

    def _candidates(self, histories: Histories, exclude: Sequence[np.ndarray] | None) -> Candidates:
        generative, *scorers = self._require()
        cfg = self.config
        gen = generative.recommend(histories, k=min(cfg.generative_k, self.n_items), exclude=exclude)
        lists, log_softmaxes = [np.where(gen.items >= 0, gen.items, -1)], []
        for scorer in scorers:
            logits = scorer.score(histories).astype(np.float64)
            log_softmaxes.append(logits - _logsumexp(logits))
            if exclude is not None:
                mask_items(logits, exclude)
            top = top_k(logits, min(cfg.scorer_k, self.n_items))[0]
            lists.append(np.where(np.take_along_axis(logits, top, axis=1) > -np.inf, top, -1))  # excluded: none
        items = _row_union(np.concatenate(lists, axis=1))
        # the generative list's own scores are tiger's exact log-probabilities: look them up, and
        # score only the candidates the scorers added
        same = items[:, :, None] == gen.items[:, None, :]  # [batch, m, generative_k]
        listed = same.any(2) & (items >= 0)
        g = np.where(listed, np.take_along_axis(gen.scores, same.argmax(2), axis=1), -np.inf)
        extra = np.where(listed, -1, items)
        if (extra >= 0).any():
            g = np.where(extra >= 0, _item_scores(generative, histories, extra), g)
        scores = [g] + [
            np.where(items >= 0, np.take_along_axis(ls, np.maximum(items, 0), axis=1), -np.inf) for ls in log_softmaxes
        ]
        return Candidates(items, np.stack(scores).astype(np.float32))

    def score(self, histories: Histories) -> np.ndarray:
        """Fused scores [batch, n_items]: f(i) on the union of the top lists, -inf elsewhere."""
        cand = self.candidates(histories)
        fused = fused_scores(cand, self.config.method, self._mix(), self.config.rank_offset)
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
        return top_fused(self.candidates(histories, drop), self.config.method, self._mix(), self.config.rank_offset, k)

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {}
        for j, model in enumerate(self._require()):
            meta = {"model": model.name, "config": config_to_dict(model.config), "n_items": model.n_items}
            state[f"meta.m{j}"] = np.array(json.dumps(meta))
            state.update({f"m{j}.{k}": v for k, v in model._state().items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.components = []
        for j in range(sum(1 for k in state if k.startswith("meta.m"))):
            meta = json.loads(str(state[f"meta.m{j}"]))
            cls: Any = get_model_class(meta["model"])
            model = cls(config_from_dict(cls.config_class, meta["config"]))
            model.n_items, model.item_ids = int(meta["n_items"]), list(self.item_ids)
            prefix = f"m{j}."
            model._set_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
            self.components.append(model)


class _GridPoint:
    """The fused ranking at one (method, mix), over candidates computed once: what ``_learn`` hands the validator."""

    full_scores = False  # scored by its top-k lists, as the fused model is

    def __init__(self, fusion: Fusion) -> None:
        self.fusion = fusion
        self.n_items = fusion.n_items
        self.method: str = fusion.config.method
        self.mix: tuple[float, ...] = fusion._mix()
        self.histories: Histories | None = None
        self.cand: Candidates | None = None
        self.lists: np.ndarray | None = None  # the last lists handed out

    def recommend(self, histories: Histories, k: int = 10, **_: Any) -> Recommendations:
        """Top-``k`` of the union by the fused score (the candidates are kept for the same histories)."""
        if self.cand is None or histories is not self.histories:
            self.histories, self.cand = histories, self.fusion.candidates(histories)
        recs = top_fused(self.cand, self.method, self.mix, self.fusion.config.rank_offset, k)
        self.lists = recs.items
        return recs


# ---- the fused score --------------------------------------------------------------------
def fused_scores(cand: Candidates, method: str, mix: Sequence[float], rank_offset: float) -> np.ndarray:
    """f [batch, m] for every candidate (-inf on pads), as the module docstring defines it."""
    if len(mix) != len(cand.scores):
        raise ValueError(f"fusion: {len(mix)} weights for {len(cand.scores)} models")
    pad = cand.items < 0
    fused = np.zeros(cand.items.shape, dtype=np.float64)
    for weight, s in zip(mix, cand.scores):
        if weight == 0.0:  # a model with no weight is ignored, even where it gives -inf
            continue
        if method == "logprob":
            fused += weight * np.where(pad, 0.0, s)
        elif method == "rank":
            fused += weight / (rank_offset + _ranks(s, pad))
        else:
            raise ValueError(f"fusion method must be one of {', '.join(METHODS)}, not {method!r}")
    return np.where(pad, -np.inf, fused).astype(np.float32)


def top_fused(cand: Candidates, method: str, mix: Sequence[float], rank_offset: float, k: int) -> Recommendations:
    """Top-``k`` candidates per row by the fused score, with their scores; slots beyond the union are -1 / -inf."""
    fused = fused_scores(cand, method, mix, rank_offset)
    order = _order(fused, cand.items)[:, :k]
    items = np.take_along_axis(cand.items, order, axis=1)
    scores = np.where(items >= 0, np.take_along_axis(fused, order, axis=1), -np.inf)
    return Recommendations(_pad(items, k, -1), _pad(scores.astype(np.float32), k, -np.inf))


def ranked(cand: Candidates, method: str, mix: Sequence[float], rank_offset: float, k: int) -> np.ndarray:
    """Top-``k`` candidate items per row by the fused score, -1 where the union is shorter."""
    fused = fused_scores(cand, method, mix, rank_offset)
    lists = np.take_along_axis(cand.items, _order(fused, cand.items)[:, :k], axis=1)
    return _pad(lists, k, -1)


def simplex(n: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` non-negative multiples of ``step`` summing to 1 (the first weight varies last)."""
    parts = round(1.0 / step)
    if n < 1 or parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ValueError(f"fusion: grid_step must divide 1 (got {step}) and there must be models")
    out = []
    for head in itertools.product(range(parts + 1), repeat=n - 1):
        if sum(head) <= parts:
            out.append(tuple(round(h / parts, 6) for h in (*head, parts - sum(head))))
    return out


def _component(spec: str, role: str, dataset: Dataset, valid: Validator | None) -> Recommender:
    """A saved model (``spec`` is a directory) or a new one of that name trained here."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return Recommender.load(path)
    if spec in model_names():
        cls: Any = get_model_class(spec)
        return cls().fit(dataset, valid)
    raise ValueError(f"fusion: {role} {spec!r} is neither a saved-model directory nor a model name")


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
    pos = np.argsort(~keep, axis=1, kind="stable")  # stable compaction: kept entries first, in order
    return np.take_along_axis(np.where(keep, items, -1), pos, axis=1)


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
    """``a`` [..., w] padded on the right (last axis) with ``value`` to width ``width``."""
    if a.shape[-1] >= width:
        return a
    fill = np.full((*a.shape[:-1], width - a.shape[-1]), value, dtype=a.dtype)
    return np.concatenate([a, fill], axis=-1)
