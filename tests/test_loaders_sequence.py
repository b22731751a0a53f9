"""The S3Rec / TIGER / P5 sequence loader and its side files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genrec.data.errors import DataFormatError
from genrec.data.loaders import load_sequence_text

SEQUENCES = "u1 1 2 3\nu2 3 4\nu3 2 5 1 4\n"
ITEM_TEXTS = [
    {
        "item_id": 1,
        "asin": "A1",
        "title": "Soap &amp; Co",
        "brand": "Dr. Scholl&#39;s",
        "price": 12.5,
        "sales_rank": 10.0,
        "categories": [["Beauty", "Bath"], ["Beauty", "Skin"]],
        "s3rec_attributes": ["Bath"],
    },
    {"item_id": 2, "title": "Shampoo", "brand": "", "price": None, "categories": [["Beauty", "Hair"]]},
    {"item_id": 3, "title": "Lotion", "price": "7"},
    {"item_id": 99, "title": "Never seen"},
]


def write(path: Path, text: str | bytes) -> Path:
    """Write a test file and return its path."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def seq_file(tmp_path: Path) -> Path:
    return write(tmp_path / "Beauty.txt", SEQUENCES)


def test_sequences_with_item_texts_and_attributes(tmp_path: Path, seq_file: Path) -> None:
    texts = write(tmp_path / "items.jsonl", jsonl(ITEM_TEXTS))
    attrs = write(tmp_path / "Beauty_item2attributes.json", json.dumps({"1": [1, 2], "4": [3], "77": [9]}))
    ds = load_sequence_text(seq_file, item_attributes=attrs, item_texts=texts, name="beauty")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 5, 9)
    assert not ds.has_timestamps
    seq = [list(ds.item_external(s)) for s in ds.sequences()]
    assert seq == [["1", "2", "3"], ["3", "4"], ["2", "5", "1", "4"]]
    one = ds.items.iloc[ds.item_index("1")]
    assert one["title"] == "Soap & Co" and one["brand"] == "Dr. Scholl's"
    assert one["categories"] == ["Beauty", "Bath", "Skin"]
    assert one["price"] == 12.5
    assert one["attributes"] == {
        "asin": "A1",
        "sales_rank": 10.0,
        "s3rec_attributes": ["Bath"],
        "attribute_ids": [1, 2],
    }
    assert math.isnan(ds.items.iloc[ds.item_index("2")]["price"])
    assert ds.items.iloc[ds.item_index("3")]["price"] == 7.0
    four = ds.items.iloc[ds.item_index("4")]  # no text, only attribute ids
    assert four["title"] == "" and four["attributes"] == {"attribute_ids": [3]}
    five = ds.items.iloc[ds.item_index("5")]  # in no side file at all
    assert five["title"] == "" and five["attributes"] == {}
    with pytest.raises(KeyError):
        ds.item_index("99")


def test_sequences_with_movies_dat(tmp_path: Path) -> None:
    seqs = write(tmp_path / "ml.txt", "1 10 20\n2 20\n")
    movies = write(
        tmp_path / "movies.dat",
        "10::Toy Story (1995)::Animation|Children's|Comedy\n20::Caf\xe9 Society (2016)::Drama\n30::X (1990)::Drama\n".encode(
            "latin-1"
        ),
    )
    ds = load_sequence_text(seqs, movies=movies)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    toy = ds.items.iloc[ds.item_index("10")]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["categories"] == ["Animation", "Children's", "Comedy"]
    assert toy["attributes"] == {"year": 1995}
    assert ds.items.iloc[ds.item_index("20")]["title"] == "Café Society (2016)"


def test_trailing_blank_lines_are_fine(tmp_path: Path) -> None:
    ds = load_sequence_text(write(tmp_path / "s.txt", "a 1 2\nb 2\n\n\n"))
    assert ds.n_interactions == 3


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("u1 1 2\nu2\nu3 4\n", 2, "items"),  # a user with no items
        ("u1 1 2\n\nu3 4\n", 2, "user"),  # an empty line inside the file
        ("u1 1 2\nu2 3\nu1 4\n", 3, "user"),  # a user twice
    ],
)
def test_bad_sequence_lines(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFormatError) as err:
        load_sequence_text(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value)


def test_empty_sequence_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no sequences"):
        load_sequence_text(write(tmp_path / "empty.txt", "\n"))


