"""Generation-quality metrics: Cosine@K, PS@K, Fréchet distance, novelty, fact keeping, the table."""

import math

import numpy as np
import pytest

from genrec.eval.generation_metrics import (
    cosine_at_k,
    extract_facts,
    fact_keeping,
    frechet_distance,
    generation_table,
    name_keeping,
    name_words,
    novelty,
    product_type_vocabulary,
    ps_at_k,
)

# ---- Cosine@K ---------------------------------------------------------------------------------


def test_cosine_at_k_averages_over_the_last_k_liked_items():
    gen = np.array([[1.0, 0.0], [0.0, 2.0]])
    hist = [np.array([[0.0, 1.0], [1.0, 0.0], [3.0, 3.0]]), np.array([[0.0, 5.0]])]
    got = cosine_at_k(gen, hist, k=2)
    # case 0: last two items [1,0] (cos 1) and [3,3] (cos 1/sqrt2); case 1: only one item (cos 1)
    assert got == pytest.approx([(1 + 1 / math.sqrt(2)) / 2, 1.0])
    assert cosine_at_k(gen[:1], hist[:1], k=10)[0] == pytest.approx((0 + 1 + 1 / math.sqrt(2)) / 3)


def test_cosine_at_k_rejects_bad_input():
    with pytest.raises(ValueError, match="histories\\[0\\]"):
        cosine_at_k(np.ones((1, 2)), [np.zeros((0, 2))], k=5)
    with pytest.raises(ValueError, match="2 histories"):
        cosine_at_k(np.ones((1, 2)), [np.ones((1, 2))] * 2, k=5)
    with pytest.raises(ValueError, match="all-zero"):
        cosine_at_k(np.zeros((1, 2)), [np.ones((1, 2))], k=5)
    with pytest.raises(ValueError, match="k must be"):
        cosine_at_k(np.ones((1, 2)), [np.ones((1, 2))], k=0)


# ---- PS@K -------------------------------------------------------------------------------------


def test_ps_is_the_catalog_percentile_with_half_ties():
    cat = np.array([[1.0, 2.0, 3.0, 0.0]])
    assert ps_at_k([2.0], cat)[0] == pytest.approx((2 + 0.5) / 4)
    assert ps_at_k([9.0], cat)[0] == 1.0 and ps_at_k([-9.0], cat)[0] == 0.0


def test_ps_at_k_compares_with_the_users_top_k_only():
    cat = np.array([[1.0, 2.0, 3.0, 0.0], [5.0, 4.0, np.nan, 1.0]])
    got = ps_at_k([2.0, 4.5], cat, k=2)
    # row 0: top-2 = {3, 2}: one tie -> 0.5/2; row 1 (NaN ignored): top-2 = {5, 4}: beats 4 -> 1/2
    assert got == pytest.approx([0.25, 0.5])
    assert ps_at_k([np.inf, 0.0], cat, k=3) == pytest.approx([1.0, 0.0])


def test_ps_at_k_errors_name_the_problem():
    with pytest.raises(ValueError, match="fewer than k=3"):
        ps_at_k([1.0], np.array([[1.0, np.nan, 2.0]]), k=3)
    with pytest.raises(ValueError, match="n_cases=2"):
        ps_at_k([1.0, 2.0], np.ones((3, 4)))
    with pytest.raises(ValueError, match="gen_scores"):
        ps_at_k([np.nan], np.ones((1, 4)))


# ---- Fréchet distance --------------------------------------------------------------------------


def test_frechet_of_the_same_samples_is_zero_and_of_a_shift_is_its_squared_norm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 4)) @ rng.normal(size=(4, 4))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5, 3.0])
    assert frechet_distance(x, x + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_of_two_samples_of_one_gaussian_is_near_zero():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20000, 3)), rng.normal(size=(20000, 3))
    assert frechet_distance(x, y) < 0.01
    assert frechet_distance(x, y * 2.0) > 2.5  # (2 - 1)^2 per dimension: about 3


def test_frechet_in_one_dimension_matches_the_closed_form():
    x, y = np.array([[0.0], [2.0], [4.0]]), np.array([[1.0], [2.0]])
    # (mu1 - mu2)^2 + (sd1 - sd2)^2 with sample (ddof=1) deviations: sd1 = 2, sd2 = sqrt(0.5)
    expected = (2.0 - 1.5) ** 2 + (2.0 - math.sqrt(0.5)) ** 2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)


def test_frechet_with_fewer_samples_than_dimensions_stays_finite():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 50))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-3)
    assert np.isfinite(frechet_distance(x, rng.normal(size=(12, 50))))


