"""Benchmark genrec's generative side in text: what GeneRec's Tables 1-4 measure for micro-videos.

GeneRec (Wang et al., 2023) judges its AI editor (personalised thumbnail selection, Table 1;
video editing, Tables 2-3) and AI creator (Table 4) with Cos@K, PS@K and FVD. genrec does the
same for item TEXTS, and adds the instructor and instruction-conditioned retrieval.

Setup
-----
* Split: leave-one-out (``genrec.data.split.leave_one_out``). N test users are sampled with a
  fixed seed among users with at least one liked item before a test target that has a title
  (amazon-beauty has 7 items without one). For each, the held-out TEST target is the item to
  repurpose (selection, rewriting) and the "future" the user will like; the history is
  everything before it (the recommender's test-time input) and the liked history is that
  history minus dislikes / skips (``selection.liked_histories``).
* Recommender: tiger (``genrec.models.tiger``). synthetic: trained here on the TRAIN split
  (early stopping on 1000 validation users). amazon-beauty: by default the saved model of
  run_tiger.py (``~/.cache/genrec/models/tiger-amazon-beauty``), which was REFIT ON
  TRAIN + VALID; it never saw the test targets, and nothing here is selected on test.
* Text generator: ``TextGenerator`` with the default ``TextGenConfig`` (all its epochs, no time
  budget, so the model does not depend on the machine's speed), trained on every catalog text
  with a title ("title\\ndescription", ``item_corpus``),
  conditioned on the item's own embedding (``item_conditions``): catalog text only, no
  interactions.
* LLM: SmolLM2-135M-Instruct through ``create_backend(LLMConfig(threads=...))``, on the first
  M sampled users only (it is slow); every other method is also reported on those M users.

Embeddings. "Text space": the MiniLM embedding of an item's shown text, "title\\ndescription"
(``item_corpus`` for catalog items; the generated title and description for generated ones),
so metadata a writer copies from the user's history never counts as generated content.
"Condition space": ``item_conditions`` (title, brand, categories, price, description), the
space the text generator is conditioned in and the instruction-retrieval space.

User representations (GeneRec's User_Hist vs User_Emb guidance):
  User_Hist = unit mean of the embeddings of the user's liked history items (GeneRec Eq. 1);
  User_Emb  = ``user_vector_from_scores(tiger.score(history), item embeddings)``, the softmax-
              weighted mean of the recommender's 50 best-scored items.
Each is computed in text space (selection) and in condition space (text-generator guidance).

The loop's defaults, measured as such. Selection "personal (recommender)": among the target's
segments at least as close to User_Hist as its opening segment (``PipelineConfig().selection_floor``,
chosen on validation users by select_selection.py), the one tiger scores best for the user
(``Tiger.score_new``). Rewriting "textgen (...)": what the loop shows (``loop_choice``):
genrec's generator writes ``PipelineConfig().drafts`` drafts in the catalog's rewrite modes
(``resolve_rewrite("auto")``: half "description", a new description under the kept title, half
"facts", the source's own category names chosen for the user by the generator under a phrase
constraint, then its description; on catalogs without descriptions all "facts"), every draft goes
through the quality and identity gates (nearest catalog text and the source title's name words)
and the fidelity checks (default policy, authenticity repair; ``screen_and_check`` as in the
pipeline), the passing ones are ranked beside the unchanged source (``beats_source`` with
``PipelineConfig().edit_vs_source``; "rank": the source takes part in the drafts' ranking, tiger's
score for the user first, cosine to the guidance on ties), and of those that beat it the one tiger
scores best is shown (ties: cosine to the guidance); where none is left, the original item.
", 1 draft" is the first draft, unchecked and unranked (the original item where the writer had
nothing to write); "<mode> only" rows use the second mode alone; "without the identity gate" is the
loop with ``identity_rank=0`` and ``identity_name_share=0``, "not ranked beside its source" with
``edit_vs_source="off"`` (the best passing draft); "anchored, without the identity gate" writes new
titles around the source's facts instead (the former default on bare titles), ungated, to show
what renaming buys. Selection users (``--selection-users``, 1000 by default: selection is cheap,
and PS@10 moves for few users, so 200 cannot tell a small gain from none) are sampled among the
test users whose target text has 2 or more segments (elsewhere every method shows the same text).

Metrics (``genrec.eval.generation_metrics``), per generated / selected text g for user u:
* Cosine@10: mean cosine between g and the user's last 10 liked history items (text space).
* PS@10 / PS: g becomes a temporary catalog item of a COPY of tiger (``add_items``: a semantic
  ID from the trained tokenizer, no retraining), and its exact log-probability for u's history
  is placed among the catalog items' (``ps_at_k``): PS@10 = share of u's top-10 catalog items
  it outscores, PS = its percentile in the whole catalog. The held-out target is left out of the
  comparison set. EVERY row, baselines included, is added the same way (a catalog item re-added
  as a new item, so all rows share the new-item cold start). Each item is added ALONE to its own
  copy: with ``trie_softmax`` a new item joins the softmax of the trie node it attaches to, so
  two items added together can lower each other and the catalog items around them.
  Selection rows are the chosen segment as the item's whole text; edit rows keep the source's
  brand, categories and price; created rows are text only (no brand, categories or price), so
  PS compares the texts alone. Selection checks use the targets with 2 or more segments (the
  only ones where the methods can differ).
* SID shared: how many leading semantic-ID codes (of the L before the disambiguating one) the
  added item shares with the held-out target in tiger's trie, a diagnostic of PS: tiger scores
  code prefixes, so text that leaves the target's branch loses the target's learned prefix.
* Fact keeping (edits): share of the source's facts (brand, price, quantities, sizes, numbers,
  leaf-category product types) the edit still states.
* Fréchet distance vs real items: text-space embeddings of the n generated texts vs n catalog
  items drawn uniformly at random (the same reference sample for every row with n cases); lower
  is better; only rows with equal n are comparable (n < 384 biases FD upwards). The random-
  catalog-item rows are drawn from outside the reference sample, so they show the real-vs-real
  floor.
* Novelty: 1 - max cosine to any catalog text (0 for a copy); "copies" = exact catalog texts.
* Time per item: wall time of the writer call (or selection) divided by the items it made.
* Instructor: ``build_instruction_set`` + ``evaluate_instructor`` (action accuracy, micro
  precision / recall / F1 over (field, value) constraint pairs, per family, tuning vs held-out
  phrasings, seconds per instruction); LLM and combined (rules first) on the first K cases.
* Instruction-conditioned retrieval: for each sampled user, a request built from the held-out
  target's most specific category and its brand ("show me {category} from {brand}"), read by
  the default (rule) instructor into Constraints and an instruction embedding; Recall@10 /
  NDCG@10 of ``InstructedRetriever`` (default ``RetrievalWeights``, nothing tuned) over the full
  catalog, history not excluded, vs the same retriever without the instruction (tiger alone).

    python -m benchmarks.run_generation --dataset synthetic
    python -m benchmarks.run_generation --dataset amazon-beauty
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    DATASETS,
    Timer,
    command_line,
    commit,
    load_benchmark_dataset,
    machine,
    peak_rss_mb,
    write_result,
)
from benchmarks.instruction_set import build_instruction_set, evaluate_instructor
from genrec.config import (
    EncoderConfig,
    LLMConfig,
    PipelineConfig,
    SyntheticConfig,
    TextGenConfig,
    TigerConfig,
    config_to_dict,
)
from genrec.data.dataset import Dataset, optional_float
from genrec.data.split import Split, leave_one_out
from genrec.data.synthetic import generate
from genrec.encoders.text import TextEncoder, item_texts
from genrec.eval.generation_metrics import (
    cosine_at_k,
    fact_keeping,
    frechet_distance,
    generation_table,
    name_keeping,
    novelty,
    product_type_vocabulary,
    ps_at_k,
)
from genrec.eval.metrics import rank_in_lists, rank_metrics
from genrec.eval.validation import ranking_validator
from genrec.fidelity._catalog import brand_lexicon
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.generation.editor import Catalog, to_item
from genrec.generation.identity import IdentityGuard, same_text_groups, source_ranks
from genrec.generation.instructor import RuleInstructor, user_vector_from_scores
from genrec.generation.intent import Constraints, Feedback, Guidance
from genrec.generation.phrases import common_categories
from genrec.generation.pipeline import corpus_vocabulary, order_drafts, screen_and_check
from genrec.generation.retrieval import InstructedRetriever, RetrievalWeights
from genrec.generation.selection import liked_histories, select_segments, split_segments, user_vector
from genrec.generation.textgen import TextGenerator, item_conditions, item_corpus, join_text
from genrec.generation.vocabulary import CatalogVocabulary
from genrec.generation.writers import (
    Draft,
    LLMItemWriter,
    TextGenWriter,
    Writer,
    has_descriptions,
    resolve_rewrite,
)
from genrec.models.tiger import Tiger

K = 10  # the @K of Cosine and PS, and the retrieval cut-off
BENCH_WATERMARK_KEY = "genrec-benchmark"  # the loop watermarks every draft; so do the benchmark's writers
SEGMENT_CHUNK = 25  # users whose target segments one score_new call takes
LIKED_SHOWN = 10  # liked history items handed to a writer (the LLM shows at most 3 of them)
#: Saved recommenders used by default (they must cover the dataset's catalog in the same order).
DEFAULT_TIGER = {name: f"~/.cache/genrec/models/tiger-{name}" for name in ("amazon-beauty", "amazon-beauty-desc")}
#: The tiger trained here when no saved model is used (a small, fast configuration).
TIGER_TRAIN = {"epochs": 15, "valid_users": 1000, "progress": False}


# ---- data and models ------------------------------------------------------------------------
def load_dataset(name: str) -> Dataset:
    """ "synthetic" (the built-in marketplace, default settings) or a benchmark dataset."""
    if name == "synthetic":
        return generate(SyntheticConfig())
    return load_benchmark_dataset(name)


def _comparable(config: dict[str, Any]) -> str:
    """A config as canonical JSON without the keys that do not change the trained model."""
    kept = {k: v for k, v in config.items() if k not in ("threads", "progress")}
    if isinstance(kept.get("encoder"), dict):  # tiger's encoder: where its cache lives does not matter
        kept["encoder"] = {k: v for k, v in kept["encoder"].items() if k != "cache_dir"}
    return json.dumps(kept, sort_keys=True, default=str)


def get_tiger(split: Split, path: str, threads: int, models_dir: str, dataset: str) -> tuple[Tiger, dict[str, Any]]:
    """The recommender: loaded from ``path``, or trained on the train split (reused from ``models_dir``)."""
    if path:
        folder = Path(path).expanduser()
        if not (folder / "meta.json").exists():
            raise SystemExit(f"--tiger-model {folder}: no saved model there (run run_tiger.py --save, or pass '')")
        model = Tiger.load(folder)
        info = {
            "source": f"loaded from {folder} (run_tiger.py's final model: {_refit_note(dataset)})",
            "fit_info": _brief_fit_info(model.fit_info),
        }
        meta = json.loads((folder / "meta.json").read_text())
        info["saved_config"] = meta.get("config")
    else:
        cfg = TigerConfig(**TIGER_TRAIN, threads=threads)
        saved = Path(models_dir) / f"tiger-{dataset}-train" if models_dir else None
        model = None
        if saved is not None and (saved / "meta.json").exists():
            meta = json.loads((saved / "meta.json").read_text())
            if _comparable(meta["config"]) == _comparable(config_to_dict(cfg)):
                model = Tiger.load(saved)
        if model is None:
            model = Tiger(cfg)
            model.fit(split.train, ranking_validator(split.valid))
            if saved is not None:
                model.save(saved)
            source = "trained here on the leave-one-out train split (early stopping on validation)"
        else:
            source = f"trained on the leave-one-out train split by an earlier run (reused from {saved})"
        info = {"source": source, "config": config_to_dict(cfg), "fit_info": _brief_fit_info(model.fit_info)}
    if model.item_ids != [str(x) for x in split.train.items["item_id"]]:
        raise SystemExit("the recommender's catalog differs from the dataset's (item ids or their order)")
    model.config.threads = threads
    model.config.progress = False
    return model, info


def _refit_note(dataset: str) -> str:
    """How run_tiger.py trained the saved model, from its result file."""
    result = Path(__file__).resolve().parent / "results" / dataset / "tiger.json"
    if not result.exists():
        return "training data unknown (no tiger.json)"
    refit = json.loads(result.read_text()).get("refit")
    if refit:
        return f"refit on {refit['data']} for {refit['epochs']} epochs, test targets never seen"
    return "trained on the train split with early stopping"


def _brief_fit_info(info: dict[str, Any]) -> dict[str, Any]:
    """fit_info without the bulky per-epoch history (its last entry kept)."""
    out = {k: v for k, v in info.items() if k != "history"}
    if info.get("history"):
        out["last_epoch"] = info["history"][-1]
    return out


def get_textgen(
    texts: list[str], cond: np.ndarray, threads: int, budget: float, models_dir: str, dataset: str
) -> tuple[TextGenerator, dict[str, Any]]:
    """The text generator with the default config (and ``budget`` seconds), trained or reused."""
    cfg = TextGenConfig(threads=threads, progress=False, time_budget_seconds=budget)
    saved = Path(models_dir) / f"textgen-{dataset}" if models_dir else None
    if saved is not None and (saved / "textgen.json").exists():
        gen = TextGenerator.load(saved)
        if _comparable(config_to_dict(gen.config)) == _comparable(config_to_dict(cfg)):
            gen.config.threads = threads
            return gen, {"source": f"trained by an earlier run (reused from {saved})", **_train_info(gen)}
    gen = TextGenerator(cfg)
    with Timer() as t:
        gen.fit(texts, cond)
    if saved is not None:
        gen.save(saved)
    return gen, {"source": "trained here", "fit_seconds_wall": t.seconds, **_train_info(gen)}


def _train_info(gen: TextGenerator) -> dict[str, Any]:
    last = gen.history[-1] if gen.history else {}
    return {
        "config": config_to_dict(gen.config),
        "vocab_size": gen.vocab_size,
        "parameters": sum(p.numel() for p in gen.net.parameters()) if gen.net is not None else 0,
        "epochs_run": last.get("epoch"),
        "final_loss": last.get("loss"),
        "train_seconds": last.get("seconds"),
        "stop": last.get("stop"),
        "history": gen.history,
    }


class MemoEncoder:
    """The text encoder without the disk cache (generated texts stay out of it), memoised for this run."""

    def __init__(self, encoder: TextEncoder, threads: int) -> None:
        self.encoder = TextEncoder(EncoderConfig(cache=False, progress=False, threads=threads), model=encoder.model)
        self.memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self.encoder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings [n, d]."""
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.encoder.encode(todo)))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.memo[t] for t in texts])


