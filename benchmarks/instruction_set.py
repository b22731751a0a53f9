"""A labelled instruction set for the instructor, generated from held-out items, and its evaluation.

For a user's held-out (last) item, templates fill in its category, brand, price, title or an
attribute and record the gold action and constraints: retrieval by category / brand / price,
"like my last purchase but another brand", negations, "more like <title>", edits, creations,
vague requests (clarify, or recommend from the history), rejection-driven creation. Each family
has tuning phrasings and held-out phrasings; the held-out ones were written apart from the rules
and are reported separately, so rules fitted to the generator show up as a gap.

Run ``python -m benchmarks.instruction_set --dataset synthetic --method rules`` to measure one instructor,
``python -m benchmarks.run_instructor`` for the benchmark (with the hand-written sets).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrec.data.dataset import Dataset
from genrec.generation.instructor import Instructor, last_shown_item
from genrec.generation.intent import HARD_FIELDS, Constraints, Feedback, Intent, Turn
from genrec.generation.vocabulary import STOP_WORDS, CatalogVocabulary, normalise


@dataclass
class InstructionCase:
    """One labelled request: what the user said and had done, and what the instructor should read."""

    instruction: str
    feedback: Feedback
    action: str  # gold action
    constraints: Constraints  # gold constraints
    target_item: str | None = None  # gold item to edit
    family: str = ""
    template: str = ""
    held_out: bool = False  # a phrasing kept out of the rules' tuning
    dialogue: list[Turn] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    user_id: str = ""
    item_id: str = ""  # the held-out item the case was built from


@dataclass(frozen=True)
class _Family:
    tune: tuple[str, ...]
    held_out: tuple[str, ...]


_REQUESTS = (
    "show me {category}",
    "find me some {category}",
    "I'm looking for {category}",
    "recommend {category} please",
    "any good {category}?",
    "got any {category} for me?",
    "what {category} would you suggest?",
    "I'm after {category}",
    "please pull up your {category}",
    "need new {category}, what have you got",
)
_FRESH_REQUESTS = ("can I see your {category}?", "what's good in {category} right now?", "{category} recommendations?")
#: Phrasings per intent family. Placeholders: {category} {brand} {other_brand} {other_category}
#: {lo} {hi} {title} {style} {attr}. The held-out phrasings were written without running the rules
#: on them; two earlier held-out sets that the rules were then fixed on now belong to the tuning set.
FAMILIES: dict[str, _Family] = {
    "retrieve_category": _Family(
        (
            "show me {category}",
            "find me some {category}",
            "I'm looking for {category}",
            "recommend {category} please",
            "any good {category}?",
            "search for {category}",
            "got any {category} for me?",
            "I could use some fresh {category}",
            "what {category} would you suggest?",
            "I'm after {category}",
            "please pull up your {category}",
            "need new {category}, what have you got",
        ),
        _FRESH_REQUESTS,
    ),
    "retrieve_brand": _Family(
        (
            "show me products from {brand}",
            "anything by {brand}?",
            "I want {brand} items",
            "find {brand} stuff",
            "recommend something from {brand}",
            "I'm a big {brand} fan, what do you have?",
            "what does {brand} sell?",
            "{brand} please",
            "got anything from {brand}?",
            "{brand} products, if you have them",
            "do you stock {brand}?",
        ),
        ("stuff made by {brand}", "show {brand} only", "which {brand} products do you recommend?"),
    ),
    "retrieve_brand_category": _Family(
        (
            "show me {brand} {category}",
            "find {category} from {brand}",
            "I need {category} by {brand}",
            "recommend {brand} {category}",
            "looking for {category} made by {brand}",
            "do you carry {category} from {brand}?",
            "{brand}'s {category}, please",
            "which {category} does {brand} make?",
            "I'd like {category}, preferably {brand}",
            "{category} - {brand} only",
            "are there any {brand} {category}?",
        ),
        ("{brand} brand {category}", "I prefer {brand}; show {category}", "browse {category} by {brand}"),
    ),
    "retrieve_price": _Family(
        (
            "{category} under ${hi}",
            "show me {category} below {hi} dollars",
            "find {category} for at most ${hi}",
            "{category} between ${lo} and ${hi}",
            "I want {category} over ${lo}",
            "{category} that cost at least {lo} dollars",
            "{category} from {lo} to {hi} dollars",
            "{category} that won't cost me more than ${hi}",
            "{category} for {hi} euros or less",
            "{category}, somewhere in the ${lo} to ${hi} range",
            "{category} priced above {lo} dollars",
            "{category} for no more than {hi} bucks",
            "{category} up to {hi} USD",
            "{category}, price range {lo}-{hi} dollars",
            "{category} costing more than ${lo}",
        ),
        (
            "{category} at or below ${hi}",
            "{category} under {hi}$",
            "cheap {category}, max {hi} dollars",
            "{category} in the {lo} to {hi} dollar range",
            "{category} starting at ${lo}",
        ),
    ),
    "like_last_other_brand": _Family(
        (
            "something like my last purchase but from another brand",
            "more like what I bought last, different brand please",
            "similar to my last order but not the same brand",
            "show me items like my last purchase from a different brand",
            "like my most recent purchase, but another brand",
            "I loved what I bought last time, now find me the same thing from some other company",
            "same as my previous purchase, just a different maker",
            "like the last thing I ordered, but switch brands",
            "another brand's version of my last purchase",
            "what I bought most recently was good, but I'd like a different brand this time",
            "my last order, but by someone else",
        ),
        (
            "a different brand's take on what I bought last",
            "my most recent purchase but from a competitor",
            "something like the thing I last bought, not the same brand though",
        ),
    ),
    "negation_brand": _Family(
        (
            "{category} but not from {other_brand}",
            "show me {category}, no {other_brand}",
            "{category} without {other_brand}",
            "find {category} except {other_brand}",
            "I want {category}, anything but {other_brand}",
            "{category} other than {other_brand}",
            "{category} please, I'm done with {other_brand}",
            "{category} - {other_brand} is not for me",
            "{category}, and keep {other_brand} away from me",
            "{category}, but nothing made by {other_brand}",
            "{category} excluding {other_brand}",
            "I'd like {category} that aren't from {other_brand}",
        ),
        (
            "{category}, avoid {other_brand}",
            "{category} (not {other_brand})",
            "{category} with no {other_brand} in the results",
        ),
    ),
    "negation_category": _Family(
        (
            "anything but {other_category}",
            "show me something that is not {other_category}",
            "no {other_category} please",
            "recommend anything except {other_category}",
            "I don't want {other_category}",
            "enough {other_category} already, show me other stuff",
            "I'm so over {other_category}",
            "skip the {other_category} this time",
            "anything apart from {other_category}",
            "show me stuff, just no {other_category}",
            "I've had my fill of {other_category}",
        ),
        (
            "please no more {other_category}",
            "show me things, but leave out {other_category}",
            "I'm not interested in {other_category}",
        ),
    ),
    "like_title": _Family(
        (
            "more like {title}",
            "something similar to {title}",
            "show me items like {title}",
            "find me things resembling {title}",
            "recommend stuff similar to {title}",
            "I really enjoyed {title}; got anything in that vein?",
            "{title} was great, anything comparable?",
            "in the spirit of {title}, what else?",
            "I want something close to {title}",
            "got anything like the {title}?",
            "{title} is my favourite, show me similar ones",
        ),
        ("anything resembling {title}?", "{title} - more of that please", "find alternatives to {title}"),
    ),
    "unlike_title": _Family(
        (
            "nothing like {title} please",
            "show me something different from {title}",
            "not like {title}",
            "anything unlike {title}",
            "something other than {title}",
            "{title} was awful, avoid stuff like that",
            "I didn't enjoy {title}, show me different things",
            "steer away from things like {title}",
            "I hated {title}, find something else",
            "please nothing resembling {title}",
            "the {title} disappointed me, show me alternatives",
        ),
        (
            "I returned {title}; show me something unlike it",
            "not a fan of {title}, anything different?",
            "avoid products like {title}",
        ),
    ),
    "retrieve_attribute": _Family(
        (
            "show me {attr} {category}",
            "find {category} in {attr}",
            "I want {attr} {category}",
            "any {category} that are {attr}?",
            "recommend {attr} {category}",
            "{category}, ideally {attr}",
            "got {attr} {category}?",
            "do you have {category} that come {attr}?",
            "{attr} {category} please",
            "I'm after {category} in {attr}",
            "any {attr} options for {category}?",
        ),
        ("{category} that's {attr}", "looking for {attr} {category}", "{attr} {category}?"),
    ),
    "more_like_this": _Family(
        (
            "more like this",
            "show me similar items",
            "something like this one",
            "find more like that",
            "similar to this please",
            "this is great, more of these",
            "got anything in the same vein as this?",
            "I want things along those lines",
            "similar ones please",
            "I like this, show me more like it",
            "anything close to this?",
        ),
        ("more items like the one I'm looking at", "something comparable to this", "like this but different"),
    ),
    "edit": _Family(
        (
            "rewrite this one for me",
            "personalise it to my taste",
            "adapt this item to what I like",
            "tailor this to me",
            "can you tweak this one for me?",
            "modify it so it suits me",
            "could you give this a spin that fits me better?",
            "make it more my style",
            "rework that one with me in mind",
            "this one's close, adjust it for me",
            "can you customize this for me?",
            "adjust that item to my preferences",
            "rewrite the one you just showed me so it suits me",
        ),
        ("refine this one for me", "could you personalize the item you just showed?", "change it so it's more me"),
    ),
    "edit_cheaper": _Family(
        (
            "make this one cheaper",
            "rewrite it at a lower price",
            "adapt this to be less expensive",
            "tailor it, but cheaper",
            "tweak this one so it costs less",
            "can this be more affordable?",
            "same item but easier on my wallet",
            "rework it at a lower price point",
            "could you make that one less pricey?",
            "adapt it so it's cheaper",
            "tweak the price of this one down",
        ),
        ("make a cheaper version of this", "rewrite this at a lower price", "adjust it to cost less"),
    ),
    "create": _Family(
        (
            "design a new {category} under ${hi}",
            "create a {category} for me, max ${hi}",
            "generate a new {category} that costs less than {hi} dollars",
            "invent a {category} under {hi} dollars",
            "make me a new {category} for at most ${hi}",
            "dream up a {category} I'd love, keep it below ${hi}",
            "could you come up with an original {category}? {hi} dollars tops",
            "build me a one-of-a-kind {category} priced under {hi} dollars",
            "I'd love a brand new {category} under {hi} dollars",
            "design me a {category} that costs at most ${hi}",
            "invent something: a {category}, no more than {hi} bucks",
        ),
        (
            "create one for me: {category}, under ${hi}",
            "generate an original {category} below {hi} dollars",
            "dream up a fresh {category} for ${hi} or less",
        ),
    ),
    "create_style": _Family(
        (
            "design a {style} {category}",
            "create a new {style} {category} for me",
            "generate a {style} {category}",
            "invent a {style} {category}",
            "make me a {style} {category}",
            "imagine a {style} {category} that doesn't exist yet",
            "craft a {style} {category} just for me",
            "whip up a {style} {category}",
            "design me something {style}: a {category}",
            "create a {category} with a {style} feel",
            "generate a new {category}, make it {style}",
        ),
        (
            "design a {category} that feels {style}",
            "make a {style}-looking {category}",
            "invent a new {category} in a {style} style",
        ),
    ),
    # a request with no signal gets the clarifying question whatever the history (the case builder
    # gives half of these cases a history); asking for recommendations as such is answered from it
    "vague_clarify": _Family(
        (
            "hmm",
            "something",
            "idk",
            "anything",
            "I don't know",
            "uh, whatever",
            "not sure what I want",
            "?",
            "eh",
            "dunno, something nice",
            "help",
            "stuff",
        ),
        ("no idea", "something cool", "hm ok"),
    ),
    "vague_history": _Family(
        (
            "show me stuff",
            "",
            "surprise me",
            "recommend me something",
            "what would you suggest?",
            "show me something",
            "find me something",
            "give me some ideas",
            "what fits me?",
        ),
        ("got any suggestions for me?", "pick something for me", "show me what you've got"),
    ),
    "rejection_create": _Family(_REQUESTS, _FRESH_REQUESTS),
    "rejection_below": _Family(_REQUESTS, _FRESH_REQUESTS[:2]),
}

#: Style words for creations when the catalog has no style attribute (kept if the catalog does not use them).
STYLE_WORDS = (
    "vintage",
    "minimalist",
    "luxurious",
    "playful",
    "elegant",
    "retro",
    "whimsical",
    "sleek",
    "rustic",
    "futuristic",
)
_DANGLING = {"with", "and", "for", "of", "in", "by", "the", "a", "an", "to", "on", "or", "from", "w", ""}
_AUDIENCE = {"men", "women", "unisex", "kid", "baby", "girl", "boy", "teen", "men and women"}


# ---- building ---------------------------------------------------------------------------------
@dataclass
class _Context:
    vocab: CatalogVocabulary
    rng: np.random.Generator
    user: str
    item: str
    history: list[str]
    threshold: int


def build_instruction_set(
    dataset: Dataset,
    n: int = 300,
    seed: int = 0,
    split: str = "all",
    rejection_threshold: int = 2,
    families: Sequence[str] | None = None,
    vocabulary: CatalogVocabulary | None = None,
) -> list[InstructionCase]:
    """``n`` labelled cases from users' held-out (last) items, spread evenly over the families.

    ``split`` is "all", "tune" (only tuning phrasings) or "held_out". A family the catalog
    cannot support (no attributes, no brands) is skipped.
    """
    if split not in ("all", "tune", "held_out"):
        raise ValueError(f"split must be 'all', 'tune' or 'held_out', got {split!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    names = list(families) if families else list(FAMILIES)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown instruction families {unknown}; known: {', '.join(FAMILIES)}")
    vocab = vocabulary or CatalogVocabulary.from_dataset(dataset)
    rng = np.random.default_rng(seed)
    seqs = dataset.sequences()
    users = [u for u, s in enumerate(seqs) if len(s) >= 3]
    if not users:
        raise ValueError(f"dataset {dataset.name!r} has no user with 3 or more interactions")
    item_ids = dataset.items["item_id"].to_numpy()
    user_ids = dataset.users["user_id"].to_numpy()
    cases: list[InstructionCase] = []
    dead: set[str] = set()
    k = 0
    while len(cases) < n and len(dead) < len(names):
        family = names[k % len(names)]
        k += 1
        if family in dead:
            continue
        for _ in range(60):  # a few users until one fits the family
            u = int(rng.choice(users))
            seq = [str(item_ids[i]) for i in seqs[u]]
            ctx = _Context(vocab, rng, str(user_ids[u]), seq[-1], seq[:-1][-10:], rejection_threshold)
            case = _make(family, ctx, split)
            if case is not None:
                cases.append(case)
                break
        else:
            dead.add(family)
    return cases


def _make(family: str, ctx: _Context, split: str) -> InstructionCase | None:
    spec = FAMILIES[family]
    pool = [(t, False) for t in spec.tune] * (split != "held_out") + [(t, True) for t in spec.held_out] * (
        split != "tune"
    )
    template, held_out = pool[int(ctx.rng.integers(len(pool)))]
    made = _BUILDERS[family](ctx, template)
    if made is None:
        return None
    slots, gold, extra = made
    try:
        text = template.format(**slots)
    except KeyError:
        return None
    feedback = extra.pop("feedback", Feedback(likes=list(ctx.history)))
    return InstructionCase(
        instruction=text,
        feedback=feedback,
        action=extra.pop("action", "retrieve"),
        constraints=gold,
        target_item=extra.pop("target_item", None),
        family=family,
        template=template,
        held_out=held_out,
        dialogue=extra.pop("dialogue", []),
        references=extra.pop("references", []),
        user_id=ctx.user,
        item_id=ctx.item,
    )


_Made = tuple[dict[str, str], Constraints, dict[str, Any]] | None


def _b_category(ctx: _Context, template: str) -> _Made:
    cat = _category(ctx, ctx.item)
    return None if cat is None else ({"category": cat[1]}, Constraints(categories=[cat[0]]), {})


def _b_brand(ctx: _Context, template: str) -> _Made:
    brand = _brand(ctx, ctx.vocab.brand(ctx.item))
    return None if brand is None else ({"brand": brand[1]}, Constraints(brands=[brand[0]]), {})


def _b_brand_category(ctx: _Context, template: str) -> _Made:
    brand, cat = _brand(ctx, ctx.vocab.brand(ctx.item)), _category(ctx, ctx.item)
    if brand is None or cat is None:
        return None
    return {"brand": brand[1], "category": cat[1]}, Constraints(brands=[brand[0]], categories=[cat[0]]), {}


def _b_price(ctx: _Context, template: str) -> _Made:
    cat, price = _category(ctx, ctx.item), ctx.vocab.price(ctx.item)
    if cat is None or price is None or price <= 0:
        return None
    lo, hi = _bounds(price)
    needs_lo, needs_hi = "{lo}" in template, "{hi}" in template
    if needs_lo and lo is None:
        return None
    gold = Constraints(categories=[cat[0]], price_min=lo if needs_lo else None, price_max=hi if needs_hi else None)
    return {"category": cat[1], "lo": _money(lo), "hi": _money(hi)}, gold, {}


def _b_like_last(ctx: _Context, template: str) -> _Made:
    last = ctx.history[-1] if ctx.history else None
    brand = ctx.vocab.brand(last) if last else None
    if brand is None:
        return None
    return {}, Constraints(like_items=[last] if last else [], exclude_brands=[brand]), {}


def _b_negation_brand(ctx: _Context, template: str) -> _Made:
    cat = _category(ctx, ctx.item)
    if cat is None:
        return None
    own = ctx.vocab.brand(ctx.item)
    others = sorted(
        {
            b
            for i, cs in enumerate(ctx.vocab.categories_of)
            if cat[0] in cs
            for b in [ctx.vocab.brands_of[i]]
            if b and b != own
        }
    )
    if not others:
        return None
    other = _brand(ctx, others[int(ctx.rng.integers(len(others)))])
    if other is None:
        return None
    gold = Constraints(categories=[cat[0]], exclude_brands=[other[0]])
    return {"category": cat[1], "other_brand": other[1]}, gold, {}


def _b_negation_category(ctx: _Context, template: str) -> _Made:
    own = set(ctx.vocab.categories(ctx.item))
    related = own | {p for c in own for p in ctx.vocab.category_parents.get(c, ())}
    pool = [
        c
        for c in ctx.vocab.top("category", 60)
        if c not in related
        and not any(
            c in ctx.vocab.category_parents.get(o, ()) or o in ctx.vocab.category_parents.get(c, ()) for o in own
        )
    ]
    for _ in range(10):
        if not pool:
            return None
        cand = pool[int(ctx.rng.integers(len(pool)))]
        surface = _category_surface(ctx, cand)
        if surface is not None:
            return {"other_category": surface}, Constraints(exclude_categories=[cand]), {}
    return None


def _b_like_title(ctx: _Context, template: str) -> _Made:
    title = _title(ctx, ctx.item)
    return None if title is None else ({"title": title}, Constraints(like_items=[ctx.item]), {})


def _b_unlike_title(ctx: _Context, template: str) -> _Made:
    title = _title(ctx, ctx.item)
    return None if title is None else ({"title": title}, Constraints(unlike_items=[ctx.item]), {})


def _b_attribute(ctx: _Context, template: str) -> _Made:
    cat = _category(ctx, ctx.item)
    row = ctx.vocab.row(ctx.item)
    if cat is None or row is None:
        return None
    found = _attributes(ctx)
    if not found:
        return None
    name, value = found[int(ctx.rng.integers(len(found)))]
    return {"category": cat[1], "attr": value}, Constraints(categories=[cat[0]], attributes={name: [value]}), {}


def _b_more_like_this(ctx: _Context, template: str) -> _Made:
    return {}, Constraints(like_items=[ctx.item]), {"references": [ctx.item]}


def _b_edit(ctx: _Context, template: str) -> _Made:
    extra: dict[str, Any] = {"action": "edit", "target_item": ctx.item}
    title = ctx.vocab.title(ctx.item) or ""
    dialogue = [Turn("user", "show me something new"), Turn("system", f"How about this one: {title}?")]
    if ctx.rng.random() < 0.5 and last_shown_item(ctx.vocab, dialogue) == ctx.item:
        extra["dialogue"] = dialogue
    else:
        extra["references"] = [ctx.item]
    return {}, Constraints(), extra


def _b_edit_cheaper(ctx: _Context, template: str) -> _Made:
    price = ctx.vocab.price(ctx.item)
    made = _b_edit(ctx, template)
    if price is None or made is None:
        return None
    return made[0], Constraints(price_max=round(price, 2)), made[2]


def _b_create(ctx: _Context, template: str) -> _Made:
    made = _b_price(ctx, "{hi}")
    if made is None:
        return None
    slots, gold, _ = made
    return slots, gold, {"action": "create"}


def _b_create_style(ctx: _Context, template: str) -> _Made:
    cat = _category(ctx, ctx.item)
    if cat is None:
        return None
    styles = [(n, v) for n, v in _attributes(ctx) if n == "style"]
    if styles and ctx.rng.random() < 0.5:
        name, value = styles[0]
        return (
            {"category": cat[1], "style": value},
            Constraints(categories=[cat[0]], attributes={name: [value]}),
            {"action": "create"},
        )
    words = [w for w in STYLE_WORDS if not ctx.vocab.entries(normalise(w))]
    if not words:
        return None
    word = words[int(ctx.rng.integers(len(words)))]
    return (
        {"category": cat[1], "style": word},
        Constraints(categories=[cat[0]], style_words=[word]),
        {"action": "create"},
    )


def _b_vague_clarify(ctx: _Context, template: str) -> _Made:
    feedback = Feedback(likes=list(ctx.history)) if ctx.rng.random() < 0.5 else Feedback()
    return {}, Constraints(), {"action": "clarify", "feedback": feedback}


def _b_vague_history(ctx: _Context, template: str) -> _Made:
    return {}, Constraints(), {}


def _b_rejection(create: bool) -> Callable[[_Context, str], _Made]:
    def build(ctx: _Context, template: str) -> _Made:
        made = _b_category(ctx, template)
        if made is None or (not create and ctx.threshold <= 1):
            return None
        shown = [str(i) for i in ctx.rng.choice(ctx.vocab.item_ids, size=6, replace=False)]
        count = ctx.threshold + int(ctx.rng.integers(2)) if create else ctx.threshold - 1
        feedback = Feedback(likes=list(ctx.history), skips=shown[:4], dislikes=shown[4:], rejections=count)
        return made[0], made[1], {"action": "create" if create else "retrieve", "feedback": feedback}

    return build


_BUILDERS: dict[str, Callable[[_Context, str], _Made]] = {
    "retrieve_category": _b_category,
    "retrieve_brand": _b_brand,
    "retrieve_brand_category": _b_brand_category,
    "retrieve_price": _b_price,
    "like_last_other_brand": _b_like_last,
    "negation_brand": _b_negation_brand,
    "negation_category": _b_negation_category,
    "like_title": _b_like_title,
    "unlike_title": _b_unlike_title,
    "retrieve_attribute": _b_attribute,
    "more_like_this": _b_more_like_this,
    "edit": _b_edit,
    "edit_cheaper": _b_edit_cheaper,
    "create": _b_create,
    "create_style": _b_create_style,
    "vague_clarify": _b_vague_clarify,
    "vague_history": _b_vague_history,
    "rejection_create": _b_rejection(True),
    "rejection_below": _b_rejection(False),
}


# ---- slot values ------------------------------------------------------------------------------
def _category(ctx: _Context, item: str) -> tuple[str, str] | None:
    """A nameable category of ``item`` (mostly the most specific) and how the user spells it."""
    cats = [c for c in ctx.vocab.categories(item) if ctx.vocab.category_counts[c] >= 5]
    cats = [c for c in cats if _category_surface(ctx, c) is not None]
    if not cats:
        return None
    cat = cats[-1] if ctx.rng.random() < 0.7 or len(cats) == 1 else cats[int(ctx.rng.integers(len(cats) - 1))]
    surface = _category_surface(ctx, cat)
    return (cat, surface) if surface else None


def _category_surface(ctx: _Context, category: str) -> str | None:
    if normalise(category) in _AUDIENCE:
        return None
    surface = category.lower()
    if "&" in surface and ctx.rng.random() < 0.5:
        surface = surface.replace("&", "and")
    entry = ctx.vocab.lookup(surface, "category", fuzzy_cutoff=101)
    return surface if entry is not None and entry.value == category else None


def _brand(ctx: _Context, brand: str | None) -> tuple[str, str] | None:
    """A brand and a spelling of it the catalog resolves back to it (weak, common-word brands skipped)."""
    if not brand:
        return None
    spellings = [brand, brand.lower(), " ".join(normalise(brand).split())]
    surface = spellings[int(ctx.rng.integers(len(spellings)))]
    for s in (surface, brand):
        entries = [e for e in ctx.vocab.entries(normalise(s)) if e.kind == "brand"]
        if (
            entries
            and entries[0].value == brand
            and not entries[0].weak
            and not any(e.kind != "brand" for e in ctx.vocab.entries(normalise(s)))
        ):
            return brand, s
    return None


def _title(ctx: _Context, item: str) -> str | None:
    """The first words of an item's title, as few as still name the item alone."""
    title = ctx.vocab.title(item) or ""
    words = title.split()
    start = min(len(words), 4 + int(ctx.rng.integers(3)))
    for k in range(start, len(words) + 1):
        phrase = " ".join(words[:k]).rstrip(",;:-(&/")
        while phrase and normalise(phrase.split()[-1]) in _DANGLING:
            phrase = " ".join(phrase.split()[:-1]).rstrip(",;:-(&/")
        hit = ctx.vocab.find_item(phrase, min_tokens=3, min_cover=0.8)
        if hit is not None and hit[0] == item:
            return phrase
    return None


