"""The generative loop (GeneRec's running example), one request at a time.

  instruction + feedback -> instructor -> retrieve | edit | create | clarify
    -> post-processing (quality and relevance, then the fidelity checks; every draft is stored
       with its report, blocked ones only for audit)
    -> the generated item shown directly (the user asked for it, or rejected retrieved lists
       repeatedly) or ranked with the human items by the recommender
    -> one list, each generated entry flagged.

Passing generated items join the recommender's catalog (a semantic ID from the trained
tokenizer), so they are scored exactly like human items; they are shown only to the user they
were made for. Blocked items never reach a list.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genrec.config import PipelineConfig
from genrec.data.dataset import Dataset
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.generated_store import GeneratedStore
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.generation.declines import MESSAGES, redact
from genrec.generation.editor import Catalog, Creator, Editor, ItemScorer
from genrec.generation.identity import IdentityGuard
from genrec.generation.instructor import Instructor, user_vector_from_scores
from genrec.generation.intent import Feedback, Guidance, Intent, Turn
from genrec.generation.repair import check_and_repair, respell
from genrec.generation.retrieval import InstructedRetriever
from genrec.generation.textgen import item_corpus
from genrec.generation.vocabulary import english_zipf
from genrec.generation.writers import Writer, has_descriptions, resolve_rewrite
from genrec.models.base import GrowingRecommender
from genrec.vectors import unit

WORD = re.compile(r"[a-z]+")


@dataclass
class Entry:
    """One line of a response list."""

    item_id: str
    title: str
    brand: str | None
    price: float | None
    score: float
    generated: bool = False
    kind: str = ""  # "edit" / "create" for generated items
    verdict: str = ""  # fidelity verdict of generated items


@dataclass
class Response:
    """What the loop answers: the understood intent, a message, the list, and blocked drafts."""

    intent: Intent
    message: str
    entries: list[Entry] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)  # item id, title, reasons


@dataclass
class Session:
    """One user's conversation state."""

    user_id: str
    history: list[int]  # internal ids of the user's past items, oldest first
    feedback: Feedback = field(default_factory=Feedback)
    dialogue: list[Turn] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # ids of the last list
    focus: str | None = None  # the item "this one" refers to

    def like(self, item_id: str) -> None:
        """Record a like; the liked item becomes the focus."""
        self.feedback.likes.append(item_id)
        self.feedback.rejections = 0
        self.focus = item_id

    def dislike(self, item_id: str) -> None:
        """Record a dislike."""
        self.feedback.dislikes.append(item_id)

    def reject_all(self) -> None:
        """The user rejected the whole last list (skipped every item)."""
        self.feedback.skips.extend(self.shown)
        self.feedback.rejections += 1