# ---- the shared context ---------------------------------------------------------------------
@dataclass
class Bench:
    """What every section shares: the data, the sampled users, embeddings and models."""

    ds: Dataset
    users: np.ndarray  # internal ids of the sampled test users
    histories: list[np.ndarray]  # their test histories (every event): the recommender's input
    liked: list[np.ndarray]  # their liked history items, time order
    targets: np.ndarray  # their held-out test items
    corpus: list[str]  # "title\ndescription" per catalog item
    text_emb: np.ndarray  # text space: embeddings of ``corpus``
    cond_emb: np.ndarray  # condition space: ``item_conditions``
    scores: np.ndarray  # tiger log-probabilities [n users, n items]
    user_vectors: dict[str, np.ndarray]  # "hist_text", "emb_text", "hist_cond", "emb_cond": [n, d]
    tiger: Tiger
    encoder: TextEncoder  # with the disk cache: catalog texts only
    fresh: MemoEncoder  # without it: generated texts, segments
    order: np.ndarray  # catalog rows with a text, in a fixed random order: the first n are the FD reference
    product_types: list[str]
    catalog: Catalog
    scratch: str  # embedding cache of the items added to tiger copies (a temporary folder)
    seed: int
    item_ids: list[str] = field(default_factory=list)
    has_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per item: a non-empty title
    eligible_users: int = 0  # test users that could be sampled
    test_users: int = 0
    same_text: list[list[int]] = field(default_factory=list)  # per item: the items with the same text

    def __post_init__(self) -> None:
        self.same_text = same_text_groups(self.corpus)

    @property
    def n(self) -> int:
        """Number of sampled users."""
        return len(self.users)

    def liked_records(self, row: int) -> list[dict[str, Any]]:
        """The last liked history items of sampled user ``row`` as catalog records."""
        return self.catalog.records([self.item_ids[i] for i in self.liked[row][-LIKED_SHOWN:]])

    def source_fields(self, item: int) -> dict[str, Any]:
        """Brand, categories and price of catalog item ``item`` (kept by edits)."""
        row = self.ds.items.iloc[int(item)]
        return {
            "brand": row["brand"] or None,
            "categories": list(row["categories"]),
            "price": optional_float(row["price"]),
        }

    def random_items(self, count: int, salt: int) -> np.ndarray:
        """``count`` catalog items outside the FD reference sample, none a user's own target."""
        pool = self.order[self.n :]
        rng = np.random.default_rng(self.seed + salt)
        picks = rng.choice(pool, size=count, replace=len(pool) < count)
        for j in np.flatnonzero(picks == self.targets[:count]):
            while picks[j] == self.targets[j]:
                picks[j] = rng.choice(pool)
        return picks


