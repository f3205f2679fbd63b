"""One definition of the best trial: configuration means when seeds repeat a configuration."""

from __future__ import annotations

from pathlib import Path

from sweeplab.store import Study, StudyDir, TrialRecord, best_record, write_text, write_trial
from tests.conftest import make_spec


def _rec(number: int, key: str | None, value: float) -> TrialRecord:
    return TrialRecord(
        number=number, state="complete", params={}, seed=number, objective=value, point_key=key
    )


REPEATED = [
    _rec(0, '{"lr": 0.1}#0', 0.95),  # the single best trial...
    _rec(1, '{"lr": 0.1}#1', 0.55),  # ...of a configuration whose mean is 0.75
    _rec(2, '{"lr": 0.01}#0', 0.85),
    _rec(3, '{"lr": 0.01}#1', 0.83),  # mean 0.84: the best configuration
]


def test_best_ranks_configuration_means_with_repeats() -> None:
    best = best_record(REPEATED, maximize=True)
    assert best is not None
    assert best.number == 2
    low = best_record(REPEATED, maximize=False)
    assert low is not None
    assert low.number == 0  # minimizing: mean 0.75 beats 0.84


def test_best_without_repeats_is_the_best_trial() -> None:
    sampled = [_rec(0, None, 0.5), _rec(1, None, 0.9), _rec(2, None, 0.9)]
    best = best_record(sampled, maximize=True)
    assert best is not None
    assert best.number == 1  # ties go to the lower trial number
    assert best_record([], maximize=True) is None


def test_study_best_uses_the_same_definition(tmp_path: Path) -> None:
    spec = make_spec("best", study={"repeats": 2})
    root = tmp_path / "best"
    study_dir = StudyDir(root)
    study_dir.trials.mkdir(parents=True)
    write_text(study_dir.spec_file, spec.to_toml())
    for r in REPEATED:
        write_trial(study_dir.trial(r.number), r, [], None)
    best = Study(root).best()
    assert best is not None
    assert best.number == 2