def test_frechet_rejects_too_few_samples_and_mismatched_dimensions():
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.ones((1, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="dimension"):
        frechet_distance(np.ones((4, 3)), np.ones((4, 2)))


# ---- novelty ----------------------------------------------------------------------------------


def test_novelty_is_one_minus_the_nearest_cosine():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0]])
    gen = np.array([[2.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])
    # [-1, -1] is nearest to both corpus items at cosine -1/sqrt2
    assert novelty(gen, corpus) == pytest.approx([0.0, 1 - 1 / math.sqrt(2), 1 + 1 / math.sqrt(2)])
    assert novelty(np.array([[-1.0, 0.0]]), corpus[:1])[0] == pytest.approx(2.0)
    assert novelty(gen, corpus, chunk=1) == pytest.approx(novelty(gen, corpus))


# ---- facts ------------------------------------------------------------------------------------

SOURCE = "Pellwick Stainless Steel Pour-over Dripper, 350 ml. Sold for $24.99 with a 2-year warranty."


def test_extract_facts_reads_brand_quantities_price_sizes_numbers_and_types():
    facts = extract_facts(SOURCE, brand="Pellwick", product_types=["pour-over dripper", "kettle"])
    assert facts == {
        "brand:pellwick",
        "qty:350 ml",
        "price:24.99",
        "qty:2 yr",
        "type:pour-over dripper",
    }
    other = extract_facts("Only USD 1,000.50 for 2-pack, 30-hour battery, Bluetooth 5.3, EU 42, size M, 1 litre")
    assert other == {"price:1000.50", "qty:2 pack", "qty:30 h", "num:5.3", "size:EU 42", "size:M", "qty:1 l"}
    assert extract_facts("Running Jacket with flatlock seams, S") == {"size:S"}
    assert extract_facts("A two-pack, model 3000, ten months") == {"qty:2 pack", "num:3000", "qty:10 mo"}


def test_fact_keeping_drops_when_a_number_changes_and_ignores_formatting():
    kept = "The Pellwick pour-over dripper (350ml) costs $24.99 and has a two-year warranty."
    assert fact_keeping(SOURCE, kept, brand="Pellwick") == 1.0
    changed = kept.replace("350ml", "500 ml")
    assert fact_keeping(SOURCE, changed, brand="Pellwick") == pytest.approx(3 / 4)
    no_brand = changed.replace("Pellwick", "Acme")
    assert fact_keeping(SOURCE, no_brand, brand="Pellwick") == pytest.approx(2 / 4)
    assert math.isnan(fact_keeping("A nice mug.", "A mug."))


def test_product_type_vocabulary_takes_category_leaves_longest_first():
    paths = [["coffee", "whole bean coffee"], ["tea", "Chai"], [], ["coffee", "whole bean coffee"]]
    vocab = product_type_vocabulary(paths)
    assert vocab == ["whole bean coffee", "chai"]


# ---- table ------------------------------------------------------------------------------------


def test_generation_table_renders_markdown_with_gaps():
    rows = [("personal", {"Cos@10": 0.61234, "FD": 1.0}), ("first", {"Cos@10": 0.5})]
    table = generation_table(rows, digits=3)
    assert table.splitlines() == [
        "| method | Cos@10 | FD |",
        "|---|---:|---:|",
        "| personal | 0.612 | 1.000 |",
        "| first | 0.500 | – |",
    ]
    assert generation_table({"a": {"x": 1.0}}) == "| method | x |\n|---|---:|\n| a | 1.0000 |"
    with pytest.raises(ValueError):
        generation_table([])


def test_name_keeping_counts_the_words_that_name_the_product() -> None:
    source = "e.l.f. HD Blush, Superstar, 0.34 Ounce"
    assert name_words(source, "e.l.f.") == {"blush", "superstar"}  # no brand, unit or 2-letter words
    assert name_keeping(source, source, "e.l.f.") == 1.0
    # keeps brand, size and product type, renames the product: half the name is gone
    assert name_keeping(source, "e.l.f. Cosmetics Light Dark Serum, 0.34 Ounce, Blush", "e.l.f.") == 0.5
    assert name_keeping(source, "Superstar blush by e.l.f.", "e.l.f.") == 1.0  # order and case do not matter
    assert math.isnan(name_keeping("OPI 0.5 Ounce", "OPI Red, 0.5 Ounce", "OPI"))  # nothing names it
    with pytest.raises(ValueError, match="title"):
        name_words(None)  # type: ignore[arg-type]
