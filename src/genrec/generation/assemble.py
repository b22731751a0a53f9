"""Build the generative loop for a dataset: train (or load from the cache) every part it needs.

Trained parts are cached under ``$GENREC_HOME/models/<dataset>-<part>-<key>/``, the key a hash of
``Dataset.fingerprint()`` (the data's content) and the part's config, so the second ``genrec chat``
starts in seconds, and a changed item or interaction trains anew. ``training_plan`` says before
anything starts what a first start will train and roughly how long it takes; a recommender
trained elsewhere (``benchmarks/run_tiger.py --save DIR``) is used through ``load_recommender``.
genrec's own text generator is trained (or loaded) only when an edit or creation first needs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genrec.config import EncoderConfig, LoopSettings, TextGenConfig, config_to_dict
from genrec.data.dataset import Dataset
from genrec.data.generated_store import GeneratedStore
from genrec.data.split import leave_one_out
from genrec.data.store import Store
from genrec.encoders.text import TextEncoder, encode_items
from genrec.fidelity._catalog import brand_lexicon
from genrec.fidelity.base import CheckContext, PrivateStore
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.shilling import detect_shilling_in
from genrec.generation.instructor import Instructor, RuleInstructor
from genrec.generation.phrases import common_categories
from genrec.generation.pipeline import GenerativePipeline
from genrec.generation.textgen import GENERATOR_NAME, TextGenerator, training_data
from genrec.generation.vocabulary import CatalogVocabulary
from genrec.generation.writers import LLMItemWriter, TextGenWriter, Writer, resolve_rewrite
from genrec.home import default_home
from genrec.models.base import Recommender
from genrec.protocol import fit_protocol, model_config

log = logging.getLogger(__name__)
__all__ = ["LoopSettings", "build_pipeline", "make_instructor", "model_dir", "trained_recommender", "trained_textgen"]


def model_dir(dataset: Dataset, part: str, config: Any) -> Path:
    """Cache folder of a trained part, keyed by the dataset's content (``Dataset.fingerprint``) and the part's config."""
    key = json.dumps({"data": dataset.fingerprint(), "config": config}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return default_home() / "models" / f"{dataset.name}-{part}-{digest}"


#: Rough training cost on one CPU thread, measured on Amazon Beauty (198,502 interactions, 12,101
#: items) on an idle 2-core machine: seconds per interaction and epoch (recommenders; tiger from
#: benchmarks/results/amazon-beauty/tiger.json: 490 s for 30 epochs, SASRec from sasrec.json:
#: 10.5 s an epoch), the epochs early stopping chose there (tiger 22 of 30, SASRec about 60), and
#: seconds per item and epoch for the text generator (generation.json: 466 s, 8 epochs). Encoding
#: an item text with MiniLM: 267 s for 12,101 (tiger.json, cold cache).
_COST = {"tiger": (8.2e-5, 30, 22), "sasrec": (5.3e-5, 62, 60)}
_TEXTGEN_ITEM_EPOCH = 4.8e-3
_ENCODE_ITEM = 0.022


def training_plan(dataset: Dataset, settings: LoopSettings, recommender_given: bool = False) -> list[str]:
    """What building the loop for ``dataset`` will train or compute (empty when everything is cached),
    each with a rough duration on this machine."""
    s, cfg = settings, settings.pipeline
    lines: list[str] = []
    if not recommender_given:
        name = cfg.recommender
        config = model_config(name, {**s.recommender, **({"progress": False} if "progress" in _fields(name) else {})})
        path = model_dir(dataset, name, config_to_dict(config) | {"progress": None})
        if not path.exists():
            per, probe, refit = _COST.get(name, (0.0, 0, 0))
            epochs = probe + refit
            if per:
                sec = per * dataset.n_interactions * epochs / max(1, _threads(config))
                lines.append(
                    f"train {name} on {dataset.n_interactions:,} interactions: its epoch count chosen on a validation "
                    f"split, then refit on the whole log (about {_duration(sec)}; cached in {path})"
                )
            else:
                lines.append(f"train {name} on {dataset.n_interactions:,} interactions (seconds; cached in {path})")
    encoder_cfg = EncoderConfig(progress=False)
    missing = _uncached_texts(dataset, encoder_cfg)
    if missing:
        lines.append(
            f"encode {missing:,} item texts with the text encoder (about {_duration(missing * _ENCODE_ITEM)}; cached)"
        )
    if cfg.generator == "textgen":
        path = model_dir(dataset, "textgen", config_to_dict(s.textgen) | {"progress": None})
        if not path.exists():
            sec = _TEXTGEN_ITEM_EPOCH * dataset.n_items * s.textgen.epochs / max(1, s.textgen.threads or 1)
            lines.append(
                f"train genrec's text generator when the first edit or creation needs it (about {_duration(sec)}; cached)"
            )
    return lines


def _threads(config: Any) -> int:
    return int(getattr(config, "threads", 0) or 1)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    low, high = max(1, round(minutes * 0.7)), max(2, round(minutes * 1.5))
    return f"{low}-{high} min"


def _uncached_texts(dataset: Dataset, config: EncoderConfig) -> int:
    """How many of the dataset's item texts the encoder cache lacks (0 when unknown)."""
    from genrec.encoders.cache import text_key
    from genrec.encoders.text import item_texts

    texts = item_texts(dataset, config.fields, config.template or None)
    cache = TextEncoder(config).cache
    if cache is None:
        return len(texts)
    found, _ = cache.get([text_key(t) for t in texts])
    return int((~found).sum())


