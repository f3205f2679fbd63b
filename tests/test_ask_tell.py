"""The loop's ask and tell (``study/_ask.py``): Optuna's, without per-trial scans or copies."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import sweeplab
from sweeplab.store import open_journal
from sweeplab.study._ask import OwnedAsker, tell
from sweeplab.study._attrs import ATTR_OWNER
from tests.conftest import make_spec

SPACE = {"lr": {"low": 1e-3, "high": 1e-1, "log": True}}


def test_a_batch_looks_for_waiting_trials_once_not_per_trial(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looking scans every trial of the study: per trial, that made the cost of a trial
    # grow with the study.
    looks = []
    real = optuna.Study._pop_waiting_trial_id

    def pop(self: optuna.Study) -> int | None:
        looks.append(1)
        return real(self)

    monkeypatch.setattr(optuna.Study, "_pop_waiting_trial_id", pop)
    spec = make_spec("once", search={"trials": 12, "group_size": 12, "space": SPACE})
    study = sweeplab.run(spec, runs_dir=runs)
    assert len(study.records()) == 12
    assert 1 <= len(looks) <= 2, "once per batch (12 trials asked in one)"


def test_trials_waiting_in_the_queue_are_taken_first_and_owned(runs: Path) -> None:
    spec = make_spec("queued", search={"trials": 2, "space": SPACE})
    sweeplab.run(spec, runs_dir=runs)
    storage = open_journal(runs / "queued" / "optuna.log")
    stored = optuna.load_study(study_name="queued", storage=storage)
    stored.enqueue_trial({"lr": 0.0123})
    stored.enqueue_trial({"lr": 0.0456})
    more = make_spec("queued", search={"trials": 5, "space": SPACE})
    study = sweeplab.run(more, runs_dir=runs)
    lrs = {r.number: r.params["lr"] for r in study.records()}
    assert len(lrs) == 5
    assert [lrs[2], lrs[3]] == [0.0123, 0.0456], "the queue first, in its order"
    assert lrs[4] not in (0.0123, 0.0456)
    trials = stored.get_trials(deepcopy=False)
    assert all(t.user_attrs.get(ATTR_OWNER) for t in trials), "every trial has its owner"


def test_an_asker_creates_running_owned_trials() -> None:
    study = optuna.create_study()
    asker = OwnedAsker(study, "host:1:ab")
    trials = [asker.ask() for _ in range(3)]
    frozen = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == TrialState.RUNNING for t in frozen)
    assert all(t.user_attrs == {ATTR_OWNER: "host:1:ab"} for t in frozen)


@pytest.mark.parametrize(
    ("values", "state", "expected", "told"),
    [
        (0.5, None, TrialState.COMPLETE, [0.5]),
        ([0.25], TrialState.COMPLETE, TrialState.COMPLETE, [0.25]),
        (None, TrialState.PRUNED, TrialState.PRUNED, None),
        (None, TrialState.FAIL, TrialState.FAIL, None),
        (math.nan, None, TrialState.FAIL, None),
    ],
)
def test_tell_ends_a_trial_as_study_tell_does(
    values: object, state: TrialState | None, expected: TrialState, told: list[float] | None
) -> None:
    ours, theirs = optuna.create_study(), optuna.create_study()
    for study in (ours, theirs):
        study.ask().suggest_float("x", 0, 1)
    nan = told is None and state is None
    warned = pytest.warns(UserWarning, match="nan") if nan else contextlib.nullcontext()
    warned_too = pytest.warns(UserWarning, match="nan") if nan else contextlib.nullcontext()
    with warned:
        tell(ours, optuna.Trial(ours, ours.trials[0]._trial_id), values, state)  # type: ignore[arg-type]
    with warned_too:
        theirs.tell(0, values, state)  # type: ignore[arg-type]
    for study in (ours, theirs):
        trial = study.trials[0]
        assert trial.state == expected
        assert trial.values == told


def test_tell_skips_a_finished_trial_only_when_asked() -> None:
    study = optuna.create_study()
    trial = study.ask()
    tell(study, trial, 1.0)
    tell(study, trial, state=TrialState.FAIL, skip_if_finished=True)
    assert study.trials[0].state == TrialState.COMPLETE
    with pytest.raises(ValueError, match="Cannot tell a COMPLETE trial"):
        tell(study, trial, 2.0)
