"""Amazon review data, 2014 and 2018 releases (plain or gzipped JSON lines).

Reviews: one JSON object per line with ``reviewerID``, ``asin``, ``overall`` and
``unixReviewTime`` (2018 adds ``style``, ignored). They become ``review`` events whose value is
the star rating. Metadata: 2014 lines are Python dict literals (``categories`` is a list of
category paths, ``price`` a number); 2018 lines are JSON (``category`` is a flat list,
``description`` a list of strings, ``price`` a string such as "$12.99" or "$5.99 - $12.99",
of which the first number is kept, anything unparsable giving NaN). ``salesRank``, ``rank``
and ``main_cat`` go into item attributes; the large link lists (also_buy, related, ...) are
dropped. Files are streamed, so multi-GB inputs need memory only for the kept rows.
"""

from __future__ import annotations

import contextlib
import logging
import math
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.dataset import EVENT_CODE, Dataset
from genrec.data.errors import DataFormatError
from genrec.data.loaders._common import (
    FLOAT32_MAX,
    check_id,
    check_time,
    content_lines,
    dataset_name,
    item_row,
    parse_record,
)

log = logging.getLogger(__name__)
_META_FIELDS = (
    "title",
    "brand",
    "description",
    "categories",
    "category",
    "price",
    "salesRank",
    "rank",
    "main_cat",
)


def load_amazon(
    reviews_path: str | Path,
    meta_path: str | Path | None = None,
    kcore: int = 5,
    name: str | None = None,
) -> Dataset:
    """Load Amazon reviews (and optional metadata), keeping the ``kcore``-core (0/1: everything)."""
    reviews_path = Path(reviews_path)
    users, items, user, item, timestamp, rating = _read_reviews(reviews_path)
    keep = _kcore(user, item, len(users), len(items), kcore)
    n_reviews = len(user)
    user, item, timestamp, rating = user[keep], item[keep], timestamp[keep], rating[keep]
    user_ids, item_ids = np.array(users, dtype=object), np.array(items, dtype=object)
    kept_items = set(item_ids[np.unique(item)].tolist())
    meta = _read_meta(Path(meta_path), kept_items) if meta_path is not None else None
    if not keep.any():
        raise DataFormatError(
            f"no reviews are left after {kcore}-core filtering ({n_reviews} reviews, {len(users)} users, "
            f"{len(items)} items): lower kcore (kcore=0 keeps everything)",
            reviews_path,
        )
    frame = pd.DataFrame(
        {"user_id": user_ids[user], "item_id": item_ids[item], "timestamp": timestamp, "value": rating}
    )
    if name is None:
        stem = reviews_path.name.removeprefix("reviews_")
        name = dataset_name("amazon", stem) + (f"-{kcore}core" if kcore > 1 else "")
    dataset = Dataset.from_frames(name, frame, meta)
    dataset.interactions.event[:] = EVENT_CODE["review"]
    return dataset


def _read_reviews(
    path: Path,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stream the reviews into interned id lists and compact columns; raise on any bad line."""
    user_code: dict[str, int] = {}
    item_code: dict[str, int] = {}
    user, item, timestamp, rating = array("i"), array("i"), array("q"), array("f")
    for number, line in content_lines(path):
        record = parse_record(line, path, number, allow_python=True)
        reviewer = _text_field(record, "reviewerID", path, number)
        asin = _text_field(record, "asin", path, number)
        user.append(user_code.setdefault(reviewer, len(user_code)))
        item.append(item_code.setdefault(asin, len(item_code)))
        timestamp.append(_int_field(record, "unixReviewTime", path, number))
        rating.append(_number_field(record, "overall", path, number))
    if not user:
        raise DataFormatError("no reviews in the file", path)
    return (
        list(user_code),
        list(item_code),
        np.frombuffer(user, dtype=np.int32),
        np.frombuffer(item, dtype=np.int32),
        np.frombuffer(timestamp, dtype=np.int64),
        np.frombuffer(rating, dtype=np.float32),
    )


def _read_meta(path: Path, wanted: set[str]) -> pd.DataFrame:
    """Item rows for the ``wanted`` asins; every line is still parsed and validated."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates = 0
    for number, line in content_lines(path):
        record = parse_record(line, path, number, allow_python=True)
        asin = _text_field(record, "asin", path, number)
        if asin in seen:
            duplicates += 1
            continue
        seen.add(asin)
        if asin in wanted:
            fields = {k: v for k, v in record.items() if k in _META_FIELDS}
            rows.append(item_row(asin, fields, path, number, strict_price=False))
    if duplicates:
        log.warning("%s: %d repeated asin lines; the first line of each asin was used", path, duplicates)
    return pd.DataFrame(rows) if rows else pd.DataFrame({"item_id": pd.Series([], dtype=object)})


def _kcore(user: np.ndarray, item: np.ndarray, n_users: int, n_items: int, k: int) -> np.ndarray:
    """Mask of the interactions left after iteratively dropping users/items with < k of them."""
    keep = np.ones(len(user), dtype=bool)
    if k <= 1:
        return keep
    while True:
        ucount = np.bincount(user[keep], minlength=n_users)
        icount = np.bincount(item[keep], minlength=n_items)
        new_keep = keep & (ucount[user] >= k) & (icount[item] >= k)
        if new_keep.sum() == keep.sum():
            return keep
        keep = new_keep


def _text_field(record: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = record.get(key)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise DataFormatError(f"missing or invalid {key} ({_short(value)})", path, line, key)
    return check_id(str(value).strip(), path, line, key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_field(record: dict[str, Any], key: str, path: Path, line: int) -> int:
    value = record.get(key)
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return check_time(value, path, line, key)
    elif isinstance(value, float) and value.is_integer():
        return check_time(int(value), path, line, key)
    elif isinstance(value, str) and value.strip().removeprefix("-").isdigit() and value.strip().isascii():
        if len(value.strip()) > 4000:  # int() refuses longer digit strings
            raise DataFormatError(f"timestamp {_short(value)} is out of range (int64)", path, line, key)
        return check_time(int(value), path, line, key)
    raise DataFormatError(f"missing or non-integer {key} ({_short(value)})", path, line, key)


def _number_field(record: dict[str, Any], key: str, path: Path, line: int) -> float:
    value = record.get(key)
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if math.isfinite(number) and abs(number) <= FLOAT32_MAX:
        return number
    raise DataFormatError(f"missing or non-numeric {key} ({_short(value)})", path, line, key)