class GenerativePipeline:
    """Instructor, retriever, editor, creator and checks around one recommender and one catalog."""

    def __init__(
        self,
        dataset: Dataset,
        recommender: Any,
        item_embeddings: np.ndarray,
        instructor: Instructor,
        writer: Writer,
        encoder: Any,
        checker: FidelityChecker,
        context: CheckContext,
        store: GeneratedStore,
        config: PipelineConfig | None = None,
    ) -> None:
        self.dataset = dataset
        self.config = config or PipelineConfig()
        self.recommender = recommender
        self.catalog = Catalog(dataset.items)
        self.emb = np.asarray(item_embeddings, dtype=np.float32)
        self.instructor = instructor
        self.writer = writer
        self.encoder = encoder
        self.editor = Editor(writer, self.catalog, encoder)
        self.creator = Creator(writer, self.catalog, self.emb)
        self.checker = checker
        self.context = context
        if writer.watermark_key:
            self.context.detectors = {**dict(self.context.detectors), writer.name: writer.detector()}
        self.store = store
        self.human_ids = set(self.catalog.row)
        self.vocabulary = corpus_vocabulary(dataset.items)
        self.need_description = has_descriptions(dataset.items)  # a catalog of bare titles asks for none
        # on such a catalog an edit is a new title or nothing: can this writer write one?
        modes = set(resolve_rewrite(self.config.rewrite, dataset.items).split("+"))
        self.rewrites_titles = self.config.generator != "textgen" or bool(modes & TITLE_MODES)
        self.corpus = item_corpus(dataset)
        self.identity = IdentityGuard(
            self.corpus,
            self.catalog.ids,
            encoder,
            self.config.identity_rank,
            name_share=self.config.identity_name_share,
            brands=list(dataset.items["brand"]),
        )
        self.retriever = InstructedRetriever(recommender, dataset.items, self.emb)
        self.owner: dict[str, str] = {}  # generated item id -> the user it was made for
        self.generated: dict[str, GeneratedItem] = {}
        for item in store.items(dataset.name):  # earlier passing items (a restart keeps them)
            self._admit(item)

    # ---- sessions -------------------------------------------------------------------------------
    def session(self, user_id: str) -> Session:
        """A session for a known user of the dataset (history from the interaction log)."""
        users = self.dataset.users["user_id"].astype(str).tolist()
        if user_id not in users:
            raise KeyError(f"unknown user {user_id!r} in dataset {self.dataset.name!r}")
        history = self.dataset.sequences()[users.index(user_id)]
        return Session(user_id, [int(i) for i in history])

    def respond(self, session: Session, instruction: str) -> Response:
        """Understand the instruction, act, check, and answer with one list.

        Requests to decline (another user's data, a copy of a listing) are answered with a message
        that says so and no list; personal data in the request is redacted before anything is
        written or stored (the generated items' provenance keeps the redacted request), and the
        message says it was left out.
        """
        dialogue = list(session.dialogue)
        if session.focus:
            dialogue.append(Turn("system", f"Showing [{session.focus}]"))
        fb = session.feedback
        if not fb.likes and not fb.clicks and session.history:
            fb = Feedback(
                likes=[],
                dislikes=fb.dislikes,
                skips=fb.skips,
                rejections=fb.rejections,
                clicks=[self.catalog.items["item_id"].iloc[i] for i in session.history[-5:]],
            )
        intent = self.instructor.understand(instruction, fb, dialogue, ())
        text = self.redact(instruction, session.user_id)
        session.dialogue.append(Turn("user", text))
        if intent.declined in ("other_users_data", "copy"):
            response = Response(intent, MESSAGES[intent.declined])
        elif intent.action == "clarify":
            response = Response(intent, intent.question or "Could you say a little more about what you want?")
        else:
            guidance = self._guidance(session, text, fb)
            if intent.action == "retrieve":
                response = Response(intent, "Here is what I found.", self._retrieve(session, intent, guidance))
            else:
                response = self._generate(session, text, intent, guidance, fb)
            if intent.declined == "personal_data" or text != instruction:
                response.message = MESSAGES["personal_data"] + " " + response.message
        session.shown = [e.item_id for e in response.entries]
        if response.entries:
            session.focus = response.entries[0].item_id
        session.dialogue.append(Turn("system", response.message))
        return response

    def redact(self, text: str, user_id: str | None = None) -> str:
        """``text`` with the personal data the fidelity privacy check finds in it replaced ("[email]", ...)."""
        check = next((c for c in self.checker.checks if c.name == "privacy"), None)
        spans: list[tuple[int, int, str]] = []
        if check is not None and text.strip():
            probe = GeneratedItem(
                text, "", None, [], None, provenance=Provenance("create", "request", "0", user_id=user_id)
            )
            findings, _ = check.find(probe, dataclasses.replace(self.context, user_id=user_id))
            spans = [
                (f.start, f.end, f.code)
                for f in findings
                if f.field == "title" and f.start is not None and f.end is not None
            ]
        return redact(text, spans)

    # ---- actions ----------------------------------------------------------------------------------
    def _guidance(self, session: Session, instruction: str, fb: Feedback) -> Guidance:
        scores = self.recommender.score([np.asarray(session.history, dtype=np.int64)])[0][: len(self.emb)]
        emb = self.emb[: len(scores)]  # a recommender that cannot add items scores the human catalog only
        user = user_vector_from_scores(scores, emb) if np.isfinite(scores).any() else None
        return self.instructor.guidance(instruction, fb, self.emb[: len(self.human_ids)], user)

    def _retrieve(
        self, session: Session, intent: Intent, guidance: Guidance, k: int | None = None, skip: set[str] | None = None
    ) -> list[Entry]:
        k = k or self.config.list_size
        query = guidance.instruction if guidance.instruction is not None else np.zeros(self.emb.shape[1], np.float32)
        scores = self.retriever.scores(
            [np.asarray(session.history, dtype=np.int64)], [intent.constraints], query[None, :]
        )[0]
        ids = self.retriever.index.ids
        hide = set(session.feedback.dislikes) | (skip or set())
        hide |= {g for g, owner in self.owner.items() if owner != session.user_id}
        mine = 0
        out: list[Entry] = []
        for i in np.argsort(-scores, kind="stable"):
            if not np.isfinite(scores[i]) or len(out) >= k:
                break
            item_id = ids[i]
            if item_id in hide:
                continue
            if item_id in self.generated:
                if mine >= self.config.generated_slots:
                    continue
                mine += 1
            out.append(self._entry(item_id, float(scores[i])))
        return out

    def _generate(
        self, session: Session, instruction: str, intent: Intent, guidance: Guidance, fb: Feedback
    ) -> Response:
        cfg = self.config
        liked = list(fb.likes or fb.clicks)
        seed = cfg.seed + len(session.dialogue)
        if intent.action == "edit":
            target = intent.target_item or session.focus
            if target in self.generated:  # an item generated earlier: rewrite its catalog source again
                target = self.generated[target].provenance.source_item_id
                if target is None:
                    return Response(
                        intent,
                        "That item is one I created, not a catalog item; pick a catalog "
                        "item to rewrite, or ask me to make a new one.",
                    )
            if target is None or target not in self.catalog.row:
                return Response(intent, "Which item should I rewrite? Pick one from a list first.")
            if not self.need_description and not self.rewrites_titles:
                return self._title_only(session, intent, guidance, target)
            drafts = self.editor.rewrite(
                target, session.user_id, liked, instruction, guidance, intent.constraints, n=cfg.drafts, seed=seed
            )
        else:
            drafts = self.creator.create(
                session.user_id, liked, instruction, guidance, intent.constraints, n=cfg.drafts, seed=seed
            )
        scorer = self.scorer(session)
        passed, blocked = self._check_and_store(drafts, session.user_id)
        titles_only = intent.action == "edit" and not self.need_description
        if titles_only and target is not None:  # only a new title changes an item of a titles-only catalog
            source_title = str(self.catalog.record(target)["title"]).strip()
            passed = [p for p in passed if p.title.strip() != source_title]
            if not passed:
                return self._title_only(session, intent, guidance, target, blocked)
        compared = intent.action == "edit" and cfg.edit_vs_source != "off"
        # on a titles-only catalog an edit that keeps the product ties the source on the recommender's
        # score, so closeness to the user (Cosine@10) decides which edit is shown
        rule = "closest" if titles_only else None
        passed, better = self.rank(passed, guidance, scorer, source_id=target if compared else None, rule=rule)
        why = intent.reason or ("you asked for it" if intent.action in ("edit", "create") else "")
        if passed and intent.action == "create" and intent.constraints.categories:
            passed = self.prefer_asked_type(passed, intent.constraints.categories)
        if passed and compared and not better:  # the user asked for a rewrite: shown, with the honest caveat
            why += "; none of my rewrites suits you better than the original, this is the closest"
        if not passed and intent.action == "edit" and guidance.liked is not None:
            # every rewrite was blocked: repurpose by selection instead (the facts stay the source's)
            vector = _target(guidance)
            method = "recommender" if scorer is not None and cfg.rank_drafts == "recommender" else "personal"
            assert target is not None  # an edit always names its source by now
            chosen = self.editor.select(
                target,
                guidance.liked if vector is None else vector,
                session.user_id,
                method=method,
                scorer=scorer,
                floor=cfg.selection_floor,
            )
            passed, more = self.post_process([chosen], session.user_id, guidance, scorer)
            blocked += more
            why = (
                "every rewrite was blocked" if drafts else "I had nothing to add to this item"
            ) + ", so I picked the part of the item that fits you"
        if not passed:
            human = self._retrieve(session, intent, guidance)
            return Response(
                intent, "Nothing I generated passed the checks; here are catalog items instead.", human, blocked
            )
        best = passed[0]
        self._admit(best)
        entry = self._entry(best.item_id, float("nan"))
        human = self._retrieve(
            session,
            Intent(action="retrieve", constraints=intent.constraints),
            guidance,
            k=cfg.list_size - 1,
            skip={best.item_id},
        )
        verb = {"edit": "rewrote", "select": "repurposed", "create": "made"}[best.provenance.kind]
        return Response(intent, f"I {verb} this for you ({why}); catalog items follow.", [entry] + human, blocked)

    # ---- post-processing ------------------------------------------------------------------------
    def scorer(self, session: Session) -> ItemScorer | None:
        """The recommender's prospective scores of item records for this session's user; a recommender
        that cannot score items outside its catalog (``GrowingRecommender``) is stood in for by the text
        encoder: cosine of the record's text to the user's history (None without a history)."""
        history = [np.asarray(session.history, dtype=np.int64)]
        if isinstance(self.recommender, GrowingRecommender):
            recommender = self.recommender
            return lambda records: recommender.score_new(history, pd.DataFrame(records))[0]
        rows = [i for i in session.history if 0 <= i < len(self.human_ids)]
        if not rows:
            return None
        user = self.emb[rows].mean(axis=0)
        user = unit(user)

        def by_text(records: list[dict[str, Any]]) -> np.ndarray:
            texts = [f"{r.get('title') or ''}\n{r.get('description') or ''}" for r in records]
            return np.asarray(self.encoder.encode(texts), dtype=np.float64) @ user

        return by_text

    def post_process(
        self, drafts: list[GeneratedItem], user_id: str, guidance: Guidance, scorer: ItemScorer | None = None
    ) -> tuple[list[GeneratedItem], list[dict[str, Any]]]:
        """Quality and identity gates, fidelity checks, storage; passing drafts best first (``rank``)."""
        passed, blocked = self._check_and_store(drafts, user_id)
        return self.rank(passed, guidance, scorer)[0], blocked

    def _check_and_store(
        self, drafts: list[GeneratedItem], user_id: str
    ) -> tuple[list[GeneratedItem], list[dict[str, Any]]]:
        """Gates, fidelity checks (with repair) and storage: the passing drafts and the blocked ones."""
        fine = list(drafts)
        # the same context (and its cached indexes), with this request's user as the requester;
        # an edit blocked only for unsupported claims in its description also comes back cut
        fine += screen_and_check(
            drafts,
            self.vocabulary,
            self.identity,
            self.checker,
            dataclasses.replace(self.context, user_id=user_id),
            self.need_description,
        )
        blocked, passed = [], []
        for item in fine:
            if self.store.has(item.item_id):  # the same draft again (same seed): keep the stored verdict
                item = self.store.get(item.item_id)
            else:
                self.store.add(item, self.dataset.name, self.human_ids)
            if item.blocked:
                blocked.append({"item_id": item.item_id, "title": item.title, "reasons": _reasons(item.fidelity or {})})
            else:
                passed.append(item)
        return passed, blocked

    def _title_only(
        self,
        session: Session,
        intent: Intent,
        guidance: Guidance,
        target: str,
        blocked: list[dict[str, Any]] | None = None,
    ) -> Response:
        """The answer to an edit on a catalog whose items are titles only and no new title passed: said
        plainly, with the item as it is (not flagged: nothing was generated) and catalog items."""
        title = str(self.catalog.record(target)["title"])
        human = self._retrieve(
            session,
            Intent(action="retrieve", constraints=intent.constraints),
            guidance,
            k=self.config.list_size - 1,
            skip={target},
        )
        message = (
            f"This catalog describes its items by their title only, so there is nothing to personalise beyond the title: "
            f'"{title}" is shown as it is, followed by catalog items.'
        )
        return Response(intent, message, [self._entry(target, float("nan"))] + human, blocked or [])

    def rank(
        self,
        passed: list[GeneratedItem],
        guidance: Guidance,
        scorer: ItemScorer | None = None,
        source_id: str | None = None,
        rule: str | None = None,
    ) -> tuple[list[GeneratedItem], int]:
        """Passing drafts best first: by the recommender's score for the user (``scorer``, when
        ``rank_drafts="recommender"``), ties by closeness to the guidance. With ``source_id`` (an edit's
        catalog source, compared when the guidance gives a target) the drafts that beat it
        (``beats_source`` with ``pipeline.edit_vs_source``) come first; also returns how many do (0
        without a comparison)."""
        target = _target(guidance)
        compare = source_id is not None and target is not None
        if not passed or (len(passed) < 2 and not compare):
            return passed, 0
        records, texts = [p.record() for p in passed], [p.text for p in passed]
        if compare:
            assert source_id is not None
            records.append(self.catalog.record(source_id))
            texts.append(self.corpus[self.catalog.row[source_id]])
        closeness = np.zeros(len(texts)) if target is None else self.encoder.encode(texts) @ target
        scores = (
            np.asarray(scorer(records), dtype=np.float64)
            if scorer is not None and self.config.rank_drafts == "recommender"
            else np.zeros(len(records))
        )
        n = len(passed)
        source = (float(scores[n]), float(closeness[n])) if compare else None
        order, better = order_drafts(scores[:n], closeness[:n], source, rule or self.config.edit_vs_source)
        return [passed[i] for i in order], int(better.sum()) if compare else 0

    def prefer_asked_type(self, passed: list[GeneratedItem], categories: list[str]) -> list[GeneratedItem]:
        """Creations whose title names the asked category or one of its product types (the leaf
        categories of its catalog items) first, each group in its order: a creation asked for as
        "headphones" should not be shown as a charger while a passing draft says "earbuds"."""
        rows = self.catalog.rows_in(categories)
        types = {c.lower() for c in categories} | {
            str(c[-1]).lower() for c in self.catalog.items["categories"].iloc[rows] if len(c)
        }
        named = {p.item_id for p in passed if any(_names(p.title.lower(), t) for t in types if t)}
        return [p for p in passed if p.item_id in named] + [p for p in passed if p.item_id not in named]

    def _admit(self, item: GeneratedItem) -> None:
        """Make a passing generated item scorable and retrievable (for its owner)."""
        if item.blocked or item.item_id in self.generated:
            return
        frame = pd.DataFrame([item.record()])
        if isinstance(self.recommender, GrowingRecommender):
            self.recommender.add_items(frame)  # else the retriever scores it by text (never a shape error)
        emb = self.encoder.encode([f"{item.title}\n{item.description}"])
        self.emb = np.concatenate([self.emb, emb.astype(np.float32)])
        self.retriever = InstructedRetriever(
            self.recommender,
            pd.concat([self.retriever_items(), frame], ignore_index=True),
            self.emb,
            self.retriever.weights,
        )
        self.generated[item.item_id] = item
        self.owner[item.item_id] = item.provenance.user_id or ""

    def retriever_items(self) -> pd.DataFrame:
        """The items the retriever ranks: the human catalog plus admitted generated items."""
        extra = [g.record() for g in self.generated.values()]
        return pd.concat([self.dataset.items, pd.DataFrame(extra)], ignore_index=True) if extra else self.dataset.items

    def _entry(self, item_id: str, score: float) -> Entry:
        if item_id in self.generated:
            g = self.generated[item_id]
            return Entry(
                item_id,
                g.title,
                g.brand,
                g.price,
                score,
                True,
                g.provenance.kind,
                (g.fidelity or {}).get("verdict", ""),
            )
        rec = self.catalog.record(item_id)
        price = rec.get("price")
        return Entry(
            item_id,
            str(rec["title"]),
            rec.get("brand"),
            None if price is None or pd.isna(price) else float(price),
            score,
        )


