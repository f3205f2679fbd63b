"""MLflow: an experiment per study, a parent run for the study, a nested run per trial."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sweeplab.spec import StudySpec
from sweeplab.store import TrialRecord, read_confusion
from sweeplab.track._arch import architecture_table
from sweeplab.track._base import Tracker

__all__ = ["MLflowTracker", "default_tracking_uri", "render_confusion"]

_log = logging.getLogger(__name__)
_STATUS = {"complete": "FINISHED", "pruned": "KILLED"}
_SKIP = frozenset({"epoch"})


def default_tracking_uri(root: Path, explicit: str | None = None) -> str:
    """The study file's URI, else ``MLFLOW_TRACKING_URI``, else ``<root>/mlflow.db``."""
    if explicit:
        return explicit
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def render_confusion(confusion: Mapping[str, Any], path: Path) -> None:
    """Draw the validation and test confusion matrices side by side as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = [str(c) for c in confusion["classes"]]
    splits = [s for s in ("val", "test") if confusion.get(s) is not None]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.5 * len(splits), 4), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        matrix = confusion[split]
        ax.imshow(matrix, cmap="Blues")
        ax.set_title(split)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


class MLflowTracker(Tracker):
    """Logs to MLflow with its client; built on the tracker's own thread.

    Runs are tagged ``sweeplab.study`` and ``sweeplab.trial``; a resumed study
    reuses its parent run, and a trial run left open by an interrupted
    process is marked ``KILLED`` when the trial runs again.
    """

    def __init__(
        self,
        spec: StudySpec,
        root: Path,
        n_features: int | None,
        n_classes: int | None,
        *,
        tracking_uri: str | None = None,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = default_tracking_uri(root, tracking_uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.n_features = n_features
        self.n_classes = n_classes
        self.study = spec.study.name
        name = spec.track.project or spec.study.name
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            location = None
            if not tracking_uri and not os.environ.get("MLFLOW_TRACKING_URI"):
                location = (root / "mlflow-artifacts").resolve().as_uri()
            self.experiment_id = self.client.create_experiment(name, artifact_location=location)
        else:
            self.experiment_id = experiment.experiment_id
        parents = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`sweeplab.role` = 'study' and tags.`sweeplab.study` = '{self.study}'"
            ),
        )
        if parents:
            self.parent_id = parents[0].info.run_id
            self.client.update_run(self.parent_id, status="RUNNING")
        else:
            parent = self.client.create_run(
                self.experiment_id,
                run_name=self.study,
                tags={"sweeplab.role": "study", "sweeplab.study": self.study},
            )
            self.parent_id = parent.info.run_id
            self.client.log_batch(self.parent_id, params=_params(spec.model_dump(mode="json")))
        self._runs: dict[int, str] = {}
        self._last: dict[int, int] = {}
        # Trials opened before their params were known: objective trials define them as they run.
        self._unnamed: set[int] = set()

    def trial_started(self, number: int, params: Mapping[str, Any], seed: int) -> None:
        stale = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`sweeplab.study` = '{self.study}' and tags.`sweeplab.trial` = '{number}'"
                " and attributes.status = 'RUNNING'"
            ),
        )
        for run in stale:
            self.client.set_terminated(run.info.run_id, status="KILLED")
        self._open(number, params, seed)

    def _open(self, number: int, params: Mapping[str, Any], seed: int) -> str:
        from mlflow.entities import Param

        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{number:05d}",
            tags={
                "mlflow.parentRunId": self.parent_id,
                "sweeplab.study": self.study,
                "sweeplab.trial": str(number),
                "seed": str(seed),
            },
        )
        run_id: str = run.info.run_id
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        self._runs[number] = run_id
        self._last[number] = -1
        if not params:
            self._unnamed.add(number)
        return run_id

    def _log_rows(self, number: int, rows: list[Mapping[str, float]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        for row in rows:
            step = int(row["epoch"])
            if step <= self._last[number]:
                continue
            metrics += [Metric(k, float(v), now, step) for k, v in row.items() if k not in _SKIP]
            self._last[number] = step
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self._runs[number], metrics=metrics[start : start + 1000])

    def epoch_logged(self, number: int, row: Mapping[str, float]) -> None:
        if number in self._runs:
            self._log_rows(number, [row])

    def trial_artifacts(self, number: int, files: Mapping[str, Path]) -> None:
        run_id = self._runs.get(number)
        if run_id is None:
            return
        for name in ("curves.csv", "confusion.json"):
            if name in files:
                self.client.log_artifact(run_id, str(files[name]))
        confusion = (
            read_confusion(files["confusion.json"].parent) if "confusion.json" in files else None
        )
        if confusion is not None:
            with tempfile.TemporaryDirectory() as tmp:
                png = Path(tmp) / "confusion_matrix.png"
                render_confusion(confusion, png)
                self.client.log_artifact(run_id, str(png))

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        from mlflow.entities import Metric, RunTag

        number = record.number
        if number not in self._runs:
            self._open(number, record.params, record.seed)
        elif number in self._unnamed and record.params:
            from mlflow.entities import Param

            params = [Param(k, str(v)) for k, v in record.params.items()]
            self.client.log_batch(self._runs[number], params=params)
        self._unnamed.discard(number)
        run_id = self._runs[number]
        self._log_rows(number, list(curves))
        now = int(time.time() * 1000)
        step = record.epochs_trained
        final = {f"test_{k}": v for k, v in (record.test or {}).items()}
        if record.objective is not None:
            final["objective"] = record.objective
        final.update({f"value_{i}": v for i, v in enumerate(record.values or [])})
        final.update(
            train_steps=float(record.train_steps),
            duration_s=record.duration_s,
            epochs_trained=float(record.epochs_trained),
        )
        tags = {
            "state": record.state,
            "seed": str(record.seed),
            "group": record.group,
            "group_size": str(record.group_size),
            "label": record.label,
        }
        if record.reason:
            tags["reason"] = record.reason[:5000]
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in final.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if self.n_features is not None and self.n_classes is not None:
            text = architecture_table(record.params, self.n_features, self.n_classes)
            self.client.log_text(run_id, text + "\n", "architecture.md")
        self.client.set_terminated(run_id, status=_STATUS.get(record.state, "FAILED"))
        del self._runs[number]
        del self._last[number]

    def close(self) -> None:
        for run_id in self._runs.values():
            self.client.set_terminated(run_id, status="KILLED")
        self._runs.clear()
        self.client.set_terminated(self.parent_id, status="FINISHED")


def _params(spec: Mapping[str, Any], prefix: str = "") -> list[Any]:
    from mlflow.entities import Param

    out: list[Any] = []
    for key, value in spec.items():
        if isinstance(value, Mapping):
            out += _params(value, f"{prefix}{key}.")
        elif key not in ("space", "configs"):
            out.append(Param(f"{prefix}{key}", str(value)[:6000]))
    return out
