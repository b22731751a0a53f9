"""All of genrec's configuration: typed pydantic models in one place, and the one ``key=value`` parser.

Every setting is validated once, when a config is built or changed: unknown keys, values of the
wrong type, choices outside their ``Literal`` and numbers out of range are ``ConfigError``s that
name the key and what it allows. Parts nest (``TigerConfig.sid.vae``, ``LoopSettings.textgen``),
and ``apply_overrides`` reaches any of them with dotted keys::

    apply_overrides(TigerConfig(), ["epochs=20", "sid.levels=4", "encoder.template={title} by {brand}"])

``parse_value`` turns the text after ``=`` into a value (by the field's type when it is known, else
the literal: bool, int, float or string); the CLI's ``--set`` and ``--opt`` both go through it.
"""

from __future__ import annotations

import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Positive = Annotated[int, Field(ge=1)]


class ConfigError(ValueError):
    """A setting that does not exist or does not validate; the message names the key."""


class Config(BaseModel):
    """Base of every genrec config: unknown keys, non-finite numbers are errors; assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    def replace(self, **changes: Any) -> Self:
        """A validated copy with top-level fields replaced (``apply_overrides`` for dotted keys)."""
        return apply_overrides(self, changes)


# ---- data and evaluation -----------------------------------------------------------------------
class SyntheticConfig(Config):
    """Size and shape of the built-in synthetic marketplace."""

    n_users: int = Field(3000, ge=1)
    n_items: int = Field(2000, ge=1)
    n_categories: int = Field(12, ge=1)
    n_brands: int = Field(40, ge=1)
    mean_length: float = Field(14.0, ge=1)
    min_length: int = Field(5, ge=1)
    max_length: int = Field(60, ge=1)
    interests_per_user: int = Field(3, ge=1)
    popularity_skew: float = Field(1.1, ge=0)
    p_complement: float = Field(0.35, ge=0, le=1)
    p_repeat: float = Field(0.05, ge=0, le=1)
    p_drift: float = Field(0.08, ge=0, le=1)
    # share of non-repeat, non-complement steps that are a disliked, off-taste pick
    p_dislike: float = Field(0.02, ge=0, le=1)
    brand_affinity: float = Field(4.0, ge=0)  # extra weight of a user's favourite brands (1 + brand_affinity)
    seed: int = 42


class EvalConfig(Config):
    """The evaluation protocol: how rankings are scored."""

    ks: tuple[Positive, ...] = Field((5, 10, 20), min_length=1)
    exclude_history: bool = False
    batch_size: int = Field(1024, ge=1)
    diversity_dim: int = Field(64, ge=1)


# ---- training --------------------------------------------------------------------------------
class TrainConfig(Config):
    """What every network trained by ``genrec.train.Trainer`` has: optimiser step, epochs, budget, checkpoints."""

    lr: float = Field(1e-3, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(128, ge=1)
    epochs: int = Field(200, ge=1)
    grad_clip: float = Field(0.0, ge=0)  # clip the gradient norm to this (0: off)
    time_budget_seconds: float = Field(0.0, ge=0)  # stop training after this long (0: no limit)
    checkpoint_dir: str = ""  # if set: the best model and a resumable state are kept here


class EarlyStoppingConfig(TrainConfig):
    """Training with early stopping on a validation metric, and reduce-on-plateau for the learning rate."""

    patience: int = Field(10, ge=1)  # stop after this many evaluations without gain
    eval_every: int = Field(1, ge=1)  # evaluate every this many epochs (and after the last)
    lr_decay_patience: int = Field(0, ge=0)  # lr *= lr_decay_factor after this many evaluations without gain (0: off)
    lr_decay_factor: float = Field(0.5, gt=0, le=1)
    valid_users: int = Field(0, ge=0)  # early stopping on this many (fixed, random) validation users (0: all)


# ---- models ----------------------------------------------------------------------------------
class PopularityConfig(Config):
    """Most-popular baseline."""


class ItemKNNConfig(Config):
    """Item-item nearest neighbours over the user-item matrix."""

    neighbors: int = Field(200, ge=1)
    shrink: float = Field(10.0, ge=0)
    similarity: Literal["cosine", "cooccurrence"] = "cosine"
    recency_decay: float = Field(1.0, gt=0, le=1)  # weight of the j-th most recent history item: decay**j
    max_history: int = Field(50, ge=1)


class SASRecConfig(EarlyStoppingConfig):
    """SASRec (self-attentive sequential recommendation) with full-catalog or sampled loss."""

    dim: int = Field(64, ge=1)
    layers: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    max_length: int = Field(50, ge=1)
    dropout: float = Field(0.5, ge=0, lt=1)
    loss: Literal["ce", "bce"] = "ce"  # ce: full-catalog softmax cross-entropy; bce: one sampled negative
    crop: Literal["last", "random"] = "last"  # sequences longer than max_length: the last window or a random one
    ffn_mult: int = Field(1, ge=1)  # feed-forward hidden size = ffn_mult * dim
    init_std: float = Field(0.02, gt=0)  # std of the normal init of item and position embeddings
    # input x = E[s]*sqrt(dim) + P ("scale"), LN(E[s] + P) ("layernorm"), E[s] + P ("none")
    input_norm: Literal["none", "scale", "layernorm"] = "none"
    bf16: bool = False  # bf16 matmuls in the full-catalog output layer during training
    ce_chunk: int = Field(256, ge=1)  # rows of logits computed at once by the fused full-softmax loss
    eval_batch_size: int = Field(256, ge=1)  # histories per forward pass when scoring
    threads: int = Field(0, ge=0)  # torch threads (0: all cores)
    seed: int = 42
    progress: bool = True  # tqdm bar per epoch

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> Self:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        return self


class EncoderConfig(Config):
    """Text encoder for item embeddings (a sentence-transformers model) and its on-disk cache."""

    model: str = "default"  # "default": bundled all-MiniLM-L6-v2; else a model name or local path
    batch_size: int = Field(64, ge=1)
    threads: int = Field(0, ge=0)  # torch threads while encoding (0: leave torch's setting)
    max_seq_length: int = Field(0, ge=0)  # truncate texts to this many tokens (0: the model's default)
    cache: bool = True  # keep embeddings under $GENREC_HOME/embeddings, keyed by model and text
    cache_dir: str = ""  # override the cache directory
    progress: bool = True  # tqdm bar over batches
    fields: tuple[str, ...] = ("title", "brand", "categories", "price", "description")
    template: str = ""  # e.g. "{title} by {brand}"; when set, used instead of ``fields``


class RQVAEConfig(TrainConfig):
    """The RQ-VAE semantic-ID tokenizer's network and its training."""

    epochs: int = Field(200, ge=1)
    batch_size: int = Field(1024, ge=1)
    hidden: tuple[Positive, ...] = (512, 256, 128)
    latent_dim: int = Field(32, ge=1)
    beta: float = Field(0.25, ge=0)  # commitment loss weight
    dead_reset: bool = True  # re-seed codes unused in an epoch from current residuals


