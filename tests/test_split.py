"""Leave-one-out and temporal splits: correct targets, no leakage into training."""

import numpy as np
import pandas as pd
import pytest

from genrec.data import Dataset, leave_one_out, temporal


def seq_dataset() -> Dataset:
    seqs = {"u1": ["a", "b", "c", "d"], "u2": ["b", "c", "a"], "u3": ["a", "b"], "u4": ["d", "c", "b", "a", "e"]}
    return Dataset.from_sequences("s", seqs)


def test_leave_one_out_targets_and_histories():
    ds = seq_dataset()
    split = leave_one_out(ds)
    ext = ds.item_external
    users = ds.user_external(split.test.users).tolist()
    assert users == ["u1", "u2", "u4"]  # u3 has only 2 items: train only, not evaluated
    assert ext(split.test.targets).tolist() == ["d", "a", "e"]
    assert ext(split.valid.targets).tolist() == ["c", "c", "a"]
    assert [ext(h).tolist() for h in split.test.histories] == [["a", "b", "c"], ["b", "c"], ["d", "c", "b", "a"]]
    assert [ext(h).tolist() for h in split.valid.histories] == [["a", "b"], ["b"], ["d", "c", "b"]]


def test_leave_one_out_no_leak():
    ds = seq_dataset()
    split = leave_one_out(ds)
    train_seqs = split.train.sequences()
    for u in split.test.users:
        full = ds.sequences()[u]
        # Training holds exactly the prefix without the last two items.
        np.testing.assert_array_equal(train_seqs[u], full[:-2])
    assert split.train.n_interactions == ds.n_interactions - 2 * len(split.test)
    # u3 keeps everything in training.
    u3 = ds.user_index("u3")
    assert len(train_seqs[u3]) == 2


def test_leave_one_out_random_no_leak():
    rng = np.random.default_rng(0)
    seqs = {f"u{u}": [f"i{x}" for x in rng.integers(0, 30, rng.integers(1, 15))] for u in range(200)}
    ds = Dataset.from_sequences("r", seqs)
    split = leave_one_out(ds)
    train_pairs = split.train.interactions
    lengths = np.bincount(train_pairs.user, minlength=ds.n_users)
    full = np.bincount(ds.interactions.user, minlength=ds.n_users)
    evaluated = np.zeros(ds.n_users, bool)
    evaluated[split.test.users] = True
    np.testing.assert_array_equal(lengths, np.where(evaluated, full - 2, full))
    for u, h, t in zip(split.test.users, split.test.histories, split.test.targets):
        np.testing.assert_array_equal(np.append(h, t), ds.sequences()[u])


def test_temporal_split():
    inter = pd.DataFrame(
        {
            "user_id": ["a"] * 5 + ["b"] * 5,
            "item_id": ["x", "y", "z", "w", "v", "y", "x", "w", "z", "v"],
            "timestamp": [1, 2, 3, 9, 10, 4, 5, 6, 7, 8],
        }
    )
    ds = Dataset.from_frames("t", inter)
    split = temporal(ds, valid_fraction=0.2, test_fraction=0.2)
    assert split.params["t_valid"] == 7 and split.params["t_test"] == 9
    assert (split.train.interactions.timestamp < 7).all()
    ext = ds.item_external
    # Test period (t >= 9): only user a, first test item w after history x y z.
    assert ds.user_external(split.test.users).tolist() == ["a"]
    assert ext(split.test.targets).tolist() == ["w"]
    assert ext(split.test.histories[0]).tolist() == ["x", "y", "z"]
    # Validation period [7, 9): user b's z at t=7.
    assert ds.user_external(split.valid.users).tolist() == ["b"]
    assert ext(split.valid.targets).tolist() == ["z"]


def test_temporal_needs_timestamps():
    with pytest.raises(ValueError, match="no timestamps"):
        temporal(seq_dataset())


def test_train_valid_holds_everything_but_the_test_item():
    ds = seq_dataset()
    split = leave_one_out(ds)
    tv = split.train_valid.sequences()
    for u, h in zip(split.test.users, split.test.histories):
        np.testing.assert_array_equal(tv[u], h)
    assert split.train_valid.n_interactions == ds.n_interactions - len(split.test)
