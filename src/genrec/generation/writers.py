"""The two item writers behind one interface: genrec's own text generator and the LLM backend.

Both rewrite an existing item for a user (edit) or write a new one (create), embed the keyed
green-list watermark while sampling, and return item-shaped drafts. The editor and the creator
(``editor.py``, ``creator.py``) turn drafts into ``GeneratedItem`` with provenance.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrec.data.dataset import is_missing, optional_float
from genrec.fidelity._catalog import BrandLexicon
from genrec.fidelity._text import norm
from genrec.fidelity.watermark import GreenListWatermark
from genrec.generation.anchors import anchor_title, missing_facts, strip_unsupported_numbers, tidy
from genrec.generation.intent import Constraints, Guidance
from genrec.generation.llm_writer import LLMWriter, choose_price, scrub_brands
from genrec.generation.phrases import describe_with_facts, fact_phrases
from genrec.generation.textgen import GENERATOR_NAME, TextGenerator, guidance_condition, mix_conditions
from genrec.llm.base import LLMBackend


@dataclass
class Draft:
    """A written item before checks: catalog fields plus how it was made."""

    title: str
    description: str
    brand: str | None
    categories: list[str]
    price: float | None
    seconds: float
    token_ids: list[int] = field(default_factory=list)
    seed: int | None = None  # the sampling call's seed
    notes: list[str] = field(default_factory=list)
    watermarked: bool = True  # False: nothing was sampled freely (a "facts" description), so nothing carries a mark
    sample: int | None = None  # position among the ``batch`` texts sampled together from ``seed`` (None: alone)
    batch: int | None = None


#: How genrec's own generator rewrites an item (see ``TextGenWriter``).
REWRITE_MODES: tuple[str, ...] = ("append", "description", "facts", "anchored", "full")


def resolve_rewrite(mode: str, items: Any, min_share: float = 0.5) -> str:
    """The rewrite mode(s) for a catalog. "auto": when at least ``min_share`` of the items (a DataFrame
    with a description column) have a description, half the drafts "description" (a new description
    under the kept title) and half "facts" (the source's own category names chosen for the user, then
    its description); else every draft "facts" (a generator trained on bare titles writes no useful
    description, and new titles rename the product). Chosen on validation users
    (benchmarks/select_rewrite.py)."""
    if mode != "auto":
        if not mode or not all(m in REWRITE_MODES for m in mode.split("+")):
            raise ValueError(f"rewrite must be 'auto', one of {REWRITE_MODES} or several joined by '+', not {mode!r}")
        return mode
    return "description+facts" if has_descriptions(items, min_share) else "facts"


def has_descriptions(items: Any, min_share: float = 0.5) -> bool:
    """True when at least ``min_share`` of the items (a DataFrame) have a non-empty description."""
    if "description" not in items or not len(items):
        return False
    described = items["description"].fillna("").astype(str).str.strip().ne("")
    return float(np.mean(described)) >= min_share


class Writer(ABC):
    """Writes item texts for a user; ``tokenize`` and ``vocab_size`` let the watermark be detected."""

    name: str = "writer"
    version: str = "1"

    def __init__(self, watermark_key: str | None = None) -> None:
        self.watermark_key = watermark_key
        self._watermark: GreenListWatermark | None = None

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Width of the logits the watermark sees."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of a text as this writer would have generated it."""

    @property
    def watermark(self) -> GreenListWatermark | None:
        """The sampling-time watermark (None when no key is set)."""
        if self.watermark_key and self._watermark is None:
            self._watermark = GreenListWatermark(self.vocab_size, self.watermark_key)
        return self._watermark

    def detector(self) -> Any:
        """text -> WatermarkScore, for the identifiability check."""
        mark = self.watermark
        if mark is None:
            raise RuntimeError(f"writer {self.name} has no watermark key")
        return lambda text: mark.detect_text(text, self.tokenize)

    def processors(self) -> list[Any]:
        """Logits processors applied while sampling."""
        return [self.watermark] if self.watermark is not None else []

    @abstractmethod
    def rewrite(
        self,
        source: dict[str, Any],
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """``n`` rewrites of ``source`` for the user."""

    @abstractmethod
    def create(
        self,
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """``n`` new items for the user."""


class TextGenWriter(Writer):
    """genrec's own conditional generator: the condition mixes the guidance (and the source, for edits)."""

    name = GENERATOR_NAME

    def __init__(
        self,
        generator: TextGenerator,
        item_embeddings: np.ndarray,
        watermark_key: str | None = None,
        source_weight: float = 0.6,
        temperature: float | None = None,
        top_p: float | None = None,
        guidance_weights: dict[str, float] | None = None,
        brands: Sequence[str] = (),
        rewrite: str = "description",
        min_description_tokens: int = 0,
        fact_guard: bool = True,
        brand_lexicon: BrandLexicon | None = None,
        common_categories: Sequence[str] = (),
        max_fact_phrases: int = 3,
    ) -> None:
        super().__init__(watermark_key)
        self.modes = tuple(rewrite.split("+"))
        if not all(m in REWRITE_MODES for m in self.modes):
            raise ValueError(f"rewrite must be one of {REWRITE_MODES} or several joined by '+', not {rewrite!r}")
        # modes joined by "+" share the drafts (e.g. "append+anchored");
        # "append": title and description stay verbatim, the description gets a new ending;
        # "description": the source's title (its facts) stays verbatim, a new description is written;
        # "facts": the title stays verbatim, the description is a list of the source's own category
        # names chosen by the generator (``phrases``; ``common_categories`` are never stated);
        # "anchored": a new title after the brand, then the source's facts it misses (``anchors``);
        # "full": title (starting with the brand) and description are both written anew
        self.rewrite_mode = rewrite
        self.min_description_tokens = min_description_tokens
        # fact_guard: an edit loses other catalog brands' names, and a new title the numbers its
        # source does not state (the authenticity repair cuts such sentences from descriptions)
        self.fact_guard = fact_guard
        self.brand_lexicon = brand_lexicon  # the brands the authenticity check spots in free text
        self.common_categories = set(common_categories)
        self.max_fact_phrases = max_fact_phrases
        # the catalog's brands: a created item must not present itself as one of them (unless asked)
        self.brands = sorted({str(b) for b in brands if b}, key=len, reverse=True)
        self.generator = generator
        self.emb = np.asarray(item_embeddings, dtype=np.float32)
        self.source_weight = source_weight
        self.temperature, self.top_p = temperature, top_p
        self.guidance_weights = {"disliked": 0.0, "category": 2.0, **(guidance_weights or {})}
        self.version = "textgen-1"

    @property
    def vocab_size(self) -> int:
        """Width of the generator's logits."""
        return self.generator.vocab_size

    def tokenize(self, text: str) -> list[int]:
        """Content ids of ``text``."""
        return self.generator.tokenize(text)

    def condition(self, guidance: Guidance) -> np.ndarray | None:
        """The guidance mix this writer conditions on."""
        known = {"instruction", "user", "liked", *guidance.extras}
        return guidance_condition(guidance, {k: w for k, w in self.guidance_weights.items() if k in known})

    def rewrite(
        self,
        source: dict[str, Any],
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """Rewrites conditioned on guidance + the source embedding, ``n`` split evenly over the
        writer's modes (e.g. "append+anchored": cautious and bold drafts for the ranking to choose from)."""
        row = int(source["_row"])
        cond = self.condition(guidance)
        parts = [self.emb[row]] if cond is None else [cond, self.emb[row]]
        weights = [1.0] if cond is None else [1 - self.source_weight, self.source_weight]
        mixed = mix_conditions(parts, weights)
        drafts: list[Draft] = []
        for k, mode in enumerate(self.modes):
            count = n // len(self.modes) + (k < n % len(self.modes))
            if count:
                drafts += self._rewrite_as(mode, source, mixed, constraints, count, seed + 7919 * k)
        return drafts

    def _rewrite_as(
        self, mode: str, source: dict[str, Any], cond: np.ndarray, constraints: Constraints, n: int, seed: int
    ) -> list[Draft]:
        """``n`` drafts in one rewrite mode (see ``REWRITE_MODES``)."""
        if mode == "facts":
            return self._facts(source, cond, constraints, n, seed)
        brand = _str(source.get("brand"))
        kept = brand if brand and brand not in constraints.exclude_brands else None
        title = _str(source.get("title"))
        source_text = f"{title}\n{_str(source.get('description'))}"
        excluded = bool(brand) and brand in constraints.exclude_brands  # then the title cannot stay
        room = self.generator.config.max_length
        given = _str(source.get("description")) if mode == "append" else ""
        if given and len(self.generator.tokenize(f"{title} {given}")) > room - max(self.min_description_tokens, 8) - 4:
            given = ""  # no room to add to this description: write a new one
        # a title taking over half the generator's context leaves too little room: it is rewritten (anchored)
        kept_title = (
            mode in ("append", "description")
            and bool(title)
            and not excluded
            and len(self.generator.tokenize(title)) <= room // 2
        )
        if kept_title:
            texts = self.generator.generate(
                cond[None, :],
                n_per_cond=n,
                seed=seed,
                title=title,
                description=given or None,
                temperature=self.temperature,
                top_p=self.top_p,
                logits_processors=self.processors(),
                min_description_tokens=self.min_description_tokens if given else 0,
            )
        else:
            texts = self.generator.generate(
                cond[None, :],
                n_per_cond=n,
                seed=seed,
                prefix=kept,
                temperature=self.temperature,
                top_p=self.top_p,
                logits_processors=self.processors(),
            )
        price = optional_float(source.get("price"))
        # brands the draft may name: the kept brand and those the source names, never an excluded one
        own = {norm(brand)} | ({m.brand for m in self.brand_lexicon.find(source_text)} if self.brand_lexicon else set())
        own -= {norm(b) for b in constraints.exclude_brands}
        drafts = []
        for i, t in enumerate(texts):
            notes: list[str] = []
            new_title, description = t.title, t.description
            if self.fact_guard and self.brand_lexicon is not None:
                description = _drop_brands(description, self.brand_lexicon, own, notes)
                if not kept_title:
                    new_title = _drop_brands(new_title, self.brand_lexicon, own, notes)
            if self.fact_guard and not kept_title:
                new_title = strip_unsupported_numbers(new_title, source_text, notes)
            if not kept_title and kept and not new_title.lower().startswith(kept.lower()):
                new_title = f"{kept} {new_title}".strip()
            if mode != "full" and not kept_title:  # "anchored", and a long title's fallback
                new_title = anchor_title(
                    new_title,
                    missing_facts(
                        source_text, f"{new_title}\n{description}", [str(c) for c in source.get("categories") or []]
                    ),
                )
            drafts.append(
                Draft(
                    new_title,
                    description,
                    kept,
                    list(source.get("categories") or []),
                    price,
                    t.seconds,
                    list(t.token_ids),
                    seed,
                    notes,
                    sample=i,
                    batch=len(texts),
                )
            )
        return drafts

    def _facts(
        self, source: dict[str, Any], cond: np.ndarray, constraints: Constraints, n: int, seed: int
    ) -> list[Draft]:
        """Drafts with the source's title and a description of its own category names (none when the
        source has no unstated category, its brand is excluded, or its title leaves no room)."""
        brand, title = _str(source.get("brand")), _str(source.get("title"))
        categories = [str(c) for c in source.get("categories") or []]
        phrases = fact_phrases(title, categories, self.common_categories)
        room = self.generator.config.max_length - 3 - max((len(self.tokenize(f", {p}")) for p in phrases), default=0)
        if (
            not phrases
            or not title
            or (brand and brand in constraints.exclude_brands)
            or len(self.tokenize(title)) > room
        ):
            return []
        texts = describe_with_facts(
            self.generator, title, phrases, cond[None, :], n, seed, self.max_fact_phrases, self.temperature, self.top_p
        )
        given = _str(source.get("description"))
        price = optional_float(source.get("price"))
        return [
            Draft(
                title,
                f"{t.description}. {given}" if given else t.description,
                brand or None,
                categories,
                price,
                t.seconds,
                list(t.token_ids),
                seed,
                ["description: the source's own category names"],
                watermarked=False,
                sample=i,
                batch=len(texts),
            )
            for i, t in enumerate(texts)
        ]

    def create(
        self,
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """New texts conditioned on the guidance; brand only when asked, price inside the asked range."""
        cond = self.condition(guidance)
        brand = constraints.brands[0] if constraints.brands else None
        texts = self.generator.generate(
            None if cond is None else cond[None, :],
            n_per_cond=n,
            seed=seed,
            prefix=brand,
            temperature=self.temperature,
            top_p=self.top_p,
            logits_processors=self.processors(),
        )
        categories = list(constraints.categories) or _majority_category(liked)
        price = choose_price(liked, constraints, categories)
        drafts = []
        for i, t in enumerate(texts):
            notes: list[str] = []
            title, description = scrub_brands(t.title, t.description, [b for b in self.brands if b != brand], notes)
            if brand and not title.lower().startswith(brand.lower()):
                title = f"{brand} {title}"
            drafts.append(
                Draft(
                    title,
                    description,
                    brand,
                    categories,
                    price,
                    t.seconds,
                    list(t.token_ids),
                    seed,
                    notes,
                    sample=i,
                    batch=len(texts),
                )
            )
        return drafts


class LLMItemWriter(Writer):
    """The LLM backend, prompted with the item, the user's liked items and the instruction."""

    def __init__(
        self, backend: LLMBackend, watermark_key: str | None = None, temperature: float = 0.7, top_p: float = 0.9
    ) -> None:
        super().__init__(watermark_key)
        self.backend = backend
        self.writer = LLMWriter(backend)
        self.temperature, self.top_p = temperature, top_p
        self.name = f"llm:{getattr(backend, 'name', 'llm')}"
        self.version = str(getattr(backend, "version", "1"))

    @property
    def vocab_size(self) -> int:
        """Width of the model's logits (may exceed the tokenizer's vocabulary)."""
        model = self.backend.model  # type: ignore[attr-defined]
        return int(model.get_output_embeddings().weight.shape[0])

    def tokenize(self, text: str) -> list[int]:
        """The backend's token ids."""
        return self.backend.tokenize(text)

    def rewrite(
        self,
        source: dict[str, Any],
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """LLM rewrites (brand and quantities repaired by LLMWriter)."""
        out = self.writer.rewrite(
            source,
            list(liked),
            instruction,
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=seed,
            logits_processors=self.processors(),
            constraints=constraints,
        )
        return [_draft(d) for d in out]

    def create(
        self,
        liked: Sequence[dict[str, Any]],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints,
        n: int,
        seed: int,
    ) -> list[Draft]:
        """LLM creations."""
        out = self.writer.create(
            list(liked),
            instruction,
            constraints,
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=seed,
            logits_processors=self.processors(),
        )
        return [_draft(d) for d in out]


def _draft(d: dict[str, Any]) -> Draft:
    return Draft(
        d["title"],
        d["description"],
        d.get("brand"),
        list(d.get("categories") or []),
        d.get("price"),
        float(d.get("seconds", 0.0)),
        list(d.get("token_ids") or []),
        d.get("seed"),
        list(d.get("repairs") or []),
    )


def _drop_brands(text: str, lexicon: BrandLexicon, allowed: set[str], notes: list[str]) -> str:
    """``text`` without the catalog brands it names that are not in ``allowed`` (noted in ``notes``)."""
    for m in reversed(lexicon.find(text)):
        if m.brand not in allowed:
            text = text[: m.start] + text[m.end :]
            notes.append(f"brand {m.brand!r} removed")
    return tidy(text)


def _majority_category(liked: Sequence[dict[str, Any]]) -> list[str]:
    """The most common category path among liked items ([] if none)."""
    paths = [tuple(x.get("categories") or []) for x in liked if x.get("categories")]
    if not paths:
        return []
    best = max(set(paths), key=lambda p: (paths.count(p), p))
    return list(best)


def _str(value: Any) -> str:
    if is_missing(value):
        return ""
    return re.sub(r"\s+", " ", str(value)).strip()
