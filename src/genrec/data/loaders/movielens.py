"""MovieLens from a local directory or the official .zip: ml-100k, ml-1m, ml-10m, ml-20m/25m/32m, latest.

Ratings become ``rating`` events whose value is the star rating, with the real timestamps. Only
the ratings file is required; the movie and user files are used when present.
Genres become item categories; the release year (and ml-100k's date and IMDb link, or the
links.csv ids) go into item attributes; demographics (when the variant has them) into user
attributes. ``download_movielens`` fetches and unpacks an official archive into a cache.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from genrec.data.dataset import EVENT_CODE, Dataset
from genrec.data.errors import DataFormatError
from genrec.data.loaders._common import decode_text, safe_name
from genrec.data.loaders._download import fetch_archive
from genrec.data.loaders._source import Source

BASE_URL = "https://files.grouplens.org/datasets/movielens/"
VARIANTS: tuple[str, ...] = (
    "ml-100k",
    "ml-1m",
    "ml-10m",
    "ml-20m",
    "ml-25m",
    "ml-32m",
    "ml-latest",
    "ml-latest-small",
)
#: ml-100k genre order, used when the archive has no u.genre file.
GENRES_100K: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_YEAR_RE = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_INT_RE = r"^\s*-?\d+\s*$"
_FLOAT_RE = r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_RATING_COLUMNS = ("user", "item", "rating", "timestamp")
_BOM = b"\xef\xbb\xbf"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def load_movielens(path: str | Path, variant: str = "auto", name: str | None = None) -> Dataset:
    """Load a MovieLens release from its directory or official .zip archive."""
    with Source(path) as src:
        variant = _detect(src, path) if variant == "auto" else _variant(variant)
        if variant == "ml-100k":
            ratings = _ratings(src, "u.data", "\t", header=False)
            items = _items_100k(src)
            users = _users(src, "u.user", "|", ("age", "gender", "occupation", "zip"), (0,))
        elif variant in ("ml-1m", "ml-10m"):
            ratings = _ratings(src, "ratings.dat", "::", header=False)
            movies = src.find("movies.dat")
            items = _movies_dat(src.read_bytes(movies), src.label(movies)) if movies else None
            users = (
                _users(src, "users.dat", "::", ("gender", "age", "occupation", "zip"), (1, 2))
                if src.find("users.dat")
                else None
            )
        else:
            ratings = _ratings(src, "ratings.csv", ",", header=True)
            items = _movies_csv(src)
            users = None
    default = Path(path).name.removesuffix(".zip")
    name = name or (safe_name(default) if default.lower().startswith("ml-") else variant)
    dataset = Dataset.from_frames(name, ratings, items, users)
    dataset.interactions.event[:] = EVENT_CODE["rating"]
    return dataset


def download_movielens(
    variant: str,
    cache_dir: str | Path | None = None,
    base_url: str = BASE_URL,
    force: bool = False,
) -> Path:
    """Download, verify and unpack an official MovieLens zip; return the unpacked directory."""
    variant = _variant(variant)
    return fetch_archive(f"{variant}.zip", Path(cache_dir) if cache_dir else None, base_url, force)


def read_movies_dat(path: str | Path) -> pd.DataFrame:
    """Read a MovieLens ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``) into an item frame."""
    path = Path(path)
    return _movies_dat(path.read_bytes(), str(path))


# ---- variants -------------------------------------------------------------------------
def _variant(variant: str) -> str:
    v = variant.strip().lower()
    v = v if v.startswith("ml-") else f"ml-{v}"
    if v not in VARIANTS:
        raise ValueError(f"unknown MovieLens variant {variant!r}; known: auto, {', '.join(VARIANTS)}")
    return v


def _detect(src: Source, path: str | Path) -> str:
    if src.find("u.data"):
        return "ml-100k"
    if src.find("ratings.dat"):
        return "ml-1m" if src.find("users.dat") else "ml-10m"
    if src.find("ratings.csv"):
        return "ml-25m"
    raise DataFormatError("no u.data, ratings.dat or ratings.csv: not a MovieLens release", path)


def _need(src: Source, filename: str) -> str:
    member = src.find(filename)
    if member is None:
        raise DataFormatError(f"missing {filename}", src.path)
    return member


# ---- ratings --------------------------------------------------------------------------
def _ratings(src: Source, filename: str, delimiter: str, header: bool) -> pd.DataFrame:
    """Read a ratings file fast with pyarrow; on any problem rescan it line by line (naming a bad line)."""
    member = _need(src, filename)
    label = src.label(member)
    table = _fast_ratings(src, member, delimiter, header, label)
    if table is None:
        return _scan_ratings(src, member, delimiter, header, label)
    return pd.DataFrame(
        {
            "user_id": table["user"].to_numpy(zero_copy_only=False),
            "item_id": table["item"].to_numpy(zero_copy_only=False),
            "timestamp": table["timestamp"].to_numpy(),
            "value": table["rating"].to_numpy(),
        }
    )


def _fast_ratings(src: Source, member: str, delimiter: str, header: bool, label: str) -> pa.Table | None:
    """All four columns parsed and checked, or None when anything is off."""
    names = ["user", "s1", "item", "s2", "rating", "s3", "timestamp"] if delimiter == "::" else None
    read = pacsv.ReadOptions(column_names=names or (None if header else list(_RATING_COLUMNS)))
    parse = pacsv.ParseOptions(
        delimiter=":" if delimiter == "::" else delimiter,
        quote_char='"' if header else False,
        ignore_empty_lines=False,
    )
    fh = src.open(member)
    if fh.read(3) != _BOM:  # zip members cannot seek: open again
        fh.close()
        fh = src.open(member)
    try:
        first = fh.readline() if header else b""
        if header:
            columns = [c.strip() for c in next(csv.reader([decode_text(first)]), [])]
            wanted = {"userId": "user", "movieId": "item", "rating": "rating", "timestamp": "timestamp"}
            for col in wanted:
                if col not in columns:
                    raise DataFormatError(f"missing column {col!r} (header: {columns})", label, 1, col)
            read = pacsv.ReadOptions(column_names=[wanted.get(c, c) for c in columns])
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in read.column_names})
        table = pacsv.read_csv(fh, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    finally:
        fh.close()
    if delimiter == "::":
        for spacer in ("s1", "s2", "s3"):
            if pc.any(pc.not_equal(pc.fill_null(table[spacer], "x"), "")).as_py():
                return None
    checks = {"user": _INT_RE, "item": _INT_RE, "rating": _FLOAT_RE, "timestamp": _INT_RE}
    out = {}
    for col, pattern in checks.items():
        column = pc.fill_null(table[col], "")
        if not pc.all(pc.match_substring_regex(column, pattern)).as_py():
            return None
        out[col] = pc.utf8_trim_whitespace(column)
    try:
        rating = pc.cast(out["rating"], pa.float32())
        timestamp = pc.cast(out["timestamp"], pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # out of range: the scan names the line
        return None
    if not pc.all(pc.is_finite(rating)).as_py():
        return None
    return pa.table({"user": out["user"], "item": out["item"], "rating": rating, "timestamp": timestamp})


def _scan_ratings(src: Source, member: str, delimiter: str, header: bool, label: str) -> pd.DataFrame:
    """Walk the ratings line by line: raise DataFormatError at the first bad line, else return them."""
    names = ("user", "item", "rating", "timestamp")
    fields = ("userId", "movieId", "rating", "timestamp") if header else names
    rows: dict[str, list[Any]] = {name: [] for name in names}
    with src.open(member) as fh:
        text = io.TextIOWrapper(fh, encoding="latin-1", newline=None)
        lines = (line.removeprefix(_BOM.decode("latin-1")) if n == 0 else line for n, line in enumerate(text))
        reader = csv.reader(lines) if header else (line.rstrip("\n").split(delimiter) for line in lines)
        order: list[str] = list(names)
        number = 0
        try:
            for number, parts in enumerate(reader, start=1):
                if header and number == 1:
                    order = [c.strip() for c in parts]
                    continue
                if len(parts) != len(order):
                    raise DataFormatError(
                        f"expected {len(order)} fields separated by {delimiter!r}, got {len(parts)}: "
                        f"{delimiter.join(parts)[:80]!r}",
                        label,
                        number,
                    )
                values = dict(zip(order, parts))
                for name, col, pattern in zip(names, fields, (_INT_RE, _INT_RE, _FLOAT_RE, _INT_RE)):
                    if not re.match(pattern, values[col]):
                        kind = "a number" if col == "rating" else "an integer"
                        raise DataFormatError(f"{values[col][:40]!r} is not {kind}", label, number, col)
                    rows[name].append(values[col].strip())
                digits = rows["timestamp"][-1]
                rating, stamp = float(rows["rating"][-1]), int(digits) if len(digits) <= 30 else _INT64_MAX + 1
                if not (math.isfinite(rating) and abs(rating) <= _FLOAT32_MAX):
                    raise DataFormatError(
                        f"rating {rows['rating'][-1][:40]!r} is out of range", label, number, "rating"
                    )
                if not _INT64_MIN <= stamp <= _INT64_MAX:
                    message = f"timestamp {rows['timestamp'][-1][:40]} is out of range (int64)"
                    raise DataFormatError(message, label, number, "timestamp")
        except csv.Error as err:
            raise DataFormatError(f"malformed CSV: {err}", label, number + 1) from None
    return pd.DataFrame(
        {
            "user_id": rows["user"],
            "item_id": rows["item"],
            "timestamp": np.array(rows["timestamp"], dtype=np.int64),
            "value": np.array(rows["rating"], dtype=np.float32),
        }
    )


# ---- items ----------------------------------------------------------------------------
def _movie(item: str, title: str, genres: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    match = _YEAR_RE.search(title)
    if match:
        attributes["year"] = int(match.group(1))
    attributes.update(extra or {})
    return {"item_id": item, "title": title.strip(), "categories": genres, "attributes": attributes}


def _genres(text: str) -> list[str]:
    return [g for g in text.strip().split("|") if g and g != "(no genres listed)"]


def _movies_dat(data: bytes, label: str) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(decode_text(data).splitlines(), start=1):
        if not line.strip():
            raise DataFormatError("empty line", label, number, "MovieID")
        parts = line.split("::", 1)
        tail = parts[1].rsplit("::", 1) if len(parts) == 2 else []
        if len(tail) != 2:
            raise DataFormatError("expected 'MovieID::Title::Genres'", label, number, "Title")
        if not re.match(_INT_RE, parts[0]):
            raise DataFormatError(f"{parts[0]!r} is not an integer", label, number, "MovieID")
        rows.append(_movie(parts[0].strip(), tail[0], _genres(tail[1])) | {"_line": number})
    return _unique_items(rows, label)


def _items_100k(src: Source) -> pd.DataFrame | None:
    member = src.find("u.item")
    if member is None:
        return None
    label = src.label(member)
    genres = list(GENRES_100K)
    if src.find("u.genre"):
        text = decode_text(src.read_bytes(_need(src, "u.genre")))
        genres = [ln.split("|")[0] for ln in text.splitlines() if ln.strip()]
    rows = []
    for number, line in enumerate(decode_text(src.read_bytes(member)).splitlines(), start=1):
        parts = line.split("|")
        if len(parts) != 5 + len(genres):
            message = f"expected {5 + len(genres)} '|'-separated fields, got {len(parts)}"
            raise DataFormatError(message, label, number)
        if not re.match(_INT_RE, parts[0]):
            raise DataFormatError(f"{parts[0]!r} is not an integer", label, number, "movie id")
        flags = parts[5:]
        for genre, flag in zip(genres, flags):
            if flag not in ("0", "1"):
                raise DataFormatError(f"genre flag {flag!r} is not 0 or 1", label, number, genre)
        extra = {"release_date": parts[2], "imdb_url": parts[4]}
        row = _movie(parts[0].strip(), parts[1], [g for g, f in zip(genres, flags) if f == "1"], extra)
        if "year" not in row["attributes"] and re.search(r"\d{4}$", parts[2]):
            row["attributes"]["year"] = int(parts[2][-4:])
        rows.append(row | {"_line": number})
    return _unique_items(rows, label)


def _movies_csv(src: Source) -> pd.DataFrame | None:
    member = src.find("movies.csv")
    if member is None:
        return None
    label = src.label(member)
    links = _links(src)
    rows = []
    text = io.StringIO(decode_text(src.read_bytes(member)), newline="")
    reader = csv.DictReader(text)
    for col in ("movieId", "title", "genres"):
        if col not in (reader.fieldnames or []):
            raise DataFormatError(f"missing column {col!r}", label, 1, col)
    last = 1
    for record in reader:
        number, last = last + 1, reader.line_num
        if None in record or any(v is None for v in record.values()):
            raise DataFormatError("wrong number of fields", label, number)
        if not re.match(_INT_RE, record["movieId"]):
            raise DataFormatError(f"{record['movieId']!r} is not an integer", label, number, "movieId")
        item = record["movieId"].strip()
        row = _movie(item, record["title"], _genres(record["genres"]), links.get(item))
        rows.append(row | {"_line": number})
    return _unique_items(rows, label)


def _links(src: Source) -> dict[str, dict[str, Any]]:
    member = src.find("links.csv")
    if member is None:
        return {}
    reader = csv.DictReader(io.StringIO(decode_text(src.read_bytes(member)), newline=""))
    return {
        r["movieId"].strip(): {"imdb_id": r.get("imdbId") or None, "tmdb_id": r.get("tmdbId") or None}
        for r in reader
        if r.get("movieId")
    }


def _unique_items(rows: list[dict[str, Any]], label: str) -> pd.DataFrame:
    """The item frame; rows carry their line number under "_line" to report duplicates."""
    seen: dict[str, int] = {}
    for row in rows:
        number = row.pop("_line")
        if row["item_id"] in seen:
            raise DataFormatError(
                f"duplicate movie id {row['item_id']!r} (first on line {seen[row['item_id']]})",
                label,
                number,
                "movie id",
            )
        seen[row["item_id"]] = number
    return pd.DataFrame(rows, columns=["item_id", "title", "categories", "attributes"])


# ---- users ----------------------------------------------------------------------------
def _users(
    src: Source, filename: str, delimiter: str, fields: tuple[str, ...], int_fields: tuple[int, ...]
) -> pd.DataFrame | None:
    member = src.find(filename)
    if member is None:
        return None
    label = src.label(member)
    rows = []
    seen: dict[str, int] = {}
    for number, line in enumerate(decode_text(src.read_bytes(member)).splitlines(), start=1):
        parts = line.split(delimiter)
        if len(parts) != len(fields) + 1:
            raise DataFormatError(
                f"expected {len(fields) + 1} {delimiter!r}-separated fields, got {len(parts)}",
                label,
                number,
            )
        if not re.match(_INT_RE, parts[0]):
            raise DataFormatError(f"{parts[0]!r} is not an integer", label, number, "user id")
        user = parts[0].strip()
        if user in seen:
            message = f"duplicate user id {user!r} (first on line {seen[user]})"
            raise DataFormatError(message, label, number, "user id")
        seen[user] = number
        attrs: dict[str, Any] = {}
        for i, (field, value) in enumerate(zip(fields, parts[1:])):
            if i in int_fields:
                if not re.match(_INT_RE, value) or len(value.strip()) > 18:
                    raise DataFormatError(
                        f"{value[:40]!r} is not an integer of at most 18 digits", label, number, field
                    )
                attrs[field] = int(value)
            else:
                attrs[field] = value
        rows.append({"user_id": user, "attributes": attrs})
    return pd.DataFrame(rows, columns=["user_id", "attributes"])
