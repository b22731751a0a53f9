"""MiniOneRec CSV samples (history -> next item) and *.item.json texts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from genrec.data.errors import DataFormatError
from genrec.data.loaders import load_minionerec

COLUMNS = ["user_id", "history_item_title", "item_title", "history_item_id", "item_id", "history_item_sid", "item_sid"]
TITLES = {"1": "Drill", "2": 'Saw, 10" blade', "3": "Glue\nextra strong", "4": "Tape", "5": "Hammer"}


def sample(user: str, history: list[int], target: int) -> list[str]:
    """One CSV row in MiniOneRec's layout (lists written as Python literals)."""
    return [
        user,
        str([TITLES[str(h)] for h in history]),
        TITLES[str(target)],
        str(history),
        str(target),
        str([f"<a_{h}><b_0>" for h in history]),
        f"<a_{target}><b_0>",
    ]


def write_csv(path: Path, rows: list[list[str]], columns: list[str] = COLUMNS) -> Path:
    """Write a CSV with the csv module (quoting as MiniOneRec's converter does)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


@pytest.fixture
def splits(tmp_path: Path) -> list[Path]:
    train = write_csv(tmp_path / "train.csv", [sample("A1", [1], 2), sample("A1", [1, 2], 3), sample("A2", [], 4)])
    valid = write_csv(tmp_path / "valid.csv", [sample("A1", [1, 2, 3], 4), sample("A2", [4], 5)])
    test = write_csv(tmp_path / "test.csv", [sample("A1", [1, 2, 3, 4], 5), sample("A2", [4], 5)])
    return [train, valid, test]


def test_rebuilds_longest_sequences(tmp_path: Path, splits: list[Path]) -> None:
    item_json = tmp_path / "Tools.item.json"
    item_json.write_text(
        json.dumps(
            {
                "1": {"title": "Cordless Drill &amp; Bits", "description": ["18V", "two batteries"], "brand": "Bosch"},
                "4": {"title": "Tape", "description": "Duct tape", "price": "$3.50", "rating": 4.5},
                "9": {"title": "Unused"},
            }
        ),
        encoding="utf-8",
    )
    ds = load_minionerec(splits, item_json=item_json)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 5, 7)
    assert [list(ds.item_external(s)) for s in ds.sequences()] == [["1", "2", "3", "4", "5"], ["4", "5"]]
    drill = ds.items.iloc[ds.item_index("1")]
    assert drill["title"] == "Cordless Drill & Bits" and drill["description"] == "18V\ntwo batteries"
    assert drill["brand"] == "Bosch" and drill["attributes"] == {"sid": "<a_1><b_0>"}
    tape = ds.items.iloc[ds.item_index("4")]
    assert tape["price"] == 3.5 and tape["attributes"] == {"rating": 4.5, "sid": "<a_4><b_0>"}
    assert ds.items.iloc[ds.item_index("2")]["title"] == 'Saw, 10" blade'  # from the CSV
    assert ds.items.iloc[ds.item_index("3")]["title"] == "Glue\nextra strong"


def test_equal_length_windows_keep_the_latest(tmp_path: Path) -> None:
    valid = write_csv(tmp_path / "valid.csv", [sample("A1", [1, 2], 3)])
    test = write_csv(tmp_path / "test.csv", [sample("A1", [2, 3], 4)])  # history truncated to 2
    ds = load_minionerec([valid, test])
    assert list(ds.item_external(ds.sequences()[0])) == ["2", "3", "4"]


def test_directory_input(tmp_path: Path, splits: list[Path]) -> None:
    ds = load_minionerec(tmp_path, name="tools")
    assert (ds.name, ds.n_users, ds.n_interactions) == ("tools", 2, 7)


def test_minimal_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", [["u", "[10, 11]", "12"]], ["user_id", "history_item_id", "item_id"])
    ds = load_minionerec(path)
    assert list(ds.item_external(ds.sequences()[0])) == ["10", "11", "12"]


@pytest.mark.parametrize(
    ("rows", "columns", "line", "field", "match"),
    [
        ([["u", "[1]", "2"]], ["user_id", "history", "item_id"], 1, "history_item_id", "missing column"),
        (
            [["u", "[1]", "2"], ["u", "[1, 2", "3"]],
            ["user_id", "history_item_id", "item_id"],
            3,
            "history_item_id",
            "not a list",
        ),
        (
            [["u", "[1]", "2"], ["u", "{'a': 1}", "3"]],
            ["user_id", "history_item_id", "item_id"],
            3,
            "history_item_id",
            "expected a list",
        ),
        (
            [["u", "[1]", "2"], ["", "[1]", "3"]],
            ["user_id", "history_item_id", "item_id"],
            3,
            "user_id",
            "empty user_id",
        ),
        ([["u", "[1]", "2"], ["u", "[1]"]], ["user_id", "history_item_id", "item_id"], 3, None, "ragged"),
        (
            [["u", "[1]", "2"], ["u", "[[1]]", "3"]],
            ["user_id", "history_item_id", "item_id"],
            3,
            "history_item_id",
            "not a string",
        ),
    ],
)
def test_bad_csv(tmp_path: Path, rows: list, columns: list[str], line: int, field: str | None, match: str) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, columns)
    with pytest.raises(DataFormatError, match=match) as err:
        load_minionerec(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)


def test_line_numbers_count_multiline_records(tmp_path: Path) -> None:
    rows = [sample("A1", [1], 3), ["A2", "['x'", "t", "[1]", "2", "[]", ""]]  # row 1 spans two lines
    path = write_csv(tmp_path / "m.csv", rows)
    with pytest.raises(DataFormatError) as err:
        load_minionerec(path)
    assert (err.value.line, err.value.field) == (4, "history_item_title")


def test_bad_item_json(tmp_path: Path, splits: list[Path]) -> None:
    item_json = tmp_path / "x.item.json"
    item_json.write_text('{\n  "1": {"title": "a"},\n  "2": "just a string"\n}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="expected an object") as err:
        load_minionerec(splits, item_json=item_json)
    assert (err.value.path, err.value.line, err.value.field) == (str(item_json), 3, "item")
    item_json.write_text('{\n  "1": {"title": "a"},\n  "2": {"title": }\n}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="invalid JSON") as err:
        load_minionerec(splits, item_json=item_json)
    assert err.value.line == 3


def test_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_minionerec(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="no CSV files"):
        load_minionerec(tmp_path)
