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

import datetime as dt
import hashlib
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from scipy import stats
from torch import nn

from sweeplab.analysis import mean_ci
from sweeplab.engine import (
    METRIC_NAMES,
    GroupData,
    MemberResult,
    configure_device,
    derive_seed,
    train_group,
)
from sweeplab.errors import StudyError
from sweeplab.spec import StudySpec, TrainParams
from sweeplab.store import Study, TrialRecord, collect_provenance, write_json, write_text
from sweeplab.study._bridge import load_study_data, member_spec, resolve_device

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
_METRICS = (*METRIC_NAMES, "loss")
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


class FinalizeError(StudyError):
    """The study, trial or option cannot be finalized (bad input: exit code 2)."""

    exit_code = 2


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


def _read_confirm(path: Path) -> dict[str, Any] | None:
    """``confirm.json`` as a dict, ``None`` when absent; malformed files are refused."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FinalizeError(
            f"{path} must be JSON written by the confirmation step, but it cannot be read: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise FinalizeError(f"{path} must hold a JSON object, but got {type(data).__name__}")
    winner = data.get("winner")
    if winner is not None and (isinstance(winner, bool) or not isinstance(winner, int)):
        raise FinalizeError(f"{path} 'winner' must be a trial number, but got {winner!r}")
    return data


def _candidate(confirm: dict[str, Any] | None, number: int) -> dict[str, Any] | None:
    """The confirmation entry of trial ``number``, if ``confirm.json`` has one."""
    if confirm is None or not isinstance(confirm.get("candidates"), list):
        return None
    for entry in confirm["candidates"]:
        if isinstance(entry, dict) and entry.get("trial") == number:
            return entry
    return None


def _choose(
    study: Study, records: dict[int, TrialRecord], trial: int | None
) -> tuple[TrialRecord, str, str, dict[str, Any] | None]:
    """The trial to finalize, how it was chosen, a sentence saying why, and its
    confirmation entry (when ``confirm.json`` lists it)."""
    objective = study.spec.study.objective
    confirm_path = study.dir.confirmation
    confirm = _read_confirm(confirm_path)
    if trial is not None:
        number, chosen_by, why = trial, "user", f"trial {trial} was chosen by the user (--trial)"
    elif confirm is not None and confirm.get("winner") is not None:
        number = int(confirm["winner"])
        chosen_by = "confirmed"
        value = (_candidate(confirm, number) or {}).get("confirm_value")
        detail = (
            f" (confirmation {objective} {value:.4f} on fresh folds and seeds)"
            if isinstance(value, (int, float))
            else ""
        )
        why = f"trial {number} is the confirmed winner of confirm.json{detail}"
    else:
        if confirm is not None:
            _log.warning("%s names no winner; using the best trial by validation", confirm_path)
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
    entry = _candidate(confirm, number)
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


# ---- statistics ----------------------------------------------------------------------


def _wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (well behaved near 0 and 1)."""
    if n <= 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _finite(value: float) -> float | None:
    """JSON-safe: ``None`` for a value that is not estimable (``nan``)."""
    return value if math.isfinite(value) else None


def _test_summary(done: list[MemberResult]) -> dict[str, dict[str, Any]]:
    """Per metric: mean over seeds with a two-sided 95% t interval, clipped to the
    metric's range ([0, 1]; a loss is only >= 0), since a t interval is not bounded."""
    out: dict[str, dict[str, Any]] = {}
    for name in _METRICS:
        ci = mean_ci([float((r.test or {})[name]) for r in done])
        top = math.inf if name == "loss" else 1.0
        out[name] = {
            "mean": _finite(ci.value),
            "low": _finite(max(0.0, ci.low) if math.isfinite(ci.low) else ci.low),
            "high": _finite(min(top, ci.high) if math.isfinite(ci.high) else ci.high),
            "n": ci.n,
        }
    return out


