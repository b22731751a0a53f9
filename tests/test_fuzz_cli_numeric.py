"""Property-based fuzzing of the CLI's numeric options: exit 0 with a sane result, or exit 2 with one line.

Values range over negatives, zero, the normal range and far beyond int64 where running them is
cheap (-k, --ks, --kcore); never a traceback. Training settings (``--set epochs=...``) are range-checked by
the typed configuration; the test of those is marked xfail until the configuration checks ranges.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.models.registry import create_model

SMALL = ["--opt", "n_users=300", "--opt", "n_items=150"]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
wide = st.one_of(st.integers(-5, 30), st.integers(-(2**70), 2**70))


@pytest.fixture(scope="module")
def fitted():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = str(root / "db.duckdb")
        res = CliRunner().invoke(app, ["fit", "popularity", *SMALL, "--store", store, "--out", str(root / "m")])
        assert res.exit_code == 0, res.output
        seqs = root / "s.txt"
        seqs.write_text("".join(f"u{u} " + " ".join(f"i{(u + j) % 7}" for j in range(4)) + "\n" for u in range(12)))
        yield root, store, str(root / "m"), seqs


def invoke(*args: str):
    res = CliRunner().invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 2), res.output
    return res


@FUZZ
@given(k=wide)
def test_recommend_k(fitted, k):
    _, store, model, _ = fitted
    res = invoke("recommend", model, *SMALL, "--store", store, "-k", str(k), "--json")
    assert (res.exit_code == 0) == (k >= 1), res.output
    if k >= 1:
        n_items = len(json.loads((Path(model) / "item_ids.json").read_text()))
        lists = json.loads(res.stdout)
        assert lists and all(len(u["recommendations"]) == min(k, n_items) for u in lists)


@FUZZ
@given(ks=st.lists(st.one_of(st.integers(-3, 200), st.integers(10**5, 10**7)), min_size=1, max_size=3))
def test_evaluate_ks(fitted, ks):
    _, store, model, _ = fitted
    res = invoke("evaluate", model, *SMALL, "--store", store, "--ks", ",".join(map(str, ks)), "--json")
    assert (res.exit_code == 0) == (min(ks) >= 1), res.output
    if res.exit_code == 0:
        metrics = json.loads(res.stdout)["metrics"]
        assert all(0.0 <= metrics[f"NDCG@{k}"] <= 1.0 for k in ks)


@FUZZ
@given(kcore=wide)
def test_convert_kcore(fitted, kcore):
    _, store, _, seqs = fitted
    res = invoke(
        "data", "convert", "sequence", str(seqs), "--name", "fz", "--force", "--kcore", str(kcore), "--store", store
    )
    if kcore < 0:
        assert res.exit_code == 2
    elif kcore <= 4:  # every user has 4 items, every item 4+ users: the 4-core is everything
        assert res.exit_code == 0, res.output
    else:
        assert res.exit_code == 2 and "no interactions" in res.output


@FUZZ
@given(users=st.integers(-(10**6), 400), items=st.integers(-(10**6), 400))
def test_synthetic_sizes(fitted, users, items):
    root, _, _, _ = fitted
    store = str(root / "synthetic.duckdb")
    res = invoke(
        "data", "stats", "synthetic", "--opt", f"n_users={users}", "--opt", f"n_items={items}", "--store", store
    )
    if users < 1 or items < 1:
        assert res.exit_code == 2


def _ranges_checked() -> bool:
    try:
        create_model("sasrec", ["epochs=-1"])
    except ValueError:
        return True
    return False


@pytest.mark.xfail(not _ranges_checked(), reason="range checks arrive with the typed (pydantic) configuration")
@settings(FUZZ, phases=[Phase.explicit, Phase.generate])  # no shrinking while it is expected to fail
@given(setting=st.sampled_from(["epochs", "batch_size", "dim", "layers", "max_length"]), value=st.integers(-(2**70), 0))
def test_training_settings_out_of_range(fitted, setting, value):
    root, store, _, _ = fitted
    out = str(root / "never")
    res = invoke("fit", "sasrec", *SMALL, "--store", store, "--out", out, "--set", f"{setting}={value}")
    assert res.exit_code == 2 and not Path(out).exists(), res.output
