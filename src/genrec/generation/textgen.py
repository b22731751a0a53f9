"""genrec's own conditional item-text generator: a byte-level BPE tokenizer and a small transformer.

Texts are ``"title\\ndescription"`` (first line the title, the rest the description, as in
``GeneratedItem.text``) and are modelled as the token stream

  <bos> <title> title tokens <desc> description tokens <eos>

after a prefix of ``cond_tokens`` positions projected from a guidance vector in the text
encoder's space (see ``textgen_model``). Training conditions each item on its OWN text embedding
(``item_conditions``), with a little noise so mixed or averaged vectors are not out of
distribution, and with ``cond_dropout`` of the items given the learned null prefix instead, so
the same model also generates unconditionally (the baseline) and supports classifier-free
guidance: logits = null + s * (cond - null) with ``guidance_scale`` s.

At generation time the condition is any unit vector of that space: a user representation
(mean embedding of liked items, or a recommender vector mapped into the text space), an
instruction embedding, or a weighted mix (``mix_conditions`` / ``guidance_condition``).

Edits. An edit must stay about the same product, so it is steered two ways, both matching
what the model saw in training (one condition vector, titles that start with a brand):
  1. the condition mixes the guidance with the source item's own embedding
     (``mix_conditions([guidance, source], [w, 1 - w])``): the source pulls the content towards
     the product, the guidance towards what the user wants;
  2. ``prefix`` forces the start of the title (e.g. the source's brand and product type), so
     the rewrite cannot drift to another brand or product.
A second, separate condition slot was not used: training has no natural pair of (source,
target) texts to teach it, whereas both tools above are exactly the training distribution.

Sampling runs batched with a KV cache; logits pass through a small grammar mask (no special
token out of place), then the caller's ``logits_processors`` (e.g. the watermark), then
temperature and top-p. ``tokenize`` gives the content ids a text would have been generated as,
for watermark detection.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrec.atomic import atomic_directory
from genrec.config import EncoderConfig, TextGenConfig, config_from_dict, config_to_dict
from genrec.data.dataset import Dataset
from genrec.generation.intent import Guidance
from genrec.generation.textgen_model import TextGenNet
from genrec.nn import bucketed_batches, torch_threads
from genrec.train import Step, Trainer, TrainLoop

GENERATOR_NAME = "textgen"
FORMAT_VERSION = 2  # 2: every setting in TextGenConfig (no separate options)
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<title>", "<desc>")
PAD, BOS, EOS, TITLE, DESC = range(len(SPECIAL_TOKENS))
_IGNORE = -100  # cross-entropy target of positions that are not scored
_META, _TOKENIZER, _WEIGHTS = "textgen.json", "tokenizer.json", "model.safetensors"

#: ``(input_ids [B, T], scores [B, V]) -> scores``, applied to the logits before sampling.
LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---- texts and conditions ------------------------------------------------------------------
def split_text(text: str) -> tuple[str, str]:
    """(title, description) of ``"title\\ndescription"``: the first line, and the rest."""
    title, _, description = text.strip().partition("\n")
    return title.strip(), description.strip()


def join_text(title: str, description: str) -> str:
    """Inverse of ``split_text``."""
    return f"{title}\n{description}".strip()


def item_corpus(dataset: Dataset) -> list[str]:
    """One ``"title\\ndescription"`` text per item, in item order (HTML entities unescaped)."""
    import html

    items = dataset.items
    return [
        join_text(html.unescape(_str(t)), html.unescape(_str(d))) for t, d in zip(items["title"], items["description"])
    ]


def item_conditions(dataset: Dataset, config: EncoderConfig | None = None) -> np.ndarray:
    """Each item's own text embedding [n_items, 384] (unit norm): the training condition."""
    from genrec.encoders.text import encode_items

    return encode_items(dataset, config or EncoderConfig(progress=False))


def training_data(dataset: Dataset, config: EncoderConfig | None = None) -> tuple[list[str], np.ndarray]:
    """``fit`` inputs from a catalog: texts and own embeddings of the items that have a title."""
    texts = item_corpus(dataset)
    keep = [i for i, text in enumerate(texts) if split_text(text)[0]]
    if not keep:
        raise ValueError(f"dataset {dataset.name!r}: no item has a title to train on")
    return [texts[i] for i in keep], item_conditions(dataset, config)[keep]


