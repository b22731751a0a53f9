"""Generic CSV / TSV / Parquet / JSON-lines tables with a column mapping."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from genrec.data.dataset import EVENT_CODE
from genrec.data.errors import DataFormatError
from genrec.data.loaders import load_table

EVENTS_CSV = "uid,sku,ts,kind,amount\nu1,i1,100,view,\nu1,i2,300,Purchase,19.5\nu2,i1,200,click,\nu1,i3,200,cart,2\n"
ITEMS_CSV = (
    "sku,name,cost,tags,colour\n"
    'i1,"Red, shirt",12.5,top|cotton,red\n'
    'i2,Jeans,,"[""denim"", ""blue""]",\n'
    "i3,Socks,3,,white\n"
    "i9,Hat,5,,black\n"
)
MAPPING = {"title": "name", "price": "cost", "categories": "tags"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_items(tmp_path: Path) -> None:
    events = write(tmp_path / "events.csv", EVENTS_CSV)
    items = write(tmp_path / "items.csv", ITEMS_CSV)
    ds = load_table(
        events,
        user="uid",
        item="sku",
        timestamp="ts",
        event="kind",
        value="amount",
        items_path=items,
        item_columns=MAPPING,
    )
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 4)
    assert ds.name == "table-events"
    assert list(ds.item_external(ds.sequences()[ds.user_index("u1")])) == ["i1", "i3", "i2"]
    assert ds.stats().events == {"view": 1, "click": 1, "cart": 1, "purchase": 1}
    shirt = ds.items.iloc[ds.item_index("i1")]
    assert (shirt["title"], shirt["price"], shirt["categories"]) == ("Red, shirt", 12.5, ["top", "cotton"])
    assert shirt["attributes"] == {"colour": "red"}
    jeans = ds.items.iloc[ds.item_index("i2")]
    assert jeans["categories"] == ["denim", "blue"] and math.isnan(jeans["price"]) and jeans["attributes"] == {}
    purchase = ds.interactions.event == EVENT_CODE["purchase"]
    assert ds.interactions.value[purchase].tolist() == [19.5]


def test_keep_all_items(tmp_path: Path) -> None:
    events = write(tmp_path / "events.csv", EVENTS_CSV)
    items = write(tmp_path / "items.csv", ITEMS_CSV)
    ds = load_table(events, user="uid", item="sku", items_path=items, item_columns=MAPPING, keep_all_items=True)
    assert ds.n_items == 4 and not ds.has_timestamps


def test_parquet_with_datetimes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2],
            "item_id": [10, 11, 10],
            "when": pd.to_datetime(["2024-01-01 00:00:10", "2024-01-01 00:00:00", "2024-01-02 00:00:00"], utc=True),
        }
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    ds = load_table(path, timestamp="when")
    assert list(ds.item_external(ds.sequences()[ds.user_index("1")])) == ["11", "10"]
    assert sorted(ds.interactions.timestamp.tolist()) == [1704067200, 1704067210, 1704153600]


def test_jsonl_gzipped_iso_dates_and_auto_item_columns(tmp_path: Path) -> None:
    rows = [
        {"user_id": "a", "item_id": 1, "t": "2024-01-02T00:00:00Z"},
        {"user_id": "a", "item_id": 2, "t": "2024-01-01T00:00:00Z"},
    ]
    path = tmp_path / "log.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    items = write(
        tmp_path / "items.jsonl",
        json.dumps({"item_id": 1, "title": "One", "categories": ["x"], "extra": {"k": 1}}) + "\n",
    )
    ds = load_table(path, timestamp="t", items_path=items)
    assert list(ds.item_external(ds.sequences()[0])) == ["2", "1"]
    one = ds.items.iloc[ds.item_index("1")]
    assert (one["title"], one["categories"], one["attributes"]) == ("One", ["x"], {"extra": {"k": 1}})


def test_jsonl_with_mixed_types_falls_back(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", '{"user_id": "a", "item_id": 1}\n\n{"user_id": "b", "item_id": "x1"}\n')
    ds = load_table(path)
    assert sorted(ds.items["item_id"]) == ["1", "x1"]


@pytest.mark.parametrize(
    ("text", "options", "line", "field", "match"),
    [
        (EVENTS_CSV + "u3,i1,soon,view,\n", {"timestamp": "ts"}, 6, "ts", "non-integer timestamp"),
        (EVENTS_CSV + "u3,i1,1.5,view,\n", {"timestamp": "ts"}, 6, "ts", "non-integer timestamp"),
        (EVENTS_CSV + "u3,i1,,view,\n", {"timestamp": "ts"}, 6, "ts", "missing timestamp"),
        (EVENTS_CSV + "u3,i1,5,teleport,\n", {"event": "kind"}, 6, "kind", "unknown event type 'teleport'"),
        (EVENTS_CSV + "u3,i1,5,view,lots\n", {"value": "amount"}, 6, "amount", "non-numeric value"),
        (EVENTS_CSV + ",i1,5,view,\n", {}, 6, "uid", "missing id"),
        (EVENTS_CSV + "u3,i1,5\n", {}, 6, None, "expected 5 fields"),
        (EVENTS_CSV, {"timestamp": "time"}, 1, "time", "missing column"),
        ('uid,sku,ts,kind,amount\nu1,i1,100,view,"a\nb"\nu2,i2,x,view,\n', {"timestamp": "ts"}, 4, "ts", "non-integer"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, options: dict, line: int, field: str | None, match: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DataFormatError, match=match) as err:
        load_table(path, user="uid", item="sku", **options)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)


@pytest.mark.parametrize(
    ("text", "line", "field", "match"),
    [
        (ITEMS_CSV + "i7,Cap,free,,\n", 6, "cost", "non-numeric price"),
        (ITEMS_CSV + "i3,Again,1,,\n", 6, "sku", "duplicate item id"),
        (ITEMS_CSV + 'i7,Cap,1,"[""a"", ",\n', 6, "tags", "not a list"),
        (ITEMS_CSV.replace("cost", "price_usd"), 1, "cost", "missing column"),
    ],
)
def test_bad_item_table(tmp_path: Path, text: str, line: int, field: str, match: str) -> None:
    events = write(tmp_path / "events.csv", EVENTS_CSV)
    items = write(tmp_path / "items.csv", text)
    with pytest.raises(DataFormatError, match=match) as err:
        load_table(events, user="uid", item="sku", items_path=items, item_columns=MAPPING)
    assert (err.value.path, err.value.line, err.value.field) == (str(items), line, field)


def test_bad_jsonl_line(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", '{"user_id": "a", "item_id": 1}\n{"user_id": "b", "item_id": \n')
    with pytest.raises(DataFormatError, match="invalid JSON") as err:
        load_table(path)
    assert (err.value.path, err.value.line) == (str(path), 2)


def test_parquet_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pd.DataFrame({"user_id": ["a", None, "c"], "item_id": ["1", "2", "3"]}).to_parquet(path)
    with pytest.raises(DataFormatError, match="missing id") as err:
        load_table(path)
    assert (err.value.line, err.value.field) == (2, "user_id")


def test_unknown_format_and_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown table format"):
        load_table(write(tmp_path / "log.xlsx", ""))
    events = write(tmp_path / "events.csv", EVENTS_CSV)
    with pytest.raises(ValueError, match="unknown item field"):
        load_table(events, user="uid", item="sku", items_path=events, item_columns={"colour": "kind"})