def build_bench(
    ds: Dataset, split: Split, tiger: Tiger, n_users: int, seed: int, threads: int, scratch: str, min_segments: int = 1
) -> Bench:
    """Sample the users and compute the embeddings and user vectors every section uses.

    ``min_segments`` > 1 samples only users whose target text has that many segments (selection).
    """
    liked_all, last = liked_histories(ds, hold_out=1)
    case_of = {int(u): c for c, u in enumerate(split.test.users)}
    corpus = item_corpus(ds)
    has_text = np.array([bool(t.strip()) for t in corpus])
    if min_segments > 1:
        has_segments = np.array([bool(t.strip()) and len(split_segments(t)) >= min_segments for t in corpus])
    else:
        has_segments = has_text
    # A user qualifies with a liked history item and a target that has a text to select from or edit.
    eligible = [u for u, t in zip(split.test.users, split.test.targets) if len(liked_all[u]) > 0 and has_segments[t]]
    if not eligible:
        raise SystemExit(
            f"no test user has a liked item before a test target with a title (and {min_segments}+ text segments)"
        )
    rng = np.random.default_rng(seed)
    users = rng.choice(np.asarray(eligible), size=min(n_users, len(eligible)), replace=False)
    histories = [split.test.histories[case_of[int(u)]] for u in users]
    targets = np.array([split.test.targets[case_of[int(u)]] for u in users], dtype=np.int64)
    assert np.array_equal(targets, last[users]), "liked_histories and leave_one_out disagree on the targets"
    encoder = TextEncoder(EncoderConfig(progress=False, threads=threads))
    text_emb = encoder.encode(corpus)
    cond_emb = item_conditions(ds, EncoderConfig(progress=False, threads=threads))
    liked = [liked_all[u] for u in users]
    scores = tiger.score(histories)
    vectors = {
        "hist_text": np.stack([user_vector(text_emb, h) for h in liked]),
        "emb_text": user_vector_from_scores(scores, text_emb),
        "hist_cond": np.stack([user_vector(cond_emb, h) for h in liked]),
        "emb_cond": user_vector_from_scores(scores, cond_emb),
    }
    order = np.random.default_rng(seed + 7).permutation(np.flatnonzero(has_text))
    return Bench(
        ds=ds,
        users=users,
        histories=histories,
        liked=liked,
        targets=targets,
        corpus=corpus,
        text_emb=text_emb,
        cond_emb=cond_emb,
        scores=scores,
        user_vectors=vectors,
        tiger=tiger,
        encoder=encoder,
        fresh=MemoEncoder(encoder, threads),
        order=order,
        product_types=product_type_vocabulary(ds.items["categories"]),
        catalog=Catalog(ds.items),
        scratch=scratch,
        seed=seed,
        item_ids=[str(x) for x in ds.items["item_id"]],
        has_text=has_text,
        eligible_users=len(eligible),
        test_users=len(split.test),
    )


# ---- one method's output and its scores -----------------------------------------------------
@dataclass
class Output:
    """One method's texts for some sampled users (``rows``), as items, with the time each took."""

    rows: np.ndarray
    texts: list[str]  # "title\ndescription" as shown
    records: list[dict[str, Any]]  # the item added to the recommender for PS (no item_id)
    seconds: np.ndarray


@dataclass
class Scored:
    """Per-case metrics of one Output."""

    rows: np.ndarray
    emb: np.ndarray
    values: dict[str, np.ndarray]  # metric name -> per-case values


def prediction_scores(
    bench: Bench, records: list[dict[str, Any]], rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PS@10 and PS of ``records[j]`` for sampled user ``rows[j]`` (see the module docstring), and how
    many leading semantic-ID codes (of the L before the disambiguating one) it shares with the target."""
    frame = pd.DataFrame([{**r, "item_id": f"gen:bench:{j}"} for j, r in enumerate(records)])
    cfg = bench.tiger.config
    enc_cfg = cfg.encoder.replace(cache_dir=bench.scratch, progress=False, threads=cfg.threads)
    # Encode every text once into the scratch cache, so add_items never reloads the encoder.
    texts = item_texts(Dataset.catalog_only("gen", frame), enc_cfg.fields)
    TextEncoder(enc_cfg, model=bench.encoder.model).encode(texts)
    ps10, ps, shared = np.empty(len(rows)), np.empty(len(rows)), np.empty(len(rows))
    for j, r in enumerate(rows):  # each item alone on its copy: an added item changes its trie node's softmax
        model, (own_id,) = bench.tiger.with_items(frame.iloc[[j]])
        s = model.score([bench.histories[r]]).astype(np.float64)[0]
        catalog = s[: bench.ds.n_items].copy()
        catalog[bench.targets[r]] = np.nan
        ps10[j] = ps_at_k(s[[own_id]], catalog[None, :], K)[0]
        ps[j] = ps_at_k(s[[own_id]], catalog[None, :], None)[0]
        assert model.codes is not None
        same = model.codes[own_id, :-1] == model.codes[bench.targets[r], :-1]
        shared[j] = np.cumprod(same).sum()
    return ps10, ps, shared


def score_output(bench: Bench, out: Output, edit: bool) -> Scored:
    """Cosine@10, PS@10, PS, novelty, copies, time (and fact keeping for edits) per case."""
    emb = bench.fresh.encode(out.texts)
    hist = [bench.text_emb[bench.liked[r]] for r in out.rows]
    ps10, ps, shared = prediction_scores(bench, out.records, out.rows)
    corpus = set(bench.corpus)
    values = {
        "Cosine@10": cosine_at_k(emb, hist, K),
        "PS@10": ps10,
        "PS": ps,
        "SID shared": shared,
        "Novelty": novelty(emb, bench.text_emb),
        "copies": np.array([t in corpus for t in out.texts], dtype=float),
        "sec/item": np.asarray(out.seconds, dtype=float),
    }
    if edit:
        values["FactKeep"] = np.array(
            [
                fact_keeping(
                    bench.corpus[bench.targets[r]],
                    t,
                    bench.source_fields(bench.targets[r])["brand"],
                    bench.product_types,
                )
                for r, t in zip(out.rows, out.texts)
            ]
        )
        values["NameKeep"] = np.array(
            [
                name_keeping(
                    str(bench.ds.items.iloc[int(bench.targets[r])]["title"] or ""),
                    str(rec.get("title") or ""),
                    bench.source_fields(bench.targets[r])["brand"],
                )
                for r, rec in zip(out.rows, out.records)
            ]
        )
        values["Changed"] = np.array(
            [t != bench.corpus[bench.targets[r]] for r, t in zip(out.rows, out.texts)], dtype=float
        )
        ranks, _ = source_ranks(
            emb, bench.targets[np.asarray(out.rows, dtype=np.int64)], bench.text_emb, bench.same_text
        )
        values["Identity"] = (ranks == 1).astype(float)
    return Scored(np.asarray(out.rows), emb, values)


def summarise(bench: Bench, scored: Scored, rows: np.ndarray | None, with_fd: bool) -> dict[str, float]:
    """Means over the cases of ``scored`` whose user row is in ``rows`` (None: all), plus FD."""
    keep = np.ones(len(scored.rows), dtype=bool) if rows is None else np.isin(scored.rows, rows)
    out: dict[str, float] = {"n": int(keep.sum())}
    for name, values in scored.values.items():
        v = values[keep]
        out[name] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    if with_fd and keep.sum() >= 2:
        n = int(keep.sum())
        out["FD"] = frechet_distance(scored.emb[keep], bench.text_emb[bench.order[:n]])
    return out


def paired_diff(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 2000) -> dict[str, float]:
    """Mean of a - b over paired cases with a 95% bootstrap interval (cases resampled)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan")}
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n_boot, len(d)))
    boots = d[idx].mean(axis=1)
    up, down = int((d > 0).sum()), int((d < 0).sum())
    return {
        "diff": float(d.mean()),
        "lo": float(np.percentile(boots, 2.5)),
        "hi": float(np.percentile(boots, 97.5)),
        "up": up,
        "down": down,
        "sign_p": sign_test(up, down),
    }


def sign_test(up: int, down: int) -> float:
    """Two-sided exact sign test: how likely a split at least this uneven is if up and down were equally likely.

    Ties are left out. A metric with many ties and a one-sided change (PS@10: most users' items
    outscore none of their top 10, and the loop never shows an edit tiger scores below its source)
    can have a bootstrap interval that touches 0 while no user is worse off; this says how many are.
    """
    n, low = up + down, min(up, down)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(low + 1)) / 2**n)


def _values_on(scored: Scored, metric: str, rows: np.ndarray) -> np.ndarray:
    """Per-case ``metric`` of ``scored`` for sampled users ``rows`` (in that order)."""
    where = {int(r): i for i, r in enumerate(scored.rows)}
    return scored.values[metric][[where[int(r)] for r in rows]]