def load_recommender(path: str | Path, dataset: Dataset) -> Recommender:
    """A recommender saved with ``Recommender.save`` (``run_tiger.py --save DIR``), checked against the
    dataset: it must know the same item ids in the same order. Errors name the folder and what differs."""
    folder = Path(path).expanduser()
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(f"--model {folder}: not a saved genrec model (no meta.json)")
    model = Recommender.load(folder)
    ids = [str(x) for x in dataset.items["item_id"]]
    if model.item_ids != ids:
        first = next(
            (i for i, (a, b) in enumerate(zip(model.item_ids, ids)) if a != b), min(len(ids), len(model.item_ids))
        )
        raise ValueError(
            f"--model {folder}: trained on a catalog of {len(model.item_ids):,} items, the dataset "
            f"{dataset.name!r} has {len(ids):,}; they differ from item #{first} on. Train it on this dataset "
            "(e.g. python -m benchmarks.run_tiger --dataset NAME --save DIR)"
        )
    return model


def trained_recommender(dataset: Dataset, name: str, overrides: dict[str, Any], progress: bool) -> Recommender:
    """The recommender trained on the whole log (loaded from the cache when present).

    ``fit_protocol`` on a leave-one-out split of the log, refit on the whole log and not tested: a
    model that stops early on validation has its epoch count chosen there, then is trained on
    every interaction for that many epochs (the whole log has no held-out items to stop on, and the
    configured ``epochs`` is only an upper bound).
    """
    settings = {**overrides, **({"progress": progress} if "progress" in _fields(name) else {})}
    path = model_dir(dataset, name, config_to_dict(model_config(name, settings)) | {"progress": None})
    if path.exists():
        return Recommender.load(path)
    log.info("training %s on %s (epochs chosen on a leave-one-out split; cached in %s)", name, dataset.name, path)
    model = fit_protocol(
        name, leave_one_out(dataset), settings, refit_data=dataset, test=False, progress=progress, log=log.info
    ).model
    model.save(path)
    return model


def trained_textgen(dataset: Dataset, config: TextGenConfig, encoder_cfg: EncoderConfig) -> TextGenerator:
    """genrec's own generator trained on the catalog texts of the items that have a title (cached)."""
    path = model_dir(dataset, "textgen", config_to_dict(config) | {"progress": None})
    if path.exists():
        return TextGenerator.load(path)
    gen = TextGenerator(config)
    gen.fit(*training_data(dataset, encoder_cfg))
    gen.save(path)
    return gen


def watermark_key() -> str:
    """The operator's watermark key: $GENREC_WATERMARK_KEY, else a random key kept in $GENREC_HOME."""
    if os.environ.get("GENREC_WATERMARK_KEY"):
        return os.environ["GENREC_WATERMARK_KEY"]
    path = default_home() / "watermark.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return path.read_text().strip()


def private_store(dataset: Dataset) -> PrivateStore:
    """Users' names and private texts from their attributes ("name", "reviews", "messages")."""
    names: dict[str, list[str]] = {}
    texts: dict[str, list[str]] = {}
    for uid, attrs in zip(dataset.users["user_id"].astype(str), dataset.users["attributes"]):
        attrs = attrs or {}
        if attrs.get("name"):
            names[uid] = [str(attrs["name"])]
        private = [str(t) for key in ("reviews", "messages") for t in (attrs.get(key) or [])]
        if private:
            texts[uid] = private
    return PrivateStore(names, texts)


