"""Semantic IDs: the common tokenizer API, TIGER-style disambiguation, stats and persistence.

A tokenizer maps an item embedding to ``levels`` raw codes (each in ``[0, codebook_size)``).
Items sharing all raw codes are told apart by one extra code: the item's rank among the items
with that prefix, in item order (TIGER). ``assign`` builds this item <-> ID map for a catalog;
``add_items`` extends it for new items without touching existing IDs.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genrec.atomic import atomic_directory
from genrec.config import SemanticIdConfig, config_from_dict, config_to_dict
from genrec.registry import Registry
from genrec.vectors import unit

FORMAT_VERSION = 2  # 2: nested RQ-VAE settings (SemanticIdConfig.vae)
#: Tokenizer classes by method name; a subclass with a ``name`` registers itself.
TOKENIZERS: Registry[type[SemanticIdTokenizer]] = Registry(
    "semantic-ID method",
    modules={"rq_kmeans": "genrec.semantic_ids.rq_kmeans", "rq_vae": "genrec.semantic_ids.rq_vae"},
)


class SemanticIdTokenizer:
    """Base class: embeddings -> raw codes [n, levels] -> unique IDs [n, levels + 1]."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            TOKENIZERS.register(cls.name, cls)

    def __init__(self, config: SemanticIdConfig | None = None) -> None:
        self.config = config or SemanticIdConfig(method=self.name)
        self.dim: int | None = None
        self.ids: np.ndarray | None = None  # [n, levels + 1]: the item <-> ID map, row = item
        self.raw_codes: np.ndarray | None = None  # [n, levels] before disambiguation / spilling
        self.fit_info: dict[str, Any] = {}
        self._index: dict[tuple[int, ...], int] | None = None

    # ---- subclass hooks ---------------------------------------------------------------
    def _fit(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _encode(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _last_level_ranking(self, x: np.ndarray) -> np.ndarray:
        """Last-level codes [n, codebook_size], nearest first, given the first levels' codes."""
        raise NotImplementedError

    def _state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # ---- public API --------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of raw code levels (the ID has one more, the disambiguating code)."""
        return self.config.levels

    @property
    def vocab_sizes(self) -> list[int]:
        """Vocabulary size of every ID position, the extra code last."""
        return [self.config.codebook_size] * self.levels + [self.config.max_collisions]

    @property
    def is_fitted(self) -> bool:
        """Whether the codebooks are trained."""
        return self.dim is not None

    def fit(self, embeddings: np.ndarray) -> SemanticIdTokenizer:
        """Train the codebooks on ``embeddings`` [n, d] (a ``codebook_size`` of 0 is sized to them first)."""
        x = _check(embeddings)
        if self.config.codebook_size == 0:
            self.config = self.config.replace(codebook_size=codebook_size_for(len(x)))
        self.dim = x.shape[1]
        start = time.perf_counter()
        self._fit(x)
        self.fit_info["fit_seconds"] = time.perf_counter() - start
        self.fit_info["fit_items"] = len(x)
        return self

    def encode(self, embeddings: np.ndarray) -> np.ndarray:
        """Raw codes [n, levels] (int64) from the trained codebooks."""
        x = self._checked_input(embeddings)
        if len(x) == 0:
            return np.zeros((0, self.levels), dtype=np.int64)
        return np.asarray(self._encode(x), dtype=np.int64).reshape(len(x), self.levels)

    def assign(self, embeddings: np.ndarray) -> np.ndarray:
        """IDs [n, levels + 1] for a catalog (row i = item i), replacing any earlier map."""
        x = self._checked_input(embeddings)
        raw = self.encode(x)
        ids = self._disambiguate(x, raw, {})
        self.ids, self.raw_codes, self._index = ids, raw, None
        return ids.copy()

    def fit_assign(self, embeddings: np.ndarray) -> np.ndarray:
        """``fit`` then ``assign`` on the same embeddings."""
        return self.fit(embeddings).assign(embeddings)

    def add_items(self, embeddings: np.ndarray) -> np.ndarray:
        """IDs for new items (appended after the existing ones, whose IDs do not change)."""
        if self.ids is None or self.raw_codes is None:
            raise RuntimeError("call assign() on the catalog before add_items()")
        x = self._checked_input(embeddings)
        raw = self.encode(x)
        next_free: dict[tuple[int, ...], int] = {}
        for row in self.ids.tolist():
            key = tuple(row[:-1])
            next_free[key] = max(next_free.get(key, 0), row[-1] + 1)
        ids = self._disambiguate(x, raw, next_free)
        self.ids = np.concatenate([self.ids, ids])
        self.raw_codes = np.concatenate([self.raw_codes, raw])
        self._index = None
        return ids

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Item index of each ID row in ``ids`` [m, levels + 1]; -1 where no item has it."""
        if self.ids is None:
            raise RuntimeError("no IDs assigned yet: call assign()")
        if self._index is None:
            self._index = {tuple(row): i for i, row in enumerate(self.ids.tolist())}
        rows = np.asarray(ids, dtype=np.int64).reshape(-1, self.levels + 1)
        return np.array([self._index.get(tuple(r), -1) for r in rows.tolist()], dtype=np.int64)

    def stats(self) -> dict[str, Any]:
        """Codebook utilisation per level, collision rate, max items per raw code, ID shape."""
        if self.ids is None or self.raw_codes is None:
            raise RuntimeError("no IDs assigned yet: call assign()")
        raw, n, k = self.raw_codes, len(self.raw_codes), self.config.codebook_size
        _, counts = np.unique(raw, axis=0, return_counts=True)
        return {
            "items": n,
            "levels": self.levels + 1,  # including the disambiguating code
            "codebook_size": k,
            "extra_code_size": self.config.max_collisions,
            "vocab_sizes": self.vocab_sizes,
            "utilisation": [len(np.unique(raw[:, lvl])) / k for lvl in range(self.levels)],
            "unique_raw_codes": len(counts),
            "collision_rate": float(counts[counts > 1].sum() / n) if n else 0.0,
            "max_items_per_code": int(counts.max()) if n else 0,
            "extra_code_used": int(self.ids[:, -1].max() + 1) if n else 0,
            "spilled": int((self.ids[:, :-1] != raw).any(axis=1).sum()),
        }

    def save(self, path: str | Path) -> Path:
        """Write codebooks, config and the item <-> ID map to directory ``path`` (atomically)."""
        if not self.is_fitted:
            raise RuntimeError("cannot save an unfitted tokenizer")
        path = Path(path)
        with atomic_directory(path) as tmp:
            meta = {
                "format_version": FORMAT_VERSION,
                "method": self.name,
                "config": config_to_dict(self.config),
                "dim": self.dim,
                "fit_info": self.fit_info,
                "stats": self.stats() if self.ids is not None else None,
            }
            state = {f"model.{k}": v for k, v in self._state().items()}
            if self.ids is not None and self.raw_codes is not None:
                state.update(ids=self.ids, raw_codes=self.raw_codes)
            np.savez(tmp / "state.npz", **state)  # type: ignore[arg-type]
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=float))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SemanticIdTokenizer:
        """Load a tokenizer written by ``save``; the class comes from the saved metadata."""
        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"{path} is not a saved semantic-ID tokenizer (no meta.json)")
        meta = json.loads((path / "meta.json").read_text())
        version = meta.get("format_version", 0)
        if version > FORMAT_VERSION:
            raise ValueError(f"{path}: saved in a newer format ({version}); upgrade genrec")
        if version < FORMAT_VERSION:
            raise ValueError(f"{path}: saved by an older genrec (format {version}); retrain the tokenizer")
        tok_cls = TOKENIZERS.get(meta["method"]) if cls is SemanticIdTokenizer else cls
        if tok_cls.name != meta["method"]:
            raise ValueError(f"{path} holds a '{meta['method']}' tokenizer, not '{tok_cls.name}'")
        tok = tok_cls(config_from_dict(SemanticIdConfig, meta["config"], f"{path / 'meta.json'}: config"))
        tok.dim = int(meta["dim"])
        tok.fit_info = meta.get("fit_info", {})
        with np.load(path / "state.npz") as data:
            tok._set_state({k[6:]: data[k] for k in data.files if k.startswith("model.")})
            if "ids" in data.files:
                tok.ids, tok.raw_codes = data["ids"].astype(np.int64), data["raw_codes"].astype(np.int64)
        return tok

    # ---- internals ---------------------------------------------------------------------
    def _checked_input(self, embeddings: np.ndarray) -> np.ndarray:
        if not self.is_fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        x = _check(embeddings, allow_empty=True)
        if x.shape[1] != self.dim:
            raise ValueError(f"embeddings have {x.shape[1]} dims; the tokenizer was fitted on {self.dim}")
        return x

    def _disambiguate(self, x: np.ndarray, raw: np.ndarray, next_free: dict[tuple[int, ...], int]) -> np.ndarray:
        """Append each item's rank among items with the same prefix; handle overflow."""
        cap = self.config.max_collisions
        ids = np.zeros((len(raw), self.levels + 1), dtype=np.int64)
        ids[:, :-1] = raw
        overflow = []
        for i, key in enumerate(map(tuple, raw.tolist())):
            slot = next_free.get(key, 0)
            if slot < cap:
                ids[i, -1] = slot
                next_free[key] = slot + 1
            else:
                overflow.append(i)
        if not overflow:
            return ids
        if self.config.overflow == "error":
            key = tuple(raw[overflow[0]].tolist())
            raise ValueError(
                f"more than max_collisions={cap} items share the raw codes {key} "
                f"({len(overflow)} items do not fit); raise max_collisions, levels or codebook_size, "
                "or set overflow='spill' to move them to the nearest last-level code with room"
            )
        ranking = self._last_level_ranking(x[overflow])
        for i, candidates in zip(overflow, ranking.tolist()):
            for code in candidates:
                key = tuple(raw[i, :-1].tolist()) + (int(code),)
                slot = next_free.get(key, 0)
                if slot < cap:
                    ids[i, -2], ids[i, -1] = code, slot
                    next_free[key] = slot + 1
                    break
            else:
                raise ValueError(f"item {i}: every last-level code under its prefix is full")
        return ids


#: The codebook size of the largest catalog here (Amazon Beauty, 12,101 items) and of TIGER: the cap.
MAX_CODEBOOK = 256


def codebook_size_for(n_items: int) -> int:
    """Codes per level for a catalog of ``n_items``: the power of two nearest 2 * sqrt(n), at most 256.

    With three levels this keeps the first level's cells at a few dozen items whatever the catalog's
    size (Beauty: 256 codes, 47 items a cell; MovieLens-1M: 128, 29), and never asks k-means for
    more centroids than there are items.
    """
    if n_items < 1:
        raise ValueError(f"a catalog needs at least one item, got {n_items}")
    size = 2 ** round(math.log2(2.0 * math.sqrt(n_items)))
    return max(1, min(size, MAX_CODEBOOK, n_items))


def create_tokenizer(config: SemanticIdConfig | None = None) -> SemanticIdTokenizer:
    """A tokenizer of the kind ``config.method`` names ("rq_kmeans" or "rq_vae")."""
    config = config or SemanticIdConfig()
    return TOKENIZERS.get(config.method)(config)


def mix_embeddings(text_emb: np.ndarray, collab_emb: np.ndarray, weight: float) -> np.ndarray:
    """Concatenate row-normalised text and collaborative embeddings, ``weight`` on the latter.

    The result is ``[sqrt(1 - w) * t/|t|, sqrt(w) * c/|c|]``: unit rows whose dot products are
    ``(1 - w) cos_text + w cos_collab``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    t, c = _check(text_emb), _check(collab_emb)
    if len(t) != len(c):
        raise ValueError(f"{len(t)} text embeddings but {len(c)} collaborative ones")
    mixed = np.concatenate([np.sqrt(1.0 - weight) * unit(t), np.sqrt(weight) * unit(c)], axis=1)
    return mixed.astype(np.float32)


def nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Index of the nearest centroid (squared L2) for every row of ``x``."""
    c2 = (centroids.astype(np.float32) ** 2).sum(1)
    out = np.empty(len(x), dtype=np.int64)
    for lo in range(0, len(x), chunk):
        part = x[lo : lo + chunk]
        out[lo : lo + chunk] = np.argmin(c2[None, :] - 2.0 * part @ centroids.T, axis=1)
    return out


def _check(embeddings: np.ndarray, allow_empty: bool = False) -> np.ndarray:
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or (x.shape[0] == 0 and not allow_empty) or x.shape[1] == 0:
        raise ValueError(f"embeddings must be a non-empty 2-d array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return x