def draft_output(rows: np.ndarray, drafts: list[Draft], seconds: list[float], text_only: bool) -> Output:
    """Writer drafts as an Output; ``text_only`` drops brand, categories and price from the records."""
    records = [
        {**draft_record(d), **({"brand": None, "categories": [], "price": None} if text_only else {})} for d in drafts
    ]
    return Output(rows, [join_text(d.title, d.description) for d in drafts], records, np.asarray(seconds))


def shown_output(shown: list[dict[str, Any] | None], seconds: np.ndarray, original: Output) -> Output:
    """Per row of ``original``, the record shown (an edit's), or the original item where it is None."""
    records = [rec or original.records[j] for j, rec in enumerate(shown)]
    return Output(original.rows, [join_text(rec["title"], rec["description"]) for rec in records], records, seconds)


def draft_record(d: Draft) -> dict[str, Any]:
    """A draft as the item record added to tiger (no item_id)."""
    return {
        "title": d.title,
        "description": d.description,
        "brand": d.brand,
        "categories": list(d.categories),
        "price": d.price,
    }


def run_writer(rows: np.ndarray, call: Callable[[int], list[Draft]]) -> tuple[list[Draft], list[float]]:
    """One draft per sampled user row, with the wall time per draft of each call."""
    drafts, seconds = run_writer_all(rows, call)
    return [made[0] for made in drafts], seconds


def run_writer_all(rows: np.ndarray, call: Callable[[int], list[Draft]]) -> tuple[list[list[Draft]], list[float]]:
    """Every draft per sampled user row, with the wall time per draft of each call."""
    drafts, seconds = [], []
    for r in rows:
        start = time.perf_counter()
        made = call(int(r))
        seconds.append((time.perf_counter() - start) / max(len(made), 1))
        drafts.append(made)
    return drafts, seconds


def loop_choice(
    bench: Bench, rows: np.ndarray, drafts: list[list[Draft]], writer: Writer, guide: np.ndarray, loop: PipelineConfig
) -> tuple[list[dict[str, Any] | None], list[float], dict[str, float]]:
    """Per row, what the loop shows: every draft screened (quality, identity) and checked with
    repair (``screen_and_check``, the default policy), then ordered beside the unchanged source
    (``order_drafts`` as in the pipeline's ``rank``: tiger's ``score_new`` for the user, cosine to
    ``guide[row]``, ``loop.edit_vs_source``): the first if it beats the source, else None (the row
    shows the original item), as also where every draft was blocked. Also the seconds
    the checks and ranking took per row, and pass statistics."""
    ctx = CheckContext(catalog=bench.ds.items, detectors={writer.name: writer.detector()}, encoder=bench.encoder)
    checker = FidelityChecker()
    vocabulary, described = corpus_vocabulary(bench.ds.items), has_descriptions(bench.ds.items)
    identity = IdentityGuard(
        bench.corpus,
        bench.item_ids,
        bench.fresh,
        loop.identity_rank,
        bench.text_emb,
        loop.identity_name_share,
        list(bench.ds.items["brand"]),
    )
    identity_blocked = not_better = with_passing = 0
    chosen: list[dict[str, Any] | None] = []
    seconds, passed_share, repaired_shown = [], [], 0
    for r, made in zip(rows, drafts):
        start = time.perf_counter()
        source_id = bench.item_ids[bench.targets[int(r)]]
        title = str(bench.ds.items.iloc[int(bench.targets[int(r)])]["title"] or "").strip()
        items = [
            to_item(
                writer,
                d,
                "edit",
                "bench-user",
                "",
                source_id,
                {},
                "description" if d.title == title and d.description else None,
            )
            for d in made
        ]
        checked = items + screen_and_check(items, vocabulary, identity, checker, ctx, described)
        ok = [i for i in checked if not i.blocked]
        identity_blocked += sum(
            any(why.startswith("identity:") for why in (i.fidelity or {}).get("reasons", [])) for i in checked
        )
        passed_share.append(sum(not i.blocked for i in items) / max(len(items), 1))
        best = None
        if ok:
            target = int(bench.targets[int(r)])
            source = {
                "title": bench.ds.items.iloc[target]["title"],
                "description": bench.ds.items.iloc[target]["description"],
                **bench.source_fields(target),
            }
            scores = bench.tiger.score_new(
                [bench.histories[int(r)]], pd.DataFrame([i.record() for i in ok] + [source])
            )[0]
            closeness = bench.fresh.encode([i.text for i in ok] + [bench.corpus[target]]) @ guide[int(r)]
            order, better = order_drafts(
                scores[:-1], closeness[:-1], (float(scores[-1]), float(closeness[-1])), loop.edit_vs_source
            )
            with_passing += 1
            not_better += int(not better.any())
            # ranked beside its source (as generated items are ranked with human ones), a worse edit loses
            best = ok[int(order[0])] if better[order[0]] else None
        if best is not None:
            repaired_shown += best not in items
            chosen.append(
                {
                    "title": best.title,
                    "description": best.description,
                    "brand": best.brand,
                    "categories": list(best.categories),
                    "price": best.price,
                }
            )
        else:
            chosen.append(None)
        seconds.append(time.perf_counter() - start)
    stats = {
        "drafts_passing": float(np.mean(passed_share)),
        "users_with_a_passing_draft": with_passing / len(chosen),
        "users_shown_an_edit": float(np.mean([c is not None for c in chosen])),
        "shown_drafts_repaired": repaired_shown / max(sum(c is not None for c in chosen), 1),
        "drafts_blocked_by_identity": identity_blocked / max(sum(len(d) for d in drafts), 1),
        "users_no_draft_beats_source": not_better / len(chosen),
    }
    return chosen, seconds, stats


def catalog_output(bench: Bench, items: np.ndarray, rows: np.ndarray, text_only: bool) -> Output:
    """Catalog items shown as they are (a baseline), one per sampled user row."""
    records = []
    for i in items:
        row = bench.ds.items.iloc[int(i)]
        rec: dict[str, Any] = {"title": row["title"], "description": row["description"]}
        rec.update({"brand": None, "categories": [], "price": None} if text_only else bench.source_fields(int(i)))
        records.append(rec)
    return Output(rows, [bench.corpus[int(i)] for i in items], records, np.zeros(len(items)))


def examples(bench: Bench, outputs: dict[str, Output], count: int = 3) -> list[dict[str, Any]]:
    """The first ``count`` users' texts per method, to read next to the numbers."""
    shown = []
    for r in range(min(count, bench.n)):
        entry: dict[str, Any] = {
            "user": bench.ds.user_external(int(bench.users[r])),
            "target": bench.corpus[bench.targets[r]][:300],
            "last_liked": [bench.corpus[i][:120] for i in bench.liked[r][-3:]],
        }
        for name, out in outputs.items():
            where = np.flatnonzero(out.rows == r)
            if len(where):
                entry[name] = out.texts[int(where[0])][:300]
        shown.append(entry)
    return shown


# ---- sections -------------------------------------------------------------------------------
def selection_section(bench: Bench) -> tuple[dict[str, Any], dict[str, Scored]]:
    """Personalised vs first vs random segment of the held-out target item (GeneRec Table 1)."""
    rows = np.arange(bench.n)
    texts = [bench.corpus[t] for t in bench.targets]
    counts = np.array([len(split_segments(t)) for t in texts])
    v = bench.user_vectors
    plan = {
        "personal (User_Hist)": ("personal", v["hist_text"]),
        "personal (User_Emb)": ("personal", v["emb_text"]),
        "personal (recommender)": ("recommender", v["hist_text"]),
        "first segment": ("first", v["hist_text"]),
        "random segment": ("random", v["hist_text"]),
    }
    outputs: dict[str, Output] = {}
    chosen: dict[str, np.ndarray] = {}
    for name, (method, vectors) in plan.items():
        bench.fresh.memo.clear()  # every method pays for encoding the segments
        with Timer() as t:
            seg_scores = segment_scores(bench, texts) if method == "recommender" else None
            segs = select_segments(
                texts,
                vectors,
                bench.fresh,
                method,
                rng=bench.seed,
                segment_scores=seg_scores,
                floor=PipelineConfig().selection_floor,
            )
        chosen[name] = np.array([s.index for s in segs])
        records = [{"title": s.text, "description": "", **bench.source_fields(i)} for s, i in zip(segs, bench.targets)]
        outputs[name] = Output(rows, [s.text for s in segs], records, np.full(bench.n, t.seconds / bench.n))
    scored = {name: score_output(bench, out, edit=False) for name, out in outputs.items()}
    multi = rows[counts >= 2]
    table = {name: _select_metrics(summarise(bench, s, None, with_fd=False)) for name, s in scored.items()}
    table_multi = {name: _select_metrics(summarise(bench, s, multi, with_fd=False)) for name, s in scored.items()}
    result = {
        "users": bench.n,
        "segments_per_item": {"mean": float(counts.mean()), "share_with_2_or_more": float((counts >= 2).mean())},
        "multi_segment_rows": [int(r) for r in multi],
        "personal_differs_from_first": {n: float((chosen[n] != 0).mean()) for n in plan if n.startswith("personal")},
        "table": table,
        "table_multi_segment": table_multi,
        "warm_target_PS@10": float(
            ps_at_k(bench.scores[rows, bench.targets], _without_targets(bench.scores, bench.targets), K).mean()
        ),
        "examples": examples(bench, outputs),
    }
    return result, scored


