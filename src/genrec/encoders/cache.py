"""On-disk cache of text embeddings, keyed by (model identity, hash of the text).

Layout: ``<root>/<model-slug>-<identity hash>/`` holds ``model.json`` (the identity in clear)
and append-only shards ``shard-*.npz``, each with ``keys`` (text hashes) and ``vectors``
(float32). A shard is written to a temporary file and renamed into place, so readers never
see half a shard and concurrent writers never overwrite each other; when shards pile up they
are merged into one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genrec.home import default_home

_MAX_SHARDS = 16


def default_cache_root() -> Path:
    """Where embeddings are cached: $GENREC_HOME/embeddings."""
    return default_home() / "embeddings"


def text_key(text: str) -> str:
    """A 32-hex-digit content hash of a text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache:
    """Embeddings of one model, looked up by text hash."""

    def __init__(self, identity: str, root: str | Path | None = None) -> None:
        self.identity = identity
        root = Path(root) if root else default_cache_root()
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", identity.rstrip("/").split("/")[-1])[:48]
        digest = hashlib.sha1(identity.encode("utf-8")).hexdigest()[:12]
        self.path = root / f"{slug}-{digest}"
        self._index: dict[str, int] = {}
        self._vectors: list[np.ndarray] = []
        self._loaded = False

    def __len__(self) -> int:
        self._load()
        return len(self._index)

    def get(self, keys: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """For each key: whether it is cached, and its vector (None when not)."""
        self._load()
        rows = [self._index.get(k) for k in keys]
        found = np.array([r is not None for r in rows], dtype=bool)
        return found, [self._vectors[r] if r is not None else None for r in rows]

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Add embeddings (one row per key) as a new shard; known keys are skipped."""
        self._load()
        vectors = np.asarray(vectors, dtype=np.float32)
        fresh = [i for i, k in enumerate(keys) if k not in self._index]
        fresh = list({keys[i]: i for i in fresh}.values())  # first row of repeated keys
        if not fresh:
            return
        new_keys = np.array([keys[i] for i in fresh])
        new_vecs = vectors[fresh]
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / "model.json"
        if not meta.exists():
            _atomic_write(meta, json.dumps({"identity": self.identity}).encode("utf-8"))
        self._write_shard(new_keys, new_vecs)
        for k, v in zip(new_keys.tolist(), new_vecs):
            self._index[k] = len(self._vectors)
            self._vectors.append(v)
        if len(self._shards()) > _MAX_SHARDS:
            self.compact()

    def compact(self) -> None:
        """Merge all shards into one."""
        shards = self._shards()
        if len(shards) <= 1:
            return
        self._loaded = False
        self._load()
        keys = np.array(list(self._index))
        self._write_shard(keys, np.stack([self._vectors[self._index[k]] for k in keys.tolist()]))
        for shard in shards:
            shard.unlink(missing_ok=True)

    def _shards(self) -> list[Path]:
        return sorted(self.path.glob("shard-*.npz")) if self.path.exists() else []

    def _write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        name = f"shard-{os.getpid()}-{uuid.uuid4().hex[:12]}.npz"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=keys.astype("U32"), vectors=vectors.astype(np.float32))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self) -> None:
        if self._loaded:
            return
        self._index, self._vectors = {}, []
        dim = None
        for shard in self._shards():
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys, vecs = data["keys"].tolist(), data["vectors"]
            except (OSError, ValueError, KeyError):  # vanished (compacted meanwhile) or damaged
                continue
            if dim is None:
                dim = vecs.shape[1]
            if vecs.shape[1] != dim:
                continue
            for k, v in zip(keys, vecs):
                if k not in self._index:
                    self._index[k] = len(self._vectors)
                    self._vectors.append(v)
        self._loaded = True


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