SOURCE_RULES = ("rank", "closest", "both", "off")
#: Rewrite modes that write a new title (the others keep the source's title verbatim).
TITLE_MODES = frozenset({"anchored", "full"})


def beats_source(
    scores: np.ndarray,
    closeness: np.ndarray,
    source_score: float,
    source_closeness: float,
    rule: str = "rank",
    tol: float = 1e-6,
) -> np.ndarray:
    """Which edits serve the user better than their unchanged source, by the recommender's score
    and cosine to the user's guidance.

    ``rank``: the source competes in the drafts' own ranking (score first, closeness breaks ties),
    as generated items are ranked with human ones; ``closest``: the same edits as ``rank`` (they are
    shown closest to the guidance first, see ``order_drafts``); ``both``: no lower on both measures
    and higher on one; ``off``: every edit. ``tol`` absorbs float32 noise: the same text encoded in another
    batch differs by ~1e-7, so a copy of the source never beats it.
    """
    scores, closeness = np.asarray(scores, dtype=np.float64), np.asarray(closeness, dtype=np.float64)
    higher, tied = scores > source_score + tol, np.abs(scores - source_score) <= tol
    closer, no_further = closeness > source_closeness + tol, closeness >= source_closeness - tol
    if rule in ("rank", "closest"):
        return higher | (tied & closer)
    if rule == "both":
        return (higher | tied) & no_further & (higher | closer)
    if rule == "off":
        return np.ones(len(scores), dtype=bool)
    raise ValueError(f"pipeline.edit_vs_source must be one of {SOURCE_RULES}, not {rule!r}")


