"""``sweeplab finalize``: train the chosen config on train+val and write the final model.

A study chooses a configuration on validation data. The model to keep should
then learn from every sample that is not test data, and its test score should
be measured once, with the spread over seeds stated, so the number is honest.
:func:`finalize` does exactly that for the built-in MLP:

1. it picks the trial: the user's ``trial``, else the confirmed winner of
   ``confirm.json``, else the study's best by validation;
2. it loads the study's data (same split, scaler and fingerprint), fits the
   trial's config on train+val for several seeds fused as one group (the
   per-epoch "validation" curves are fit metrics on train+val; the test set is
   scored once at the end of each member, never during training);
3. it writes ``model.safetensors`` (seed 0 as an ``nn.Sequential`` state dict
   plus the scaler), ``seeds.safetensors`` (every seed) and a model card as
   ``model_card.json`` and ``model_card.md``, each file atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sweeplab.engine import (
    GroupData,
    configure_device,
    derive_seed,
    train_group,
)
from sweeplab.errors import RefusedError, StudyError
from sweeplab.spec import StudySpec, TrainParams
from sweeplab.store import (
    Confirmation,
    Study,
    TrialRecord,
    collect_provenance,
    read_confirmation,
    read_provenance,
    sha256_file,
    write_json,
    write_safetensors,
    write_text,
)
from sweeplab.study._bridge import (
    ACTIVATION_MODULES,
    load_study_data,
    member_spec,
    resolve_device,
    study_dtype,
)
from sweeplab.study._card import (
    card_markdown,
    describe_sequential,
    test_summary,
    usage_code,
    wilson_interval,
)

__all__ = [
    "CARD_VERSION",
    "FINALIZE_TAG",
    "MIN_SEEDS",
    "FinalModel",
    "FinalizeError",
    "finalize",
]

_log = logging.getLogger(__name__)

FINALIZE_TAG = int.from_bytes(hashlib.sha256(b"sweeplab.finalize").digest()[:4], "big")
"""A stable integer for "finalize" in the seed derivation, so the final seeds are
drawn apart from the search's: seed ``i`` of trial ``n`` is
``derive_seed(study.seed, FINALIZE_TAG, n, i)``."""
MIN_SEEDS = 3
"""Seeds trained when neither ``seeds`` nor ``study.repeats`` asks for more."""
CARD_VERSION = 1


class FinalizeError(RefusedError):
    """The study, trial or option cannot be finalized (bad input: exit code 2)."""


@dataclass(frozen=True)
class FinalModel:
    """Where the final model went and what its card says (``card`` is the JSON card)."""

    out: Path
    model: Path
    seeds: Path
    card_json: Path
    card_md: Path
    trial: int
    chosen_by: str
    card: dict[str, Any]


# ---- choosing the trial --------------------------------------------------------------


def _entry(confirm: Confirmation | None, number: int) -> dict[str, Any] | None:
    """The confirmation entry of trial ``number`` for the card, if ``confirm.json`` lists it."""
    if confirm is None or number not in {c.trial for c in confirm.candidates}:
        return None
    entry: dict[str, Any] = dataclasses.asdict(confirm.candidate(number))
    entry["confirm_values"] = list(entry["confirm_values"])
    return entry


def _choose(
    study: Study, records: dict[int, TrialRecord], trial: int | None
) -> tuple[TrialRecord, str, str, dict[str, Any] | None]:
    """The trial to finalize, how it was chosen, a sentence saying why, and its
    confirmation entry (when ``confirm.json`` lists it)."""
    objective = study.spec.study.objective
    try:
        confirm = read_confirmation(study.dir.confirmation)
    except StudyError as exc:
        raise FinalizeError(str(exc)) from None
    if trial is not None:
        number, chosen_by, why = trial, "user", f"trial {trial} was chosen by the user (--trial)"
    elif confirm is not None:
        number = confirm.winner
        chosen_by = "confirmed"
        value = confirm.candidate(number).confirm_value
        detail = f" (confirmation {objective} {value:.4f} on fresh folds and seeds)"
        why = f"trial {number} is the confirmed winner of confirm.json{detail}"
    else:
        best = study.best()
        if best is None:
            raise FinalizeError(
                f"study {study.name!r} must have a complete trial to finalize, but it has none"
            )
        number, chosen_by = best.number, "validation"
        why = f"trial {number} has the best {objective} of the search, {best.objective:.4f}"
    label = {"user": "--trial", "confirmed": "confirm.json 'winner'"}.get(chosen_by, "trial")
    record = records.get(number)
    if record is None:
        raise FinalizeError(
            f"{label} must be a finished trial of the study, but got {number}, which has no record"
        )
    if record.state != "complete":
        raise FinalizeError(
            f"{label} must be a complete trial, but got trial {number}, which is {record.state}"
        )
    entry = _entry(confirm, number)
    listed = entry.get("params") if entry else None
    if isinstance(listed, dict) and any(record.params.get(k) != v for k, v in listed.items()):
        _log.warning("confirm.json lists other params for trial %d than its record", number)
    return record, chosen_by, why, entry


def _check_supported(spec: StudySpec, record: TrialRecord) -> None:
    """Refuse what finalize cannot retrain: custom models and user objectives."""
    if spec.model.factory:
        raise FinalizeError(
            "the study's model must be the built-in MLP (finalize supports only it), "
            f"but got [model] factory = {spec.model.factory!r}"
        )
    if spec.objective is not None or "depth" not in record.params:
        raise FinalizeError(
            "the study must train the built-in MLP (finalize supports only it), "
            "but got a user objective whose training sweeplab does not own"
        )


# ---- the plain model ---------------------------------------------------------------------


def _sequential(
    dims: list[int], activation: str, state: dict[str, torch.Tensor], dtype: torch.dtype
) -> nn.Sequential:
    """The plain ``nn.Sequential(Linear, act, ..., Linear)`` holding ``state``."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        if i:
            layers.append(ACTIVATION_MODULES[activation]())
        layers.append(nn.Linear(dims[i], dims[i + 1]))
    model = nn.Sequential(*layers).to(dtype)
    model.load_state_dict(state)
    return model.eval()