class SemanticIdConfig(Config):
    """Semantic-ID tokenizer: residual quantisation of item embeddings into code tuples."""

    method: Literal["rq_kmeans", "rq_vae"] = "rq_kmeans"
    levels: int = Field(3, ge=1)
    codebook_size: int = Field(0, ge=0)  # 0: scale with the catalog (semantic_ids.codebook_size_for)
    max_collisions: int = Field(256, ge=1)  # vocabulary of the extra disambiguating code
    overflow: Literal["error", "spill"] = "error"  # more items on one raw code than max_collisions
    seed: int = 42
    threads: int = Field(0, ge=0)  # 0: all cores
    kmeans_iters: int = Field(25, ge=1)
    progress: bool = True
    vae: RQVAEConfig = Field(default_factory=RQVAEConfig)  # RQ-VAE only


class TigerConfig(EarlyStoppingConfig):
    """Generative retrieval (TIGER-style): semantic IDs, a causal transformer, a code head, beam search.

    ``threads`` and ``progress`` apply to the parts too (``encoder``, ``sid``): theirs are not read.
    """

    # item embeddings and semantic IDs
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    sid: SemanticIdConfig = Field(default_factory=lambda: SemanticIdConfig(overflow="spill"))
    # collaborative signal mixed into the quantised vectors (genrec.semantic_ids.collaborative): "svd" of
    # the item-user matrix, "cooc" PPMI of windowed sequence co-occurrence; a catalog without item text
    # quantises these vectors alone ("none" then means "svd")
    collab: Literal["none", "svd", "cooc"] = "none"
    collab_weight: float = Field(0.5, ge=0, le=1)  # share of the collaborative part in the mixed cosine
    collab_dim: int = Field(64, ge=1)  # truncated-SVD rank of the collaborative vectors
    impute_neighbors: int = Field(10, ge=1)  # items with no training interactions: collab vector from text kNN
    # network
    dim: int = Field(64, ge=1)
    layers: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    max_length: int = Field(50, ge=1)
    ffn_mult: int = Field(1, ge=1)
    dropout: float = Field(0.4, ge=0, lt=1)
    item_id_embedding: bool = True  # add a learned item-id embedding to the code-sum input
    head_mult: int = Field(2, ge=1)  # code-head MLP hidden size = head_mult * dim
    tie_codes: bool = True  # output code embeddings O_l shared with the input code embeddings
    trie_softmax: bool = True  # normalise each level over the codes that continue the prefix in the catalog
    node_embedding: bool = True  # add a learned output vector per code prefix (trie node) to O_l
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    init_std: float = Field(0.02, gt=0)
    # training
    lr: float = Field(2e-3, ge=0)
    patience: int = Field(8, ge=1)
    seed: int = 42
    threads: int = Field(0, ge=0)  # 0: all cores
    progress: bool = True
    # decoding
    beam_width: int = Field(30, ge=1)  # k > beam_width widens the beam to k
    eval_batch_size: int = Field(512, ge=1)  # histories per beam search
    # with trie_softmax: beam steps score the trie edges only (genrec.decoding.trie_softmax); false scores
    # every code and masks (the dense reference: the same lists, slower)
    fast_decoding: bool = True

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> Self:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        return self


