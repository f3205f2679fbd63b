"""A text summary of a trial's MLP: layers, shapes and parameter count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["architecture", "architecture_table", "layer_widths"]


def layer_widths(params: Mapping[str, Any], n_features: int, n_classes: int) -> list[int]:
    """Input, hidden and output widths, e.g. ``[784, 256, 256, 10]``."""
    depth = int(params.get("depth", 1))
    hidden = [int(params.get(f"units{i}", params.get("units", 16))) for i in range(1, depth + 1)]
    return [n_features, *hidden, n_classes]


def _count(widths: list[int]) -> int:
    return sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(len(widths) - 1))


def architecture(params: Mapping[str, Any], n_features: int, n_classes: int) -> str:
    """A one-line description of the MLP and its parameter count."""
    widths = layer_widths(params, n_features, n_classes)
    shape = "-".join(map(str, widths))
    return f"MLP {shape}, {params.get('activation', 'relu')}, {_count(widths):,} parameters"


def architecture_table(params: Mapping[str, Any], n_features: int, n_classes: int) -> str:
    """A markdown table of the layers, then the one-line summary."""
    widths = layer_widths(params, n_features, n_classes)
    act = str(params.get("activation", "relu"))
    dropout = float(params.get("dropout", 0.0))
    lines = ["| layer | shape | activation | parameters |", "|---|---|---|---|"]
    for i in range(len(widths) - 1):
        last = i == len(widths) - 2
        name = "output" if last else f"hidden {i + 1}"
        extra = "" if last or dropout == 0 else f", dropout {dropout:g}"
        n = widths[i] * widths[i + 1] + widths[i + 1]
        lines.append(
            f"| {name} | {widths[i]} x {widths[i + 1]} | {'-' if last else act}{extra} | {n:,} |"
        )
    lines += ["", architecture(params, n_features, n_classes)]
    return "\n".join(lines)
