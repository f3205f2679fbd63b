"""Model factories a study names with ``[model] factory = "factories.py:<name>"``."""

import torch
from torch import nn


class Residual(nn.Module):
    """A small residual MLP with LayerNorm: not expressible as sweeplab's built-in MLP."""

    def __init__(self, n_features, width, n_classes, depth):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
            for _ in range(depth)
        )
        self.out = nn.Linear(width, n_classes)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def residual(config):
    return Residual(config["n_features"], config["units1"], config["n_classes"], config["depth"])


def broken(config):
    if config["units1"] > 8:
        raise ValueError("too wide for this factory")
    return residual(config)


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": nn.functional.gelu}


class Settable(nn.Module):
    """Parameters of equal shapes, behaviour chosen by non-parameter state only.

    The activation is a plain attribute, the LayerNorm ``eps`` and the scale of
    the residual branch come from the config, so two trials of this factory
    differ in nothing a parameter shape would show.
    """

    def __init__(self, n_features, width, n_classes, activation, eps, scale):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.norm = nn.LayerNorm(width, eps=eps)
        self.mid = nn.Linear(width, width)
        self.out = nn.Linear(width, n_classes)
        self.act = ACTIVATIONS[activation]
        self.scale = scale

    def forward(self, x):
        h = self.act(self.inp(x))
        h = h + self.scale * self.act(self.mid(self.norm(h)))
        return self.out(h)


def settable(config):
    eps = 1e-5 if config["activation"] == "relu" else 0.5
    scale = 1.0 if config["lr"] < 0.01 else 0.25
    return Settable(
        config["n_features"],
        config["units1"],
        config["n_classes"],
        config["activation"],
        eps,
        scale,
    )