class TransitionConfig(Config):
    """Training-free item-transition graph (genrec.models.transition)."""

    window: int = Field(1, ge=1)  # item u counts as following item t when it comes at most this many steps later
    gap_decay: float = Field(0.5, ge=0)  # weight of a transition d steps apart: gap_decay ** (d - 1)
    reverse_weight: float = Field(0.0, ge=0)  # weight of the backward edge j -> i of each i -> j transition
    two_hop: float = Field(0.0, ge=0)  # weight of the two-step walk P @ P added to P
    recency_decay: float = Field(0.5, ge=0)  # weight of the j-th most recent history item: decay ** j
    max_history: int = Field(10, ge=1)  # history items the walk starts from
    popularity_weight: float = Field(1e-3, ge=0)  # popularity term (max 1) that orders items the walk does not reach


FusionMethod = Literal["logprob", "rank"]


class FusionConfig(Config):
    """Fused re-scoring of a generative list model and full-catalog scorers (genrec.models.fusion)."""

    generative: str = "tiger"  # the list model: a saved-model directory, or a model name to train
    scorers: tuple[str, ...] = Field(("sasrec",), min_length=1)  # models scoring the whole catalog: dirs or names
    generative_k: int = Field(30, ge=1)  # candidates from the generative model's top list
    scorer_k: int = Field(50, ge=1)  # candidates from each scorer's top list
    method: FusionMethod = "logprob"  # "logprob": sum_m w_m log p_m; "rank": sum_m w_m / (rank_offset + rank_m)
    mix: tuple[float, ...] = ()  # w_m >= 0 per model, generative first, summing to 1 (empty: equal; learned by fit)
    rank_offset: float = Field(10.0, ge=0)  # c in the reciprocal rank 1 / (c + rank)
    learn: bool = True  # fit picks method and mix by validation NDCG@10 over the grid below
    methods: tuple[FusionMethod, ...] = Field(("logprob", "rank"), min_length=1)
    grid_step: float = Field(0.05, gt=0, le=1)  # mixes tried: every point of the weight simplex on this step
    batch_size: int = Field(512, ge=1)  # histories scored at once

    @model_validator(mode="after")
    def _mix_and_grid(self) -> Self:
        if self.mix and (any(w < 0 for w in self.mix) or abs(sum(self.mix) - 1.0) > 1e-6):
            raise ValueError(f"mix must be non-negative weights summing to 1, got {list(self.mix)}")
        parts = round(1.0 / self.grid_step)
        if abs(parts * self.grid_step - 1.0) > 1e-9:
            raise ValueError(f"grid_step must divide 1 (e.g. 0.05, 0.1, 0.25), got {self.grid_step}")
        return self


