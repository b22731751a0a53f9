"""The ``genrec`` command line: data, fit, evaluate, recommend, chat, demo, serve, keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from genrec.cli.errors import GuardedGroup
from genrec.cli.render import json_text, literal
from genrec.cli.serve import keys_app
from genrec.cli.serve import serve as serve_command
from genrec.config import ConfigError, EvalConfig, apply_overrides, parse_assignment, parse_value
from genrec.data.errors import DataFormatError

app = typer.Typer(
    help="genrec: generative recommendation engine.", no_args_is_help=True, add_completion=False, cls=GuardedGroup
)
data_app = typer.Typer(help="Inspect, convert and list datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.command("serve")(serve_command)  # genrec serve: the web service and browser UI (cli/serve.py)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)
out = Console()

STORE_OPT = typer.Option(None, "--store", help="DuckDB store file (default: $GENREC_HOME/genrec.duckdb).")
OPT_OPT = typer.Option(None, "--opt", help="Loader option key=value (repeatable).")
SET_OPT = typer.Option(None, "--set", help="Config override key=value, dotted for parts: sid.levels=4 (repeatable).")


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(Text.assemble(("error: ", "bold red"), literal(message)), soft_wrap=True)
    raise typer.Exit(code)


def _parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """Loader options ``key=value`` (untyped: booleans and numbers are converted by ``parse_value``)."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        try:
            key, value = parse_assignment(pair)
        except ConfigError as err:
            _fail(f"--opt: {err}")
        result[key] = parse_value(value)
    return result


def _store(path: Optional[Path]) -> Any:
    from genrec.data.store import Store

    return Store(path)


def _load(spec: str, store_path: Optional[Path], options: list[str] | None) -> Any:
    from genrec.data.sources import resolve_dataset

    try:
        return resolve_dataset(spec, _store(store_path), _parse_options(options))
    except (DataFormatError, FileNotFoundError, ValueError, KeyError) as err:
        _fail(str(err))


def _metrics_table(title: str, rows: dict[str, dict[str, float]], keys: list[str]) -> Table:
    table = Table(title=title)
    table.add_column("model")
    for k in keys:
        table.add_column(k, justify="right")
    for name, metrics in rows.items():
        table.add_row(name, *(f"{metrics.get(k, float('nan')):.4f}" for k in keys))
    return table


