"""The LLM instructor (a chat model fills a small JSON form), its validation, and rules + LLM combined.

The model sees the catalog's vocabulary (most frequent categories and brands, the price range)
and a few worked examples, including negations, and answers with an ``IntentDraft``. By default
the answer is decoded under the form's grammar (``genrec.llm.grammar``: keys and punctuation are
fixed, each value keeps its type, the action is one of four), so a small local model always gives
JSON that parses; backends that cannot constrain decoding are asked through ``structured``.
Nothing it says is trusted: categories and brands must name catalog values (exactly, by a fuzzy
match or, for categories, by embedding similarity) and must be grounded in the instruction's own
words; a wanted brand or category the instruction negates ("nothing by Suave") becomes an
exclusion; prices must be written in the instruction; references and "another brand" are
resolved against the user's feedback in code. The rules' action policy (a request with no signal
gets the clarifying question, generation after repeated rejections, edits need a target) and
their recognition of requests to decline are applied afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, Field, field_validator
from rapidfuzz import fuzz

from genrec.config import InstructorConfig, LLMConfig
from genrec.encoders.text import TextEncoder
from genrec.generation.declines import declined_kind
from genrec.generation.instructor import (
    Instructor,
    Parse,
    References,
    RuleInstructor,
    action_cues,
    asks_for_recommendations,
    find_prices,
    negated,
)
from genrec.generation.intent import ACTIONS, Action, Constraints, Feedback, Intent, Turn
from genrec.generation.vocabulary import CatalogVocabulary, normalise
from genrec.llm.base import LLMBackend, Message, StructuredOutputError
from genrec.llm.grammar import schema_grammar


class IntentDraft(BaseModel):
    """What the LLM is asked to fill in (flat and short: the default model is small)."""

    action: str = Field(description="retrieve, edit, create or clarify")
    categories: list[str] = Field(default_factory=list, description="wanted product categories")
    brands: list[str] = Field(default_factory=list, description="wanted brands")
    not_categories: list[str] = Field(default_factory=list, description="unwanted categories")
    not_brands: list[str] = Field(default_factory=list, description="unwanted brands")
    price_min: float | None = Field(default=None, description="lowest price")
    price_max: float | None = Field(default=None, description="highest price")
    like: str | None = Field(default=None, description="'last purchase', 'this', or a product title to match")
    unlike: str | None = Field(default=None, description="'last purchase', 'this', or a product title to avoid")
    other_brand: bool = Field(default=False, description="true if the user wants a different brand")

    @field_validator("categories", "brands", "not_categories", "not_brands", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> list[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return [str(v) for v in value if v is not None and str(v).strip()]

    @field_validator("price_min", "price_max", mode="before")
    @classmethod
    def _price(cls, value: Any) -> float | None:
        if value is None or value == "" or value is False:
            return None
        if isinstance(value, str):
            m = re.search(r"\d+(?:\.\d+)?", value.replace(",", ""))
            return float(m.group()) if m else None
        return float(value)

    @field_validator("like", "unlike", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        if value in (None, "", False, "null", "none"):
            return None
        return str(value)

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str:
        return str(value or "").strip().lower()


#: Worked examples, the vague one first: small models tend to repeat the last answer they saw.
#: Each answer is shown whole, in the form's key order, as grammar decoding writes it.
_EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("hmm", {"action": "clarify"}),
    ("show me {cat0} under $30", {"action": "retrieve", "categories": ["{cat0}"], "price_max": 30}),
    ("{cat1} but nothing by {brand0}", {"action": "retrieve", "categories": ["{cat1}"], "not_brands": ["{brand0}"]}),
    (
        "something like my last purchase but another brand",
        {"action": "retrieve", "like": "last purchase", "other_brand": True},
    ),
    ("anything except {cat2}", {"action": "retrieve", "not_categories": ["{cat2}"]}),
    ("make this one cheaper", {"action": "edit", "like": "this"}),
    (
        "design a new {cat0} between 20 and 40 dollars",
        {"action": "create", "categories": ["{cat0}"], "price_min": 20, "price_max": 40},
    ),
    ("{brand0} {cat1} please", {"action": "retrieve", "categories": ["{cat1}"], "brands": ["{brand0}"]}),
)
_HISTORY_WORDS = ("last purchase", "last order", "bought", "purchase", "last one", "my last")
_POINTER_WORDS = ("this", "that", "it", "this one", "that one", "the one you showed")


class LLMInstructor(Instructor):
    """A chat LLM reads the instruction into an ``IntentDraft``; code validates it against the catalog."""

    name = "llm"

    def __init__(
        self,
        vocabulary: CatalogVocabulary,
        backend: LLMBackend,
        config: InstructorConfig | None = None,
        encoder: TextEncoder | None = None,
        max_brands: int = 25,
        max_categories: int = 30,
        category_threshold: float = 0.65,
        attempts: int = 2,
        max_new_tokens: int = 80,
        backend_structured: bool = False,
        grammar: bool = True,
    ) -> None:
        super().__init__(vocabulary, config, encoder)
        self.backend = backend
        self.max_brands, self.max_categories = max_brands, max_categories
        self.category_threshold = category_threshold
        self.attempts, self.max_new_tokens = attempts, max_new_tokens
        self.backend_structured = backend_structured
        self.grammar = grammar
        # every key written: SmolLM2 closes a compact object right after "action" (measured on the
        # hand-written dev split), while with the whole form it fills in the fields it can
        self._form = schema_grammar(IntentDraft, {"action": list(ACTIONS)}, max_chars=60, max_items=3, optional=False)
        self._drafts: dict[str, IntentDraft | None] = {}  # greedy answers repeat: ask once per text
        self._category_matrix: np.ndarray | None = None
        self.asked = 0  # instructions the LLM was asked about
        self.failures = 0  # ... and gave no valid answer for
        self.last_output = ""  # the raw answer to the last instruction
        self._system = self._system_prompt()

    # ---- prompting ---------------------------------------------------------------------------
    def _system_prompt(self) -> str:
        cats = self.vocab.top("category", self.max_categories)
        brands = self.vocab.top("brand", self.max_brands)
        prices = self.vocab.price_range
        lines = [
            "You turn a shopper's request into JSON for a shop's search.",
            "action: retrieve (find existing products), edit (change the item the user points at), "
            "create (design a new product), clarify (the request says nothing usable).",
            "Put what the user does NOT want in not_categories / not_brands.",
            "Categories include: " + ", ".join(cats) + ".",
            "Brands include: " + ", ".join(brands) + ".",
        ]
        if prices:
            lines.append(f"Prices go from {prices[0]:.0f} to {prices[1]:.0f} dollars.")
        return "\n".join(lines)

    def messages(self, instruction: str) -> list[Message]:
        """The chat: system prompt, few-shot examples filled with catalog values, then the request."""
        cats = self.vocab.top("category", 3) + ["shoes", "tea", "coffee"]
        brands = self.vocab.top("brand", 1) + ["Acme"]
        slots = {"cat0": cats[0], "cat1": cats[1], "cat2": cats[2], "brand0": brands[0]}
        out = [Message("system", self._system)]
        for text, answer in _EXAMPLES:
            filled = {
                k: ([v.format(**slots) for v in val] if isinstance(val, list) else val) for k, val in answer.items()
            }
            out.append(Message("user", text.format(**slots)))
            out.append(Message("assistant", _compact_json(IntentDraft.model_validate(filled).model_dump())))
        out.append(Message("user", instruction.strip() or "(no words)"))
        return out

    def draft(self, instruction: str) -> IntentDraft | None:
        """The LLM's answer, or None when it gave no valid JSON.

        With ``grammar`` (the default) the answer is decoded under the form's grammar when the
        backend can (``LLMBackend.grammar_json``); otherwise, or when the grammar answer does not
        validate, the interface's own ``LLMBackend.structured`` (chat, parse, retry with the error)
        is used, even when a backend overrides it (unless ``backend_structured``): the few-shot
        answers already show the format, and an override that lists every key made SmolLM2 ramble.
        """
        key = instruction.strip()
        if key in self._drafts:
            return self._drafts[key]
        self.asked += 1
        answer: IntentDraft | None = None
        messages = self.messages(instruction)
        done = False
        if self.grammar:
            made = self.backend.grammar_json(messages, self._form, max_new_tokens=self.max_new_tokens + 60)
            if made is not None:
                done = True
                self.last_output = made.text
                try:
                    answer = IntentDraft.model_validate(json.loads(made.text))
                except ValueError:
                    answer = None
        if not done:
            ask = (
                self.backend.structured
                if self.backend_structured
                else (lambda *a, **k: LLMBackend.structured(self.backend, *a, **k))
            )
            try:
                answer = ask(messages, IntentDraft, attempts=self.attempts, max_new_tokens=self.max_new_tokens)
            except StructuredOutputError as exc:
                self.last_output = exc.last_output
                answer = None
        if answer is None:
            self.failures += 1
        if len(self._drafts) >= 4096:
            self._drafts.clear()
        self._drafts[key] = answer
        return answer

    # ---- understanding -----------------------------------------------------------------------
    def read(self, instruction: str, feedback: Feedback, refs: References) -> Parse:
        """Like ``RuleInstructor.read``: the intent plus how it was reached."""
        draft = self.draft(instruction) if instruction.strip() else None
        if draft is None:
            return self._finish(None, Constraints(), instruction, feedback, refs, "llm gave no valid answer")
        constraints = self.validate(draft, instruction, refs)
        return self._finish(draft.action, constraints, instruction, feedback, refs, "llm", draft)

    def validate(self, draft: IntentDraft, instruction: str, refs: References) -> Constraints:
        """Constraints from a draft: catalog values only, grounded in the instruction, sane prices."""
        c = Constraints()
        for field, target in (("categories", c.categories), ("not_categories", c.exclude_categories)):
            for value in getattr(draft, field):
                mapped = self._category(value, instruction)
                if mapped and mapped not in target:
                    target.append(mapped)
        for field, target in (("brands", c.brands), ("not_brands", c.exclude_brands)):
            for value in getattr(draft, field):
                entry = self.vocab.lookup(value, "brand") if _grounded(value, instruction) else None
                if entry and entry.value not in target:
                    target.append(entry.value)
        # the instruction decides polarity: "nothing by Suave" is no wish for Suave, whatever the model said
        for wanted, unwanted in ((c.categories, c.exclude_categories), (c.brands, c.exclude_brands)):
            for value in list(wanted):
                if negated(instruction, value) or _negated_fuzzy(instruction, value):
                    wanted.remove(value)
                    if value not in unwanted:
                        unwanted.append(value)
            for value in list(unwanted):
                if negated(instruction, value) is False and not _negated_fuzzy(instruction, value):
                    unwanted.remove(value)  # named, but not negated: a wish, kept as a wish
                    if value not in wanted:
                        wanted.append(value)
        c.categories = [v for v in c.categories if v not in c.exclude_categories]
        c.brands = [v for v in c.brands if v not in c.exclude_brands]
        c.price_min, c.price_max = self._prices(draft, instruction)
        for value, target in ((draft.like, c.like_items), (draft.unlike, c.unlike_items)):
            item = self._item(value, refs) if value else None
            if item and item not in target:
                target.append(item)
        if draft.other_brand:
            anchor = c.like_items[0] if c.like_items else refs.current
            brand = self.vocab.brand(anchor) if anchor else None
            if brand and brand not in c.exclude_brands:
                c.exclude_brands.append(brand)
        return c

    def _category(self, value: str, instruction: str) -> str | None:
        if not _grounded(value, instruction):
            return None
        entry = self.vocab.lookup(value, "category")
        if entry is not None:
            return entry.value
        values = self.vocab.category_values
        if not values:
            return None
        if self._category_matrix is None:
            self._category_matrix = self.embed(values)
        sims = self._category_matrix @ self.embed([value])[0]
        best = int(sims.argmax())
        return values[best] if sims[best] >= self.category_threshold else None

    def _prices(self, draft: IntentDraft, instruction: str) -> tuple[float | None, float | None]:
        """Bounds the instruction states: where the price reader finds any ("under ten bucks"), its
        reading wins; else the model's, if positive, written in the instruction, no more than 10x the
        catalog's top price, and not the same number as both bounds."""
        found = find_prices(instruction)
        if found:
            lows = [p.low for p in found if p.low is not None]
            highs = [p.high for p in found if p.high is not None]
            return (max(lows) if lows else None), (min(highs) if highs else None)
        top = self.vocab.price_range[1] * 10 if self.vocab.price_range else float("inf")
        numbers = {float(n.replace(",", "")) for n in re.findall(r"\d+(?:[.,]\d+)?", instruction)}
        lo, hi = (
            p if p is not None and 0 <= p <= top and p in numbers else None for p in (draft.price_min, draft.price_max)
        )
        if lo is not None and hi is not None and lo == hi:
            return None, None
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        return lo, hi

    def _item(self, value: str, refs: References) -> str | None:
        low = value.lower().strip()
        if any(w in low for w in _HISTORY_WORDS):
            return refs.last_liked
        if low in _POINTER_WORDS or low.startswith(("this", "that", "it ")):
            return refs.current
        found = self.vocab.find_item(value, min_tokens=2, min_cover=0.7)
        return found[0] if found else None

    def _finish(
        self,
        action: str | None,
        c: Constraints,
        instruction: str,
        feedback: Feedback,
        refs: References,
        source: str,
        draft: IntentDraft | None = None,
    ) -> Parse:
        """The rules' action policy: a valid action; an edit needs a target; a request with no signal
        gets the clarifying question whatever the history (asking for recommendations as such is
        answered from the history); generation after repeated rejections; requests to decline."""
        has_feedback = bool(feedback.likes or feedback.clicks or feedback.dislikes or feedback.skips)
        act = action if action in ACTIONS else None
        if act in ("edit", "create") and act not in action_cues(instruction):
            act = "retrieve"  # a small model's guess: nothing in the request asks to change or make an item
        declined = declined_kind(instruction, generative=act in ("edit", "create"))
        if declined == "other_users_data":
            act = "retrieve"
        elif declined == "copy":
            act = "create"
        target = None
        if act == "edit":
            target = refs.current
            if draft is not None and draft.like and c.like_items == [target]:
                c.like_items = []  # "this" named the item to edit, not one to imitate
            if target is None:
                act = None
        if act == "create" and c.is_empty() and not has_feedback and not declined:
            act = None
        if act in (None, "clarify", "retrieve") and c.is_empty() and not declined:
            act = "retrieve" if has_feedback and asks_for_recommendations(instruction) else None
        reason = source + (f"; declined: {declined}" if declined else "")
        if feedback.rejections >= self.config.rejection_threshold and act in (None, "retrieve") and not declined:
            act = "create"
            reason = (
                f"{feedback.rejections} rejected lists in a row (threshold "
                f"{self.config.rejection_threshold}): generating a new item"
            )
        if act is None:
            question = (
                "What are you looking for? Tell me a kind of product (for example "
                + ", ".join(self.vocab.top("category", 3))
                + "), a brand or a price range."
            )
            intent = Intent(
                action="clarify",
                constraints=c,
                question=question,
                reason=f"{source}: nothing usable and no feedback to fall back on",
            )
            return Parse(intent, 0.0, source, vague=True)
        return Parse(
            Intent(
                action=cast(Action, act), constraints=c, target_item=target, reason=reason, declined=cast(Any, declined)
            ),
            1.0,
            source,
            vague=c.is_empty(),
        )


