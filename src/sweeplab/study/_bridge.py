"""The bridge from a study file to the engine: data, members, folds, merged results.

Everything here is a pure translation (spec in, engine objects out), shared
by the search loop, confirmation, reproduce and finalize, so a trial is
trained the same way by each of them.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sweeplab.data import Dataset, fold_indices, load_dataset
from sweeplab.engine import GroupData, MemberResult, MemberSpec, derive_seed
from sweeplab.errors import SpecError
from sweeplab.spec import StudySpec, TrainParams

__all__ = [
    "ACTIVATION_MODULES",
    "Folds",
    "cross_validated",
    "fold_members",
    "fold_sizes",
    "group_data",
    "load_study_data",
    "mean_row",
    "member_spec",
    "merge_folds",
    "resolve_device",
    "sampled_params",
    "study_dtype",
    "study_folds",
]


ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}
"""Each name of :data:`sweeplab.spec.ACTIVATIONS` as the ``nn.Module`` a plain model uses."""


def resolve_device(name: str) -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"study.device must be a device this machine has, but got {name!r}")
    return torch.device(name)


def member_spec(params: TrainParams, seed: int) -> MemberSpec:
    """The engine's view of a trial."""
    return MemberSpec(
        units=params.layer_units(),
        activation=params.activation,
        dropout=params.dropout,
        optimizer=params.optimizer,
        lr=params.lr,
        weight_decay=params.weight_decay,
        momentum=params.momentum,
        beta1=params.beta1,
        beta2=params.beta2,
        batch_size=params.batch_size,
        epochs=params.epochs,
        seed=seed,
    )


def load_study_data(spec: StudySpec) -> Dataset:
    """The dataset of a study, split and scaled as its spec says."""
    data = spec.data
    return load_dataset(
        data.dataset,
        split=(data.split[0], data.split[1], data.split[2]),
        scale=data.scale,
        seed=spec.study.seed,
        path=data.path,
        target=data.target,
        max_samples=data.max_samples,
        cache_dir=data.cache_dir,
        scale_on="train+val" if cross_validated(spec) else "train",
    )


def cross_validated(spec: StudySpec) -> bool:
    return spec.data.cv is not None or spec.data.split_repeats is not None


Folds = list[tuple[Any, Any]]

_FOLD_SALT = 0xF01D


def study_folds(
    spec: StudySpec, dataset: Dataset, *, repeats: int | None = None, salt: int = 0
) -> Folds:
    """The ``(train_rows, val_rows)`` of each fold of train+val, or ``[]`` without CV.

    Rows index the pool ``cat(x_train, x_val)``. ``repeats`` and ``salt``
    give the fresh folds a confirmation phase trains on.
    """
    if not cross_validated(spec) and repeats is None:
        return []
    y = torch.cat([dataset.y_train, dataset.y_val]).numpy()
    fractions = spec.data.split
    return fold_indices(
        y,
        cv=spec.data.cv,
        repeats=repeats or spec.data.split_repeats,
        val_fraction=fractions[1] / (fractions[0] + fractions[1]),
        seed=derive_seed(spec.study.seed, _FOLD_SALT, salt),
    )


def fold_members(member: MemberSpec, n_folds: int) -> list[MemberSpec]:
    """The members that train ``member`` once per fold (itself, without folds)."""
    if n_folds == 0:
        return [member]
    return [
        dataclasses.replace(member, seed=derive_seed(member.seed, _FOLD_SALT, f), fold=f)
        for f in range(n_folds)
    ]


def study_dtype(spec: StudySpec) -> torch.dtype:
    """The engine dtype of ``study.dtype`` (bfloat16: float32 tensors, bfloat16 products)."""
    return {"float64": torch.float64, "bfloat16": torch.bfloat16}.get(
        spec.study.dtype, torch.float32
    )


def group_data(
    dataset: Dataset, device: torch.device, dtype: torch.dtype, folds: Folds | None = None
) -> GroupData:
    """The dataset's tensors on ``device`` in ``dtype``, as the engine takes them.

    With ``folds``, train and val are joined into the pool the fold rows index.
    """
    x_train, y_train = dataset.x_train, dataset.y_train
    if folds:
        x_train = torch.cat([dataset.x_train, dataset.x_val])
        y_train = torch.cat([dataset.y_train, dataset.y_val])
    return GroupData.from_tensors(
        [x_train, y_train, dataset.x_val, dataset.y_val, dataset.x_test, dataset.y_test],
        dataset.n_classes,
        device=device,
        dtype=dtype,
        folds=folds or (),
    )


