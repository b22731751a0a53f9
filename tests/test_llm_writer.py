"""The LLM item writer: real SmolLM2 rewrites and creations, plus its parsing and pricing rules."""

from pathlib import Path

import pytest

from genrec.config import LLMConfig
from genrec.generation.intent import Constraints
from genrec.generation.llm_writer import LLMWriter, WriterConfig, choose_price, fit_description, parse_listing
from genrec.llm.registry import create_backend

SOURCE = {
    "item_id": "i1",
    "title": "Marsen Aromatic Bergamot Loose Leaf Green Tea, 100 g",
    "description": "Marsen designed this aromatic green tea for iced tea. It is flavoured with bergamot and grown "
    "in China, with a warming finish.",
    "brand": "Marsen",
    "categories": ["tea", "loose leaf green tea"],
    "price": 16.27,
}
LIKED = [
    {
        "item_id": "i2",
        "title": "Osta Smooth Colombia Whole Bean Coffee, 1 kg",
        "brand": "Osta",
        "description": "A smooth coffee for the morning cup.",
        "categories": ["coffee"],
        "price": 38.58,
    },
    {
        "item_id": "i3",
        "title": "Corix Jasmine Green Tea Bags, 40 bags",
        "brand": "Corix",
        "description": "Jasmine-scented green tea in bags, for calm evenings.",
        "categories": ["tea"],
        "price": 6.5,
    },
    {
        "item_id": "i4",
        "title": "Ulmio Fair-trade Kenya Whole Bean Coffee, 1 kg",
        "brand": "Ulmio",
        "description": "Fair-trade coffee with notes of blueberry.",
        "categories": ["coffee"],
        "price": 53.25,
    },
]


def shared_cache(factory: pytest.TempPathFactory) -> Path:
    """One converted-model cache per pytest session, shared by the LLM test files."""
    return factory.getbasetemp() / "genrec-llm-cache"


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> LLMWriter:
    backend = create_backend(LLMConfig(cache_dir=str(shared_cache(tmp_path_factory)), threads=1))
    return LLMWriter(backend, WriterConfig(max_new_tokens=32, max_title_chars=90))


@pytest.mark.slow
def test_rewrite_keeps_brand_facts_and_returns_parsed_fields(writer: LLMWriter) -> None:
    [out] = writer.rewrite(SOURCE, LIKED, "make it suitable for cold evenings", n=1, temperature=0.0)
    assert out["title"] and "Marsen" in out["title"] and len(out["title"]) <= 90
    assert "100 g" in out["title"] + " " + out["description"] or "100g" in out["title"] + out["description"]
    assert "Title:" not in out["title"] and "Description:" not in out["description"]
    assert (out["brand"], out["categories"], out["price"]) == ("Marsen", SOURCE["categories"], 16.27)
    assert out["seconds"] > 0 and out["token_ids"] and out["raw"]


@pytest.mark.slow
def test_rewrite_follows_constraints_that_change_brand_and_price(writer: LLMWriter) -> None:
    cons = Constraints(brands=["Kelda"], price_max=10.0)
    [out] = writer.rewrite(
        SOURCE, LIKED, "same tea from another brand, cheaper", temperature=0.7, seed=1, constraints=cons
    )
    assert out["brand"] == "Kelda" and out["price"] == 10.0
    assert out["title"].startswith("Kelda") or "Kelda" in out["title"]
    assert "marsen" not in (out["title"] + out["description"]).lower()


@pytest.mark.slow
def test_create_respects_price_constraints_and_is_seeded(writer: LLMWriter) -> None:
    cons = Constraints(categories=["tea"], price_min=8.0, price_max=12.0)
    first = writer.create(LIKED, "a calming tea gift", cons, n=1, temperature=0.8, seed=7)
    again = writer.create(LIKED, "a calming tea gift", cons, n=1, temperature=0.8, seed=7)
    out = first[0]
    assert out["title"] == again[0]["title"] and out["token_ids"] == again[0]["token_ids"]
    assert 8.0 <= out["price"] <= 12.0
    assert out["categories"] == ["tea"] and out["brand"] is None  # no brand unless asked
    for brand in ("Osta", "Corix", "Ulmio"):  # it must not pass itself off as a liked item's brand
        assert brand.lower() not in (out["title"] + out["description"]).lower()


def test_parse_listing_is_lenient() -> None:
    assert parse_listing("Title: **Green Tea**\nDescription: Calm.\nMore calm.") == ("Green Tea", "Calm. More calm.")
    assert parse_listing("Title: Green Tea\nA calm tea.") == ("Green Tea", "A calm tea.")
    assert parse_listing("Title: A\nDescription: one\nTitle: B\nDescription: two") == ("A", "one")
    assert parse_listing("Title: A\nPrice: $4\nDescription: x") == ("A", "x")
    assert parse_listing("") == ("", "")


def test_choose_price_uses_liked_prices_within_bounds() -> None:
    assert choose_price(LIKED, Constraints()) == 38.58  # median of all liked
    assert choose_price(LIKED, Constraints(), ["coffee"]) == pytest.approx((38.58 + 53.25) / 2, abs=0.01)
    assert choose_price(LIKED, Constraints(price_max=20.0)) == 20.0
    assert choose_price(LIKED, Constraints(price_min=60.0)) == 60.0
    assert choose_price([], Constraints(price_min=10.0, price_max=20.0)) == 15.0
    assert choose_price([], Constraints()) is None
    with pytest.raises(ValueError, match="price_min"):
        choose_price(LIKED, Constraints(price_min=30.0, price_max=10.0))


def test_bad_input_is_rejected(writer: LLMWriter) -> None:
    with pytest.raises(ValueError, match="title"):
        writer.rewrite({"title": " "}, LIKED, "anything")
    with pytest.raises(ValueError, match="n must be"):
        writer.create(LIKED, "anything", n=0)


def test_descriptions_are_cut_to_whole_sentences() -> None:
    long = "Calm tea. " * 60 + "An unfinished"
    assert fit_description(long, 100).endswith("Calm tea.") and len(fit_description(long, 100)) <= 100
    assert fit_description("Calm tea. An unfinished", 400) == "Calm tea."
    assert fit_description("Only a fragment", 400) == "Only a fragment"
