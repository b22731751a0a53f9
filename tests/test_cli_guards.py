"""The command line refuses bad input up front with one line and exit 2, and never loses what is stored.

Each test is a defect found by the adversarial review of 2026-12-07 (the item number is in the name).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data import Store

SEQ = "".join(f"{u} " + " ".join(str(1 + (u * 7 + j * 3) % 12) for j in range(6)) + "\n" for u in range(1, 25))


@pytest.fixture()
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GENREC_HOME", str(home))
    monkeypatch.delenv("GENREC_DB_URL", raising=False)
    (tmp_path / "seq.txt").write_text(SEQ)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def one_line_error(res, *parts: str) -> None:
    """Exit 2 with one ``error:`` line that holds every part, and no traceback."""
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    text = lines[0]
    for part in parts:
        assert part in text, (part, text)


def data(env: Path) -> list[str]:
    return ["--data", f"sequence:{env / 'seq.txt'}"]


# ---- 1 and 14: fit --out ---------------------------------------------------------------------------------
def test_fit_out_refuses_home_store_cwd_and_root_even_forced_1(env, monkeypatch):
    home = env / "home"
    store = home / "genrec.duckdb"
    res = run("data", "convert", "sequence", str(env / "seq.txt"), "--name", "kept")
    assert res.exit_code == 0, res.output
    (home / "models").mkdir()
    (home / "models" / "marker").write_text("x")
    work = env / "work" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    cases = [
        (str(home), "genrec's home"),
        (str(store), "the store file"),
        (str(env), "which is"),  # holds the home, the store and the current directory
        (".", "the current directory"),
        ("..", "the current directory"),
        ("/", "the root directory"),
        (os.path.expanduser("~"), "your home directory"),
    ]
    for out, what in cases:
        res = run("fit", "popularity", *data(env), "--out", out, "--force", "--json")
        one_line_error(res, what, "refusing to replace it")
    other = env / "other.duckdb"
    res = run("fit", "popularity", *data(env), "--store", str(other), "--out", str(env / "x" / ".."), "--force")
    one_line_error(res, "refusing to replace it")
    assert (home / "models" / "marker").exists() and os.getcwd() == str(work)
    assert [d["name"] for d in Store(store).list_datasets()] == ["kept"]
    res = run("fit", "popularity", *data(env), "--out", str(home / "models" / "pop"))  # inside the home is fine
    assert res.exit_code == 0, res.output


def test_fit_out_unwritable_is_refused_before_training_14(env):
    res = run("fit", "popularity", *data(env), "--out", "/proc/genrec-x/model")
    one_line_error(res, "cannot write /proc/genrec-x/model")
    assert "sequence" not in res.output and "trained" not in res.output


# ---- 6: non-finite settings, diverging training ------------------------------------------------------------
TINY_SASREC = ["--set", "dim=8", "--set", "layers=1", "--set", "max_length=8", "--set", "threads=1"]
TINY_SASREC += ["--set", "progress=false"]


@pytest.mark.parametrize(
    "args,parts",
    [
        (["--set", "lr=inf"], ["lr", "finite"]),
        (["--set", "lr=nan"], ["lr", "finite"]),
        (["--set", "dropout=-inf"], ["dropout", "finite"]),
        (["--set", "weight_decay=1e999"], ["weight_decay", "finite"]),
    ],
)
def test_non_finite_settings_are_refused_6(env, args, parts):
    res = run("fit", "sasrec", *data(env), "--out", str(env / "m"), *args, "--json")
    one_line_error(res, *parts)
    assert not (env / "m").exists()


@pytest.mark.parametrize("table", ["[sasrec.settings]\nlr = inf\n", "[sasrec.grid]\nlr = [0.001, nan]\n"])
def test_non_finite_settings_file_is_refused_6(env, table):
    settings = env / "s.toml"
    settings.write_text(table)
    res = run("fit", "sasrec", *data(env), "--out", str(env / "m"), "--settings", str(settings))
    one_line_error(res, "s.toml", "sasrec.", ".lr", "not a finite number")
    assert not (env / "m").exists()


def test_non_finite_config_values_fail_in_python_too_6():
    from genrec.config import ConfigError, FusionConfig, SASRecConfig, apply_overrides

    with pytest.raises(ValueError, match="finite"):
        SASRecConfig(lr=float("inf"))
    with pytest.raises(ConfigError, match="finite"):
        apply_overrides(FusionConfig(), ["mix=0.5,nan"])


def test_diverging_training_stops_and_saves_nothing_6(env):
    out = env / "m"
    args = [*data(env), "--out", str(out), *TINY_SASREC, "--set", "epochs=3", "--set", "lr=1e30"]
    res = run("fit", "sasrec", *args, "--json")
    one_line_error(res, "sasrec", "training loss became nan", "diverged")
    assert not out.exists()
    res = run("fit", "sasrec", *args, "--train-only")
    one_line_error(res, "diverged")
    assert not out.exists()


# ---- 5: exclude-history, strict JSON ----------------------------------------------------------------------
def strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in the JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def popularity(env):
    out = env / "pop"
    res = run("fit", "popularity", *data(env), "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


def test_exclude_history_never_returns_history_items_5(env, popularity):
    histories = {line.split()[0]: set(line.split()[1:]) for line in SEQ.splitlines()}
    n_items = len(set().union(*histories.values()))
    res = run("recommend", str(popularity), *data(env), "--user", "1", "--user", "2", "-k", "40", "--exclude-history")
    assert res.exit_code == 0, res.output
    res = run(
        "recommend",
        str(popularity),
        *data(env),
        "--user",
        "1",
        "--user",
        "2",
        "-k",
        "40",
        "--exclude-history",
        "--json",
    )
    assert res.exit_code == 0, res.output
    for entry in strict_json(res.stdout):
        got = [r["item_id"] for r in entry["recommendations"]]
        assert not set(got) & histories[entry["user"]]
        assert len(got) == n_items - len(histories[entry["user"]])  # every other item, no more
    res = run("recommend", str(popularity), *data(env), "--history", "1,2,3", "-k", "40", "--exclude-history", "--json")
    assert res.exit_code == 0, res.output
    got = [r["item_id"] for r in strict_json(res.stdout)[0]["recommendations"]]
    assert len(got) == n_items - 3 and not {"1", "2", "3"} & set(got)


def test_recommend_json_has_no_nan_or_infinity_5(env, popularity):
    import numpy as np

    counts = np.load(popularity / "state.npz")["counts"]
    counts[:3] = [np.nan, np.inf, -np.inf]
    np.savez(popularity / "state.npz", counts=counts)
    res = run("recommend", str(popularity), *data(env), "--user", "1", "-k", "5", "--json")
    assert res.exit_code == 0, res.output
    scores = [r["score"] for r in strict_json(res.stdout)[0]["recommendations"]]
    assert None in scores


def test_recommendations_lists_drop_empty_slots_5():
    import numpy as np

    from genrec.models.base import Recommendations

    recs = Recommendations(np.array([[4, 2, -1], [1, 0, 3]]), np.array([[0.5, -np.inf, -np.inf], [1.0, 0.5, 0.1]]))
    assert recs.lists() == [[(4, 0.5)], [(1, 1.0), (0, 0.5), (3, 0.1)]]


# ---- 7: unknown URL schemes; 15: keys of a store that is not there -----------------------------------------
@pytest.mark.parametrize(
    "args,parts",
    [
        (["keys", "create", "--user", "x", "--db", "mysql://x"], ["--db mysql://x", "unknown scheme 'mysql://'"]),
        (["keys", "create", "--user", "x", "--db", "postgresql+psycopg://u:secret@h/db"], ["postgresql+psycopg://"]),
        (["keys", "list", "--db", "POSTGRESQL://h/db"], ["unknown scheme 'POSTGRESQL://'"]),
        (["keys", "list", "--store", "http://h/x.duckdb"], ["--store", "not a URL"]),
        (["data", "list", "--store", "mysql://x"], ["--store", "not a URL"]),
        (["serve", "--db", "sqlite:///x", "--no-loop", "--workers", "2"], ["--db sqlite:///x", "unknown scheme"]),
    ],
)
def test_unknown_url_schemes_are_refused_7(env, monkeypatch, args, parts):
    monkeypatch.chdir(env)
    res = run(*args)
    one_line_error(res, *parts)
    assert "secret" not in res.output
    assert sorted(p.name for p in env.iterdir()) == ["seq.txt"]  # no file or folder named after the URL


def test_unknown_scheme_in_the_environment_is_refused_7(env, monkeypatch):
    monkeypatch.setenv("GENREC_DB_URL", "mysql://x")
    one_line_error(run("keys", "list"), "GENREC_DB_URL mysql://x", "unknown scheme")


def test_keys_of_a_store_that_is_not_there_15(env):
    missing = env / "nonexist" / "dir" / "x.duckdb"
    one_line_error(run("keys", "list", "--store", str(missing)), str(missing), "no such folder")
    one_line_error(run("keys", "revoke", "abcdef012345", "--store", str(missing)), "no such folder")
    one_line_error(run("keys", "list", "--db", str(env / "none.duckdb")), "no such store file")
    assert not (env / "nonexist").exists() and not (env / "none.duckdb").exists()
    res = run("keys", "create", "--user", "u1", "--store", str(env / "k.duckdb"))
    assert res.exit_code == 0, res.output
    res = run("keys", "list", "--store", str(env / "k.duckdb"))
    assert res.exit_code == 0 and "u1" in res.output


# ---- 8: data convert onto a stored name ------------------------------------------------------------------
def test_convert_onto_a_stored_name_needs_force_8(env):
    store = env / "db.duckdb"
    other = env / "other.txt"
    other.write_text("a x y z\nb y z\nc x z\n")
    res = run("data", "convert", "sequence", str(env / "seq.txt"), "--name", "conc", "--store", str(store))
    assert res.exit_code == 0, res.output
    before = Store(store).load_dataset("conc").n_interactions
    res = run("data", "convert", "sequence", str(other), "--name", "conc", "--store", str(store))
    one_line_error(res, "'conc'", "already", "--force")
    assert Store(store).load_dataset("conc").n_interactions == before
    res = run("data", "convert", "sequence", str(other), "--name", "conc", "--store", str(store), "--force")
    assert res.exit_code == 0, res.output
    assert Store(store).load_dataset("conc").n_interactions == 7
    assert [d["name"] for d in Store(store).list_datasets()] == ["conc"]


def test_save_dataset_without_replace_keeps_the_stored_one_8(tmp_path):
    from genrec.data import Dataset
    from genrec.data.store import DatasetExistsError

    store = Store(tmp_path / "db.duckdb")
    store.save_dataset(Dataset.from_sequences("d", {"u": ["1", "2", "3"]}))
    with pytest.raises(DatasetExistsError, match="--force"):
        store.save_dataset(Dataset.from_sequences("d", {"u": ["1", "2"]}), replace=False)
    assert store.load_dataset("d").n_interactions == 3


# ---- 16 (CLI part): --user with --history -----------------------------------------------------------------
def test_recommend_user_and_history_together_are_refused_16(env, popularity):
    res = run("recommend", str(popularity), *data(env), "--user", "1", "--history", "1,2", "--json")
    one_line_error(res, "--user", "--history")


# ---- 10: damaged saved models ----------------------------------------------------------------------------
def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize(
    "damage,file,words",
    [
        (truncate, "state.npz", "not a readable saved model state"),
        (lambda p: p.write_bytes(b""), "state.npz", "not a readable saved model state"),
        (lambda p: p.unlink(), "state.npz", "missing"),
        (lambda p: p.write_text('{"model": "\x01"}'), "meta.json", "not valid JSON"),
        (lambda p: p.write_bytes(b'{"model": "\xff"}'), "meta.json", "not UTF-8"),
        (lambda p: p.write_text("[1, 2]"), "meta.json", "expected a JSON dict"),
        (lambda p: p.write_text('{"format_version": 2}'), "meta.json", "not a genrec model's metadata"),
        (truncate, "item_ids.json", "not valid JSON"),
    ],
)
def test_damaged_saved_model_is_one_line_naming_the_file_10(env, popularity, damage, file, words):
    damage(popularity / file)
    for command in (["recommend", str(popularity), "--user", "1"], ["evaluate", str(popularity)]):
        res = run(*command, *data(env))
        one_line_error(res, str(popularity / file), words)


# ---- 11, 12: table loader: duplicated columns, dates outside pandas' nanosecond range --------------------
TABLE = ["--opt", "user=user", "--opt", "item=item", "--opt", "timestamp=ts"]


@pytest.mark.parametrize(
    "header,options,column",
    [
        ("user,user,ts,rating", ["--opt", "user=user", "--opt", "item=user", "--opt", "timestamp=ts"], "user"),
        ("user,item,ts,ts", TABLE, "ts"),
    ],
)
def test_table_with_a_duplicated_column_is_one_line_11(env, header, options, column):
    table = env / "d.csv"
    table.write_text(f"{header}\nu1,i1,5,3\nu2,i1,6,3\n")
    res = run("data", "stats", f"table:{table}", *options)
    one_line_error(res, "d.csv", "line 1", f"field '{column}'", "2 times")


def test_table_with_a_duplicated_item_column_is_one_line_11(env):
    (env / "d.csv").write_text("user,item\nu1,i1\n")
    (env / "items.csv").write_text("item,title,title\ni1,a,b\n")
    res = run("data", "stats", f"table:{env / 'd.csv'}", "--opt", "user=user", "--opt", "item=item")
    assert res.exit_code == 0, res.output
    res = run(
        "data",
        "stats",
        f"table:{env / 'd.csv'}",
        "--opt",
        "user=user",
        "--opt",
        "item=item",
        "--opt",
        f"items_path={env / 'items.csv'}",
    )
    one_line_error(res, "items.csv", "line 1", "'title' 2 times")


def test_table_dates_of_any_year_12(env):
    from genrec.data.loaders import load

    table = env / "d.csv"
    table.write_text(
        "user,item,ts\nu1,i1,0001-01-01\nu1,i2,2262-05-01\nu1,i3,9999-12-31T23:59:59Z\nu2,i1,1969-12-31T23:59:59.5\n"
    )
    res = run("data", "stats", f"table:{table}", *TABLE, "--json")
    assert res.exit_code == 0, res.output
    ds = load("table", table, user="user", item="item", timestamp="ts")
    assert sorted(ds.interactions.timestamp.tolist()) == [-62135596800, -1, 9225014400, 253402300799]


def test_table_integer_among_iso_dates_says_so_12(env):
    table = env / "d.csv"
    table.write_text("user,item,ts\nu1,i1,2020-01-01\nu1,i2,1700000000\n")
    res = run("data", "stats", f"table:{table}", *TABLE)
    one_line_error(res, "d.csv", "line 3", "field 'ts'", "'1700000000' is an integer", "ISO-8601 dates")


# ---- 13: settings and chat scripts that are not UTF-8 text files -----------------------------------------
def test_settings_file_not_utf8_is_named_13(env):
    settings = env / "s.toml"
    settings.write_bytes(b"[sasrec.settings]\n# caf\xe9\nepochs = 2\n")
    res = run("fit", "sasrec", *data(env), "--out", str(env / "m"), "--settings", str(settings))
    one_line_error(res, str(settings), "not UTF-8")


def test_chat_script_checked_before_anything_loads_13(env):
    bad = env / "script.txt"
    bad.write_bytes(b"show me \xff things\n")
    one_line_error(run("chat", "--script", str(bad)), str(bad), "not UTF-8")
    one_line_error(run("chat", "--script", str(env)), str(env), "a folder, not a file")
    one_line_error(run("chat", "--script", str(env / "none.txt")), "none.txt", "no such file")


def test_chat_script_drops_a_byte_order_mark_13(env):
    from genrec.cli.main import _script_lines

    script = env / "script.txt"
    script.write_bytes("\ufeffshow me tea\n:quit\n".encode())
    assert _script_lines(script) == ["show me tea", ":quit"]


# ---- 18: --ks, catalogs in another order, GENREC_LOCK_TIMEOUT --------------------------------------------
@pytest.mark.parametrize("ks,part", [("0", "'0' is not a cut-off"), ("5,x", "'x' is not a cut-off"), (",", "give one")])
def test_bad_cutoffs_are_one_short_line_18(env, popularity, ks, part):
    res = run("evaluate", str(popularity), *data(env), "--ks", ks)
    one_line_error(res, "--ks", part)
    assert "Tuple" not in res.output


def test_same_catalog_in_another_order_is_named_18(env, popularity):
    reordered = env / "reordered.txt"
    reordered.write_text("".join(reversed(SEQ.splitlines(keepends=True))))
    res = run("evaluate", str(popularity), "--data", f"sequence:{reordered}")
    one_line_error(res, "another catalog", "in another order", "position 1")
    other = env / "other.txt"
    other.write_text(SEQ + "99 1 2 77\n")
    res = run("evaluate", str(popularity), "--data", f"sequence:{other}")
    one_line_error(res, "12 items in the model, 13 in the dataset", "1 only in the dataset (e.g. '77')")


@pytest.mark.parametrize("value", ["abc", "-5", "nan"])
def test_bad_lock_timeout_is_refused_18(env, monkeypatch, value):
    monkeypatch.setenv("GENREC_LOCK_TIMEOUT", value)
    res = run("data", "stats", f"sequence:{env / 'seq.txt'}")
    one_line_error(res, "GENREC_LOCK_TIMEOUT", repr(value))
