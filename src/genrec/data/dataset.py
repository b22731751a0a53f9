"""The in-memory dataset: items, users, interactions and the id maps between them.

Internal ids are dense integers: item ``i`` is row ``i`` of ``Dataset.items`` and user ``u``
is row ``u`` of ``Dataset.users``. External ids (whatever the source file used) are kept as
strings in the ``item_id`` / ``user_id`` columns and mapped back and forth with
``item_index`` / ``item_external`` and their user twins.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.errors import DataFormatError
from genrec.textsafe import CONTROL_RE, ID_CONTROL_RE, first_id_control, strip_controls

log = logging.getLogger(__name__)
#: Timestamps are stored as int64; a float beyond this cannot be one.
_INT64_LIMIT = 2.0**63

#: Known interaction event types; the position in this tuple is the stored code.
EVENT_TYPES: tuple[str, ...] = (
    "interaction",
    "view",
    "click",
    "like",
    "dislike",
    "skip",
    "cart",
    "purchase",
    "rating",
    "review",
)
EVENT_CODE: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}

#: Columns of ``Dataset.items`` in order. ``categories`` holds a list of strings,
#: ``attributes`` a dict of further categorical attributes, ``price`` a float or NaN.
ITEM_COLUMNS: tuple[str, ...] = (
    "item_id",
    "title",
    "description",
    "brand",
    "categories",
    "price",
    "attributes",
)
USER_COLUMNS: tuple[str, ...] = ("user_id", "attributes")


def event_code(name: str) -> int:
    """Return the stored code of an event type name, or raise a ValueError naming the known ones."""
    try:
        return EVENT_CODE[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown event type {name!r}; known: {', '.join(EVENT_TYPES)}") from None


@dataclass
class Interactions:
    """Columnar interaction log sorted by user, then time (ties keep input order)."""

    user: np.ndarray  # int32 internal user ids
    item: np.ndarray  # int32 internal item ids
    timestamp: np.ndarray  # int64 (seconds, or position when the source has no time)
    event: np.ndarray  # int8 codes into EVENT_TYPES
    value: np.ndarray  # float32, NaN when absent (e.g. a rating)

    def __post_init__(self) -> None:
        n = len(self.user)
        for name in ("item", "timestamp", "event", "value"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"interaction column '{name}' has a different length")
        self.user = np.asarray(self.user, dtype=np.int32)
        self.item = np.asarray(self.item, dtype=np.int32)
        self.timestamp = np.asarray(self.timestamp, dtype=np.int64)
        self.event = np.asarray(self.event, dtype=np.int8)
        self.value = np.asarray(self.value, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.user)

    def sorted(self) -> Interactions:
        """Return a copy ordered by (user, timestamp), stable for equal times."""
        order = np.lexsort((self.timestamp, self.user))
        return self.take(order)

    def take(self, index: np.ndarray) -> Interactions:
        """Return the rows at ``index`` (an integer array or a boolean mask)."""
        return Interactions(
            self.user[index], self.item[index], self.timestamp[index], self.event[index], self.value[index]
        )


@dataclass
class DatasetStats:
    """Summary statistics of a dataset."""

    name: str
    users: int
    items: int
    interactions: int
    density: float
    seq_len_min: int
    seq_len_max: int
    seq_len_mean: float
    seq_len_median: float
    seq_len_p90: float
    items_without_interactions: int
    events: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a plain dict."""
        return dict(self.__dict__)