def segment_scores(bench: Bench, texts: list[str]) -> list[np.ndarray]:
    """tiger's prospective log-probability of each segment of ``texts[r]`` shown as the item, for user r.

    Each segment is the item's whole text (as in the selection rows), with the target's brand,
    categories and price; ``Tiger.score_new`` scores each as if it alone were added to tiger.
    """
    out: list[np.ndarray] = []
    for lo in range(0, len(texts), SEGMENT_CHUNK):
        rows = range(lo, min(lo + SEGMENT_CHUNK, len(texts)))
        records, owner = [], []
        for r in rows:
            fields = bench.source_fields(bench.targets[r])
            for seg in split_segments(texts[r]):
                records.append({"title": seg, "description": "", **fields})
                owner.append(r)
        scores = bench.tiger.score_new([bench.histories[r] for r in rows], pd.DataFrame(records))
        owner_arr = np.asarray(owner)
        out += [scores[j, owner_arr == r] for j, r in enumerate(rows)]
    return out


def _select_metrics(summary: dict[str, float]) -> dict[str, float]:
    return {k: summary[k] for k in ("Cosine@10", "PS@10", "PS", "SID shared", "sec/item")}


def _without_targets(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    out = scores.astype(np.float64).copy()
    out[np.arange(len(targets)), targets] = np.nan
    return out


def rewriting_section(
    bench: Bench,
    generator: TextGenerator,
    llm: Writer | None,
    m: int,
    loop: PipelineConfig | None = None,
    comparisons: bool = True,
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Scored]]:
    """Edit the held-out target for its user (GeneRec Tables 2-3): baselines, textgen, LLM.

    The "textgen" rows are the loop's edits (``PipelineConfig`` defaults: rewrite mode, drafts,
    minimum description length; checks, repair and ranking as in ``loop_choice``); where every
    draft is blocked the loop shows the original item instead, and so does the row. ``loop``
    replaces those defaults (``select_rewrite.py`` compares modes with it); ``comparisons=False``
    skips the "<mode> only", "without the identity gate" and "not ranked beside its source" rows
    (the last two check the User_Emb drafts again with one loop setting changed). ``cache`` keeps
    the drafts across calls (``select_rewrite.py`` checks the same drafts under several settings)."""
    rows = np.arange(bench.n)
    sources = [bench.catalog.record(bench.item_ids[t]) for t in bench.targets]
    original = catalog_output(bench, bench.targets, rows, text_only=False)
    outputs: dict[str, Output] = {
        "original item": original,
        "random catalog item": catalog_output(bench, bench.random_items(bench.n, salt=11), rows, text_only=False),
    }
    loop = loop or PipelineConfig()
    default_mode = resolve_rewrite(loop.rewrite, bench.ds.items)
    lexicon = brand_lexicon(CheckContext(catalog=bench.ds.items))
    common = sorted(common_categories(bench.ds.items["categories"]))
    v = bench.user_vectors
    checks: dict[str, dict[str, float]] = {}
    plan = [
        ("textgen (User_Hist)", default_mode, "liked", "hist", {}),
        ("textgen (User_Emb)", default_mode, "user", "emb", {}),
    ]
    if comparisons:
        # the bold half alone: what the cautious drafts add to the mix
        plan += [(f"textgen {mode} only (User_Emb)", mode, "user", "emb", {}) for mode in default_mode.split("+")[1:]]
        if loop.identity_rank > 0 or loop.identity_name_share > 0:  # what the identity gate costs
            plan.append(
                (
                    "textgen without the identity gate (User_Emb)",
                    default_mode,
                    "user",
                    "emb",
                    {"identity_rank": 0, "identity_name_share": 0.0},
                )
            )
        if "anchored" not in default_mode:  # what renaming the product would buy
            plan.append(
                (
                    "textgen anchored, without the identity gate (User_Emb)",
                    "anchored",
                    "user",
                    "emb",
                    {"identity_rank": 0, "identity_name_share": 0.0},
                )
            )
        if loop.edit_vs_source != "off":  # what ranking beside the source adds: the best passing draft
            plan.append(
                (
                    "textgen not ranked beside its source (User_Emb)",
                    default_mode,
                    "user",
                    "emb",
                    {"edit_vs_source": "off"},
                )
            )
    made = {} if cache is None else cache  # the same drafts, checked anew
    for name, mode, key, vec, change in plan:
        writer = TextGenWriter(
            generator,
            bench.cond_emb,
            BENCH_WATERMARK_KEY,
            rewrite=mode,
            min_description_tokens=loop.min_description_tokens,
            brand_lexicon=lexicon,
            common_categories=common,
        )
        cond, guide = v[f"{vec}_cond"], v[f"{vec}_text"]
        ident = (mode, key, loop.drafts, loop.min_description_tokens)
        if ident not in made:
            made[ident] = run_writer_all(
                rows,
                lambda r, key=key, cond=cond, w=writer: w.rewrite(
                    sources[r],
                    bench.liked_records(r),
                    "",
                    Guidance(**{key: cond[r]}),
                    Constraints(),
                    loop.drafts,
                    bench.seed + r,
                ),
            )
        drafts, secs = made[ident]
        if name == "textgen (User_Emb)":
            # a writer may have nothing to write for a source (a "facts" draft with no unstated category)
            outputs[f"{name}, 1 draft"] = shown_output(
                [draft_record(d[0]) if d else None for d in drafts], np.asarray(secs), original
            )
        chosen, extra, checks[name] = loop_choice(bench, rows, drafts, writer, guide, loop.replace(**change))
        outputs[name] = shown_output(chosen, np.asarray(secs) * loop.drafts + np.asarray(extra), original)
    if llm is not None and m > 0:
        sub = rows[:m]
        drafts, secs = run_writer(
            sub,
            lambda r: llm.rewrite(sources[r], bench.liked_records(r), "", Guidance(), Constraints(), 1, bench.seed + r),
        )
        outputs["LLM rewrite"] = draft_output(sub, drafts, secs, text_only=False)
    scored = {name: score_output(bench, out, edit=True) for name, out in outputs.items()}
    result = _tables(bench, scored, outputs, m, llm is not None)
    result["loop"] = {
        "rewrite": loop.rewrite,
        "resolved_rewrite": default_mode,
        "drafts": loop.drafts,
        "edit_vs_source": loop.edit_vs_source,
        "min_description_tokens": loop.min_description_tokens,
        "checks": checks,
    }
    return result, scored


def creation_section(
    bench: Bench, generator: TextGenerator, llm: Writer | None, m: int
) -> tuple[dict[str, Any], dict[str, Scored]]:
    """Create a new item for the user (GeneRec Table 4): baselines, textgen, LLM."""
    rows = np.arange(bench.n)
    outputs: dict[str, Output] = {
        "random catalog items": catalog_output(bench, bench.random_items(bench.n, salt=23), rows, text_only=True),
    }
    with Timer() as t:
        free = generator.generate(None, n_per_cond=bench.n, seed=bench.seed + 100_000)
    outputs["textgen unconditional"] = draft_output(
        rows,
        [Draft(g.title, g.description, None, [], None, g.seconds) for g in free],
        [t.seconds / bench.n] * bench.n,
        text_only=True,
    )
    writer = TextGenWriter(generator, bench.cond_emb)
    v = bench.user_vectors
    for name, key, vectors in (
        ("textgen (User_Hist)", "liked", v["hist_cond"]),
        ("textgen (User_Emb)", "user", v["emb_cond"]),
    ):
        drafts, secs = run_writer(
            rows,
            lambda r, key=key, vectors=vectors: writer.create(
                bench.liked_records(r), "", Guidance(**{key: vectors[r]}), Constraints(), 1, bench.seed + 50_000 + r
            ),
        )
        outputs[name] = draft_output(rows, drafts, secs, text_only=True)
    if llm is not None and m > 0:
        sub = rows[:m]
        drafts, secs = run_writer(
            sub, lambda r: llm.create(bench.liked_records(r), "", Guidance(), Constraints(), 1, bench.seed + 50_000 + r)
        )
        outputs["LLM create"] = draft_output(sub, drafts, secs, text_only=True)
    scored = {name: score_output(bench, out, edit=False) for name, out in outputs.items()}
    return _tables(bench, scored, outputs, m, llm is not None), scored


