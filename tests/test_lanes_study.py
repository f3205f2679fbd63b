"""A study whose groups train in lanes records what training them in-process records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import sweeplab
import sweeplab.study._fused as fused
from sweeplab.study import reproduce
from tests.conftest import make_spec

pytestmark = pytest.mark.skipif(os.name != "posix", reason="lanes run on POSIX only")


def _spec(name: str, **search: Any) -> Any:
    return make_spec(
        name,
        params={"epochs": 6},
        search={
            "strategy": "random",
            "trials": 10,
            "space": {"batch_size": [4, 8, 16], "units": [4, 16]},
            **search,
        },
    )


def _all_in_lanes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    used: list[int] = []

    def every_group(groups: list[Any], *args: Any) -> tuple[int, list[int]]:
        used.append(len(groups))
        return 2, list(range(len(groups)))

    monkeypatch.setattr(fused, "lane_groups", every_group)
    return used


def _comparable(record: Any) -> dict[str, Any]:
    row = record.to_dict()
    for key in ("duration_s", "started_at", "finished_at", "group", "lanes", "curves"):
        row.pop(key, None)
    return row


def test_lanes_record_what_one_process_records_and_reproduce(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = sweeplab.run(_spec("lanes"), runs_dir=runs / "alone").records()
    used = _all_in_lanes(monkeypatch)
    laned = sweeplab.run(_spec("lanes"), runs_dir=runs / "laned").records()
    assert used
    assert max(used) >= 2
    assert {r.lanes for r in laned} == {2}
    assert {r.lanes for r in alone} == {None}
    assert {r.state for r in laned} == {"complete"}
    assert [_comparable(r) for r in laned] == [_comparable(r) for r in alone]
    monkeypatch.undo()
    report = reproduce(str(runs / "laned" / "lanes"), sample=len(laned))
    assert report.ok, report.mismatches


def test_timeout_stops_between_groups_and_the_rest_runs_again(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = {"strategy": "grid", "trials": None, "space": {"batch_size": [4, 8, 16]}}
    spec = _spec("timed", **grid, timeout=1e-3)
    first = sweeplab.run(spec, runs_dir=runs).records()
    assert len(first) == 1, "the batch's first group trains, then the timeout stops the study"
    spec.search.timeout = None
    again = sweeplab.run(spec, runs_dir=runs).records()
    assert len(again) == 3
    assert again[0].to_dict() == first[0].to_dict()


def test_a_pruned_study_trains_in_process(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pruner decides from the reports it has seen; lanes would make that timing-dependent."""
    used = _all_in_lanes(monkeypatch)
    records = sweeplab.run(_spec("pruned", strategy="hyperband"), runs_dir=runs).records()
    assert not used
    assert {r.lanes for r in records} == {None}
    assert "pruned" in {r.state for r in records}
