"""Generic interaction tables (CSV, TSV, Parquet, JSON lines; optionally gzipped) with a column map.

Files are read with pyarrow. Line numbers in errors are physical lines for CSV (the header is
line 1) and JSON lines; for Parquet they are 1-based row numbers. Blank lines carry no data and
are ignored. Timestamps may be integers (any unit, used as given), integral floats, datetimes,
or ISO-8601 strings (converted to Unix seconds).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from genrec.data.dataset import EVENT_TYPES, ITEM_COLUMNS, Dataset
from genrec.data.errors import DataFormatError
from genrec.data.loaders._common import (
    INT64_MAX,
    INT64_MIN,
    dataset_name,
    invalid_text_line,
    item_row,
    iter_lines,
    jsonable,
    open_binary,
    parse_list,
    parse_record,
)
from genrec.textsafe import ID_CONTROL_RE, first_id_control

ITEM_FIELDS = tuple(c for c in ITEM_COLUMNS if c != "item_id")
LineOf = Callable[[int], int]


def load_table(
    path: str | Path,
    user: str = "user_id",
    item: str = "item_id",
    timestamp: str | None = None,
    event: str | None = None,
    value: str | None = None,
    items_path: str | Path | None = None,
    item_columns: Mapping[str, str] | None = None,
    name: str | None = None,
    keep_all_items: bool = False,
) -> Dataset:
    """Load an interaction table (and optionally an item table) given which columns hold what."""
    path = Path(path)
    frame, line_of, header = read_table(path)
    wanted = {"user": user, "item": item, "timestamp": timestamp, "event": event, "value": value}
    for column in (c for c in wanted.values() if c is not None):
        if column not in frame.columns:
            raise DataFormatError(f"missing column {column!r} (columns: {list(frame.columns)})", path, header, column)
    _unique_columns(frame, [c for c in wanted.values() if c is not None], path, header)
    out = pd.DataFrame(
        {
            "user_id": _ids(frame[user], path, line_of, user),
            "item_id": _ids(frame[item], path, line_of, item),
        }
    )
    if timestamp is not None:
        out["timestamp"] = _timestamps(frame[timestamp], path, line_of, timestamp)
    if event is not None:
        out["event"] = _events(frame[event], path, line_of, event)
    if value is not None:
        out["value"] = _numbers(frame[value], path, line_of, value)
    items = _item_table(Path(items_path), item, item_columns) if items_path is not None else None
    return Dataset.from_frames(
        name or dataset_name("table", path), out, items, keep_items_without_interactions=keep_all_items
    )


def read_table(path: Path) -> tuple[pd.DataFrame, LineOf, int | None]:
    """Read a table; return it, a row-index -> line-number function, and the header line (or None)."""
    kind = _kind(path)
    if kind == "parquet":
        try:
            frame = pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as err:
            raise DataFormatError(f"not a readable Parquet file: {str(err)[:200]}", path) from None
        return frame, lambda row: row + 1, None
    if kind == "jsonl":
        return _read_jsonl(path), _jsonl_line_of(path), None
    delimiter = "\t" if kind == "tsv" else ","
    return _read_csv(path, delimiter), _csv_line_of(path, delimiter), 1


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2")]
    suffix = suffixes[-1] if suffixes else ""
    kinds = {
        ".csv": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
    }
    if suffix not in kinds:
        known = ", ".join(sorted(kinds))
        raise ValueError(f"{path}: unknown table format {suffix!r}; use one of {known}")
    return kinds[suffix]


# ---- readers ----------------------------------------------------------------------------
def _read_csv(path: Path, delimiter: str) -> pd.DataFrame:
    header: list[str] = next((fields for _, fields in _csv_records(path, delimiter)), [])
    if not header or not any(h.strip() for h in header):
        raise DataFormatError("empty file or empty header", path, 1)
    block = 1 << 20
    while True:
        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=block),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header}, strings_can_be_null=True
                ),
            )
            break
        except pa.ArrowInvalid as err:
            # A record longer than pyarrow's block: read again with blocks that hold it.
            if "straddl" in str(err) and block < path.stat().st_size + 1:
                block = min(max(block * 16, path.stat().st_size + 1), 2**31 - 1)
                continue
            if "UTF8" in str(err) or "UTF-8" in str(err):
                raise DataFormatError("not valid UTF-8 text", path, invalid_text_line(path)) from None
            _raise_ragged_csv(path, delimiter, len(header))
            raise DataFormatError(f"cannot parse: {str(err)[:200]}", path) from None
    return table.to_pandas()


def _csv_records(path: Path, delimiter: str) -> Any:
    """Yield ``(first line, fields)`` of every non-blank CSV record, header included."""
    text = io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")
    with text:
        reader = csv.reader(text, delimiter=delimiter)
        start = 1
        try:
            for fields in reader:
                if fields:
                    yield start, fields
                start = reader.line_num + 1
        except UnicodeDecodeError as err:
            raise DataFormatError(f"not valid UTF-8 text ({err.reason})", path, invalid_text_line(path)) from None
        except csv.Error as err:
            raise DataFormatError(f"malformed CSV: {err}", path, start) from None


def _raise_ragged_csv(path: Path, delimiter: str, width: int) -> None:
    for line, fields in _csv_records(path, delimiter):
        if len(fields) != width:
            raise DataFormatError(f"expected {width} fields, got {len(fields)}", path, line)


def _csv_line_of(path: Path, delimiter: str) -> LineOf:
    def line_of(row: int) -> int:
        for index, (line, _) in enumerate(_csv_records(path, delimiter)):
            if index == row + 1:
                return line
        return row + 2

    return line_of


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        return pajson.read_json(path).to_pandas()
    except pa.ArrowInvalid:
        pass
    # Slow path: name the first bad line, or build the frame from records pyarrow could not type.
    records = [parse_record(line, path, n) for n, line in iter_lines(path) if line.strip()]
    return pd.DataFrame.from_records(records)


def _jsonl_line_of(path: Path) -> LineOf:
    def line_of(row: int) -> int:
        index = -1
        for number, line in iter_lines(path):
            index += bool(line.strip())
            if index == row:
                return number
        return row + 1

    return line_of


# ---- column checks ----------------------------------------------------------------------
def _unique_columns(frame: pd.DataFrame, used: list[str], path: Path, header: int | None) -> None:
    """A DataFormatError naming the first column of ``used`` that the header has more than once."""
    names = [str(c) for c in frame.columns]
    for column in used:
        if names.count(column) > 1:
            message = f"the header has column {column!r} {names.count(column)} times: rename all but one"
            raise DataFormatError(message, path, header, column)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _ids(series: pd.Series, path: Path, line_of: LineOf, column: str) -> pd.Series:
    if series.dtype == object:
        odd = series.map(lambda v: isinstance(v, (dict, list, tuple, bool, np.ndarray, np.bool_))).to_numpy(dtype=bool)
        if odd.any():
            row = _first(odd)
            message = f"an id must be a string or a number, got {str(series.iloc[row])[:60]!r}"
            raise DataFormatError(message, path, line_of(row), column)
    if pd.api.types.is_bool_dtype(series.dtype):
        raise DataFormatError("an id must be a string or a number, got true/false", path, line_of(0), column)
    if pd.api.types.is_float_dtype(series.dtype):
        whole = series.isna() | (series == np.floor(series))
        if whole.all():
            series = series.astype("Int64")
    text = series.astype("string").str.strip()
    missing = text.isna() | (text == "")
    if missing.any():
        row = _first(missing.to_numpy())
        raise DataFormatError("missing id", path, line_of(row), column)
    controls = text.str.contains(ID_CONTROL_RE).to_numpy(dtype=bool)
    if controls.any():
        row = _first(controls)
        value = str(text.iloc[row])
        message = f"id {value[:40]!r} holds the control character {first_id_control(value)!r}"
        raise DataFormatError(message, path, line_of(row), column)
    return text.astype(str)


def _timestamps(series: pd.Series, path: Path, line_of: LineOf, column: str) -> np.ndarray:
    missing = series.isna().to_numpy()
    if missing.any():
        raise DataFormatError("missing timestamp", path, line_of(_first(missing)), column)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _epoch_seconds(series)
    if pd.api.types.is_bool_dtype(series.dtype):
        raise DataFormatError("timestamp true/false is not a time", path, line_of(0), column)
    if pd.api.types.is_integer_dtype(series.dtype):
        if series.dtype.kind == "u":
            big = (series.to_numpy() > np.uint64(INT64_MAX)).astype(bool)
            if big.any():
                row = _first(big)
                _out_of_range(series.iloc[row], path, line_of(row), column)
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
        if bad.any():
            row = _first(bad)
            message = f"non-integer timestamp {str(series.iloc[row])[:40]!r}"
            raise DataFormatError(message, path, line_of(row), column)
        outside = (numbers < float(INT64_MIN)) | (numbers >= 2.0**63)
        if outside.any():
            row = _first(outside)
            _out_of_range(series.iloc[row], path, line_of(row), column)
        return numbers.astype(np.int64)
    if series.dtype == object and series.map(lambda v: isinstance(v, int) and not isinstance(v, bool)).all():
        # Python ints pyarrow could not type (beyond int64): name the first one out of range.
        outside = series.map(lambda v: not INT64_MIN <= v <= INT64_MAX).to_numpy(dtype=bool)
        if outside.any():
            row = _first(outside)
            _out_of_range(series.iloc[row], path, line_of(row), column)
        return series.to_numpy(dtype=np.int64)
    text = series.astype(str).str.strip()
    whole = text.str.fullmatch(r"[+-]?\d{1,30}")
    if whole.all():
        numbers = text.map(int)
        outside = numbers.map(lambda v: not INT64_MIN <= v <= INT64_MAX).to_numpy(dtype=bool)
        if outside.any():
            row = _first(outside)
            _out_of_range(text.iloc[row], path, line_of(row), column)
        return numbers.to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return _timestamps(numbers, path, line_of, column)
    if pd.notna(numbers.iloc[0]):  # numeric file with a stray value
        row = _first(numbers.isna().to_numpy())
        raise DataFormatError(f"non-integer timestamp {text.iloc[row][:40]!r}", path, line_of(row), column)
    dates = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    if dates.isna().any():
        row = _first(dates.isna().to_numpy())
        _not_a_date(text, row, path, line_of, column)
    return _epoch_seconds(dates)


def _not_a_date(text: pd.Series, row: int, path: Path, line_of: LineOf, column: str) -> None:
    value = text.iloc[row][:40]
    if re.fullmatch(r"[+-]?\d+", value):
        message = f"timestamp {value!r} is an integer, but the column holds ISO-8601 dates: use one format"
    else:
        message = f"timestamp {value!r} is neither an integer nor an ISO-8601 date"
    raise DataFormatError(message, path, line_of(row), column)


def _out_of_range(value: Any, path: Path, line: int, column: str) -> None:
    raise DataFormatError(f"timestamp {str(value)[:40]} is out of range (int64)", path, line, column)


def _epoch_seconds(series: pd.Series) -> np.ndarray:
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    # in the series' own unit (pandas 3 parses ISO dates in microseconds: years 1-9999), floored to seconds;
    # subtracting a nanosecond Timestamp would overflow outside 1677-2262
    return series.to_numpy().astype("datetime64[s]").astype(np.int64)


def _events(series: pd.Series, path: Path, line_of: LineOf, column: str) -> pd.Series:
    text = series.astype("string").str.strip().str.lower()
    unknown = (text.isna() | ~text.isin(EVENT_TYPES)).to_numpy()
    if unknown.any():
        row = _first(unknown)
        message = f"unknown event type {series.iloc[row]!r}; known: {', '.join(EVENT_TYPES)}"
        raise DataFormatError(message, path, line_of(row), column)
    return text.astype(str)


def _numbers(series: pd.Series, path: Path, line_of: LineOf, column: str) -> np.ndarray:
    plain = series
    if series.dtype == object:  # lists, dicts and booleans are not numbers
        plain = series.map(lambda v: "x" if isinstance(v, (dict, list, bool, np.ndarray)) else v)
    numbers = pd.to_numeric(plain, errors="coerce").astype(np.float64)
    values = numbers.to_numpy(dtype=np.float64)
    bad = (numbers.isna() & plain.notna()).to_numpy() | (np.abs(values) > float(np.finfo(np.float32).max))
    if bad.any():
        row = _first(bad)
        raise DataFormatError(f"non-numeric value {str(series.iloc[row])[:40]!r}", path, line_of(row), column)
    return numbers.to_numpy(dtype=np.float64)


# ---- items ------------------------------------------------------------------------------
def _item_table(path: Path, item: str, item_columns: Mapping[str, str] | None) -> pd.DataFrame:
    frame, line_of, header = read_table(path)
    mapping = dict(item_columns or {})
    unknown = set(mapping) - set(ITEM_COLUMNS)
    if unknown:
        raise ValueError(f"unknown item field(s) {sorted(unknown)}; known: {', '.join(ITEM_COLUMNS)}")
    mapping.setdefault("item_id", item if item in frame.columns else "item_id")
    if item_columns is None:
        mapping.update({f: f for f in ITEM_FIELDS if f in frame.columns})
    for field, column in mapping.items():
        if column not in frame.columns:
            raise DataFormatError(
                f"missing column {column!r} for item field {field!r} (columns: {list(frame.columns)})",
                path,
                header,
                column,
            )
    _unique_columns(frame, list(frame.columns), path, header)
    ids = _ids(frame[mapping["item_id"]], path, line_of, mapping["item_id"])
    duplicated = ids.duplicated().to_numpy()
    if duplicated.any():
        row = _first(duplicated)
        message = f"duplicate item id {ids.iloc[row]!r}"
        raise DataFormatError(message, path, line_of(row), mapping["item_id"])
    source_of = {column: field for field, column in mapping.items() if field != "item_id"}
    extra = [c for c in frame.columns if c not in source_of and c != mapping["item_id"]]
    rows = []
    for row, (item_id, record) in enumerate(zip(ids, frame.to_dict("records"))):
        fields: dict[str, Any] = {field: record[column] for column, field in source_of.items()}
        try:
            if "categories" in fields:
                fields["categories"] = _categories(fields["categories"], path, row)
            if isinstance(fields.get("attributes"), str):
                fields["attributes"] = json.loads(fields["attributes"] or "{}")
            attributes = {c: jsonable(record[c]) for c in extra if _present(record[c])}
            fields["attributes"] = {**(fields.get("attributes") or {}), **attributes}
            rows.append(item_row(item_id, fields, path, row))
        except DataFormatError as err:
            named = mapping.get(err.field or "", err.field)
            raise DataFormatError(err.reason, path, line_of(row), named) from None
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise DataFormatError(f"invalid attributes: {err}", path, line_of(row), mapping.get("attributes")) from None
    return pd.DataFrame(rows) if rows else pd.DataFrame({"item_id": pd.Series([], dtype=object)})


def _present(value: Any) -> bool:
    if isinstance(value, (list, dict, np.ndarray)):
        return True
    if value is None or value is pd.NA:
        return False
    return not (isinstance(value, float) and np.isnan(value))


def _categories(value: Any, path: Path, row: int) -> list[str]:
    """Categories from a list, a list literal string, or a '|'-separated string."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list) or not _present(value):
        return value if isinstance(value, list) else []
    text = str(value).strip()
    if text.startswith("["):
        return parse_list(text, path, row, "categories")
    return [part.strip() for part in text.split("|") if part.strip()]
