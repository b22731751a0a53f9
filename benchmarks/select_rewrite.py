"""Choose the loop's rewrite mode and edit-vs-source rule on VALIDATION users (never test):
run_generation.py's rewriting section, on the leave-one-out validation cases, for each candidate
mode and ``PipelineConfig.edit_vs_source`` rule (the rules judge the same drafts).

The data are the train+validation interactions (each user's test item dropped), split again
leave-one-out, so the "test" cases of that split are the original validation cases. The
recommender must not have seen them: by default tiger is trained on the original train split
(for Amazon Beauty with the configuration of the saved model, ``--models-dir`` caches it).
Writes benchmarks/results/<dataset>/rewrite_selection.json.

    python -m benchmarks.select_rewrite --dataset synthetic --models-dir /tmp/genbench-models
    python -m benchmarks.select_rewrite --dataset amazon-beauty --models-dir /tmp/genbench-models
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import run_generation as rg
from benchmarks.common import command_line, commit, machine, peak_rss_mb, write_result
from genrec.config import PipelineConfig, TigerConfig, config_from_dict
from genrec.data.dataset import Dataset
from genrec.data.split import Split, leave_one_out
from genrec.eval.validation import ranking_validator
from genrec.models.tiger import Tiger


def train_only_tiger(split: Split, dataset: str, models_dir: str, threads: int) -> tuple[Tiger, str]:
    """tiger trained on the train split only: with the saved model's configuration when there is one."""
    saved = Path(rg.DEFAULT_TIGER.get(dataset, "")).expanduser() if dataset in rg.DEFAULT_TIGER else None
    if saved is None or not (saved / "meta.json").exists():
        model, _ = rg.get_tiger(split, "", threads, models_dir, dataset)
        return model, "run_generation.TIGER_TRAIN on the train split"
    folder = Path(models_dir) / f"tiger-{dataset}-trainonly" if models_dir else None
    if folder is not None and (folder / "meta.json").exists():
        return Tiger.load(folder), f"the saved model's configuration, train split only (reused from {folder})"
    cfg = config_from_dict(TigerConfig, json.loads((saved / "meta.json").read_text())["config"])
    cfg = cfg.replace(threads=threads, progress=False, encoder=cfg.encoder.replace(cache_dir=""))
    model = Tiger(cfg).fit(split.train, ranking_validator(split.valid))
    if folder is not None:
        model.save(folder)
    return model, "the saved model's configuration, trained here on the train split only"


def validation_parser(doc: str, users: int) -> argparse.ArgumentParser:
    """The options every validation script takes: dataset, users, threads, seed, models folder."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--users", type=int, default=users)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models-dir", default="")
    return ap


def validation_cases(dataset: str, models_dir: str, threads: int) -> tuple[Dataset, Split, Tiger, str]:
    """The train+validation interactions, their leave-one-out split (whose test cases are the
    original validation cases), the train-only tiger and where it came from."""
    import torch

    torch.set_num_threads(threads)
    split = leave_one_out(rg.load_dataset(dataset))
    tiger, source = train_only_tiger(split, dataset, models_dir, threads)
    tiger.config.threads, tiger.config.progress = threads, False
    return split.train_valid, leave_one_out(split.train_valid), tiger, source


def main() -> None:
    """Parse arguments, run the rewriting section on validation users for each mode, write the result."""
    ap = validation_parser(__doc__, users=100)
    ap.add_argument(
        "--modes",
        default="auto,append,description,anchored",
        help="comma-separated rewrite modes (PipelineConfig.rewrite values) to compare",
    )
    ap.add_argument(
        "--rules",
        default="rank,closest,both,off",
        help="comma-separated edit-vs-source rules (PipelineConfig.edit_vs_source values) to compare",
    )
    args = ap.parse_args()
    start = time.perf_counter()
    data, valid, tiger, source = validation_cases(args.dataset, args.models_dir, args.threads)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="genrec-select-") as scratch:
        tiger.config.encoder.cache_dir = scratch
        bench = rg.build_bench(data, valid, tiger, args.users, args.seed, args.threads, scratch)
        usable = np.flatnonzero(bench.has_text)
        generator, _ = rg.get_textgen(
            [bench.corpus[i] for i in usable], bench.cond_emb[usable], args.threads, 0.0, args.models_dir, args.dataset
        )
        cache: dict[tuple[Any, ...], Any] = {}
        for mode, rule in itertools.product(args.modes.split(","), args.rules.split(",")):
            # only the loop's own rows are compared: the comparison rows would be computed and dropped
            loop = PipelineConfig(rewrite=mode, edit_vs_source=rule)
            section, scored = rg.rewriting_section(bench, generator, None, 0, loop, comparisons=False, cache=cache)
            rows = {k: v for k, v in section["table"].items() if k.startswith("textgen (")}
            diffs = {
                k: {
                    m: rg.paired_diff(scored[k].values[m], scored["original item"].values[m])
                    for m in ("Cosine@10", "PS@10")
                }
                for k in rows
            }
            results[f"{mode}/{rule}"] = {
                "resolved": section["loop"]["resolved_rewrite"],
                "table": rows,
                "original": section["table"]["original item"],
                "vs_original": diffs,
                "checks": section["loop"]["checks"],
            }
            print(
                f"{mode}/{rule}",
                json.dumps(
                    {k: {m: round(v[m], 4) for m in ("Cosine@10", "PS@10", "FactKeep")} for k, v in rows.items()}
                ),
                flush=True,
            )
    payload = {
        "dataset": args.dataset,
        "users": bench.n,
        "cases": "leave-one-out VALIDATION cases",
        "recommender": source,
        "modes": results,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "command": command_line(),
    }
    print("->", write_result(args.dataset, "rewrite_selection", payload))


if __name__ == "__main__":
    main()