class CombinedInstructor(Instructor):
    """Rules and LLM together: one reads first, the other fills the constraint fields it left empty.

    ``order="rules_first"`` asks the LLM only when the rules were unsure (no action cue, or nothing
    understood) and keeps the rules' action otherwise; ``order="llm_first"`` always asks the LLM,
    then fills its gaps from the rules (and uses the rules' action when the LLM failed).
    """

    name = "combined"

    def __init__(self, rules: RuleInstructor, llm: LLMInstructor, order: str = "rules_first") -> None:
        if order not in ("rules_first", "llm_first"):
            raise ValueError(f"order must be 'rules_first' or 'llm_first', got {order!r}")
        super().__init__(rules.vocab, rules.config, rules._encoder)
        self.rules, self.llm, self.order = rules, llm, order
        self.name = f"combined-{order.replace('_', '-')}"
        self.llm_calls = 0  # instructions the LLM was asked about

    def understand(
        self,
        instruction: str,
        feedback: Feedback,
        dialogue: Sequence[Turn] = (),
        references: Sequence[str] = (),
    ) -> Intent:
        """The first reader's intent, gaps filled by the second."""
        ruled = self.rules.parse(instruction, feedback, dialogue, references)
        sure = ruled.action_source in ("cue", "constraints", "rejections", "empty", "declined") and not ruled.vague
        if self.order == "rules_first" and sure:
            return ruled.intent
        self.llm_calls += 1
        asked = self.llm.parse(instruction, feedback, dialogue, references)
        llm_failed = asked.action_source != "llm"
        if self.order == "rules_first" or llm_failed:
            first, second = ruled.intent, asked.intent
            if not sure and not llm_failed and asked.intent.action != "clarify":
                first = first.model_copy(
                    update={"action": asked.intent.action, "target_item": asked.intent.target_item}
                )
        else:
            first, second = asked.intent, ruled.intent
        return _merge(first, second)


