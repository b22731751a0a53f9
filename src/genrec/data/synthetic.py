"""A deterministic, seeded synthetic marketplace with learnable sequential structure.

Items belong to latent categories with their own vocabulary; brands sell in a few categories
at a price tier; users mix a few category interests with favourite brands and a price taste,
and their sequences follow habits: stay with the current interest, buy a complement of the
last item, re-buy an earlier item, or drift to another interest. See docs/synthetic.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genrec.config import SyntheticConfig
from genrec.data.dataset import Dataset


@dataclass(frozen=True)
class Attribute:
    """A categorical item attribute: its values and how a value reads in a description."""

    phrase: str  # "{}" marks the value, e.g. "made of {}"
    values: tuple[str, ...]


@dataclass(frozen=True)
class CategorySpec:
    """Vocabulary and prices of one product category."""

    name: str
    types: dict[str, float]  # product type -> price relative to the category's base price
    attributes: dict[str, Attribute]  # the first one is named in the title
    features: tuple[str, ...]  # read after "with"
    styles: tuple[str, ...]  # adjectives
    uses: tuple[str, ...]  # read after "made for"
    sizes: tuple[str, ...] = ()  # smallest first; empty when the category has no sizes
    size_step: float = 0.0  # relative price increase per size step
    base_price: float = 20.0
    complements: dict[str, str] = field(default_factory=dict)  # category -> type that tends to follow


def _a(phrase: str, *values: str) -> Attribute:
    return Attribute(phrase, values)


COLOURS = ("black", "white", "navy", "grey", "olive green", "coral", "sand", "burgundy")

#: The category vocabulary; a config with ``n_categories = k`` uses the first k.
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "running shoes",
        {"road running shoes": 1.0, "trail running shoes": 1.15, "racing flats": 1.5, "walking shoes": 0.8},
        {
            "colour": _a("available in {}", *COLOURS, "neon yellow"),
            "material": _a("made of {}", "engineered mesh", "knit", "synthetic leather", "recycled mesh"),
        },
        ("a cushioned midsole", "a carbon plate", "reflective details", "a wide toe box", "a grippy outsole"),
        ("lightweight", "responsive", "cushioned", "stable", "breathable"),
        ("daily training", "long runs", "race day", "muddy trails"),
        ("EU 38", "EU 40", "EU 42", "EU 44", "EU 46"),
        0.0,
        110.0,
        {"running apparel": "running socks", "sports nutrition": "energy gel"},
    ),
    CategorySpec(
        "running apparel",
        {
            "running socks": 0.35,
            "running shorts": 0.9,
            "running tights": 1.2,
            "running jacket": 2.4,
            "technical t-shirt": 0.9,
        },
        {
            "colour": _a("available in {}", *COLOURS),
            "material": _a("made of {}", "merino wool", "recycled polyester", "nylon", "bamboo fibre"),
        },
        ("flatlock seams", "a zip pocket", "reflective trims", "moisture-wicking panels"),
        ("seamless", "featherweight", "quick-dry", "thermal", "breathable"),
        ("cold morning runs", "summer races", "interval sessions", "marathon training"),
        ("XS", "S", "M", "L", "XL"),
        0.0,
        35.0,
        {"running shoes": "road running shoes"},
    ),
    CategorySpec(
        "sports nutrition",
        {"energy gel": 0.6, "protein powder": 1.8, "electrolyte tablets": 0.7, "energy bar": 0.8},
        {
            "flavour": _a("flavoured with {}", "vanilla", "chocolate", "berry", "lemon", "salted caramel"),
            "diet": _a("certified {}", "vegan", "gluten-free", "caffeine-free", "lactose-free"),
        },
        ("natural ingredients", "fast-acting carbs", "added electrolytes", "no added sugar"),
        ("clean", "high-energy", "recovery", "endurance", "natural"),
        ("long runs", "post-workout recovery", "race fuelling", "gym sessions"),
        ("10 servings", "20 servings", "40 servings"),
        0.7,
        22.0,
        {"running apparel": "technical t-shirt"},
    ),
    CategorySpec(
        "coffee",
        {"whole bean coffee": 1.0, "ground coffee": 0.9, "coffee capsules": 1.2, "cold brew concentrate": 1.1},
        {
            "origin": _a("sourced from {}", "Ethiopia", "Colombia", "Brazil", "Guatemala", "Sumatra", "Kenya"),
            "roast": _a("given a {} roast", "light", "medium", "dark", "espresso"),
        },
        (
            "notes of blueberry",
            "notes of dark chocolate",
            "a nutty finish",
            "bright citrus acidity",
            "a caramel sweetness",
        ),
        ("bold", "smooth", "single-origin", "fair-trade", "small-batch"),
        ("the morning cup", "espresso machines", "filter brewing", "slow weekends"),
        ("250 g", "500 g", "1 kg"),
        0.8,
        14.0,
        {"coffee equipment": "burr grinder"},
    ),
    CategorySpec(
        "coffee equipment",
        {
            "burr grinder": 1.6,
            "french press": 0.7,
            "pour-over dripper": 0.5,
            "gooseneck kettle": 1.0,
            "milk frother": 0.8,
        },
        {
            "material": _a("made of {}", "stainless steel", "borosilicate glass", "ceramic", "bamboo"),
            "colour": _a("finished in {}", "matte black", "white", "copper", "silver"),
        },
        ("a double-wall design", "dishwasher-safe parts", "a non-slip base", "a lifetime warranty"),
        ("minimalist", "barista-grade", "compact", "durable", "elegant"),
        ("home baristas", "office kitchens", "travel brewing", "daily pour-overs"),
        ("350 ml", "600 ml", "1 l"),
        0.15,
        45.0,
        {"coffee": "whole bean coffee", "tea": "loose leaf green tea"},
    ),
    CategorySpec(
        "tea",
        {
            "loose leaf green tea": 1.0,
            "black tea bags": 0.6,
            "herbal infusion": 0.8,
            "matcha powder": 1.8,
            "chai blend": 0.9,
        },
        {
            "flavour": _a("flavoured with {}", "jasmine", "bergamot", "mint", "ginger", "chamomile", "lemongrass"),
            "origin": _a("grown in {}", "Japan", "China", "India", "Sri Lanka", "Kenya"),
        },
        ("a floral aroma", "a delicate sweetness", "a warming finish", "a fresh aftertaste"),
        ("organic", "calming", "aromatic", "hand-picked", "refreshing"),
        ("afternoon breaks", "evening relaxation", "iced tea", "tea ceremonies"),
        ("50 g", "100 g", "250 g"),
        0.7,
        9.0,
        {"coffee equipment": "gooseneck kettle"},
    ),
    CategorySpec(
        "headphones",
        {"over-ear headphones": 1.4, "wireless earbuds": 1.0, "sports earbuds": 0.8, "studio headphones": 1.6},
        {
            "colour": _a("available in {}", "black", "white", "midnight blue", "sand", "red"),
            "connectivity": _a("equipped with {}", "Bluetooth 5.3", "a 3.5 mm jack", "USB-C"),
        },
        (
            "active noise cancelling",
            "30-hour battery life",
            "a transparency mode",
            "a foldable design",
            "sweat resistance",
        ),
        ("immersive", "hi-fi", "warm-sounding", "lightweight", "bass-heavy"),
        ("commuting", "workouts", "long flights", "music production"),
        (),
        0.0,
        90.0,
        {"phone accessories": "charging cable"},
    ),
    CategorySpec(
        "phone accessories",
        {"phone case": 1.0, "charging cable": 0.6, "power bank": 1.8, "screen protector": 0.6, "wireless charger": 1.5},
        {
            "material": _a("made of {}", "silicone", "tempered glass", "aluminium", "recycled plastic"),
            "colour": _a("available in {}", "black", "clear", "blue", "pink", "green"),
        },
        ("a slim profile", "drop protection", "MagSafe compatibility", "a two-year warranty"),
        ("slim", "rugged", "fast", "minimal", "eco-friendly"),
        ("everyday carry", "travel", "the office desk", "outdoor trips"),
        (),
        0.0,
        20.0,
        {"headphones": "wireless earbuds"},
    ),
    CategorySpec(
        "skincare",
        {"moisturizer": 1.0, "cleanser": 0.7, "serum": 1.5, "sunscreen": 0.9, "night cream": 1.3, "toner": 0.8},
        {
            "skin_type": _a("suited to {}", "dry skin", "oily skin", "combination skin", "sensitive skin"),
            "scent": _a("scented with {}", "lavender", "green tea", "rose", "citrus", "cucumber"),
        },
        ("hyaluronic acid", "vitamin C", "niacinamide", "ceramides", "aloe vera"),
        ("gentle", "hydrating", "soothing", "brightening", "nourishing"),
        ("morning routines", "night-time care", "sunny days", "sensitive days"),
        ("30 ml", "50 ml", "100 ml", "200 ml"),
        0.35,
        24.0,
        {"haircare": "shampoo"},
    ),
    CategorySpec(
        "haircare",
        {"shampoo": 1.0, "conditioner": 1.0, "hair mask": 1.4, "hair oil": 1.6, "styling cream": 1.2},
        {
            "hair_type": _a("made for {}", "curly hair", "fine hair", "dry hair", "coloured hair"),
            "scent": _a("scented with {}", "coconut", "argan", "citrus", "mint", "vanilla"),
        },
        ("keratin", "argan oil", "a sulphate-free formula", "shea butter"),
        ("repairing", "volumising", "smoothing", "clarifying", "silky"),
        ("daily washing", "frizz control", "damaged ends", "weekly treatments"),
        ("100 ml", "250 ml", "500 ml"),
        0.4,
        14.0,
        {"skincare": "cleanser"},
    ),
    CategorySpec(
        "cookware",
        {"frying pan": 1.0, "saucepan": 1.0, "dutch oven": 2.2, "wok": 1.1, "stockpot": 1.5},
        {
            "material": _a("made of {}", "cast iron", "stainless steel", "non-stick aluminium", "carbon steel"),
            "colour": _a("finished in {}", "black", "red", "cream", "graphite"),
        },
        ("an induction base", "a glass lid", "a stay-cool handle", "a triple-layer coating"),
        ("heavy-duty", "professional", "everyday", "oven-safe", "classic"),
        ("weeknight dinners", "slow cooking", "stir fries", "family meals"),
        ("20 cm", "24 cm", "28 cm"),
        0.2,
        55.0,
        {"pantry": "extra virgin olive oil"},
    ),
    CategorySpec(
        "pantry",
        {
            "extra virgin olive oil": 1.2,
            "dried pasta": 0.5,
            "spice blend": 0.8,
            "hot sauce": 0.7,
            "balsamic vinegar": 1.1,
        },
        {
            "origin": _a("produced in {}", "Italy", "Spain", "Greece", "Mexico", "India"),
            "diet": _a("certified {}", "organic", "gluten-free", "vegan", "non-GMO"),
        },
        ("small-batch production", "a rich aroma", "no preservatives", "a smoky depth"),
        ("artisanal", "authentic", "gourmet", "rustic", "traditional"),
        ("pasta nights", "salad dressings", "grilling", "everyday cooking"),
        ("single pack", "2-pack", "4-pack"),
        0.8,
        8.0,
        {"cookware": "frying pan"},
    ),
    CategorySpec(
        "yoga",
        {"yoga mat": 1.0, "yoga block": 0.4, "yoga strap": 0.3, "meditation cushion": 0.9},
        {
            "colour": _a("available in {}", "sage", "lilac", "charcoal", "ocean blue", "terracotta"),
            "material": _a("made of {}", "natural rubber", "cork", "TPE foam", "organic cotton"),
        },
        ("alignment lines", "a non-slip surface", "a carry strap", "extra cushioning"),
        ("grippy", "eco", "supportive", "travel", "plush"),
        ("hot yoga", "daily stretching", "pilates", "meditation"),
        (),
        0.0,
        30.0,
        {"running apparel": "running tights"},
    ),
    CategorySpec(
        "camping",
        {"tent": 3.0, "sleeping bag": 1.8, "headlamp": 0.4, "camping stove": 1.0, "water bottle": 0.3},
        {
            "colour": _a("available in {}", "forest green", "orange", "grey", "khaki"),
            "material": _a("made of {}", "ripstop nylon", "aluminium", "down fill", "titanium"),
        },
        ("a waterproof finish", "a compact pack size", "recycled materials", "a lifetime warranty"),
        ("ultralight", "rugged", "weatherproof", "packable", "four-season"),
        ("weekend hikes", "backpacking trips", "festival camping", "alpine treks"),
        (),
        0.0,
        60.0,
        {"sports nutrition": "energy bar"},
    ),
)

#: Brand price tiers: name and price multiplier, with the share of brands in each tier.
TIERS: tuple[tuple[str, float], ...] = (("budget", 0.65), ("mid-range", 1.0), ("premium", 1.5), ("luxury", 2.3))
_TIER_SHARE = (0.25, 0.4, 0.25, 0.1)
_BRAND_HEADS = (
    "Nor",
    "Vel",
    "Kai",
    "Alder",
    "Bram",
    "Cor",
    "Del",
    "Fen",
    "Hal",
    "Ior",
    "Jun",
    "Lum",
    "Mar",
    "Ost",
    "Pell",
    "Quin",
    "Ros",
    "Sol",
    "Tor",
    "Ulm",
    "Vask",
    "Wren",
    "Yar",
    "Zeph",
)
_BRAND_TAILS = ("vik", "a", "ora", "by", "wick", "ton", "ello", "ix", "ent", "ia", "mont", "ford", "io", "sen")
_EVENTS = ("view", "purchase", "like")  # non-dislike events, drawn with _EVENT_SHARE
_EVENT_SHARE = (0.55, 0.3, 0.15)
_P_FOLLOW_TYPE = 0.7  # a complement step picks the category's follow-up product type this often
_T0 = 1_700_000_000  # first possible timestamp (seconds)
_CHUNK_CELLS = 2_000_000  # users x items weights held at once while simulating


#: Bump when the generator changes what it produces, so cached copies in a store are rebuilt.
GENERATOR_VERSION = 1


def generate(config: SyntheticConfig | None = None) -> Dataset:
    """Generate the synthetic marketplace; the same config (and seed) gives the same dataset."""
    cfg = config or SyntheticConfig()
    _check(cfg)
    rng = np.random.default_rng(cfg.seed)
    cats = CATEGORIES[: cfg.n_categories]
    brands = _make_brands(cfg, cats, rng)
    items = _make_items(cfg, cats, brands, rng)
    users = _make_users(cfg, cats, brands, rng)
    user, item, time, event = _simulate(cfg, cats, items, users, rng)

    perm = rng.permutation(cfg.n_items)  # external id number of each item (items are built sorted)
    iw, uw = _width(cfg.n_items), _width(cfg.n_users)
    item_ids = np.array([f"i{p:0{iw}d}" for p in perm], dtype=object)
    user_ids = np.array([f"u{u:0{uw}d}" for u in range(cfg.n_users)], dtype=object)
    interactions = pd.DataFrame(
        {
            "user_id": user_ids[user],
            "item_id": item_ids[item],
            "timestamp": time,
            "event": np.array(_EVENTS + ("dislike",), dtype=object)[event],
            "value": np.full(len(user), np.nan),
        }
    )
    frame = _item_frame(cats, brands, items, rng)
    frame.insert(0, "item_id", item_ids)
    frame = frame.iloc[np.argsort(perm)].reset_index(drop=True)
    users_frame = pd.DataFrame({"user_id": user_ids})
    return Dataset.from_frames("synthetic", interactions, frame, users_frame, keep_items_without_interactions=True)


def render_item(spec: CategorySpec, brand: str, attributes: dict[str, str], variant: int = 0) -> tuple[str, str]:
    """Title and 2-3 sentence description of an item from its brand and attribute record."""
    ptype, style, feature = attributes["product_type"], attributes["style"], attributes["feature"]
    first = attributes[next(iter(spec.attributes))]
    title = f"{brand} {_cap(style)} {_cap(first)} {_cap(ptype)} with {feature}"
    if attributes.get("size"):
        title += f", {attributes['size']}"
    use = attributes["use"]
    many = _is_plural(ptype)
    this, it, comes = ("these", "They are", "come") if many else ("this", "It is", "comes")
    lead = style if many else f"{_article(style)} {style}"
    openers = (
        f"{lead[:1].upper() + lead[1:]} {ptype} from {brand}, made for {use}.",
        f"{brand} designed {this} {style} {ptype} for {use}.",
        f"Made for {use}, {this} {style} {ptype} {comes} from {brand}.",
    )
    phrases = [a.phrase.format(attributes[k]) for k, a in spec.attributes.items()]
    listing = " and ".join([", ".join(phrases[:-1]), phrases[-1]] if len(phrases) > 1 else phrases)
    body = f"{it} {listing}, with {feature}."
    sentences = [openers[variant % 3], body]
    if variant >= 3:
        size = f", in the {attributes['size']} size" if attributes.get("size") else ""
        them = "them" if many else "it"
        sentences.append(f"{brand} sells {them} as a {attributes['price_tier']} pick in {spec.name}{size}.")
    return title, " ".join(sentences)


# ---- building blocks --------------------------------------------------------------------------
@dataclass
class _Brands:
    names: list[str]
    tier: np.ndarray  # index into TIERS
    size: np.ndarray  # relative catalog share
    by_category: list[np.ndarray]  # brand ids selling in each category


@dataclass
class _Items:
    cat: np.ndarray  # items are sorted by (category, product type)
    ptype: np.ndarray  # global product type index
    brand: np.ndarray
    price: np.ndarray
    pop: np.ndarray  # Zipf weight within the category
    z: np.ndarray  # log price standardised within the category
    choice: np.ndarray  # uniform draws [n_items, 7]: attribute values (0-2), style, feature, use, size
    cat_bounds: np.ndarray  # [n_categories + 1] item offsets
    type_bounds: np.ndarray  # [n_types + 1] item offsets
    type_names: list[str]


@dataclass
class _Users:
    interest: np.ndarray  # [n_users, n_categories] mixture weights (0: not an interest)
    affinity: np.ndarray  # [n_users, n_brands] weight multiplier
    price_pref: np.ndarray  # preferred standardised log price
    price_sens: np.ndarray  # how sharply price fit falls off
    cat_pop: np.ndarray  # category popularity, used for new interests
    lengths: np.ndarray


def _check(cfg: SyntheticConfig) -> None:
    problems = []
    if not 1 <= cfg.n_categories <= len(CATEGORIES):
        problems.append(f"n_categories must be in 1..{len(CATEGORIES)}")
    if cfg.n_brands < cfg.n_categories:
        problems.append("n_brands must be at least n_categories (every category needs a brand)")
    if cfg.n_items < cfg.n_categories or cfg.n_users < 1:
        problems.append("need at least one user and one item per category")
    if not 1 <= cfg.min_length <= cfg.mean_length <= cfg.max_length:
        problems.append("need 1 <= min_length <= mean_length <= max_length")
    probs = (cfg.p_complement, cfg.p_repeat, cfg.p_drift, cfg.p_dislike)
    if min(probs) < 0 or cfg.p_complement + cfg.p_repeat > 1 or max(probs) > 1:
        problems.append("probabilities must be in [0, 1] and p_complement + p_repeat <= 1")
    if cfg.interests_per_user < 1 or cfg.popularity_skew < 0 or cfg.brand_affinity < 0:
        problems.append("interests_per_user >= 1, popularity_skew >= 0 and brand_affinity >= 0 required")
    if problems:
        raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))


def _make_brands(cfg: SyntheticConfig, cats: tuple[CategorySpec, ...], rng: np.random.Generator) -> _Brands:
    names: list[str] = []
    for k in rng.permutation(len(_BRAND_HEADS) * len(_BRAND_TAILS)):
        name = _BRAND_HEADS[k // len(_BRAND_TAILS)] + _BRAND_TAILS[k % len(_BRAND_TAILS)]
        if not any(name in other or other in name for other in names):
            names.append(name)
        if len(names) == cfg.n_brands:
            break
    names += [f"Brand{b}" for b in range(len(names), cfg.n_brands)]  # only for very many brands
    index = {c.name: i for i, c in enumerate(cats)}
    sells: list[set[int]] = []
    for b in range(cfg.n_brands):
        home = b % len(cats)
        own = {home}
        extra = rng.choice(3, p=(0.5, 0.35, 0.15))
        near = [index[n] for n in cats[home].complements if n in index]
        for _ in range(extra):  # mostly complementary categories: a running brand also sells socks
            pool = near if near and rng.random() < 0.7 else range(len(cats))
            own.add(int(rng.choice(list(pool))))
        sells.append(own)
    by_category = [np.array([b for b in range(cfg.n_brands) if c in sells[b]]) for c in range(len(cats))]
    tier = rng.choice(len(TIERS), size=cfg.n_brands, p=_TIER_SHARE)
    return _Brands(names, tier, rng.lognormal(0.0, 0.6, cfg.n_brands), by_category)


def _make_items(
    cfg: SyntheticConfig, cats: tuple[CategorySpec, ...], brands: _Brands, rng: np.random.Generator
) -> _Items:
    n, n_cat = cfg.n_items, len(cats)
    type_names = [t for c in cats for t in c.types]
    type_factor = np.array([f for c in cats for f in c.types.values()])
    type_start = np.concatenate([[0], np.cumsum([len(c.types) for c in cats])])
    counts = 1 + rng.multinomial(n - n_cat, rng.dirichlet(np.full(n_cat, 8.0)))
    cat = np.repeat(np.arange(n_cat), counts)
    n_types = np.diff(type_start)
    ptype = np.sort(type_start[cat] + (rng.random(n) * n_types[cat]).astype(np.int64))
    brand = np.empty(n, dtype=np.int64)
    for c in range(n_cat):
        pool = brands.by_category[c]
        w = brands.size[pool] / brands.size[pool].sum()
        brand[cat == c] = rng.choice(pool, size=counts[c], p=w)
    choice = rng.random((n, 7))
    n_sizes = np.array([max(len(c.sizes), 1) for c in cats])
    size_idx = (choice[:, 6] * n_sizes[cat]).astype(np.int64)
    size_step = np.array([c.size_step for c in cats])
    base = np.array([c.base_price for c in cats])
    tier_mult = np.array([m for _, m in TIERS])
    raw = base[cat] * type_factor[ptype] * tier_mult[brands.tier[brand]] * (1 + size_step[cat] * size_idx)
    price = np.maximum(np.round(raw * rng.lognormal(0.0, 0.15, n), 2), 0.5)
    # Zipf popularity by a random rank within the category.
    order = np.lexsort((rng.random(n), cat))
    cat_bounds = np.concatenate([[0], np.cumsum(counts)])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - cat_bounds[cat[order]]
    pop = (rank + 1.0) ** -cfg.popularity_skew
    logp = np.log(price)
    mean = np.bincount(cat, logp) / counts
    std = np.sqrt(np.bincount(cat, (logp - mean[cat]) ** 2) / counts) + 1e-6
    z = (logp - mean[cat]) / std[cat]
    type_bounds = np.searchsorted(ptype, np.arange(len(type_names) + 1))
    return _Items(cat, ptype, brand, price, pop, z, choice, cat_bounds, type_bounds, type_names)


def _make_users(
    cfg: SyntheticConfig, cats: tuple[CategorySpec, ...], brands: _Brands, rng: np.random.Generator
) -> _Users:
    n, n_cat = cfg.n_users, len(cats)
    cat_pop = rng.gamma(2.0, size=n_cat)
    cat_pop /= cat_pop.sum()
    k = min(cfg.interests_per_user, n_cat)
    gumbel = np.log(cat_pop) - np.log(-np.log(rng.random((n, n_cat))))
    chosen = np.argsort(-gumbel, axis=1)[:, :k]  # k distinct interests, popular categories more often
    interest = np.zeros((n, n_cat))
    np.put_along_axis(interest, chosen, rng.gamma(1.0, size=(n, k)), axis=1)
    affinity = np.ones((n, cfg.n_brands))
    for c in range(n_cat):  # one favourite brand per interest
        rows = np.flatnonzero(interest[:, c] > 0)
        pool = brands.by_category[c]
        fav = rng.choice(pool, size=len(rows), p=brands.size[pool] / brands.size[pool].sum())
        affinity[rows, fav] = 1.0 + cfg.brand_affinity
    extra = cfg.mean_length - cfg.min_length
    p = 2.0 / (2.0 + extra)
    lengths = np.minimum(cfg.min_length + rng.negative_binomial(2, p, n), cfg.max_length)
    return _Users(interest, affinity, rng.normal(0.0, 0.8, n), rng.uniform(0.2, 2.0, n), cat_pop, lengths)


def _simulate(
    cfg: SyntheticConfig,
    cats: tuple[CategorySpec, ...],
    items: _Items,
    users: _Users,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per user: item sequence, timestamps and event codes; returned flat, ordered by user and time."""
    comp_cat, comp_type = _complement_table(cats, items.type_names)
    n_comp = (comp_cat >= 0).sum(axis=1)
    type_size = np.diff(items.type_bounds)
    cat_lo, cat_hi = items.cat_bounds[:-1], items.cat_bounds[1:]
    n_items = len(items.cat)
    out_user, out_item, out_event = [], [], []
    step = max(1, _CHUNK_CELLS // n_items)
    for start in range(0, cfg.n_users, step):
        rows = np.arange(start, min(start + step, cfg.n_users))
        b = len(rows)
        gap = items.z[None, :] - users.price_pref[rows, None]
        fit = np.exp(-0.5 * users.price_sens[rows, None] * gap**2)
        weight = items.pop[None, :] * users.affinity[rows][:, items.brand] * fit + 1e-9
        cum = np.concatenate([[0.0], np.cumsum(weight.ravel())])
        offset = np.arange(b) * n_items

        def draw(
            lo: np.ndarray, hi: np.ndarray, cum: np.ndarray = cum, offset: np.ndarray = offset, b: int = b
        ) -> np.ndarray:
            a, z = cum[offset + lo], cum[offset + hi]
            flat = np.searchsorted(cum, a + rng.random(b) * (z - a), side="right") - 1
            return np.clip(flat - offset, lo, hi - 1)

        interest = users.interest[rows].copy()
        cur = _pick(interest, rng.random(b))
        steps = int(users.lengths[rows].max())
        seq = np.zeros((b, steps), dtype=np.int64)
        event = np.zeros((b, steps), dtype=np.int8)
        for t in range(steps):
            r = rng.random(b)
            repeat = np.zeros(b, dtype=bool)
            comp = np.zeros(b, dtype=bool)
            lo, hi = cat_lo[cur], cat_hi[cur]
            if t > 0:
                last_cat = items.cat[seq[:, t - 1]]
                repeat = r < cfg.p_repeat
                comp = ~repeat & (r < cfg.p_repeat + cfg.p_complement) & (n_comp[last_cat] > 0)
                drift = ~repeat & ~comp & (rng.random(b) < cfg.p_drift)
                if drift.any():
                    cur[drift] = _drift(interest, np.flatnonzero(drift), cur[drift], users.cat_pop, rng)
                    lo, hi = cat_lo[cur], cat_hi[cur]
                j = (rng.random(b) * np.maximum(n_comp[last_cat], 1)).astype(np.int64)
                ccat, ctype = comp_cat[last_cat, j], comp_type[last_cat, j]
                follow = comp & (rng.random(b) < _P_FOLLOW_TYPE) & (type_size[ctype] > 0)
                lo = np.where(comp, cat_lo[ccat], lo)
                hi = np.where(comp, cat_hi[ccat], hi)
                lo = np.where(follow, items.type_bounds[ctype], lo)
                hi = np.where(follow, items.type_bounds[ctype + 1], hi)
            item = draw(lo, hi)
            if t > 0:  # rarely the same item twice in a row unless it is a deliberate repeat
                again = item == seq[:, t - 1]
                item = np.where(again, draw(lo, hi), item)
            dislike = ~repeat & ~comp & (rng.random(b) < cfg.p_dislike)
            item = np.where(dislike, lo + (rng.random(b) * (hi - lo)).astype(np.int64), item)
            if t > 0:
                earlier = seq[np.arange(b), (rng.random(b) * t).astype(np.int64)]
                item = np.where(repeat, earlier, item)
            seq[:, t] = item
            kind = np.searchsorted(np.cumsum(_EVENT_SHARE), rng.random(b) * 0.999999)
            event[:, t] = np.where(dislike, len(_EVENTS), kind)
        keep = np.arange(steps)[None, :] < users.lengths[rows, None]
        out_user.append(np.broadcast_to(rows[:, None], keep.shape)[keep])
        out_item.append(seq[keep])
        out_event.append(event[keep])
    user = np.concatenate(out_user)
    time = _timestamps(users.lengths, rng)
    return user, np.concatenate(out_item), time, np.concatenate(out_event)


def _complement_table(cats: tuple[CategorySpec, ...], type_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per category, up to two complementary categories and their follow-up product types (-1: none)."""
    index = {c.name: i for i, c in enumerate(cats)}
    comp_cat = np.full((len(cats), 2), -1)
    comp_type = np.full((len(cats), 2), -1)
    for c, spec in enumerate(cats):
        pairs = [(index[name], type_names.index(t)) for name, t in spec.complements.items() if name in index]
        for j, (cc, tt) in enumerate(pairs[:2]):
            comp_cat[c, j], comp_type[c, j] = cc, tt
    return comp_cat, comp_type


def _pick(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One column per row, drawn in proportion to the row's weights."""
    cum = np.cumsum(weights, axis=1)
    return np.minimum((cum < u[:, None] * cum[:, -1:]).sum(axis=1), weights.shape[1] - 1)


def _drift(
    interest: np.ndarray, rows: np.ndarray, cur: np.ndarray, cat_pop: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """New current interest of drifting users: another of theirs, or (half the time) a new one."""
    others = interest[rows].copy()
    others[np.arange(len(rows)), cur] = 0.0
    switched = _pick(others, rng.random(len(rows)))
    new = rng.choice(len(cat_pop), size=len(rows), p=cat_pop)
    add = (rng.random(len(rows)) < 0.5) | (others.sum(axis=1) == 0)
    mean = interest[rows].sum(axis=1) / (interest[rows] > 0).sum(axis=1)
    grown = np.maximum(interest[rows[add], new[add]], mean[add])
    interest[rows[add], new[add]] = grown
    return np.where(add, new, switched)


def _timestamps(lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Increasing times per user: minutes apart within a session, days apart between sessions."""
    total = int(lengths.sum())
    new_session = rng.random(total) < 0.25
    gap = np.where(new_session, rng.exponential(3 * 86400, total), rng.exponential(240, total))
    gap = gap.astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gap[starts] = rng.integers(0, 120 * 86400, len(lengths))  # the first event: a start within 120 days
    clock = np.cumsum(gap)
    return _T0 + clock - np.repeat(clock[starts] - gap[starts], lengths)


def _item_frame(
    cats: tuple[CategorySpec, ...], brands: _Brands, items: _Items, rng: np.random.Generator
) -> pd.DataFrame:
    titles, descriptions, categories, attributes, brand_names = [], [], [], [], []
    variants = rng.integers(0, 6, len(items.cat))
    for i in range(len(items.cat)):
        spec = cats[items.cat[i]]
        u = items.choice[i]
        record = {"product_type": items.type_names[items.ptype[i]]}
        for k, (key, attr) in enumerate(spec.attributes.items()):
            record[key] = attr.values[int(u[k] * len(attr.values))]
        record["style"] = spec.styles[int(u[3] * len(spec.styles))]
        record["feature"] = spec.features[int(u[4] * len(spec.features))]
        record["use"] = spec.uses[int(u[5] * len(spec.uses))]
        if spec.sizes:
            record["size"] = spec.sizes[int(u[6] * len(spec.sizes))]
        record["price_tier"] = TIERS[brands.tier[items.brand[i]]][0]
        brand = brands.names[items.brand[i]]
        title, description = render_item(spec, brand, record, int(variants[i]))
        titles.append(title)
        descriptions.append(description)
        categories.append([spec.name, record["product_type"]])
        attributes.append(record)
        brand_names.append(brand)
    return pd.DataFrame(
        {
            "title": titles,
            "description": descriptions,
            "brand": brand_names,
            "categories": categories,
            "price": items.price,
            "attributes": attributes,
        }
    )


def _cap(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _is_plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _width(n: int) -> int:
    return max(5, len(str(max(n - 1, 0))))


__all__ = ["CATEGORIES", "TIERS", "Attribute", "CategorySpec", "generate", "render_item"]
