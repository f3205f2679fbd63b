"""Fused custom models vs one by one: wall time of K members of one structure.

Usage: python bench/custom_models.py [--k 16] [--epochs 5] [--device cpu] [--threads 1]
Trains the same K members (a residual MLP from tests/compat/models/factories.py
on scikit-learn's digits) once as one vmapped group and once one member at a
time, checks they agree, and prints both times and the speedup.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from sweeplab.engine import GroupData, MemberSpec, train_modules
from sweeplab.spec import load_callable
from sweeplab.study._custom import build_module

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = torch.tensor(x[order]), torch.tensor(y[order])
    parts = [x[:1200], y[:1200], x[1200:1500], y[1200:1500], x[1500:], y[1500:]]
    data = GroupData.from_tensors(parts, 10, device=args.device)
    factory = load_callable(f"{ROOT / 'tests/compat/models/factories.py'}:residual")
    lrs = np.geomspace(1e-3, 3e-2, args.k)
    members = [
        MemberSpec(
            units=(args.width,),
            optimizer="adam",
            lr=float(lr),
            epochs=args.epochs,
            batch_size=args.batch,
            seed=i,
        )
        for i, lr in enumerate(lrs)
    ]

    def modules(ms: list[MemberSpec]) -> list[torch.nn.Module]:
        config = {"depth": 2, "units1": args.width}
        return [build_module(factory, config, m.seeds()[0], 64, 10) for m in ms]

    train_modules(modules(members[:2]), members[:2], data)  # warm-up
    t0 = time.perf_counter()
    fused = train_modules(modules(members), members, data)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t_fused = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [train_modules(modules([m]), [m], data)[0] for m in members]
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t_alone = time.perf_counter() - t0
    t0 = time.perf_counter()
    for m, module in zip(members, modules(members), strict=True):
        _plain(module.to(args.device), m, data)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t_plain = time.perf_counter() - t0
    diff = max(
        abs(a.curves[-1]["val_loss"] - f.curves[-1]["val_loss"])
        for a, f in zip(alone, fused, strict=True)
    )
    print(
        f"device={args.device} threads={torch.get_num_threads()} K={args.k} "
        f"epochs={args.epochs} width={args.width} batch={args.batch}\n"
        f"fused {t_fused:.2f}s | one-by-one through the engine {t_alone:.2f}s "
        f"({t_alone / t_fused:.1f}x) | plain torch.optim loop {t_plain:.2f}s "
        f"({t_plain / t_fused:.1f}x) | max |val_loss diff| fused vs alone {diff:.2e}",
        file=sys.stdout,
    )


def _plain(module: torch.nn.Module, m: MemberSpec, data: GroupData) -> None:
    """The usual loop: one module, torch.optim.Adam, the same epochs and batches."""
    opt = torch.optim.Adam(module.parameters(), lr=m.lr)
    gen = torch.Generator(device=data.x_train.device).manual_seed(m.seeds()[1])
    n = data.x_train.shape[0]
    for _ in range(m.epochs):
        perm = torch.randperm(n, generator=gen, device=data.x_train.device)
        for begin in range(0, n, m.batch_size):
            idx = perm[begin : begin + m.batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            module(data.x_val).argmax(1)


if __name__ == "__main__":
    main()
