"""Resolve a dataset spec from the command line or a script into a Dataset.

A spec is one of:
  ``synthetic``      the built-in synthetic marketplace (cached in the store by its config)
  ``NAME``           a dataset already in the store (``genrec data convert`` puts it there)
  ``KIND:PATH``      a file or directory read by a loader (``sequence``, ``movielens``,
                     ``amazon``, ``minionerec``, ``table``), cached in the store after the first load
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genrec.config import SyntheticConfig, apply_overrides, config_to_dict
from genrec.data.dataset import Dataset
from genrec.data.store import Store, frame_fingerprint


def synthetic_dataset(store: Store | None = None, overrides: dict[str, Any] | list[str] | None = None) -> Dataset:
    """The synthetic marketplace, generated once per config and then read from the store."""
    from genrec.data.synthetic import GENERATOR_VERSION, generate

    config = apply_overrides(SyntheticConfig(), overrides)
    fingerprint = frame_fingerprint("synthetic", GENERATOR_VERSION, config_to_dict(config))
    if store is not None and store.has_dataset("synthetic", fingerprint):
        return store.load_dataset("synthetic")
    dataset = generate(config)
    if store is not None:
        store.save_dataset(dataset, name="synthetic", fingerprint=fingerprint, builtin=True)
    return dataset


def resolve_dataset(spec: str, store: Store | None = None, options: dict[str, Any] | None = None) -> Dataset:
    """Load the dataset named by ``spec`` (see the module docstring)."""
    options = dict(options or {})
    store = store if store is not None else Store()
    if spec == "synthetic":
        return synthetic_dataset(store, options)
    kind, sep, path = spec.partition(":")
    if sep and kind and path:
        from genrec.data.loaders import LOADERS, load_cached

        if kind not in LOADERS:
            raise ValueError(f"unknown loader {kind!r} in {spec!r}; known: {', '.join(LOADERS.names())}")
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        return load_cached(kind, path, store=store, **options)
    if store.has_dataset(spec):
        return store.load_dataset(spec)
    if Path(spec).exists():
        raise ValueError(f"{spec!r} is a path: say which loader reads it, e.g. 'sequence:{spec}'")
    known = ", ".join(d["name"] for d in store.list_datasets()) or "none"
    raise ValueError(f"unknown dataset {spec!r}: use 'synthetic', a stored name ({known}) or KIND:PATH")