# ---- data ---------------------------------------------------------------------------
@data_app.command("stats")
def data_stats(
    spec: str = typer.Argument(..., help="'synthetic', a stored dataset name, or KIND:PATH."),
    opt: Optional[list[str]] = OPT_OPT,
    store: Optional[Path] = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Users, items, interactions, density and sequence lengths of a dataset."""
    ds = _load(spec, store, opt)
    stats = ds.stats().to_dict()
    if as_json:
        out.print_json(json_text(stats))
        return
    table = Table(title=literal(f"dataset {ds.name}"))
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    out.print(table)


@data_app.command("convert")
def data_convert(
    kind: str = typer.Argument(..., help="Loader: sequence, movielens, amazon, minionerec, table."),
    path: Path = typer.Argument(..., help="Source file or directory."),
    name: str = typer.Option(..., "--name", help="Name to store the dataset under."),
    opt: Optional[list[str]] = OPT_OPT,
    kcore: int = typer.Option(0, "--kcore", min=0, help="Apply k-core filtering before storing."),
    store: Optional[Path] = STORE_OPT,
    force: bool = typer.Option(False, "--force", help="Replace a stored dataset of that name (atomically)."),
) -> None:
    """Load a dataset with a loader and store it in the embedded database (an existing name needs --force)."""
    from genrec.data.loaders import load
    from genrec.data.store import DatasetExistsError, check_dataset_name

    check_dataset_name(name)
    st = _store(store)
    if not force and st.has_dataset(name):  # before loading: a refusal costs nothing
        raise DatasetExistsError(name, st.path)
    try:
        ds = load(kind, path, **_parse_options(opt))
    except (DataFormatError, FileNotFoundError, ValueError) as err:
        _fail(str(err))
    if kcore > 1:
        ds = ds.kcore(kcore)
    st.save_dataset(ds, name=name, replace=force)
    out.print(
        literal(
            f"stored {name} in {st.path}: {ds.n_users} users, {ds.n_items} items, {ds.n_interactions} interactions"
        ),
        soft_wrap=True,
    )


@data_app.command("list")
def data_list(store: Optional[Path] = STORE_OPT) -> None:
    """List the datasets in the store."""
    st = _store(store)
    table = Table(title=literal(f"datasets in {st.path}"))
    for col in ("name", "users", "items", "interactions"):
        table.add_column(col)
    for row in st.list_datasets():
        table.add_row(literal(row["name"]), str(row["users"]), str(row["items"]), str(row["interactions"]))
    out.print(table)


# ---- models -------------------------------------------------------------------------
@app.command()
def fit(
    model: Optional[str] = typer.Argument(
        None, help="Model name: popularity, itemknn, transition, sasrec, tiger, fusion."
    ),
    model_opt: Optional[str] = typer.Option(None, "--model", "-m", help="Model name (instead of the argument)."),
    data: str = typer.Option("synthetic", "--data", "-d", help="Dataset spec."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Directory to save the trained model in."),
    split: str = typer.Option("leave_one_out", "--split", help="leave_one_out or temporal."),
    settings_file: Optional[Path] = typer.Option(
        None,
        "--settings",
        help="Settings TOML ([MODEL.settings], optional [MODEL.grid]), e.g. benchmarks/settings/*.toml.",
    ),
    set_: Optional[list[str]] = SET_OPT,
    train_only: bool = typer.Option(
        False,
        "--train-only",
        help="Only train on the training split (early stopping on validation): no refit, no test.",
    ),
    opt: Optional[list[str]] = OPT_OPT,
    store: Optional[Path] = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    force: bool = typer.Option(False, "--force", help="Replace --out even if it is not a saved model."),
) -> None:
    """Train a model by the benchmarks' protocol and test it once.

    Settings (and a grid, if the settings file has one) are chosen on validation NDCG@10, with
    early stopping on validation; a model that trains for epochs is then refit on training +
    validation interactions for the chosen epoch count; the final model is evaluated on the test
    split once (the metrics are printed and kept in the saved model's fit_info). --train-only
    keeps the model trained on the training split, as it stopped early, untested.
    """
    from genrec.config import load_settings
    from genrec.data.split import make_split
    from genrec.eval.validation import ranking_validator
    from genrec.models.base import check_model_dir
    from genrec.protocol import fit_protocol, model_config

    if (model is None) == (model_opt is None):
        _fail("name the model once: `genrec fit tiger ...` or `genrec fit --model tiger ...`")
    model = model or model_opt
    assert model is not None
    protected = _store_files(store)
    check_model_dir(out_dir, force, protected)  # before training: a refusal costs nothing
    ds = _load(data, store, opt)
    try:
        sp = make_split(ds, split)
        settings: dict[str, Any] = {}
        grid: dict[str, list[Any]] = {}
        if settings_file is not None:
            tables = load_settings(settings_file)
            if model not in tables:
                _fail(f"{settings_file}: no [{model}.settings] table (it has: {', '.join(tables) or 'none'})")
            settings, grid = tables[model].settings, tables[model].grid
        config = model_config(model, settings, set_)  # an unknown model or setting fails here, before training
    except ValueError as err:
        _fail(str(err))
    if train_only and grid:
        _fail(f"{settings_file}: [{model}.grid] is searched by the protocol; drop --train-only or the grid")
    if train_only:
        from genrec.models.registry import get_model_class

        recommender = get_model_class(model)(config)
        recommender.fit(sp.train, ranking_validator(sp.valid))
        recommender.fit_info["protocol"] = None
    else:
        try:
            result = fit_protocol(
                model, sp, settings, grid, set_, progress=not as_json, log=lambda m: console.print(m, markup=False)
            )
        except ConfigError as err:
            _fail(str(err))
        recommender = result.model
        recommender.fit_info["protocol"] = result.summary()
    recommender.fit_info.update({"dataset": data, "data_fingerprint": ds.fingerprint(), "split": sp.describe()})
    recommender.save(out_dir, force=force, protected=protected)
    summary = {"model": model, "saved_to": str(out_dir), "fit_info": recommender.fit_info}
    if as_json:
        out.print_json(json_text(summary))
        return
    out.print(
        literal(f"trained {model} on {ds.name} in {recommender.fit_info['fit_seconds']:.1f}s; saved to {out_dir}"),
        soft_wrap=True,
    )
    protocol = recommender.fit_info["protocol"]
    if protocol and protocol["test_metrics"]:
        refit = protocol["refit"]
        how = f"refit on {refit['data']} for {refit['epochs']} epochs" if refit else "fit on the training split"
        keys = [f"{m}@{k}" for k in (5, 10, 20) for m in ("Recall", "NDCG")] + ["Coverage@20"]
        title = f"{ds.name} / {split} / test ({how}; chosen on valid {protocol['valid_metrics'].get('NDCG@10', float('nan')):.4f})"
        out.print(_metrics_table(title, {model: protocol["test_metrics"]}, keys))


def _store_files(store: Optional[Path]) -> list[tuple[str, Path]]:
    """The store file (and a DuckDB file of $GENREC_DB_URL): paths a model folder may never replace."""
    from genrec.data.sql import is_postgres, resolve_url
    from genrec.data.store import default_store_path

    files = [("the store file", store or default_store_path())]
    url = resolve_url(None, store)
    if not is_postgres(url):
        files.append(("the database file", Path(url.removeprefix("duckdb://"))))
    return files


def _load_model(path: Path) -> Any:
    from genrec.models.base import Recommender

    try:
        return Recommender.load(path)
    except (FileNotFoundError, ValueError) as err:
        _fail(str(err))


def _check_catalog(model: Any, ds: Any, strict: bool = True) -> None:
    """Refuse a dataset whose catalog differs from the model's; other training data: refuse if strict, else warn."""
    from genrec.models.base import catalog_mismatch, data_mismatch

    difference = catalog_mismatch(model, ds)
    if difference:
        _fail(f"the model was trained on another catalog than dataset '{ds.name}': {difference}")
    mismatch = data_mismatch(model, ds)
    if mismatch and strict:
        _fail(mismatch + ": evaluating it there would test on data it may have been trained on")
    if mismatch:
        console.print(Text.assemble(("warning: ", "bold yellow"), literal(mismatch)), soft_wrap=True)


def _cutoffs(ks: str) -> list[int]:
    """``--ks 5,10,20`` as positive integers; a one-line error naming the bad part."""
    parts = [p.strip() for p in ks.split(",") if p.strip()]
    if not parts:
        _fail("--ks: give one or more cut-offs, e.g. --ks 5,10,20")
    for part in parts:
        if not (part.isascii() and part.isdigit() and int(part) >= 1):
            _fail(f"--ks: {part!r} is not a cut-off (a whole number >= 1, e.g. --ks 5,10,20)")
    return [int(p) for p in parts]


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A model saved by 'genrec fit'."),
    data: str = typer.Option("synthetic", "--data", "-d", help="Dataset spec (the one the model was fit on)."),
    split: str = typer.Option("leave_one_out", "--split", help="leave_one_out or temporal."),
    on: str = typer.Option("test", "--on", help="test or valid."),
    exclude_history: bool = typer.Option(False, "--exclude-history", help="Drop history items from rankings."),
    ks: str = typer.Option("5,10,20", "--ks", help="Cut-offs, comma separated."),
    opt: Optional[list[str]] = OPT_OPT,
    store: Optional[Path] = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Evaluate a saved model by full ranking over the catalog."""
    from genrec.data.split import make_split
    from genrec.eval.evaluator import evaluate as run_eval

    if on not in ("test", "valid"):
        _fail("--on must be 'test' or 'valid'")
    model = _load_model(model_dir)
    ds = _load(data, store, opt)
    _check_catalog(model, ds)
    refit = (model.fit_info.get("protocol") or {}).get("refit")
    if refit and on == "valid":
        _fail(f"{model_dir} was refit on {refit['data']}: its validation cases are training data; evaluate --on test")
    try:
        sp = make_split(ds, split)
        config = apply_overrides(EvalConfig(), {"ks": _cutoffs(ks), "exclude_history": exclude_history})
    except ValueError as err:
        _fail(str(err))
    history = sp.train_valid if refit and sp.train_valid is not None else sp.train  # what the model was fit on
    result = run_eval(model, getattr(sp, on), history, config, progress=not as_json)
    payload = {"model": model.name, "dataset": ds.name, "split": sp.describe(), "on": on, **result.to_dict()}
    if as_json:
        out.print_json(json_text(payload))
        return
    keys = [f"{m}@{k}" for k in config.ks for m in ("Recall", "NDCG")] + [f"Coverage@{config.ks[-1]}"]
    out.print(
        _metrics_table(f"{ds.name} / {split} / {on} ({result.n_cases} cases)", {model.name: result.metrics}, keys)
    )


@app.command()
def recommend(
    model_dir: Path = typer.Argument(..., help="A model saved by 'genrec fit'."),
    data: str = typer.Option("synthetic", "--data", "-d", help="Dataset spec (for histories and titles)."),
    user: Optional[list[str]] = typer.Option(None, "--user", "-u", help="External user id (repeatable)."),
    history: Optional[str] = typer.Option(
        None, "--history", help="Comma-separated external item ids instead of a user."
    ),
    k: int = typer.Option(10, "--k", "-k", min=1, help="How many items."),
    exclude_history: bool = typer.Option(
        False, "--exclude-history", help="Never recommend history items (lists may then hold fewer than k)."
    ),
    opt: Optional[list[str]] = OPT_OPT,
    store: Optional[Path] = STORE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Top-k recommendations for users of the dataset, or for a given history."""
    if user and history is not None:
        _fail("--user and --history exclude each other: recommend for dataset users or for one history")
    model = _load_model(model_dir)
    ds = _load(data, store, opt)
    _check_catalog(model, ds, strict=False)
    try:
        if history:
            labels = ["(history)"]
            hists = [ds.item_indices(h.strip() for h in history.split(",") if h.strip())]
        else:
            labels = list(user or ds.user_external(np.arange(min(3, ds.n_users))).tolist())
            hists = [ds.sequences()[ds.user_index(u)] for u in labels]
    except KeyError as err:
        _fail(str(err.args[0]))
    # excluded slots (score -inf) are dropped: fewer than k rows when the catalog runs out
    lists = model.recommend(hists, k=k, exclude="history" if exclude_history else None).lists()
    result = [
        {
            "user": label,
            "recommendations": [
                {
                    "item_id": str(ds.item_external(i)),
                    "title": ds.items.at[i, "title"],
                    "score": s,
                }
                for i, s in pairs
            ],
        }
        for label, pairs in zip(labels, lists)
    ]
    if as_json:
        out.print_json(json_text(result))
        return
    for label, hist, pairs in zip(labels, hists, lists):
        show_recommendations(ds, label, hist, [str(ds.item_external(i)) for i, _ in pairs])


def show_recommendations(ds: Any, user: str, history: np.ndarray, item_ids: list[str], last: int = 3) -> None:
    """Print a user's recent history and a recommendation list with titles."""
    table = Table(title=literal(f"user {user}"), show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("item")
    table.add_column("title")
    for idx in history[-last:]:
        table.add_row("seen", literal(ds.item_external(idx)), literal(ds.items.at[int(idx), "title"]))
    for rank, ext in enumerate(item_ids, 1):
        table.add_row(str(rank), literal(ext), literal(ds.items.at[ds.item_index(ext), "title"]))
    out.print(table)


@app.command()
def demo(
    users: int = typer.Option(3000, "--users", min=1, help="Synthetic users."),
    items: int = typer.Option(2000, "--items", min=1, help="Synthetic items."),
    sasrec_epochs: int = typer.Option(40, "--sasrec-epochs", min=1, help="Upper bound on SASRec epochs."),
    tiger_epochs: int = typer.Option(40, "--tiger-epochs", min=1, help="Upper bound on tiger epochs."),
    textgen_epochs: Optional[int] = typer.Option(
        None,
        "--textgen-epochs",
        min=1,
        help="Epochs of the text generator (default: genrec chat's, so chat reuses it).",
    ),
    loop: bool = typer.Option(
        True, "--loop/--no-loop", help="Finish with a scripted chat through the generative loop."
    ),
    store: Optional[Path] = STORE_OPT,
) -> None:
    """Generate the synthetic marketplace, train and evaluate the models, then run the generative loop."""
    from genrec.cli.demo import run_demo

    run_demo(
        users=users,
        items=items,
        sasrec_epochs=sasrec_epochs,
        store=_store(store),
        console=out,
        tiger_epochs=tiger_epochs,
        textgen_epochs=textgen_epochs,
        loop=loop,
    )


@app.command()
def chat(
    dataset: str = typer.Option("synthetic", "--dataset", help="Dataset spec (default: the built-in synthetic one)."),
    user: Optional[str] = typer.Option(None, "--user", help="User id (default: the dataset's first user)."),
    script: Optional[Path] = typer.Option(None, "--script", help="Read turns from this file instead of stdin."),
    model: Optional[Path] = typer.Option(
        None, "--model", help="A trained recommender (e.g. saved by benchmarks/run_tiger.py --save DIR): no training."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per turn on stdout."),
    store: Optional[Path] = STORE_OPT,
    options: Optional[list[str]] = OPT_OPT,
    overrides: Optional[list[str]] = SET_OPT,
) -> None:
    """Talk to the generative loop: retrieve, rewrite or create items, steered by instructions."""
    import time

    from genrec.cli.chat import HELP, run_chat, settings_from
    from genrec.data.events import EventStore
    from genrec.data.generated_store import GeneratedStore
    from genrec.data.sql import open_database, resolve_url
    from genrec.generation.assemble import build_pipeline, load_recommender, training_plan

    started = time.perf_counter()
    script_lines = _script_lines(script) if script is not None else None  # read first: a bad file costs nothing
    if model is not None and not (model.expanduser() / "meta.json").exists():
        _fail(f"--model {model}: not a saved genrec model (no meta.json)")
    try:
        settings = settings_from(overrides or [], progress=not as_json)
    except ValueError as err:
        _fail(str(err))
    ds = _load(dataset, store, options)
    user_id = user or str(ds.users["user_id"].iloc[0])
    if user_id not in set(ds.users["user_id"].astype(str)):
        _fail(f"--user {user_id}: no such user in dataset {ds.name!r} ({ds.n_users:,} users)")
    try:
        recommender = load_recommender(model, ds) if model is not None else None
        if recommender is not None and recommender.name != settings.pipeline.recommender:
            settings.pipeline.recommender = recommender.name
        plan = training_plan(ds, settings, recommender_given=recommender is not None)
        if plan:
            console.print(
                f"first start on {ds.name}: "
                + "; ".join(plan)
                + ("" if model is not None else ". A recommender trained elsewhere skips the first step: --model DIR.")
            )
        db = open_database(resolve_url(None, store))  # feedback, turns and generated items: one database
        pipeline = build_pipeline(ds, settings, _store(store), recommender=recommender, generated=GeneratedStore(db))
        pipeline.session(user_id)
    except (ValueError, KeyError, FileNotFoundError) as err:
        _fail(str(err))
    console.print(f"ready in {time.perf_counter() - started:.0f} s")
    interactive = script is None and sys.stdin.isatty()
    if interactive:
        console.print(f"chatting as {user_id} on {ds.name}. " + HELP)
    lines = script_lines if script_lines is not None else sys.stdin
    try:
        run_chat(
            pipeline, user_id, lines, out, as_json=as_json, echo=script is not None, events=EventStore(db, ds.name)
        )
    finally:
        db.close()


def _script_lines(script: Path) -> list[str]:
    """The lines of a chat script (UTF-8, a byte-order mark dropped); a one-line error naming the file if not."""
    if script.is_dir():
        _fail(f"--script {script}: a folder, not a file")
    if not script.is_file():
        _fail(f"--script {script}: no such file")
    try:
        return script.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        _fail(f"--script {script}: not UTF-8 text (byte {err.start})")
    except OSError as err:
        _fail(f"--script {script}: cannot read ({err.strerror})")


def main() -> None:  # pragma: no cover
    """Entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
