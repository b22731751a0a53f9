"""All of genrec's configuration, as typed dataclasses in one place.

Every field can be overridden from the command line as ``--set key=value`` (for example
``--set epochs=20 --set dropout=0.3``); ``apply_overrides`` parses and type-checks them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass
class SyntheticConfig:
    """Size and shape of the built-in synthetic marketplace."""

    n_users: int = 3000
    n_items: int = 2000
    n_categories: int = 12
    n_brands: int = 40
    mean_length: float = 14.0
    min_length: int = 5
    max_length: int = 60
    interests_per_user: int = 3
    popularity_skew: float = 1.1
    p_complement: float = 0.35
    p_repeat: float = 0.05
    p_drift: float = 0.08
    p_dislike: float = 0.02  # share of non-repeat, non-complement steps that are a disliked, off-taste pick
    brand_affinity: float = 4.0  # extra weight of a user's favourite brands (1 + brand_affinity)
    seed: int = 42


@dataclass
class EvalConfig:
    """The evaluation protocol: how rankings are scored."""

    ks: tuple[int, ...] = (5, 10, 20)
    exclude_history: bool = False
    batch_size: int = 1024
    diversity_dim: int = 64


@dataclass
class PopularityConfig:
    """Most-popular baseline."""


@dataclass
class ItemKNNConfig:
    """Item-item nearest neighbours over the user-item matrix."""

    neighbors: int = 200
    shrink: float = 10.0
    similarity: str = "cosine"  # "cosine" or "cooccurrence"
    recency_decay: float = 1.0  # weight of the j-th most recent history item: decay**j
    max_history: int = 50


@dataclass
class SASRecConfig:
    """SASRec (self-attentive sequential recommendation) with full-catalog or sampled loss."""

    dim: int = 64
    layers: int = 2
    heads: int = 1
    max_length: int = 50
    dropout: float = 0.5
    loss: str = "ce"  # "ce": full-catalog softmax cross-entropy; "bce": one sampled negative
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_decay_patience: int = 0  # multiply lr by lr_decay_factor after this many evaluations without gain (0: off)
    lr_decay_factor: float = 0.5
    batch_size: int = 128
    epochs: int = 200
    patience: int = 10
    eval_every: int = 1
    crop: str = "last"  # sequences longer than max_length: "last" window or a "random" one per epoch
    threads: int = 0  # 0: all cores
    seed: int = 42
    time_budget_seconds: float = 0.0  # stop training after this long (0: no limit)
    checkpoint_dir: str = ""  # if set: best model and resumable state are kept here
    valid_users: int = 0  # evaluate early stopping on this many validation users (0: all)
    ffn_mult: int = 1  # feed-forward hidden size = ffn_mult * dim
    init_std: float = 0.02  # std of the normal init of item and position embeddings
    input_norm: str = "none"  # input x = E[s]*sqrt(dim) + P ("scale"), LN(E[s] + P) ("layernorm"), E[s] + P
    bf16: bool = False  # bf16 matmuls in the full-catalog output layer during training
    ce_chunk: int = 256  # rows of logits computed at once by the fused full-softmax loss
    eval_batch_size: int = 256  # histories per forward pass when scoring
    progress: bool = True  # tqdm bar per epoch


@dataclass
class EncoderConfig:
    """Text encoder for item embeddings (a sentence-transformers model) and its on-disk cache."""

    model: str = "default"  # "default": bundled all-MiniLM-L6-v2; else a model name or local path
    batch_size: int = 64
    threads: int = 0  # torch threads while encoding (0: leave torch's setting)
    max_seq_length: int = 0  # truncate texts to this many tokens (0: the model's default)
    cache: bool = True  # keep embeddings under $GENREC_HOME/embeddings, keyed by model and text
    cache_dir: str = ""  # override the cache directory
    progress: bool = True  # tqdm bar over batches
    fields: tuple[str, ...] = ("title", "brand", "categories", "price", "description")
    template: str = ""  # e.g. "{title} by {brand}"; when set, used instead of ``fields``


@dataclass
class SemanticIdConfig:
    """Semantic-ID tokenizer: residual quantisation of item embeddings into code tuples."""

    method: str = "rq_kmeans"  # "rq_kmeans" or "rq_vae"
    levels: int = 3
    codebook_size: int = 256
    max_collisions: int = 256  # vocabulary of the extra disambiguating code
    overflow: str = "error"  # more items on one raw code than max_collisions: "error" or "spill"
    seed: int = 42
    threads: int = 0  # 0: all cores
    kmeans_iters: int = 25
    progress: bool = True
    # RQ-VAE only
    vae_hidden: tuple[int, ...] = (512, 256, 128)
    vae_latent_dim: int = 32
    vae_epochs: int = 200
    vae_batch_size: int = 1024
    vae_lr: float = 1e-3
    vae_beta: float = 0.25  # commitment loss weight
    vae_dead_reset: bool = True  # re-seed codes unused in an epoch from current residuals


@dataclass
class TigerConfig:
    """Generative retrieval (TIGER-style): semantic IDs, a causal transformer, a code head, beam search."""

    # item embeddings and semantic IDs
    text_fields: tuple[str, ...] = ("title", "brand", "categories", "price", "description")
    encoder_model: str = "default"  # sentence-transformers model ("default": bundled MiniLM)
    encoder_cache_dir: str = ""  # embedding cache directory ("" : $GENREC_HOME/embeddings)
    sid_method: str = "rq_kmeans"  # "rq_kmeans" or "rq_vae"
    sid_levels: int = 3
    sid_codebook_size: int = 256
    sid_max_collisions: int = 256  # vocabulary of the disambiguating last code
    sid_kmeans_iters: int = 25
    collab: str = "none"  # collaborative signal mixed into the quantised vectors: "none" or "svd"
    collab_weight: float = 0.5  # share of the collaborative part in the mixed cosine (0..1)
    collab_dim: int = 64  # truncated-SVD rank of the training item-user matrix
    impute_neighbors: int = 10  # items with no training interactions: collab vector from text kNN
    # network
    dim: int = 64
    layers: int = 2
    heads: int = 1
    max_length: int = 50
    ffn_mult: int = 1
    dropout: float = 0.4
    item_id_embedding: bool = True  # add a learned item-id embedding to the code-sum input
    head_mult: int = 2  # code-head MLP hidden size = head_mult * dim
    tie_codes: bool = True  # output code embeddings O_l shared with the input code embeddings
    trie_softmax: bool = True  # normalise each level over the codes that continue the prefix in the catalog
    node_embedding: bool = True  # add a learned output vector per code prefix (trie node) to O_l
    label_smoothing: float = 0.0
    init_std: float = 0.02
    # training
    lr: float = 2e-3
    weight_decay: float = 0.0
    lr_decay_patience: int = 0  # multiply lr by lr_decay_factor after this many evaluations without gain (0: off)
    lr_decay_factor: float = 0.5
    batch_size: int = 128
    epochs: int = 200
    patience: int = 8
    eval_every: int = 1
    valid_users: int = 0  # early stopping on this many (fixed, random) validation users (0: all)
    time_budget_seconds: float = 0.0  # stop training after this long (0: no limit)
    seed: int = 42
    threads: int = 0  # 0: all cores
    progress: bool = True
    # decoding
    beam_width: int = 30  # k > beam_width widens the beam to k
    eval_batch_size: int = 512  # histories per beam search


@dataclass
class LLMConfig:
    """The local LLM backend (genrec.llm.local)."""

    model: str = "smollm2"  # "smollm2" (bundled SmolLM2-135M-Instruct) or a transformers model folder
    cache_dir: str = ""  # converted-model cache ("": $GENREC_HOME/llm)
    threads: int = 0  # torch threads (0: all cores)
    seed: int = 0
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0


@dataclass
class TextGenConfig:
    """genrec's own conditional item-text generator (genrec.generation.textgen)."""

    vocab_size: int = 4000  # BPE vocabulary trained on the catalog texts
    max_length: int = 96  # tokens per item text (title + description)
    dim: int = 192
    layers: int = 3
    heads: int = 4
    dropout: float = 0.1
    cond_dim: int = 384  # dimension of the guidance vectors (the text encoder's)
    cond_tokens: int = 2  # prefix positions the guidance vectors are projected into
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 8
    time_budget_seconds: float = 0.0  # stop training after this long (0: no limit)
    seed: int = 0
    threads: int = 0
    progress: bool = True
    # sampling
    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 80


