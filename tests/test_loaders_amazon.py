"""Amazon reviews 2014 (Python-literal metadata) and 2018 (JSON metadata), plain and gzipped."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from genrec.data.dataset import EVENT_CODE
from genrec.data.errors import DataFormatError
from genrec.data.loaders import load_amazon


def review(user: str, asin: str, overall: float, ts: int, **extra: object) -> str:
    return json.dumps({"reviewerID": user, "asin": asin, "overall": overall, "unixReviewTime": ts, **extra})


def write(path: Path, lines: list[str], gz: bool = False) -> Path:
    """Write lines to ``path`` (gzipped when asked)."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# u1..u3 each review a, b; u1 also reviews c (c has one review only).
REVIEWS = [
    review("u1", "a", 5.0, 300),
    review("u1", "b", 4.0, 100),
    review("u1", "c", 1.0, 200),
    review("u2", "a", 3.0, 100),
    review("u2", "b", 2.0, 200),
    review("u3", "b", 5.0, 150),
    review("u3", "a", 4.0, 160),
]
META_2014 = [
    repr(
        {
            "asin": "a",
            "title": "Nail &amp; Polish",
            "price": 12.5,
            "salesRank": {"Beauty": 3},
            "categories": [["Beauty", "Nails"], ["Beauty", "Makeup"]],
            "related": {"also_bought": ["b"]},
            "description": "Shiny",
        }
    ),
    repr({"asin": "b", "title": "Brush", "brand": "Acme"}),
    repr({"asin": "z", "title": "Nobody reviewed me"}),
]
META_2018 = [
    json.dumps(
        {
            "asin": "a",
            "title": "Lamp",
            "category": ["Home", "Lighting &amp; Fans"],
            "description": ["Bright", "Warm"],
            "price": "$12.99",
            "brand": "Lux",
            "main_cat": "Home",
            "also_buy": ["b"],
        }
    ),
    json.dumps({"asin": "b", "title": "Bulb", "category": [], "description": [], "price": "$5.99 - $12.99"}),
    json.dumps({"asin": "c", "title": "Odd", "price": ".a-box-inner{background-color:#fff;}"}),
    json.dumps({"asin": "a", "title": "A repeated line is ignored"}),
]


def test_2014_gzipped_with_kcore(tmp_path: Path) -> None:
    reviews = write(tmp_path / "reviews_Beauty_5.json.gz", REVIEWS, gz=True)
    meta = write(tmp_path / "meta_Beauty.json.gz", META_2014, gz=True)
    ds = load_amazon(reviews, meta, kcore=2)
    assert ds.name == "amazon-Beauty_5-2core"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 2, 6)
    assert set(ds.interactions.event) == {EVENT_CODE["review"]}
    u1 = ds.sequences()[ds.user_index("u1")]
    assert list(ds.item_external(u1)) == ["b", "a"]  # ordered by unixReviewTime
    assert ds.has_timestamps and sorted(ds.interactions.timestamp.tolist())[:2] == [100, 100]
    a = ds.items.iloc[ds.item_index("a")]
    assert a["title"] == "Nail & Polish" and a["description"] == "Shiny"
    assert a["categories"] == ["Beauty", "Nails", "Makeup"] and a["price"] == 12.5
    assert a["attributes"] == {"salesRank": {"Beauty": 3}}
    assert ds.items.iloc[ds.item_index("b")]["brand"] == "Acme"


def test_2018_plain_without_kcore(tmp_path: Path) -> None:
    lines = [r[:-1] + ', "style": {"Color:": " Red"}, "verified": true}' for r in REVIEWS]
    reviews = write(tmp_path / "Home.json", lines)
    meta = write(tmp_path / "meta_Home.json", META_2018)
    ds = load_amazon(reviews, meta, kcore=0, name="home")
    assert (ds.name, ds.n_users, ds.n_items, ds.n_interactions) == ("home", 3, 3, 7)
    a = ds.items.iloc[ds.item_index("a")]
    assert (a["title"], a["description"], a["price"]) == ("Lamp", "Bright\nWarm", 12.99)
    assert a["categories"] == ["Home", "Lighting & Fans"]
    assert a["attributes"] == {"main_cat": "Home"}
    assert ds.items.iloc[ds.item_index("b")]["price"] == 5.99
    assert math.isnan(ds.items.iloc[ds.item_index("c")]["price"])
    assert sorted(ds.interactions.value.tolist()) == [1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 5.0]


def test_reviews_without_meta(tmp_path: Path) -> None:
    ds = load_amazon(write(tmp_path / "r.json", REVIEWS), kcore=1)
    assert ds.n_items == 3 and ds.items["title"].eq("").all()


@pytest.mark.parametrize(
    ("bad", "field", "match"),
    [
        ('{"reviewerID": "u9", "asin": "a", "overall": 5.0, "unixReviewTime": 1', None, "neither valid JSON"),
        (review("u9", "a", 5.0, 1)[:-1] + ', "unixReviewTime": "soon"}', "unixReviewTime", "non-integer"),
        (json.dumps({"reviewerID": "u9", "overall": 5.0, "unixReviewTime": 1}), "asin", "asin"),
        (review("u9", "a", 5.0, 1).replace("5.0", '"great"'), "overall", "non-numeric"),
        (json.dumps({"reviewerID": "", "asin": "a", "overall": 5.0, "unixReviewTime": 1}), "reviewerID", "reviewerID"),
        ("", None, "empty line"),
    ],
)
def test_bad_review_lines(tmp_path: Path, bad: str, field: str | None, match: str) -> None:
    reviews = write(tmp_path / "reviews.json.gz", REVIEWS[:3] + [bad] + REVIEWS[3:], gz=True)
    with pytest.raises(DataFormatError, match=match) as err:
        load_amazon(reviews)
    assert (err.value.path, err.value.line, err.value.field) == (str(reviews), 4, field)


@pytest.mark.parametrize(
    ("bad", "field", "match"),
    [
        ("{'asin': 'q', 'title': 'unterminated}", None, "neither valid JSON"),
        ("{'title': 'no asin'}", "asin", "asin"),
        ("['a', 'list']", None, "expected an object"),
    ],
)
def test_bad_meta_lines(tmp_path: Path, bad: str, field: str | None, match: str) -> None:
    reviews = write(tmp_path / "r.json", REVIEWS)
    meta = write(tmp_path / "meta.json", META_2014[:1] + [bad] + META_2014[1:])
    with pytest.raises(DataFormatError, match=match) as err:
        load_amazon(reviews, meta)
    assert (err.value.path, err.value.line, err.value.field) == (str(meta), 2, field)


def test_empty_reviews(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no reviews"):
        load_amazon(write(tmp_path / "r.json", []))