def build_pipeline(
    dataset: Dataset,
    settings: LoopSettings | None = None,
    store: Store | None = None,
    recommender: Recommender | None = None,
    generated: GeneratedStore | None = None,
) -> GenerativePipeline:
    """Train or load every part and assemble the loop for ``dataset`` (``recommender``: one already trained;
    ``generated``: where generated items and verdicts go, default the ``store``'s file)."""
    s = settings or LoopSettings()
    cfg = s.pipeline
    encoder_cfg = EncoderConfig(progress=s.progress)
    emb = encode_items(dataset, encoder_cfg)
    if recommender is None:
        recommender = trained_recommender(dataset, cfg.recommender, s.recommender, s.progress)
    encoder = TextEncoder(EncoderConfig(progress=False))
    key = watermark_key() if cfg.watermark else None
    suspicious_users: frozenset[str] = frozenset()
    suspicious_items: frozenset[str] = frozenset()
    if dataset.has_timestamps:
        report = detect_shilling_in(dataset)
        suspicious_users, suspicious_items = frozenset(report.users), frozenset(report.items)
    context = CheckContext(
        catalog=dataset.items,
        private=private_store(dataset),
        suspicious_users=suspicious_users,
        suspicious_items=suspicious_items,
        encoder=encoder,
    )
    writer: Writer
    if cfg.generator == "llm":
        from genrec.llm.registry import create_backend

        writer = LLMItemWriter(create_backend(s.llm), key)
    else:  # "textgen"
        textgen_cfg = s.textgen if s.textgen.progress == s.progress else s.textgen.replace(progress=s.progress)

        def build_writer() -> Writer:
            return TextGenWriter(
                trained_textgen(dataset, textgen_cfg, encoder_cfg),
                emb,
                key,
                brands=dataset.items["brand"].dropna().astype(str).tolist(),
                rewrite=resolve_rewrite(cfg.rewrite, dataset.items),
                min_description_tokens=cfg.min_description_tokens,
                brand_lexicon=brand_lexicon(context),
                common_categories=sorted(common_categories(dataset.items["categories"])),
            )

        writer = LazyWriter(build_writer, GENERATOR_NAME, key)
    instructor = make_instructor(dataset, s, encoder)
    checker = FidelityChecker(cfg.policy or None)
    gstore = generated or GeneratedStore((store or Store()).path)
    return GenerativePipeline(dataset, recommender, emb, instructor, writer, encoder, checker, context, gstore, cfg)


class LazyWriter(Writer):
    """A writer built (trained or loaded) the first time an edit or creation needs it, so a chat that
    only retrieves answers at once; its name and watermark key are known before."""

    def __init__(self, build: Callable[[], Writer], name: str, watermark_key: str | None) -> None:
        super().__init__(watermark_key)
        self._build = build
        self._writer: Writer | None = None
        self.name = name

    @property
    def inner(self) -> Writer:
        """The real writer (built on first use)."""
        if self._writer is None:
            log.info("preparing the text writer %s (trained on first use, then cached)", self.name)
            self._writer = self._build()
        return self._writer

    @property
    def version(self) -> str:  # type: ignore[override]
        """The real writer's version."""
        return self.inner.version

    @property
    def vocab_size(self) -> int:
        """The real writer's vocabulary size."""
        return self.inner.vocab_size

    @property
    def watermark(self) -> Any:
        """The real writer's watermark."""
        return self.inner.watermark

    def tokenize(self, text: str) -> list[int]:
        """The real writer's tokens of ``text``."""
        return self.inner.tokenize(text)

    def detector(self) -> Any:
        """A watermark detector that builds the writer only when a text is checked."""
        return lambda text: self.inner.detector()(text)

    def processors(self) -> list[Any]:
        """The real writer's logits processors."""
        return self.inner.processors()

    def rewrite(self, *args: Any, **kwargs: Any) -> Any:
        """The real writer's rewrites."""
        return self.inner.rewrite(*args, **kwargs)

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """The real writer's creations."""
        return self.inner.create(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def make_instructor(dataset: Dataset, settings: LoopSettings, encoder: TextEncoder) -> Instructor:
    """The instructor the config names (rules, llm or combined)."""
    method = settings.instructor.method
    if method == "rules":
        return RuleInstructor.from_dataset(dataset, settings.instructor, encoder)
    from genrec.generation import instructor_llm
    from genrec.llm.registry import create_backend

    vocabulary = CatalogVocabulary.from_dataset(dataset)
    backend = create_backend(settings.llm)
    return instructor_llm.create_instructor(method, vocabulary, settings.instructor, backend, encoder)


def _fields(model_name: str) -> set[str]:
    from genrec.models.registry import get_model_class

    return set(get_model_class(model_name).config_class.model_fields)  # type: ignore[attr-defined]