def mix_conditions(vectors: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted sum of guidance vectors, normalised to unit length."""
    if not vectors:
        raise ValueError("mix_conditions needs at least one vector")
    weights = [1.0] * len(vectors) if weights is None else list(weights)
    if len(weights) != len(vectors):
        raise ValueError(f"got {len(vectors)} vectors but {len(weights)} weights")
    rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in vectors]
    if len({r.shape[0] for r in rows}) != 1:
        raise ValueError(f"vectors differ in dimension: {[r.shape[0] for r in rows]}")
    mixed = np.sum([w * r for w, r in zip(weights, rows)], axis=0)
    norm = float(np.linalg.norm(mixed))
    if not np.isfinite(norm) or norm < 1e-8:
        raise ValueError("the weighted mix of guidance vectors is zero or not finite")
    return (mixed / norm).astype(np.float32)


def guidance_condition(guidance: Guidance, weights: dict[str, float] | None = None) -> np.ndarray | None:
    """The mix of a Guidance's vectors (instruction, user, liked, extras by name); None when it has none.

    ``weights`` maps those names to weights (default 1 each); a name with weight 0 is left out.
    """
    parts = {"instruction": guidance.instruction, "user": guidance.user, "liked": guidance.liked, **guidance.extras}
    weights = weights or {}
    unknown = sorted(set(weights) - set(parts))
    if unknown:
        raise ValueError(f"weights name unknown guidance vector(s) {unknown}; known: {sorted(parts)}")
    chosen = [(v, weights.get(k, 1.0)) for k, v in parts.items() if v is not None and weights.get(k, 1.0)]
    if not chosen:
        return None
    return mix_conditions([v for v, _ in chosen], [w for _, w in chosen])


# ---- tokenizer -----------------------------------------------------------------------------
class ItemTokenizer:
    """Byte-level BPE over item texts; ids 0..4 are <pad> <bos> <eos> <title> <desc>."""

    def __init__(self, tokenizer: Any) -> None:
        for i, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != i:
                raise ValueError(f"tokenizer must have {token!r} as id {i}")
        tokenizer.encode_special_tokens = True  # a literal "<desc>" in a text is just text
        self._tok = tokenizer

    @classmethod
    def train(cls, texts: Sequence[str], vocab_size: int) -> ItemTokenizer:
        """Learn a BPE vocabulary of at most ``vocab_size`` tokens from titles and descriptions."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        floor = len(SPECIAL_TOKENS) + 256
        if vocab_size <= floor:
            raise ValueError(f"vocab_size must exceed {floor} (256 bytes + special tokens), got {vocab_size}")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIAL_TOKENS),
            min_frequency=2,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        fields = (f for text in texts for f in split_text(text) if f)
        tok.train_from_iterator(fields, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return int(self._tok.get_vocab_size())

    def encode(self, text: str) -> list[int]:
        """Ids of one field's text, without special tokens."""
        return list(self._tok.encode(text, add_special_tokens=False).ids) if text else []

    def decode(self, ids: Sequence[int]) -> str:
        """Text of content ids (special ids are dropped)."""
        return str(self._tok.decode([int(i) for i in ids if i >= len(SPECIAL_TOKENS)], skip_special_tokens=False))

    def content_ids(self, text: str) -> list[int]:
        """Title ids then description ids of a ``"title\\ndescription"`` text, no special tokens."""
        title, description = split_text(text)
        return self.encode(title) + self.encode(description)

    def sequence(self, text: str, max_length: int) -> list[int]:
        """The training stream <bos> <title> ... <desc> ... <eos>, cut to ``max_length`` ids."""
        title, description = split_text(text)
        ids = [BOS, TITLE, *self.encode(title), DESC, *self.encode(description), EOS]
        return ids[:max_length]

    def parse(self, stream: Sequence[int]) -> tuple[str, str, list[int]]:
        """(title, description, content ids) of a generated stream; stops at <eos>."""
        title: list[int] = []
        description: list[int] = []
        target = title
        for i in stream:
            if i == EOS:
                break
            if i == DESC:
                target = description
            elif i >= len(SPECIAL_TOKENS):
                target.append(int(i))
        # a newline inside the title would move the field boundary of "title\ndescription"
        title_text = " ".join(self.decode(title).split())
        return title_text, self.decode(description).strip(), title + description

    def to_json(self) -> str:
        """The tokenizer as a JSON string (Hugging Face tokenizers format)."""
        return str(self._tok.to_str())

    @classmethod
    def from_json(cls, text: str) -> ItemTokenizer:
        """Inverse of ``to_json``."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))


# ---- the generator -------------------------------------------------------------------------
@dataclass
class GeneratedText:
    """One sampled item text, split into its fields."""

    text: str  # "title\ndescription"
    title: str
    description: str
    token_ids: list[int]  # content ids (forced prefix + sampled), no special tokens
    seconds: float  # this text's share of its batch's wall time
    prefix_tokens: int = 0  # how many leading token_ids were forced by ``prefix`` (not sampled)


class TextGenerator:
    """Conditional item-text generator: ``fit`` on a catalog, ``generate`` from guidance vectors."""

    def __init__(self, config: TextGenConfig | None = None) -> None:
        self.config = config or TextGenConfig()
        self.tokenizer: ItemTokenizer | None = None
        self.net: TextGenNet | None = None
        self.history: list[dict[str, Any]] = []

    # ---- basics ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of token ids (the width of the logits a processor sees)."""
        return self._trained()[0].vocab_size

    def tokenize(self, text: str) -> list[int]:
        """Content ids of ``"title\\ndescription"`` as the generator would have produced them."""
        return self._trained()[0].content_ids(text)

    def _trained(self) -> tuple[ItemTokenizer, TextGenNet]:
        if self.tokenizer is None or self.net is None:
            raise RuntimeError("the text generator is not trained: call fit() or load() first")
        return self.tokenizer, self.net

    def _build_net(self, vocab_size: int) -> TextGenNet:
        cfg = self.config
        return TextGenNet(
            vocab_size,
            dim=cfg.dim,
            layers=cfg.layers,
            heads=cfg.heads,
            dropout=cfg.dropout,
            cond_dim=cfg.cond_dim,
            cond_tokens=cfg.cond_tokens,
            max_length=cfg.max_length,
            ffn_mult=cfg.ffn_mult,
            pad_id=PAD,
        )

    # ---- training ----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], cond: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Train tokenizer and model on ``texts`` with guidance ``cond`` [n, cond_dim]; per-epoch history.

        ``cond`` None trains an unconditional model. Each history row holds epoch, loss (mean
        token cross-entropy), tokens, steps, lr, seconds; the last also ``stop`` ("epochs" or
        "time_budget").
        """
        cfg = self.config
        texts = _check_texts(texts)
        cond_t = None if cond is None else torch.from_numpy(_check_cond(cond, cfg.cond_dim, "cond", len(texts)))
        with torch_threads(cfg.threads or None):
            torch.manual_seed(cfg.seed)
            rng = np.random.default_rng(cfg.seed)
            tokenizer = ItemTokenizer.train(texts, cfg.vocab_size)
            seqs = [tokenizer.sequence(t, cfg.max_length) for t in texts]
            loop = _TextGenLoop(self, tokenizer.vocab_size, seqs, cond_t, rng)
            self.tokenizer, self.net = tokenizer, loop.net
            result = Trainer(cfg, cfg.seed, cfg.progress).fit(loop)
        self.history = result.history
        self.history[-1]["stop"] = result.stop_reason
        return self.history

    def _train_condition(
        self, cond: torch.Tensor | None, index: np.ndarray
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The batch's conditions (noised, renormalised) and which rows get the null prefix."""
        if cond is None:
            return None, None
        c = cond[torch.from_numpy(index)]
        if self.config.cond_noise > 0:
            # noise of norm ~cond_noise (a unit condition's scale), so mixes of vectors look familiar
            noise = torch.randn_like(c) * (self.config.cond_noise / math.sqrt(c.shape[1]))
            c = F.normalize(c + noise, dim=1)
        null = torch.rand(len(index)) < self.config.cond_dropout
        return c, null

    @torch.no_grad()
    def loss(self, texts: Sequence[str], cond: np.ndarray | None = None, batch_size: int = 64) -> float:
        """Mean token cross-entropy of ``texts`` under ``cond`` (None: unconditional), no dropout."""
        tokenizer, net = self._trained()
        texts = _check_texts(texts)
        cond_t = None if cond is None else torch.from_numpy(_check_cond(cond, self.config.cond_dim, "cond", len(texts)))
        seqs = [tokenizer.sequence(t, self.config.max_length) for t in texts]
        total, tokens = 0.0, 0
        with torch_threads(self.config.threads or None):
            net.eval()
            for lo in range(0, len(seqs), batch_size):
                ids, targets = _pad_batch(seqs[lo : lo + batch_size])
                c = None if cond_t is None else cond_t[lo : lo + batch_size]
                logits, _ = net(ids, c)
                total += float(
                    F.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=_IGNORE, reduction="sum"
                    )
                )
                tokens += int((targets != _IGNORE).sum())
        return total / max(tokens, 1)

    # ---- sampling ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        cond: np.ndarray | None = None,
        n_per_cond: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        prefix: str | None = None,
        logits_processors: Sequence[LogitsProcessor] = (),
        guidance_scale: float = 1.0,
        batch_size: int = 32,
        title: str | None = None,
        min_description_tokens: int = 0,
        description: str | None = None,
    ) -> list[GeneratedText]:
        """Sample ``n_per_cond`` texts per guidance row of ``cond`` [n, cond_dim] (None: unconditional).

        Rows are normalised. ``prefix`` forces the start of every title; ``title`` forces the whole
        title, so only the description is written, and ``description`` (with ``title``) forces the
        description's start, so only its continuation is written; ``min_description_tokens`` bans
        <eos> until the description has that many tokens (sampled ones, after a forced start). Defaults come
        from the config; temperature 0 is greedy. The same seed (and batch_size) gives the same texts.
        """
        tokenizer, net = self._trained()
        cfg = self.config
        temperature = cfg.temperature if temperature is None else float(temperature)
        top_p = cfg.top_p if top_p is None else float(top_p)
        max_new_tokens = cfg.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
        seed = cfg.seed if seed is None else int(seed)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if n_per_cond < 1 or batch_size < 1 or max_new_tokens < 1:
            raise ValueError("n_per_cond, batch_size and max_new_tokens must be >= 1")
        if min_description_tokens < 0:
            raise ValueError(f"min_description_tokens must be >= 0, got {min_description_tokens}")
        if prefix is not None and "\n" in prefix:
            raise ValueError("prefix is the start of the title and must not contain a newline")
        if title is not None and (prefix is not None or "\n" in title or not title.strip()):
            raise ValueError("title must be a non-empty line, and not given together with prefix")
        rows = None
        if cond is not None:
            matrix = np.asarray(cond, dtype=np.float32)
            rows = np.repeat(
                _check_cond(matrix.reshape(1, -1) if matrix.ndim == 1 else matrix, cfg.cond_dim, "cond"),
                n_per_cond,
                axis=0,
            )
        n = n_per_cond if rows is None else len(rows)
        if description is not None and title is None:
            raise ValueError("description (a forced description start) needs title")
        if title is not None:
            start = [BOS, TITLE, *tokenizer.encode(title.strip()), DESC, *tokenizer.encode((description or "").strip())]
        else:
            start = [BOS, TITLE, *tokenizer.encode((prefix or "").rstrip())]
        steps = min(max_new_tokens, cfg.max_length - len(start))
        if steps < 1:
            raise ValueError(f"prefix is {len(start) - 2} tokens: no room left in max_length {cfg.max_length}")
        generator = torch.Generator().manual_seed(seed)
        out: list[GeneratedText] = []
        with torch_threads(cfg.threads or None):
            net.eval()
            for lo in range(0, n, batch_size):
                began = time.perf_counter()
                b = min(batch_size, n - lo)
                c = None if rows is None else torch.from_numpy(np.ascontiguousarray(rows[lo : lo + b]))
                streams = self._sample(
                    net,
                    start,
                    c,
                    b,
                    steps,
                    temperature,
                    top_p,
                    logits_processors,
                    guidance_scale,
                    generator,
                    min_description_tokens,
                )
                share = (time.perf_counter() - began) / b
                forced = len(start) - 2 - (title is not None)  # content tokens given, not sampled
                for stream in streams:
                    head, description, ids = tokenizer.parse(stream[1:])
                    out.append(GeneratedText(join_text(head, description), head, description, ids, share, forced))
        return out

    def _sample(
        self,
        net: TextGenNet,
        start: list[int],
        cond: torch.Tensor | None,
        b: int,
        steps: int,
        temperature: float,
        top_p: float,
        processors: Sequence[LogitsProcessor],
        guidance_scale: float,
        generator: torch.Generator,
        min_description: int = 0,
    ) -> list[list[int]]:
        """Token streams (from <bos>) of one batch, sampled with a KV cache."""
        ids = torch.tensor(start, dtype=torch.long).repeat(b, 1)
        guided = cond is not None and guidance_scale != 1.0
        if guided and cond is not None:  # rows b.. run the same tokens with the null prefix
            null = torch.arange(2 * b) >= b
            logits, cache = net(ids.repeat(2, 1), cond.repeat(2, 1), null)
        else:
            logits, cache = net(ids, cond)
        logits = logits[:, -1]
        in_desc = torch.full((b,), DESC in start, dtype=torch.bool)
        title_len = torch.full((b,), (start.index(DESC) if DESC in start else len(start)) - 2)
        desc_len = torch.zeros(b, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        for i in range(steps):
            if guided:
                logits = logits[b:] + guidance_scale * (logits[:b] - logits[b:])
            scores = _grammar_mask(logits.float(), in_desc, title_len)
            if min_description:  # no <eos> before <desc> and the description's first tokens
                scores[~in_desc | (desc_len < min_description), EOS] = -math.inf
            for processor in processors:
                scores = processor(ids, scores)
                if not isinstance(scores, torch.Tensor) or scores.shape != logits.shape[-2:]:
                    raise ValueError(
                        f"logits processor {processor!r} must return scores of shape {list(logits.shape[-2:])}"
                    )
            token = _pick(scores, temperature, top_p, generator)
            token = torch.where(done, torch.full_like(token, PAD), token)
            ids = torch.cat([ids, token[:, None]], dim=1)
            done |= token == EOS
            content = token >= len(SPECIAL_TOKENS)
            title_len += (~in_desc & content).long()
            desc_len += (in_desc & content).long()
            in_desc |= token == DESC
            if bool(done.all()) or i == steps - 1:
                break
            logits, cache = net.step(token.repeat(2) if guided else token, cache)
        return ids.tolist()

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write config, tokenizer and weights to the directory ``path`` (atomically replaced)."""
        from safetensors.torch import save_file

        tokenizer, net = self._trained()
        path = Path(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "generator": GENERATOR_NAME,
            "config": config_to_dict(self.config),
            "vocab_size": tokenizer.vocab_size,
            "history": self.history,
        }
        with atomic_directory(path) as tmp:
            (tmp / _TOKENIZER).write_text(tokenizer.to_json(), encoding="utf-8")
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / _WEIGHTS))
            (tmp / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TextGenerator:
        """Read a generator written by ``save``."""
        from safetensors.torch import load_file

        path = Path(path)
        for name in (_META, _TOKENIZER, _WEIGHTS):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path / name} not found: not a saved text generator")
        meta = json.loads((path / _META).read_text(encoding="utf-8"))
        version = meta.get("format_version")
        if isinstance(version, int) and version < FORMAT_VERSION:
            raise ValueError(f"{path / _META}: saved by an older genrec (format {version}); retrain the generator")
        if version != FORMAT_VERSION:
            raise ValueError(f"{path / _META}: format_version {version!r}, this genrec reads {FORMAT_VERSION}")
        gen = cls(config_from_dict(TextGenConfig, meta["config"], f"{path / _META}: config"))
        gen.tokenizer = ItemTokenizer.from_json((path / _TOKENIZER).read_text(encoding="utf-8"))
        net = gen._build_net(gen.tokenizer.vocab_size)
        net.load_state_dict(load_file(str(path / _WEIGHTS)))
        gen.net = net.eval()
        gen.history = list(meta.get("history", []))
        return gen


# ---- helpers -------------------------------------------------------------------------------
def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: the generator needs a corpus of item texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if not split_text(text)[0]:
            raise ValueError(f"texts[{i}] has an empty title (first line): {text!r}")
    return texts


def _check_cond(cond: np.ndarray, dim: int, name: str, rows: int | None = None) -> np.ndarray:
    """``cond`` as float32 [n, dim] with unit rows; a ValueError naming what is wrong otherwise."""
    matrix = np.asarray(cond, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise ValueError(f"{name} must have shape [n, {dim}] (cond_dim), got {list(matrix.shape)}")
    if rows is not None and matrix.shape[0] != rows:
        raise ValueError(f"{name} has {matrix.shape[0]} rows but there are {rows} texts")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms < 1e-8).any():
        raise ValueError(f"{name} has all-zero rows")
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _pad_batch(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (stream minus its last id, <pad>-padded) and targets (next ids, unscored ones -100)."""
    width = max(len(s) for s in seqs) - 1
    ids = torch.full((len(seqs), width), PAD, dtype=torch.long)
    targets = torch.full((len(seqs), width), _IGNORE, dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s) - 1] = torch.tensor(s[:-1])
        targets[row, : len(s) - 1] = torch.tensor(s[1:])
    targets[:, 0] = _IGNORE  # <title> after <bos> is given, not predicted
    return ids, targets


