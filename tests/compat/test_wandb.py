"""W&B sweep files (modeled on W&B's documentation) run and import as sweeplab studies."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from sweeplab import load_spec, run
from sweeplab.cli import app
from sweeplab.compat import DISTRIBUTIONS, load_sweep, sweep_spec
from sweeplab.errors import SpecError
from sweeplab.spec import Range
from sweeplab.study import run as run_objective

SWEEPS = Path(__file__).parent / "sweeps"


def _spec(name: str, *overrides: str):  # type: ignore[no-untyped-def]
    path = SWEEPS / name
    return sweep_spec(load_sweep(path), path=path, overrides=list(overrides))


def test_fixtures_cover_every_method_and_distribution() -> None:
    methods, dists = set(), set()
    for path in SWEEPS.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        methods.add(raw["method"])
        stack = [raw["parameters"]]
        while stack:
            for p in stack.pop().values():
                if "parameters" in p:
                    stack.append(p["parameters"])
                elif "distribution" in p:
                    dists.add(p["distribution"])
    assert methods == {"grid", "random", "bayes"}
    assert dists == set(DISTRIBUTIONS)


def test_mlp_grid_maps_to_a_grid_study(runs: Path) -> None:
    spec, notes = _spec("mlp_grid.yaml")
    assert spec.objective is None
    assert spec.study.name == "mlp-grid"
    assert spec.search.strategy == "grid"
    assert spec.study.objective == "val_accuracy"
    assert spec.direction == "maximize"
    assert spec.params.epochs == 3
    assert spec.search.space["lr"] == [0.01, 0.05]
    assert spec.search.space["depth"] == Range(low=1, high=2)
    assert any("program 'train.py' ignored" in n for n in notes)
    study = run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 8
    seen = {(r.params["lr"], r.params["units1"], r.params["depth"]) for r in records}
    assert len(seen) == 8


def test_mlp_random_hyperband_maps_the_pruner(runs: Path) -> None:
    spec, _ = _spec("mlp_random_hyperband.yaml")
    assert spec.search.strategy == "hyperband"
    assert (spec.search.trials, spec.search.min_resource, spec.search.reduction_factor) == (6, 1, 3)
    assert spec.direction == "minimize"
    space = spec.search.space
    assert space["lr"] == Range(low=0.001, high=0.1, log=True)
    assert space["weight_decay"] == Range(low=0.0, high=0.01, step=0.001)
    assert space["activation"] == ["relu", "tanh"]
    assert spec.params.optimizer == "adam"
    study = run(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 6
    for r in records:
        assert 0.001 <= r.params["lr"] <= 0.1
        assert 4 <= r.params["units1"] <= 32
        assert r.params["weight_decay"] == pytest.approx(round(r.params["weight_decay"], 3))


def test_mlp_bayes_nested_and_max_iter() -> None:
    spec, notes = _spec("mlp_bayes.yaml")
    assert spec.search.strategy == "bohb"
    assert spec.search.min_resource == 1  # max_iter 9 // eta 3 ** s 2
    assert spec.study.objective == "val_f1_macro"
    lr = spec.search.space["lr"]
    assert isinstance(lr, Range)
    assert lr.log
    assert lr.low == pytest.approx(math.exp(-7))
    assert spec.search.space["batch_size"] == [16, 32]
    # project and entity are kept as labels (track.project / track.entity), not ignored
    assert not any(n.startswith(("project", "entity")) for n in notes)
    assert spec.track.project is not None
    assert spec.track.entity is not None


def test_function_bayes_with_pruning(runs: Path) -> None:
    spec, _ = _spec("function_bayes.yaml")
    assert spec.objective is not None
    assert spec.objective.kind == "wandb"
    assert spec.objective.target.endswith("train_fn.py:train")
    assert Path(spec.objective.target.rsplit(":", 1)[0]).is_absolute()
    assert spec.search.strategy == "bohb"
    spec = spec.model_copy(update={"track": spec.track.model_copy(update={"tensorboard": False})})
    study = run_objective(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 8
    for r in records:
        assert 1e-4 <= r.params["optimizer.learning_rate"] <= 0.1
        assert 1e-5 <= r.params["alpha"] <= 0.01
        assert r.params["epochs"] == 6
        assert r.params["optimizer.loss"] in ("log_loss", "modified_huber")
        assert r.val is not None
        assert set(r.val) == {"loss", "accuracy"}
        if r.state == "complete":
            assert r.objective == pytest.approx(r.val["loss"])


def test_function_grid_runs_every_point_once(runs: Path) -> None:
    spec, _ = _spec("function_grid.yaml", "track.tensorboard=false")
    assert spec.search.trials == 2 * 3 * 2
    study = run_objective(spec, runs_dir=runs)
    points = {
        (r.params["optimizer.learning_rate"], r.params["alpha"], r.params["epochs"])
        for r in study.records()
    }
    assert len(points) == 12
    assert {p[1] for p in points} == {0.0001, 0.0002, 0.0003}
    assert all(r.params["optimizer.loss"] == "log_loss" for r in study.records())


def test_every_distribution_samples_in_its_support(runs: Path) -> None:
    spec, _ = _spec("function_random.yaml", "track.tensorboard=false")
    study = run_objective(spec, runs_dir=runs)
    records = study.records()
    assert len(records) == 30
    assert all(r.state == "complete" for r in records)
    cfgs = [r.params for r in records]

    def col(name: str) -> list[float]:
        return [c[name] for c in cfgs]

    assert set(col("a_constant")) == {7}
    assert set(col("a_value")) == {"hello"}
    assert set(col("a_categorical")) <= {"x", "y", "z"}
    assert set(col("a_values")) <= {1, 2, 3}
    assert all(isinstance(v, int) and -3 <= v <= 3 for v in col("a_int_uniform"))
    assert all(isinstance(v, int) and 1 <= v <= 4 for v in col("a_minmax_int"))
    assert all(-1.5 <= v <= 2.5 for v in col("a_uniform"))
    assert all(0.5 <= v <= 1.0 for v in col("a_minmax_float"))
    assert all(
        v / 2.5 == pytest.approx(round(v / 2.5)) and 0 <= v <= 10 for v in col("a_q_uniform")
    )
    assert all(1e-4 <= v <= 0.1 for v in col("a_log_uniform_values"))
    assert all(v % 16 == 0 and 16 <= v <= 512 for v in col("a_q_log_uniform_values"))
    assert all(0.01 <= v <= 10 for v in col("a_inv_log_uniform_values"))
    assert all(v / 3 == pytest.approx(round(v / 3)) for v in col("a_q_normal"))
    assert all(v > 0 for v in col("a_log_normal"))
    assert all(v / 2 == pytest.approx(round(v / 2)) for v in col("a_q_log_normal"))
    # q_log_uniform and inv_log_uniform take natural-log (exponent) bounds, as in W&B.
    assert all(v % 16 == 0 and 16 <= v <= 512 for v in col("a_q_log_uniform"))
    assert all(math.exp(-4.6) <= v <= math.exp(2.3) for v in col("a_inv_log_uniform"))
    beta = col("a_beta")
    assert all(0 < v < 1 for v in beta)
    assert 0.15 < sum(beta) / len(beta) < 0.45  # beta(2, 5) has mean 2/7
    assert set(col("a_q_beta")) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    normal = col("a_normal")
    assert 3.0 < sum(normal) / len(normal) < 7.0
    assert len(set(normal)) == len(normal)
    best = study.best()
    assert best is not None
    assert best.objective == min(r.objective for r in records if r.objective is not None)


def test_import_writes_a_study_file_that_loads(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("mlp_random_hyperband.yaml", "function_bayes.yaml"):
        out = tmp_path / f"{name}.toml"
        res = runner.invoke(app, ["import", str(SWEEPS / name), "-o", str(out)])
        assert res.exit_code == 0, res.output
        again = runner.invoke(app, ["import", str(SWEEPS / name), "-o", str(out)])
        assert again.exit_code == 2
        assert load_spec(out) == _spec(name)[0]


def test_cli_runs_a_sweep_file_and_reports_ignored_keys(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["run", str(SWEEPS / "mlp_grid.yaml"), "-q", "--runs-dir", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "program 'train.py' ignored" in res.output
    assert "best: trial" in res.output
    assert len(list((tmp_path / "mlp-grid" / "trials").glob("*/record.json"))) == 8
    status = CliRunner().invoke(
        app, ["status", str(SWEEPS / "mlp_grid.yaml"), "--runs-dir", str(tmp_path)]
    )
    assert status.exit_code == 0, status.output
    assert "8 complete" in status.output


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"method": "sobol", "parameters": {"lr": {"values": [0.1]}}}, "method must be one of"),
        ({"method": "random", "parameters": {"lr": {"min": 1, "max": 0}}}, "lr.max must be > min"),
        (
            {
                "method": "random",
                "parameters": {"lr": {"distribution": "gamma", "min": 0, "max": 1}},
            },
            "parameters.lr.distribution must be one of",
        ),
        (
            {"method": "random", "parameters": {"foo": {"values": [1, 2]}}},
            "parameters foo must be built-in MLP parameters",
        ),
        (
            {"method": "random", "parameters": {"lr": {"distribution": "normal", "mu": 0.01}}},
            "'normal' cannot drive the built-in MLP",
        ),
        (
            {"method": "bayes", "parameters": {"lr": {"values": [0.1]}}},
            "metric.name is required for method 'bayes'",
        ),
        (
            {
                "method": "random",
                "metric": {"name": "val_acc", "goal": "maximize"},
                "parameters": {"lr": {"values": [0.1]}},
            },
            "metric.name must be one of val_accuracy",
        ),
        (
            {
                "method": "random",
                "early_terminate": {"type": "hyperband", "max_iter": 27},
                "parameters": {"lr": {"values": [0.1]}},
            },
            "early_terminate.s is required with max_iter",
        ),
        (
            {"method": "random", "controller": {"type": "local"}, "parameters": {}},
            "controller is not a known key",
        ),
        (
            {
                "method": "grid",
                "program": "train_fn.py:echo",
                "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}},
            },
            "must be discrete (values, int_uniform or q_uniform) for method 'grid'",
        ),
    ],
)
def test_bad_sweeps_say_what_is_wrong(sweep: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=None) as info:
        sweep_spec(sweep, path=SWEEPS / "x.yaml")
    assert message in str(info.value)


def test_grid_sampler_space_is_optuna_compatible() -> None:
    from sweeplab.compat import grid_space

    raw = load_sweep(SWEEPS / "function_grid.yaml")
    space = grid_space(raw["parameters"])
    sampler = optuna.samplers.GridSampler(space)
    assert len(sampler._all_grids) == 12