# ---- files -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """``save_file`` to a temporary file, fsync, rename: readers never see half a file.

    ``meta`` goes in as one ``"sweeplab"`` JSON string with sorted keys: safetensors
    writes metadata keys in hash-map order, so a single key keeps the bytes (and
    the card's sha256) the same every time the same weights are saved.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"sweeplab": json.dumps(meta, sort_keys=True)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sequential(
    dims: list[int], activation: str, state: dict[str, torch.Tensor], dtype: torch.dtype
) -> nn.Sequential:
    """The plain ``nn.Sequential(Linear, act, ..., Linear)`` holding ``state``."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        if i:
            layers.append(_ACTIVATIONS[activation]())
        layers.append(nn.Linear(dims[i], dims[i + 1]))
    model = nn.Sequential(*layers).to(dtype)
    model.load_state_dict(state)
    return model.eval()


def _describe(dims: list[int], activation: str) -> str:
    """The architecture as the Python expression that builds it (``from torch import nn``)."""
    act = _ACTIVATIONS[activation].__name__
    parts = [
        f"nn.Linear({dims[i]}, {dims[i + 1]})" + (f", nn.{act}()" if i < len(dims) - 2 else "")
        for i in range(len(dims) - 1)
    ]
    return f"nn.Sequential({', '.join(parts)})"


# ---- the model card ------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec) if isinstance(value, float) else str(value)


def _usage(card: dict[str, Any]) -> str:
    arch = card["architecture"]
    scaled = card["data"]["scale"] != "none"
    lines = [
        "import torch",
        "from safetensors.torch import load_file",
        "from torch import nn",
        "",
        'state = load_file("model.safetensors")',
    ]
    if scaled:
        lines.append('shift, spread = state.pop("scaler.shift"), state.pop("scaler.spread")')
    lines.append(f"model = {arch['sequential']}")
    if arch["dtype"] == "float64":
        lines.append("model = model.double()")
    lines.append("model.load_state_dict(state)")
    features = "torch.as_tensor(x_raw, dtype=torch.float32)"
    if scaled:
        features = f"({features} - shift) / spread"
    if arch["dtype"] == "float64":  # scaled in float32 as the study was, then cast
        features = f"({features}).double()"
    lines.append(f"x = {features}  # x_raw: (n, {arch['layers'][0]}) raw features")
    lines.append("predicted = model.eval()(x).argmax(1)  # index into the card's classes")
    return "\n".join(lines)


def _markdown(card: dict[str, Any]) -> str:
    """The card as Markdown, for people; ``model_card.json`` holds the same facts."""
    data, arch, test, val = card["data"], card["architecture"], card["test"], card["validation"]
    seeds = card["seeds"]
    lines = [
        f"# Model card: {card['study']}, trial {card['trial']}",
        "",
        f"Trained by `sweeplab finalize` at {card['created_at']}.",
        "",
        "## Choice",
        "",
        f"{card['why'][0].upper()}{card['why'][1:]}.",
        "",
    ]
    se = f" ± {val['se']:.4g} (SE)" if val.get("se") is not None else ""
    n_val = f", n_val = {val['n_val']}" if val.get("n_val") is not None else ""
    if val.get("folds"):
        n_val += f" per fold, {val['folds']} folds"
    lines.append(f"Search score: {val['metric']} = {_fmt(val['value'])}{se}{n_val} (validation).")
    confirm = card.get("confirm")
    if confirm:

        def se_text(value: Any) -> str:
            return f" ± {value:.4g} (SE)" if isinstance(value, (int, float)) else ""

        trials = confirm.get("trials")
        pooled = f" over trials {trials}" if isinstance(trials, list) and len(trials) > 1 else ""
        lines.append(
            f"Confirmation on fresh folds and seeds: {_fmt(confirm.get('confirm_value'))}"
            f"{se_text(confirm.get('confirm_se'))}, rank {confirm.get('confirm_rank') or 'n/a'}; "
            f"search{pooled}: {_fmt(confirm.get('search_value'))}"
            f"{se_text(confirm.get('search_se'))}, rank {confirm.get('search_rank') or 'n/a'}."
        )
    lines += [
        "",
        "## Model",
        "",
        f"`{arch['sequential']}` in {arch['dtype']}; dropout {arch['dropout']} during training "
        f"only. `model.safetensors` holds seed index {card['model_seed_index']}.",
        "",
        "| parameter | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in card["config"].items()),
        "",
        "## Data",
        "",
        f"- dataset: {data['name']} ({data['source']}), fingerprint `{data['fingerprint']}`",
        f"- split: train {data['n_train']}, val {data['n_val']}, test {data['n_test']}; "
        f"trained on train+val = {data['n_fit']} samples",
        f"- {data['n_features']} features, scaled with `{data['scale']}` "
        "(train statistics of the study's split, stored as `scaler.*`)",
        f"- classes: {', '.join(data['classes'])}",
        "",
        "## Test metrics",
        "",
        f"Measured once on the {data['n_test']} held-out test samples, for {len(seeds)} seeds. "
        "95% CI: Student t over seeds, clipped to the metric's range.",
        "",
        "| metric | mean | 95% CI | " + " | ".join(f"seed {i}" for i in range(len(seeds))) + " |",
        "|---|---|---|" + "---|" * len(seeds),
    ]
    for name, row in test["summary"].items():
        per_seed = [_fmt((s.get("test") or {}).get(name)) for s in test["per_seed"]]
        ci = f"[{_fmt(row['low'])}, {_fmt(row['high'])}]"
        lines.append(f"| {name} | {_fmt(row['mean'])} | {ci} | " + " | ".join(per_seed) + " |")
    wilson = test["accuracy_wilson"]
    lines += [
        "",
        f"Accuracy pooled over seeds: {wilson['correct']}/{wilson['n']} = "
        f"{_fmt(wilson['value'])}, Wilson 95% CI [{_fmt(wilson['low'])}, "
        f"{_fmt(wilson['high'])}] (treats predictions as independent; the seeds share "
        "one test set, so this is narrower than a fresh test set would justify).",
        "",
        "| seed index | seed | state | fit accuracy (train+val) |",
        "|---|---|---|---|",
        *(
            f"| {s['index']} | {s['seed']} | {s['state']} | "
            f"{_fmt((s.get('fit') or {}).get('accuracy'))} |"
            for s in test["per_seed"]
        ),
        "",
        "## Files",
        "",
        *(
            f"- `{name}`: sha256 `{info['sha256']}` ({info['bytes']} bytes)"
            for name, info in card["files"].items()
        ),
        "",
        "`model.safetensors` is the state dict of the `nn.Sequential` above "
        "(`0.weight` is `(out, in)` like `nn.Linear`)"
        + (" plus `scaler.shift` and `scaler.spread`" if data["scale"] != "none" else "")
        + "; `seeds.safetensors` holds every seed as `seed{i}.0.weight`, ...",
        "",
        "```python",
        _usage(card),
        "```",
        "",
        "## Provenance",
        "",
    ]
    for label, prov in (
        ("study", card["provenance"]["study"]),
        ("final", card["provenance"]["final"]),
    ):
        versions = ", ".join(f"{k} {v}" for k, v in sorted((prov.get("versions") or {}).items()))
        platform = prov.get("platform") or {}
        git = prov.get("git") or {}
        git_text = f"{git.get('commit', 'n/a')}{' (dirty)' if git.get('dirty') else ''}"
        lines += [
            f"- {label}: {prov.get('created_at', 'n/a')}; {platform.get('cpu', 'n/a')}, "
            f"device {platform.get('device', 'n/a')}, gpu {platform.get('gpu') or 'none'}; "
            f"git {git_text}",
            f"  - versions: {versions}",
        ]
    return "\n".join(lines) + "\n"


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
    if not study.dir.provenance.exists():
        raise FinalizeError(
            f"study directory must hold provenance.json, but {study.dir.provenance} was not found"
        )
    try:
        provenance = json.loads(study.dir.provenance.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FinalizeError(
            f"{study.dir.provenance} must be the study's provenance JSON, but cannot be read: {exc}"
        ) from None
    if not isinstance(provenance, dict):
        raise FinalizeError(f"{study.dir.provenance} must hold a JSON object, but does not")
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
    dtype = torch.float64 if spec.study.dtype == "float64" else torch.float32
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
    plain = _sequential(dims, params.activation, first_result.weights, dtype)
    with torch.no_grad():
        predicted = plain(dataset.x_test.to(dtype)).argmax(1)
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
        "architecture": _describe(dims, params.activation),
        "dtype": spec.study.dtype,
        "card": "model_card.json",
    }
    _write_safetensors(model_path, {**first_result.weights, **scaler}, meta)
    every = {
        f"seed{i}.{name}": tensor for i, r in done for name, tensor in (r.weights or {}).items()
    }
    _write_safetensors(seeds_path, {**every, **scaler}, {**meta, "seed_index": "all"})

    completed = [r for _, r in done]
    correct = sum(sum(row[j] for j, row in enumerate(r.test_confusion or [])) for r in completed)
    pooled = len(completed) * dataset.n_test
    low, high = _wilson(correct, pooled)
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
            "sequential": _describe(dims, params.activation),
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
            "summary": _test_summary(completed),
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
            p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
            for p in (model_path, seeds_path)
        },
        "provenance": {"study": study_prov, "final": now},
    }
    card["provenance"]["model_sha256"] = card["files"]["model.safetensors"]["sha256"]
    card["usage"] = _usage(card)
    card_json, card_md = target / "model_card.json", target / "model_card.md"
    write_json(card_json, card)
    write_text(card_md, _markdown(card))
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
