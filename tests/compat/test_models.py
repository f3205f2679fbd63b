"""Custom models: fused with vmap(functional_call), exact against training alone."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sweeplab import run
from sweeplab.engine import GroupData, MemberSpec, structure_key, train_modules
from sweeplab.spec import load_callable
from sweeplab.study._custom import build_module
from tests.conftest import make_spec

FACTORIES = Path(__file__).parent / "models" / "factories.py"


def _data() -> GroupData:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(260, 6, generator=gen)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.3).long()
    parts = [x[:160], y[:160], x[160:210], y[160:210], x[210:], y[210:]]
    return GroupData.from_tensors(parts, 3, dtype=torch.float64)


def _module(member: MemberSpec, width: int = 12):  # type: ignore[no-untyped-def]
    factory = load_callable(f"{FACTORIES}:residual")
    config = {"depth": 2, "units1": width}
    return build_module(factory, config, member.seeds()[0], 6, 3)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_fused_equals_alone_in_float64(optimizer: str) -> None:
    data = _data()
    members = [
        MemberSpec(
            units=(12,),
            optimizer=optimizer,
            lr=lr,
            weight_decay=wd,
            epochs=e,
            seed=s,
            batch_size=32,
        )
        for lr, wd, e, s in [(1e-2, 0.0, 3, 1), (3e-2, 1e-3, 5, 2), (1e-3, 0.0, 4, 3)]
    ]
    fused = train_modules([_module(m) for m in members], members, data)
    for m, got in zip(members, fused, strict=True):
        (alone,) = train_modules([_module(m)], [m], data)
        assert got.state == alone.state == "complete"
        assert got.epochs == m.epochs
        assert got.group_size == 3
        for a, b in zip(alone.curves, got.curves, strict=True):
            for key in ("train_loss", "val_loss", "val_accuracy"):
                assert math.isclose(a[key], b[key], rel_tol=0, abs_tol=1e-9)
        assert got.test is not None
        assert alone.test is not None
        assert got.test["loss"] == pytest.approx(alone.test["loss"], abs=1e-9)
        assert got.test_confusion == alone.test_confusion


def test_structure_key_and_mixed_groups_are_refused() -> None:
    m = MemberSpec(units=(12,), seed=1)
    assert structure_key(_module(m, 12)) == structure_key(_module(m, 12))
    assert structure_key(_module(m, 12)) != structure_key(_module(m, 8))
    with pytest.raises(ValueError, match="share one structure"):
        train_modules([_module(m, 12), _module(m, 8)], [m, m], _data())


def _study(name: str, **search: object):  # type: ignore[no-untyped-def]
    return make_spec(
        name,
        study={"dtype": "float64"},
        model={"factory": f"{FACTORIES}:residual"},
        params={"depth": 1, "epochs": 4, "batch_size": 16, "lr": 1e-2},
        search={
            "strategy": "random",
            "trials": 6,
            "space": {"units": [4, 8], "lr": {"low": 1e-3, "high": 1e-1, "log": True}},
            **search,
        },
    )


@pytest.mark.slow
def test_runner_fuses_equal_structures_and_matches_one_by_one(runs: Path) -> None:
    fused = run(_study("fused"), runs_dir=runs).records()
    alone = run(_study("alone", group_size=1), runs_dir=runs).records()
    assert len(fused) == len(alone) == 6
    assert max(r.group_size for r in fused) > 1
    assert all(r.group_size == 1 for r in alone)
    for a, b in zip(alone, fused, strict=True):
        assert a.params == b.params
        assert a.state == b.state == "complete"
        assert a.objective is not None
        assert b.objective is not None
        assert abs(a.objective - b.objective) <= 1e-9
        assert a.val is not None
        assert b.val is not None
        assert abs(a.val["loss"] - b.val["loss"]) <= 1e-9
    groups: dict[str, set[int]] = {}
    for r in fused:
        groups.setdefault(r.group, set()).add(r.params["units1"])
    assert all(len(widths) == 1 for widths in groups.values())


def test_factory_errors_fail_only_their_trials(runs: Path) -> None:
    spec = _study("broken").model_copy(deep=True)
    spec.model.factory = f"{FACTORIES}:broken"
    records = run(spec, runs_dir=runs).records()
    assert len(records) == 6
    for r in records:
        if r.params["units1"] > 8:
            assert r.state == "failed"
        else:
            assert r.state == "complete"
    wide = [r for r in records if r.params["units1"] > 8]
    assert all("too wide" in (r.reason or "") for r in wide)


def _settable(member: MemberSpec, activation: str, lr: float) -> torch.nn.Module:
    factory = load_callable(f"{FACTORIES}:settable")
    config = {"units1": 8, "activation": activation, "lr": lr}
    return build_module(factory, config, member.seeds()[0], 6, 3)


def test_structure_key_sees_non_parameter_state() -> None:
    m = MemberSpec(units=(8,), seed=1)
    same = structure_key(_settable(m, "relu", 1e-3))
    assert same == structure_key(_settable(m, "relu", 2e-3))
    assert same != structure_key(_settable(m, "tanh", 1e-3))  # activation attribute and eps
    assert same != structure_key(_settable(m, "relu", 0.05))  # a float attribute only
    with pytest.raises(ValueError, match="share one structure"):
        train_modules([_settable(m, "relu", 1e-3), _settable(m, "tanh", 1e-3)], [m, m], _data())


@pytest.mark.slow
def test_trials_differing_in_non_parameter_state_train_as_if_alone(runs: Path) -> None:
    """Fused == alone (float64, 1e-9) when trials differ only in non-parameter settings."""

    def spec(name: str, **search: object):  # type: ignore[no-untyped-def]
        return make_spec(
            name,
            study={"dtype": "float64"},
            model={"factory": f"{FACTORIES}:settable"},
            params={"depth": 1, "units": 8, "epochs": 3, "batch_size": 16},
            search={
                "strategy": "grid",
                "trials": 9,
                "space": {"activation": ["relu", "tanh", "gelu"], "lr": [3e-3, 5e-3, 0.03]},
                **search,
            },
        )

    fused = run(spec("fused"), runs_dir=runs).records()
    alone = run(spec("alone", group_size=1), runs_dir=runs).records()
    assert len(fused) == len(alone) == 9
    assert max(r.group_size for r in fused) > 1
    by_params = {tuple(sorted(r.params.items())): r for r in alone}
    for r in fused:
        a = by_params[tuple(sorted(r.params.items()))]
        assert r.state == a.state == "complete"
        assert r.val is not None
        assert a.val is not None
        assert abs(r.val["loss"] - a.val["loss"]) <= 1e-9
    groups: dict[str, set[tuple[str, bool]]] = {}
    for r in fused:
        groups.setdefault(r.group, set()).add((str(r.params["activation"]), r.params["lr"] < 0.01))
    assert all(len(kinds) == 1 for kinds in groups.values())
