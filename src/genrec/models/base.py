"""The recommender API every model follows: fit, score, recommend, save, load."""

from __future__ import annotations

import json
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

import genrec
from genrec.atomic import atomic_directory, check_replaceable
from genrec.config import config_from_dict, config_to_dict
from genrec.data.dataset import Dataset
from genrec.home import default_home

if TYPE_CHECKING:
    from genrec.train import Validator

FORMAT_VERSION = 2  # 2: pydantic configs (nested tiger settings), the shared trainer
#: The file that marks a directory as a saved model (only such directories are replaced by ``save``).
MODEL_MARKER = "meta.json"
Histories = Sequence[np.ndarray]


@dataclass
class Recommendations:
    """Top-k lists: ``items[b]`` are internal item ids, best first, with their ``scores``.

    A slot without an item (excluded items, or a catalog too small for ``k``) has score -inf (and,
    for some models, item -1); ``lists`` drops those slots.
    """

    items: np.ndarray  # int64 [batch, k]
    scores: np.ndarray  # float32 [batch, k]

    def lists(self) -> list[list[tuple[int, float]]]:
        """Per history the (item, score) pairs that are real recommendations, best first (may be fewer than k)."""
        return [
            [(int(i), float(s)) for i, s in zip(items, scores) if i >= 0 and s != -np.inf]
            for items, scores in zip(self.items, self.scores)
        ]


