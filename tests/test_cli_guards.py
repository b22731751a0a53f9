"""The command line refuses bad input up front with one line and exit 2, and never loses what is stored.

Each test is a defect found by the adversarial review of 2026-12-07 (the item number is in the name).
"""

from __future__ import annotations

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