@pytest.mark.parametrize(
    ("rows", "line", "field", "match"),
    [
        ('{"item_id": 1, "title": "a"}\n{"item_id": 2, "title": \n', 2, None, "invalid JSON"),
        ('{"item_id": 1, "price": "cheap"}\n', 1, "price", "non-numeric price"),
        ('{"item_id": 1}\n{"title": "no id"}\n', 2, "item_id", "item_id"),
        ('{"item_id": 1}\n{"item_id": 1}\n', 2, "item_id", "duplicate"),
        ('{"item_id": 1}\n[1, 2]\n', 2, None, "expected an object"),
    ],
)
def test_bad_item_texts(tmp_path: Path, seq_file: Path, rows: str, line: int, field: str | None, match: str) -> None:
    texts = write(tmp_path / "items.jsonl", rows)
    with pytest.raises(DataFormatError, match=match) as err:
        load_sequence_text(seq_file, item_texts=texts)
    assert (err.value.path, err.value.line, err.value.field) == (str(texts), line, field)


def test_bad_item2attributes(tmp_path: Path, seq_file: Path) -> None:
    attrs = write(tmp_path / "a.json", '{\n"1": [1, 2],\n"2": [3, "x"]\n}\n')
    with pytest.raises(DataFormatError) as err:
        load_sequence_text(seq_file, item_attributes=attrs)
    assert (err.value.path, err.value.line, err.value.field) == (str(attrs), 3, "attribute_ids")
    broken = write(tmp_path / "b.json", '{\n"1": [1, 2],\n"2": [3\n}\n')
    with pytest.raises(DataFormatError, match="invalid JSON") as err:
        load_sequence_text(seq_file, item_attributes=broken)
    assert err.value.line == 4


def test_bad_movies_dat(tmp_path: Path, seq_file: Path) -> None:
    movies = write(tmp_path / "movies.dat", "1::A (1990)::Drama\nx::B (1991)::Drama\n")
    with pytest.raises(DataFormatError) as err:
        load_sequence_text(seq_file, movies=movies)
    assert (err.value.line, err.value.field) == (2, "MovieID")


def test_item_texts_and_movies_are_exclusive(tmp_path: Path, seq_file: Path) -> None:
    with pytest.raises(ValueError, match="either"):
        load_sequence_text(seq_file, item_texts=seq_file, movies=seq_file)


ITEM_JSON = {  # GAMER / MiniOneRec ``*.item.json``: keys are sequence id - 1 here
    "0": {"title": "Soap & Co", "description": "A mild bar soap &amp; more."},
    "1": {"title": "shampoo ", "description": ""},
    "2": {"title": "Lotion", "description": "Rich body lotion"},
    "4": {"title": "Comb", "description": "A wide-tooth comb"},
}


def test_descriptions_join_by_offset_key(tmp_path: Path, seq_file: Path) -> None:
    texts = write(tmp_path / "items.jsonl", jsonl(ITEM_TEXTS))
    descs = write(tmp_path / "Beauty.item.json", json.dumps(ITEM_JSON))
    ds = load_sequence_text(seq_file, item_texts=texts, item_descriptions=descs, descriptions_key_offset=1)
    row = {str(i): ds.items.iloc[ds.item_index(str(i))] for i in (1, 2, 3, 5)}
    assert row["1"]["description"] == "A mild bar soap & more."
    assert row["1"]["brand"] == "Dr. Scholl's" and row["1"]["price"] == 12.5  # the item text stays
    assert row["2"]["description"] == ""  # an empty description leaves the item as it was
    assert row["3"]["description"] == "Rich body lotion"
    assert row["5"]["title"] == "Comb" and row["5"]["description"] == "A wide-tooth comb"  # only in the JSON


def test_descriptions_with_a_wrong_offset_name_the_file(tmp_path: Path, seq_file: Path) -> None:
    texts = write(tmp_path / "items.jsonl", jsonl(ITEM_TEXTS))
    descs = write(tmp_path / "Beauty.item.json", json.dumps(ITEM_JSON))
    with pytest.raises(DataFormatError, match=r"Beauty\.item\.json.*0 of 2 items.*descriptions_key_offset=0"):
        load_sequence_text(seq_file, item_texts=texts, item_descriptions=descs)


def test_descriptions_with_an_offset_need_integer_keys(tmp_path: Path, seq_file: Path) -> None:
    descs = write(tmp_path / "Beauty.item.json", json.dumps({"0": {"title": "a"}, "x7": {"title": "b"}}, indent=1))
    with pytest.raises(DataFormatError, match=r"Beauty\.item\.json.*line 5.*'x7' is not an integer"):
        load_sequence_text(seq_file, item_descriptions=descs, descriptions_key_offset=1)
