"""The instructor: from an instruction, feedback and dialogue to a typed Intent and guidance vectors.

``RuleInstructor`` reads the instruction with the catalog's own vocabulary (brands, categories,
attribute values), regular expressions for prices, cue phrases for actions, negations,
references ("like my last purchase", an item title, "another brand"), and the text encoder for
what the rules miss (an unknown product word mapped to the nearest catalog category; the action
picked by similarity to prototype requests). Generation is also switched on after
``rejection_threshold`` rejected lists in a row, as GeneRec prescribes.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from genrec.config import EncoderConfig, InstructorConfig
from genrec.data.dataset import Dataset
from genrec.data.generated import GENERATED_PREFIX
from genrec.encoders.text import TextEncoder
from genrec.generation.declines import declined_kind
from genrec.generation.intent import Action, Constraints, Feedback, Guidance, Intent, Turn
from genrec.generation.prices import PriceMention, find_prices
from genrec.generation.vocabulary import (
    STOP_WORDS,
    CatalogVocabulary,
    Entry,
    Match,
    Token,
    english_zipf,
    normalise,
    tokenize,
)
from genrec.generation.words import word_list
from genrec.vectors import unit


# ---- word lists (generation/data/words.toml) ---------------------------------------------------
def _phrases(*texts: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(normalise(t).split()) for t in texts if normalise(t))


def _listed(section: str, key: str) -> frozenset[tuple[str, ...]]:
    return _phrases(*word_list(section, key))


def _words(section: str, key: str) -> frozenset[str]:
    return frozenset(w for t in word_list(section, key) for w in [normalise(t)] if w and " " not in w)


CREATE_CUES = _listed("cues", "create")
EDIT_CUES = _listed("cues", "edit")
#: Edit cues that name an existing item, so they win over a create cue ("make a version of this").
STRONG_EDIT_CUES = _listed("cues", "strong_edit")
#: Words for an item's text ("the title of that cream") and verbs that change it: with a pointer, an edit.
EDIT_FIELDS = _listed("cues", "edit_fields")
EDIT_VERBS = _listed("cues", "edit_verbs")
RETRIEVE_CUES = _listed("cues", "retrieve")
#: Asking for recommendations as such ("surprise me", "what fits me"): without constraints, from the history.
REQUEST_CUES = _listed("cues", "request")
#: Negations that apply to what follows them.
NEG_PRE = _listed("negation", "before")
#: Negations that apply to what precedes them ("Norvik is not for me", "fragrance-free").
NEG_POST = _listed("negation", "after")
#: "I don't care about the brand": no negation, no constraint.
INDIFFERENT = _listed("negation", "indifferent")
_INDIFFERENT_TAIL = _words("negation", "indifferent_tail")
#: Words that end a negation's reach before anything was negated.
_RESET = _words("negation", "reset")
#: Words a negation may run through from one negated value to the next ("no X or Y").
_FILLER = _words("negation", "filler")
#: Words that are the conversation, not the request; never style words.
CHAT_WORDS = _words("words", "chat")
_ARTICLES = _words("references", "articles")
_HISTORY_HEAD = _words("references", "history_head")
_HISTORY_NOUN = _words("references", "history_noun")
_POINTERS = _words("references", "pointers")
_POINTER_PHRASE = _POINTERS | _ARTICLES | _words("references", "pointer_phrase")
LIKE_CUES = _listed("references", "like")
#: Cues that point at the current item by themselves ("along those lines").
SELF_LIKE_CUES = _listed("references", "self_like")
UNLIKE_CUES = _listed("references", "unlike")
_NEGATORS = _words("negation", "negators")
#: Words that speak badly of an item mentioned near them.
_NEGATIVE = _NEGATORS | _words("negation", "negative")
#: What may follow "similar" when it points at the current item ("show me similar items").
_GENERIC_OBJECT = _words("references", "generic_object")
_BRAND_WORDS = _words("brands", "brand_words")
_OTHER_WORDS = _words("brands", "other_words")
_BRAND_LEADS = _OTHER_WORDS | _NEGATORS | {"same", "this", "that", "their"}
_CHEAPER = _listed("prices", "cheaper")
_PRICIER = _listed("prices", "pricier")
_CHEAPEST = _listed("prices", "cheapest")
_PRICIEST = _listed("prices", "priciest")
_WEAK_CONTEXT = _words("brands", "weak_context")
#: English adjective endings ("scented", "glittery", "oily"): such words describe, they name no category.
_ADJECTIVE = re.compile(r"(?:ed|y|ish|ful|less|ous|ive|able|ible)$")
#: Edits and creations may be steered by English words the catalog lacks, up to this frequency
#: (Zipf scale): "glittery" (2.7) and "woody" (3.8) yes, "printed" (4.3) and "named" (4.9) no.
GENERATIVE_ZIPF = 4.2
_ACTION_PROTOTYPES: dict[str, tuple[str, ...]] = {
    action: tuple(word_list("action_prototypes", action)) for action in ("retrieve", "edit", "create")
}


# ---- references -------------------------------------------------------------------------------
@dataclass
class References:
    """The items an instruction can point at."""

    explicit: list[str] = field(default_factory=list)  # references passed with the instruction
    shown: str | None = None  # the last item the system showed in the dialogue
    last_liked: str | None = None  # the user's last liked (else clicked) item

    @property
    def current(self) -> str | None:
        """What "this one" / "it" means: an explicit reference, else the last shown, else the last liked."""
        return self.explicit[-1] if self.explicit else self.shown or self.last_liked


def resolve_references(
    vocab: CatalogVocabulary, feedback: Feedback, dialogue: Sequence[Turn], references: Sequence[str]
) -> References:
    """The explicit, last shown and last liked items of a request."""
    last = feedback.likes[-1] if feedback.likes else (feedback.clicks[-1] if feedback.clicks else None)
    return References([str(r) for r in references], last_shown_item(vocab, dialogue), last)


_ID_TOKEN = re.compile(r"[\w:.\-]+")


def last_shown_item(vocab: CatalogVocabulary, dialogue: Sequence[Turn]) -> str | None:
    """The last item the latest system turn that names any mentioned: by id ("[id]", a non-numeric id,
    a gen: id), else by its whole title."""
    for turn in reversed(dialogue):
        if turn.role != "system":
            continue
        hits: list[tuple[int, str]] = []
        for m in re.finditer(r"\[([^\]]+)\]", turn.text):
            if m.group(1) in vocab or m.group(1).startswith(GENERATED_PREFIX):
                hits.append((m.start(), m.group(1)))
        for m in _ID_TOKEN.finditer(turn.text):
            tok = m.group().strip(".:-")
            if tok.startswith(GENERATED_PREFIX) or (tok in vocab and not tok.isdigit()):
                hits.append((m.start(), tok))
        if hits:
            return max(hits)[1]
        titles = vocab.titles_in(turn.text)
        if titles:
            return titles[-1][1]
    return None


# ---- the instructor interface -----------------------------------------------------------------
class Instructor(ABC):  # noqa: B024 - subclasses give read() or override understand()
    """Turns an instruction, feedback and dialogue into an Intent; also builds guidance vectors."""

    name = "instructor"

    def __init__(
        self,
        vocabulary: CatalogVocabulary,
        config: InstructorConfig | None = None,
        encoder: TextEncoder | None = None,
    ) -> None:
        self.vocab = vocabulary
        self.config = config or InstructorConfig()
        self._encoder = encoder
        self._memo: dict[str, np.ndarray] = {}

    @property
    def encoder(self) -> TextEncoder:
        """The text encoder (the bundled MiniLM unless one was given), loaded on first use."""
        if self._encoder is None:
            self._encoder = TextEncoder(EncoderConfig(progress=False))
        return self._encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings of ``texts``, remembered in memory."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            self._memo.update(zip(todo, self.encoder.encode(todo)))
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def understand(
        self,
        instruction: str,
        feedback: Feedback,
        dialogue: Sequence[Turn] = (),
        references: Sequence[str] = (),
    ) -> Intent:
        """The action to take and the constraints the user stated."""
        return self.parse(instruction, feedback, dialogue, references).intent

    def parse(
        self,
        instruction: str,
        feedback: Feedback,
        dialogue: Sequence[Turn] = (),
        references: Sequence[str] = (),
    ) -> Parse:
        """The intent plus how it was reached: checks the input, resolves references, then ``read``s."""
        if not isinstance(instruction, str):
            raise TypeError(f"instruction must be a str, got {type(instruction).__name__}")
        return self.read(instruction, feedback, resolve_references(self.vocab, feedback, dialogue, references))

    def read(self, instruction: str, feedback: Feedback, refs: References) -> Parse:
        """Each instructor's own reading of an instruction with its references resolved."""
        raise NotImplementedError(f"{type(self).__name__} does not implement read")

    def guidance(
        self,
        instruction: str,
        feedback: Feedback,
        catalog_embeddings: np.ndarray,
        user_vector: np.ndarray | None = None,
    ) -> Guidance:
        """Instruction embedding, mean embedding of liked items (User_Hist), user vector (User_Emb), all unit norm.

        ``catalog_embeddings`` has one row per catalog item, in item-table order. Liked items are
        ``feedback.likes`` (the clicks when there are no likes); ids outside the catalog (generated
        items) are skipped. ``extras['disliked']`` is the mean of the disliked items when there are any.
        """
        emb = np.asarray(catalog_embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(self.vocab.item_ids):
            raise ValueError(f"catalog_embeddings must be [n_items={len(self.vocab.item_ids)}, d], got {emb.shape}")
        text = (instruction or "").strip()
        inst = unit(self.embed([text])[0]) if text else None
        if inst is not None and inst.shape[0] != emb.shape[1]:
            raise ValueError(f"catalog_embeddings have dimension {emb.shape[1]}, the encoder {inst.shape[0]}")
        liked = self._mean_of(feedback.likes or feedback.clicks, emb)
        user = None
        if user_vector is not None:
            user = np.asarray(user_vector, dtype=np.float32).reshape(-1)
            if user.shape[0] != emb.shape[1]:
                raise ValueError(f"user_vector has dimension {user.shape[0]}, catalog_embeddings {emb.shape[1]}")
            user = unit(user)
        extras = {}
        disliked = self._mean_of(feedback.dislikes, emb)
        if disliked is not None:
            extras["disliked"] = disliked
        return Guidance(instruction=inst, user=user, liked=liked, extras=extras)

    def _mean_of(self, item_ids: Iterable[str], emb: np.ndarray) -> np.ndarray | None:
        rows = [r for r in (self.vocab.row(i) for i in item_ids) if r is not None]
        return unit(emb[rows].mean(axis=0)) if rows else None


def user_vector_from_scores(
    scores: np.ndarray, item_embeddings: np.ndarray, top: int = 50, temperature: float = 1.0
) -> np.ndarray:
    """The recommender's user in text space: softmax(score / T)-weighted mean of its top items' embeddings.

    ``scores`` is [n_items] (or [batch, n_items]); non-finite scores (masked items) are ignored.
    Returns a unit vector [d] (or [batch, d]).
    """
    s = np.asarray(scores, dtype=np.float64)
    emb = np.asarray(item_embeddings, dtype=np.float64)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if emb.ndim != 2 or s.shape[-1] != emb.shape[0] or s.ndim not in (1, 2):
        raise ValueError(f"scores {s.shape} must end in n_items={emb.shape[0]} of item_embeddings {emb.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    rows = s[None, :] if s.ndim == 1 else s
    out = np.zeros((rows.shape[0], emb.shape[1]), dtype=np.float32)
    for b, row in enumerate(rows):
        finite = np.flatnonzero(np.isfinite(row))
        if len(finite) == 0:
            raise ValueError("every score is masked (-inf): no item to build the user vector from")
        k = min(top, len(finite))
        best = finite[np.argpartition(-row[finite], k - 1)[:k]]
        z = row[best] / temperature
        w = np.exp(z - z.max())
        out[b] = unit((w / w.sum()) @ emb[best])
    return out[0] if s.ndim == 1 else out


# ---- the rule-based instructor ----------------------------------------------------------------
@dataclass
class Parse:
    """What the rules read: the intent, how sure they are, and how the action was chosen."""

    intent: Intent
    confidence: float
    action_source: str  # "cue", "constraints", "prototype", "vague", "empty", "rejections", "no-target"
    vague: bool = False


@dataclass
class _State:
    tokens: list[Token]
    breaks: list[str]  # per token: "." (sentence punctuation or a dash before it), "," or ""
    used: set[int] = field(default_factory=set)
    constraints: Constraints = field(default_factory=Constraints)
    mentioned: str | None = None  # an item named by its title outside like/unlike
    last_item: str | None = None  # the item the instruction itself named last ("X was great, more like it")
    compared_current: bool = False  # "cheaper" said of the current item ("can this be more affordable?")
    anchor: str | None = None  # the item "another brand" / "cheaper" compare with
    edit_at: int | None = None  # where an edit request starts ("rewrite", "the title of that ...")
    notes: list[str] = field(default_factory=list)

    def use(self, start: int, end: int) -> None:
        """Mark tokens [start, end) as read."""
        self.used.update(range(start, end))


class RuleInstructor(Instructor):
    """Rules over the catalog's vocabulary, with the text encoder for unknown words and unclear actions."""

    name = "rules"

    def __init__(
        self,
        vocabulary: CatalogVocabulary,
        config: InstructorConfig | None = None,
        encoder: TextEncoder | None = None,
        use_encoder: bool = True,
        category_threshold: float = 0.75,
    ) -> None:
        super().__init__(vocabulary, config, encoder)
        self.use_encoder = use_encoder
        self.category_threshold = category_threshold
        self._category_matrix: np.ndarray | None = None
        self._prototypes: tuple[list[str], np.ndarray] | None = None

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        config: InstructorConfig | None = None,
        encoder: TextEncoder | None = None,
        **kwargs: object,
    ) -> RuleInstructor:
        """A rule instructor over ``dataset``'s catalog vocabulary."""
        return cls(CatalogVocabulary.from_dataset(dataset), config, encoder, **kwargs)  # type: ignore[arg-type]

    # ---- the pipeline -----------------------------------------------------------------------
    def read(self, instruction: str, feedback: Feedback, refs: References) -> Parse:
        """Read the instruction; see the module docstring for the steps."""
        text = instruction.strip()
        tokens = tokenize(text)
        st = _State(tokens, _breaks(text, tokens))
        _use_phrases(st, INDIFFERENT, _INDIFFERENT_TAIL)  # "I don't care about the brand"
        self._prices(text, st)
        self._price_order(st)
        st.edit_at = _edit_request(st)
        if st.edit_at is not None and not refs.explicit:
            self._mention(st)
        self._comparisons(st, refs, than=True)  # "cheaper than my last purchase" before it reads as a like
        self._references(st, refs)
        self._another_brand(st, refs)
        self._comparisons(st, refs, than=False)
        self._free_forms(st)
        matches = self._refine(self._entities(st))
        neg = _negation_scope(st, matches)
        self._apply(st, matches, neg)
        generative = st.edit_at is not None or bool(_find(st.tokens, CREATE_CUES, st.used))
        self._unknown_words(st, neg, keep_unknown=generative)
        _prune_ancestors(self.vocab, st.constraints)
        return self._decide(text, st, feedback, refs)

    def _prices(self, text: str, st: _State) -> None:
        c = st.constraints
        for p in find_prices(text):
            if p.low is not None:
                c.price_min = p.low if c.price_min is None else max(c.price_min, p.low)
            if p.high is not None:
                c.price_max = p.high if c.price_max is None else min(c.price_max, p.high)
            _use_chars(st, p.start, p.end)
        if c.price_min is not None and c.price_max is not None and c.price_min > c.price_max:
            c.price_min, c.price_max = c.price_max, c.price_min

    def _price_order(self, st: _State) -> None:
        """ "cheapest", "least expensive" (cheapest first) and "priciest", "most expensive" (priciest first)."""
        for phrases, order in ((_CHEAPEST, "asc"), (_PRICIEST, "desc")):
            for start, end, _ in _find(st.tokens, phrases, st.used):
                if st.constraints.price_order is None:
                    st.constraints.price_order = cast(Literal["asc", "desc"], order)
                st.use(start, end)

    def _free_forms(self, st: _State) -> None:
        """ "fragrance-free", "free of sulfates": a wanted property (a soft style word), not an exclusion."""
        toks = st.tokens
        for i, t in enumerate(toks):
            if t.norm != "free" or i in st.used:
                continue
            if i > 0 and i - 1 not in st.used and not st.breaks[i] and toks[i - 1].norm not in STOP_WORDS:
                word = toks[i - 1]
            elif i + 2 < len(toks) and toks[i + 1].norm in ("of", "from") and i + 2 not in st.used:
                word = toks[i + 2]
            else:
                continue
            if not word.norm.isalpha() or word.norm in CHAT_WORDS:
                continue
            _add(st.constraints.style_words, f"{word.text.lower()}-free")
            st.use(min(i, toks.index(word)), max(i, toks.index(word)) + 1)

    def _references(self, st: _State, refs: References) -> None:
        """Items the instruction points at, read left to right so "that" can mean an item named before.

        "more like X" / "not like Y" / "along those lines" (cues), and past purchases or quoted
        titles named without a cue ("I loved what I bought last", "X was awful"), whose polarity is
        read from the words around them.
        """
        cues = {s: (e, p, False) for s, e, p in _find(st.tokens, LIKE_CUES | SELF_LIKE_CUES, st.used)}
        cues.update({s: (e, p, True) for s, e, p in _find(st.tokens, UNLIKE_CUES, st.used)})
        norms = [t.norm for t in st.tokens]
        i = 0
        while i < len(st.tokens):
            if i in st.used:
                i += 1
                continue
            if i in cues:
                end, phrase, unlike = cues[i]
                found = self._cue_reference(st, refs, i, end, phrase, unlike)
                if found is not None:
                    item, start, stop, unlike = found
                    self._refer(st, item, unlike)
                    st.use(start, stop)
                    i = stop
                    continue
                i += 1
                continue
            span = _history_span(norms[i:])
            if span is not None and refs.last_liked and not any(j in st.used for j in range(i, i + span)):
                self._refer(st, refs.last_liked, _negative_around(st, i, i + span))
                st.use(i, i + span)
                i += span
                continue
            text = st.tokens[i].text
            if text[:1].isupper() or text[:1].isdigit():
                hit = self._title_in(st.tokens, i, _title_end(st, i))
                if hit is not None:
                    start = self._brand_before(st, i, hit[0])
                    self._refer(st, hit[0], _negative_around(st, start, hit[1]))
                    st.use(start, hit[1])
                    i = hit[1]
                    continue
            i += 1

    def _brand_before(self, st: _State, start: int, item: str) -> int:
        """Where a quoted title starts when the item's brand stands just before the words that matched
        ("the Maybelline | Pulse Perfection ... Mascara" for "Maybelline New York Pulse ...")."""
        brand = normalise(self.vocab.brand(item) or "").split()
        lo = start - len(brand)
        fits = brand and lo >= 0 and [t.norm for t in st.tokens[lo:start]] == brand
        return lo if fits and not any(j in st.used for j in range(lo, start)) else start

    def _cue_reference(
        self, st: _State, refs: References, start: int, end: int, phrase: tuple[str, ...], unlike: bool
    ) -> tuple[str, int, int, bool] | None:
        """The item after a like / unlike cue: (item, span start, span end, unlike)."""
        negators = [j for j in range(max(0, start - 3), start) if st.tokens[j].norm in _NEGATORS and j not in st.used]
        if not unlike and negators:  # "avoid stuff like X", "not like X"
            unlike = True
            if negators[-1] >= start - 2:
                start = negators[-1]
        current = st.last_item or refs.current
        if phrase in SELF_LIKE_CUES:  # "along those lines": the item just named, else the current one
            return (current, start, end, unlike) if current else None
        found = self._reference_after(st, end, refs, generic=phrase != ("like",))
        return None if found is None else (found[0], start, found[1], unlike)

    def _refer(self, st: _State, item: str, unlike: bool) -> None:
        c = st.constraints
        if item in c.like_items or item in c.unlike_items:
            return  # named before ("X was awful, avoid stuff like that")
        (c.unlike_items if unlike else c.like_items).append(item)
        st.last_item = item
        if not unlike and st.anchor is None:
            st.anchor = item

    def _reference_after(self, st: _State, pos: int, refs: References, generic: bool = True) -> tuple[str, int] | None:
        """The item the words from ``pos`` point at, and where its phrase ends.

        With ``generic``, a cue followed by nothing specific ("show me similar items") points at
        the current item.
        """
        end = _clause_end(st, pos)
        window = st.tokens[pos:end]
        norms = [t.norm for t in window]
        hist = _history_span(norms) if norms else None
        if hist is not None and refs.last_liked:
            return refs.last_liked, pos + hist
        if norms and (
            norms[0] in _POINTERS
            or (
                norms[0] in _ARTICLES
                and len(norms) > 1
                and norms[1] in _POINTERS | {"one", "item", "product", "thing"}
                and _HISTORY_HEAD.isdisjoint(norms[:4])
            )
        ):
            stop = 0
            while stop < min(len(norms), 7) and norms[stop] in _POINTER_PHRASE:
                stop += 1
            current = st.last_item or refs.current
            return (current, pos + max(stop, 1)) if current else None
        title = self._title_in(st.tokens, pos, _title_end(st, pos))
        if title is not None:
            return title
        current = st.last_item or refs.current
        if generic and current and all(w in _GENERIC_OBJECT for w in norms[:4]):
            stop = 0
            while stop < len(norms) and norms[stop] in _GENERIC_OBJECT:
                stop += 1
            return current, pos + stop
        return None

    def _title_in(self, tokens: Sequence[Token], start: int, end: int) -> tuple[str, int] | None:
        """A catalog item whose title the tokens [start, end) quote (the longest prefix that fits).

        A phrase that is only a brand and a category ("Dove body washes") is no title: it needs a
        word no vocabulary entry explains, or three entries.
        """
        while start < end and tokens[start].norm in _ARTICLES:
            start += 1
        entities = self.vocab.match(tokens[start:end])
        for stop in range(end, start + 2, -1):
            if any(m.start < stop - start < m.end for m in entities):
                continue  # the phrase would cut a brand or category in two ("loose leaf green | tea")
            window = tokens[start:stop]
            hit = self.vocab.find_item(" ".join(t.text for t in window), min_tokens=3, min_cover=0.8)
            if hit is None:
                continue
            inside = [m for m in entities if m.end <= stop - start]
            covered = {i for m in inside for i in range(m.start, m.end)}
            content = [t for i, t in enumerate(window) if i not in covered and t.norm not in STOP_WORDS]
            if content or len(inside) >= 3:
                return hit[0], stop
        return None

    def _mention(self, st: _State) -> None:
        """An item named by title in an edit request ("rewrite the <title> for me")."""
        cues = _find(st.tokens, EDIT_CUES, st.used)
        for _, cue_end, _ in cues:
            for start in range(cue_end, min(cue_end + 3, len(st.tokens))):
                end = _clause_end(st, start)
                hit = self._title_in(st.tokens, start, end)
                if hit:
                    st.mentioned = st.last_item = hit[0]
                    st.use(start, hit[1])
                    return

    def _another_brand(self, st: _State, refs: References) -> None:
        """ "another brand": exclude the brand of the liked / referenced item."""
        norms = [t.norm for t in st.tokens]
        for i, w in enumerate(norms):
            if w not in _BRAND_WORDS or i in st.used:
                continue
            before = norms[max(0, i - 3) : i]
            after = norms[i + 1] if i + 1 < len(norms) else ""
            other = (
                w == "competitor"
                or after == "else"
                or (w not in {"someone", "somebody"} and any(b in _OTHER_WORDS for b in before))
            )
            same = any(b in {"same", "this", "that", "their", "it", "its"} for b in before) and any(
                n in _NEGATORS for n in norms[max(0, i - 5) : i]
            )
            if not (other or same):
                continue
            anchor = st.anchor or refs.current
            brand = self.vocab.brand(anchor) if anchor else None
            if brand and brand not in st.constraints.exclude_brands:
                st.constraints.exclude_brands.append(brand)
                st.notes.append(f"another brand than {brand!r}")
            lo = max(0, i - 3)
            while lo < i and norms[lo] not in _BRAND_LEADS:
                lo += 1
            st.use(lo, i + 1 + (after == "else"))

    def _comparisons(self, st: _State, refs: References, than: bool) -> None:
        """ "cheaper than X" (``than``), or a bare "cheaper" / "more expensive" said of the anchor item."""
        for phrases, bound in ((_CHEAPER, "max"), (_PRICIER, "min")):
            for start, end, _ in _find(st.tokens, phrases, st.used):
                item = None
                if (st.tokens[end - 1].norm == "than") != than:
                    continue
                if than:
                    found = self._reference_after(st, end, refs)
                    if found is None:
                        continue
                    item, end = found
                if item is None and st.anchor is None:
                    st.compared_current = True
                item = item or st.anchor or st.mentioned or refs.current
                price = self.vocab.price(item) if item else None
                if price is None:
                    continue
                c = st.constraints
                if bound == "max" and c.price_max is None:
                    c.price_max = round(price, 2)
                elif bound == "min" and c.price_min is None:
                    c.price_min = round(price, 2)
                st.use(start, end)

    def _entities(self, st: _State) -> list[Match]:
        """Brands, categories and attribute values named in the unused tokens (weak brands need context);
        misspelt words no English or catalog vocabulary knows are matched fuzzily ("maskara", "nail polsh")."""
        found = [
            m
            for m in self.vocab.match(st.tokens, skip=st.used)
            if not all(t.norm in STOP_WORDS for t in st.tokens[m.start : m.end])
        ]
        starts = {m.start: m for m in found}
        out = [m for m in found if not m.entry.weak or self._brand_context(st.tokens, m, starts.get(m.end))]
        taken = set(st.used) | {i for m in out for i in range(m.start, m.end)}
        for i, t in enumerate(st.tokens):
            if i in taken or not _misspelt(self.vocab, t):
                continue
            hit = self._typo(st, i, taken)
            if hit is None:
                continue
            out = [m for m in out if m.end <= hit.start or m.start >= hit.end]
            out.append(hit)
            taken.update(range(hit.start, hit.end))
        return sorted(out, key=lambda m: m.start)

    def _typo(self, st: _State, i: int, taken: set[int]) -> Match | None:
        """A fuzzy catalog match of misspelt token ``i``, with a neighbour when the pair is a known
        two-word value ("nail polsh"), else alone; brands and categories only."""
        toks = st.tokens
        spans = [(i - 1, i + 1), (i, i + 2), (i, i + 1)]
        for lo, hi in spans:
            if (
                lo < 0
                or hi > len(toks)
                or any(j in st.used for j in range(lo, hi))
                or st.breaks[lo + 1 : hi].count(".")
            ):
                continue
            if any(j in taken and j != i for j in range(lo, hi)) and hi - lo == 1:
                continue
            key = " ".join(t.norm for t in toks[lo:hi])
            cutoff = 88.0 if hi - lo > 1 else (85.0 if len(key) >= 6 else 90.0)
            hits = [h for h in (self.vocab.fuzzy(key, k, cutoff) for k in ("brand", "category")) if h]
            hits = [h for h in hits if len(h[0].value.split()) == hi - lo or hi - lo == 1]
            if hits:
                entry, score = max(hits, key=lambda h: h[1])
                return Match(entry, lo, hi, score)
        return None

    def _brand_context(self, tokens: Sequence[Token], m: Match, following: Match | None = None) -> bool:
        """A brand spelled like an everyday word counts after "from" / "by", before "brand", when
        capitalised inside a sentence, or right before a category ("dove body wash")."""
        before = tokens[m.start - 1].norm if m.start > 0 else ""
        after = tokens[m.end].norm if m.end < len(tokens) else ""
        capital = m.start > 0 and tokens[m.start].text[:1].isupper()
        return (
            before in _WEAK_CONTEXT
            or after in {"brand", "product"}
            or capital
            or (following is not None and following.kind == "category" and self.vocab.owns_word(m.value))
        )

    def _refine(self, matches: list[Match]) -> list[Match]:
        """A category word before a product word names the category below the first that the second
        does ("face" + "cream" -> "Creams & Moisturizers", "body" + "lotion" -> "Lotions")."""
        out: list[Match] = []
        for m in matches:
            prev = out[-1] if out else None
            if (
                prev is not None
                and prev.kind == "category"
                and m.kind == "category"
                and prev.end == m.start
                and prev.value not in self.vocab.ancestors(m.value)
                and m.value not in self.vocab.ancestors(prev.value)
            ):
                below = self.vocab.descendant_named(prev.value, normalise(m.value).split()[0]) or (
                    self.vocab.descendant_named(prev.value, " ".join(normalise(m.value).split()[:1]))
                )
                if below is not None:
                    out[-1] = Match(
                        Entry("category", below, None, self.vocab.category_counts[below]), prev.start, m.end
                    )
                    continue
            out.append(m)
        return out

    def _apply(self, st: _State, matches: list[Match], neg: list[bool]) -> None:
        c = st.constraints
        for m in matches:
            negated = any(neg[m.start : m.end])
            e = m.entry
            if e.kind == "brand":
                _add(c.exclude_brands if negated else c.brands, e.value)
            elif e.kind == "category":
                if negated and not self.vocab.full_name(m, st.tokens):
                    # "without glitter": a word from a compound category's name is a word to avoid,
                    # not the whole category ("Glitter & Shimmer")
                    _add(c.exclude_words, " ".join(t.text.lower() for t in st.tokens[m.start : m.end]))
                else:
                    _add(c.exclude_categories if negated else c.categories, e.value)
            else:
                target = c.exclude_attributes if negated else c.attributes
                _add(target.setdefault(e.name or "value", []), e.value)
            st.use(m.start, m.end)
        for value in list(c.brands):  # "not Norvik ... Norvik" keeps the exclusion
            if value in c.exclude_brands:
                c.brands.remove(value)
        for value in list(c.categories):
            if value in c.exclude_categories:
                c.categories.remove(value)

    def _unknown_words(self, st: _State, neg: list[bool], keep_unknown: bool) -> None:
        """Words no rule used: a product word the catalog's titles or the encoder tie to a category,
        else a style word.

        A style word must describe items: a word the catalog's titles use far more than English does
        (``CatalogVocabulary.style_word``; "matte", "waterproof", not "wife" or "matter"); edits and
        creations (where style words steer the writer) may also use rarer English words the catalog
        lacks ("glittery"). A negated word becomes an exclusion (a hard filter) only when it is such
        a catalog word, and only the first of a run ("no coconut scent" excludes "coconut"); when
        the catalog writes it as "<word>-free" the request is for that property ("without sulfates"
        -> "sulfate-free", soft).
        """
        c = st.constraints
        for run in _content_runs(st):
            if any(neg[i] for i in run):
                first = st.tokens[run[0]]
                if self.vocab.free_form(first.norm):
                    _add(c.style_words, f"{first.text.lower()}-free")
                elif self.vocab.style_word(first.norm):
                    _add(c.exclude_words, first.text.lower())
                continue
            covered: set[int] = set()
            for i in run:
                product = self.vocab.product_category(st.tokens[i].norm)
                if product is not None:
                    _add(c.categories, product)
                    covered.add(i)
            rest = [i for i in run if i not in covered and not _ADJECTIVE.search(st.tokens[i].norm)]
            if rest and self.use_encoder:
                for idx, category in self._nearest_categories(st.tokens, rest):
                    _add(c.categories, category)
                    covered.update(idx)
            words = [i for i in run if i not in covered and self._describes(st.tokens[i].norm, keep_unknown)]
            for group in _groups(words):
                _add(c.style_words, " ".join(st.tokens[i].text.lower() for i in group))

    def _describes(self, norm: str, generative: bool) -> bool:
        """True when a word can describe an item (see ``_unknown_words``)."""
        if self.vocab.style_word(norm):
            return True
        return generative and 0 < english_zipf(norm) <= GENERATIVE_ZIPF

    def _nearest_categories(self, tokens: Sequence[Token], run: list[int]) -> list[tuple[list[int], str]]:
        """Catalog categories the encoder finds for a run of unknown words (whole run, else single words)."""
        values = self.vocab.category_values
        if not values:
            return []
        if self._category_matrix is None:
            self._category_matrix = self.embed(values)
        phrase = " ".join(tokens[i].text for i in run)
        candidates = [(run, phrase)] + (
            [([i], tokens[i].text) for i in run if len(tokens[i].norm) >= 4] if len(run) > 1 else []
        )
        sims = self.embed([p for _, p in candidates]) @ self._category_matrix.T
        best = sims.argmax(axis=1)
        if sims[0, best[0]] >= self.category_threshold:
            return [(run, values[best[0]])]
        return [
            (idx, values[b])
            for (idx, _), b, row in zip(candidates[1:], best[1:], sims[1:])
            if row[b] >= self.category_threshold
        ]

    # ---- the action --------------------------------------------------------------------------
    def _decide(self, text: str, st: _State, feedback: Feedback, refs: References) -> Parse:
        """The action: cues first, then the constraints, then the prototypes; a request with no signal
        (no constraint, no reference, no ask for recommendations) gets the clarifying question, whatever
        the history; requests to decline keep the action asked for, with ``Intent.declined`` set."""
        c = st.constraints
        has_feedback = bool(feedback.likes or feedback.clicks or feedback.dislikes or feedback.skips)
        tokens = st.tokens
        create = _find(tokens, CREATE_CUES, set())
        retrieve = _find(tokens, RETRIEVE_CUES, set())
        request = bool(_find(tokens, REQUEST_CUES, set()))
        pointer = any(t.norm in {"it", "this", "that", "them", "these", "those"} for t in tokens)
        action, source, confidence = None, "cue", 1.0
        strong_edit = bool(_find(tokens, STRONG_EDIT_CUES, set()))  # "a cheaper version of this"
        edit_at = st.edit_at
        create_first = bool(create) and not strong_edit and (edit_at is None or create[0][0] < edit_at)
        if edit_at is not None and not create_first and (pointer or refs.explicit or st.mentioned or not create):
            action = "edit"
        elif create:
            action = "create"
        elif retrieve or request:
            action = "retrieve"
        elif st.compared_current and pointer and refs.current:
            action = "edit"
        elif not c.is_empty():
            action, source, confidence = "retrieve", "constraints", 0.9
        elif text and self.use_encoder:
            action, confidence = self._prototype_action(text)
            source = "prototype"
            if confidence < self.config.min_confidence:
                action = None
        declined = declined_kind(text, generative=action in ("edit", "create"))
        if declined == "other_users_data":
            action, source = "retrieve", "declined"
        elif declined == "copy":
            action, source = "create", "declined"
        vague = c.is_empty() and action in (None, "retrieve", "create") and not declined
        reason = f"instruction ({source})"
        if not text:
            action, source, vague = ("retrieve" if has_feedback else None), "empty", True
            reason = "empty instruction: recommend from the history" if has_feedback else ""
        elif vague and action != "create":
            if request and has_feedback:
                action, reason = "retrieve", "asked for recommendations: from the history"
            else:
                action, source = None, "vague"
        elif vague and action == "create" and not has_feedback:
            action = None
        target = None
        if action == "edit":
            target = refs.explicit[-1] if refs.explicit else st.mentioned or refs.shown or refs.last_liked
            if target is None:
                action, source = None, "no-target"
            else:
                self._drop_target_names(c, target)
        if feedback.rejections >= self.config.rejection_threshold and action in (None, "retrieve") and not declined:
            action, source = "create", "rejections"
            reason = (
                f"{feedback.rejections} rejected lists in a row (threshold "
                f"{self.config.rejection_threshold}): generating a new item"
            )
        if action is None:
            question = self._question(source, c)
            intent = Intent(
                action="clarify",
                constraints=c,
                question=question,
                reason="the request names nothing to act on"
                if source != "no-target"
                else "edit requested but no item to edit",
            )
            return Parse(intent, confidence if source == "prototype" else 0.0, source, vague=True)
        if st.notes:
            reason += "; " + "; ".join(st.notes)
        if declined:
            reason += f"; declined: {declined}"
        intent = Intent(
            action=cast(Action, action), constraints=c, target_item=target, reason=reason, declined=cast(Any, declined)
        )
        return Parse(intent, confidence, source, vague=vague)

    def _drop_target_names(self, c: Constraints, target: str) -> None:
        """Categories and the brand that only name the item to edit ("tailor this serum's text") are no constraints."""
        own = set(self.vocab.categories(target))
        own |= {a for cat in own for a in self.vocab.ancestors(cat)}
        c.categories = [cat for cat in c.categories if cat not in own]
        c.brands = [b for b in c.brands if b != self.vocab.brand(target)]
        c.like_items = [i for i in c.like_items if i != target]

    def _prototype_action(self, text: str) -> tuple[str, float]:
        if self._prototypes is None:
            labels = [a for a, ps in _ACTION_PROTOTYPES.items() for _ in ps]
            self._prototypes = (labels, self.embed([p for ps in _ACTION_PROTOTYPES.values() for p in ps]))
        labels, matrix = self._prototypes
        sims = matrix @ self.embed([text])[0]
        best = int(sims.argmax())
        return labels[best], float(sims[best])

    def _question(self, source: str, c: Constraints) -> str:
        if source == "no-target":
            return "Which item would you like me to adapt? Point me to one you have seen or bought."
        examples = ", ".join(self.vocab.top("category", 3))
        return (
            f"What are you looking for? Tell me a kind of product (for example {examples}), a brand or a price range."
        )


def action_cues(text: str) -> set[str]:
    """The actions ``text`` has cue words for: "edit" ("rewrite this", "the title of that one"),
    "create" ("design", "make me a"), "request" ("surprise me")."""
    tokens = tokenize(text)
    st = _State(tokens, _breaks(text, tokens))
    cues = set()
    if _edit_request(st) is not None:
        cues.add("edit")
    if _find(tokens, CREATE_CUES, set()):
        cues.add("create")
    if _find(tokens, REQUEST_CUES, set()):
        cues.add("request")
    return cues


def asks_for_recommendations(text: str) -> bool:
    """True when ``text`` asks for recommendations as such ("surprise me", "what fits me?")."""
    return bool(_find(tokenize(text), REQUEST_CUES, set()))


def negated(text: str, value: str) -> bool | None:
    """Whether ``value`` (a brand, a category) is negated where ``text`` names it ("nothing by Suave");
    None when the text does not name it. Uses the rule instructor's negation scope."""
    tokens = tokenize(text)
    want = normalise(value).split()
    if not want:
        return None
    norms = [t.norm for t in tokens]
    at = next((i for i in range(len(norms) - len(want) + 1) if norms[i : i + len(want)] == want), None)
    if at is None:
        return None
    st = _State(tokens, _breaks(text, tokens))
    _use_phrases(st, INDIFFERENT, _INDIFFERENT_TAIL)
    match = Match(Entry("brand", value), at, at + len(want))
    neg = _negation_scope(st, [match])
    return any(neg[at : at + len(want)])


# ---- token helpers ----------------------------------------------------------------------------
def _find(
    tokens: Sequence[Token], phrases: frozenset[tuple[str, ...]], used: Iterable[int]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Occurrences of ``phrases`` in the unused tokens, longest first, not overlapping."""
    taken = set(used)
    norms = [t.norm for t in tokens]
    longest = max((len(p) for p in phrases), default=0)
    out = []
    for n in range(min(longest, len(tokens)), 0, -1):
        for s in range(len(tokens) - n + 1):
            if tuple(norms[s : s + n]) in phrases and not any(i in taken for i in range(s, s + n)):
                out.append((s, s + n, tuple(norms[s : s + n])))
                taken.update(range(s, s + n))
    return sorted(out)


def _use_phrases(st: _State, phrases: frozenset[tuple[str, ...]], tail: frozenset[str] = frozenset()) -> None:
    """Mark ``phrases`` (and the ``tail`` words right after them) as read."""
    for start, end, _ in _find(st.tokens, phrases, st.used):
        stop = end
        while stop < len(st.tokens) and st.tokens[stop].norm in tail and not st.breaks[stop]:
            stop += 1
        st.use(start, stop)


def _edit_request(st: _State) -> int | None:
    """Where an edit request starts: an edit cue ("rewrite", "shorten"), or a word for an item's text
    next to a pointer ("the title of that cream", "give this one a description")."""
    cue = _find(st.tokens, EDIT_CUES, st.used)
    if cue:
        return cue[0][0]
    pointer = any(t.norm in {"this", "that", "these", "those", "it"} for t in st.tokens)
    fields = _find(st.tokens, EDIT_FIELDS, st.used)
    return fields[0][0] if fields and pointer else None


def _misspelt(vocab: CatalogVocabulary, t: Token) -> bool:
    """True for a word worth a fuzzy catalog lookup: long, alphabetic, and unknown to the catalog and to English."""
    return (
        len(t.norm) >= 4
        and t.norm.isalpha()
        and t.norm not in STOP_WORDS
        and t.norm not in CHAT_WORDS
        and not vocab.known_word(t.norm)
        and english_zipf(t.norm) < 2.5
    )


def _prune_ancestors(vocab: CatalogVocabulary, c: Constraints) -> None:
    """Drop a wanted category another wanted one lies below ("Hair Care" with "Conditioners")."""
    below = {a for cat in c.categories for a in vocab.ancestors(cat)}
    c.categories = [cat for cat in c.categories if cat not in below]


def _use_chars(st: _State, start: int, end: int) -> None:
    for i, t in enumerate(st.tokens):
        if t.start < end and start < t.end:
            st.used.add(i)


def _breaks(text: str, tokens: Sequence[Token]) -> list[str]:
    """Per token, the punctuation between it and the previous token: ".", "," or ""."""
    out = [""] * len(tokens)
    for i in range(1, len(tokens)):
        gap = text[tokens[i - 1].end : tokens[i].start]
        if re.search(r"[.;!?:()\[\]]|\s[-–—]+\s|[–—]", gap):
            out[i] = "."
        elif "," in gap:
            out[i] = ","
    return out


def _clause_end(st: _State, start: int) -> int:
    """Where the clause from ``start`` ends: sentence punctuation, "but", "though", a used token."""
    for i in range(start, len(st.tokens)):
        if i > start and (i in st.used or st.breaks[i] == "."):
            return i
        if st.tokens[i].norm in {"but", "though", "however", "although", "instead", "except"}:
            return i
    return len(st.tokens)


def _title_end(st: _State, start: int) -> int:
    """Where a quoted title starting at ``start`` can end: titles hold punctuation, so only words stop it."""
    for i in range(start + 1, len(st.tokens)):
        if i in st.used or st.tokens[i].norm in {"but", "though", "however", "although", "instead"}:
            return i
    return len(st.tokens)


def _negative_around(st: _State, start: int, end: int) -> bool:
    """True when the comma-delimited part around tokens [start, end) speaks badly of them."""
    stops = {"but", "though", "however", "although"}
    lo = start
    while lo > 0 and not st.breaks[lo] and st.tokens[lo - 1].norm not in stops:
        lo -= 1
    hi = end
    while hi < len(st.tokens) and not st.breaks[hi] and st.tokens[hi].norm not in stops:
        hi += 1
    words = [st.tokens[i].norm for i in range(lo, hi) if not start <= i < end]
    return any(w in _NEGATIVE for w in words)


def _history_span(norms: list[str]) -> int | None:
    """Length of a leading "my last purchase" / "what I bought last" phrase, or None."""
    head = norms[:7]
    mine = [i for i, w in enumerate(head) if w in {"my", "i", "i ve", "ive", "im"}]
    last = [i for i, w in enumerate(head) if w in _HISTORY_HEAD]
    noun = [i for i, w in enumerate(head) if w in _HISTORY_NOUN]
    if not (mine and last and noun) or min(mine + last + noun) > 2:
        return None
    end = max(max(last), max(noun)) + 1
    if end < len(head) and head[end] in {"time", "week", "month", "one"}:
        end += 1
    return end


def _negation_scope(st: _State, matches: list[Match]) -> list[bool]:
    """Per token: is it inside a negation ("not from X", "no X or Y", "X is not for me", "X-free")."""
    tokens, brk = st.tokens, st.breaks
    n = len(tokens)
    neg = [False] * n
    ent_at = {m.start: m for m in matches}
    in_entity = {i for m in matches for i in range(m.start, m.end)}
    for start, end, phrase in _find(tokens, NEG_PRE | NEG_POST, st.used | in_entity):
        if phrase in NEG_POST:
            if phrase == ("free",):  # "fragrance-free": only the value or word right before
                prev = next((m for m in matches if m.end == start), None)
                for i in range(prev.start if prev else max(0, start - 1), start):
                    neg[i] = True
                continue
            i = start - 1
            while i >= 0 and tokens[i].norm not in {"but", "and", "though"}:
                neg[i] = True
                if brk[i]:
                    break
                i -= 1
            continue
        for i in range(start, end):
            neg[i] = True
        seen_entity, i = False, end
        while i < n:
            if brk[i] == "." or (brk[i] == "," and not seen_entity):
                break
            if i in ent_at:
                m = ent_at[i]
                for j in range(m.start, m.end):
                    neg[j] = True
                seen_entity, i = True, m.end
                continue
            w = tokens[i].norm
            if seen_entity:
                if w not in _FILLER:
                    break
            elif w in _RESET or i - end >= 6:
                break
            neg[i] = True
            i += 1
    return neg


def _content_runs(st: _State) -> list[list[int]]:
    """Runs of adjacent unused content words (no stop, chat or cue words), at most four long."""
    runs: list[list[int]] = []
    cur: list[int] = []
    for i, t in enumerate(st.tokens):
        ok = (
            i not in st.used
            and t.norm.isalpha()
            and len(t.norm) >= 3
            and t.norm not in STOP_WORDS
            and t.norm not in CHAT_WORDS
            and t.norm not in _CUE_WORDS
        )
        if ok and cur and cur[-1] == i - 1 and not st.breaks[i] and len(cur) < 4:
            cur.append(i)
            continue
        if cur:
            runs.append(cur)
        cur = [i] if ok else []
    if cur:
        runs.append(cur)
    return runs


_CUE_WORDS = frozenset(
    w
    for table in (CREATE_CUES, EDIT_CUES, RETRIEVE_CUES, NEG_PRE, NEG_POST, LIKE_CUES, UNLIKE_CUES)
    for p in table
    for w in p
)


def _groups(indices: list[int]) -> list[list[int]]:
    """Consecutive token indices grouped into phrases."""
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _add(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


__all__ = [
    "Instructor",
    "Parse",
    "PriceMention",
    "References",
    "RuleInstructor",
    "action_cues",
    "asks_for_recommendations",
    "find_prices",
    "last_shown_item",
    "negated",
    "resolve_references",
    "user_vector_from_scores",
]
