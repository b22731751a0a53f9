"""Loaders that turn public dataset formats into a ``Dataset``, and a store-backed cache for them.

``load(kind, path, **options)`` dispatches on ``kind`` (see ``LOADERS``); ``load_cached`` keys the
load by the source files (path, size, mtime) and options, and reuses the copy in the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genrec.data.dataset import Dataset
from genrec.data.loaders._checks import check_loaded, check_options, check_path
from genrec.data.loaders._common import dataset_name, safe_name
from genrec.data.loaders._download import ChecksumError, DownloadError
from genrec.data.loaders.amazon import load_amazon
from genrec.data.loaders.minionerec import load_minionerec
from genrec.data.loaders.movielens import download_movielens, load_movielens
from genrec.data.loaders.sequence_text import load_sequence_text
from genrec.data.loaders.tabular import load_table
from genrec.data.store import Store, files_fingerprint
from genrec.registry import Registry

LOADERS: Registry[Callable[..., Dataset]] = Registry("loader kind")
LOADERS.register("sequence", load_sequence_text)
LOADERS.register("movielens", load_movielens)
LOADERS.register("amazon", load_amazon)
LOADERS.register("minionerec", load_minionerec)
LOADERS.register("table", load_table)
#: Options that name further source files (they are part of the cache key).
PATH_OPTIONS = (
    "item_attributes",
    "item_texts",
    "item_descriptions",
    "movies",
    "meta_path",
    "item_json",
    "items_path",
)


def load(kind: str, path: str | Path | Sequence[str | Path], **options: Any) -> Dataset:
    """Load ``path`` with the loader registered as ``kind``.

    Options are checked first (unknown keys, wrong types and missing side files raise before any
    file is read), and a load that finds no interactions raises ``DataFormatError``.
    """
    loader = LOADERS.get(kind)  # an unknown kind fails here, naming the known ones
    options = check_options(kind, loader, options)
    check_path(kind, path)
    for key in PATH_OPTIONS:
        if options.get(key) is not None:
            check_path(kind, options[key], option=key)
    dataset = loader(path, **options)
    check_loaded(kind, path, dataset.n_interactions)
    return dataset


def load_cached(
    kind: str, path: str | Path | Sequence[str | Path], store: Store | None = None, **options: Any
) -> Dataset:
    """Like ``load``, but reuse the dataset stored for the same source files and options."""
    loader = LOADERS.get(kind)  # an unknown kind fails here, before any file is read
    store = store if store is not None else Store()
    options = check_options(kind, loader, options)
    paths = _paths(path)
    files = _source_files(paths + [Path(options[k]) for k in PATH_OPTIONS if options.get(k) is not None])
    params = {"kind": kind, "options": {k: _key(v) for k, v in sorted(options.items())}}
    fingerprint = files_fingerprint(files, params)
    name = safe_name(f"{kind}-{dataset_name('', paths[0])[:80]}-{fingerprint[:8]}")
    if store.has_dataset(name, fingerprint):
        return store.load_dataset(name)
    dataset = load(kind, path, **options)
    dataset.name = name
    store.save_dataset(dataset, name=name, fingerprint=fingerprint)
    return dataset


def _paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise ValueError("no source path given")
    return paths


def _source_files(paths: list[Path]) -> list[Path]:
    """Every file behind ``paths`` (directories expanded recursively), in a stable order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return files


def _key(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, dict):
        return {str(k): _key(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_key(v) for v in value]
    return value


__all__ = [
    "LOADERS",
    "ChecksumError",
    "DownloadError",
    "download_movielens",
    "load",
    "load_amazon",
    "load_cached",
    "load_minionerec",
    "load_movielens",
    "load_sequence_text",
    "load_table",
]