# ---- generation --------------------------------------------------------------------------------
class LLMConfig(Config):
    """The local LLM backend (genrec.llm.local)."""

    model: str = "smollm2"  # "smollm2" (bundled SmolLM2-135M-Instruct) or a transformers model folder
    cache_dir: str = ""  # converted-model cache ("": $GENREC_HOME/llm)
    threads: int = Field(0, ge=0)  # torch threads (0: all cores)
    seed: int = 0
    max_new_tokens: int = Field(128, ge=1)
    temperature: float = Field(0.0, ge=0)  # 0: greedy
    top_p: float = Field(1.0, gt=0, le=1)


class WriterConfig(Config):
    """Lengths and prompt sizes of the LLM item writer (genrec.generation.llm_writer)."""

    max_new_tokens: int = Field(110, ge=1)
    max_title_chars: int = Field(120, ge=1)
    max_description_chars: int = Field(400, ge=1)
    max_examples: int = Field(3, ge=0)  # liked items shown as in-context examples
    example_chars: int = Field(200, ge=0)  # description characters shown per example


class TextGenConfig(TrainConfig):
    """genrec's own conditional item-text generator (genrec.generation.textgen)."""

    vocab_size: int = Field(4000, gt=261)  # BPE vocabulary trained on the catalog texts (> 256 bytes + 5 special)
    max_length: int = Field(96, ge=4)  # tokens per item text (title + description)
    dim: int = Field(192, ge=1)
    layers: int = Field(3, ge=1)
    heads: int = Field(4, ge=1)
    ffn_mult: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    cond_dim: int = Field(384, ge=1)  # dimension of the guidance vectors (the text encoder's)
    cond_tokens: int = Field(2, ge=1)  # prefix positions the guidance vectors are projected into
    cond_dropout: float = Field(0.1, ge=0, le=1)  # share of training texts given the null prefix instead
    cond_noise: float = Field(0.1, ge=0)  # norm of the noise added to training conditions
    # training (TrainConfig) with this model's defaults; lr: linear warm-up, then a cosine down to min_lr_ratio
    lr: float = Field(1e-3, ge=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(8, ge=1)
    weight_decay: float = Field(0.1, ge=0)  # on matrices only
    grad_clip: float = Field(1.0, ge=0)
    warmup_steps: int = Field(100, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    seed: int = 0
    threads: int = Field(0, ge=0)  # 0: leave torch's setting
    progress: bool = True
    # sampling
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.9, gt=0, le=1)
    max_new_tokens: int = Field(80, ge=1)

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> Self:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        return self


class InstructorConfig(Config):
    """The instructor: when to retrieve, edit, create or ask."""

    method: Literal["rules", "llm", "combined", "combined-llm-first"] = "rules"
    rejection_threshold: int = Field(2, ge=1)  # consecutive rejected lists after which generation is activated
    min_confidence: float = Field(0.5, ge=0, le=1)  # below this the instructor asks one clarifying question


class PipelineConfig(Config):
    """The generative loop: instructor -> retrieve / edit / create -> checks -> one ranked list."""

    recommender: str = "tiger"  # the model that scores human and generated items
    generator: Literal["textgen", "llm"] = "textgen"  # genrec's own generator or the LLM backend
    list_size: int = Field(10, ge=1)
    drafts: int = Field(6, ge=1)  # texts written per edit / create; the best one that passes is shown
    # best = "recommender" (its score for the user) or "guidance" (cosine)
    rank_drafts: Literal["recommender", "guidance"] = "recommender"
    # genrec's generator: "auto" = half the drafts "description" (new description, kept title), half
    # "facts" (the source's own category names chosen for the user), or on catalogs without
    # descriptions all "facts"; or any of "append", "description", "facts", "anchored", "full",
    # several joined by "+" (see generation/writers.py)
    rewrite: str = "auto"
    min_description_tokens: int = Field(12, ge=0)  # an "append" edit adds at least this many tokens
    # an edit must still read as its source: the source among this many nearest catalog texts (0: off)
    identity_rank: int = Field(1, ge=0)
    # ... and keep this share of the words that name the source in its title (0: off)
    identity_name_share: float = Field(1.0, ge=0, le=1)
    # an edit is ranked beside its unchanged source: "rank" = in the drafts' own order (recommender
    # score, then closeness to the guidance), "closest" = the same edits as "rank", the one closest
    # to the guidance shown first, "both" = no worse on both and better on one, "off";
    # asked-for edits that lose are still shown, after those that win, with a caveat (the
    # benchmark shows the source instead)
    edit_vs_source: Literal["rank", "closest", "both", "off"] = "rank"
    # selection by the recommender considers the segments at least as close to the user as the
    # item's opening one ("first"), as its mean segment ("mean"), both ("first+mean") or any ("none")
    selection_floor: Literal["first", "mean", "first+mean", "none"] = "first"
    generated_slots: int = Field(2, ge=0)  # at most this many of the user's earlier generated items in a retrieved list
    policy: str = ""  # fidelity policy TOML ("": the packaged default)
    watermark: bool = True  # embed the keyed green-list watermark while sampling
    seed: int = 0


class LoopSettings(Config):
    """Everything the generative loop is built from (each part reachable as ``--set part.key=value``)."""

    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    # overrides of the recommender's config (validated against the model pipeline.recommender names)
    recommender: dict[str, Any] = Field(default_factory=dict)
    textgen: TextGenConfig = Field(default_factory=TextGenConfig)
    instructor: InstructorConfig = Field(default_factory=InstructorConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    progress: bool = True


# ---- serving ---------------------------------------------------------------------------------
class ServeConfig(Config):
    """``genrec serve``: what it loads and how it serves (each key a command-line option; ``loop`` is ``--set``)."""

    dataset: str = "synthetic"  # dataset spec: synthetic, a stored name or KIND:PATH
    dataset_options: dict[str, Any] = Field(default_factory=dict)  # loader / synthetic options (--opt)
    store: str = ""  # DuckDB file holding the datasets ("": $GENREC_HOME/genrec.duckdb)
    db: str = ""  # database for users' data: postgresql://... or a DuckDB file ("": $GENREC_DB_URL or the store)
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)  # server processes (more than one needs PostgreSQL)
    build_loop: bool = True  # build the generative loop (off: recommendations, feedback and history only)
    loop: LoopSettings = Field(default_factory=lambda: LoopSettings(progress=False))  # as genrec chat's --set
    recommender: str = ""  # model behind /v1/recommendations ("": the loop's)
    model_dir: str = ""  # a saved model for /v1/recommendations instead of training one
    threads: int = Field(1, ge=1, le=64)  # torch threads of the recommendations model
    batch_max: int = Field(64, ge=1, le=4096)  # most recommendation requests scored in one forward pass
    batch_wait_ms: float = Field(2.0, ge=0.0, le=1000.0)  # longest wait to fill a batch
    turn_workers: int = Field(1, ge=1, le=16)  # turns of the loop run at once (one pipeline)
    turn_queue: int = Field(32, ge=1, le=10_000)  # turns waiting at most; more get 429
    session_hours: float = Field(12.0, gt=0, le=24 * 30)  # browser sessions last this long
    max_body_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)  # larger request bodies get 413, unread
    secure_cookies: bool = False  # mark cookies Secure (set behind HTTPS)
    bootstrap_admin: bool = True  # create and print an admin key when there is none
    log_impressions: bool = True  # store every recommendation list shown
    log_level: Literal["debug", "info", "warning", "error"] = "info"