def order_drafts(
    scores: np.ndarray, closeness: np.ndarray, source: tuple[float, float] | None = None, rule: str = "rank"
) -> tuple[np.ndarray, np.ndarray]:
    """Best-first order of drafts and which of them beat the source: with ``source`` (its score and
    closeness) those that ``beats_source`` first; then by the recommender's score, ties by closeness
    (drafts on one semantic-ID prefix tie on the score), or with ``rule="closest"`` by closeness, ties
    by the score. Without a source every draft counts as better."""
    scores, closeness = np.asarray(scores, dtype=np.float64), np.asarray(closeness, dtype=np.float64)
    better = np.ones(len(scores), dtype=bool) if source is None else beats_source(scores, closeness, *source, rule)
    if rule == "closest":
        return np.lexsort((-scores, -closeness, ~better)), better
    return np.lexsort((-closeness, -scores, ~better)), better


def screen_and_check(
    drafts: list[GeneratedItem],
    vocabulary: set[str],
    identity: IdentityGuard | None,
    checker: FidelityChecker,
    ctx: CheckContext,
    need_description: bool = True,
) -> list[GeneratedItem]:
    """Block drafts unfit to show (quality, then identity for edits), check the rest with the
    fidelity checks and repair; returns the repaired copies, screened and checked too (a creation
    blocked only for made-up words, respelled to the catalog's words; an edit cut of its unsupported
    sentences)."""
    respelled = []
    choices: list[str] = []  # the vocabulary sorted, once, when a draft needs respelling
    for item in drafts:
        problem = quality_problem(item, vocabulary, need_description=need_description)
        if problem:
            item.fidelity = {"verdict": "block", "reasons": [f"quality: {problem}"], "checks": {}}
            odd = non_words(item.text, vocabulary) if item.provenance.kind == "create" else []
            choices = choices or (sorted(vocabulary) if odd else [])
            fixed = respell(item, odd, choices) if odd else None
            if fixed is not None and not quality_problem(fixed, vocabulary, need_description=need_description):
                respelled.append(fixed)  # the blocked draft stays stored with its reason
    _screen_identity([d for d in drafts if d.fidelity is None], identity)
    to_check = [d for d in drafts if d.fidelity is None] + respelled
    repaired = respelled + check_and_repair(checker, to_check, ctx)[len(to_check) :]
    _screen_identity([r for r in repaired if not r.blocked], identity)
    return repaired


