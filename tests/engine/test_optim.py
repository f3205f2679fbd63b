"""Each stacked optimizer matches its torch.optim counterpart step by step."""

from __future__ import annotations

import pytest
import torch

from sweeplab.engine import make_optimizer

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
