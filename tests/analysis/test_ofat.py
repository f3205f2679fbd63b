"""One factor at a time: levels against the repeated baseline with t intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweeplab.analysis import StudyFrame, level_effects


def _ofat(base: list[float], levels: dict[float, float], maximize: bool = True) -> StudyFrame:
    rows = [{"label": "baseline", "units": 256.0, "metric": v} for v in base]
    rows += [{"label": "units", "units": u, "metric": v} for u, v in levels.items()]
    rows += [{"label": "config 0", "units": 512.0, "metric": base[0]}]
    return StudyFrame(pd.DataFrame(rows), ("units",), "val_accuracy", maximize, "ofat")


def test_levels_get_t_intervals_with_the_baselines_degrees_of_freedom() -> None:
    base = [0.8802, 0.8790, 0.8815]
    levels = {16.0: 0.84, 32.0: 0.8702, 128.0: 0.8835, 512.0: 0.95}
    noise, effects = level_effects(_ofat(base, levels))
    assert noise is not None
    sd = float(np.std(base, ddof=1))
    assert noise.sd == pytest.approx(sd)
    assert noise.dof == 2
    assert noise.t == pytest.approx(stats.t.ppf(0.975, 2))
    by = {e.value: e for e in effects}
    half = stats.t.ppf(0.975, 2) * sd * math.sqrt(1 + 1 / 3)
    assert by[16.0].diff == pytest.approx(0.84 - np.mean(base))
    assert by[16.0].high - by[16.0].diff == pytest.approx(half)
    assert by[16.0].verdict == "far worse"
    assert by[512.0].verdict == "far better"
    assert by[32.0].verdict == "worse"
    assert by[128.0].verdict == "within noise"
    # the number of baseline runs that would separate 128's difference, checked directly
    need = by[128.0].needed
    assert need is not None
    diff = abs(by[128.0].diff)
    assert stats.t.ppf(0.975, need - 1) * sd * math.sqrt(1 + 1 / need) < diff
    assert stats.t.ppf(0.975, need - 2) * sd * math.sqrt(1 + 1 / (need - 1)) >= diff
    assert by["config 0"].factor == "config"
    assert noise.detectable_with(8) < noise.single_run_detectable


def test_minimize_flips_better_and_a_single_baseline_has_no_noise() -> None:
    _, effects = level_effects(_ofat([0.30, 0.31, 0.29], {16.0: 0.10}, maximize=False))
    assert effects[0].verdict == "far better"
    noise, effects = level_effects(_ofat([0.30], {16.0: 0.10}))
    assert noise is None
    assert {e.verdict for e in effects} == {"no noise estimate"}


def test_level_verdicts_are_calibrated_on_pure_noise() -> None:
    rng = np.random.default_rng(12)
    sims, called, family = 400, 0, 0
    for _ in range(sims):
        y = rng.normal(size=7)
        _, effects = level_effects(
            _ofat(list(y[:3]), dict(zip([16.0, 32.0, 64.0, 128.0], y[3:], strict=True)))
        )
        levels = [e for e in effects if e.factor == "units"]
        called += sum(e.separated for e in levels)
        family += any(e.p_holm <= 0.05 for e in effects)
    limit = 0.05 + 3 * math.sqrt(0.05 * 0.95 / (4 * sims))
    assert called / (4 * sims) <= limit  # each level's 95% interval: 5% per level
    assert family / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)  # Holm over all levels
