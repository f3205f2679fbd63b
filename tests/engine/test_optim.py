"""Each stacked optimizer matches its torch.optim counterpart step by step."""

from __future__ import annotations

import pytest
import torch

from sweeplab.engine import make_optimizer
from sweeplab.engine._optim import StackedOptimizer

CASES = [
    ("sgd", lambda p, h: torch.optim.SGD([p], lr=h["lr"], weight_decay=h["weight_decay"])),
    (
        "momentum",
        lambda p, h: torch.optim.SGD(
            [p], lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"]
        ),
    ),
    (
        "adam",
        lambda p, h: torch.optim.Adam(
            [p], lr=h["lr"], betas=(h["beta1"], h["beta2"]), weight_decay=h["weight_decay"]
        ),
    ),
    (
        "adamw",
        lambda p, h: torch.optim.AdamW(
            [p], lr=h["lr"], betas=(h["beta1"], h["beta2"]), weight_decay=h["weight_decay"]
        ),
    ),
    (
        "rmsprop",
        lambda p, h: torch.optim.RMSprop([p], lr=h["lr"], weight_decay=h["weight_decay"]),
    ),
]

HYPER = [
    {"lr": 0.01, "weight_decay": 0.1, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999},
    {"lr": 0.3, "weight_decay": 0.0, "momentum": 0.5, "beta1": 0.8, "beta2": 0.99},
    {"lr": 1e-4, "weight_decay": 1e-3, "momentum": 0.0, "beta1": 0.5, "beta2": 0.9},
]


@pytest.mark.parametrize(("name", "make_torch"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_stacked_optimizer_matches_torch_optim(name, make_torch, dtype) -> None:  # type: ignore[no-untyped-def]
    gen = torch.Generator().manual_seed(0)
    init = torch.randn(len(HYPER), 5, 3, generator=gen, dtype=dtype)
    stacked = init.clone().requires_grad_()
    hyper = {k: torch.tensor([h[k] for h in HYPER], dtype=dtype) for k in HYPER[0]}
    ours = make_optimizer(name, [stacked], hyper)
    refs = [init[k].clone().requires_grad_() for k in range(len(HYPER))]
    theirs = [make_torch(refs[k], HYPER[k]) for k in range(len(HYPER))]
    for _ in range(7):
        grad = torch.randn(init.shape, generator=gen, dtype=dtype)
        stacked.grad = grad.clone()
        ours.step()
        for k, (p, opt) in enumerate(zip(refs, theirs, strict=True)):
            p.grad = grad[k].clone()
            opt.step()
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        for k, p in enumerate(refs):
            torch.testing.assert_close(stacked[k].detach(), p.detach(), rtol=tol, atol=tol)


def test_unknown_optimizer_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lion", [], {})


def _compare(name, make_torch, hyper, dtype, skips=()) -> None:  # type: ignore[no-untyped-def]
    gen = torch.Generator().manual_seed(1)
    init = torch.randn(len(hyper), 5, 3, generator=gen, dtype=dtype)
    stacked = init.clone().requires_grad_()
    stacked_hyper = {k: torch.tensor([h[k] for h in hyper], dtype=dtype) for k in hyper[0]}
    ours = make_optimizer(name, [stacked], stacked_hyper)
    refs = [init[k].clone().requires_grad_() for k in range(len(hyper))]
    theirs = [make_torch(refs[k], hyper[k]) for k in range(len(hyper))]
    for step in range(7):
        skip = skips[step] if step < len(skips) else ()
        grad = torch.randn(init.shape, generator=gen, dtype=dtype)
        stacked.grad = grad.clone()
        ours.step(skip=skip)
        for k, (p, opt) in enumerate(zip(refs, theirs, strict=True)):
            if k not in skip:
                p.grad = grad[k].clone()
                opt.step()
        for k, p in enumerate(refs):
            torch.testing.assert_close(stacked[k].detach(), p.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "make_torch"), CASES, ids=[c[0] for c in CASES])
def test_fused_groups_of_equal_hyperparameters_match_torch_optim(name, make_torch) -> None:  # type: ignore[no-untyped-def]
    """Members sharing hyperparameters update in one kernel call (whole stack or
    slices); members skipped at a step fall out of step with the others."""
    same = [HYPER[0], HYPER[0], HYPER[1], HYPER[0]]
    _compare(name, make_torch, same, torch.float64, skips=[(), (1,), (), (0, 2)])
    _compare(name, make_torch, [HYPER[2]] * 3, torch.float64)


@pytest.mark.parametrize(("name", "make_torch"), CASES, ids=[c[0] for c in CASES])
def test_stacked_path_of_other_devices_matches_torch_optim(  # type: ignore[no-untyped-def]
    name, make_torch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-operation stacked update (what CUDA and MPS run), forced on the CPU."""
    monkeypatch.setattr(StackedOptimizer, "_use_fused", lambda self: False)
    _compare(name, make_torch, HYPER, torch.float64, skips=[(), (1,)])
    _compare(name, make_torch, [HYPER[0], HYPER[0], HYPER[1]], torch.float64)


def test_fused_step_calls_the_kernel_once_per_hyperparameter_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    kernel = torch._fused_adam_

    def counting(params, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(params))
        return kernel(params, *args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", counting)
    params = [torch.zeros(4, 3, 2).requires_grad_(), torch.zeros(4, 1, 2).requires_grad_()]
    hyper = {k: torch.tensor([HYPER[0][k]] * 4) for k in HYPER[0]}
    opt = make_optimizer("adam", params, hyper)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert calls == [2]
    hyper["lr"] = torch.tensor([0.1, 0.2, 0.1, 0.2])
    opt = make_optimizer("adam", params, hyper)
    calls.clear()
    opt.step()
    assert calls == [4, 4]
