"""The study file: defaults, overrides, and one-line errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeplab.errors import SpecError
from sweeplab.spec import load_spec, parse_overrides, spec_from_dict

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))

BAD = [
    ({"params": {"lr": -1}}, "params.lr must be > 0.0, but got -1"),
    ({"params": {"lr": "fast"}}, "params.lr must be a number, but got 'fast'"),
    ({"params": {"lrr": 1}}, "params.lrr is not a known key; did you mean 'params.lr'?"),
    ({"paramz": {}}, "paramz is not a known key; did you mean 'params'?"),
    ({"params": {"units3": 0}}, "params.units3 must be an integer in [1, 65536], but got 0"),
    ({"params": {"depth": 2.5}}, "params.depth must be an integer, but got 2.5"),
    ({"params": {"activation": "swish"}}, "params.activation must be 'relu'"),
    ({"search": {"space": {"lr": {"low": -1, "high": 1}}}}, "search.space.lr.low must be > 0"),
    (
        {"search": {"space": {"lr": {"low": 0.1, "high": 0.01}}}},
        "search.space.lr.high must be > low",
    ),
    (
        {"search": {"space": {"lr": {"low": 1e-3, "high": 1, "foo": 1}}}},
        "search.space.lr.foo is not a known key",
    ),
    ({"search": {"space": {"batch_size": []}}}, "search.space.batch_size must be a non-empty list"),
    (
        {"search": {"space": {"batch_size": [1, 0]}}},
        "search.space.batch_size[1] must be >= 1, but got 0",
    ),
    ({"search": {"space": {"optimizer": ["adam", "lion"]}}}, "search.space.optimizer[1] must be"),
    ({"search": {"space": {"lrate": [1]}}}, "search.space.lrate is not a known key"),
    ({"search": {"space": {"lr": 5}}}, "search.space.lr must be a list of values or a range"),
    (
        {"search": {"space": {"epochs": {"low": 1.5, "high": 4}}}},
        "search.space.epochs.low must be an integer",
    ),
    ({"search": {"strategy": "bayes"}}, "search.strategy must be 'grid'"),
    ({"search": {"trials": 0}}, "search.trials must be >= 1, but got 0"),
    (
        {"search": {"strategy": "grid", "space": {"lr": {"low": 1e-4, "high": 1e-2}}}},
        "search.space.lr must be a list of values or a range with a step",
    ),
    ({"search": {"configs": [{"lr": 0}]}}, "search.configs[0].lr must be > 0.0, but got 0"),
    (
        {"data": {"split": [0.5, 0.5]}},
        "data.split must be three fractions > 0 that sum to 1, but got [0.5, 0.5]",
    ),
    ({"data": {"split": [0.5, 0.6, -0.1]}}, "data.split must be three fractions > 0 that sum to 1"),
    ({"data": {"dataset": "csv"}}, "data.path is required for dataset 'csv'"),
    ({"study": {"name": "../etc"}}, "study.name must be 1-64 characters"),
    ({"study": {"name": "x", "seed": -3}}, "study.seed must be >= 0, but got -3"),
    (
        {"study": {"name": "x", "seed": 2**32}},
        "study.seed must be <= 4294967295, but got 4294967296",
    ),
    (
        {"study": {"name": "x", "objective": "test_accuracy"}},
        "study.objective must be 'val_accuracy'",
    ),
    (
        {"track": {"tensorbord": True}},
        "track.tensorbord is not a known key; did you mean 'track.tensorboard'?",
    ),
    ({"study": {}}, "study.name is required"),
]


@pytest.mark.parametrize(("patch", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_spec_names_the_key(patch: dict, message: str) -> None:  # type: ignore[type-arg]
    raw = {"study": {"name": "x"}, **patch}
    with pytest.raises(SpecError) as info:
        spec_from_dict(raw)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_missing_study_table() -> None:
    with pytest.raises(SpecError, match="study is required"):
        spec_from_dict({"data": {}})


def test_defaults_are_resolved_and_round_trip(tmp_path: Path) -> None:
    spec = spec_from_dict({"study": {"name": "demo"}})
    assert spec.params.epochs == 50
    assert spec.data.split == [0.7, 0.1, 0.2]
    assert spec.direction == "maximize"
    path = tmp_path / "study.toml"
    path.write_text(spec.to_toml())
    assert load_spec(path) == spec
    assert 'objective = "val_accuracy"' in spec.to_toml()


def test_direction_inferred_for_loss() -> None:
    spec = spec_from_dict({"study": {"name": "d", "objective": "val_loss"}})
    assert spec.direction == "minimize"


def test_overrides_parse_toml_values() -> None:
    assert parse_overrides(["search.trials=3", "params.lr=1e-2", "data.dataset=wine"]) == {
        "search": {"trials": 3},
        "params": {"lr": 0.01},
        "data": {"dataset": "wine"},
    }
    spec = spec_from_dict(
        {"study": {"name": "o"}}, ["search.trials=3", "params.epochs=2", "search.strategy=grid"]
    )
    assert spec.search.trials == 3
    assert spec.params.epochs == 2
    assert spec.search.strategy == "grid"


@pytest.mark.parametrize("item", ["search.trials", "=3", "a..b=1"])
def test_bad_override(item: str) -> None:
    with pytest.raises(SpecError, match="--set"):
        parse_overrides([item])


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="was not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname=1")
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(bad)


def test_layer_units_resolution() -> None:
    spec = spec_from_dict({"study": {"name": "u"}, "params": {"depth": 3, "units": 8, "units2": 4}})
    assert spec.params.layer_units() == (8, 4, 8)
    flat = spec.params.flat()
    assert (flat["units1"], flat["units2"], flat["units3"]) == (8, 4, 8)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.study.name
