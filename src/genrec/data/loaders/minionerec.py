"""MiniOneRec's CSV samples and ``*.item.json`` item texts.

Each CSV row is one (history -> next item) sample with the columns ``user_id``,
``history_item_id`` and ``item_id`` (required) and usually ``history_item_title``,
``item_title``, ``history_item_sid``, ``item_sid``; the history columns hold Python list
literals such as ``"['1', '2']"``. A user's sequence is rebuilt as the longest history + target
seen for that user across all the CSVs given (train, valid and test together, in that order);
among equally long ones the last wins, which keeps the most recent window when the converter
truncated histories to a maximum length. Titles in the
CSV fill in items the item JSON lacks; semantic ids go to ``attributes["sid"]``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from genrec.data.dataset import Dataset
from genrec.data.errors import DataFormatError
from genrec.data.loaders._common import (
    check_id,
    dataset_name,
    invalid_text_line,
    parse_list,
    read_item_json,
    unescape,
)
from genrec.textsafe import ID_CONTROL_RE

REQUIRED_COLUMNS = ("user_id", "history_item_id", "item_id")
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))


def load_minionerec(
    csv_paths: str | Path | Sequence[str | Path],
    item_json: str | Path | None = None,
    name: str | None = None,
) -> Dataset:
    """Load MiniOneRec CSV files (a file, a list, or a directory of them) plus an optional item JSON."""
    paths = _csv_files(csv_paths)
    sequences: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    sids: dict[str, str] = {}
    for path in paths:
        for number, row in _rows(path):
            user = _required(row, "user_id", path, number)
            history = parse_list(row["history_item_id"], path, number, "history_item_id")
            if ID_CONTROL_RE.search(row["history_item_id"]) or not all(item.strip() for item in history):
                for item in history:
                    if not item.strip():
                        raise DataFormatError("an empty id in the history", path, number, "history_item_id")
                    check_id(item, path, number, "history_item_id")
            target = _required(row, "item_id", path, number)
            sequence = history + [target]
            if len(sequence) >= len(sequences.get(user, ())):  # ties: the later sample is more recent
                sequences[user] = sequence
            _collect(titles, history, target, row, "history_item_title", "item_title", path, number)
            _collect(sids, history, target, row, "history_item_sid", "item_sid", path, number)
    if not sequences:
        where = paths[0] if len(paths) == 1 else ", ".join(map(str, paths))[:300]
        raise DataFormatError("no samples (only a header?)", where)
    items = _items(item_json, titles, sids)
    return Dataset.from_sequences(name or dataset_name("minionerec", paths[0]), sequences, items)


def _csv_files(csv_paths: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(csv_paths, (str, Path)):
        csv_paths = [csv_paths]
    files: list[Path] = []
    for entry in map(Path, csv_paths):
        if entry.is_dir():
            files.extend(sorted(entry.rglob("*.csv")))
        elif entry.exists():
            files.append(entry)
        else:
            raise FileNotFoundError(f"{entry}: no such file or directory")
    if not files:
        raise FileNotFoundError(f"no CSV files in {', '.join(map(str, csv_paths))}")
    return files


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(first line of the record, row)``; raise on a missing column or a ragged row."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        try:
            columns = reader.fieldnames or []
            for col in REQUIRED_COLUMNS:
                if col not in columns:
                    raise DataFormatError(f"missing column {col!r} (header: {columns})", path, 1, col)
            start = reader.line_num + 1
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise DataFormatError(f"expected {len(columns)} fields, got a ragged row", path, start)
                yield start, row
                start = reader.line_num + 1
        except csv.Error as err:
            raise DataFormatError(f"malformed CSV: {err}", path, reader.line_num) from None
        except UnicodeDecodeError as err:
            raise DataFormatError(f"not valid UTF-8 text ({err.reason})", path, invalid_text_line(path)) from None


def _required(row: dict[str, str], column: str, path: Path, line: int) -> str:
    value = row[column].strip()
    if not value:
        raise DataFormatError(f"empty {column}", path, line, column)
    return check_id(value, path, line, column)


def _collect(
    out: dict[str, str],
    history: list[str],
    target: str,
    row: dict[str, str],
    history_column: str,
    target_column: str,
    path: Path,
    line: int,
) -> None:
    """Record per-item values (titles or SIDs) from one row; a history list only when aligned."""
    if row.get(history_column, "").strip():
        values = parse_list(row[history_column], path, line, history_column)
        if len(values) == len(history):
            for item, value in zip(history, values):
                out.setdefault(item, value)
    if row.get(target_column, "").strip():
        out.setdefault(target, row[target_column])


def _items(item_json: str | Path | None, titles: dict[str, str], sids: dict[str, str]) -> pd.DataFrame:
    rows = read_item_json(item_json) if item_json is not None else {}
    for item, title in titles.items():
        row = rows.setdefault(item, {"item_id": item, "attributes": {}})
        if not row.get("title"):
            row["title"] = unescape(title)
    for item, sid in sids.items():
        row = rows.setdefault(item, {"item_id": item, "attributes": {}})
        row["attributes"] = {**row.get("attributes", {}), "sid": sid}
    if not rows:
        return pd.DataFrame({"item_id": pd.Series([], dtype=object)})
    return pd.DataFrame(list(rows.values()))
