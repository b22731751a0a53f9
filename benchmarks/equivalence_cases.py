"""Fixed-seed trainings on small synthetic data, runnable against genrec before and after the shared trainer.

Run by ``benchmarks/trainer_equivalence.py`` once with an older genrec on ``PYTHONPATH`` and once
with this one; it writes every case's metrics and per-epoch history to the JSON file named on the
command line. It imports only ``genrec`` (both APIs: the flat configs and ``fit(train, cases)`` of
before, the nested configs and ``fit(train, ranking_validator(cases))`` of after).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

import numpy as np
import torch

NEW = importlib.util.find_spec("genrec.train") is not None
HISTORY_KEYS = ("epoch", "loss", "valid_ndcg10", "lr")


def valid_of(cases: Any) -> Any:
    """What ``fit`` takes for early stopping in this genrec."""
    if NEW:
        from genrec.eval.validation import ranking_validator

        return ranking_validator(cases)
    return cases


def tiger_settings(**sid: Any) -> dict[str, Any]:
    """Tokenizer settings in this genrec's spelling (``sid.levels`` after, ``sid_levels`` before)."""
    return {(f"sid.{k}" if NEW else f"sid_{k}"): v for k, v in sid.items()}


def fields(**kw: Any) -> dict[str, Any]:
    return {"encoder.fields": kw["fields"]} if NEW else {"text_fields": kw["fields"]}


def main() -> None:
    """Run every case; write the JSON."""
    from genrec.config import EncoderConfig, EvalConfig, SemanticIdConfig, SyntheticConfig, TextGenConfig
    from genrec.data.split import leave_one_out
    from genrec.data.synthetic import generate
    from genrec.eval.evaluator import evaluate
    from genrec.generation.textgen import TextGenerator, training_data
    from genrec.models.registry import create_model
    from genrec.semantic_ids import create_tokenizer

    torch.set_num_threads(1)
    ev = EvalConfig(ks=(5, 10, 20))
    out: dict[str, Any] = {}

    def record(name: str, model: Any, split: Any, history_data: Any) -> None:
        info = model.fit_info
        out[name] = {
            "metrics": evaluate(model, split.test, history_data, ev, progress=False).metrics,
            "epochs": info.get("epochs"),
            "best_epoch": info.get("best_epoch"),
            "stop_reason": info.get("stop_reason"),
            "history": [{k: h[k] for k in HISTORY_KEYS if k in h} for h in info.get("history", [])],
        }

    def fit_and_refit(name: str, model_name: str, settings: dict[str, Any], split: Any) -> None:
        """Select with early stopping, then refit on train + valid for the chosen epochs (the published protocol)."""
        model = create_model(model_name, settings)
        model.fit(split.train, valid_of(split.valid))
        record(name, model, split, split.train)
        out[name]["valid"] = evaluate(
            model, split.valid, split.train, ev, beyond_accuracy=False, progress=False
        ).metrics
        refit = create_model(
            model_name, {**settings, "epochs": int(model.fit_info["best_epoch"]), "time_budget_seconds": 0.0}
        )
        refit.fit(split.train_valid, None)
        record(f"{name}_refit", refit, split, split.train_valid)

    split = leave_one_out(generate(SyntheticConfig(n_users=500, n_items=300)))
    small = dict(dim=32, layers=1, heads=2, max_length=20, batch_size=64, threads=1, progress=False)
    fit_and_refit(
        "sasrec_ce",
        "sasrec",
        {
            **small,
            "epochs": 12,
            "patience": 3,
            "lr_decay_patience": 2,
            "crop": "random",
            "valid_users": 200,
            "dropout": 0.3,
        },
        split,
    )
    model = create_model("sasrec", {**small, "epochs": 4, "loss": "bce"})
    model.fit(split.train, None)
    record("sasrec_bce", model, split, split.train)
    tiger = dict(small, heads=1, beam_width=20, collab="svd", collab_dim=16)
    tiger |= tiger_settings(levels=2, codebook_size=16, max_collisions=32, kmeans_iters=10)
    tiger |= fields(fields=("title", "brand", "categories"))
    fit_and_refit("tiger_kmeans", "tiger", {**tiger, "epochs": 6, "patience": 2, "valid_users": 200}, split)
    model = create_model("tiger", {**tiger, "epochs": 3, "collab": "none", **tiger_settings(method="rq_vae")})
    model.fit(split.train, valid_of(split.valid))
    record("tiger_rq_vae", model, split, split.train)
    out["tiger_rq_vae"]["codes_sum"] = int(model.codes.sum())

    other = leave_one_out(generate(SyntheticConfig(n_users=500, n_items=300, seed=3)))
    for name, extra in {
        "sasrec_patience": {
            "epochs": 60,
            "patience": 3,
            "lr_decay_patience": 1,
            "lr": 1e-2,
            "dropout": 0.0,
            "valid_users": 150,
        },
        "sasrec_eval_every": {"epochs": 60, "eval_every": 2, "dropout": 0.2, "crop": "random"},
    }.items():
        model = create_model("sasrec", {**small, **extra})
        model.fit(other.train, valid_of(other.valid))
        record(name, model, other, other.train)
    model = create_model("tiger", {**tiger, "collab": "none", "epochs": 30, "patience": 2, "lr": 1e-2, "dropout": 0.0})
    model.fit(other.train, valid_of(other.valid))
    record("tiger_patience", model, other, other.train)

    x = np.random.default_rng(0).standard_normal((300, 24)).astype(np.float32)
    vae = dict(epochs=15, batch_size=64, hidden=(32, 16), latent_dim=8)
    sid = dict(method="rq_vae", levels=2, codebook_size=8, progress=False, threads=1)
    config = (
        SemanticIdConfig(**sid, vae=vae) if NEW else SemanticIdConfig(**sid, **{f"vae_{k}": v for k, v in vae.items()})
    )
    tok = create_tokenizer(config)
    out["rq_vae"] = {"codes": tok.fit_assign(x).tolist(), "recon_loss": tok.fit_info["recon_loss"]}

    texts, cond = training_data(split.train, EncoderConfig(progress=False))
    gen = TextGenerator(
        TextGenConfig(vocab_size=400, dim=32, layers=1, heads=2, epochs=2, batch_size=32, threads=1, progress=False)
    )
    history = gen.fit(texts, cond)
    out["textgen"] = {
        "history": [{k: h[k] for k in ("epoch", "loss", "tokens", "steps", "lr", "stop") if k in h} for h in history],
        "samples": [s.text for s in gen.generate(cond[:3], n_per_cond=2, seed=1)],
    }
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1, default=float)


if __name__ == "__main__":
    main()
