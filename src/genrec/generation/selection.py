"""Personalised segment selection: the text form of GeneRec's personalised thumbnail selection.

GeneRec (Wang et al., 2023, Sec. "AI editor", Eq. 1-2) repurposes a micro-video for a user by
choosing, among the video's frames, the one to show as its thumbnail:

  Eq. 1  u = (1/|H_u|) * sum_{i in H_u} f(c_i)      user feature: mean CLIP feature of the covers
                                                     of the user's historically liked videos
  Eq. 2  t* = argmax_{t in frames(v)} cos(u, f(t))  the frame closest to the user feature

genrec does the same for item TEXT. An item's text (title and description) is split into
segments, its candidate "thumbnails" (see ``split_segments``); each segment is embedded with the
text encoder (unit-norm MiniLM vectors, cached on disk by ``TextEncoder``); the user
representation is the unit-normalised mean embedding of the user's liked items (``user_vector``)
or any vector in the encoder's space; and the personalised choice is the segment with the
highest cosine to it (``"personal"``, GeneRec's User_Hist guidance). ``"recommender"`` (the loop's
default) adds the recommender's own view, as GeneRec scores frames with its recommender's user
embedding: each segment, shown as the item, is scored by the recommender for the user
(``segment_scores``, e.g. ``Tiger.score_new``), and among the segments at least as close to the
user as a floor, the best-scored one wins (ties: higher cosine). The floor (``FLOORS``) is the
opening segment's cosine (``"first"``), the mean cosine of the item's segments, which is what a
random segment gets on average (``"mean"``), the larger of the two (``"first+mean"``), or none.
The closest segment always clears every floor, so there is always a candidate.
Baselines: ``"first"`` (the item's own opening segment, i.e. the original thumbnail) and
``"random"`` (a uniformly drawn segment, seeded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from genrec.data.dataset import EVENT_CODE, Dataset, optional_float
from genrec.data.generated import GeneratedItem, Provenance

METHODS: tuple[str, ...] = ("personal", "recommender", "first", "random")
#: How close to the user a segment must be for ``"recommender"`` to consider it (see the module docstring).
FLOORS: tuple[str, ...] = ("first", "mean", "first+mean", "none")
#: Events that do not count as liking an item.
NEGATIVE_EVENTS: tuple[str, ...] = ("dislike", "skip")
GENERATOR = "segment-select"
GENERATOR_VERSION = "1"

# Tokens ending in "." that do not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g.",
        "i.e.",
        "etc.",
        "vs.",
        "approx.",
        "incl.",
        "no.",
        "nr.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "st.",
        "inc.",
        "ltd.",
        "co.",
        "fig.",
        "ca.",
        "max.",
        "min.",
        "oz.",
        "lb.",
        "lbs.",
        "pcs.",
        "u.s.",
        "u.k.",
    ]
)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_LINE_BREAK = re.compile(r"\s*(?:\n|\r|[•▪●◦]|\s\|\s)+\s*")


class Encoder(Protocol):
    """Anything that maps texts to unit-norm vectors, like ``genrec.encoders.text.TextEncoder``."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings [n, d] of ``texts``."""
        ...


@dataclass(frozen=True)
class Segment:
    """A chosen segment: its text, its position among the item's segments, its cosine to the user."""

    text: str
    index: int
    score: float


