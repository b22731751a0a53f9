"""`genrec demo`: retrieval and the generative loop on the embedded default, in a few minutes."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from genrec.config import EvalConfig
from genrec.data.sources import synthetic_dataset
from genrec.data.split import leave_one_out
from genrec.data.store import Store
from genrec.eval.evaluator import evaluate
from genrec.eval.validation import ranking_validator
from genrec.models.registry import create_model


def run_demo(
    users: int,
    items: int,
    sasrec_epochs: int,
    store: Store,
    console: Console,
    tiger_epochs: int = 40,
    textgen_epochs: int | None = None,
    loop: bool = True,
) -> dict[str, Any]:
    """Generate data, fit popularity / ItemKNN / SASRec / tiger, evaluate on test, show recommendations,
    then run a short scripted chat through the generative loop (retrieve, rewrite, create, checks)."""
    from genrec.cli.main import show_recommendations

    start = time.perf_counter()
    console.rule("[bold]genrec demo[/]: synthetic marketplace, embedded store")
    ds = synthetic_dataset(store, {"n_users": users, "n_items": items})
    st = ds.stats()
    console.print(
        f"dataset [bold]{ds.name}[/] in {store.path}: {st.users} users, {st.items} items, "
        f"{st.interactions} interactions, mean sequence length {st.seq_len_mean:.1f}"
    )
    split = leave_one_out(ds)
    config = EvalConfig()
    models = {
        "popularity": create_model("popularity"),
        "itemknn": create_model("itemknn", {"recency_decay": 0.7}),
        "sasrec": create_model("sasrec", {"epochs": sasrec_epochs, "patience": 5, "time_budget_seconds": 150.0}),
        "tiger": create_model("tiger", {"epochs": tiger_epochs, "patience": 5, "time_budget_seconds": 150.0}),
    }
    results: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        console.print(f"training [bold]{name}[/] ...")
        model.fit(split.train, ranking_validator(split.valid))
        valid = evaluate(model, split.valid, split.train, config, beyond_accuracy=False, desc=f"valid {name}")
        res = evaluate(model, split.test, split.train, config, desc=f"test {name}")
        results[name] = {
            **res.metrics,
            "valid_NDCG@10": valid.metrics["NDCG@10"],
            "fit_s": model.fit_info["fit_seconds"],
        }
    table = Table(title="test split: leave-one-out, full ranking, history kept")
    columns = {
        "R@10": "Recall@10",
        "N@10": "NDCG@10",
        "R@20": "Recall@20",
        "N@20": "NDCG@20",
        "Cov@10": "Coverage@10",
        "ILD@10": "ILD@10",
        "Nov@10": "Novelty@10",
    }
    table.add_column("model", no_wrap=True, min_width=10)
    for header in list(columns) + ["fit s"]:
        table.add_column(header, justify="right")
    for name, metrics in results.items():
        table.add_row(name, *(f"{metrics[k]:.3f}" for k in columns.values()), f"{metrics['fit_s']:.0f}")
    console.print(table)

    # The model to show is chosen on validation, never on test.
    best = max(results, key=lambda n: results[n]["valid_NDCG@10"])
    model = models[best]
    path = store.path.parent / "models" / f"demo-{best}"
    model.save(path)
    console.print(f"best model on validation NDCG@10: [bold]{best}[/], saved to {path}")
    sample = split.test.users[:3]
    recs = model.recommend([ds.sequences()[u] for u in sample], k=5)
    for u, row in zip(sample, recs.items):
        show_recommendations(ds, str(ds.user_external(u)), ds.sequences()[u], [str(x) for x in ds.item_external(row)])
    if loop:
        run_loop_demo(ds, models["tiger"], store, console, textgen_epochs)
    console.print(f"demo finished in {time.perf_counter() - start:.0f}s")
    return results


def run_loop_demo(ds: Any, tiger: Any, store: Store, console: Console, textgen_epochs: int | None = None) -> None:
    """A scripted `genrec chat` session for one user: retrieve, rewrite, create, audit."""
    from genrec.cli.chat import run_chat
    from genrec.config import TextGenConfig
    from genrec.generation.assemble import LoopSettings, build_pipeline

    console.rule("[bold]the generative loop[/]: instructor, editor, creator, fidelity checks")
    # `genrec chat`'s own text-generator settings, so that the generator trained here is the one it loads
    textgen = TextGenConfig() if textgen_epochs is None else TextGenConfig(epochs=textgen_epochs)
    settings = LoopSettings(textgen=textgen)
    console.print("training genrec's text generator on the catalog (cached for `genrec chat`) ...")
    pipeline = build_pipeline(ds, settings, store, recommender=tiger)
    user = str(ds.users["user_id"].iloc[7 % len(ds.users)])
    category = ds.items["categories"].iloc[0][0]
    prices = ds.items[ds.items["categories"].map(lambda c: c[0] == category)]["price"]
    script = [
        "show me something like my last purchase but from another brand",
        "rewrite this one for me",
        f"make me a new one: {category} under ${float(prices.median()):.0f}",
        ":audit",
    ]
    console.print(
        f"chatting as {user} with the tiger evaluated above; `genrec chat --user {user}` goes on "
        "interactively (its first start trains the loop's own tiger on the whole log, a few minutes, "
        "and caches it)"
    )
    run_chat(pipeline, user, script, console, echo=True)