def _attributes(ctx: _Context) -> list[tuple[str, str]]:
    """The item's attribute values a user would name: short, letter-only, unambiguous in the catalog."""
    row = ctx.vocab.row(ctx.item)
    if row is None:
        return []
    out = []
    for name, counter in ctx.vocab.attribute_counts.items():
        if len(counter) > 40:
            continue
        value = ctx.vocab.attributes_of[row].get(name)
        if not value or any(ch.isdigit() for ch in value) or len(value.split()) > 2:
            continue
        entries = ctx.vocab.entries(normalise(value))
        if entries and entries[0].kind == "attribute" and entries[0].value == value and entries[0].name == name:
            out.append((name, value))
    return out


def _bounds(price: float) -> tuple[float | None, float]:
    step = 1.0 if price < 10 else 5.0 if price < 50 else 10.0 if price < 200 else 50.0
    hi = math.ceil(price * 1.15 / step) * step
    lo = math.floor(price * 0.85 / step) * step
    hi = hi if hi > price else hi + step
    return (lo if 0 < lo < price else None), hi


def _money(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


# ---- evaluation -------------------------------------------------------------------------------
def constraint_pairs(constraints: Constraints, target_item: str | None = None) -> set[tuple[str, str]]:
    """The (field, value) pairs of a set of constraints (values normalised), plus the edit target.

    Free words (``style_words``, ``exclude_words``) count word by word, stop words left out, so
    "matte red" and ["matte", "red"] score the same.
    """
    pairs: set[tuple[str, str]] = set()
    for name in ("categories", "exclude_categories", "brands", "exclude_brands", "like_items", "unlike_items"):
        for value in getattr(constraints, name):
            pairs.add((name, value if name.endswith("items") else normalise(value)))
    for name in ("style_words", "exclude_words"):
        for value in getattr(constraints, name):
            pairs.update((name, w) for w in normalise(value).split() if w not in STOP_WORDS)
    for name in ("attributes", "exclude_attributes"):
        for key, values in getattr(constraints, name).items():
            pairs.update((f"{name}.{key}", normalise(v)) for v in values)
    for name in ("price_min", "price_max"):
        value = getattr(constraints, name)
        if value is not None:
            pairs.add((name, f"{float(value):.2f}"))
    if constraints.price_order:
        pairs.add(("price_order", constraints.price_order))
    if target_item:
        pairs.add(("target_item", target_item))
    return pairs


def is_hard(pair: tuple[str, str]) -> bool:
    """True for a pair of a hard constraint (a filter), see ``genrec.generation.intent.HARD_FIELDS``."""
    return pair[0].split(".", 1)[0] in HARD_FIELDS


def evaluate_instructor(instructor: Instructor, cases: Sequence[InstructionCase], mistakes: int = 20) -> dict[str, Any]:
    """Action accuracy, constraint micro precision / recall / F1 over (field, value) pairs, per family, per split.

    Also the seconds per instruction and the first ``mistakes`` wrong cases. An instructor
    that raises counts the case as wrong (``errors``).
    """
    if not cases:
        raise ValueError("no instruction cases to evaluate")
    rows = []
    for case in cases:
        start = time.perf_counter()
        try:
            intent = instructor.understand(case.instruction, case.feedback, case.dialogue, case.references)
            error = ""
        except Exception as exc:  # a failing instructor is scored, not fatal
            intent, error = None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        rows.append(_score(case, intent, seconds, error))
    report: dict[str, Any] = {"instructor": getattr(instructor, "name", type(instructor).__name__), **_summary(rows)}
    report["seconds_per_instruction"] = float(np.mean([r["seconds"] for r in rows]))
    report["seconds_p95"] = float(np.percentile([r["seconds"] for r in rows], 95))
    report["errors"] = sum(1 for r in rows if r["error"])
    report["per_split"] = {
        name: _summary([r for r in rows if r["held_out"] == flag])
        for name, flag in (("tune", False), ("held_out", True))
        if any(r["held_out"] == flag for r in rows)
    }
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        families[r["family"]].append(r)
    report["per_family"] = {f: _summary(rs) for f, rs in sorted(families.items())}
    report["mistakes"] = [r["show"] for r in rows if not r["exact"]][:mistakes]
    return report


def _score(case: InstructionCase, intent: Intent | None, seconds: float, error: str) -> dict[str, Any]:
    gold = constraint_pairs(case.constraints, case.target_item)
    pred = constraint_pairs(intent.constraints, intent.target_item) if intent else set()
    action = intent.action if intent else "error"
    ok = action == case.action
    want_decline = getattr(case, "declined", None)
    got_decline = intent.declined if intent else None
    hard_gold, hard_pred = {p for p in gold if is_hard(p)}, {p for p in pred if is_hard(p)}
    return {
        "family": case.family,
        "held_out": case.held_out,
        "seconds": seconds,
        "error": error,
        "action_ok": ok,
        "declined_ok": want_decline == got_decline,
        "tp": len(gold & pred),
        "fp": len(pred - gold),
        "fn": len(gold - pred),
        "hard_tp": len(hard_gold & hard_pred),
        "hard_fp": len(hard_pred - hard_gold),
        "hard_fn": len(hard_gold - hard_pred),
        "exact": ok and gold == pred and want_decline == got_decline,
        "show": {
            "id": getattr(case, "case_id", ""),
            "instruction": case.instruction,
            "family": case.family,
            "held_out": case.held_out,
            "gold_action": case.action,
            "action": action,
            "missing": sorted(gold - pred),
            "extra": sorted(pred - gold),
            **({"declined": got_decline, "gold_declined": want_decline} if want_decline != got_decline else {}),
            "error": error,
        },
    }


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    htp, hfp, hfn = (sum(r[k] for r in rows) for k in ("hard_tp", "hard_fp", "hard_fn"))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(rows),
        "counts": {"tp": tp, "fp": fp, "fn": fn, "hard_tp": htp, "hard_fp": hfp, "hard_fn": hfn},
        "actions_right": int(sum(r["action_ok"] for r in rows)),
        "declines_right": int(sum(r["declined_ok"] for r in rows)),
        "action_accuracy": float(np.mean([r["action_ok"] for r in rows])),
        "constraint_precision": precision,
        "constraint_recall": recall,
        "constraint_f1": f1,
        "hard_precision": _ratio(htp, htp + hfp),
        "hard_recall": _ratio(htp, htp + hfn),
        "false_hard_filters": hfp,
        "decline_accuracy": float(np.mean([r["declined_ok"] for r in rows])),
        "exact_match": float(np.mean([r["exact"] for r in rows])),
    }