def _screen_identity(items: list[GeneratedItem], identity: IdentityGuard | None) -> None:
    if identity is None:
        return
    for item, problems in zip(items, identity.reasons(items)):
        if problems:
            report = dict(item.fidelity or {"checks": {}})
            report["verdict"] = "block"
            report["reasons"] = [*report.get("reasons", []), *(f"identity: {p}" for p in problems)]
            item.fidelity = report


def quality_problem(
    item: GeneratedItem, vocabulary: set[str] | None = None, min_known: float = 0.7, need_description: bool = True
) -> str:
    """Why a draft is not fit to show ('' if it is): too short (a description is asked for only
    when ``need_description``: the catalog's items have them), broken characters, repeated words,
    too few words the catalog itself uses (``vocabulary``: lower-case words of the corpus), or, for
    a creation, any word that is neither the catalog's nor English (``non_words``)."""
    words = item.title.split()
    if len(words) < 2:
        return "title too short"
    if need_description and len(item.description.split()) < 3:
        return "description too short"
    if "\ufffd" in item.text:
        return "broken characters"
    if any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2)):
        return "repeated words in the title"
    if vocabulary:
        tokens = WORD.findall(item.text.lower())
        known = sum(t in vocabulary for t in tokens) / max(len(tokens), 1)
        if known < min_known:
            return f"only {known:.0%} of its words are words the catalog uses"
        if item.provenance.kind == "create":
            odd = non_words(item.text, vocabulary)
            if odd:
                return "words that are neither the catalog's nor English: " + ", ".join(repr(w) for w in odd[:4])
    return ""


