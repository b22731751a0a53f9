"""The genrec command line, end to end on small synthetic data and on malformed files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data import Dataset, Store

SMALL = ["--opt", "n_users=300", "--opt", "n_items=150"]


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    return tmp_path


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result


def test_fit_evaluate_recommend(env):
    store = str(env / "db.duckdb")
    res = run("data", "stats", "synthetic", *SMALL, "--store", store, "--json")
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    assert stats["users"] == 300 and stats["items"] <= 150
    assert Store(store).has_dataset("synthetic")

    model_dir = env / "m"
    res = run(
        "fit",
        "itemknn",
        "--data",
        "synthetic",
        *SMALL,
        "--store",
        store,
        "--out",
        str(model_dir),
        "--set",
        "neighbors=50",
    )
    assert res.exit_code == 0, res.output
    assert (model_dir / "meta.json").exists()

    res = run("evaluate", str(model_dir), "--data", "synthetic", *SMALL, "--store", store, "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["protocol"]["full_ranking"] is True and payload["protocol"]["exclude_history"] is False
    assert 0.0 <= payload["metrics"]["NDCG@10"] <= 1.0 and payload["n_cases"] == 300

    res = run("evaluate", str(model_dir), "--data", "synthetic", *SMALL, "--store", store, "--on", "valid")
    assert res.exit_code == 0 and "NDCG@10" in res.stdout

    res = run(
        "recommend",
        str(model_dir),
        "--data",
        "synthetic",
        *SMALL,
        "--store",
        store,
        "-k",
        "5",
        "--exclude-history",
        "--json",
    )
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    assert len(recs) == 3 and all(len(r["recommendations"]) == 5 for r in recs)
    user = recs[0]["user"]
    res = run("recommend", str(model_dir), "--data", "synthetic", *SMALL, "--store", store, "--user", user, "-k", "3")
    assert res.exit_code == 0 and f"user {user}" in res.stdout


def test_unknown_model_and_setting(env):
    store = str(env / "db.duckdb")
    res = run("fit", "nosuchmodel", "--data", "synthetic", *SMALL, "--store", store, "--out", str(env / "m"))
    assert res.exit_code == 2 and "unknown model" in res.output
    res = run(
        "fit", "itemknn", "--data", "synthetic", *SMALL, "--store", store, "--out", str(env / "m"), "--set", "bogus=1"
    )
    assert res.exit_code == 2 and "unknown setting 'bogus'" in res.output
    assert not (env / "m").exists()


def test_malformed_file_fails_cleanly(env):
    bad = env / "bad.txt"
    bad.write_text("u1 a b c\nu2\nu3 a b\n")
    store = env / "db.duckdb"
    Store(store).save_dataset(Dataset.from_sequences("keep", {"x": ["1", "2", "3"]}))
    for args in (
        ["fit", "popularity", "--data", f"sequence:{bad}", "--out", str(env / "m")],
        ["data", "convert", "sequence", str(bad), "--name", "broken"],
        ["data", "stats", f"sequence:{bad}"],
    ):
        res = run(*args, "--store", str(store))
        assert res.exit_code == 2, (args, res.output)
        assert "bad.txt" in res.output and "line 2" in res.output
    assert [d["name"] for d in Store(store).list_datasets()] == ["keep"]
    assert not (env / "m").exists()
    # evaluate on a malformed file, with a real model.
    run("fit", "popularity", "--data", "synthetic", *SMALL, "--store", str(store), "--out", str(env / "pop"))
    res = run("evaluate", str(env / "pop"), "--data", f"sequence:{bad}", "--store", str(store))
    assert res.exit_code == 2 and "line 2" in res.output


def test_catalog_mismatch(env):
    store = str(env / "db.duckdb")
    run("fit", "popularity", "--data", "synthetic", *SMALL, "--store", store, "--out", str(env / "pop"))
    seqs = env / "other.txt"
    seqs.write_text("u1 a b c\nu2 b c a\n")
    res = run("evaluate", str(env / "pop"), "--data", f"sequence:{seqs}", "--store", store)
    assert res.exit_code == 2 and "another catalog" in res.output


def test_installed_entry_point(env):
    exe = Path(sys.executable).with_name("genrec")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "fit" in proc.stdout and "demo" in proc.stdout
    proc = subprocess.run(
        [str(exe), "evaluate", str(env / "missing"), "--store", str(env / "db.duckdb")], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "not a saved genrec model" in proc.stderr


def test_demo_runs_small(env):
    res = run(
        "demo",
        "--users",
        "200",
        "--items",
        "120",
        "--sasrec-epochs",
        "2",
        "--tiger-epochs",
        "2",
        "--textgen-epochs",
        "1",
        "--store",
        str(env / "db.duckdb"),
    )
    assert res.exit_code == 0, res.output
    assert "N@10" in res.stdout and "sasrec" in res.stdout and "tiger" in res.stdout and "demo finished" in res.stdout
    for turn in (
        "> show me something like my last purchase",
        "retrieve:",
        "> rewrite this one for me",
        "edit:",
        "create:",
    ):
        assert turn in res.stdout, turn
    assert "best model on validation NDCG@10" in res.stdout


def test_fit_tiger_by_option_then_recommend(env):
    store = str(env / "db.duckdb")
    model_dir = env / "tiger"
    tiny = [
        "--set",
        "epochs=2",
        "--set",
        "dim=16",
        "--set",
        "sid.codebook_size=8",
        "--set",
        "progress=false",
        "--set",
        "threads=1",
    ]
    res = run(
        "fit", "--model", "tiger", "--data", "synthetic", *SMALL, "--store", store, "--out", str(model_dir), *tiny
    )
    assert res.exit_code == 0, res.output
    res = run("recommend", str(model_dir), "--data", "synthetic", *SMALL, "--store", store, "-k", "5", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    assert all(len({x["item_id"] for x in r["recommendations"]}) == 5 for r in recs)
    res = run(
        "fit", "tiger", "--model", "tiger", "--data", "synthetic", *SMALL, "--store", store, "--out", str(model_dir)
    )
    assert res.exit_code == 2 and "name the model once" in res.output


def test_fit_runs_the_protocol_and_tests_once(env):
    """`genrec fit` selects on validation, refits on train + validation for the chosen epochs, tests once;
    `genrec evaluate` then reproduces the test metrics it recorded."""
    store = str(env / "db.duckdb")
    settings = env / "settings.toml"
    settings.write_text(
        "[sasrec.settings]\ndim = 16\nlayers = 1\nmax_length = 10\nepochs = 6\npatience = 2\nprogress = false\n"
    )
    out_dir = env / "sas"
    common = ["--data", "synthetic", *SMALL, "--store", store]
    res = run("fit", "sasrec", *common, "--out", str(out_dir), "--settings", str(settings), "--set", "threads=1")
    assert res.exit_code == 0, res.output
    assert "test (refit on train+valid for" in res.stdout and "NDCG@10" in res.stdout
    meta = json.loads((out_dir / "meta.json").read_text())
    protocol = meta["fit_info"]["protocol"]
    chosen = protocol["refit"]["epochs"]
    assert meta["config"]["epochs"] == chosen == meta["fit_info"]["epochs"]
    assert protocol["selection"]["chosen"] == {
        "dim": 16,
        "layers": 1,
        "max_length": 10,
        "epochs": 6,
        "patience": 2,
        "progress": False,
    }
    res = run("evaluate", str(out_dir), *common, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"] == protocol["test_metrics"]
    res = run("evaluate", str(out_dir), *common, "--on", "valid")
    assert res.exit_code == 2 and "validation cases are training data" in res.output

    res = run("fit", "sasrec", *common, "--out", str(env / "sas2"), "--settings", str(settings), "--train-only")
    assert res.exit_code == 0, res.output
    meta = json.loads((env / "sas2" / "meta.json").read_text())
    assert meta["fit_info"]["protocol"] is None and meta["config"]["epochs"] == 6
    assert meta["fit_info"]["best_epoch"] >= 1  # stopped on validation, not refit


@pytest.mark.parametrize(
    "args,message",
    [
        (["--set", "epochs=-1"], "epochs: Input should be greater than or equal to 1 (got '-1')"),
        (["--set", "loss=foo"], "loss: Input should be 'ce' or 'bce' (got 'foo')"),
        (["--set", "epochs"], "setting 'epochs' is not of the form key=value"),
        (["--settings", "missing.toml"], "missing.toml: cannot read"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(env, args, message):
    store = str(env / "db.duckdb")
    res = run("fit", "sasrec", "--data", "synthetic", *SMALL, "--store", store, "--out", str(env / "m"), *args)
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert not (env / "m").exists()


def test_loader_options_use_the_same_value_parser(env):
    res = run(
        "data",
        "stats",
        "synthetic",
        "--opt",
        "n_users=200",
        "--opt",
        "n_items=80",
        "--json",
        "--store",
        str(env / "d.db"),
    )
    assert res.exit_code == 0 and json.loads(res.stdout)["users"] == 200
    res = run("data", "stats", "synthetic", "--opt", "n_users", "--store", str(env / "d.db"))
    assert res.exit_code == 2 and "--opt: setting 'n_users' is not of the form key=value" in res.output
