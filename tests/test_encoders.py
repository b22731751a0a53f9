"""Text encoder: the bundled offline model, the on-disk embedding cache, item texts."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genrec.config import EncoderConfig
from genrec.data import Dataset
from genrec.encoders import EmbeddingCache, TextEncoder, encode_items, item_texts, load_sentence_model


class CountingModel:
    """Wraps a real SentenceTransformer and counts the texts it is asked to encode."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.texts: list[str] = []

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        self.texts.extend(texts)
        return self.model.encode(texts, **kwargs)

    def get_embedding_dimension(self) -> int:
        return self.model.get_embedding_dimension()


@pytest.fixture(scope="module")
def sentence_model() -> Any:
    return load_sentence_model()  # the bundled all-MiniLM-L6-v2, loaded once


def config(tmp_path: Path, **kw: Any) -> EncoderConfig:
    return EncoderConfig(cache_dir=str(tmp_path / "emb"), progress=False, batch_size=4, **kw)


def small_dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "title": ["Velvet Matte Lipstick", "Garden Hose 50ft", ""],
            "brand": ["Rouge", "", ""],
            "categories": [["Beauty", "Lips"], ["Garden"], []],
            "price": [12.5, np.nan, np.nan],
            "description": ["A long-lasting red.", "", ""],
            "attributes": [{"color": "red"}, {"length": "50ft"}, {}],
        }
    )
    return Dataset.from_sequences("tiny", {"u1": ["a", "b", "c"]}, items)


def test_default_model_gives_normalised_384_dim_vectors(sentence_model, tmp_path):
    enc = TextEncoder(config(tmp_path, cache=False), model=sentence_model)
    e = enc.encode(["red lipstick", "a crimson lip colour", "lawn mower engine"])
    assert e.shape == (3, 384) and e.dtype == np.float32 and enc.dim == 384
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3


def test_cache_is_hit_on_second_call(sentence_model, tmp_path):
    texts = ["red lipstick", "garden hose", "shampoo for dry hair", "red lipstick"]
    model = CountingModel(sentence_model)
    first = TextEncoder(config(tmp_path), model=model).encode(texts)
    assert sorted(model.texts) == sorted(set(texts))  # duplicates encoded once

    model.texts.clear()
    again = TextEncoder(config(tmp_path), model=model).encode(texts[::-1])  # a new encoder: from disk
    assert model.texts == [] and np.array_equal(again, first[::-1])

    mixed = TextEncoder(config(tmp_path), model=model).encode(["garden hose", "lawn mower"])
    assert model.texts == ["lawn mower"] and np.array_equal(mixed[0], first[1])

    other = TextEncoder(config(tmp_path, max_seq_length=8), model=model)  # another model identity
    other.encode(["garden hose"])
    assert model.texts == ["lawn mower", "garden hose"]


def test_cache_lives_under_genrec_home_and_survives_many_shards(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    cache = EmbeddingCache("some-model")
    assert cache.path.parent == tmp_path / "home" / "embeddings"
    for i in range(20):  # more shards than the compaction threshold
        cache.put([f"k{i}"], np.full((1, 3), i, dtype=np.float32))
    assert len(list(cache.path.glob("shard-*.npz"))) <= 16
    found, vecs = EmbeddingCache("some-model").get(["k3", "k19", "nope"])
    assert found.tolist() == [True, True, False]
    assert vecs[0].tolist() == [3, 3, 3] and vecs[1].tolist() == [19, 19, 19] and vecs[2] is None


def test_item_texts_honours_fields_and_template():
    ds = small_dataset()
    assert item_texts(ds) == [
        "Velvet Matte Lipstick; brand: Rouge; categories: Beauty > Lips; price: 12.50; "
        "description: A long-lasting red.",
        "Garden Hose 50ft; categories: Garden",
        "c",  # nothing to say: falls back to the item id
    ]
    by_fields = item_texts(ds, fields=("title", "color"))
    assert by_fields == ["Velvet Matte Lipstick; color: red", "Garden Hose 50ft", "c"]
    assert item_texts(ds, template="{brand} {title} ({color})")[:2] == [
        "Rouge Velvet Matte Lipstick (red)",
        "Garden Hose 50ft ()",
    ]
    with pytest.raises(ValueError, match="unknown item field"):
        item_texts(ds, fields=("title", "colour"))
    with pytest.raises(ValueError, match="unknown field"):
        item_texts(ds, template="{titel}")


def test_encode_items_uses_configured_texts_and_the_cache(sentence_model, tmp_path, monkeypatch):
    ds = small_dataset()
    cfg = config(tmp_path, template="{title} {color}")
    expected = TextEncoder(cfg, model=sentence_model).encode(item_texts(ds, template=cfg.template))

    def no_loading(*args: Any) -> None:
        raise AssertionError("the model was loaded although every text is cached")

    monkeypatch.setattr("genrec.encoders.text.load_sentence_model", no_loading)
    got = encode_items(ds, cfg)
    assert np.array_equal(got, expected) and got.shape == (3, 384)