@dataclass
class InstructorConfig:
    """The instructor: when to retrieve, edit, create or ask."""

    method: str = "rules"  # "rules", "llm" or "combined"
    rejection_threshold: int = 2  # consecutive rejected lists after which generation is activated
    min_confidence: float = 0.5  # below this the instructor asks one clarifying question


@dataclass
class PipelineConfig:
    """The generative loop: instructor -> retrieve / edit / create -> checks -> one ranked list."""

    recommender: str = "tiger"  # the model that scores human and generated items
    generator: str = "textgen"  # "textgen" (genrec's own) or "llm" (the LLM backend)
    list_size: int = 10
    drafts: int = 6  # texts written per edit / create; the best one that passes is shown
    rank_drafts: str = "recommender"  # best = "recommender" (its score for the user) or "guidance" (cosine)
    # genrec's generator: "auto" = half the drafts "description" (new description, kept title), half
    # "facts" (the source's own category names chosen for the user), or on catalogs without
    # descriptions all "facts"; or any of "append", "description", "facts", "anchored", "full",
    # several joined by "+" (see generation/writers.py)
    rewrite: str = "auto"
    min_description_tokens: int = 12  # an "append" edit adds at least this many tokens
    # an edit must still read as its source: the source among this many nearest catalog texts (0: off)
    identity_rank: int = 1
    # ... and keep this share of the words that name the source in its title (0: off)
    identity_name_share: float = 1.0
    # an edit is ranked beside its unchanged source: "rank" = in the drafts' own order (recommender
    # score, then closeness to the guidance), "closest" = the same edits as "rank", the one closest
    # to the guidance shown first, "both" = no worse on both and better on one, "off";
    # asked-for edits that lose are still shown, after those that win, with a caveat (the
    # benchmark shows the source instead)
    edit_vs_source: str = "rank"
    # selection by the recommender considers the segments at least as close to the user as the
    # item's opening one ("first"), as its mean segment ("mean"), both ("first+mean") or any ("none")
    selection_floor: str = "first"
    generated_slots: int = 2  # at most this many of the user's earlier generated items in a retrieved list
    policy: str = ""  # fidelity policy TOML ("": the packaged default)
    watermark: bool = True  # embed the keyed green-list watermark while sampling
    seed: int = 0


