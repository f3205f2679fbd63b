"""The report says in words whether the winner is inside the noise, and shows confirm.json."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

from sweeplab.report import write_report
from sweeplab.store import Study
from tests.conftest import fake_study


def _se(p: float, n: int) -> float:
    """The binomial SE with the (x + 2) / (n + 4) adjusted proportion, written out again."""
    adj = (p * n + 2) / (n + 4)
    return math.sqrt(adj * (1 - adj) / n)


def _section(md: str, title: str) -> str:
    start = md.index(f"## {title}")
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else len(md)]


def test_iris_report_says_the_best_is_not_distinguishable(
    iris_noise_study: Study, tmp_path: Path
) -> None:
    prov = json.loads(iris_noise_study.dir.provenance.read_text(encoding="utf-8"))
    n = prov["data"]["n_val"]
    assert n == 15
    done = [r for r in iris_noise_study.records() if r.state == "complete"]
    ranked = sorted(done, key=lambda r: (-float(r.objective or 0.0), r.number))
    best = ranked[0]
    b, se_b = float(best.objective or 0.0), _se(float(best.objective or 0.0), n)
    tied = []
    for r in ranked[1:]:
        v = float(r.objective or 0.0)
        if abs(b - v) <= 1.96 * math.hypot(se_b, _se(v, n)):
            tied.append(r)
    assert tied, "15 validation samples: some trial must be inside the noise of the best"
    assert tied == ranked[1 : 1 + len(tied)]  # the next ones, so the sentence says "next"
    gap = max(b - float(r.objective or 0.0) for r in tied)
    sentence = (
        f"The best trial (#{best.number}, val_accuracy {b:.3f} ± {se_b:.3f}, n=15) is not "
        f"distinguishable from the next {len(tied)} trials: they lie within 1.96 combined "
        f"standard errors (the widest gap is {gap:.3f})."
    )
    files = write_report(iris_noise_study, tmp_path)
    md = files.markdown.read_text(encoding="utf-8")
    best_section = _section(md, "Best trials")
    assert sentence in best_section
    assert "Prefer the confirmed winner" in best_section
    assert sentence in html.unescape(files.html.read_text(encoding="utf-8"))
    assert f"| {best.number} | {b:.4f} | {se_b:.4f} | best |" in best_section
    for r in tied:
        v = float(r.objective or 0.0)
        assert f"| {r.number} | {v:.4f} | {_se(v, n):.4f} | tied |" in best_section
    worse = ranked[1 + len(tied) : 5]
    for r in worse:
        assert re.search(rf"^\| {r.number} \| [\d.]+ \| [\d.]+ \| worse \|", best_section, re.M)
    assert "## Confirmation" not in md


def test_a_clear_winner_is_said_to_be_ahead_with_the_gap(tmp_path: Path) -> None:
    study = fake_study(tmp_path, "clear", [0.90, 0.98, 0.85, 0.80], n_val=300)
    md = write_report(study, tmp_path / "report").markdown.read_text(encoding="utf-8")
    se_best, se_next = _se(0.98, 300), _se(0.90, 300)
    units = 0.08 / math.hypot(se_best, se_next)
    assert units > 1.96
    assert se_best < 0.01  # printed with 3 significant digits
    assert (
        f"The best trial (#1, val_accuracy 0.980 ± {se_best:.3g}, n=300) is ahead of every "
        f"other trial by more than 1.96 combined standard errors: the closest, #0 "
        f"(0.900 ± {se_next:.3f}), is 0.080 behind, {units:.1f} combined standard errors."
    ) in md
    assert "not distinguishable" not in md
    assert "| 1 | 0.9800 | " in md
    assert " | tied |" not in md


def test_a_loss_without_folds_has_no_standard_error(tmp_path: Path) -> None:
    study = fake_study(tmp_path, "loss", [0.40, 0.30, 0.35], objective="val_loss")
    md = write_report(study, tmp_path / "report").markdown.read_text(encoding="utf-8")
    assert (
        "The standard error of val_loss is unknown here (a loss has no binomial standard error; "
        "data.cv or data.split_repeats give a fold spread), so this report cannot say whether the "
        "best trial (#1, val_loss 0.300) is ahead of the others beyond noise."
    ) in md
    assert re.search(r"^\| 1 \| 0\.3000 \| - \| best \|", md, re.M)
    assert re.search(r"^\| 2 \| 0\.3500 \| - \| \? \|", md, re.M)


def _write_confirm(study: Study, **patch: Any) -> None:
    data: dict[str, Any] = {
        "objective": "val_accuracy",
        "direction": "maximize",
        "repeats": 2,
        "folds_per_repeat": 5,
        "candidates": [
            {
                "trial": 1,
                "params": {"lr": 0.05},
                "search_value": 0.98,
                "search_se": 0.01,
                "search_rank": 1,
                "confirm_value": 0.93,
                "confirm_se": 0.01,
                "confirm_values": [0.92, 0.94],
                "confirm_rank": 2,
            },
            {
                "trial": 0,
                "params": {"lr": 0.1},
                "search_value": 0.97,
                "search_se": 0.012,
                "search_rank": 2,
                "confirm_value": 0.96,
                "confirm_se": 0.01,
                "confirm_values": [0.95, 0.97],
                "confirm_rank": 1,
            },
        ],
        "winner": 0,
    }
    data.update(patch)
    (study.dir.root / "confirm.json").write_text(json.dumps(data), encoding="utf-8")


def test_confirmation_section_shows_both_rankings(tmp_path: Path) -> None:
    # cross-validated search scores: the SE is the fold spread, and the best is in the noise
    study = fake_study(
        tmp_path, "confirmed", [0.97, 0.98, 0.80], ses=[0.03, 0.02, 0.01], folds=5, n_val=30
    )
    _write_confirm(study)
    files = write_report(study, tmp_path / "report")
    md = files.markdown.read_text(encoding="utf-8")
    best = _section(md, "Best trials")
    assert (
        "The best trial (#1, val_accuracy 0.980 ± 0.020, 5 folds) is not distinguishable from "
        "the next trial: it lies within 1.96 combined standard errors (the widest gap is 0.010)."
        " The other trial is further behind."
    ) in best
    # a fold spread below the binomial SE of the 5 × 30 pooled samples is raised to it
    assert f"| 2 | 0.8000 | {_se(0.8, 150):.4f} | worse |" in best
    assert "prefer its winner (#0)" in best
    conf = _section(md, "Confirmation")
    assert "re-trained on fresh seeds and splits (2 repeats × 5 folds)" in conf
    assert (
        "The confirmed winner is trial #0 (0.960 ± 0.010; in the search 0.970 ± 0.012, rank 2)"
        in conf
    )
    assert "The search's best was trial #1, so confirmation changed the winner." in conf
    assert (
        "| trial | search val_accuracy ± SE | search rank | confirmed val_accuracy ± SE | "
        "confirmed rank | confirmation runs | vs winner |"
    ) in conf
    assert "| 0 | 0.970 ± 0.012 | 2 | 0.960 ± 0.010 | 1 | 0.950, 0.970 | winner |" in conf
    assert "| 1 | 0.980 ± 0.010 | 1 | 0.930 ± 0.010 | 2 | 0.920, 0.940 | worse |" in conf
    assert conf.index("| 0 | 0.970") < conf.index("| 1 | 0.980")  # by confirmed rank
    # 0.96 vs 0.93 with SE 0.01 each: 2.1 combined SE apart
    assert "is ahead of every other candidate by more than 1.96 combined standard errors" in conf
    assert "<h2>Confirmation</h2>" in files.html.read_text(encoding="utf-8")
    # the same study, the same bytes, confirmation included
    again = write_report(study, tmp_path / "again")
    assert again.markdown.read_bytes() == files.markdown.read_bytes()
    assert again.html.read_bytes() == files.html.read_bytes()

    _write_confirm(study, winner=1)
    md = write_report(study, tmp_path / "report").markdown.read_text(encoding="utf-8")
    assert "It was also the search's best, so the winner did not change." in md


def test_seeds_of_one_configuration_are_averaged(ofat_study: Study, tmp_path: Path) -> None:
    base = [r for r in ofat_study.records() if r.label == "baseline" and r.state == "complete"]
    assert len(base) == 3  # study.repeats = 3 runs of the baseline
    vals = [float(r.objective or 0.0) for r in base]
    mean = sum(vals) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / 2)
    within = math.sqrt(sum(_se(v, 15) ** 2 for v in vals) / 3)
    se = math.hypot(sd / math.sqrt(3), within)
    md = write_report(ofat_study, tmp_path).markdown.read_text(encoding="utf-8")
    best = _section(md, "Best trials")
    assert "| trials | val_accuracy (mean) | ± SE | seeds | vs best |" in best
    label = ", ".join(f"#{r.number}" for r in base)
    assert re.search(
        rf"^\| {label} \| {mean:.3f} \| {se:.3f} \| 3 \| (best|tied|worse) \|", best, re.M
    )
    assert "The best configuration (" in best
