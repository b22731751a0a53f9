"""The labelled instruction set: labels consistent with the catalog, splits, determinism, evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from benchmarks.instruction_set import (
    FAMILIES,
    build_instruction_set,
    constraint_pairs,
    evaluate_instructor,
)

from genrec.config import EncoderConfig, SyntheticConfig
from genrec.data import Dataset
from genrec.data.synthetic import generate
from genrec.encoders.text import TextEncoder
from genrec.generation.instructor import Instructor, RuleInstructor
from genrec.generation.intent import Constraints, Feedback, Intent, Turn
from genrec.generation.vocabulary import CatalogVocabulary, normalise

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(SyntheticConfig(n_users=300, n_items=400, n_brands=20, seed=3))


@pytest.fixture(scope="module")
def vocab(dataset: Dataset) -> CatalogVocabulary:
    return CatalogVocabulary.from_dataset(dataset)


@pytest.fixture(scope="module")
def cases(dataset: Dataset, vocab: CatalogVocabulary):
    return build_instruction_set(dataset, 190, seed=0, vocabulary=vocab)


def test_every_family_has_five_tuning_phrasings_and_separate_held_out_ones():
    for name, family in FAMILIES.items():
        assert len(family.tune) >= 5, name
        assert family.held_out and not set(family.held_out) & set(family.tune), name


def test_all_families_and_both_splits_are_built(cases):
    assert len(cases) == 190
    assert {c.family for c in cases} == set(FAMILIES)
    assert {c.held_out for c in cases} == {True, False}
    for c in cases:
        spec = FAMILIES[c.family]
        assert c.template in (spec.held_out if c.held_out else spec.tune)


def test_labels_are_catalog_values_that_the_held_out_item_satisfies(cases, vocab: CatalogVocabulary):
    for c in cases:
        g = c.constraints
        for value in g.categories + g.exclude_categories:
            assert value in vocab.category_counts and value not in vocab.generic_categories
        for value in g.brands + g.exclude_brands:
            assert value in vocab.brand_counts
        for item in g.like_items + g.unlike_items + [c.target_item or c.item_id]:
            assert item in vocab
        own = set(vocab.categories(c.item_id))
        if c.family in (
            "retrieve_category",
            "retrieve_brand_category",
            "retrieve_price",
            "create",
            "retrieve_attribute",
            "rejection_create",
            "negation_brand",
        ):
            assert set(g.categories) <= own, c
        if c.family in ("retrieve_brand", "retrieve_brand_category"):
            assert g.brands == [vocab.brand(c.item_id)]
        if c.family == "negation_brand":
            assert vocab.brand(c.item_id) not in g.exclude_brands
        if c.family == "negation_category":
            assert not set(g.exclude_categories) & own
        price = vocab.price(c.item_id)
        if g.price_min is not None and c.family != "edit_cheaper":
            assert price >= g.price_min
        if g.price_max is not None and c.family != "edit_cheaper":
            assert price <= g.price_max
        for name, values in g.attributes.items():
            assert vocab.attributes_of[vocab.row(c.item_id)].get(name) in values or c.family == "create_style"
        # every named value appears in the instruction as the user wrote it
        for value in g.categories + g.exclude_categories + g.brands + g.exclude_brands:
            assert vocab.lookup(value, "brand" if value in vocab.brand_counts else "category") is not None


def test_family_specific_labels(cases, vocab: CatalogVocabulary):
    for c in cases:
        if c.family == "like_last_other_brand":
            last = c.feedback.likes[-1]
            assert c.constraints.like_items == [last] and c.constraints.exclude_brands == [vocab.brand(last)]
        if c.family in ("like_title", "unlike_title"):
            title = vocab.title(c.item_id)
            words = normalise(c.instruction)
            assert normalise(" ".join(title.split()[:3])) in words
        if c.family in ("edit", "edit_cheaper"):
            assert c.action == "edit" and c.target_item == c.item_id
            assert c.references == [c.item_id] or c.dialogue[-1].role == "system"
        if c.family == "edit_cheaper":
            assert c.constraints.price_max == round(vocab.price(c.item_id), 2)
        if c.family == "vague_clarify":
            assert c.action == "clarify" and c.constraints.is_empty()
        if c.family == "vague_history":
            assert c.action == "retrieve" and c.feedback.likes
        if c.family == "rejection_create":
            assert c.action == "create" and c.feedback.rejections >= 2
        if c.family == "rejection_below":
            assert c.action == "retrieve" and c.feedback.rejections == 1
        if c.family == "create_style":
            assert c.action == "create" and (c.constraints.style_words or c.constraints.attributes)


def test_same_seed_same_set_and_split_filter(dataset: Dataset, vocab: CatalogVocabulary):
    a = build_instruction_set(dataset, 40, seed=5, vocabulary=vocab)
    b = build_instruction_set(dataset, 40, seed=5, vocabulary=vocab)
    assert [(c.instruction, c.item_id) for c in a] == [(c.instruction, c.item_id) for c in b]
    held = build_instruction_set(dataset, 40, seed=5, split="held_out", vocabulary=vocab)
    assert all(c.held_out for c in held)
    with pytest.raises(ValueError, match="split must be"):
        build_instruction_set(dataset, 5, split="test", vocabulary=vocab)
    with pytest.raises(ValueError, match="unknown instruction families"):
        build_instruction_set(dataset, 5, families=["nope"], vocabulary=vocab)


def test_constraint_pairs_normalise_values():
    c = Constraints(categories=["Nail Polishes"], price_max=30, attributes={"colour": ["Navy"]}, like_items=["X1"])
    assert constraint_pairs(c, "t") == {
        ("categories", "nail polish"),
        ("price_max", "30.00"),
        ("attributes.colour", "navy"),
        ("like_items", "X1"),
        ("target_item", "t"),
    }


class AlwaysRetrieve(Instructor):
    """A floor to compare with: retrieves with no constraints whatever was said."""

    def understand(
        self, instruction: str, feedback: Feedback, dialogue: Sequence[Turn] = (), references: Sequence[str] = ()
    ) -> Intent:
        return Intent(action="retrieve")


def test_evaluation_reports_and_separates_good_from_bad(cases, vocab: CatalogVocabulary):
    rules = RuleInstructor(vocab, encoder=TextEncoder(EncoderConfig(progress=False, cache=False, threads=1)))
    good = evaluate_instructor(rules, cases)
    floor = evaluate_instructor(AlwaysRetrieve(vocab), cases)
    for report in (good, floor):
        for key in ("action_accuracy", "constraint_precision", "constraint_recall", "constraint_f1"):
            assert 0.0 <= report[key] <= 1.0
        assert set(report["per_family"]) == set(FAMILIES) and set(report["per_split"]) == {"tune", "held_out"}
        assert report["seconds_per_instruction"] >= 0
    assert floor["constraint_recall"] == 0.0 and floor["action_accuracy"] < good["action_accuracy"] - 0.2
    assert good["action_accuracy"] >= 0.9 and good["constraint_f1"] >= 0.8
    assert good["per_split"]["tune"]["action_accuracy"] >= 0.9


def test_failing_instructor_is_scored_not_fatal(cases, vocab: CatalogVocabulary):
    class Broken(AlwaysRetrieve):
        def understand(self, *args, **kwargs) -> Intent:
            raise RuntimeError("boom")

    report = evaluate_instructor(Broken(vocab), cases[:5])
    assert report["errors"] == 5 and report["action_accuracy"] == 0.0
    with pytest.raises(ValueError, match="no instruction cases"):
        evaluate_instructor(Broken(vocab), [])