def fold_sizes(folds: Sequence[tuple[Any, Any]]) -> list[tuple[int, int]]:
    """``(n_train, n_val)`` of each fold, for the corrected SE and the binomial floor."""
    return [(len(tr), len(va)) for tr, va in folds]


def merge_folds(
    results: Sequence[MemberResult],
    objective: str,
    sizes: Sequence[tuple[int, int]] = (),
) -> tuple[MemberResult, dict[str, Any]]:
    """One trial's result from its folds' results, and the record fields of the folds.

    Metrics are means over folds; confusion matrices are summed; any failed
    fold fails the trial, any pruned one prunes it. ``objective_se`` is Nadeau
    and Bengio's corrected resampled-t SE, ``sqrt((1/J + n_val/n_train) s²)``
    over the J folds' scores: folds share training samples, so the plain
    ``s / sqrt(J)`` understates it (~1.5x for 5-fold, ~2.2x for 3x5-fold).
    ``sizes`` (:func:`fold_sizes`) gives the ratio and goes into each fold's
    entry; without it the ratio of k-fold, ``1/(J-1)``, is assumed.
    """
    first = results[0]
    failed = [(f, r) for f, r in enumerate(results) if r.state == "failed"]
    merged = MemberResult(
        state="failed"
        if failed
        else ("pruned" if any(r.state == "pruned" for r in results) else "complete"),
        reason=f"fold {failed[0][0]}: {failed[0][1].reason}" if failed else first.reason,
        epochs=max(r.epochs for r in results),
        train_steps=sum(r.train_steps for r in results),
        duration_s=max(r.duration_s for r in results),
        group_size=first.group_size,
        threads=first.threads,
    )
    for rows in zip(*(r.curves for r in results), strict=False):
        row = mean_row(rows)
        row["epoch"], row["elapsed_s"] = rows[0]["epoch"], max(x["elapsed_s"] for x in rows)
        merged.curves.append(row)
    se = None
    if not failed:
        merged.val = _mean_dicts([r.val for r in results])
        merged.test = _mean_dicts([r.test for r in results])
        merged.val_confusion = _sum_matrices([r.val_confusion for r in results])
        merged.test_confusion = _sum_matrices([r.test_confusion for r in results])
        name = objective.removeprefix("val_")
        scores = [r.val[name] for r in results if r.val is not None]
        if len(scores) >= 2:
            j = len(scores)
            ratio = (
                sum(nv / nt for nt, nv in sizes) / len(sizes)
                if sizes and all(nt > 0 for nt, _ in sizes)
                else 1 / (j - 1)
            )
            se = statistics.stdev(scores) * math.sqrt(1 / j + ratio)
    folds: list[dict[str, Any]] = [
        {"fold": f, "state": r.state, "epochs": r.epochs, "val": r.val, "test": r.test}
        for f, r in enumerate(results)
    ]
    if len(sizes) == len(folds):
        for entry, (nt, nv) in zip(folds, sizes, strict=True):
            entry["n_train"], entry["n_val"] = nt, nv
    return merged, {"folds": folds, "objective_se": se}


def mean_row(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """The key-wise mean of metric rows with the same keys (the folds of one trial)."""
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def _mean_dicts(dicts: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    clean = [d for d in dicts if d is not None]
    if len(clean) != len(dicts) or not clean:
        return None
    return mean_row(clean)


def _sum_matrices(mats: Sequence[list[list[int]] | None]) -> list[list[int]] | None:
    clean = [m for m in mats if m is not None]
    if len(clean) != len(mats) or not clean:
        return None
    return [
        [sum(m[i][j] for m in clean) for j in range(len(clean[0][i]))] for i in range(len(clean[0]))
    ]


def sampled_params(spec: StudySpec, chosen: dict[str, Any]) -> TrainParams:
    """A sampled trial's training parameters: the study's ``[params]`` with the values
    the sampler ``chosen`` (its Optuna ``trial.params``).

    The study file cannot change on resume, so this is also how ``reproduce``
    rebuilds a sampled trial's config from the storage, which does not keep
    it (one fsynced journal write a trial less).
    """
    return TrainParams.model_validate({**spec.params.model_dump(), **chosen})
