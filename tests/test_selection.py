"""Personalised segment selection (text form of GeneRec's thumbnail selection) with the real encoder."""

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from genrec.config import EncoderConfig, SyntheticConfig
from genrec.data import Dataset
from genrec.data.synthetic import generate
from genrec.encoders.text import TextEncoder
from genrec.eval.generation_metrics import cosine_at_k
from genrec.generation.selection import (
    FLOORS,
    Segment,
    as_generated,
    liked_histories,
    select_segment,
    select_segments,
    split_segments,
    user_vector,
)

GIFT_BOX = (
    "Acme Discovery Gift Box\n"
    "Includes a bag of dark roast whole bean coffee from Colombia. "
    "Includes a pair of cushioned trail running shoes for muddy hills. "
    "Includes a hydrating face moisturizer for dry skin."
)


class CountingEncoder:
    """The real TextEncoder, recording each batch of texts it is asked for."""

    def __init__(self, encoder: TextEncoder) -> None:
        self.encoder = encoder
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.encoder.encode(texts)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    cache = tmp_path_factory.mktemp("emb")
    return TextEncoder(EncoderConfig(cache_dir=str(cache), progress=False, threads=1))


# ---- segments ---------------------------------------------------------------------------------


def test_split_segments_gives_title_and_sentences():
    assert split_segments(GIFT_BOX) == [
        "Acme Discovery Gift Box",
        "Includes a bag of dark roast whole bean coffee from Colombia.",
        "Includes a pair of cushioned trail running shoes for muddy hills.",
        "Includes a hydrating face moisturizer for dry skin.",
    ]


def test_split_segments_handles_short_texts_abbreviations_and_limits():
    assert split_segments("Tea") == ["Tea"]
    assert split_segments("Shampoo\nGentle. Cleans well, e.g. after swimming. Ok.") == [
        "Shampoo Gentle. Cleans well, e.g. after swimming. Ok."
    ]
    assert split_segments("One two three. Four five six. One two three.") == ["One two three.", "Four five six."]
    assert len(split_segments(" ".join(f"Sentence number {i} here." for i in range(30)), max_segments=5)) == 5
    assert split_segments("Price is 3.5 mm wide. Next one here.") == ["Price is 3.5 mm wide.", "Next one here."]
    with pytest.raises(ValueError, match="item_text"):
        split_segments("   ")


# ---- selection --------------------------------------------------------------------------------


def test_personal_selection_picks_the_segment_matching_the_users_likes(encoder):
    liked = {
        "coffee": [
            "Smooth medium roast ground coffee with chocolate notes",
            "Single-origin espresso beans, dark roast",
        ],
        "running": [
            "Lightweight road running shoes for marathon training",
            "Trail running shoes with a grippy outsole",
        ],
        "skincare": ["Soothing night cream for sensitive skin", "Hydrating serum with hyaluronic acid"],
    }
    for expected, texts in zip((1, 2, 3), liked.values()):
        vector = user_vector(encoder.encode(texts), [0, 1])
        chosen = select_segment(GIFT_BOX, vector, encoder)
        assert chosen.index == expected
        assert chosen.text == split_segments(GIFT_BOX)[expected]
        others = select_segments([GIFT_BOX] * 4, np.tile(vector, (4, 1)), encoder, "first")
        assert chosen.score > others[0].score


def test_baselines_first_and_seeded_random(encoder):
    vector = encoder.encode(["coffee"])[0]
    assert select_segment(GIFT_BOX, vector, encoder, "first") == select_segment(GIFT_BOX, vector, encoder, "first")
    assert select_segment(GIFT_BOX, vector, encoder, "first").index == 0
    users = np.tile(vector, (40, 1))
    a = [s.index for s in select_segments([GIFT_BOX] * 40, users, encoder, "random", rng=7)]
    b = [s.index for s in select_segments([GIFT_BOX] * 40, users, encoder, "random", rng=7)]
    assert a == b and set(a) == {0, 1, 2, 3}


def test_recommender_method_picks_the_best_scored_segment_and_breaks_ties_by_cosine(encoder):
    vector = encoder.encode(["face cream for dry skin"])[0]
    segs = split_segments(GIFT_BOX)
    n = len(segs)
    cos = encoder.encode(segs) @ vector
    closer = [k for k in range(1, n) if cos[k] >= cos[0]]
    further = [k for k in range(1, n) if cos[k] < cos[0]]
    assert closer and further, cos
    scores = np.zeros(n)
    scores[closer[-1]] = 1.0
    assert select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=scores).index == closer[-1]
    # a segment further from the user than the opening one is never shown, however well it scores
    scores = np.zeros(n)
    scores[further[0]] = 5.0
    assert select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=scores).index != further[0]
    # all tied: the segment closest to the user vector, as "personal" picks
    tied = select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=np.zeros(n))
    assert tied.index == select_segment(GIFT_BOX, vector, encoder, "personal").index
    with pytest.raises(ValueError, match="segment_scores"):
        select_segment(GIFT_BOX, vector, encoder, "recommender")
    with pytest.raises(ValueError, match="segments"):
        select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=np.zeros(n + 1))