# ---- the one key=value parser ------------------------------------------------------------------
C = TypeVar("C", bound=Config)


def parse_assignment(text: str) -> tuple[str, str]:
    """``"a.b=value"`` -> ``("a.b", "value")`` (key and value stripped); a ConfigError if there is no ``=``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"setting {text!r} is not of the form key=value")
    return key.strip(), value.strip()


def parse_assignments(items: Sequence[str] | None) -> dict[str, str]:
    """Several ``key=value`` texts as a dict (a later key wins)."""
    return dict(parse_assignment(item) for item in items or [])


def parse_value(text: str, annotation: Any = None) -> Any:
    """The value a ``key=value`` text means: split on commas for list / tuple fields, else the literal.

    With no known type (loader options): "true"/"false" -> bool, then int, then float, else the text.
    Typed fields get the text itself (pydantic converts and checks it), lists a list of texts.
    """
    origin = typing.get_origin(annotation)
    if origin in (tuple, list) or annotation in (tuple, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    if annotation is not None and annotation is not Any:
        return text
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else text  # "inf" and "nan" stay text: no setting takes them
    return text


def apply_overrides(config: C, overrides: Mapping[str, Any] | Sequence[str] | None) -> C:
    """A validated copy of ``config`` with settings replaced; keys may be dotted paths into nested parts.

    ``overrides`` is ``{"sid.levels": 3, "epochs": "20"}`` or ``["sid.levels=3", "epochs=20"]``; text
    values are parsed by the field's type (``parse_value``), a dict value for a part sets several of
    its keys. Errors (``ConfigError``) name the key and what it allows.
    """
    if not overrides:
        return config
    pairs = parse_assignments(overrides) if _is_texts(overrides) else dict(overrides)  # type: ignore[arg-type]
    data = config.model_dump()
    for key, value in pairs.items():
        _assign(type(config), data, key.split("."), value, key)
    return validated(type(config), data)


def validated(cls: type[C], data: Mapping[str, Any], source: str = "") -> C:
    """``cls(**data)`` with validation errors turned into one ConfigError naming each key (``source``: the file)."""
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_explain(err, cls, source)) from None


def _is_texts(overrides: Any) -> bool:
    return not isinstance(overrides, Mapping)


def _assign(cls: type[Config], data: dict[str, Any], path: list[str], value: Any, full: str) -> None:
    """Set ``data[path]`` (``data`` a dump of ``cls``), checking every key on the way."""
    name, rest = path[0], path[1:]
    fields = cls.model_fields
    if name not in fields:
        where = f" in {'.'.join(full.split('.')[: -len(path)])}" if len(path) < len(full.split(".")) else ""
        raise ConfigError(f"unknown setting {full!r}{where} ({cls.__name__}); known: {', '.join(fields)}")
    annotation = fields[name].annotation
    part = _config_class(annotation)
    if part is not None and (rest or isinstance(value, Mapping)):
        current = data[name] if isinstance(data.get(name), dict) else part().model_dump()
        data[name] = current
        if rest:
            _assign(part, current, rest, value, full)
        else:
            for key, inner in value.items():
                _assign(part, current, str(key).split("."), inner, f"{full}.{key}")
        return
    if rest:
        if typing.get_origin(annotation) is dict:  # a free-form dict (LoopSettings.recommender): keep the text
            data.setdefault(name, {})[".".join(rest)] = value
            return
        raise ConfigError(f"setting {full!r}: {name!r} has no parts ({cls.__name__}.{name} is a value)")
    data[name] = parse_value(value, annotation) if isinstance(value, str) else value


def _config_class(annotation: Any) -> type[Config] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, Config) else None


def _explain(err: ValidationError, cls: type[Config], source: str) -> str:
    """One line per error: ``file: key: what is wrong (got value)``."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or cls.__name__
        whole = not e["loc"] or e["type"] in ("missing", "extra_forbidden")  # no single value to show
        got = "" if whole else f" (got {e['input']!r})"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{source + ': ' if source else ''}{key}: {message}{got}")
    return "; ".join(lines)