class Dataset:
    """Items, users and their interactions, with dense internal ids."""

    def __init__(
        self,
        name: str,
        items: pd.DataFrame,
        users: pd.DataFrame,
        interactions: Interactions,
        has_timestamps: bool = True,
        *,
        normalised: bool = False,
    ) -> None:
        self.name = name
        # ``normalised``: the frames come from another Dataset or from from_frames, already in shape.
        self.items = items if normalised else _normalise_items(items)
        self.users = users if normalised else _normalise_users(users)
        self.interactions = interactions
        self.has_timestamps = has_timestamps
        self._item_map: dict[str, int] | None = None
        self._user_map: dict[str, int] | None = None
        self._sequences: list[np.ndarray] | None = None
        self._fingerprint: str | None = None
        self._validate()

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def from_frames(
        cls,
        name: str,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        keep_items_without_interactions: bool = False,
    ) -> Dataset:
        """Build a dataset from frames keyed by external ids.

        ``interactions`` needs ``user_id`` and ``item_id`` columns and may have ``timestamp``
        (int), ``event`` (a name from EVENT_TYPES) and ``value``. Row order breaks timestamp
        ties. Items mentioned only in interactions get an empty record; items only in
        ``items`` are dropped unless ``keep_items_without_interactions``.
        """
        for col in ("user_id", "item_id"):
            if col not in interactions.columns:
                raise DataFormatError(f"interactions need a '{col}' column", field=col)
        inter = interactions.reset_index(drop=True)
        user_ext = inter["user_id"].astype(str).to_numpy()
        item_ext = inter["item_id"].astype(str).to_numpy()
        has_ts = bool("timestamp" in inter.columns and inter["timestamp"].notna().all())
        if has_ts:
            timestamp = _int64_timestamps(inter["timestamp"])
        else:
            timestamp = np.arange(len(inter), dtype=np.int64)
        if "event" in inter.columns:
            names = inter["event"].fillna("interaction").astype(str)
            unknown = sorted(set(names.str.lower()) - set(EVENT_TYPES))
            if unknown:
                raise DataFormatError(
                    f"unknown event type(s) {unknown}; known: {', '.join(EVENT_TYPES)}", field="event"
                )
            event = names.str.lower().map(EVENT_CODE).to_numpy(dtype=np.int8)
        else:
            event = np.zeros(len(inter), dtype=np.int8)
        value = (
            inter["value"].to_numpy(dtype=np.float32)
            if "value" in inter.columns
            else np.full(len(inter), np.nan, dtype=np.float32)
        )

        item_frame = _strip_item_text(_normalise_items(items if items is not None else pd.DataFrame({"item_id": []})))
        if item_frame["item_id"].duplicated().any():
            dup = item_frame.loc[item_frame["item_id"].duplicated(), "item_id"].iloc[0]
            raise DataFormatError(f"duplicate item id {dup!r} in the item table", field="item_id")
        used = pd.Index(pd.unique(item_ext))
        listed = _index(item_frame["item_id"])
        if not keep_items_without_interactions:
            keep = used.get_indexer(listed) >= 0
            item_frame, listed = item_frame[keep], listed[keep]
        extra = used[listed.get_indexer(used) < 0]
        if len(extra):
            item_frame = pd.concat([item_frame, _normalise_items(pd.DataFrame({"item_id": extra.to_numpy()}))])
        item_frame = item_frame.reset_index(drop=True)
        item_index = listed.append(extra)

        user_frame = _normalise_users(users if users is not None else pd.DataFrame({"user_id": []}))
        if user_frame["user_id"].duplicated().any():
            dup = user_frame.loc[user_frame["user_id"].duplicated(), "user_id"].iloc[0]
            raise DataFormatError(f"duplicate user id {dup!r} in the user table", field="user_id")
        seen_users = pd.Index(pd.unique(user_ext))
        known_users = _index(user_frame["user_id"])
        keep = seen_users.get_indexer(known_users) >= 0
        user_frame, known_users = user_frame[keep], known_users[keep]
        extra_users = seen_users[known_users.get_indexer(seen_users) < 0]
        if len(extra_users):
            user_frame = pd.concat([user_frame, _normalise_users(pd.DataFrame({"user_id": extra_users.to_numpy()}))])
        user_frame = user_frame.reset_index(drop=True)
        user_index = known_users.append(extra_users)
        _check_ids(item_frame["item_id"], "item_id")
        _check_ids(user_frame["user_id"], "user_id")

        inter_arr = Interactions(
            user=user_index.get_indexer(user_ext).astype(np.int32),
            item=item_index.get_indexer(item_ext).astype(np.int32),
            timestamp=timestamp,
            event=event,
            value=value,
        ).sorted()
        if has_ts:
            _warn_repeats(name, inter_arr)
        return cls(name, item_frame, user_frame, inter_arr, has_timestamps=has_ts, normalised=True)

    @classmethod
    def from_sequences(
        cls,
        name: str,
        sequences: Mapping[str, Sequence[str]],
        items: pd.DataFrame | None = None,
        keep_items_without_interactions: bool = False,
    ) -> Dataset:
        """Build a dataset from time-ordered item sequences keyed by external user id."""
        users: list[str] = []
        item_ids: list[str] = []
        for user, seq in sequences.items():
            users.extend([str(user)] * len(seq))
            item_ids.extend(str(i) for i in seq)
        frame = pd.DataFrame({"user_id": users, "item_id": item_ids})
        ds = cls.from_frames(name, frame, items, keep_items_without_interactions=keep_items_without_interactions)
        ds.has_timestamps = False
        return ds

    # ---- sizes and maps -------------------------------------------------------------
    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items in the catalog."""
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        """Number of interactions."""
        return len(self.interactions)

    def fingerprint(self) -> str:
        """A content hash of the dataset (SHA-256, hex): the item table (ids, titles, descriptions,
        brands, categories, prices, attributes), the user ids and the interaction log (users, items,
        times, events, values), in order. The name is not part of it: the same data loaded under two
        names has one fingerprint, and any change to an item or an interaction gives another. Stable
        across processes and machines (little-endian numbers, key-sorted JSON); ~0.1 s for 200k
        interactions. Trained models are cached under it, and saved runs record it."""
        if self._fingerprint is None:
            h = hashlib.sha256(b"genrec-dataset-v1\n")
            items = self.items
            for col in ("item_id", "title", "description", "brand"):
                h.update(json.dumps([None if is_missing(v) else str(v) for v in items[col].tolist()]).encode())
            prices = items["price"].to_numpy(dtype="<f8")
            h.update(np.where(np.isnan(prices), -1.0, prices).tobytes())
            for col in ("categories", "attributes"):
                h.update(json.dumps(items[col].tolist(), sort_keys=True, default=_plain).encode())
            h.update(json.dumps([str(u) for u in self.users["user_id"]]).encode())
            inter = self.interactions
            for name, dtype in (
                ("user", "<i4"),
                ("item", "<i4"),
                ("timestamp", "<i8"),
                ("event", "<i1"),
                ("value", "<f4"),
            ):
                h.update(name.encode())
                h.update(np.ascontiguousarray(getattr(inter, name), dtype=dtype).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def item_index(self, external: str) -> int:
        """Internal id of an external item id (KeyError naming it if unknown)."""
        if self._item_map is None:
            self._item_map = {ext: i for i, ext in enumerate(self.items["item_id"])}
        try:
            return self._item_map[str(external)]
        except KeyError:
            raise KeyError(f"unknown item id {external!r} in dataset '{self.name}'") from None

    def item_indices(self, externals: Iterable[str]) -> np.ndarray:
        """Internal ids of several external item ids."""
        return np.array([self.item_index(e) for e in externals], dtype=np.int64)

    def item_external(self, index: int | np.ndarray) -> Any:
        """External id(s) of internal item id(s)."""
        ids = self.items["item_id"].to_numpy()
        return ids[index]

    def user_index(self, external: str) -> int:
        """Internal id of an external user id (KeyError naming it if unknown)."""
        if self._user_map is None:
            self._user_map = {ext: u for u, ext in enumerate(self.users["user_id"])}
        try:
            return self._user_map[str(external)]
        except KeyError:
            raise KeyError(f"unknown user id {external!r} in dataset '{self.name}'") from None

    def user_external(self, index: int | np.ndarray) -> Any:
        """External id(s) of internal user id(s)."""
        return self.users["user_id"].to_numpy()[index]

    # ---- views ----------------------------------------------------------------------
    def sequences(self) -> list[np.ndarray]:
        """Per user (by internal id), the time-ordered internal item ids."""
        if self._sequences is None:
            counts = np.bincount(self.interactions.user, minlength=self.n_users)
            bounds = np.cumsum(counts)[:-1]
            self._sequences = np.split(self.interactions.item.astype(np.int64), bounds)
        return self._sequences

    def item_popularity(self) -> np.ndarray:
        """Interaction count of every item."""
        return np.bincount(self.interactions.item, minlength=self.n_items).astype(np.int64)

    def item_text(self, index: int) -> str:
        """A one-line text rendering of an item (title, brand, categories, price)."""
        row = self.items.iloc[int(index)]
        parts = [row["title"] or row["item_id"]]
        if row["brand"]:
            parts.append(f"brand: {row['brand']}")
        if row["categories"]:
            parts.append("categories: " + " > ".join(row["categories"]))
        if not np.isnan(row["price"]):
            parts.append(f"price: {row['price']:.2f}")
        return "; ".join(str(p) for p in parts)

    def stats(self) -> DatasetStats:
        """Users, items, interactions, density and the sequence-length distribution."""
        lengths = np.bincount(self.interactions.user, minlength=self.n_users)
        if len(lengths) == 0:
            lengths = np.zeros(1, dtype=np.int64)
        events = np.bincount(self.interactions.event.astype(np.int64), minlength=len(EVENT_TYPES))
        denom = max(self.n_users * self.n_items, 1)
        return DatasetStats(
            name=self.name,
            users=self.n_users,
            items=self.n_items,
            interactions=self.n_interactions,
            density=self.n_interactions / denom,
            seq_len_min=int(lengths.min()),
            seq_len_max=int(lengths.max()),
            seq_len_mean=float(lengths.mean()),
            seq_len_median=float(np.median(lengths)),
            seq_len_p90=float(np.percentile(lengths, 90)),
            items_without_interactions=int((self.item_popularity() == 0).sum()),
            events={EVENT_TYPES[i]: int(c) for i, c in enumerate(events) if c},
        )

    # ---- derived datasets -----------------------------------------------------------
    @classmethod
    def catalog_only(cls, name: str, items: pd.DataFrame) -> Dataset:
        """Items without users or interactions (e.g. new items to encode or tokenize)."""
        empty = np.zeros(0)
        return cls(name, items, pd.DataFrame({"user_id": []}), Interactions(empty, empty, empty, empty, empty))

    def with_interactions(self, interactions: Interactions, name: str | None = None) -> Dataset:
        """Same items and users, another interaction log (e.g. a training split)."""
        return Dataset(
            name or self.name, self.items, self.users, interactions.sorted(), self.has_timestamps, normalised=True
        )

    def kcore(self, k: int) -> Dataset:
        """Iteratively drop users and items with fewer than ``k`` interactions; re-index ids."""
        if k <= 1:
            return self
        user, item = self.interactions.user, self.interactions.item
        keep = np.ones(len(user), dtype=bool)
        while True:
            ucount = np.bincount(user[keep], minlength=self.n_users)
            icount = np.bincount(item[keep], minlength=self.n_items)
            new_keep = keep & (ucount[user] >= k) & (icount[item] >= k)
            if new_keep.sum() == keep.sum():
                break
            keep = new_keep
        return self._reindexed(self.interactions.take(keep), f"{self.name}-{k}core")

    def _reindexed(self, inter: Interactions, name: str) -> Dataset:
        users_kept = np.unique(inter.user)
        items_kept = np.unique(inter.item)
        umap = np.full(self.n_users, -1, dtype=np.int64)
        umap[users_kept] = np.arange(len(users_kept))
        imap = np.full(self.n_items, -1, dtype=np.int64)
        imap[items_kept] = np.arange(len(items_kept))
        new = Interactions(umap[inter.user], imap[inter.item], inter.timestamp, inter.event, inter.value)
        return Dataset(
            name,
            self.items.iloc[items_kept].reset_index(drop=True),
            self.users.iloc[users_kept].reset_index(drop=True),
            new.sorted(),
            self.has_timestamps,
            normalised=True,
        )

    def _validate(self) -> None:
        inter = self.interactions
        if len(inter):
            if inter.item.min() < 0 or inter.item.max() >= self.n_items:
                raise ValueError("interaction item ids fall outside the item table")
            if inter.user.min() < 0 or inter.user.max() >= self.n_users:
                raise ValueError("interaction user ids fall outside the user table")

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, users={self.n_users}, items={self.n_items}, "
            f"interactions={self.n_interactions})"
        )


def _normalise_items(items: pd.DataFrame) -> pd.DataFrame:
    """Return ``items`` with exactly ITEM_COLUMNS, filling defaults and coercing types."""
    frame = items.copy()
    if "item_id" not in frame.columns:
        raise DataFormatError("item table needs an 'item_id' column", field="item_id")
    n = len(frame)
    frame["item_id"] = frame["item_id"].astype(str)
    for col in ("title", "description", "brand"):
        if col not in frame.columns:
            frame[col] = pd.Series([""] * n, index=frame.index, dtype=str)
        else:
            frame[col] = frame[col].fillna("").astype(str)
    if "categories" not in frame.columns:
        frame["categories"] = [[] for _ in range(n)]
    else:
        frame["categories"] = [
            v if type(v) is list and all(type(c) is str for c in v) else _as_str_list(v) for v in frame["categories"]
        ]
    if "price" not in frame.columns:
        frame["price"] = np.full(n, np.nan)
    else:
        frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype(np.float64)
    if "attributes" not in frame.columns:
        frame["attributes"] = [{} for _ in range(n)]
    else:
        frame["attributes"] = [v if type(v) is dict else _as_dict(v) for v in frame["attributes"]]
    return frame[list(ITEM_COLUMNS)].reset_index(drop=True)


def _index(ids: pd.Series) -> pd.Index:
    """Ids as a hash index of Python strings (fast ``get_indexer`` lookups)."""
    return pd.Index(ids.to_numpy(dtype=object))


def _strip_item_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Item text columns and categories without control characters (they would act on a terminal)."""
    for col in ("title", "description", "brand"):
        if frame[col].str.contains(CONTROL_RE).any():
            frame[col] = [strip_controls(v) for v in frame[col]]
    frame["categories"] = [[strip_controls(c) for c in cats] for cats in frame["categories"]]
    return frame