def _merge(first: Intent, second: Intent) -> Intent:
    """``first`` with every empty constraint field taken from ``second``."""
    a, b = first.constraints.model_dump(), second.constraints.model_dump()
    for key, value in a.items():
        if not value and b[key]:
            a[key] = b[key]
    update: dict[str, Any] = {"constraints": Constraints(**a)}
    if first.action == "edit" and not first.target_item:
        update["target_item"] = second.target_item
    if first.action == "clarify" and second.action != "clarify" and not Constraints(**a).is_empty():
        update.update(action=second.action, question=None, target_item=second.target_item)
    return first.model_copy(update=update)


def _negated_fuzzy(instruction: str, value: str) -> bool:
    """True when the instruction's words closest to ``value`` (a typo, a plural) are negated."""
    words = instruction.split()
    n = max(1, len(value.split()))
    best, at = 0.0, -1
    for i in range(len(words) - n + 1):
        score = fuzz.ratio(normalise(" ".join(words[i : i + n])), normalise(value))
        if score > best:
            best, at = score, i
    if best < 85 or at < 0:
        return False
    return bool(negated(instruction, " ".join(words[at : at + n])))


def _grounded(value: str, instruction: str) -> bool:
    """True when the words of ``value`` appear (fuzzily) in the instruction: the LLM did not invent it."""
    key, text = normalise(value), normalise(instruction)
    return bool(key) and fuzz.partial_ratio(key, text) >= 85


def _compact_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(", ", ": "))


def create_instructor(
    method: str,
    vocabulary: CatalogVocabulary,
    config: InstructorConfig | None = None,
    backend: LLMBackend | None = None,
    encoder: TextEncoder | None = None,
    threads: int = 0,
) -> Instructor:
    """An instructor by name: "rules", "llm", "combined" (rules first) or "combined-llm-first"."""
    config = config or InstructorConfig()
    if method == "rules":
        return RuleInstructor(vocabulary, config, encoder)
    if method not in ("llm", "combined", "combined-llm-first"):
        raise ValueError(f"unknown instructor method {method!r}; known: rules, llm, combined, combined-llm-first")
    if backend is None:
        from genrec.llm.registry import create_backend

        backend = create_backend(LLMConfig(threads=threads))
    llm = LLMInstructor(vocabulary, backend, config, encoder)
    if method == "llm":
        return llm
    order = "llm_first" if method == "combined-llm-first" else "rules_first"
    return CombinedInstructor(RuleInstructor(vocabulary, config, encoder), llm, order)


__all__ = ["CombinedInstructor", "IntentDraft", "LLMInstructor", "create_instructor"]
