"""benchmarks/common.py: benchmark datasets load from a data folder, side files included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import common


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny shared-datasets folder laid out like ../shared/datasets (Beauty files only)."""
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    root = tmp_path / "datasets"
    beauty = root / "amazon-beauty-2014"
    for sub in ("s3rec", "derived", "gamer"):
        (beauty / sub).mkdir(parents=True)
    (beauty / "s3rec" / "Beauty.txt").write_text("1 1 2 3\n2 2 3\n3 3 1 2\n")
    (beauty / "s3rec" / "Beauty_item2attributes.json").write_text(json.dumps({"1": [1], "2": [2], "3": [1, 2]}))
    items = [
        {"item_id": i, "title": t, "brand": "B", "price": 5.0, "categories": [["Beauty", "Nails"]]}
        for i, t in ((1, "Red Polish"), (2, "Top Coat"), (3, "Nail File"))
    ]
    (beauty / "derived" / "Beauty_items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    gamer = {
        "0": {"title": "Red Polish", "description": "A bright red lacquer."},
        "1": {"title": "Top Coat", "description": "Seals and shines."},
        "2": {"title": "Nail File", "description": ""},
    }
    (beauty / "gamer" / "Beauty.item.json").write_text(json.dumps(gamer))
    monkeypatch.setattr(common, "DATA_ROOT", root)
    return root


def test_beauty_with_descriptions_joins_them(data_root: Path) -> None:
    plain = common.load_benchmark_dataset("amazon-beauty")
    desc = common.load_benchmark_dataset("amazon-beauty-desc")
    assert (desc.n_users, desc.n_items, desc.n_interactions) == (plain.n_users, plain.n_items, plain.n_interactions)
    by_title = dict(zip(desc.items["title"], desc.items["description"]))
    assert by_title == {"Red Polish": "A bright red lacquer.", "Top Coat": "Seals and shines.", "Nail File": ""}
    assert "description" not in plain.items.columns or set(plain.items["description"].fillna("")) == {""}
    assert common.model_settings("amazon-beauty-desc", "sasrec") == common.model_settings("amazon-beauty", "sasrec")
    assert common.model_settings("amazon-beauty", "tiger").settings == {"valid_users": 5000, "progress": False}
    assert common.model_settings("ml-1m", "itemknn").grid == {
        "recency_decay": [1.0, 0.8, 0.6, 0.4],
        "neighbors": [100, 400],
    }
    assert common.model_settings("ml-1m", "tiger").settings == {}


def test_a_missing_side_file_is_named(data_root: Path) -> None:
    (data_root / "amazon-beauty-2014" / "gamer" / "Beauty.item.json").unlink()
    with pytest.raises(SystemExit, match=r"amazon-beauty-desc: side file\(s\) not found: .*gamer/Beauty\.item\.json"):
        common.load_benchmark_dataset("amazon-beauty-desc")


def test_lastfm_loads_without_item_text(data_root: Path) -> None:
    lastfm = data_root / "lastfm-s3rec" / "s3rec"
    lastfm.mkdir(parents=True)
    (lastfm / "LastFM.txt").write_text("1 1 2 3\n2 2 3 1\n")
    (lastfm / "LastFM_item2attributes.json").write_text(json.dumps({"1": [4, 5], "2": [5], "3": [6]}))
    from genrec.encoders import has_item_text

    ds = common.load_benchmark_dataset("lastfm")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 6)
    assert not has_item_text(ds)  # tag ids only: tiger must quantise collaborative vectors
