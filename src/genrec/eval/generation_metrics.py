"""Quality metrics for generated item texts: the text analogues of GeneRec's Cos@K, PS@K and FVD.

GeneRec (Wang et al., 2023) judges its AI editor and creator on micro-videos with
  * Cos@K: the cosine similarity between the CLIP feature of the selected / generated
    thumbnail (or video) and the features of the user's K most recently liked micro-videos,
    averaged over those K items and over the evaluated (user, video) pairs;
  * PS@K: the prediction score a trained recommender gives the user for the video carrying the
    selected / generated content, averaged over the evaluated pairs;
  * FVD: the Fréchet distance between the feature distributions of generated and real videos.
genrec evaluates TEXT, so "feature" means the text encoder's unit-norm embedding (MiniLM):

Cosine@K (``cosine_at_k``). For case j with generated embedding g_j and the embeddings
  h_1..h_n of the user's liked items in time order, with L = the last min(K, n) of them:
      Cos@K_j = (1/|L|) * sum_{h in L} cos(g_j, h)
  Users with fewer than K liked items use all they have. The paper's thumbnail feature maps to
  the generated text's embedding, and its liked thumbnails to the liked items' texts.

PS@K (``ps_at_k``). The paper's raw prediction score is not comparable between recommenders
  (SASRec logits, ItemKNN sums, ...), so genrec reports where the generated item's score s_j
  lands among the same recommender's scores c_j1..c_jN of the catalog for that user (NaN
  entries are ignored, e.g. the source item or the history):
      PS_j   = (#{i: c_ji < s_j} + 0.5 * #{i: c_ji = s_j}) / N              (k=None)
      PS@K_j = (#{i in T_K: c_ji < s_j} + 0.5 * #{i in T_K: c_ji = s_j}) / K
  where T_K holds the user's K best-scored catalog items. PS is the generated item's catalog
  percentile (0.5: a median item); PS@K is the share of the user's top-K list it would beat
  (1: it would be ranked first, 0: it would not enter the top K).

Fréchet distance (``frechet_distance``), the FID/FVD analogue: with means mu and covariances S
  of two embedding sets,  FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).  Lower is
  better. With fewer samples than dimensions the covariances are rank-deficient and FD is
  biased upwards, so compare FDs computed from equal sample sizes only.

Novelty (``novelty``): 1 - max_i cos(g_j, c_i) over the corpus items c_i; an exact copy of a
  corpus item scores 0, higher is more novel (at most 2).

Fact keeping (``fact_keeping``): for an edit of a source text, the share of the source's facts
  (``extract_facts``) that the edited text still states unchanged:
      FK = |facts(source) & facts(edit)| / |facts(source)|     (NaN when the source has none)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.linalg

# ---- embedding metrics ------------------------------------------------------------------------


def _unit(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"{name} must be a [n, d] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has NaN or infinite values")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name} has an all-zero vector (cosine undefined)")
    return x / norms


def cosine_at_k(generated: np.ndarray, histories: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Per case: mean cosine between the generated embedding and the user's last ``k`` liked items."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    gen = _unit(generated, "generated")
    if len(histories) != len(gen):
        raise ValueError(f"got {len(gen)} generated vectors but {len(histories)} histories")
    out = np.empty(len(gen))
    for j, (g, hist) in enumerate(zip(gen, histories)):
        hist = np.asarray(hist)
        if hist.ndim != 2 or len(hist) == 0:
            raise ValueError(f"histories[{j}] must be a non-empty [n, d] array of liked-item embeddings")
        out[j] = float((_unit(hist[-k:], f"histories[{j}]") @ g).mean())
    return out


def ps_at_k(gen_scores: np.ndarray, catalog_scores: np.ndarray, k: int | None = None) -> np.ndarray:
    """Per case: the generated item's score as a percentile of the catalog's (or its top-``k``'s) scores."""
    gen = np.asarray(gen_scores, dtype=np.float64).reshape(-1)
    cat = np.asarray(catalog_scores, dtype=np.float64)
    if cat.ndim == 1:
        cat = cat[None, :]
    if cat.ndim != 2 or len(cat) != len(gen):
        raise ValueError(f"catalog_scores must be [n_cases={len(gen)}, n_items], got shape {cat.shape}")
    if np.any(np.isnan(gen)):
        raise ValueError("gen_scores has NaN values")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    out = np.empty(len(gen))
    for j, (s, row) in enumerate(zip(gen, cat)):
        row = row[~np.isnan(row)]
        if k is not None:
            if len(row) < k:
                raise ValueError(f"case {j} has {len(row)} scored catalog items, fewer than k={k}")
            row = np.partition(row, len(row) - k)[len(row) - k :]
        if len(row) == 0:
            raise ValueError(f"case {j} has no scored catalog items")
        out[j] = ((row < s).sum() + 0.5 * (row == s).sum()) / len(row)
    return out


def frechet_distance(x: np.ndarray, y: np.ndarray, eps: float = 1e-6, imag_tol: float = 1e-3) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets [n, d] and [m, d]; lower is better."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for name, a in (("x", x), ("y", y)):
        if a.ndim != 2:
            raise ValueError(f"{name} must be a [n, d] array, got shape {a.shape}")
        if len(a) < 2:
            raise ValueError(f"{name} has {len(a)} sample(s); a covariance needs at least 2")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has NaN or infinite values")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in dimension: {x.shape[1]} vs {y.shape[1]}")
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        # Singular product (fewer samples than dimensions): regularise both covariances.
        offset = eps * np.eye(len(s1))
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(covmean.imag))
        scale = max(1.0, float(np.max(np.abs(covmean.real))))
        if imag > imag_tol * scale:
            raise ValueError(f"matrix square root has a large imaginary part ({imag:.3g}); increase eps")
        covmean = covmean.real
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(fd, 0.0)  # tiny negatives are rounding


