"""Metric code against hand-computed cases."""

import math

import numpy as np
import pytest

from genrec.eval import metrics as M


def test_pessimistic_rank_counts_ties_above_target():
    scores = np.array([[0.1, 0.5, 0.5, 0.5, 0.9]])
    # Target item 2 scores 0.5: one item is higher (0.9), two others tie -> rank 3 (0-based).
    assert M.pessimistic_rank(scores, np.array([2]))[0] == 3
    # A constant scorer puts the target last, not in the middle.
    assert M.pessimistic_rank(np.zeros((1, 7)), np.array([4]))[0] == 6


def test_pessimistic_rank_excluded_target_is_last():
    scores = np.array([[1.0, -np.inf, 0.0]])
    assert M.pessimistic_rank(scores, np.array([1]))[0] == 2


def test_rank_metrics_hand_computed():
    ranks = np.array([0, 1, 4, 12])
    out = M.rank_metrics(ranks, ks=(1, 5, 10))
    assert out["HR@1"] == pytest.approx(0.25)
    assert out["HR@5"] == pytest.approx(0.75)
    assert out["Recall@10"] == pytest.approx(0.75)
    ndcg5 = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6)) / 4
    assert out["NDCG@5"] == pytest.approx(ndcg5)
    assert out["MRR@5"] == pytest.approx((1 + 1 / 2 + 1 / 5) / 4)
    assert out["MRR@1"] == pytest.approx(0.25)


def test_rank_in_lists_misses_get_catalog_size():
    lists = np.array([[3, 1, 2], [0, 4, 5]])
    assert M.rank_in_lists(lists, np.array([2, 9]), 10).tolist() == [2, 10]


def test_coverage_novelty_arp():
    lists = np.array([[0, 1], [1, 2]])
    assert M.catalog_coverage(lists, 10) == pytest.approx(0.3)
    pop = np.array([4, 2, 1, 0])
    # p = pop/4 users: items 0,1,1,2 -> -log2([1, .5, .5, .25]) = [0, 1, 1, 2]
    assert M.novelty(lists, pop, 4) == pytest.approx(1.0)
    assert M.average_popularity(lists, pop) == pytest.approx((4 + 2 + 2 + 1) / 4)


def test_intra_list_diversity():
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # Orthogonal pair -> distance 1; identical pair -> distance 0.
    assert M.intra_list_diversity(np.array([[0, 1]]), vecs) == pytest.approx(1.0)
    assert M.intra_list_diversity(np.array([[0, 2]]), vecs) == pytest.approx(0.0)
    # Three items: pairs (0,1)=1, (0,2)=0, (1,2)=1 -> mean 2/3.
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), vecs) == pytest.approx(2 / 3)


def test_gini():
    assert M.gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    # All exposure on one of four items: (n-1)/n = 0.75.
    assert M.gini(np.array([0, 0, 0, 8])) == pytest.approx(0.75)
    assert M.exposure_gini(np.array([[0, 1], [0, 1]]), 2) == pytest.approx(0.0)