def _tables(
    bench: Bench, scored: dict[str, Scored], outputs: dict[str, Output], m: int, has_llm: bool
) -> dict[str, Any]:
    """The section's table over all sampled users and, with the LLM, over its M users."""
    result: dict[str, Any] = {
        "users": bench.n,
        "table": {n: summarise(bench, s, None, True) for n, s in scored.items()},
    }
    if has_llm and m > 0:
        sub = np.arange(min(m, bench.n))
        result["llm_users"] = len(sub)
        result["table_llm_users"] = {n: summarise(bench, s, sub, True) for n, s in scored.items()}
    result["examples"] = examples(bench, outputs)
    return result


def instructor_section(
    ds: Dataset, encoder: TextEncoder, backend: Any | None, n_cases: int, llm_cases: int, seed: int
) -> dict[str, Any]:
    """Rules on the whole instruction set; rules, LLM and combined on its first ``llm_cases`` cases."""
    from genrec.generation.instructor_llm import CombinedInstructor, LLMInstructor

    vocab = CatalogVocabulary.from_dataset(ds)
    with Timer() as t:
        cases = build_instruction_set(ds, n=n_cases, seed=seed, vocabulary=vocab)
    rules = RuleInstructor(vocab, encoder=encoder)
    result: dict[str, Any] = {
        "cases": len(cases),
        "build_seconds": t.seconds,
        "families": dict(Counter(c.family for c in cases)),
        "rules": _trim(evaluate_instructor(rules, cases)),
    }
    if backend is not None and llm_cases > 0:
        sub = cases[:llm_cases]
        llm = LLMInstructor(vocab, backend, encoder=encoder)
        subset: dict[str, Any] = {"cases": len(sub), "rules": _trim(evaluate_instructor(rules, sub))}
        subset["llm"] = _trim(evaluate_instructor(llm, sub))
        subset["llm"]["llm_failures"] = llm.failures
        # A fresh LLM reader (no remembered answers), so the combined run pays for its own LLM calls.
        combined = CombinedInstructor(rules, LLMInstructor(vocab, backend, encoder=encoder))
        subset["combined"] = _trim(evaluate_instructor(combined, sub))
        result["llm_subset"] = subset
    return result


def _trim(report: dict[str, Any], mistakes: int = 10) -> dict[str, Any]:
    return {**report, "mistakes": report.get("mistakes", [])[:mistakes]}


def target_request(vocab: CatalogVocabulary, item_id: str) -> str | None:
    """A request naming the item's most specific category and its brand (None when it has neither)."""
    cats = vocab.categories(item_id)
    brand = vocab.brand(item_id)
    if not cats:
        return f"show me products from {brand}" if brand else None
    category = cats[-1].lower()
    return f"show me {category} from {brand}" if brand else f"show me {category}"


def retrieval_section(bench: Bench) -> dict[str, Any]:
    """Recall@10 / NDCG@10 of the instructed retriever with vs without the target-derived instruction."""
    vocab = CatalogVocabulary.from_dataset(bench.ds)
    rules = RuleInstructor(vocab, encoder=bench.encoder)
    rows, requests = [], []
    for r in range(bench.n):
        text = target_request(vocab, bench.item_ids[bench.targets[r]])
        if text is not None:
            rows.append(r)
            requests.append(text)
    rows_a = np.asarray(rows, dtype=np.int64)
    hist = [bench.histories[r] for r in rows_a]
    targets = bench.targets[rows_a]
    intents, queries = [], []
    with Timer() as t:
        for r, text in zip(rows_a, requests):
            fb = Feedback(likes=[bench.item_ids[i] for i in bench.liked[r]])
            intents.append(rules.understand(text, fb))
            queries.append(rules.guidance(text, Feedback(), bench.cond_emb).instruction)
    constraints = [i.constraints for i in intents]
    q = np.stack(queries)
    n_items = bench.ds.n_items

    def metrics(
        weights: RetrievalWeights, cons: Sequence[Constraints | None], qs: np.ndarray | None
    ) -> dict[str, float]:
        ret = InstructedRetriever(bench.tiger, bench.ds.items, bench.cond_emb, weights)
        lists = ret.recommend(hist, cons, qs, k=K).items
        ranks = rank_in_lists(lists, targets, n_items)
        return {k: v for k, v in rank_metrics(ranks, (5, K)).items() if k.split("@")[0] in ("Recall", "NDCG")}

    with Timer() as tr:
        table = {
            "tiger alone (no instruction)": metrics(RetrievalWeights(), [None] * len(rows_a), None),
            "tiger + instruction (default weights)": metrics(RetrievalWeights(), constraints, q),
            "instruction only (rec weight 0)": metrics(RetrievalWeights(rec=0.0), constraints, q),
        }
    index = InstructedRetriever(bench.tiger, bench.ds.items, bench.cond_emb).index
    brands = [vocab.brand(bench.item_ids[t]) for t in targets]
    cats = [vocab.categories(bench.item_ids[t]) for t in targets]
    with_brand = [i for i, b in enumerate(brands) if b]
    parsed = {
        "actions": dict(Counter(i.action for i in intents)),
        "brand_recovered": float(np.mean([brands[i] in constraints[i].brands for i in with_brand]))
        if with_brand
        else None,
        "category_recovered": float(
            np.mean([bool(c) and c[-1] in constraints[i].categories for i, c in enumerate(cats)])
        ),
        "target_excluded_by_hard_constraints": float(
            np.mean([not index.hard_mask(c)[t] for c, t in zip(constraints, targets)])
        ),
    }
    return {
        "users": len(rows_a),
        "skipped_users": bench.n - len(rows_a),
        "weights": vars(RetrievalWeights()),
        "template": 'show me {category} from {brand} ("show me {category}" without a brand)',
        "table": table,
        "parsed": parsed,
        "parse_seconds_per_request": t.seconds / max(len(rows_a), 1),
        "retrieval_seconds": tr.seconds,
        "examples": requests[:5],
    }


# ---- criteria and report --------------------------------------------------------------------
def criteria(results: dict[str, Any], scored: dict[str, dict[str, Scored]], n: int) -> list[dict[str, Any]]:
    """The brief's success criteria, each with its numbers, a 95% paired bootstrap interval and pass/fail."""
    out: list[dict[str, Any]] = []

    def versus(section: str, method: str, baseline: str, metric: str, only: Sequence[int] | None = None) -> None:
        s = scored[section]
        if method not in s or baseline not in s:
            return
        rows = s[method].rows if only is None else np.intersect1d(s[method].rows, np.asarray(only, dtype=np.int64))
        a, b = _values_on(s[method], metric, rows), _values_on(s[baseline], metric, rows)
        d = paired_diff(a, b)
        out.append(
            {
                "section": section,
                "check": f"{method} > {baseline} on {metric}",
                "n": len(rows),
                "method": float(np.nanmean(a)),
                "baseline": float(np.nanmean(b)),
                **d,
                "passed": bool(d["diff"] > 0),
                "ci_excludes_zero": bool(d["lo"] > 0 or d["hi"] < 0),
            }
        )

    multi = results["selection"]["multi_segment_rows"]
    if multi:  # the methods can only differ where a target has 2 or more segments
        for method in ("personal (recommender)", "personal (User_Hist)", "personal (User_Emb)"):
            for base in ("first segment", "random segment"):
                for metric in ("Cosine@10", "PS@10"):
                    versus("selection", method, base, metric, only=multi)
    else:  # every target is a single segment: all three methods show the same text
        out.append(
            {
                "section": "selection",
                "check": "not applicable: no target text has 2 or more segments",
                "n": n,
                "passed": None,
            }
        )
    for method in ("textgen (User_Hist)", "textgen (User_Emb)", "LLM rewrite"):
        for base in ("original item", "random catalog item"):
            for metric in ("Cosine@10", "PS@10"):
                versus("rewriting", method, base, metric)
    for method in ("textgen (User_Hist)", "textgen (User_Emb)", "LLM create", "textgen unconditional"):
        versus("creation", method, "random catalog items", "Cosine@10")
        if method in scored["creation"]:
            nov = scored["creation"][method].values["Novelty"]
            out.append(
                {
                    "section": "creation",
                    "check": f"{method}: novelty > 0",
                    "n": len(nov),
                    "method": float(nov.mean()),
                    "passed": bool(nov.mean() > 0),
                }
            )
    table = results["creation"]["table"]
    free = table.get("textgen unconditional", {}).get("FD")
    for method in ("textgen (User_Hist)", "textgen (User_Emb)"):
        if method in table and free is not None:
            out.append(
                {
                    "section": "creation",
                    "check": f"{method}: FD vs unconditional (stated, lower is better)",
                    "n": n,
                    "method": table[method]["FD"],
                    "baseline": free,
                    "passed": None,
                }
            )
    inst = results.get("instructor", {}).get("rules")
    if inst:
        out.append(
            {
                "section": "instructor",
                "check": "rules: action accuracy >= 0.9",
                "n": inst["n"],
                "method": inst["action_accuracy"],
                "passed": bool(inst["action_accuracy"] >= 0.9),
            }
        )
        out.append(
            {
                "section": "instructor",
                "check": "rules: constraint F1 >= 0.8",
                "n": inst["n"],
                "method": inst["constraint_f1"],
                "passed": bool(inst["constraint_f1"] >= 0.8),
            }
        )
    ret = results.get("retrieval", {}).get("table")
    if ret:
        a, b = ret["tiger + instruction (default weights)"]["NDCG@10"], ret["tiger alone (no instruction)"]["NDCG@10"]
        out.append(
            {
                "section": "retrieval",
                "check": "instruction raises NDCG@10",
                "n": results["retrieval"]["users"],
                "method": a,
                "baseline": b,
                "passed": bool(a > b),
            }
        )
    for c in out:
        c["required"] = _required(c)
    return out