def _check_ids(ids: pd.Series, column: str) -> None:
    """Refuse ids that hold control characters (NUL, ESC, newlines ...)."""
    bad = ids.str.contains(ID_CONTROL_RE).to_numpy(dtype=bool)
    if bad.any():
        value = str(ids.iloc[int(np.flatnonzero(bad)[0])])
        raise DataFormatError(
            f"id {value[:40]!r} holds the control character {first_id_control(value)!r}", field=column
        )


def _int64_timestamps(column: pd.Series) -> np.ndarray:
    """A timestamp column as int64, refusing values that are not whole numbers within int64."""
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (np.abs(numbers) >= _INT64_LIMIT)
    else:
        numbers = np.array([_as_int(v) for v in column], dtype=object)
        bad = np.array([v is None for v in numbers], dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"timestamp '{column.iloc[row]}' (row {row + 1}) is not a whole number within int64", field="timestamp"
        )
    return numbers.astype(np.int64)


def _as_int(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if number != value and not (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
        return None
    return number if -(2**63) <= number < 2**63 else None


def _warn_repeats(name: str, inter: Interactions) -> None:
    """Log how many interactions repeat another one exactly (same user, item, time and event)."""
    same = (inter.user[1:] == inter.user[:-1]) & (inter.timestamp[1:] == inter.timestamp[:-1])
    if not same.any():
        return
    rows = np.unique(np.concatenate([np.flatnonzero(same), np.flatnonzero(same) + 1]))
    keys = np.stack(
        [inter.user[rows].astype(np.int64), inter.item[rows], inter.timestamp[rows], inter.event[rows]], axis=1
    )
    repeats = len(rows) - len(np.unique(keys, axis=0))
    if repeats:
        log.warning(
            "dataset %s: %d interaction(s) repeat another one exactly (same user, item, time and event); "
            "each is kept and counted",
            name,
            repeats,
        )


def _normalise_users(users: pd.DataFrame) -> pd.DataFrame:
    """Return ``users`` with exactly USER_COLUMNS."""
    frame = users.copy()
    if "user_id" not in frame.columns:
        raise DataFormatError("user table needs a 'user_id' column", field="user_id")
    frame["user_id"] = frame["user_id"].astype(str)
    if "attributes" not in frame.columns:
        frame["attributes"] = [{} for _ in range(len(frame))]
    frame["attributes"] = [v if type(v) is dict else _as_dict(v) for v in frame["attributes"]]
    return frame[list(USER_COLUMNS)].reset_index(drop=True)


def _plain(value: Any) -> Any:
    """JSON for the numpy values an item-table cell may hold (``json.dumps(default=...)``)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def is_missing(value: Any) -> bool:
    """True for a missing record field: None or a float NaN (what pandas gives an empty cell)."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def optional_float(value: Any) -> float | None:
    """A numeric record field (a price) as a float, None when it is missing."""
    return None if is_missing(value) else float(value)


def _as_str_list(value: Any) -> list[str]:
    if is_missing(value):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def _as_dict(value: Any) -> dict[str, Any]:
    if is_missing(value):
        return {}
    if isinstance(value, str):
        return json.loads(value) if value else {}
    return dict(value)
