"""What the server has loaded: the dataset, the recommendations model and the generative loop.

Everything a request needs sits in one immutable ``Snapshot``; a request takes the current one when
it starts and keeps it to the end. Loading runs in a background thread (the first start trains the
models: minutes), with its stage shown by /v1/ready; a reload builds a new snapshot beside the old
one and swaps the reference, so requests in flight finish on the models they started with.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrec.config import LoopSettings, ServeConfig
from genrec.data.dataset import Dataset
from genrec.data.generated_store import GeneratedStore
from genrec.data.sources import resolve_dataset
from genrec.data.sql import Database
from genrec.data.store import Store
from genrec.generation.assemble import build_pipeline, trained_recommender
from genrec.generation.pipeline import GenerativePipeline
from genrec.models.base import Recommender, catalog_mismatch
from genrec.serve.catalog import CatalogIndex

log = logging.getLogger("genrec.serve")


@dataclass
class Snapshot:
    """One consistent set of loaded models."""

    version: int
    dataset: Dataset
    catalog: CatalogIndex
    model: Recommender
    model_info: dict[str, Any]
    pipeline: GenerativePipeline | None
    loaded_at: float = field(default_factory=time.time)
    turn_lock: threading.Lock = field(default_factory=threading.Lock)  # the pipeline is not thread-safe

    def info(self) -> dict[str, Any]:
        """What is loaded, for /v1/admin/models."""
        loop = None
        if self.pipeline is not None:
            p = self.pipeline
            loop = {
                "recommender": type(p.recommender).__name__.lower(),
                "generator": p.writer.name,
                "instructor": type(p.instructor).__name__,
                "generated_items_admitted": len(p.generated),
            }
        return {
            "version": self.version,
            "dataset": self.dataset.name,
            "items": self.dataset.n_items,
            "users": self.dataset.n_users,
            "recommendations": self.model_info,
            "loop": loop,
            "loaded_at": self.loaded_at,
        }


class Engine:
    """Loads snapshots and hands out the current one."""

    def __init__(self, settings: ServeConfig, db: Database, dataset: Dataset | None = None) -> None:
        self.settings = settings
        self.db = db
        self.stage = "starting"
        self.error: str | None = None
        self.current: Snapshot | None = None
        self.dataset: Dataset | None = dataset  # given when `genrec serve` loaded it before listening
        self.loop_settings: LoopSettings = settings.loop
        self._reload = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """Whether a snapshot is loaded."""
        return self.current is not None

    def start(self) -> None:
        """Load in a background thread (the server answers /v1/ready meanwhile)."""
        self._thread = threading.Thread(target=self._load_first, name="genrec-load", daemon=True)
        self._thread.start()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the first load to end; whether no load is running."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _load_first(self) -> None:
        try:
            self.current = self.build(1)
            self.stage = "ready"
            log.info("ready: %s", self.current.info())
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
            self.stage = "failed"
            log.exception("loading failed")

    def _stage(self, text: str) -> None:
        self.stage = text
        log.info("%s", text)

    def load_dataset(self) -> Dataset:
        """The dataset (loaded once; a reload keeps it)."""
        if self.dataset is None:
            s = self.settings
            self._stage(f"loading dataset {s.dataset}")
            self.dataset = resolve_dataset(s.dataset, Store(s.store or None), dict(s.dataset_options))
        return self.dataset

    def build(self, version: int) -> Snapshot:
        """Load (or train, on a first start) every model into a new snapshot."""
        s = self.settings
        started = time.perf_counter()
        dataset = self.load_dataset()
        model, info = self._recommendations_model(dataset)
        pipeline = None
        if s.build_loop:
            self._stage("building the generative loop (a first start trains tiger and the text generator: minutes)")
            pipeline = build_pipeline(
                dataset, self.loop_settings, Store(s.store or None), generated=GeneratedStore(self.db)
            )
            # A writer built on first use (a lazy one) is built now, while /v1/ready says "loading",
            # so no user's first edit waits for the text generator's training.
            getattr(pipeline.writer, "inner", None)
        info["load_seconds"] = round(time.perf_counter() - started, 3)
        return Snapshot(version, dataset, CatalogIndex(dataset), model, info, pipeline)

    def _recommendations_model(self, dataset: Dataset) -> tuple[Recommender, dict[str, Any]]:
        s = self.settings
        if s.model_dir:
            self._stage(f"loading the recommendations model from {s.model_dir}")
            model = Recommender.load(Path(s.model_dir))
            difference = catalog_mismatch(model, dataset)
            if difference:
                raise ValueError(f"{s.model_dir} was trained on another catalog than {dataset.name}: {difference}")
            source = str(s.model_dir)
        else:
            loop_model = self.loop_settings.pipeline.recommender
            name = s.recommender or loop_model
            overrides = dict(self.loop_settings.recommender) if name == loop_model else {}
            self._stage(f"training or loading {name} on {dataset.name} (a first start trains it: minutes)")
            model = trained_recommender(dataset, name, overrides, progress=False)
            source = f"trained {name} (cached under $GENREC_HOME/models)"
        if hasattr(model.config, "threads"):
            try:
                model.config.threads = s.threads
            except (AttributeError, TypeError, ValueError):  # a frozen config: keep its own thread count
                log.warning("could not set the recommendations model's threads to %d", s.threads)
        return model, {"model": model.name, "source": source, "items": model.n_items}

    def reload(self) -> Snapshot:
        """Build a new snapshot and swap it in; requests in flight keep the old one."""
        with self._reload:
            old = self.current
            version = (old.version if old else 0) + 1
            log.info("reloading models (version %d)", version)
            new = self.build(version)
            self.current = new
            self.stage = "ready"
            log.info("reloaded: %s", new.info())
            return new
