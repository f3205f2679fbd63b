"""The :class:`Dataset` a study trains on, split, scaled and ready as tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset split into train/val/test and scaled.

    Features are float32 of shape ``(n, n_features)``, scaled with statistics of
    the train split only; labels are int64 in ``0 .. n_classes - 1`` and
    ``classes[label]`` names each one. ``fingerprint`` identifies the raw data
    and every argument that shaped the splits, so results can be traced back.
    Equality is identity: tensors have no single truth value to compare.

    ``scale`` names the scaler and ``scale_shift``/``scale_spread`` (float32,
    ``(n_features,)``; ``None`` for ``"none"``) are the statistics it was fitted
    with (train, or train+val for a cross-validated study), so a model trained
    here can be used on raw features:
    ``(x.astype(float32) - scale_shift) / scale_spread``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    fingerprint: str
    source: str
    scale: str = "none"
    scale_shift: torch.Tensor | None = None
    scale_spread: torch.Tensor | None = None

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes, including any absent from a split."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation samples."""
        return int(self.x_val.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n_train={self.n_train}, n_val={self.n_val}, "
            f"n_test={self.n_test}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, source={self.source!r}, "
            f"fingerprint={self.fingerprint[:12]!r})"
        )