def non_words(text: str, vocabulary: set[str]) -> list[str]:
    """Words of ``text`` (3+ letters) that no catalog text uses and English does not know: the near-words
    a small generator makes up ("OCmer Enute Therapy Tea Moisturizer")."""
    out = []
    for word in dict.fromkeys(WORD.findall(text.lower())):
        if len(word) >= 3 and word not in vocabulary and english_zipf(word) <= 0:
            out.append(word)
    return out


def corpus_vocabulary(items: pd.DataFrame) -> set[str]:
    """Lower-case words of the catalog's titles and descriptions."""
    text = " ".join(items["title"].astype(str)) + " " + " ".join(items["description"].fillna("").astype(str))
    return set(WORD.findall(text.lower()))


def _names(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words (a trailing plural "s" allowed)."""
    return re.search(rf"(?<!\w){re.escape(phrase)}s?(?!\w)", text) is not None


def _target(g: Guidance) -> np.ndarray | None:
    parts = [v for v in (g.instruction, g.user, g.liked) if v is not None]
    if not parts:
        return None
    return unit(np.mean(parts, axis=0))


def _reasons(report: dict[str, Any]) -> list[str]:
    if report.get("reasons"):
        return list(report["reasons"])
    out = []
    for name, check in (report.get("checks") or {}).items():
        if isinstance(check, dict) and check.get("verdict") == "block":
            out += [f"{name}: {r}" for r in check.get("reasons", [])]
    return out
