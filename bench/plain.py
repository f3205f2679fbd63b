"""The plain training loop every benchmark compares sweeplab against.

``DataLoader(TensorDataset, shuffle=True)`` + ``nn.Sequential`` + ``torch.optim``,
one trial at a time: the script people usually write. ``on_device=True`` is the
same loop over tensors already on the device with index batches.
Shared by ``bench/engine.py`` and ``bench/ofat.py`` so both time the same loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sweeplab.data import Dataset
from sweeplab.spec import TrainParams

_ACT: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


def build_model(p: TrainParams, n_in: int, n_out: int) -> nn.Sequential:
    """The MLP of ``p`` as ``nn.Sequential(Linear, act, [Dropout], ..., Linear)``."""
    layers: list[nn.Module] = []
    width = n_in
    for units in p.layer_units():
        layers += [nn.Linear(width, units), _ACT[p.activation]()]
        if p.dropout > 0:
            layers.append(nn.Dropout(p.dropout))
        width = units
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def build_optimizer(p: TrainParams, model: nn.Module) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer of ``p`` with torch's default implementation."""
    params = model.parameters()
    if p.optimizer == "sgd":
        return torch.optim.SGD(params, lr=p.lr, weight_decay=p.weight_decay)
    if p.optimizer == "momentum":
        return torch.optim.SGD(params, lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    if p.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=p.lr, weight_decay=p.weight_decay)
    cls = torch.optim.AdamW if p.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=p.lr, betas=(p.beta1, p.beta2), weight_decay=p.weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on ``(x, y)`` (the loss is computed too, as a script would)."""
    model.eval()
    logits = model(x)
    F.cross_entropy(logits, y)
    model.train()
    return float((logits.argmax(1) == y).float().mean())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_plain(
    p: TrainParams,
    ds: Dataset,
    device: torch.device,
    seed: int,
    on_device: bool = False,
    tensors: list[torch.Tensor] | None = None,
) -> tuple[float, float]:
    """Train one trial with the plain loop: its test accuracy and wall seconds.

    Each epoch ends with a validation pass (as a script that reports it would).
    ``tensors`` are ``(x_train, y_train, x_val, y_val, x_test, y_test)`` already
    on ``device`` (moved here when not given).
    """
    if tensors is None:
        splits = (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
        tensors = [t.to(device) for t in splits]
    x_tr, y_tr, x_va, y_va, x_te, y_te = tensors
    sync(device)
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(p, ds.n_features, ds.n_classes).to(device)
    opt = build_optimizer(p, model)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(ds.x_train, ds.y_train),
        batch_size=p.batch_size,
        shuffle=True,
    )
    n = x_tr.shape[0]
    for _ in range(p.epochs):
        if on_device:
            perm = torch.randperm(n, device=device)
            batches: Any = (
                (x_tr[idx], y_tr[idx])
                for idx in (perm[s : s + p.batch_size] for s in range(0, n, p.batch_size))
            )
        else:
            batches = ((xb.to(device), yb.to(device)) for xb, yb in loader)
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        evaluate(model, x_va, y_va)
    accuracy = evaluate(model, x_te, y_te)
    sync(device)
    return accuracy, time.perf_counter() - start
