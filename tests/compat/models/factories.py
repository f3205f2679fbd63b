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