# ---- finalize --------------------------------------------------------------------------


def _seed_count(spec: StudySpec, seeds: int | None) -> int:
    if seeds is None:
        return max(MIN_SEEDS, spec.study.repeats)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise FinalizeError(f"--seeds must be an integer >= 1, but got {seeds!r}")
    return seeds


def finalize(
    study_dir: str | Path,
    *,
    trial: int | None = None,
    seeds: int | None = None,
    out: str | Path | None = None,
) -> FinalModel:
    """Train the chosen trial's config on train+val, test it once, write model and card.

    ``trial`` overrides the choice (else ``confirm.json``'s winner, else the best
    trial by validation); ``seeds`` is how many seeds to train (default
    ``max(3, study.repeats)``); ``out`` defaults to ``<study_dir>/final``.
    Raises :class:`FinalizeError` (exit 2) for a trial or study it cannot take
    and :class:`StudyError` when every seed fails to train.
    """
    root = Path(study_dir)
    if not (root / "study.toml").exists():
        raise FinalizeError(
            f"study directory must hold a study.toml, but {root / 'study.toml'} was not found"
        )
    study = Study(root)
    spec = study.spec
    n_seeds = _seed_count(spec, seeds)
    records = {r.number: r for r in study.records()}
    record, chosen_by, why, confirm_entry = _choose(study, records, trial)
    _check_supported(spec, record)
    provenance = read_provenance(study.dir.provenance)
    _log.info("finalizing trial %d of %s (%s), %d seeds", record.number, study.name, why, n_seeds)

    dataset = load_study_data(spec)
    recorded_fp = (provenance.get("data") or {}).get("fingerprint")
    if recorded_fp != dataset.fingerprint:
        raise FinalizeError(
            f"data fingerprint must match the study's ({str(recorded_fp)[:12]}…), "
            f"but the data now gives {dataset.fingerprint[:12]}…"
        )
    device = resolve_device(spec.study.device)
    configure_device(device)
    dtype = study_dtype(spec)
    x_fit = torch.cat([dataset.x_train, dataset.x_val])
    y_fit = torch.cat([dataset.y_train, dataset.y_val])
    # x_val = the fit set: per-epoch curves are fit metrics; the test set is scored once.
    data = GroupData.from_tensors(
        [x_fit, y_fit, x_fit, y_fit, dataset.x_test, dataset.y_test],
        dataset.n_classes,
        device=device,
        dtype=dtype,
    )
    params = TrainParams.model_validate(record.params)
    seed_list = [
        derive_seed(spec.study.seed, FINALIZE_TAG, record.number, i) for i in range(n_seeds)
    ]
    members = [member_spec(params, s) for s in seed_list]
    results = train_group(members, data, keep_weights=True)
    done = [(i, r) for i, r in enumerate(results) if r.state == "complete"]
    if not done:
        raise StudyError(
            f"finalize must train at least one seed of trial {record.number} to the end, "
            f"but every seed failed, e.g. {results[0].reason}"
        )
    for i, r in enumerate(results):
        if r.state != "complete":
            _log.warning("seed %d of trial %d failed: %s", i, record.number, r.reason)

    dims = [dataset.n_features, *params.layer_units(), dataset.n_classes]
    first, first_result = done[0]
    assert first_result.weights is not None
    scaler: dict[str, torch.Tensor] = {}
    if dataset.scale_shift is not None and dataset.scale_spread is not None:
        scaler = {
            "scaler.shift": dataset.scale_shift.contiguous(),
            "scaler.spread": dataset.scale_spread.contiguous(),
        }

    # Self-check: the saved weights in a plain nn.Sequential give the engine's test accuracy.
    plain = _sequential(dims, params.activation, first_result.weights, data.x_train.dtype)
    with torch.no_grad():
        predicted = plain(dataset.x_test.to(data.x_train.dtype)).argmax(1)
    reloaded = int((predicted == dataset.y_test).sum()) / dataset.n_test
    engine_accuracy = float((first_result.test or {})["accuracy"])
    if reloaded != engine_accuracy:
        _log.warning(
            "nn.Sequential test accuracy %.6f differs from the engine's %.6f",
            reloaded,
            engine_accuracy,
        )

    target = Path(out) if out is not None else study.dir.root / "final"
    model_path, seeds_path = target / "model.safetensors", target / "seeds.safetensors"
    meta: dict[str, Any] = {
        "study": study.name,
        "trial": record.number,
        "seed_index": first,
        "architecture": describe_sequential(dims, params.activation),
        "dtype": spec.study.dtype,
        "card": "model_card.json",
    }
    write_safetensors(model_path, {**first_result.weights, **scaler}, meta)
    every = {
        f"seed{i}.{name}": tensor for i, r in done for name, tensor in (r.weights or {}).items()
    }
    write_safetensors(seeds_path, {**every, **scaler}, {**meta, "seed_index": "all"})

    completed = [r for _, r in done]
    correct = sum(sum(row[j] for j, row in enumerate(r.test_confusion or [])) for r in completed)
    pooled = len(completed) * dataset.n_test
    low, high = wilson_interval(correct, pooled)
    study_prov = {k: provenance.get(k) for k in ("created_at", "versions", "platform", "git")}
    current = collect_provenance(seed=spec.study.seed, data={}, device=str(device))
    now = {k: current[k] for k in ("created_at", "versions", "platform", "git")}
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "study": study.name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "trial": record.number,
        "chosen_by": chosen_by,
        "why": why,
        "config": dict(params.flat()),
        "architecture": {
            "layers": dims,
            "activation": params.activation,
            "dropout": params.dropout,
            "sequential": describe_sequential(dims, params.activation),
            "dtype": spec.study.dtype,
        },
        "data": {
            "name": dataset.name,
            "source": dataset.source,
            "fingerprint": dataset.fingerprint,
            "split": list(spec.data.split),
            "scale": dataset.scale,
            "n_train": dataset.n_train,
            "n_val": dataset.n_val,
            "n_test": dataset.n_test,
            "n_fit": int(x_fit.shape[0]),
            "training_set": "train+val",
            "n_features": dataset.n_features,
            "n_classes": dataset.n_classes,
            "classes": list(dataset.classes),
        },
        "seeds": seed_list,
        "model_seed_index": first,
        "validation": {
            "metric": spec.study.objective,
            "direction": spec.direction,
            "value": record.objective,
            "se": record.objective_se,
            "n_val": record.n_val,
            "folds": len(record.folds) if record.folds else None,
        },
        "confirm": confirm_entry,
        "test": {
            "per_seed": [
                {
                    "index": i,
                    "seed": seed_list[i],
                    "state": r.state,
                    "reason": r.reason,
                    "test": r.test,
                    "fit": r.val,
                    "epochs": r.epochs,
                }
                for i, r in enumerate(results)
            ],
            "summary": test_summary(completed),
            "accuracy_wilson": {
                "correct": int(correct),
                "n": pooled,
                "value": correct / pooled,
                "low": low,
                "high": high,
            },
            "reloaded_accuracy": reloaded,
        },
        "files": {
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in (model_path, seeds_path)
        },
        "provenance": {"study": study_prov, "final": now},
    }
    card["provenance"]["model_sha256"] = card["files"]["model.safetensors"]["sha256"]
    card["usage"] = usage_code(card)
    card_json, card_md = target / "model_card.json", target / "model_card.md"
    write_json(card_json, card)
    write_text(card_md, card_markdown(card))
    _log.info("wrote %s", target)
    return FinalModel(
        out=target,
        model=model_path,
        seeds=seeds_path,
        card_json=card_json,
        card_md=card_md,
        trial=record.number,
        chosen_by=chosen_by,
        card=card,
    )
