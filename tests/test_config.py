"""The one configuration system: typed pydantic configs, dotted overrides, the key=value parser, settings files."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.config import (
    ConfigError,
    EvalConfig,
    LoopSettings,
    SASRecConfig,
    TigerConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_settings,
    parse_assignment,
    parse_value,
)
from genrec.protocol import model_config

BENCHMARK_SETTINGS = Path(__file__).resolve().parents[1] / "benchmarks" / "settings"


def test_nested_overrides_reach_every_part() -> None:
    cfg = apply_overrides(
        TigerConfig(),
        [
            "epochs=20",
            "sid.levels=4",
            "sid.vae.hidden=64,32",
            "encoder.template={title} by {brand}",
            "encoder.fields=title,brand",
            "progress=no",
        ],
    )
    assert (cfg.epochs, cfg.sid.levels, cfg.sid.vae.hidden) == (20, 4, (64, 32))
    assert cfg.encoder.template == "{title} by {brand}" and cfg.encoder.fields == ("title", "brand")
    assert cfg.progress is False and cfg.sid.overflow == "spill"  # tiger's own default for its tokenizer
    # a dict value sets several keys of a part; the original is untouched
    again = apply_overrides(cfg, {"sid": {"levels": 2, "vae.epochs": 5}})
    assert (again.sid.levels, again.sid.vae.epochs, again.sid.vae.hidden) == (2, 5, (64, 32))
    assert cfg.sid.levels == 4 and TigerConfig().sid.levels == 3


@pytest.mark.parametrize(
    "override,message",
    [
        ("epochs=-1", "epochs: Input should be greater than or equal to 1 (got '-1')"),
        ("loss=foo", "loss: Input should be 'ce' or 'bce' (got 'foo')"),
        ("crop=middle", "crop: Input should be 'last' or 'random' (got 'middle')"),
        ("dropout=1.5", "dropout: Input should be less than 1 (got '1.5')"),
        ("bf16=maybe", "bf16: Input should be a valid boolean"),
        ("dim=ten", "dim: Input should be a valid integer"),
        ("bogus=1", "unknown setting 'bogus' (SASRecConfig); known: lr, weight_decay,"),
        ("lr.x=1", "setting 'lr.x': 'lr' has no parts"),
        ("epochs", "setting 'epochs' is not of the form key=value"),
    ],
)
def test_bad_settings_name_the_key_and_what_it_allows(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        apply_overrides(SASRecConfig(), [override])
    assert message in str(err.value)


def test_nested_errors_name_the_whole_path() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'sid.levelz' in sid \(SemanticIdConfig\); known: method"):
        apply_overrides(TigerConfig(), ["sid.levelz=3"])
    with pytest.raises(ConfigError, match=r"sid.vae.epochs: Input should be greater than or equal to 1 \(got '0'\)"):
        apply_overrides(TigerConfig(), ["sid.vae.epochs=0"])
    with pytest.raises(ConfigError, match=r"sid.method: Input should be 'rq_kmeans' or 'rq_vae'"):
        apply_overrides(TigerConfig(), ["sid.method=pq"])
    with pytest.raises(ConfigError, match=r"dim \(30\) must be divisible by heads \(4\)"):
        apply_overrides(SASRecConfig(), ["dim=30", "heads=4"])


def test_configs_validate_when_built_and_assigned() -> None:
    with pytest.raises(ValueError, match="ks"):
        EvalConfig(ks=(0,))
    cfg = SASRecConfig()
    with pytest.raises(ValueError, match="patience"):
        cfg.patience = 0
    with pytest.raises(ValueError, match="extra"):
        SASRecConfig(epoch=3)  # type: ignore[call-arg]


def test_parse_value_by_type_or_as_a_literal() -> None:
    assert parse_assignment(" a.b = c=d ") == ("a.b", "c=d")
    assert [parse_value(t) for t in ("3", "2.5", "true", "False", "x", "1e-3")] == [3, 2.5, True, False, "x", 1e-3]
    assert parse_value("5, 10,20", tuple[int, ...]) == ["5", "10", "20"]
    assert parse_value("007", str) == "007"  # a typed field keeps the text for pydantic to convert
    assert apply_overrides(EvalConfig(), {"ks": "5,10", "exclude_history": "yes"}).ks == (5, 10)


def test_loop_settings_keep_recommender_overrides_for_the_model() -> None:
    s = apply_overrides(
        LoopSettings(), ["recommender.sid.codebook_size=8", "pipeline.generator=llm", "textgen.epochs=2"]
    )
    assert s.recommender == {"sid.codebook_size": "8"} and s.pipeline.generator == "llm" and s.textgen.epochs == 2
    assert apply_overrides(TigerConfig(), s.recommender).sid.codebook_size == 8
    with pytest.raises(ConfigError, match=r"pipeline.generator: Input should be 'textgen' or 'llm'"):
        apply_overrides(LoopSettings(), ["pipeline.generator=gpt"])
    with pytest.raises(ConfigError, match="unknown setting 'pipelin.drafts'"):
        apply_overrides(LoopSettings(), ["pipelin.drafts=3"])


def test_round_trip_through_json_dicts() -> None:
    cfg = apply_overrides(TigerConfig(), ["sid.vae.hidden=8", "encoder.fields=title"])
    data = config_to_dict(cfg)
    assert data["sid"]["vae"]["hidden"] == [8] and data["encoder"]["fields"] == ["title"]
    assert config_from_dict(TigerConfig, data) == cfg
    with pytest.raises(ConfigError, match=r"meta.json: sid_levels: unknown setting"):
        config_from_dict(TigerConfig, {**data, "sid_levels": 3}, "meta.json")


def test_settings_files_load_and_apply(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        "[sasrec.settings]\nbf16 = true\npatience = 15\n\n"
        "[tiger.settings]\nepochs = 3\n\n[tiger.settings.sid]\nlevels = 2\n\n"
        "[itemknn.grid]\nneighbors = [10, 20]\n"
    )
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n\n[sasrec.settings]\npatience = 4\n')
    tables = load_settings(child)
    assert tables["sasrec"].settings == {"patience": 4}  # a table here replaces the base's
    assert tables["itemknn"].grid == {"neighbors": [10, 20]}
    tiger = model_config("tiger", tables["tiger"].settings)
    assert tiger.epochs == 3 and tiger.sid.levels == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text,message",
    [
        ("[sasrec.setings]\nbf16 = true\n", "bad.toml: sasrec: setings: unknown setting"),
        ("[itemknn.grid]\nneighbors = []\n", "bad.toml: itemknn.grid.neighbors: an empty list of values"),
        ("[itemknn.grid]\nneighbors = 5\n", "bad.toml: itemknn: grid.neighbors: Input should be a valid list"),
        ("sasrec = 3\n", "bad.toml: sasrec: expected a table"),
        ("[sasrec.settings\n", "bad.toml: not valid TOML"),
        ('extends = "bad.toml"\n', "extends 'bad.toml' again (a cycle)"),
    ],
)
def test_bad_settings_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)


def test_settings_are_checked_against_the_model_when_applied() -> None:
    with pytest.raises(ConfigError, match=r"loss: Input should be 'ce' or 'bce' \(got 'mse'\)"):
        model_config("sasrec", {"loss": "mse"})
    with pytest.raises(
        ValueError, match="unknown model 'sasrek'; known: fusion, itemknn, popularity, sasrec, tiger, transition"
    ):
        model_config("sasrek", {})


@pytest.mark.parametrize("path", sorted(BENCHMARK_SETTINGS.glob("*.toml")), ids=lambda p: p.name)
def test_benchmark_settings_are_valid(path: Path) -> None:
    """Every table and every grid point of the benchmarks' settings builds a valid config."""
    import itertools

    tables = load_settings(path)
    assert {"popularity", "itemknn", "sasrec"} <= set(tables)
    for model, table in tables.items():
        keys = list(table.grid)
        for values in itertools.product(*(table.grid[k] for k in keys)):
            model_config(model, table.settings, dict(zip(keys, values)))
