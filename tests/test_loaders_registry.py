"""The loader registry and the store-backed cache."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import genrec.data.loaders as loaders
from genrec.data.loaders import LOADERS, load, load_cached
from genrec.data.store import Store


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, Path]:
    seqs = tmp_path / "Toys.txt"
    seqs.write_text("u1 1 2 3\nu2 2 3\n", encoding="utf-8")
    texts = tmp_path / "items.jsonl"
    texts.write_text(json.dumps({"item_id": 1, "title": "Ball", "categories": [["Toys"]]}) + "\n", encoding="utf-8")
    return seqs, texts


@pytest.fixture
def counting() -> Iterator[list[str]]:
    """Count calls that reach the sequence loader."""
    calls: list[str] = []
    real = LOADERS.get("sequence")

    def wrapper(path, **options):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real(path, **options)

    LOADERS.register("sequence", wrapper)
    yield calls
    LOADERS.register("sequence", real)


def test_registry_kinds() -> None:
    assert set(LOADERS) == {"sequence", "movielens", "amazon", "minionerec", "table"}


def test_load_dispatches(source: tuple[Path, Path]) -> None:
    seqs, texts = source
    ds = load("sequence", seqs, item_texts=texts)
    assert (ds.n_users, ds.n_interactions) == (2, 5)
    assert ds.items.iloc[ds.item_index("1")]["title"] == "Ball"


def test_unknown_kind_lists_kinds(source: tuple[Path, Path], tmp_path: Path) -> None:
    for fn in (load, lambda k, p: load_cached(k, p, store=Store(tmp_path / "s.duckdb"))):
        with pytest.raises(
            ValueError, match="unknown loader kind 'parquet'.*amazon, minionerec, movielens, sequence, table"
        ):
            fn("parquet", source[0])


def test_load_cached_round_trip(source: tuple[Path, Path], tmp_path: Path, counting: list[str]) -> None:
    seqs, texts = source
    store = Store(tmp_path / "store.duckdb")
    first = load_cached("sequence", seqs, store=store, item_texts=texts)
    assert len(counting) == 1
    listed = {row["name"]: row for row in store.list_datasets()}
    assert first.name in listed and first.name.startswith("sequence-Toys-")
    fingerprint = listed[first.name]["fingerprint"]
    assert first.name.endswith(fingerprint[:8])

    second = load_cached("sequence", seqs, store=store, item_texts=texts)
    assert len(counting) == 1  # served from the store, not parsed again
    assert second.name == first.name
    assert (second.n_users, second.n_items, second.n_interactions) == (2, 3, 5)
    for a, b in zip(first.sequences(), second.sequences()):
        assert np.array_equal(a, b)
    assert second.items.iloc[second.item_index("1")]["categories"] == ["Toys"]

    # Different options or a changed side file give another key and a fresh load.
    other = load_cached("sequence", seqs, store=store)
    assert other.name != first.name and len(counting) == 2
    with open(texts, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"item_id": 2, "title": "Car"}) + "\n")
    changed = load_cached("sequence", seqs, store=store, item_texts=texts)
    assert changed.name != first.name and len(counting) == 3
    assert changed.items.iloc[changed.item_index("2")]["title"] == "Car"

    # A touched source (same size, new mtime) also changes the key.
    st = seqs.stat()
    os.utime(seqs, (st.st_atime, st.st_mtime + 10))
    touched = load_cached("sequence", seqs, store=store, item_texts=texts)
    assert touched.name != changed.name and len(counting) == 4
    assert len(store.list_datasets()) == 4


def test_load_cached_directory_source(tmp_path: Path) -> None:
    root = tmp_path / "ml-100k"
    root.mkdir()
    (root / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n")
    store = Store(tmp_path / "store.duckdb")
    ds = load_cached("movielens", root, store=store)
    again = load_cached("movielens", root, store=store)
    assert again.name == ds.name and again.has_timestamps
    assert again.interactions.value.tolist() == [5.0, 3.0]
    assert again.stats().events == {"rating": 2}
    (root / "u.data").write_text("1\t10\t5\t881250949\n")
    assert load_cached("movielens", root, store=store).name != ds.name


def test_loaders_module_exports() -> None:
    for name in loaders.__all__:
        assert hasattr(loaders, name)