class Recommender(ABC):
    """Base class: a model that scores the whole catalog for a user's history."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type]

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.config_class()
        self.n_items = 0
        self.item_ids: list[str] = []  # external ids, so a saved model can be read on its own
        self.fit_info: dict[str, Any] = {}

    # ---- to implement ---------------------------------------------------------------
    @abstractmethod
    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        """Train on ``dataset`` (interactions are the training split); ``valid`` scores epochs for early stopping."""

    @abstractmethod
    def score(self, histories: Histories) -> np.ndarray:
        """Scores of every catalog item for each history: float32 [batch, n_items]."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Arrays that, with the config, fully define the trained model."""

    @abstractmethod
    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``_state`` returned."""

    # ---- shared behaviour -----------------------------------------------------------
    def fit(self, dataset: Dataset, valid: Validator | None = None) -> Recommender:
        """Train on ``dataset``; ``valid`` (a ``Validator``, e.g. ``genrec.eval.ranking_validator(split.valid)``)
        drives early stopping where the model trains for epochs."""
        if valid is not None and not callable(valid):
            raise TypeError(
                f"valid must be a validator, not {type(valid).__name__}: pass genrec.eval.ranking_validator(cases)"
            )
        start = time.perf_counter()
        self.n_items = dataset.n_items
        self.item_ids = [str(x) for x in dataset.items["item_id"]]
        self._fit(dataset, valid)
        self.fit_info["fit_seconds"] = time.perf_counter() - start
        return self

    def recommend(
        self,
        histories: Histories,
        k: int = 10,
        exclude: str | Sequence[np.ndarray] | None = None,
        batch_size: int = 1024,
    ) -> Recommendations:
        """Top-``k`` items per history. ``exclude``: None, "history", or item-id arrays per history."""
        check_recommend_args(histories, k, exclude)
        k = min(k, self.n_items)
        out_items = np.zeros((len(histories), k), dtype=np.int64)
        out_scores = np.zeros((len(histories), k), dtype=np.float32)
        for lo in range(0, len(histories), batch_size):
            batch = histories[lo : lo + batch_size]
            scores = self.score(batch)
            if exclude is not None:
                drop = batch if isinstance(exclude, str) else exclude[lo : lo + batch_size]
                mask_items(scores, drop)
            items, top = top_k(scores, k)
            out_items[lo : lo + len(batch)] = items
            out_scores[lo : lo + len(batch)] = top
        return Recommendations(out_items, out_scores)

    def save(self, path: str | Path, force: bool = False, protected: Sequence[tuple[str, Path]] = ()) -> Path:
        """Write the model to directory ``path`` (replaced atomically).

        Only a missing path, an empty folder or an earlier saved model is replaced, unless ``force``;
        never genrec's home, the current directory, the user's home, ``/`` or a ``protected`` path.
        """
        path = Path(path)
        with atomic_directory(path, MODEL_MARKER, force, _protected(protected)) as tmp:
            meta = {
                "format_version": FORMAT_VERSION,
                "genrec_version": genrec.__version__,
                "model": self.name,
                "config": config_to_dict(self.config),
                "n_items": self.n_items,
                "fit_info": self.fit_info,
                "saved_at": time.time(),
            }
            (tmp / MODEL_MARKER).write_text(json.dumps(meta, indent=2, default=float))
            (tmp / "item_ids.json").write_text(json.dumps(self.item_ids))
            np.savez(tmp / "state.npz", **self._state())  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a model saved with ``save``; the class is picked from the saved metadata."""
        from genrec.models.registry import get_model_class

        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.exists():
            raise FileNotFoundError(f"{path} is not a saved genrec model (no meta.json)")
        meta = _read_json(meta_file, dict)
        version = meta.get("format_version", 0)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path}: saved with model format {version}, this genrec reads up to {FORMAT_VERSION}; upgrade genrec"
            )
        if version < FORMAT_VERSION:
            raise ValueError(f"{path}: saved by an older genrec (model format {version}); retrain the model")
        missing = [key for key in ("model", "config", "n_items") if key not in meta]
        if missing or not isinstance(meta["config"], dict) or not isinstance(meta["n_items"], int):
            raise ValueError(f"{meta_file}: not a genrec model's metadata (model, config or n_items missing or wrong)")
        model_cls: type[Recommender] = get_model_class(meta["model"]) if cls is Recommender else cls
        if model_cls.name != meta["model"]:
            raise ValueError(f"{path} holds a '{meta['model']}' model, not '{model_cls.name}'")
        model = model_cls(config_from_dict(model_cls.config_class, meta["config"], f"{meta_file}: config"))
        model.n_items = meta["n_items"]
        model.item_ids = [str(x) for x in _read_json(path / "item_ids.json", list)]
        model.fit_info = meta.get("fit_info", {})
        state_file = path / "state.npz"
        try:
            with np.load(state_file, allow_pickle=False) as data:
                model._set_state({k: data[k] for k in data.files})
        except FileNotFoundError:
            raise ValueError(f"{state_file}: missing; the saved model is incomplete (save it again)") from None
        except (
            OSError,
            ValueError,
            EOFError,
            KeyError,
            IndexError,
            TypeError,
            RuntimeError,
            zipfile.BadZipFile,
        ) as err:
            detail = " ".join(str(err).split())[:200] or type(err).__name__
            raise ValueError(f"{state_file}: not a readable saved model state ({detail}); save it again") from None
        return model


def _read_json(path: Path, kind: type) -> Any:
    """The JSON value of a saved model's file, which must be a ``kind``; a ValueError naming the file if not."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; the saved model is incomplete (save it again)") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start}); the saved model is damaged") from None
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); the saved model is damaged"
        ) from None
    if not isinstance(value, kind):
        raise ValueError(f"{path}: expected a JSON {kind.__name__}, got {type(value).__name__}; the model is damaged")
    return value


def check_model_dir(path: str | Path, force: bool = False, protected: Sequence[tuple[str, Path]] = ()) -> None:
    """Raise unless ``save`` may write to ``path`` (call it before training, so a refusal costs nothing)."""
    check_replaceable(path, MODEL_MARKER, force, _protected(protected))


def _protected(extra: Sequence[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Genrec's home and ``extra``: folders no saved model may replace (beyond ``atomic.protected_paths``)."""
    return [("genrec's home (GENREC_HOME)", default_home()), *extra]


