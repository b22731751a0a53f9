"""Helpers shared by the loaders: line streaming with progress, ids, prices, categories."""

from __future__ import annotations

import ast
import gzip
import html
import io
import json
import math
import re
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
from tqdm.auto import tqdm

from genrec.data.errors import DataFormatError
from genrec.textsafe import first_id_control

#: Files larger than this get a progress bar (when stderr is a terminal).
PROGRESS_BYTES = 8 * 1024 * 1024
_NUMBER = r"(\d[\d,]*(?:\.\d*)?|\.\d+)"
_PRICE_RE = re.compile(rf"\s*[$€£]?\s*{_NUMBER}\s*(?:-\s*[$€£]?\s*{_NUMBER}\s*)?")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")
#: Interaction times are stored as int64 seconds (or whatever unit the source uses).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Values are stored as float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: A Python list literal of plain quoted strings / integers, parsed without ast (fast on long histories).
_LIST_ITEM_RE = re.compile(r"""\s*('[^'\\\n]*'|"[^"\\\n]*"|-?(?:0|[1-9]\d*))\s*(,|\Z)""")


def iter_lines(path: Path, encoding: str = "utf-8-sig", desc: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, newline stripped; a UTF-8 BOM dropped), with a progress bar for big files."""
    path = Path(path)
    size = path.stat().st_size
    raw = open(path, "rb")
    gz = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gz else raw  # type: ignore[assignment]
    bar = (
        tqdm(total=size, unit="B", unit_scale=True, desc=desc or path.name, disable=None, leave=False)
        if size > PROGRESS_BYTES
        else None
    )
    text = io.TextIOWrapper(stream, encoding=encoding, newline=None)
    number = 0
    try:
        for number, line in enumerate(text, start=1):
            if bar is not None and number % 20000 == 0:
                bar.update(raw.tell() - bar.n)
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as err:
        # Decoding runs ahead in blocks: find the line by decoding the raw lines one by one.
        bad_line = invalid_text_line(path, encoding)
        raise DataFormatError(f"not valid UTF-8 text ({err.reason})", path, bad_line) from None
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(f"cannot read the file: {err}", path) from None
    finally:
        if bar is not None:
            bar.close()
        text.close()
        raw.close()


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading bytes, through gzip when it starts with the gzip magic."""
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw))  # typeshed: GzipFile is not a BinaryIO
    raw.seek(0)
    return raw


def invalid_text_line(path: Path, encoding: str = "utf-8") -> int | None:
    """1-based number of the first line of ``path`` that is not valid text, or None."""
    codec = "utf-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8") else encoding
    try:
        with open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode(codec)
                except UnicodeDecodeError:
                    return number
    except (OSError, EOFError, zlib.error):
        return None
    return None


def read_text(path: Path) -> str:
    """A whole text file (UTF-8, BOM dropped); bad bytes raise DataFormatError with their line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(f"not valid UTF-8 text ({err.reason})", path, line) from None


def check_id(value: str, path: Path | str, line: int | None, field: str) -> str:
    """Return ``value`` if it can be an id, else raise DataFormatError (control characters such as NUL)."""
    bad = first_id_control(value)
    if bad is not None:
        raise DataFormatError(f"id {_short(value)!r} holds the control character {bad!r}", path, line, field)
    return value


def check_time(value: int, path: Path | str, line: int | None, field: str) -> int:
    """Return ``value`` if it fits the stored int64 timestamps, else raise DataFormatError."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise DataFormatError(f"timestamp {_short(str(value))} is out of range (int64)", path, line, field)
    return value


