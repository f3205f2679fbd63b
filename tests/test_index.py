"""The study index: ``index.jsonl`` and ``summary.csv`` appended per trial, read in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import sweeplab
from sweeplab.store import StudyDir, TrialRecord
from tests.conftest import fake_study, make_spec


def _record(n: int, **extra: object) -> TrialRecord:
    params = {"depth": 1, "units1": 8, "lr": 0.01 * (n + 1), "epochs": 1}
    params.update(extra.pop("params", {}))  # type: ignore[call-overload]
    return TrialRecord(
        number=n,
        state="complete",
        params=params,
        seed=n,
        objective=0.5 + n / 100,
        val={"accuracy": 0.5 + n / 100, "loss": 1.0},
        test={"accuracy": 0.4},
        **extra,  # type: ignore[arg-type]
    )


def _rewritten(folder: StudyDir, tmp_path: Path) -> pd.DataFrame:
    """The summary a full rewrite from the records gives."""
    from sweeplab.store._index import rewrite_summary

    other = tmp_path / "rewrite"
    rewrite_summary(other, folder.records())
    return pd.read_csv(other / "summary.csv")


def test_a_run_indexes_every_trial_and_appends_the_summary(runs: Path, tmp_path: Path) -> None:
    study = sweeplab.run(make_spec("idx", search={"trials": 6}), runs_dir=runs)
    root = runs / "idx"
    lines = (root / "index.jsonl").read_text().splitlines()
    assert len(lines) == 6
    on_disk = {n: json.loads((study.dir.trial(n) / "record.json").read_text()) for n in range(6)}
    assert len({json.loads(line)["number"] for line in lines}) == 6
    assert [r.to_dict() for r in study.records()] == [on_disk[n] for n in range(6)]
    summary = pd.read_csv(root / "summary.csv")
    pd.testing.assert_frame_equal(summary, _rewritten(study.dir, tmp_path))
    assert list(summary["trial"]) == list(range(6))


def test_group_members_are_kept_as_runs(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    members = [*range(0, 300), 305, 307, *range(400, 410)]
    folder.write_trial(_record(0, group_members=members), [], None)
    line = (folder.root / "index.jsonl").read_text()
    assert json.loads(line)["group_runs"] == [[0, 300], [305, 1], [307, 1], [400, 10]]
    assert folder.records()[0].group_members == members


def test_a_row_with_a_new_column_rewrites_the_summary(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    folder.write_trial(_record(0), [], None)
    folder.write_trial(_record(1), [], None)
    deeper = _record(2, params={"depth": 2, "units2": 4}, user_attrs={"note": "x"})
    folder.write_trial(deeper, [], None)
    folder.write_trial(_record(3), [], None)
    summary = pd.read_csv(folder.summary)
    assert list(summary["trial"]) == [0, 1, 2, 3]
    assert list(summary["units2"].fillna(-1)) == [-1, -1, 4, -1]
    assert list(summary["user_attrs_note"].fillna("")) == ["", "", "x", ""]
    pd.testing.assert_frame_equal(summary, _rewritten(folder, tmp_path))


def test_lost_and_torn_lines_are_read_from_the_records(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    for n in range(5):
        folder.write_trial(_record(n), [], None)
    index = folder.root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    # trial 1's line is lost, trial 4's is cut short by a crash
    index.write_text(lines[0] + "".join(lines[2:4]) + lines[4][:30])
    assert [r.number for r in folder.records()] == [0, 1, 2, 3, 4]
    assert folder.records()[1] == _record(1)
    folder.write_trial(_record(5), [], None)
    assert index.read_text().count("\n") == 5, "the cut line is ended before appending"
    assert [r.number for r in folder.records()] == [0, 1, 2, 3, 4, 5]
    folder.sync_index(skip=())
    lines = index.read_text().splitlines()
    assert lines[3] == lines[3][:30], "the torn line stays, ended, and is skipped"
    indexed = [json.loads(x)["number"] for x in lines[4:]]
    assert indexed == [5, 1, 4], "sync appends the lost trials"
    assert list(pd.read_csv(folder.summary)["trial"]) == [0, 1, 2, 3, 4, 5]


def test_a_study_without_an_index_is_read_and_then_indexed(tmp_path: Path) -> None:
    study = fake_study(tmp_path, "old", [0.5, 0.7, 0.6])
    assert not (study.dir.root / "index.jsonl").exists()
    before = [r.to_dict() for r in study.records()]
    assert [r["number"] for r in before] == [0, 1, 2]
    study.dir.sync_index(skip={2})
    lines = (study.dir.root / "index.jsonl").read_text().splitlines()
    assert [json.loads(x)["number"] for x in lines] == [0, 1], "trial 2 is skipped (in flight)"
    assert [r.to_dict() for r in study.records()] == before


def test_a_record_whose_folder_is_gone_is_dropped(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    for n in range(3):
        folder.write_trial(_record(n), [], None)
    for file in folder.trial(1).iterdir():
        file.unlink()
    folder.trial(1).rmdir()
    assert [r.number for r in folder.records()] == [0, 2]


def test_progress_is_counted_per_trial_without_rereading(runs: Path) -> None:
    events: list[object] = []
    spec = make_spec("progress", search={"trials": 3, "group_size": 2})
    sweeplab.run(spec, runs_dir=runs, callback=events.append)
    more = make_spec("progress", search={"trials": 6, "group_size": 2})
    study = sweeplab.run(more, runs_dir=runs, callback=events.append)
    trials = [e for e in events if e.kind == "trial"]  # type: ignore[attr-defined]
    assert [e.done for e in trials] == [1, 2, 3, 4, 5, 6]  # type: ignore[attr-defined]
    values: dict[int, float] = {}
    for e in trials:
        values[e.record.number] = e.record.objective  # type: ignore[attr-defined]
        assert e.best == max(values.values())  # type: ignore[attr-defined]
    assert len(study.records()) == 6


def test_a_record_edited_after_indexing_is_read_from_its_file(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    for n in range(3):
        folder.write_trial(_record(n), [], None)
    path = folder.trial(1) / "record.json"
    data = json.loads(path.read_text())
    data["objective"] = 0.99
    path.write_text(json.dumps(data))
    assert [r.objective for r in folder.records()] == [0.5, 0.99, 0.52]
    folder.sync_index(skip=())
    last = json.loads((folder.root / "index.jsonl").read_text().splitlines()[-1])
    assert (last["number"], last["objective"]) == (1, 0.99), "sync indexes the edited record"
    assert [r.objective for r in folder.records()] == [0.5, 0.99, 0.52]


def test_a_torn_line_in_the_middle_costs_only_its_own_trial(tmp_path: Path) -> None:
    """The index is parsed as one array when every line is whole; a line cut short
    anywhere (inside a string, between keys) or garbage leaves out that trial alone."""
    from sweeplab.store._index import read_index

    folder = StudyDir(tmp_path / "s")
    for n in range(6):
        folder.write_trial(_record(n, label=f"trial {n}"), [], None)
    index = folder.root / "index.jsonl"
    whole = index.read_text().splitlines(keepends=True)
    assert sorted(read_index(folder.root)) == list(range(6))
    in_string = whole[1][: whole[1].index('"label": "') + 13] + "\n"
    between_keys = whole[3][: whole[3].index(', "n_val"')] + "\n"
    index.write_text(
        whole[0] + in_string + whole[2] + between_keys + "\x00\x00\n" + whole[4] + whole[5]
    )
    got = read_index(folder.root)
    assert sorted(got) == [0, 2, 4, 5]
    assert got[2] == _record(2, label="trial 2")
    assert [r.number for r in folder.records()] == list(range(6)), "the rest from record.json"


def test_a_summary_another_process_rewrote_is_read_again_before_appending(
    tmp_path: Path,
) -> None:
    # This process knows the header from its last append; a rewrite elsewhere (a worker
    # whose trial had a new column) must not be appended to with the old header.
    from sweeplab.store import write_text

    folder = StudyDir(tmp_path / "s")
    folder.write_trial(_record(0), [], None)
    folder.write_trial(_record(1), [], None)
    summary = pd.read_csv(folder.summary)
    summary.insert(2, "note", ["a", "b"])
    write_text(folder.summary, summary.to_csv(index=False))
    folder.write_trial(_record(2), [], None)
    after = pd.read_csv(folder.summary)
    assert list(after.columns) == list(summary.columns)
    assert list(after["trial"]) == [0, 1, 2]
    assert list(after["lr"]) == [r.params["lr"] for r in (_record(0), _record(1), _record(2))]


def test_a_batch_of_trials_is_indexed_in_one_write(tmp_path: Path) -> None:
    folder = StudyDir(tmp_path / "s")
    written = [(r, folder.write_trial(r, [], None, index=False)) for r in map(_record, range(5))]
    assert not (folder.root / "index.jsonl").exists()
    assert [r.number for r in folder.records()] == list(range(5)), "read from their folders"
    folder.index(written)
    assert len((folder.root / "index.jsonl").read_text().splitlines()) == 5
    assert list(pd.read_csv(folder.summary)["trial"]) == list(range(5))


def test_a_run_starting_beside_a_worker_leaves_its_told_trials_to_it(tmp_path: Path) -> None:
    # A worker tells a trial, then indexes it with its batch. A run starting in between
    # finds the trial's folder unindexed: it must neither index it nor put it in the
    # summary it rewrites, or the worker's append makes a second row.
    folder = StudyDir(tmp_path / "s")
    for n in range(2):
        folder.write_trial(_record(n), [], None)
    told = _record(2)
    written = folder.write_trial(told, [], None, index=False)
    folder.sync_index(skip={2})
    assert list(pd.read_csv(folder.summary)["trial"]) == [0, 1]
    folder.index([(told, written)])
    assert list(pd.read_csv(folder.summary)["trial"]) == [0, 1, 2]
    lines = (folder.root / "index.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["number"] for line in lines) == [0, 1, 2]


def test_trials_owned_by_another_live_process_are_its_own_to_index() -> None:
    import optuna

    from sweeplab.study._ask import owned_elsewhere

    study = optuna.create_study()
    owners = ["me", "other-alive", "other-dead", None, "other-alive"]
    for owner in owners:
        attrs = {"sweeplab.owner": owner} if owner else {}
        study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs=attrs))
    checked: list[str] = []

    def alive(t: optuna.trial.FrozenTrial) -> bool:
        checked.append(t.user_attrs["sweeplab.owner"])
        return bool(t.user_attrs["sweeplab.owner"] == "other-alive")

    assert owned_elsewhere(study.trials, "me", alive) == {1, 4}
    assert sorted(checked) == ["other-alive", "other-dead"], "each owner checked once"