C = TypeVar("C")


def apply_overrides(config: C, overrides: dict[str, Any] | list[str] | None) -> C:
    """Return a copy of ``config`` with fields replaced; string values are parsed by field type."""
    if not overrides:
        return config
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"override {item!r} is not of the form key=value")
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
        overrides = pairs
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in names:
            raise ValueError(f"unknown setting {key!r} for {type(config).__name__}; known: {', '.join(sorted(names))}")
        changes[key] = _parse(value, hints[key], key) if isinstance(value, str) else value
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def _parse(text: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if origin is tuple:
            inner = typing.get_args(hint)[0]
            return tuple(inner(x) for x in text.split(",") if x)
        return text
    except ValueError:
        raise ValueError(f"setting {key!r} expects {getattr(hint, '__name__', hint)}, got {text!r}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config dataclass."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config dataclass from ``config_to_dict`` output, ignoring unknown keys."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            value = data[f.name]
            if typing.get_origin(hints[f.name]) is tuple and isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


@dataclass
class TransitionConfig:
    """Training-free item-transition graph (genrec.models.transition)."""

    window: int = 1  # item u counts as following item t when it comes at most this many steps later
    gap_decay: float = 0.5  # weight of a transition d steps apart: gap_decay ** (d - 1)
    reverse_weight: float = 0.0  # weight of the backward edge j -> i of each i -> j transition
    two_hop: float = 0.0  # weight of the two-step walk P @ P added to P
    recency_decay: float = 0.5  # weight of the j-th most recent history item: decay ** j
    max_history: int = 10  # history items the walk starts from
    popularity_weight: float = 1e-3  # popularity term (max 1) that orders items the walk does not reach


@dataclass
class FusionConfig:
    """Fused re-scoring of a generative list model and full-catalog scorers (genrec.models.fusion)."""

    generative: str = "tiger"  # the list model: a saved-model directory, or a model name to train
    scorers: tuple[str, ...] = ("sasrec",)  # models that score the whole catalog: directories or names
    generative_k: int = 30  # candidates from the generative model's top list
    scorer_k: int = 50  # candidates from each scorer's top list
    method: str = "logprob"  # "logprob": sum_m w_m log p_m; "rank": sum_m w_m / (rank_offset + rank_m)
    mix: tuple[float, ...] = ()  # w_m per model, generative first, summing to 1 ("": equal; learned by fit)
    rank_offset: float = 10.0  # c in the reciprocal rank 1 / (c + rank)
    learn: bool = True  # fit picks method and mix by validation NDCG@10 over the grid below
    methods: tuple[str, ...] = ("logprob", "rank")
    grid_step: float = 0.05  # mixes tried: every point of the weight simplex on this step
    batch_size: int = 512  # histories scored at once


__all__ = [
    "EncoderConfig",
    "EvalConfig",
    "FusionConfig",
    "ItemKNNConfig",
    "PopularityConfig",
    "SASRecConfig",
    "SemanticIdConfig",
    "SyntheticConfig",
    "TigerConfig",
    "TransitionConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
]
