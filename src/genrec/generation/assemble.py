"""Build the generative loop for a dataset: train (or load from the cache) every part it needs.

Trained parts are cached under ``$GENREC_HOME/models/<dataset>-<fingerprint>/`` keyed by the
dataset's content and the configs, so the second ``genrec chat`` starts in seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
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
from genrec.generation.textgen import TextGenerator, training_data
from genrec.generation.vocabulary import CatalogVocabulary
from genrec.generation.writers import LLMItemWriter, TextGenWriter, Writer, resolve_rewrite
from genrec.home import default_home
from genrec.models.base import Recommender
from genrec.protocol import fit_protocol, model_config

log = logging.getLogger(__name__)
__all__ = ["LoopSettings", "build_pipeline", "make_instructor", "model_dir", "trained_recommender", "trained_textgen"]


def model_dir(dataset: Dataset, part: str, config: Any) -> Path:
    """Cache folder of a trained part, keyed by the dataset's content and the part's config."""
    items = dataset.items
    key = json.dumps(
        {
            "n": dataset.n_items,
            "i": dataset.n_interactions,
            "first": str(items["title"].iloc[0]),
            "last": str(items["title"].iloc[-1]),
            "config": config,
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return default_home() / "models" / f"{dataset.name}-{part}-{digest}"


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
) -> GenerativePipeline:
    """Train or load every part and assemble the loop for ``dataset`` (``recommender``: one already trained)."""
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
        writer = TextGenWriter(
            trained_textgen(dataset, textgen_cfg, encoder_cfg),
            emb,
            key,
            brands=dataset.items["brand"].dropna().astype(str).tolist(),
            rewrite=resolve_rewrite(cfg.rewrite, dataset.items),
            min_description_tokens=cfg.min_description_tokens,
            brand_lexicon=brand_lexicon(context),
            common_categories=sorted(common_categories(dataset.items["categories"])),
        )
    instructor = make_instructor(dataset, s, encoder)
    checker = FidelityChecker(cfg.policy or None)
    gstore = GeneratedStore((store or Store()).path)
    return GenerativePipeline(dataset, recommender, emb, instructor, writer, encoder, checker, context, gstore, cfg)


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