def _cosine_schedule(total: int, warmup: int, floor: float) -> Callable[[int], float]:
    """lr multiplier: linear warm-up, then a cosine from 1 down to ``floor``."""
    warmup = min(warmup, max(total // 10, 1))

    def multiplier(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def _grammar_mask(logits: torch.Tensor, in_desc: torch.Tensor, title_len: torch.Tensor) -> torch.Tensor:
    """Ban special tokens where the stream format does not allow them."""
    scores = logits.clone()
    scores[:, [PAD, BOS, TITLE]] = -math.inf
    scores[in_desc, DESC] = -math.inf
    empty_title = ~in_desc & (title_len == 0)
    scores[empty_title, EOS] = -math.inf
    scores[empty_title, DESC] = -math.inf
    return scores


def _pick(scores: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """Next token per row: argmax at temperature 0, else top-p (nucleus) sampling."""
    if not bool((scores > -math.inf).any(dim=1).all()):
        raise RuntimeError("every token was banned for some row (check the logits processors)")
    if temperature == 0:
        return scores.argmax(dim=1)
    sorted_scores, order = (scores / temperature).sort(dim=1, descending=True)
    probs = sorted_scores.softmax(dim=1)
    # drop a token when the tokens ranked above it already hold top_p of the mass
    probs[(probs.cumsum(dim=1) - probs) > top_p] = 0.0
    choice = torch.multinomial(probs, 1, generator=generator)
    return order.gather(1, choice)[:, 0]


class _TextGenLoop(TrainLoop):
    """The generator's batches (texts of similar length) and step (token cross-entropy under a noised condition)."""

    name = "textgen"
    net: TextGenNet

    def __init__(
        self,
        gen: TextGenerator,
        vocab_size: int,
        seqs: list[list[int]],
        cond: torch.Tensor | None,
        rng: np.random.Generator,
    ) -> None:
        cfg = gen.config
        self.gen, self.seqs, self.cond, self.rng = gen, seqs, cond, rng
        self.net = gen._build_net(vocab_size)
        self.vocab_size = vocab_size
        decay = [p for p in self.net.parameters() if p.dim() >= 2]
        rest = [p for p in self.net.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(0.9, 0.95),
        )
        self.lengths = np.array([len(s) for s in seqs])
        total_steps = cfg.epochs * math.ceil(len(seqs) / cfg.batch_size)
        schedule = _cosine_schedule(total_steps, cfg.warmup_steps, cfg.min_lr_ratio)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.tokens = 0
        self.started = time.perf_counter()

    def batches(self, epoch: int) -> Sequence[Any]:
        """Shuffled batches of similar-length texts (sorted within pools of 50 batches)."""
        self.tokens = 0
        return bucketed_batches(self.lengths, self.gen.config.batch_size, self.rng, pool_batches=50)

    def step(self, batch: Any) -> Step:
        """Mean cross-entropy of the batch's scored tokens."""
        ids, targets = _pad_batch([self.seqs[i] for i in batch])
        c, null = self.gen._train_condition(self.cond, batch)
        logits, _ = self.net(ids, c, null)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=_IGNORE)
        n = int((targets != _IGNORE).sum())
        self.tokens += n
        return Step(loss, float(loss.detach()) * n, n)

    def end_epoch(self, epoch: int, entry: dict[str, Any]) -> None:
        entry["tokens"] = self.tokens
        entry["seconds"] = time.perf_counter() - self.started  # since training began

    def arch(self) -> dict[str, Any]:
        cfg = self.gen.config
        fields = ("dim", "layers", "heads", "ffn_mult", "cond_dim", "cond_tokens", "max_length")
        return {**{f: getattr(cfg, f) for f in fields}, "vocab_size": self.vocab_size}