def _required(c: dict[str, Any]) -> bool:
    """Whether a criterion judges the default loop (recommender-ranked selection, genrec's own generator),
    or a row reported for comparison (other guidance, the LLM writer, FD as stated)."""
    section, check = c["section"], c["check"]
    if section == "selection":
        return "(recommender)" in check or check.startswith("not applicable")
    if section in ("rewriting", "creation"):
        return check.startswith("textgen (") and "FD" not in check
    return True


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def markdown(results: dict[str, Any], setup: dict[str, Any]) -> str:
    """The result tables and the criteria as markdown."""
    ds = results["dataset"]
    tg = setup["textgen"]
    lines = [
        f"## Generation benchmark: {ds}",
        "",
        f"{setup['users']} sampled test users (seed {setup['seed']}; {results['selection']['users']} for "
        f"selection), LLM rows on the first {setup['llm_users']}. "
        f"Recommender: tiger, {setup['recommender']}. Text generator ({tg['parameters']:,} parameters, "
        f"vocabulary {tg['vocab_size']}): {tg['source']}, {tg['epochs_run']} epochs "
        f"(stop: {tg['stop']}), final training loss {_fmt(tg['final_loss'], 3)}, "
        f"{_fmt(tg['train_seconds'], 0)} s. Wall time {setup['wall']:.0f} s on {setup['threads']} torch "
        f"thread(s), load average {setup['load']:.1f}.",
        "",
    ]
    sel = results["selection"]
    lines += [
        f"### Personalised segment selection (GeneRec Table 1), {sel['users']} users",
        "",
        f"Users sampled (seed {setup['seed']}) among the {sel.get('eligible_users', '?')} test users whose "
        "target text has 2 or more segments. personal (recommender), the loop's default: the segment whose "
        "item tiger scores best for the user (Tiger.score_new); User_Hist / User_Emb: the segment closest "
        "to the user vector (GeneRec Eq. 1-2).",
        "",
        generation_table(sel["table"]),
        "",
        f"Segments per target item: {sel['segments_per_item']['mean']:.2f} on average; "
        f"{sel['segments_per_item']['share_with_2_or_more']:.1%} of targets have 2 or more "
        "(personal = first otherwise). Personal choice differs from the first segment for "
        + ", ".join(f"{k} {v:.1%}" for k, v in sel["personal_differs_from_first"].items())
        + f". The target's own catalog entry (warm) has PS@10 {sel['warm_target_PS@10']:.4f}.",
        "",
    ]
    if 0 < sel["segments_per_item"]["share_with_2_or_more"] < 1:
        lines += ["Only targets with 2 or more segments:", "", generation_table(sel["table_multi_segment"]), ""]
    for key, title in (
        ("rewriting", "Rewriting the target item for the user (GeneRec Tables 2-3)"),
        ("creation", "Creating a new item for the user (GeneRec Table 4)"),
    ):
        sec = results[key]
        lines += [f"### {title}, {sec['users']} users", "", generation_table(_no_n(sec["table"])), ""]
        if sec.get("loop", {}).get("checks"):
            lines += [
                "Fidelity checks on the loop's drafts (share of drafts passing as written; users with at "
                "least one passing draft, repairs included; users shown an edit, the rest see the original; "
                "users whose passing drafts all lose to the source; shown drafts that are repaired; drafts "
                "blocked as reading like another product):",
                "",
                generation_table(sec["loop"]["checks"]),
                "",
            ]
        if "table_llm_users" in sec:
            lines += [
                f"Same methods on the {sec['llm_users']} LLM users (FD from {sec['llm_users']} vs "
                f"{sec['llm_users']} texts):",
                "",
                generation_table(_no_n(sec["table_llm_users"])),
                "",
            ]
    lines += [
        f"FD: generated texts vs the same number of random catalog items ({results['rewriting']['users']} "
        "in the main tables); the random-catalog rows give the real-vs-real floor. Creation PS uses "
        "text-only items; edit PS keeps the source's brand, categories and price. Rewriting rows without "
        f"a suffix are what the loop shows: {PipelineConfig().drafts} drafts in the modes "
        f"{results['rewriting'].get('loop', {}).get('resolved_rewrite', '?')!r}, fidelity-checked (with the "
        f"authenticity repair), ranked beside the unchanged source (pipeline.edit_vs_source="
        f"{results['rewriting'].get('loop', {}).get('edit_vs_source', '?')!r}; 'rank': the source takes part "
        "in the ranking by tiger's score for the user, ties by cosine to the guidance), the one tiger scores "
        "best if it beats the source, else the original item (', 1 draft': the first draft, unchecked, "
        "unranked; '<mode> only': the second mode alone; 'without the identity gate': the same loop with "
        "pipeline.identity_rank=0 and identity_name_share=0; 'anchored, without the identity gate': new "
        "titles around the source's facts, ungated; 'not ranked beside its source': with "
        "pipeline.edit_vs_source='off', the best passing draft). "
        "Creation rows are not filtered by the checks (run_fidelity.py measures those). sec/item: per "
        "user, the writer call(s) plus checks and ranking, except the unconditional texts (sampled in "
        "batches of 32). SID shared: leading "
        f"semantic-ID codes (of {results['sid_levels']}) the item shares with the held-out target once "
        "added to tiger.",
        "",
    ]
    inst = results.get("instructor")
    if inst:
        rows = {f"rules ({inst['cases']} cases)": _inst_row(inst["rules"])}
        if "llm_subset" in inst:
            sub = inst["llm_subset"]
            for name in ("rules", "llm", "combined"):
                rows[f"{name} ({sub['cases']} cases)"] = _inst_row(sub[name])
        lines += ["### Instructor", "", generation_table(rows), ""]
        split = inst["rules"].get("per_split", {})
        if split:
            lines += [
                "Rules, tuning vs held-out phrasings: "
                + "; ".join(
                    f"{k}: n={v['n']}, action {v['action_accuracy']:.3f}, F1 {v['constraint_f1']:.3f}"
                    for k, v in split.items()
                ),
                "",
            ]
        fam = inst["rules"].get("per_family", {})
        if fam:
            lines += [
                "Rules per family:",
                "",
                generation_table(
                    {
                        f"{k} (n={v['n']})": {
                            "action acc": v["action_accuracy"],
                            "F1": v["constraint_f1"],
                            "exact": v["exact_match"],
                        }
                        for k, v in fam.items()
                    },
                    digits=3,
                ),
                "",
            ]
    ret = results.get("retrieval")
    if ret:
        lines += [
            f"### Instruction-conditioned retrieval, {ret['users']} users (full catalog, history kept)",
            "",
            generation_table(ret["table"]),
            "",
            f"Request template: {ret['template']}. Parsed: brand recovered "
            f"{_fmt(ret['parsed']['brand_recovered'], 3)}, category recovered "
            f"{_fmt(ret['parsed']['category_recovered'], 3)}, target excluded by a parsed hard constraint "
            f"{_fmt(ret['parsed']['target_excluded_by_hard_constraints'], 3)}.",
            "",
        ]
    lines += [
        "### Criteria",
        "",
        "Selection checks use the targets with 2 or more segments only. Intervals: 95% "
        "paired bootstrap over users. required: the check judges the default loop (selection by the "
        "recommender's score; genrec's generator, drafts ranked by the recommender); the other rows are "
        "comparisons. up / down: users for whom the method is above / below the baseline (the rest tie), with "
        "the two-sided exact sign test's p.",
        "",
        "| section | check | required | n | method | baseline | diff [95% CI] | up / down (sign p) | pass |",
        "|---|---|---|---:|---:|---:|---|---|---|",
    ]
    for c in results["criteria"]:
        ci = f"{c['diff']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}]" if "diff" in c else ""
        sign = f"{c['up']} / {c['down']} (p {c['sign_p']:.2g})" if "up" in c else ""
        verdict = {True: "yes", False: "**NO**", None: "stated" if "method" in c else "n/a"}[c["passed"]]
        if c.get("ci_excludes_zero") is False:
            verdict += " (CI includes 0)"
        lines.append(
            f"| {c['section']} | {c['check']} | {'yes' if c.get('required') else 'no'} | {c['n']} | "
            f"{_fmt(c.get('method'))} | "
            f"{_fmt(c.get('baseline'))} | {ci} | {sign} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def _no_n(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Rows labelled with their case count when it is not the table's largest."""
    top = max(r["n"] for r in table.values())
    return {
        (k if r["n"] == top else f"{k} (n={r['n']})"): {m: v for m, v in r.items() if m != "n"}
        for k, r in table.items()
    }


def _inst_row(report: dict[str, Any]) -> dict[str, float]:
    return {
        "action acc": report["action_accuracy"],
        "precision": report["constraint_precision"],
        "recall": report["constraint_recall"],
        "F1": report["constraint_f1"],
        "exact": report["exact_match"],
        "sec/instr": report["seconds_per_instruction"],
    }


# ---- main -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every section on one dataset; writes benchmarks/results/<dataset>/generation.json."""
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    stages: dict[str, float] = {}
    tag = f"[{args.dataset}/generation]"

    def stage(name: str, seconds: float) -> None:
        stages[name] = seconds
        print(f"{tag} {name}: {seconds:.0f}s (elapsed {time.perf_counter() - start:.0f}s)", flush=True)

    with Timer() as t:
        ds = load_dataset(args.dataset)
        split = leave_one_out(ds)
    stage("load_and_split", t.seconds)
    tiger_path = DEFAULT_TIGER.get(args.dataset, "") if args.tiger_model == "default" else args.tiger_model
    with Timer() as t:
        tiger, tiger_info = get_tiger(split, tiger_path, args.threads, args.models_dir, args.dataset)
    stage("recommender", t.seconds)
    with tempfile.TemporaryDirectory(prefix="genrec-genbench-") as scratch:
        tiger.config.encoder.cache_dir = scratch  # texts scored by score_new stay out of the shared cache
        with Timer() as t:
            bench = build_bench(ds, split, tiger, args.users, args.seed, args.threads, scratch)
        stage("embeddings_and_user_vectors", t.seconds)
        with Timer() as t:
            usable = np.flatnonzero(bench.has_text)  # the generator needs a title to learn from
            generator, textgen_info = get_textgen(
                [bench.corpus[i] for i in usable],
                bench.cond_emb[usable],
                args.threads,
                args.textgen_budget,
                args.models_dir,
                args.dataset,
            )
            textgen_info["training_items"] = len(usable)
        stage("textgen", t.seconds)
        backend, llm_writer = None, None
        if not args.skip_llm:
            from genrec.llm.registry import create_backend

            backend = create_backend(LLMConfig(threads=args.threads))
            llm_writer = LLMItemWriter(backend)
        m = 0 if args.skip_llm else min(args.llm_users, bench.n)
        assert tiger.codes is not None
        results: dict[str, Any] = {"dataset": args.dataset, "sid_levels": int(tiger.codes.shape[1] - 1)}
        scored: dict[str, dict[str, Scored]] = {}
        with Timer() as t:
            # selection can only differ from the first segment on targets with 2+ segments: sample those users
            sel_bench = build_bench(
                ds, split, tiger, args.selection_users, args.seed, args.threads, scratch, min_segments=2
            )
            results["selection"], scored["selection"] = selection_section(sel_bench)
            results["selection"]["eligible_users"] = sel_bench.eligible_users
        stage("selection", t.seconds)
        with Timer() as t:
            results["rewriting"], scored["rewriting"] = rewriting_section(bench, generator, llm_writer, m)
        stage("rewriting", t.seconds)
        with Timer() as t:
            results["creation"], scored["creation"] = creation_section(bench, generator, llm_writer, m)
        stage("creation", t.seconds)
        with Timer() as t:
            results["instructor"] = instructor_section(
                ds, bench.encoder, backend, args.instruction_cases, 0 if args.skip_llm else args.llm_cases, args.seed
            )
        stage("instructor", t.seconds)
        with Timer() as t:
            results["retrieval"] = retrieval_section(bench)
        stage("retrieval", t.seconds)
        results["criteria"] = criteria(results, scored, bench.n)
    wall = time.perf_counter() - start
    stages["wall"] = wall
    text = markdown(
        results,
        {
            "users": bench.n,
            "seed": args.seed,
            "llm_users": m,
            "recommender": tiger_info["source"],
            "textgen": textgen_info,
            "wall": wall,
            "threads": args.threads,
            "load": os.getloadavg()[1],
        },
    )
    payload = {
        "dataset": args.dataset,
        "dataset_source": DATASETS[args.dataset]["source"]
        if args.dataset in DATASETS
        else "genrec.data.synthetic.generate(SyntheticConfig()) (defaults)",
        "dataset_stats": ds.stats().to_dict(),
        "split": split.describe(),
        "protocol": {
            **_protocol(args, bench.n, m),
            "eligible_users": bench.eligible_users,
            "test_users": bench.test_users,
            "items_without_text": int((~bench.has_text).sum()),
        },
        "config": {
            "args": vars(args),
            "tiger": config_to_dict(tiger.config),
            "textgen": textgen_info["config"],
            "ps_items_per_tiger_copy": 1,
            "k": K,
            "liked_items_given_to_writers": LIKED_SHOWN,
        },
        "recommender": tiger_info,
        "textgen": {k: v for k, v in textgen_info.items() if k != "config"},
        **results,
        "markdown": text,
        "stages_seconds": stages,
        "wall_seconds": wall,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = write_result(args.dataset, "generation", payload)
    print(text, flush=True)
    print(f"{tag} wall {wall:.0f}s, peak {payload['peak_rss_mb']:.0f} MiB -> {out}", flush=True)
    return payload


def _protocol(args: argparse.Namespace, n: int, m: int) -> dict[str, Any]:
    return {
        "users": n,
        "selection_users": args.selection_users,
        "llm_users": m,
        "seed": args.seed,
        "target": "each sampled user's leave-one-out TEST item (the item to repurpose, and the future item)",
        "history": "the test-time history (everything before the target); liked = without dislike/skip events",
        "Cosine@10": "mean cosine (MiniLM, text 'title\\ndescription') to the last 10 liked history items",
        "PS@10": "share of the user's top-10 catalog items (tiger exact log-probs, target left out) that the "
        "item, added to a copy of tiger as a new item, outscores; PS: its whole-catalog percentile",
        "FD": "Frechet distance of text embeddings: n generated vs n uniformly random catalog items",
        "SID shared": "leading semantic-ID codes the added item shares with the held-out target",
        "Novelty": "1 - max cosine to any catalog text",
        "FactKeep": "share of the source's facts kept (edits)",
        "NameKeep": "share of the source title's name words (3+ letters, not brand, unit or function words) kept in "
        "the shown title (edits); independent of the identity gate",
        "Changed": "share of shown edits whose text differs from the source's (edits)",
        "Identity": "share of edits whose nearest catalog text (MiniLM cosine) is the source's own (edits)",
        "retrieval": "Recall/NDCG@10 over the full catalog, history not excluded, default RetrievalWeights",
        "instructor": f"build_instruction_set(n={args.instruction_cases}, seed={args.seed}); LLM and combined "
        f"on the first {args.llm_cases} cases",
    }


def main() -> None:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic", choices=["synthetic", *DATASETS])
    ap.add_argument("--users", type=int, default=200, help="sampled test users (N)")
    ap.add_argument(
        "--selection-users",
        type=int,
        default=1000,
        help="sampled test users for segment selection (among those whose target has 2+ segments)",
    )
    ap.add_argument("--llm-users", type=int, default=20, help="users the LLM writes for (M, the first M of N)")
    ap.add_argument("--llm-cases", type=int, default=40, help="instruction cases for the LLM / combined instructor")
    ap.add_argument("--instruction-cases", type=int, default=600, help="instruction cases for the rules")
    ap.add_argument("--skip-llm", action="store_true", help="no LLM rows (writer and instructor)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for every model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--tiger-model",
        default="default",
        help="saved tiger folder; '' trains one on the train split; 'default': per dataset",
    )
    ap.add_argument(
        "--textgen-budget",
        type=float,
        default=0.0,
        help="text-generator training budget in seconds (0: none, all the config's epochs; "
        "a budget makes the result depend on the machine's speed)",
    )
    ap.add_argument("--models-dir", default="", help="save trained models here and reuse them on later runs")
    args = ap.parse_args()
    if args.users < 2:
        ap.error("--users must be at least 2 (FD needs two samples)")
    if args.selection_users < 1:
        ap.error("--selection-users must be at least 1")
    run(args)


if __name__ == "__main__":
    main()
