"""The S3Rec / TIGER / P5 sequence format: ``user item item ...``, one user per line, time-ordered.

Optional side files give the items text and attributes:

* ``*_item2attributes.json``: ``{item_id: [attr_id, ...]}`` -> ``attributes["attribute_ids"]``;
* an item-text JSON-lines file keyed by ``item_id`` (title, brand, price, categories, ...);
* a MovieLens ``movies.dat`` (for sequences whose items are MovieIDs);
* an item JSON ``{key: {"title": ..., "description": ...}}`` (MiniOneRec / GAMER ``*.item.json``)
  whose descriptions join the items; its integer keys may be offset from the sequence ids
  (GAMER's Beauty keys are S3Rec id - 1: ``descriptions_key_offset=1``). Where both files give a
  title, the titles must agree, so a wrong offset is an error and not a silent mismatch.

Items that appear in sequences but in no side file get an empty record.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from genrec.data.dataset import Dataset
from genrec.data.errors import DataFormatError
from genrec.data.loaders._common import (
    check_id,
    content_lines,
    dataset_name,
    item_row,
    iter_lines,
    line_of_key,
    parse_record,
    read_item_json,
    read_json_object,
    read_text,
)
from genrec.textsafe import ID_CONTROL_RE

#: Share of the titles both side files give that must agree before descriptions are joined.
MIN_TITLE_AGREEMENT = 0.9


def read_sequences(path: str | Path) -> dict[str, list[str]]:
    """Read ``user item item ...`` lines into ``{user: [item, ...]}``, raising on any bad line."""
    path = Path(path)
    sequences: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    blank: int | None = None
    for number, line in iter_lines(path):
        tokens = line.split()
        if not tokens:
            blank = blank or number
            continue
        if blank is not None:
            raise DataFormatError("empty line (expected 'user item item ...')", path, blank, "user")
        user, items = tokens[0], tokens[1:]
        if ID_CONTROL_RE.search(line):
            for field, token in zip(["user"] + ["items"] * len(items), tokens):
                check_id(token, path, number, field)
        if not items:
            raise DataFormatError(f"user {user!r} has no items", path, number, "items")
        if user in sequences:
            raise DataFormatError(
                f"user {user!r} appears again (first on line {first_line[user]})", path, number, "user"
            )
        sequences[user] = items
        first_line[user] = number
    if not sequences:
        raise DataFormatError("no sequences in the file", path, None, "user")
    return sequences


def read_item2attributes(path: str | Path) -> dict[str, list[int]]:
    """Read an S3Rec ``{item_id: [attr_id, ...]}`` file."""
    path = Path(path)
    data, text = read_json_object(path, "an object {item_id: [attribute ids]}")
    out: dict[str, list[int]] = {}
    for item, attrs in data.items():
        if not isinstance(attrs, list) or not all(isinstance(a, int) and not isinstance(a, bool) for a in attrs):
            raise DataFormatError(
                f"item {item!r}: attribute ids must be a list of integers, got {attrs!r}"[:200],
                path,
                line_of_key(text, item),
                "attribute_ids",
            )
        out[str(item)] = attrs
    return out


def read_item_texts(path: str | Path) -> pd.DataFrame:
    """Read a JSON-lines item file keyed by ``item_id`` into an item frame."""
    path = Path(path)
    rows = []
    seen: dict[str, int] = {}
    for number, line in content_lines(path):
        record = parse_record(line, path, number)
        item = record.get("item_id")
        if item is None or isinstance(item, (bool, dict, list)) or str(item).strip() == "":
            raise DataFormatError("missing or invalid item_id", path, number, "item_id")
        item = check_id(str(item).strip(), path, number, "item_id")
        if item in seen:
            raise DataFormatError(f"duplicate item_id {item!r} (first on line {seen[item]})", path, number, "item_id")
        seen[item] = number
        rows.append(item_row(item, record, path, number))
    return pd.DataFrame(rows, columns=None if rows else ["item_id"])


def load_sequence_text(
    path: str | Path,
    item_attributes: str | Path | None = None,
    item_texts: str | Path | None = None,
    movies: str | Path | None = None,
    name: str | None = None,
    item_descriptions: str | Path | None = None,
    descriptions_key_offset: int = 0,
) -> Dataset:
    """Load a ``user item item ...`` file, with optional item attribute / text / description side files."""
    path = Path(path)
    if item_texts is not None and movies is not None:
        raise ValueError("give either item_texts or movies, not both")
    sequences = read_sequences(path)
    items: pd.DataFrame | None = None
    if item_texts is not None:
        items = read_item_texts(item_texts)
    elif movies is not None:
        from genrec.data.loaders.movielens import read_movies_dat

        items = read_movies_dat(movies)
    if item_descriptions is not None:
        items = merge_descriptions(items, item_descriptions, descriptions_key_offset)
    if item_attributes is not None:
        items = _merge_attribute_ids(items, read_item2attributes(item_attributes))
    return Dataset.from_sequences(name or dataset_name("seq", path), sequences, items)


def _merge_attribute_ids(items: pd.DataFrame | None, attrs: dict[str, list[int]]) -> pd.DataFrame:
    """Add ``attribute_ids`` to the item attributes, creating rows for items not yet listed."""
    if items is None or items.empty:
        items = pd.DataFrame({"item_id": pd.Series([], dtype=object)})
    items = items.copy()
    if "attributes" not in items.columns:
        items["attributes"] = [{} for _ in range(len(items))]
    index = {item: i for i, item in enumerate(items["item_id"])}
    attributes = [dict(a) for a in items["attributes"]]
    extra = []
    for item, ids in attrs.items():
        if item in index:
            attributes[index[item]]["attribute_ids"] = ids
        else:
            extra.append({"item_id": item, "attributes": {"attribute_ids": ids}})
    items["attributes"] = attributes
    if extra:
        items = pd.concat([items, pd.DataFrame(extra)], ignore_index=True)
    return items


def merge_descriptions(items: pd.DataFrame | None, path: str | Path, key_offset: int = 0) -> pd.DataFrame:
    """Join the descriptions of an item JSON (key + ``key_offset`` = item id) into ``items``.

    Items the JSON lists but ``items`` lacks are added with the JSON's title. Raises
    ``DataFormatError`` when a key is not an integer (with an offset) or when fewer than
    ``MIN_TITLE_AGREEMENT`` of the titles both sides give agree (the offset is likely wrong).
    """
    path = Path(path)
    records = read_item_json(path)
    rows: dict[str, dict[str, Any]] = {}
    for key, record in records.items():
        item = key
        if key_offset:
            try:
                item = str(int(key) + key_offset)
            except ValueError:
                text = read_text(path)
                raise DataFormatError(
                    f"key {key!r} is not an integer (descriptions_key_offset={key_offset})",
                    path,
                    line_of_key(text, key),
                    "item",
                ) from None
        rows[item] = record
    if items is None or items.empty:
        items = pd.DataFrame({"item_id": pd.Series([], dtype=object)})
    items = items.reset_index(drop=True)
    for column in ("title", "description"):
        if column not in items.columns:
            items[column] = ""
    index = {str(item): i for i, item in enumerate(items["item_id"])}
    known = [(index[item], row) for item, row in rows.items() if item in index]
    titled = [(i, row) for i, row in known if _norm(row.get("title")) and _norm(items.at[i, "title"])]
    differ = [(i, row) for i, row in titled if _norm(row.get("title")) != _norm(items.at[i, "title"])]
    agree = len(titled) - len(differ)
    if titled and agree < MIN_TITLE_AGREEMENT * len(titled):
        i, row = differ[0]
        raise DataFormatError(
            f"titles agree with the item texts for only {agree} of {len(titled)} items (item "
            f"{items.at[i, 'item_id']!r}: {str(row.get('title'))[:60]!r} vs {str(items.at[i, 'title'])[:60]!r}); "
            f"is descriptions_key_offset={key_offset} right?",
            path,
            None,
            "title",
        )
    extra: list[dict[str, Any]] = []
    descriptions = items["description"].fillna("").astype(str).tolist()
    for item, row in rows.items():
        text = str(row.get("description") or "").strip()
        if item in index:
            if text:
                descriptions[index[item]] = text
        else:
            extra.append(
                {
                    "item_id": item,
                    "title": row.get("title") or "",
                    "description": text,
                    "categories": [],
                    "attributes": {},
                }
            )
    items["description"] = descriptions
    if extra:
        items = pd.concat([items, pd.DataFrame(extra)], ignore_index=True)
    return items


def _norm(title: Any) -> str:
    """A title compared case- and space-insensitively."""
    return re.sub(r"\s+", " ", str(title or "")).strip().casefold()
