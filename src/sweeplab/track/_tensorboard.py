"""TensorBoard: one run per trial, scalars per epoch, architecture text and HParams."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sweeplab.store import TrialRecord
from sweeplab.track._arch import architecture_table
from sweeplab.track._base import Tracker

__all__ = ["SCALAR_TAGS", "TensorBoardTracker"]

_log = logging.getLogger(__name__)

SCALAR_TAGS = {
    "train_loss": "Loss/train",
    "val_loss": "Loss/val",
    "val_accuracy": "metric/accuracy",
    "val_f1_macro": "metric/f1_macro",
    "val_precision_macro": "metric/precision_macro",
    "val_recall_macro": "metric/recall_macro",
    "val_f1_weighted": "metric/f1_weighted",
    "val_precision_weighted": "metric/precision_weighted",
    "val_recall_weighted": "metric/recall_weighted",
}
"""Curve column -> TensorBoard scalar tag; ``learning_rate`` is logged when the trial has one."""
OBJECTIVE_TAG = "objective/intermediate"
"""The tag of an objective trial's intermediate values (its curve column ``value``)."""


def _hparams_summary(tag: str, data: Any) -> Any:
    """A ``Summary`` carrying HParams plugin data, built without TensorFlow."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata

    summary = Summary()
    summary.value.add(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )
    return summary


def session_start(hparams: Mapping[str, Any], start_time: float | None = None) -> Any:
    """The HParams session start of one trial: its parameter values."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(start_time_secs=start_time or time.time())
    for name, value in hparams.items():
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, (int, float)):
            info.hparams[name].number_value = float(value)
        elif isinstance(value, str):
            info.hparams[name].string_value = value
    data = plugin_data_pb2.HParamsPluginData(session_start_info=info)
    return _hparams_summary(metadata.SESSION_START_INFO_TAG, data)


def session_end(status: int) -> Any:
    """The HParams session end of one trial: its status."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time())
    data = plugin_data_pb2.HParamsPluginData(session_end_info=info)
    return _hparams_summary(metadata.SESSION_END_INFO_TAG, data)


class _Run:
    def __init__(self, writer: Any, lr: float) -> None:
        self.writer = writer
        self.lr = lr
        self.last_epoch = -1


class TensorBoardTracker(Tracker):
    """Writes ``<root>/trial-<n>/`` event files readable by ``tensorboard --logdir``.

    Each trial's run holds an HParams session (its parameters at the start,
    its status at the end: success, failure, or unknown for a pruned trial),
    so the HParams table and parallel-coordinates view list every trial with
    its final ``hparam/*`` metrics.
    """

    def __init__(self, root: Path, n_features: int | None, n_classes: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer_cls = SummaryWriter
        self.root = root
        self.n_features = n_features
        self.n_classes = n_classes
        self._runs: dict[int, _Run] = {}

    def _open(self, number: int, params: Mapping[str, Any]) -> _Run:
        writer = self._writer_cls(log_dir=str(self.root / f"trial-{number:05d}"), flush_secs=30)
        hparams = {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))}
        writer._get_file_writer().add_summary(session_start(hparams))  # type: ignore[no-untyped-call]
        run = self._runs[number] = _Run(writer, float(params.get("lr", float("nan"))))
        return run

    def trial_started(self, number: int, params: Mapping[str, Any], seed: int) -> None:
        old = self._runs.pop(number, None)
        if old is not None:
            old.writer.close()
        self._open(number, {**params, "seed": str(seed)})

    def _epoch(self, run: _Run, row: Mapping[str, float]) -> None:
        step = int(row["epoch"])
        if step <= run.last_epoch:
            return
        for key, tag in SCALAR_TAGS.items():
            if key in row:
                run.writer.add_scalar(tag, float(row[key]), step)
        if "value" in row:
            run.writer.add_scalar(OBJECTIVE_TAG, float(row["value"]), step)
        if not math.isnan(run.lr):
            run.writer.add_scalar("learning_rate", run.lr, step)
        run.last_epoch = step

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:
        run = self._runs.get(number)
        if run is not None:
            self._epoch(run, row)

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        try:
            self._write(record, curves)
        except Exception as exc:
            _log.warning("tensorboard: trial %d not logged: %s", record.number, exc)
        finally:
            run = self._runs.pop(record.number, None)
            if run is not None:
                run.writer.close()

    def _write(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        from tensorboard.plugins.hparams import api_pb2

        run = self._runs.get(record.number)
        if run is None:
            run = self._open(record.number, {**record.params, "seed": str(record.seed)})
        for row in curves:
            self._epoch(run, row)
        if self.n_features is not None and self.n_classes is not None:
            text = architecture_table(record.params, self.n_features, self.n_classes)
            run.writer.add_text("architecture", text)
        step = record.epochs_trained
        for split in ("val", "test"):
            for key, value in (getattr(record, split) or {}).items():
                run.writer.add_scalar(f"hparam/{split}_{key}", float(value), step)
        if record.objective is not None:
            run.writer.add_scalar("hparam/objective", float(record.objective), step)
        for i, value in enumerate(record.values or []):
            run.writer.add_scalar(f"hparam/value_{i}", float(value), step)
        status = {
            "complete": api_pb2.STATUS_SUCCESS,
            "pruned": api_pb2.STATUS_UNKNOWN,
        }.get(record.state, api_pb2.STATUS_FAILURE)
        run.writer._get_file_writer().add_summary(session_end(status))

    def close(self) -> None:
        for run in self._runs.values():
            run.writer.close()
        self._runs.clear()
