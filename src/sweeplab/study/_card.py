"""The final model's card: its test statistics, its Markdown, and the code that loads the model.

``model_card.json`` holds the facts; the Markdown renders the same facts for people.
"""

from __future__ import annotations

import math
from typing import Any

from sweeplab.engine import METRIC_NAMES, MemberResult
from sweeplab.study._bridge import ACTIVATION_MODULES

__all__ = [
    "card_markdown",
    "describe_sequential",
    "test_summary",
    "usage_code",
    "wilson_interval",
]


def describe_sequential(dims: list[int], activation: str) -> str:
    """The architecture as the Python expression that builds it (``from torch import nn``)."""
    act = ACTIVATION_MODULES[activation].__name__
    parts = [
        f"nn.Linear({dims[i]}, {dims[i + 1]})" + (f", nn.{act}()" if i < len(dims) - 2 else "")
        for i in range(len(dims) - 1)
    ]
    return f"nn.Sequential({', '.join(parts)})"


def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec) if isinstance(value, float) else str(value)


def usage_code(card: dict[str, Any]) -> str:
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


def card_markdown(card: dict[str, Any]) -> str:
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
        "95% CI: Student t over seeds, clipped to the metric's range. It covers seed variance "
        "only: every seed trains on the same data and is scored on the same test set, so it "
        "says nothing about the test sample's own noise (see the Wilson interval below) or "
        "how the model would score on new data from elsewhere.",
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
        usage_code(card),
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


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (well behaved near 0 and 1)."""
    if n <= 0:
        return math.nan, math.nan
    from scipy import stats  # scipy and the analysis room load only where a card is made

    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _finite(value: float) -> float | None:
    """JSON-safe: ``None`` for a value that is not estimable (``nan``)."""
    return value if math.isfinite(value) else None


def test_summary(done: list[MemberResult]) -> dict[str, dict[str, Any]]:
    """Per metric: mean over seeds with a two-sided 95% t interval, clipped to the
    metric's range ([0, 1]; a loss is only >= 0), since a t interval is not bounded."""
    from sweeplab.analysis import mean_ci

    out: dict[str, dict[str, Any]] = {}
    for name in (*METRIC_NAMES, "loss"):
        ci = mean_ci([float((r.test or {})[name]) for r in done])
        top = math.inf if name == "loss" else 1.0
        out[name] = {
            "mean": _finite(ci.value),
            "low": _finite(max(0.0, ci.low) if math.isfinite(ci.low) else ci.low),
            "high": _finite(min(top, ci.high) if math.isfinite(ci.high) else ci.high),
            "n": ci.n,
        }
    return out
