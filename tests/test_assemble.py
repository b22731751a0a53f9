"""The loop's recommender: epoch count chosen on validation, then refit on the whole log, cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.config import config_to_dict
from genrec.data.sources import synthetic_dataset
from genrec.data.split import leave_one_out
from genrec.data.store import Store
from genrec.eval.validation import ranking_validator
from genrec.generation.assemble import model_dir, trained_recommender
from genrec.models.registry import create_model

TINY = {"epochs": 40, "patience": 2, "lr": 0.01, "dim": 16, "sid.codebook_size": 4, "threads": 1}


@pytest.fixture()
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    return synthetic_dataset(
        Store(tmp_path / "db.duckdb"), {"n_users": 150, "n_items": 60, "n_categories": 3, "n_brands": 5}
    )


def test_epochs_are_chosen_on_validation_then_the_whole_log_is_fit(dataset) -> None:  # type: ignore[no-untyped-def]
    model = trained_recommender(dataset, "tiger", TINY, progress=False)
    split = leave_one_out(dataset)
    probe = create_model("tiger", {**TINY, "progress": False}).fit(split.train, ranking_validator(split.valid))
    assert 1 <= probe.fit_info["best_epoch"] < TINY["epochs"]  # validation stopped it early
    # the served model ran exactly the chosen epochs on the whole log (no validation cases to stop on)
    assert model.config.epochs == probe.fit_info["best_epoch"]
    assert model.fit_info["epochs"] == model.config.epochs and model.fit_info["valid_users"] == 0
    # cached under the configuration that was asked for, and loaded from there the next time
    asked = create_model("tiger", {**TINY, "progress": False}).config
    path = model_dir(dataset, "tiger", config_to_dict(asked) | {"progress": None})
    saved = {f: f.stat().st_mtime_ns for f in path.iterdir()}
    again = trained_recommender(dataset, "tiger", TINY, progress=False)
    assert again.config.epochs == model.config.epochs
    assert {f: f.stat().st_mtime_ns for f in path.iterdir()} == saved  # loaded, not trained again


def test_a_model_without_early_stopping_is_fit_once(dataset) -> None:  # type: ignore[no-untyped-def]
    model = trained_recommender(dataset, "popularity", {}, progress=False)
    assert model.n_items == dataset.n_items
