"""Dataset construction, statistics, k-core filtering and the DuckDB store."""

import numpy as np
import pandas as pd
import pytest

from genrec.data import DataFormatError, Dataset, Store


def small_dataset() -> Dataset:
    inter = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "a"],
            "item_id": ["x", "y", "z", "y", "x", "z", "w"],
            "timestamp": [10, 20, 30, 5, 6, 1, 40],
            "event": ["view", "purchase", "like", "view", "dislike", "view", "view"],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["x", "y", "z", "w", "unused"],
            "title": ["Ex", "Why", "Zed", "Double", "Nobody"],
            "brand": ["B1", "B2", None, "B1", "B3"],
            "price": [1.5, None, 3.0, 4.0, 9.0],
            "categories": [["c1"], ["c1", "c2"], [], ["c2"], []],
        }
    )
    return Dataset.from_frames("small", inter, items)


def test_id_maps_round_trip():
    ds = small_dataset()
    assert ds.n_users == 3 and ds.n_items == 4 and ds.n_interactions == 7
    for ext in ["x", "y", "z", "w"]:
        assert ds.item_external(ds.item_index(ext)) == ext
    with pytest.raises(KeyError, match="unused"):
        ds.item_index("unused")
    assert ds.user_external(ds.user_index("b")) == "b"


def test_sequences_are_time_ordered():
    ds = small_dataset()
    seq_a = ds.item_external(ds.sequences()[ds.user_index("a")]).tolist()
    assert seq_a == ["x", "y", "z", "w"]
    seq_b = ds.item_external(ds.sequences()[ds.user_index("b")]).tolist()
    assert seq_b == ["y", "x"]


def test_stats():
    st = small_dataset().stats()
    assert st.users == 3 and st.items == 4 and st.interactions == 7
    assert st.density == pytest.approx(7 / 12)
    assert (st.seq_len_min, st.seq_len_max) == (1, 4)
    assert st.events == {"view": 4, "like": 1, "dislike": 1, "purchase": 1}


def test_keep_items_without_interactions():
    inter = pd.DataFrame({"user_id": ["a"], "item_id": ["x"]})
    items = pd.DataFrame({"item_id": ["x", "y"]})
    assert Dataset.from_frames("k", inter, items, keep_items_without_interactions=True).n_items == 2


def test_unknown_event_is_an_error_naming_the_field():
    inter = pd.DataFrame({"user_id": ["a"], "item_id": ["x"], "event": ["teleport"]})
    with pytest.raises(DataFormatError, match="event"):
        Dataset.from_frames("bad", inter)


def test_kcore():
    seqs = {"u1": ["a", "b", "c"], "u2": ["a", "b", "c"], "u3": ["a", "d"], "u4": ["b"]}
    core = Dataset.from_sequences("k", seqs).kcore(2)
    # u4 (1 interaction) and d (1 user) go; then u3 has only 'a' left and goes too.
    assert sorted(core.users["user_id"]) == ["u1", "u2"]
    assert sorted(core.items["item_id"]) == ["a", "b", "c"]
    st = core.stats()
    assert st.seq_len_min >= 2


def test_store_round_trip(tmp_path):
    ds = small_dataset()
    store = Store(tmp_path / "db.duckdb")
    store.save_dataset(ds, fingerprint="abc")
    assert store.has_dataset("small", fingerprint="abc")
    back = store.load_dataset("small")
    assert back.n_users == ds.n_users and back.n_items == ds.n_items
    np.testing.assert_array_equal(back.interactions.item, ds.interactions.item)
    np.testing.assert_array_equal(back.interactions.timestamp, ds.interactions.timestamp)
    np.testing.assert_array_equal(back.interactions.event, ds.interactions.event)
    pd.testing.assert_frame_equal(back.items, ds.items)


def test_store_failed_save_keeps_previous(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    store.save_dataset(small_dataset(), name="keep")

    class Exploding(Dataset):
        @property
        def n_interactions(self) -> int:  # fails mid-transaction, after tables were created
            raise RuntimeError("boom")

    bad = small_dataset()
    bad.__class__ = Exploding
    with pytest.raises(RuntimeError, match="boom"):
        store.save_dataset(bad, name="keep")
    assert store.load_dataset("keep").n_interactions == 7
    assert [d["name"] for d in store.list_datasets()] == ["keep"]


def test_store_unknown_name(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    store.save_dataset(small_dataset())
    with pytest.raises(KeyError, match="stored: small"):
        store.load_dataset("other")
    with pytest.raises(ValueError, match="invalid dataset name"):
        store.save_dataset(small_dataset(), name="bad name; drop")