def novelty(generated: np.ndarray, corpus: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Per generated text: 1 - cosine to its nearest corpus item (0 for a copy)."""
    gen, cor = _unit(generated, "generated"), _unit(corpus, "corpus")
    if gen.shape[1] != cor.shape[1]:
        raise ValueError(f"generated and corpus differ in dimension: {gen.shape[1]} vs {cor.shape[1]}")
    best = (
        np.concatenate([(gen[lo : lo + chunk] @ cor.T).max(axis=1) for lo in range(0, len(gen), chunk)])
        if len(gen)
        else np.zeros(0)
    )
    return np.clip(1.0 - best, 0.0, 2.0)


# ---- fact keeping -------------------------------------------------------------------------------

# Unit spellings -> canonical unit. Longer spellings first so the regex prefers them.
_UNITS: dict[str, str] = {
    "millilitres": "ml",
    "milliliters": "ml",
    "millilitre": "ml",
    "milliliter": "ml",
    "ml": "ml",
    "litres": "l",
    "liters": "l",
    "litre": "l",
    "liter": "l",
    "l": "l",
    "fl oz": "fl oz",
    "fl. oz": "fl oz",
    "ounces": "oz",
    "ounce": "oz",
    "oz": "oz",
    "kilograms": "kg",
    "kilogram": "kg",
    "kg": "kg",
    "grams": "g",
    "gram": "g",
    "g": "g",
    "milligrams": "mg",
    "mg": "mg",
    "pounds": "lb",
    "pound": "lb",
    "lbs": "lb",
    "lb": "lb",
    "millimetres": "mm",
    "millimeters": "mm",
    "mm": "mm",
    "centimetres": "cm",
    "centimeters": "cm",
    "cm": "cm",
    "metres": "m",
    "meters": "m",
    "m": "m",
    "inches": "in",
    "inch": "in",
    '"': "in",
    "feet": "ft",
    "foot": "ft",
    "ft": "ft",
    "hours": "h",
    "hour": "h",
    "hrs": "h",
    "hr": "h",
    "minutes": "min",
    "minute": "min",
    "min": "min",
    "years": "yr",
    "year": "yr",
    "months": "mo",
    "month": "mo",
    "days": "d",
    "day": "d",
    "mah": "mah",
    "watts": "w",
    "watt": "w",
    "w": "w",
    "volts": "v",
    "volt": "v",
    "v": "v",
    "ghz": "ghz",
    "mhz": "mhz",
    "hz": "hz",
    "tb": "tb",
    "gb": "gb",
    "mb": "mb",
    "mp": "mp",
    "percent": "%",
    "%": "%",
    "servings": "servings",
    "serving": "servings",
    "pack": "pack",
    "packs": "pack",
    "pieces": "pcs",
    "piece": "pcs",
    "pcs": "pcs",
    "count": "count",
    "ct": "count",
    "capsules": "capsules",
    "tablets": "tablets",
    "sheets": "sheets",
}
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    )
}
_AMOUNT = _NUMBER + "|" + "|".join(_NUMBER_WORDS)  # a quantity may spell its number ("two-pack")
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_QUANTITY = re.compile(rf"(?<![\w.])({_AMOUNT})\s?-?\s?({_UNIT_RE})(?![\w])", re.IGNORECASE)
_PRICE = re.compile(
    rf"(?:([$€£¥])\s?({_NUMBER})|({_NUMBER})\s?(usd|eur|gbp|dollars|euros)\b|\b(usd|eur|gbp)\s?({_NUMBER}))",
    re.IGNORECASE,
)
_SHOE_SIZE = re.compile(rf"\b(EU|US|UK)\s?({_NUMBER})\b")
_LETTER_SIZE = re.compile(r"\b(?:size\s+(XXS|XS|S|M|L|XL|XXL|XXXL)|(XXS|XS|S|M|L|XL|XXL|XXXL)\s+size)\b")
_TRAILING_SIZE = re.compile(r",\s*(XXS|XS|S|M|L|XL|XXL|XXXL)\s*$", re.MULTILINE)
_BARE_NUMBER = re.compile(rf"(?<![\w.]){_NUMBER}(?![\w])")


def _num(text: str) -> str:
    value = float(_NUMBER_WORDS.get(text.lower(), text).replace(",", ""))
    return str(int(value)) if value.is_integer() else repr(value)


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text) is not None


def extract_facts(text: str, brand: str | None = None, product_types: Iterable[str] = ()) -> set[str]:
    """The checkable facts a text states, as normalised strings.

    * ``brand:<name>`` when ``brand`` occurs in the text (case-insensitive, whole words);
    * ``price:<amount>`` for "$12.99", "12.99 EUR", "USD 5" (currency symbol or code, any case);
    * ``qty:<number> <unit>`` for a number with a unit, spellings unified ("350 ml",
      "1 litre" -> "qty:1 l", "30-hour" -> "qty:30 h", "two-pack" -> "qty:2 pack",
      "2-year" -> "qty:2 yr");
    * ``size:<value>`` for shoe sizes ("EU 42"), "size M" / "M size", and a trailing ", M";
    * ``num:<number>`` for any other number ("Bluetooth 5.3" -> "num:5.3"), so changed model
      numbers or counts are caught too;
    * ``type:<phrase>`` for each of ``product_types`` (e.g. the catalog's leaf categories, see
      ``product_type_vocabulary``) that occurs in the text.
    Numbers are normalised ("1,000.50" -> "1000.5"), so formatting alone never loses a fact.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    facts: set[str] = set()
    lowered = text.lower()
    if brand and brand.strip() and _has_phrase(lowered, brand.strip()):
        facts.add(f"brand:{brand.strip().lower()}")
    for phrase in product_types:
        if phrase and phrase.strip() and _has_phrase(lowered, phrase.strip()):
            facts.add(f"type:{phrase.strip().lower()}")
    rest = text
    for pattern, render in (
        (_PRICE, lambda m: "price:" + f"{float((m[2] or m[3] or m[6]).replace(',', '')):.2f}"),
        (_SHOE_SIZE, lambda m: f"size:{m[1].upper()} {_num(m[2])}"),
        (_LETTER_SIZE, lambda m: f"size:{(m[1] or m[2]).upper()}"),
        (_TRAILING_SIZE, lambda m: f"size:{m[1].upper()}"),
        (_QUANTITY, lambda m: f"qty:{_num(m[1])} {_UNITS[m[2].lower()]}"),
        (_BARE_NUMBER, lambda m: f"num:{_num(m[0])}"),
    ):
        facts.update(render(m) for m in pattern.finditer(rest))
        rest = pattern.sub(" ", rest)  # a number counts once, under its most specific reading
    return facts


def fact_keeping(source: str, edited: str, brand: str | None = None, product_types: Iterable[str] = ()) -> float:
    """Share of the source text's facts that the edited text still states unchanged (NaN if none)."""
    types = list(product_types)
    before = extract_facts(source, brand, types)
    if not before:
        return math.nan
    return len(before & extract_facts(edited, brand, types)) / len(before)


_NAME_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_NAME_STOPWORDS = frozenset(
    ["and", "the", "for", "with", "from", "this", "that", "its", "your", "our", "are", "you", "all", "new", "set"]
)


def name_words(title: str, brand: str | None = None) -> set[str]:
    """The words that name a product in its title: lower-case words of 3+ letters, without the
    brand's words, units ("ounce", "ml") and a few function words."""
    if not isinstance(title, str):
        raise ValueError(f"title must be a string, got {type(title).__name__}")
    skip = set(_NAME_WORD.findall((brand or "").lower())) | set(_UNITS) | _NAME_STOPWORDS
    return {w for w in _NAME_WORD.findall(title.lower()) if w not in skip}


def name_keeping(source_title: str, edited_title: str, brand: str | None = None) -> float:
    """Share of the source title's name words (``name_words``) the edited title still has (NaN if none).

    Independent of the identity gate's embedding test: "e.l.f. HD Blush, Superstar, 0.34 Ounce" ->
    "e.l.f. Cosmetics Light Dark Serum, 0.34 Ounce, Blush" keeps 1 of {blush, superstar}.
    """
    before = name_words(source_title, brand)
    if not before:
        return math.nan
    return len(before & name_words(edited_title, brand)) / len(before)


def product_type_vocabulary(categories: Iterable[Sequence[str]]) -> list[str]:
    """Product-type phrases for ``extract_facts``: the leaf of each item's category path, longest first."""
    leaves = {str(c[-1]).strip().lower() for c in categories if len(c) and str(c[-1]).strip()}
    return sorted(leaves, key=lambda s: (-len(s), s))


# ---- reporting ----------------------------------------------------------------------------------


def generation_table(
    rows: Sequence[tuple[str, Mapping[str, float]]] | Mapping[str, Mapping[str, float]], digits: int = 4
) -> str:
    """A markdown table: one row per method, one column per metric (first-seen order)."""
    items = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    if not items:
        raise ValueError("generation_table needs at least one (method, metrics) row")
    columns = list(dict.fromkeys(name for _, metrics in items for name in metrics))
    lines = ["| method | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for method, metrics in items:
        cells = []
        for name in columns:
            value = metrics.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("–")
            else:
                cells.append(f"{float(value):.{digits}f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