# ---- command line -----------------------------------------------------------------------------
def load_dataset(name: str) -> Dataset:
    """ "synthetic" (the default synthetic marketplace) or a benchmark dataset of benchmarks/common.py."""
    if name == "synthetic":
        from genrec.data.synthetic import generate

        return generate()
    from benchmarks.common import load_benchmark_dataset

    return load_benchmark_dataset(name)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build the instruction set of a dataset and evaluate one instructor on it; prints JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic", help="'synthetic' or a benchmark name (amazon-beauty)")
    parser.add_argument("--method", default="rules", choices=("rules", "llm", "combined", "combined-llm-first"))
    parser.add_argument("--n", type=int, default=380)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="all", choices=("all", "tune", "held_out"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="", help="write the report here as JSON")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from genrec.generation.instructor_llm import create_instructor

    dataset = load_dataset(args.dataset)
    vocab = CatalogVocabulary.from_dataset(dataset)
    cases = build_instruction_set(dataset, args.n, args.seed, args.split, vocabulary=vocab)
    instructor = create_instructor(args.method, vocab, threads=args.threads)
    report = evaluate_instructor(instructor, cases)
    report.update(dataset=args.dataset, method=args.method, n=len(cases), seed=args.seed, split=args.split)
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return report


if __name__ == "__main__":
    main()


__all__ = [
    "FAMILIES",
    "InstructionCase",
    "build_instruction_set",
    "constraint_pairs",
    "evaluate_instructor",
    "load_dataset",
    "main",
]
