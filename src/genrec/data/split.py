"""Train/validation/test splits for next-item evaluation.

Two protocols, both with one next-item target per evaluation case:

- ``leave_one_out``: for every user with at least ``min_length`` interactions, the last item
  is the test target (history: everything before it) and the second-to-last is the
  validation target (history: everything before that). Training sees neither.
- ``temporal``: two global cut times split the log into train / validation / test periods.
  A user's first interaction in a period is that period's target; the history is everything
  the user did before it. Training sees only the train period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrec.data.dataset import Dataset


@dataclass
class EvalCases:
    """Evaluation cases: a user, the items seen before, and the next item to predict."""

    users: np.ndarray  # int64 internal user ids
    histories: list[np.ndarray]  # time-ordered internal item ids before the target
    targets: np.ndarray  # int64 internal item ids

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, index: np.ndarray) -> EvalCases:
        """Return the cases at ``index``."""
        index = np.asarray(index)
        return EvalCases(self.users[index], [self.histories[i] for i in index], self.targets[index])


@dataclass
class Split:
    """A training dataset and its validation and test cases."""

    protocol: str
    train: Dataset
    valid: EvalCases
    test: EvalCases
    params: dict[str, Any]
    train_valid: Dataset | None = None  # training plus validation interactions (for a final refit)

    def describe(self) -> dict[str, Any]:
        """Protocol name, parameters and sizes, for result files."""
        return {
            "name": self.protocol,
            **self.params,
            "train_interactions": self.train.n_interactions,
            "valid_cases": len(self.valid),
            "test_cases": len(self.test),
        }


def leave_one_out(dataset: Dataset, min_length: int = 3) -> Split:
    """Hold out each user's last item for test and second-to-last for validation."""
    if min_length < 3:
        raise ValueError("leave-one-out needs min_length >= 3 (one train, one valid, one test item)")
    inter = dataset.interactions
    seqs = dataset.sequences()
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    evaluated = np.flatnonzero(lengths >= min_length)
    # Position of each interaction within its user's sequence (inter is sorted by user, time).
    pos = np.arange(len(inter)) - starts[inter.user]
    evaluated_row = lengths[inter.user] >= min_length
    held_out = evaluated_row & (pos >= lengths[inter.user] - 2)
    train = dataset.with_interactions(inter.take(~held_out), name=f"{dataset.name}:train")
    is_test = evaluated_row & (pos == lengths[inter.user] - 1)
    train_valid = dataset.with_interactions(inter.take(~is_test), name=f"{dataset.name}:train+valid")
    valid = EvalCases(
        evaluated.astype(np.int64),
        [seqs[u][:-2] for u in evaluated],
        np.array([seqs[u][-2] for u in evaluated], dtype=np.int64),
    )
    test = EvalCases(
        evaluated.astype(np.int64),
        [seqs[u][:-1] for u in evaluated],
        np.array([seqs[u][-1] for u in evaluated], dtype=np.int64),
    )
    return Split("leave_one_out", train, valid, test, {"min_length": min_length}, train_valid)


def temporal(dataset: Dataset, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> Split:
    """Global temporal split: the last fractions of the time-ordered log are validation and test."""
    if not dataset.has_timestamps:
        raise ValueError(
            f"dataset '{dataset.name}' has no timestamps (only an order per user); "
            "a global temporal split needs real times: use leave_one_out"
        )
    if not (0 < valid_fraction < 1 and 0 < test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise ValueError("valid_fraction and test_fraction must be in (0, 1) and sum below 1")
    inter = dataset.interactions
    ts = np.sort(inter.timestamp)
    t_valid = int(ts[int(len(ts) * (1 - valid_fraction - test_fraction))])
    t_test = int(ts[int(len(ts) * (1 - test_fraction))])
    train = dataset.with_interactions(inter.take(inter.timestamp < t_valid), name=f"{dataset.name}:train")
    train_valid = dataset.with_interactions(inter.take(inter.timestamp < t_test), name=f"{dataset.name}:train+valid")
    seqs = dataset.sequences()
    times = np.split(inter.timestamp, np.cumsum(np.bincount(inter.user, minlength=dataset.n_users))[:-1])

    def cases(lo: int, hi: int | None) -> EvalCases:
        users, hists, targets = [], [], []
        for u, (seq, t) in enumerate(zip(seqs, times)):
            in_period = (t >= lo) & (t < hi if hi is not None else True)
            idx = np.flatnonzero(in_period)
            if len(idx) == 0 or idx[0] == 0:
                continue  # no target in the period, or no history before it
            users.append(u)
            hists.append(seq[: idx[0]])
            targets.append(seq[idx[0]])
        return EvalCases(np.array(users, dtype=np.int64), hists, np.array(targets, dtype=np.int64))

    return Split(
        "temporal",
        train,
        cases(t_valid, t_test),
        cases(t_test, None),
        {"valid_fraction": valid_fraction, "test_fraction": test_fraction, "t_valid": t_valid, "t_test": t_test},
        train_valid,
    )


SPLITS: dict[str, Callable[..., Split]] = {"leave_one_out": leave_one_out, "temporal": temporal}


def make_split(dataset: Dataset, protocol: str = "leave_one_out", **params: Any) -> Split:
    """Split ``dataset`` with the named protocol."""
    try:
        fn = SPLITS[protocol]
    except KeyError:
        raise ValueError(f"unknown split {protocol!r}; known: {', '.join(SPLITS)}") from None
    return fn(dataset, **params)