def test_recommender_floors_decide_which_segments_compete(encoder):
    vector = encoder.encode(["face cream for dry skin"])[0]
    segs = split_segments(GIFT_BOX)
    cos = encoder.encode(segs) @ vector
    order = np.argsort(cos)  # furthest first
    farthest, closest = int(order[0]), int(order[-1])
    assert farthest != closest
    scores = np.zeros(len(segs))
    scores[farthest] = 5.0

    def pick(floor: str) -> int:
        return select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=scores, floor=floor).index

    assert pick("none") == farthest  # no floor: the recommender alone decides
    for floor in ("first", "mean", "first+mean"):
        chosen = pick(floor)
        assert chosen != farthest
        assert cos[chosen] >= {"first": cos[0], "mean": cos.mean(), "first+mean": max(cos[0], cos.mean())}[floor] - 1e-9
    # with every score tied, every floor falls back to the closest segment
    ties = np.zeros(len(segs))
    for floor in FLOORS:
        assert (
            select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=ties, floor=floor).index == closest
        )
    with pytest.raises(ValueError, match="floor"):
        select_segment(GIFT_BOX, vector, encoder, "recommender", segment_scores=ties, floor="median")


def test_batched_selection_encodes_each_distinct_segment_once(encoder):
    counting = CountingEncoder(encoder)
    other = "Plain Mug\nA white ceramic mug for tea. Includes a hydrating face moisturizer for dry skin."
    users = encoder.encode(["coffee beans", "skin care cream", "tea time"])
    pairs = [GIFT_BOX, other, GIFT_BOX]
    batched = select_segments(pairs, users, counting)
    assert len(counting.calls) == 1
    sent = counting.calls[0]
    # gift box: 4 segments; mug: "Plain Mug" (too short) merged into its first sentence, and the
    # moisturizer sentence both items share is sent once
    assert len(sent) == len(set(sent)) == 4 + 1
    assert "Plain Mug A white ceramic mug for tea." in sent
    singles = [select_segment(t, u, encoder) for t, u in zip(pairs, users)]
    assert [s.index for s in batched] == [s.index for s in singles]
    assert all(isinstance(s, Segment) and -1 <= s.score <= 1 for s in batched)


def test_selection_rejects_bad_input(encoder):
    with pytest.raises(ValueError, match="method"):
        select_segment(GIFT_BOX, np.ones(384), encoder, method="best")
    with pytest.raises(ValueError, match="non-zero"):
        select_segment(GIFT_BOX, np.zeros(384), encoder)
    with pytest.raises(ValueError, match="dimension"):
        select_segment(GIFT_BOX, np.ones(10), encoder)
    with pytest.raises(ValueError, match="n_pairs = 2"):
        select_segments([GIFT_BOX, GIFT_BOX], np.ones((3, 384)), encoder)


# ---- user history -----------------------------------------------------------------------------


def test_user_vector_is_the_unit_mean_and_needs_items():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    assert user_vector(vectors, [0, 1]) == pytest.approx(np.array([1.0, 1.0]) / np.sqrt(2))
    with pytest.raises(ValueError, match="at least one"):
        user_vector(vectors, [])


def test_liked_histories_skip_dislikes_and_hold_out_the_last_item():
    frame = pd.DataFrame(
        {
            "user_id": ["u1"] * 4 + ["u2"],
            "item_id": ["a", "b", "c", "d", "a"],
            "timestamp": [1, 2, 3, 4, 1],
            "event": ["view", "dislike", "like", "purchase", "view"],
        }
    )
    ds = Dataset.from_frames("tiny", frame)
    histories, last = liked_histories(ds, hold_out=1)
    u1, u2 = ds.user_index("u1"), ds.user_index("u2")
    assert list(ds.item_external(histories[u1])) == ["a", "c"]
    assert ds.item_external(int(last[u1])) == "d"
    assert len(histories[u2]) == 0 and ds.item_external(int(last[u2])) == "a"
    full, _ = liked_histories(ds, hold_out=0)
    assert list(ds.item_external(full[u1])) == ["a", "c", "d"]


def test_as_generated_keeps_the_record_and_records_provenance():
    record = {
        "item_id": "i1",
        "title": "T",
        "description": "D. E.",
        "brand": "B",
        "categories": ["c"],
        "price": float("nan"),
        "attributes": {"k": "v"},
    }
    item = as_generated(record, Segment("E.", 1, 0.5), user_id="u1")
    assert item.title == "E." and item.description == "D. E." and item.price is None
    assert item.provenance.kind == "select" and item.provenance.source_item_id == "i1"
    assert item.item_id.startswith("gen:") and item.provenance.user_id == "u1"


# ---- synthetic check --------------------------------------------------------------------------


def test_personal_beats_first_and_random_on_synthetic_cosine_at_10(encoder):
    ds = generate(SyntheticConfig(n_users=200, n_items=150))
    texts = [f"{t}\n{d}" for t, d in zip(ds.items["title"], ds.items["description"])]
    item_vectors = encoder.encode(texts)
    histories, last = liked_histories(ds, hold_out=1)
    users = [u for u in range(ds.n_users) if len(histories[u]) and last[u] >= 0]
    vectors = np.stack([user_vector(item_vectors, histories[u]) for u in users])
    pairs = [texts[last[u]] for u in users]
    hist = [item_vectors[histories[u]] for u in users]
    cos = {}
    for method in ("personal", "first", "random"):
        chosen = select_segments(pairs, vectors, encoder, method, rng=0)
        cos[method] = cosine_at_k(encoder.encode([s.text for s in chosen]), hist, k=10).mean()
    assert cos["personal"] > cos["first"] + 0.01
    assert cos["personal"] > cos["random"] + 0.01