def content_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Like ``iter_lines`` but skipping blank lines at the end; a blank line inside raises."""
    blank: int | None = None
    for number, line in iter_lines(path, encoding):
        if not line.strip():
            blank = blank or number
            continue
        if blank is not None:
            raise DataFormatError("empty line", path, blank)
        yield number, line


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (a BOM dropped), falling back to ISO-8859-1 (old MovieLens files)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_record(text: str, path: Path, line: int, allow_python: bool = False) -> dict[str, Any]:
    """Parse one JSON object line (or a Python dict literal when ``allow_python``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        if not allow_python:
            raise DataFormatError(f"invalid JSON: {err.msg} (column {err.colno})", path, line) from None
        value = _python_literal(text, path, line, f"neither valid JSON ({err.msg}) nor a Python dict literal")
    except (ValueError, RecursionError) as err:  # too deep, or an integer with too many digits
        raise DataFormatError(f"invalid JSON: {_short(str(err), 100)}", path, line) from None
    if not isinstance(value, dict):
        raise DataFormatError(f"expected an object, got {type(value).__name__}", path, line)
    return value


def _python_literal(text: str, path: Path, line: int, message: str, field: str | None = None) -> Any:
    """``ast.literal_eval(text)``, any failure raised as DataFormatError(message)."""
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error below says it
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise DataFormatError(message, path, line, field) from None


def _simple_list(source: str) -> list[str] | None:
    """The items of ``['a', "b", 3]`` (no escapes inside the quotes), or None for anything else."""
    if not (source.startswith("[") and source.endswith("]")):
        return None
    inner = source[1:-1].rstrip()
    if inner.endswith(","):  # a trailing comma is valid Python
        inner = inner[:-1]
    if not inner.strip():
        return [] if not source[1:-1].strip() else None
    out: list[str] = []
    pos, end = 0, len(inner)
    while pos < end:
        match = _LIST_ITEM_RE.match(inner, pos)
        if match is None:
            return None
        token = match.group(1)
        out.append(token[1:-1] if token[0] in "'\"" else ("0" if token == "-0" else token))  # no int(): any length
        pos = match.end()
        if match.group(2) == "," and pos == end:
            return None  # two trailing commas
    return out


def parse_list(text: Any, path: Path, line: int, field: str) -> list[str]:
    """Parse a list written as JSON or a Python literal (``"['a', 'b']"``) into strings."""
    if isinstance(text, list):
        value: Any = text
    else:
        source = "" if text is None else str(text).strip()
        simple = _simple_list(source)
        if simple is not None:
            return simple
        message = f"not a list literal: {_short(source)!r}"
        try:
            value = json.loads(source)
        except json.JSONDecodeError:
            value = _python_literal(source, path, line, message, field)
        except (ValueError, RecursionError):
            raise DataFormatError(message, path, line, field) from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise DataFormatError(f"expected a list, got {_short(str(text))!r}", path, line, field)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise DataFormatError(f"list element {v!r} is not a string or integer", path, line, field)
        out.append(str(v))
    return out


def unescape(value: Any) -> str:
    """A text field as a string with HTML entities resolved ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value if v is not None)
    return html.unescape(str(value)).strip()


def parse_price(value: Any, path: Path, line: int | None, strict: bool = True, field: str = "price") -> float:
    """A price as float: numbers pass, strings like '$12.99' or '$5.99 - $12.99' give the first number.

    Missing values give NaN. Anything else raises DataFormatError when ``strict``, else gives NaN.
    """
    if value is None or value == "":
        return math.nan
    number = math.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if value != value:  # NaN: an empty cell
            return math.nan
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
    elif isinstance(value, str):
        match = _PRICE_RE.fullmatch(value)
        if match:
            number = float(match.group(1).replace(",", ""))
    if math.isfinite(number):
        return number
    if strict:
        raise DataFormatError(f"non-numeric price {_short(str(value))!r}", path, line, field)
    return math.nan


def flatten_categories(value: Any) -> list[str]:
    """Flatten a category list or a list of category paths into unique strings, in order."""
    out: list[str] = []
    seen: set[str] = set()

    def walk(v: Any) -> None:
        if v is None:
            return
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
            return
        text = unescape(v)
        if text and text not in seen:
            seen.add(text)
            out.append(text)

    walk(value)
    return out


def jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers into plain JSON-serialisable values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dataset_name(prefix: str, path: Path | str) -> str:
    """A store-safe default dataset name from a prefix and a file name."""
    stem = Path(path).name
    for suffix in (".gz", ".zip", ".json", ".jsonl", ".txt", ".csv", ".parquet", ".dat", ".tsv"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return safe_name(f"{prefix}-{stem}" if prefix else stem)


def safe_name(text: str) -> str:
    """``text`` reduced to the characters a store name may hold (max 100)."""
    name = _NAME_BAD.sub("_", text).strip("._-") or "dataset"
    return name[:100]


def line_of_key(text: str, key: str) -> int:
    """1-based line where ``"key"`` first occurs in a JSON document (1 if not found)."""
    pos = text.find(json.dumps(key))
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Record keys that map onto item columns; everything else goes into ``attributes``.
_TEXT_FIELDS = ("title", "description", "brand")
_CATEGORY_FIELDS = ("categories", "category")


def item_row(
    item_id: str, record: dict[str, Any], path: Path, line: int | None, strict_price: bool = True
) -> dict[str, Any]:
    """Turn a side-file record into an item row: known fields to columns, the rest to attributes."""
    row: dict[str, Any] = {"item_id": item_id}
    attributes: dict[str, Any] = {}
    categories: list[str] = []
    for key, value in record.items():
        if key in _TEXT_FIELDS:
            row[key] = unescape(_text_value(value, path, line, key))
        elif key in _CATEGORY_FIELDS:
            _check_categories(value, path, line, key)
            categories.extend(c for c in flatten_categories(value) if c not in categories)
        elif key == "price":
            row["price"] = parse_price(value, path, line, strict=strict_price)
        elif key != "item_id" and not (key == "attributes" and isinstance(value, dict)):
            attributes[key] = jsonable(value)
    if isinstance(record.get("attributes"), dict):
        attributes.update(jsonable(record["attributes"]))
    row["categories"] = categories
    row["attributes"] = attributes
    return row


def _text_value(value: Any, path: Path, line: int | None, field: str) -> Any:
    """A text field: a string, a list of strings (joined later) or missing; anything else is an error."""
    if value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value)):
        return value
    if field == "description" and isinstance(value, list) and all(isinstance(v, str) or v is None for v in value):
        return value
    raise DataFormatError(f"expected text, got {_short(repr(value))}", path, line, field)


def _check_categories(value: Any, path: Path, line: int | None, field: str) -> None:
    """Categories are a string, or (nested) lists of strings; a dict or a number is an error."""
    if value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_categories(v, path, line, field)
        return
    raise DataFormatError(f"expected a list of category names, got {_short(repr(value))}", path, line, field)


def read_json_object(path: Path, expected: str) -> tuple[dict[str, Any], str]:
    """A JSON file holding one object (and its text, to find a key's line); ``expected`` names its shape."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    except (ValueError, RecursionError) as err:
        raise DataFormatError(f"invalid JSON: {_short(str(err), 100)}", path) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"expected {expected}", path, 1)
    return data, text


def read_item_json(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a ``{item_id: {"title": ..., "description": ...}}`` file into item rows keyed by id."""
    path = Path(path)
    data, text = read_json_object(path, "an object keyed by item id")
    rows = {}
    for item, record in data.items():
        check_id(item, path, line_of_key(text, item), "item")
        if not isinstance(record, dict):
            message = f"item {item!r}: expected an object, got {record!r}"[:200]
            raise DataFormatError(message, path, line_of_key(text, item), "item")
        rows[str(item)] = item_row(str(item), record, path, None, strict_price=False)
    return rows
