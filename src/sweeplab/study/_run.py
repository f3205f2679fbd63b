"""Starting and joining studies: prepare the directory, pick the trial source, run the loop.

``run`` is what ``sweeplab run`` and :func:`sweeplab.run` call; ``join`` is
what every worker calls (``--workers``, Ray actors, ``sweeplab worker``).
Both build their trial source with :func:`make_source`, so a study trains
the same kind of trials whichever process picks them up.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import torch

from sweeplab.data import Dataset
from sweeplab.engine import calibration, configure_device
from sweeplab.errors import SpecError
from sweeplab.spec import (
    StudySpec,
    directions_of,
    load_spec,
    resolve_objective,
    spec_from_dict,
    with_absolute_target,
)
from sweeplab.store import (
    Study,
    StudyDir,
    collect_provenance,
    open_storage,
    stop_when_full,
    write_provenance,
    write_text,
)
from sweeplab.study._bridge import load_study_data, resolve_device, study_folds
from sweeplab.study._custom import FactorySource
from sweeplab.study._events import Callback
from sweeplab.study._fused import FusedSource
from sweeplab.study._loop import Runner, TrialSource
from sweeplab.study._objective import Objective, ObjectiveSource
from sweeplab.study._script import ScriptSource

__all__ = ["RESUMABLE", "init_storage", "join", "make_source", "prepare", "read_spec", "run"]

RESUMABLE = (
    "search.trials",
    "search.group_size",
    "search.confirm_top",
    "search.confirm_repeats",
    "search.timeout",
    "study.device",
    "study.backend",
    "study.description",
    "track",
)
"""Keys a resumed study may change; any other change is refused."""


def _identity(spec: StudySpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json")
    for path in RESUMABLE:
        node = data
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node.pop(leaf, None)
    return data


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def read_spec(root: Path, overrides: Iterable[str] = ()) -> StudySpec:
    """The ``study.toml`` of the study in ``root``."""
    return StudyDir(root).read_spec(overrides)


def _check_resumable(spec: StudySpec, root: Path) -> None:
    if not StudyDir(root).spec_file.exists():
        return
    changed = _diff(_identity(read_spec(root)), _identity(spec))
    if changed:
        raise SpecError(
            f"study {spec.study.name!r} in {root} must be resumed with the same study file, "
            f"but {', '.join(changed[:5])} changed; pick a new study.name or remove {root}"
        )


def _resolve(spec: StudySpec | str | Path, overrides: list[str]) -> StudySpec:
    if isinstance(spec, StudySpec):
        if overrides:
            spec = spec_from_dict(spec.model_dump(mode="json", exclude_none=True), overrides)
    else:
        path = Path(spec)
        spec = with_absolute_target(load_spec(path, overrides), path.parent)
    return resolve_objective(spec) if spec.objective is not None else spec


def prepare(
    spec: StudySpec | str | Path,
    *,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
) -> tuple[StudySpec, Path, Dataset | None, torch.device]:
    """Check a study against its directory and write study.toml and provenance.

    Returns the resolved spec, the study directory, the dataset (``None`` for
    a study whose trials are the user's objective) and the device. Every
    backend calls this once before any worker joins.
    """
    spec = _resolve(spec, list(overrides))
    root = Path(runs_dir) / spec.study.name
    _check_resumable(spec, root)
    study_dir = StudyDir(root)
    if spec.objective is not None:
        device = torch.device("cpu")
        dataset = None
        info: dict[str, Any] = {"objective": spec.objective.target, "kind": spec.objective.kind}
    else:
        device = resolve_device(spec.study.device)
        configure_device(device)
        dataset = load_study_data(spec)
        info = {
            "name": dataset.name,
            "source": dataset.source,
            "fingerprint": dataset.fingerprint,
            "n_train": dataset.n_train,
            "n_val": dataset.n_val,
            "n_test": dataset.n_test,
            "n_features": dataset.n_features,
            "n_classes": dataset.n_classes,
        }
    study_dir.trials.mkdir(parents=True, exist_ok=True)
    write_text(study_dir.spec_file, spec.to_toml())
    provenance = collect_provenance(seed=spec.study.seed, data=info, device=str(device))
    if dataset is not None and device.type == "cpu" and not study_dir.provenance.exists():
        # What the planner and the thread choice were based on (see engine.calibration).
        measured = calibration(device)
        provenance["calibration"] = {
            "key": measured.key,
            "small_step": str(measured.small_step),
            "overhead_s": measured.overhead_s,
            "rate": measured.rate,
            "threads": measured.threads,
            "busy": measured.busy,
            "points": [list(point) for point in measured.points],
            "lanes": measured.lanes,
            "lane_points": [list(point) for point in measured.lane_points],
        }
    write_provenance(study_dir.provenance, provenance)
    return spec, root, dataset, device


def make_source(
    spec: StudySpec,
    dataset: Dataset | None,
    device: torch.device,
    objective: Objective | None = None,
) -> TrialSource:
    """The trial source a study's spec asks for: objective, model factory or built-in MLP."""
    if spec.objective is not None and spec.objective.kind == "script":
        return ScriptSource(spec)
    if spec.objective is not None:
        return ObjectiveSource(spec, objective)
    if objective is not None:
        raise SpecError("objective must come with an objective study, but the spec has none")
    if dataset is None:
        dataset = load_study_data(spec)
    folds = study_folds(spec, dataset)
    if spec.model.factory:
        return FactorySource(spec, dataset, device, folds)
    return FusedSource(spec, dataset, device, folds)


def init_storage(root: str | Path) -> None:
    """Create the study in its storage (once, before workers join concurrently)."""
    root = Path(root)
    spec = read_spec(root)
    optuna.create_study(
        study_name=spec.study.name,
        storage=open_storage(root, spec.study.storage),
        directions=directions_of(spec),
        load_if_exists=True,
    )


def run(
    spec: StudySpec | str | Path,
    *,
    runs_dir: str | Path = "runs",
    overrides: Iterable[str] = (),
    callback: Callback | None = None,
    objective: Objective | None = None,
) -> Study:
    """Run (or resume) a study and return it.

    Args:
        spec: a :class:`~sweeplab.spec.StudySpec` or the path of a study file.
        runs_dir: where study directories live; the study goes to
            ``runs_dir/<study.name>``.
        overrides: ``key=value`` strings applied on top of a study file path.
        callback: receives a :class:`RunEvent` at the start, after every
            trial and at the end.
        objective: for a study with an ``objective`` section, the callable
            itself (by default it is imported from the spec's target).

    Running a study whose directory exists resumes it: finished trials are
    kept, trials interrupted by a dead process run again, and the budget is
    never exceeded.
    """
    with stop_when_full(Path(runs_dir)):
        spec, root, dataset, device = prepare(spec, runs_dir=runs_dir, overrides=overrides)
        Runner(spec, root, make_source(spec, dataset, device, objective), callback).loop()
    return Study(root)


def join(
    root: str | Path,
    *,
    device: str | None = None,
    callback: Callback | None = None,
    dataset: Dataset | None = None,
) -> Study:
    """Work on an existing study directory until its budget is used up.

    Several processes (on one machine, or on many sharing the directory and
    an RDB storage) can join the same study: they claim disjoint trials, and
    a trial's numbers do not depend on which process ran it.
    """
    root = Path(root)
    spec = read_spec(root, [f"study.device={device}"] if device else [])
    torch_device = torch.device("cpu")
    if spec.objective is None:
        torch_device = resolve_device(spec.study.device)
        configure_device(torch_device)
    source = make_source(spec, dataset, torch_device)
    with stop_when_full(root):
        Runner(spec, root, source, callback).loop()
    return Study(root)