def config_to_dict(config: Config) -> dict[str, Any]:
    """A JSON-friendly dict of a config (nested parts as dicts, tuples as lists)."""
    return config.model_dump(mode="json")


def config_from_dict(cls: type[C], data: Mapping[str, Any], source: str = "") -> C:
    """Rebuild a config from ``config_to_dict`` output (validated; unknown keys are errors)."""
    return validated(cls, data, source)


# ---- settings files ------------------------------------------------------------------------------
class ModelSettings(Config):
    """One model's table in a settings file: fixed settings, and an optional grid searched on validation."""

    settings: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)


def load_settings(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, ModelSettings]:
    """A settings TOML file: one ``[model.settings]`` / ``[model.grid]`` table pair per model name.

    Dotted or nested keys reach a model's parts (``[tiger.settings.sid] levels = 4``); the settings
    are checked against the model's config when they are applied. A top-level ``extends =
    "other.toml"`` (relative to this file) starts from that file's tables; a model's table here
    replaces the one there.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the settings file as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    out: dict[str, ModelSettings] = {}
    base = data.pop("extends", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: extends: expected a file name, got {base!r}")
        parent = (path.parent / base).resolve()
        if parent in _seen or parent == path.resolve():
            raise ConfigError(f"{path}: extends {base!r} again (a cycle)")
        out.update(load_settings(parent, (*_seen, path.resolve())))
    for model, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {model}: expected a table [{model}.settings] / [{model}.grid]")
        _check_finite(table, f"{path}: {model}")
        out[model] = validated(ModelSettings, table, f"{path}: {model}")
        for key, values in out[model].grid.items():
            if not values:
                raise ConfigError(f"{path}: {model}.grid.{key}: an empty list of values")
    return out


def _check_finite(value: Any, where: str) -> None:
    """Raise a ConfigError naming the key of the first infinite or NaN number in a settings table."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _check_finite(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for inner in value:
            _check_finite(inner, where)


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"sid": {"levels": 4}}`` -> ``{"sid.levels": 4}``."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


__all__ = [
    "Config",
    "ConfigError",
    "EarlyStoppingConfig",
    "EncoderConfig",
    "EvalConfig",
    "FusionConfig",
    "InstructorConfig",
    "ItemKNNConfig",
    "LLMConfig",
    "LoopSettings",
    "ModelSettings",
    "PipelineConfig",
    "PopularityConfig",
    "RQVAEConfig",
    "SASRecConfig",
    "SemanticIdConfig",
    "ServeConfig",
    "SyntheticConfig",
    "TextGenConfig",
    "TigerConfig",
    "TrainConfig",
    "TransitionConfig",
    "WriterConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "flatten",
    "load_settings",
    "parse_assignment",
    "parse_assignments",
    "parse_value",
    "validated",
]