def split_segments(text: str, min_words: int = 3, max_segments: int = 20) -> list[str]:
    """The candidate segments of an item text: its lines, bullets and sentences, in order.

    Lines (e.g. title, then description), bullet points and " | " separated parts are split
    first, then sentences (at ". ", "! ", "? " before a capital, a digit or a quote, except
    after common abbreviations). A segment of fewer than ``min_words`` words is merged into the
    following one (the last into the one before), so a one-word title never stands alone; a
    text that short overall is a single segment. Repeated segments are kept once, and at most
    ``max_segments`` are returned (the first ones).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"item_text must be a non-empty string, got {text!r}")
    if min_words < 1 or max_segments < 1:
        raise ValueError("min_words and max_segments must be at least 1")
    pieces = [s for line in _LINE_BREAK.split(text.strip()) for s in _sentences(line) if s]
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = f"{carry} {piece}".strip() if carry else piece
        if len(piece.split()) < min_words:
            carry = piece
            continue
        merged.append(piece)
        carry = ""
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return list(dict.fromkeys(merged))[:max_segments]


def _sentences(line: str) -> list[str]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        following = line[match.end() : match.end() + 1]
        if not (following.isupper() or following.isdigit() or following in "\"'(["):
            continue
        last_word = line[start : match.end()].split()[-1].lower()
        if last_word in _ABBREVIATIONS:
            continue
        out.append(line[start : match.end()].strip())
        start = match.end()
    out.append(line[start:].strip())
    return out


def select_segment(
    item_text: str,
    user_vector: np.ndarray,
    encoder: Encoder,
    method: str = "personal",
    rng: np.random.Generator | int | None = None,
    segment_scores: np.ndarray | None = None,
    floor: str = "first",
) -> Segment:
    """The segment of ``item_text`` to show a user: closest to ``user_vector``, best-scored, first, or random."""
    scores = None if segment_scores is None else [segment_scores]
    return select_segments([item_text], np.asarray(user_vector)[None, :], encoder, method, rng, scores, floor)[0]


def select_segments(
    item_texts: Sequence[str],
    user_vectors: np.ndarray,
    encoder: Encoder,
    method: str = "personal",
    rng: np.random.Generator | int | None = None,
    segment_scores: Sequence[np.ndarray] | None = None,
    floor: str = "first",
) -> list[Segment]:
    """``select_segment`` for many (item text, user vector) pairs; each distinct segment is encoded once.

    ``user_vectors[j]`` is the user of pair j (shape [n_pairs, d]). ``rng`` (a Generator or a
    seed; None means seed 0) only matters for ``method="random"``; ``segment_scores[j]`` (one
    score per segment of ``split_segments(item_texts[j])``) and ``floor`` (one of ``FLOORS``) only
    for ``method="recommender"``. Every returned segment carries its cosine to the pair's user, whichever method chose it.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if floor not in FLOORS:
        raise ValueError(f"floor must be one of {FLOORS}, got {floor!r}")
    if method == "recommender" and (segment_scores is None or len(segment_scores) != len(item_texts)):
        raise ValueError("method 'recommender' needs segment_scores: one array per item text")
    users = np.asarray(user_vectors, dtype=np.float64)
    if users.ndim != 2 or len(users) != len(item_texts):
        raise ValueError(
            f"user_vectors must have shape [n_pairs, d] with n_pairs = {len(item_texts)}, got {users.shape}"
        )
    norms = np.linalg.norm(users, axis=1, keepdims=True)
    if not np.all(np.isfinite(users)) or np.any(norms == 0):
        raise ValueError("user_vectors must be finite and non-zero")
    users = users / norms
    per_text = {t: split_segments(t) for t in dict.fromkeys(item_texts)}
    unique = list(dict.fromkeys(s for segs in per_text.values() for s in segs))
    vectors = np.asarray(encoder.encode(unique), dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != users.shape[1]:
        raise ValueError(f"user_vectors have dimension {users.shape[1]} but the encoder gives {vectors.shape[1:]}")
    row = {s: k for k, s in enumerate(unique)}
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    out = []
    for j, (text, user) in enumerate(zip(item_texts, users)):
        segs = per_text[text]
        scores = vectors[[row[s] for s in segs]] @ user
        if method == "personal":
            k = int(np.argmax(scores))  # ties go to the earlier segment
        elif method == "recommender":
            assert segment_scores is not None
            rec = np.asarray(segment_scores[j], dtype=np.float64)
            if rec.shape != (len(segs),):
                raise ValueError(f"segment_scores[{j}] has shape {rec.shape}; item {j} has {len(segs)} segments")
            rec = np.where(scores >= _floor(scores, floor), rec, -np.inf)
            k = int(np.lexsort((-scores, -rec))[0])  # best recommender score, then higher cosine
        elif method == "first":
            k = 0
        else:
            k = int(gen.integers(len(segs)))
        out.append(Segment(segs[k], k, float(scores[k])))
    return out


def _floor(cosines: np.ndarray, floor: str) -> float:
    """The cosine a segment needs for ``"recommender"`` to consider it."""
    if floor == "none":
        return -np.inf
    mean = float(cosines.mean()) - 1e-12  # the mean of equal cosines must not exclude them by rounding
    first = float(cosines[0])
    return {"first": first, "mean": mean, "first+mean": max(first, mean)}[floor]


def user_vector(item_vectors: np.ndarray, items: Sequence[int] | np.ndarray) -> np.ndarray:
    """Eq. 1: the unit-normalised mean of the embeddings of ``items`` (rows of ``item_vectors``)."""
    items = np.asarray(items, dtype=np.int64)
    if len(items) == 0:
        raise ValueError("a user vector needs at least one liked item")
    mean = np.asarray(item_vectors, dtype=np.float64)[items].mean(axis=0)
    norm = np.linalg.norm(mean)
    if norm == 0 or not np.isfinite(norm):
        raise ValueError("the liked items' mean embedding is zero or not finite")
    return (mean / norm).astype(np.float32)


def liked_histories(dataset: Dataset, hold_out: int = 1) -> tuple[list[np.ndarray], np.ndarray]:
    """Per user: liked items (time order) before the last ``hold_out`` interactions, and the last item.

    "Liked" is every event except those in ``NEGATIVE_EVENTS``. The last item is the item of the
    user's final interaction (-1 for a user without interactions); with ``hold_out=0`` the
    history covers every interaction.
    """
    if hold_out < 0:
        raise ValueError(f"hold_out must be >= 0, got {hold_out}")
    inter = dataset.interactions
    counts = np.bincount(inter.user, minlength=dataset.n_users)
    bounds = np.cumsum(counts)[:-1]
    negative = np.isin(inter.event, [EVENT_CODE[e] for e in NEGATIVE_EVENTS])
    items = np.split(inter.item.astype(np.int64), bounds)
    bad = np.split(negative, bounds)
    histories, last = [], np.full(dataset.n_users, -1, dtype=np.int64)
    for u, (seq, neg) in enumerate(zip(items, bad)):
        if len(seq):
            last[u] = seq[-1]
        keep = len(seq) - hold_out
        histories.append(seq[:keep][~neg[:keep]] if keep > 0 else seq[:0])
    return histories, last


def as_generated(
    record: Mapping[str, Any], segment: Segment, user_id: str | None = None, method: str = "personal"
) -> GeneratedItem:
    """The repurposed item: the source record shown with the chosen segment as its title."""
    source_id = str(record.get("item_id") or "")
    if not source_id:
        raise ValueError("record needs an item_id (the source item of the selection)")
    return GeneratedItem(
        title=segment.text,
        description=str(record.get("description") or ""),
        brand=record.get("brand") or None,
        categories=list(record.get("categories") or []),
        price=optional_float(record.get("price")),
        attributes=dict(record.get("attributes") or {}),
        provenance=Provenance(
            "select",
            GENERATOR,
            GENERATOR_VERSION,
            user_id=user_id,
            instruction=f"segment {segment.index} by {method}",
            source_item_id=source_id,
        ),
    )