def catalog_mismatch(model: Recommender, dataset: Dataset) -> str | None:
    """How ``dataset``'s catalog differs from the one ``model`` was trained on, in a few words (None: the same).

    Sizes, ids on one side only, or the same ids in another order (the scores would go to the wrong items).
    """
    model_ids, data_ids = model.item_ids, [str(x) for x in dataset.items["item_id"]]
    if model_ids == data_ids:
        return None
    in_model, in_data = set(model_ids), set(data_ids)
    only_model = [i for i in model_ids if i not in in_data]
    only_data = [i for i in data_ids if i not in in_model]
    if not only_model and not only_data and len(model_ids) == len(data_ids):
        at = next(n for n, (a, b) in enumerate(zip(model_ids, data_ids)) if a != b)
        return (
            f"the same {len(data_ids)} item ids in another order (position {at + 1}: model {model_ids[at]!r}, "
            f"dataset {data_ids[at]!r}); the model's scores would go to the wrong items"
        )
    parts = [f"{len(model_ids)} items in the model, {len(data_ids)} in the dataset"]
    if only_model:
        parts.append(f"{len(only_model)} only in the model (e.g. {only_model[0]!r})")
    if only_data:
        parts.append(f"{len(only_data)} only in the dataset (e.g. {only_data[0]!r})")
    return "; ".join(parts)


def data_mismatch(model: Recommender, dataset: Dataset) -> str | None:
    """Why ``dataset`` is not the data ``model`` was trained on (by fingerprint), or None when it is or unknown."""
    recorded = model.fit_info.get("data_fingerprint")
    if not recorded:
        return None
    actual = dataset.fingerprint()
    if actual == recorded:
        return None
    trained_on = model.fit_info.get("dataset", "another dataset")
    return (
        f"the model was trained on other data ({trained_on!r}, fingerprint {str(recorded)[:12]}) than "
        f"dataset '{dataset.name}' (fingerprint {actual[:12]}), though the item ids match"
    )


def check_recommend_args(histories: Histories, k: int, exclude: str | Sequence[np.ndarray] | None) -> None:
    """Raise a ValueError for a k below 1 or an ``exclude`` that is not None, "history" or one array per history."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if exclude is not None and not isinstance(exclude, str) and len(exclude) != len(histories):
        raise ValueError("exclude must give one array of item ids per history")
    if isinstance(exclude, str) and exclude != "history":
        raise ValueError(f"exclude must be None, 'history' or per-history id arrays, not {exclude!r}")


def mask_items(scores: np.ndarray, items: Sequence[np.ndarray]) -> None:
    """Set ``scores[b, items[b]]`` to -inf in place."""
    empty = np.zeros(0, dtype=np.int64)
    rows = np.concatenate([np.full(len(x), b, dtype=np.int64) for b, x in enumerate(items)] or [empty])
    cols = np.concatenate([np.asarray(x, dtype=np.int64) for x in items] or [empty])
    if len(rows):
        scores[rows.astype(np.int64), cols.astype(np.int64)] = -np.inf


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores per row, best first; ties go to the lower id."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    # argpartition may pick any of several tied items at the k-th place; make the choice stable.
    kth = np.take_along_axis(vals, order, axis=1)[:, -1:]
    ties = (scores == kth).sum(axis=1) > (np.take_along_axis(vals, order, axis=1) == kth).sum(axis=1)
    for b in np.flatnonzero(ties):
        full = np.lexsort((np.arange(scores.shape[1]), -scores[b]))[:k]
        items[b] = full
    return items.astype(np.int64), np.take_along_axis(scores, items, axis=1).astype(np.float32)


@runtime_checkable
class GrowingRecommender(Protocol):
    """A recommender that can score items outside its catalog and add items without retraining
    (``tiger``: new items get a semantic ID). The generative loop scores and admits generated items
    through it; for any other model it scores them with the text encoder instead."""

    n_items: int

    def score(self, histories: Histories) -> np.ndarray:
        """Scores of every catalog item (the added ones included) per history: [batch, n_items]."""
        ...

    def score_new(self, histories: Histories, items: pd.DataFrame) -> np.ndarray:
        """Scores [batch, len(items)] of items not in the catalog, each as if it alone were added."""
        ...

    def add_items(self, items: pd.DataFrame) -> list[int]:
        """Add items (item-table schema) to the catalog; returns their internal ids."""
        ...
