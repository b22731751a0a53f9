"""Shared pieces of the benchmark scripts: benchmark datasets, run metadata, result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from genrec.config import EvalConfig, ModelSettings, load_settings
from genrec.data.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: Tuned settings per benchmark dataset: ``settings/<dataset>.toml`` ([MODEL.settings], [MODEL.grid]).
SETTINGS = REPO / "benchmarks" / "settings"
DATA_ROOT = Path(os.environ.get("GENREC_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))

#: Benchmark datasets: loader kind, main file and side files, all relative to DATA_ROOT.
DATASETS: dict[str, dict[str, Any]] = {
    "amazon-beauty": {
        "kind": "sequence",
        "path": "amazon-beauty-2014/s3rec/Beauty.txt",
        "options": {
            "item_attributes": "amazon-beauty-2014/s3rec/Beauty_item2attributes.json",
            "item_texts": "amazon-beauty-2014/derived/Beauty_items.jsonl",
        },
        "source": "S3Rec/TIGER/P5 Beauty.txt (Amazon 2014 5-core Beauty)",
    },
    # The same log and items, plus item descriptions from GAMER's data/Beauty/Beauty.item.json
    # (wzf2000/GAMER; keys are S3Rec id - 1). Not staged in the shared folder (SOURCES.md, caveat):
    # place it at amazon-beauty-2014/gamer/Beauty.item.json to use this dataset.
    "amazon-beauty-desc": {
        "kind": "sequence",
        "path": "amazon-beauty-2014/s3rec/Beauty.txt",
        "options": {
            "item_attributes": "amazon-beauty-2014/s3rec/Beauty_item2attributes.json",
            "item_texts": "amazon-beauty-2014/derived/Beauty_items.jsonl",
            "item_descriptions": "amazon-beauty-2014/gamer/Beauty.item.json",
        },
        "values": {"descriptions_key_offset": 1},
        "source": "S3Rec/TIGER/P5 Beauty.txt (Amazon 2014 5-core Beauty) + GAMER Beauty.item.json descriptions",
    },
    # No item text: the items are artist ids with tag-id attributes only (tiger needs collaborative IDs).
    "lastfm": {
        "kind": "sequence",
        "path": "lastfm-s3rec/s3rec/LastFM.txt",
        "options": {"item_attributes": "lastfm-s3rec/s3rec/LastFM_item2attributes.json"},
        "source": "S3Rec LastFM.txt (HetRec 2011 Last.fm, 1,090 users, 3,646 artists, no item text)",
    },
    "ml-1m": {
        "kind": "sequence",
        "path": "movielens-1m/derived/ml-1m_sequences.txt",
        "options": {"movies": "movielens-1m/aura-spark/movies.dat"},
        "source": "MovieLens-1M, chronological per-user sequences (ml-1m_sequences.txt) + movies.dat",
    },
}


#: The datasets ``--dataset all`` runs (amazon-beauty-desc needs a file the shared folder lacks).
SUITE = ("amazon-beauty", "ml-1m")


def protocol(exclude_history: bool = False) -> EvalConfig:
    """The benchmarks' evaluation: k = 5, 10, 20, history kept unless ``exclude_history`` (the HSTU protocol)."""
    return EvalConfig(ks=(5, 10, 20), exclude_history=exclude_history)


def result_stem(model: str, exclude_history: bool) -> str:
    """A result file's stem: ``<model>``, or ``<model>_exclude_history`` under the history-excluded protocol."""
    return f"{model}_exclude_history" if exclude_history else model


def settings_file(dataset: str) -> Path:
    """The settings TOML of a benchmark dataset."""
    return SETTINGS / f"{dataset}.toml"


def model_settings(dataset: str, model: str) -> ModelSettings:
    """A model's tuned settings and grid on a benchmark dataset (empty when the file has none)."""
    path = settings_file(dataset)
    tables = load_settings(path) if path.exists() else {}
    return tables.get(model, ModelSettings())


def load_benchmark_dataset(name: str) -> Dataset:
    """Load a benchmark dataset from the shared data folder (cached in the default store)."""
    from genrec.data.loaders import load_cached

    if name not in DATASETS:
        raise SystemExit(f"unknown benchmark dataset {name!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    path = DATA_ROOT / spec["path"]
    if not path.exists():
        raise SystemExit(f"{path} not found: set GENREC_SHARED_DATASETS to the datasets folder")
    options = {k: str(DATA_ROOT / v) for k, v in spec["options"].items()}
    missing = [p for p in options.values() if not Path(p).exists()]
    if missing:
        raise SystemExit(f"{name}: side file(s) not found: {', '.join(missing)} (see benchmarks/common.py DATASETS)")
    return load_cached(spec["kind"], path, name=name, **options, **spec.get("values", {}))


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python and library versions of this machine."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def commit() -> str:
    """The git commit of the code that ran, with '-dirty' if the work tree had changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "benchmarks/*.py"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(dataset: str, model: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<dataset>/<model>.json`` (atomically)."""
    out = RESULTS / dataset / f"{model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    tmp.replace(out)
    return out


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    import sys

    first = sys.argv[0]
    if first.startswith("python -m benchmarks"):
        return " ".join(sys.argv)
    module = Path(first).stem
    return " ".join([f"python -m benchmarks.{module}", *sys.argv[1:]])
