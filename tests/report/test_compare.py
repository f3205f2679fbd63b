"""`sweeplab compare`: same space and budget per strategy, paired seeds, a report with tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweeplab.analysis import repeats_needed
from sweeplab.errors import SpecError
from sweeplab.spec import Range
from sweeplab.study import (
    DEFAULT_STRATEGIES,
    compare_plan,
    compare_specs,
    continuous_keys,
    default_strategies,
)
from tests.conftest import make_spec


def test_grid_refuses_a_continuous_range_in_compare_as_in_run() -> None:
    space = {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "epochs": {"low": 2, "high": 9}}
    base = make_spec("cmp", search={"trials": 5, "space": space})
    with pytest.raises(
        SpecError,
        match=r"search.space.lr must be a list of values or a range "
        r"with a step for strategy 'grid', but got a continuous range",
    ) as cmp:
        compare_specs(base, ["random", "grid"], repeats=1)
    assert "leave grid out of --strategies" in str(cmp.value)
    with pytest.raises(
        SpecError,
        match=r"search.space.lr must be a list of values or a range "
        r"with a step for strategy 'grid', but got a continuous range",
    ):
        make_spec("g", search={"strategy": "grid", "trials": 5, "space": space})
    assert continuous_keys(base) == ["lr"]
    assert "grid" not in default_strategies(base)
    assert default_strategies(base) == tuple(s for s in DEFAULT_STRATEGIES if s != "grid")
    ints = make_spec("i", search={"trials": 5, "space": {"epochs": {"low": 2, "high": 9}}})
    assert default_strategies(ints) == DEFAULT_STRATEGIES
    grid = next(spec for s, _, spec in compare_specs(ints, ["grid"], 1))
    assert isinstance(grid.search.space["epochs"], Range)


def test_compare_says_before_running_how_many_repeats_a_verdict_needs() -> None:
    space = {"lr": {"low": 1e-4, "high": 1e-1, "log": True}}
    base = make_spec("cmp", search={"trials": 5, "space": space})
    text = compare_plan(base, default_strategies(base), 5, defaulted=True)
    assert text.startswith("6 strategies x 5 repeats: random, sobol")
    assert "grid left out: search.space.lr is a continuous range" in text
    assert "15 paired comparisons (Holm: p <= 0.00333)" in text
    assert f"1 SD of the per-repeat differences needs {repeats_needed(1.0, 15)} repeats" in text
    assert "no difference can be declared below 10" in text
    assert "With --repeats 5 every verdict will be 'unreachable'" in text
    mine = compare_plan(base, ["random", "tpe"], 6)
    assert "unreachable" not in mine
    assert "grid left out" not in mine


def test_compare_specs_share_space_budget_and_seeds() -> None:
    base = make_spec(
        "cmp",
        search={
            "trials": 5,
            "space": {
                "lr": {"low": 1e-4, "high": 1e-1, "log": True},
                "epochs": {"low": 2, "high": 9},
            },
        },
    )
    plan = compare_specs(base, ["random", "sobol", "hyperband"], repeats=3)
    assert [(s, k) for s, k, _ in plan] == [
        (s, k) for s in ("random", "sobol", "hyperband") for k in range(3)
    ]
    for s, k, spec in plan:
        assert spec.study.name == f"{s}-r{k}"
        assert spec.study.seed == base.study.seed + k
        assert spec.search.trials == 5
        assert spec.search.strategy == s
        assert spec.data == base.data
        assert spec.params == base.params
    assert isinstance(plan[0][2].search.space["lr"], Range)
    with pytest.raises(SpecError, match="--strategies must be names from"):
        compare_specs(base, ["random", "ofat"], 1)
    with pytest.raises(SpecError, match="--repeats must be >= 1, but got 0"):
        compare_specs(base, ["random"], 0)


@pytest.mark.slow
def test_cli_compare_writes_a_report(tmp_path: Path) -> None:
    spec = make_spec(
        "cmp",
        params={"epochs": 2},
        search={"trials": 2, "space": {"lr": [1e-3, 1e-2, 1e-1], "units": [4, 8]}},
    )
    (tmp_path / "cmp.toml").write_text(spec.to_toml(), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweeplab.cli",
            "compare",
            "cmp.toml",
            "--strategies",
            "random,grid",
            "--repeats",
            "2",
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    root = tmp_path / "runs" / "cmp-compare"
    assert sorted(p.name for p in root.iterdir() if p.name != "report") == [
        "grid-r0",
        "grid-r1",
        "random-r0",
        "random-r1",
    ]
    md = (root / "report" / "report.md").read_text(encoding="utf-8")
    for s in ("random", "grid"):
        assert re.search(
            rf"^\| {s} \| \d\.\d{{4}} ± \d\.\d{{4}} \| \d\.\d{{4}} ± \d\.\d{{4}} \| "
            rf"\d\.\d{{4}} ± \d\.\d{{4}} \| \d+ \| 2 \|$",
            md,
            re.M,
        ), s
    assert re.search(
        r"^\| random vs grid \| 2 \| [+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\] \| "
        r"[\d.e-]+ \| [\d.e-]+ \| unreachable: 2 paired repeats give p >= 0.5, Holm over 1 "
        r"pairs needs <= 0.05 \(6 repeats\) \|$",
        md,
        re.M,
    ), md
    assert "At least 6 repeats are needed (--repeats 6)" in md
    assert "1 paired comparison (Holm: p <= 0.05)" in done.stderr
    assert "With --repeats 2 every verdict will be 'unreachable'" in done.stderr
    assert (root / "report" / "figures" / "best_so_far.png").exists()
    html = (root / "report" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 1
    bad = subprocess.run(
        [sys.executable, "-m", "sweeplab.cli", "compare", "cmp.toml", "--strategies", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "--strategies must be names from" in bad.stderr
