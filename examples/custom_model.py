"""A model factory: a residual MLP with LayerNorm, built from a trial's config."""

import torch
from torch import nn


class ResidualMLP(nn.Module):
    def __init__(self, n_features: int, width: int, depth: int, n_classes: int) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
            for _ in range(depth)
        )
        self.out = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.inp(x))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def residual_mlp(config: dict) -> nn.Module:
    return ResidualMLP(config["n_features"], config["units1"], config["depth"], config["n_classes"])
