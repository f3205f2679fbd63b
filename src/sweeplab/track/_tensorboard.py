"""TensorBoard: one run per trial, scalars per epoch and the HParams table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sweeplab.store import TrialRecord
from sweeplab.track._base import Tracker

__all__ = ["TensorBoardTracker"]

_log = logging.getLogger(__name__)

_SCALARS = {
    "train_loss": "Loss/train",
    "val_loss": "Loss/val",
    "val_accuracy": "metric/accuracy",
    "val_f1_macro": "metric/f1_macro",
    "val_precision_macro": "metric/precision_macro",
    "val_recall_macro": "metric/recall_macro",
}


def architecture(params: dict[str, Any], n_features: int, n_classes: int) -> str:
    """A one-line description of the MLP and its parameter count."""
    depth = int(params.get("depth", 1))
    widths = [n_features, *(int(params[f"units{i}"]) for i in range(1, depth + 1)), n_classes]
    count = sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(len(widths) - 1))
    shape = "-".join(map(str, widths))
    return f"MLP {shape}, {params.get('activation', 'relu')}, {count:,} parameters"


class TensorBoardTracker(Tracker):
    """Writes ``<root>/trial-<n>/`` event files readable by ``tensorboard --logdir``."""

    def __init__(self, root: Path, n_features: int, n_classes: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer_cls = SummaryWriter
        self.root = root
        self.n_features = n_features
        self.n_classes = n_classes

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        try:
            self._write(record, curves)
        except Exception as exc:
            _log.warning("tensorboard: trial %d not logged: %s", record.number, exc)

    def _write(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        writer = self._writer_cls(log_dir=str(self.root / f"trial-{record.number:05d}"))
        try:
            for row in curves:
                step = int(row["epoch"])
                for key, tag in _SCALARS.items():
                    if key in row:
                        writer.add_scalar(tag, row[key], step)
                writer.add_scalar("learning_rate", float(record.params.get("lr", 0.0)), step)
            writer.add_text(
                "architecture", architecture(record.params, self.n_features, self.n_classes)
            )
            hparams = {
                k: v for k, v in record.params.items() if isinstance(v, (int, float, str, bool))
            }
            metrics: dict[str, float] = {}
            for split in ("val", "test"):
                for key, value in (getattr(record, split) or {}).items():
                    metrics[f"hparam/{split}_{key}"] = float(value)
            metrics["hparam/objective"] = float(
                record.objective if record.objective is not None else float("nan")
            )
            writer.add_hparams(hparams, metrics, run_name=".")
        finally:
            writer.close()
