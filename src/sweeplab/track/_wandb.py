"""Weights & Biases: one run per trial, grouped by study; offline unless asked."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sweeplab.spec import StudySpec
from sweeplab.store import TrialRecord, read_confusion
from sweeplab.track._arch import architecture, architecture_table
from sweeplab.track._base import Tracker

__all__ = ["WandbTracker"]

_log = logging.getLogger(__name__)


class WandbTracker(Tracker):
    """Writes one W&B run per trial under ``<study>/wandb/``.

    A trial's run is written when the trial ends, with every epoch logged at
    ``step = epoch``, so a fused group of hundreds of trials never holds
    hundreds of open W&B runs. ``mode="offline"`` needs no account; upload
    later with ``wandb sync runs/<study>/wandb/offline-run-*``.
    """

    def __init__(
        self,
        spec: StudySpec,
        root: Path,
        n_features: int | None,
        n_classes: int | None,
        *,
        mode: str = "offline",
    ) -> None:
        import wandb

        self._wandb = wandb
        self.mode = mode
        self.root = root
        self.study = spec.study.name
        self.project = spec.track.project or spec.study.name
        self.entity = spec.track.entity
        self.n_features = n_features
        self.n_classes = n_classes
        self._confusion: dict[int, Path] = {}
        root.mkdir(parents=True, exist_ok=True)

    def trial_artifacts(self, number: int, files: Mapping[str, Path]) -> None:
        if "confusion.json" in files:
            self._confusion[number] = files["confusion.json"]

    def _settings(self) -> Any:
        return self._wandb.Settings(
            console="off",
            silent=True,
            x_disable_stats=True,
            x_disable_machine_info=True,
            disable_git=True,
            save_code=False,
            x_save_requirements=False,
        )

    def log_trial(self, record: TrialRecord, curves: list[dict[str, float]]) -> None:
        wandb = self._wandb
        config: dict[str, Any] = {
            **record.params,
            "seed": record.seed,
            "label": record.label,
        }
        if self.n_features is not None and self.n_classes is not None:
            config["architecture"] = architecture(record.params, self.n_features, self.n_classes)
        run = wandb.init(
            mode=self.mode,
            dir=str(self.root),
            project=self.project,
            entity=self.entity,
            group=self.study,
            job_type="trial",
            name=f"trial-{record.number:05d}",
            config=config,
            tags=[record.state],
            reinit="create_new",
            settings=self._settings(),
        )
        try:
            plot = self._confusion_plot(record.number)
            for i, row in enumerate(curves):
                data: dict[str, Any] = {k: v for k, v in row.items() if k != "epoch"}
                if plot is not None and i == len(curves) - 1:
                    data["confusion_matrix"] = plot
                run.log(data, step=int(row["epoch"]))
            if plot is not None and not curves:
                run.log({"confusion_matrix": plot}, step=record.epochs_trained)
            summary: dict[str, Any] = {f"val_{k}": v for k, v in (record.val or {}).items()}
            summary.update({f"test_{k}": v for k, v in (record.test or {}).items()})
            summary.update(
                state=record.state,
                objective=record.objective,
                epochs_trained=record.epochs_trained,
                train_steps=record.train_steps,
                duration_s=record.duration_s,
                group=record.group,
                trial=record.number,
            )
            if record.reason:
                summary["reason"] = record.reason
            summary.update({f"value_{i}": v for i, v in enumerate(record.values or [])})
            run.summary.update(summary)
            if self.n_features is not None and self.n_classes is not None:
                text = architecture_table(record.params, self.n_features, self.n_classes)
                Path(run.dir, "architecture.md").write_text(text + "\n", encoding="utf-8")
        finally:
            run.finish(exit_code=0 if record.state != "failed" else 1)

    def _confusion_plot(self, number: int) -> Any:
        path = self._confusion.pop(number, None)
        if path is None:
            return None
        confusion = read_confusion(path.parent)
        if confusion is None:
            return None
        classes = [str(c) for c in confusion["classes"]]
        matrix = confusion["val"]
        data: list[Iterable[Any]] = [
            [classes[i], classes[j], matrix[i][j]]
            for i in range(len(classes))
            for j in range(len(classes))
        ]
        table = self._wandb.Table(columns=["Actual", "Predicted", "nPredictions"], data=data)
        return self._wandb.plot_table(
            "wandb/confusion_matrix/v1",
            table,
            {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
            {"title": "validation confusion matrix"},
        )

    def close(self) -> None:
        self._confusion.clear()
