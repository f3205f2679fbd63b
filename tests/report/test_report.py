"""`sweeplab report`: every section is generated from the study, and the bytes are stable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from sweeplab.report import ReportFiles, write_report
from sweeplab.report._summary import compact_toml
from sweeplab.store import Study


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def ofat_report(ofat_study: Study, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return write_report(ofat_study, tmp_path_factory.mktemp("ofat-report"))


def test_ofat_report_has_every_section_and_noise_band(ofat_report: ReportFiles) -> None:
    files = ofat_report
    md = files.markdown.read_text(encoding="utf-8")
    for title in (
        "## Study",
        "## Best trials",
        "## Hyperparameters and the metric",
        "## Importance",
        "## Interactions",
        "## Training curves",
        "## Study questions",
    ):
        assert title in md
    assert "| hyperparameter | relation | evidence |" in md
    for factor in ("lr", "units", "optimizer"):
        assert re.search(
            rf"^\| {factor} \| (direct|inverse|none|non-monotonic|differs)[^|]* \| ", md, re.M
        ), factor
    assert re.search(r"trend p=[\d.e-]+ \(slope t-test on the repeats' variance \(df=2\)\)", md)
    assert re.search(r"Holm p=[\d.e-]+", md)
    assert "baseline mean ± 2 SD over 3 baseline runs" in md
    assert "## One factor at a time: each level against the baseline" in md
    assert "over 3 runs" in md
    assert "(2 degrees of freedom, 95% t multiplier 4.30)" in md
    verdicts = "within noise|better|worse|far better|far worse"
    for factor, value in (("lr", "0.001"), ("units", "4"), ("optimizer", "sgd")):
        assert re.search(
            rf"^\| {factor} \| {value} \| 1 \| \d\.\d{{4}} \| [+-]\d\.\d{{4}} "
            rf"\[[+-]\d\.\d{{4}}, [+-]\d\.\d{{4}}\] \| ({verdicts}) \| (yes|no) \| ",
            md,
            re.M,
        ), factor
    assert re.search(rf"^\| config \| config 0 \| 1 \| \d\.\d{{4}} .*\| ({verdicts}) \|", md, re.M)
    assert "never varies two hyperparameters together" in md
    assert "## Pruning" not in md
    names = {p.name for p in files.figures}
    assert {"ofat.png", "curves.png", "fit.png", "confusion.png"} <= names
    assert "Were factors of 2 enough resolution?" in md
    assert "units: best" in md  # 4, 8, 16 are factors of 2
    html = files.html.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(files.figures)
    assert "http://" not in html
    assert "https://" not in html


def test_report_is_deterministic(
    ofat_study: Study, ofat_report: ReportFiles, tmp_path: Path
) -> None:
    write_report(ofat_study, tmp_path / "again")
    one, two = _all_bytes(ofat_report.markdown.parent), _all_bytes(tmp_path / "again")
    assert one.keys() == two.keys()
    assert [k for k in one if one[k] != two[k]] == []


def test_grid_report_has_interactions_and_importance(grid_study: Study, tmp_path: Path) -> None:
    files = write_report(grid_study, tmp_path)
    md = files.markdown.read_text(encoding="utf-8")
    for pair in ("batch_size × lr", "batch_size × units", "lr × units"):
        assert re.search(rf"^\| {pair} \| \d\.\d\d \| 4 \|$", md, re.M), pair
    assert sum(p.name.startswith("interaction_") for p in files.figures) == 3
    assert re.search(
        r"^\| (lr|units|batch_size) \| \d\.\d{3} \| \d\.\d{3} – \d\.\d{3} \| \d+ \|$", md, re.M
    )
    assert "Strongest: " in md
    best = grid_study.best()
    assert best is not None
    assert f"| {best.number} | {best.objective:.4f} |" in md
    assert "## Pruning" not in md


def test_pruned_report_shows_where_pruning_happened(pruned_study: Study, tmp_path: Path) -> None:
    files = write_report(pruned_study, tmp_path)
    md = files.markdown.read_text(encoding="utf-8")
    records = pruned_study.records()
    pruned = sum(r.state == "pruned" for r in records)
    assert pruned > 0
    assert f"{pruned} of {len(records)} trials were pruned" in md
    assert "| stopped at epoch | pruned | complete | failed |" in md
    assert "pruning.png" in {p.name for p in files.figures}


def test_cli_report_writes_into_the_study(pruned_study: Study, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sweeplab.cli", "report", str(pruned_study.dir.root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (pruned_study.dir.root / "report" / "report.html").exists()
    assert (pruned_study.dir.root / "report" / "figures" / "pruning.png").exists()
    missing = subprocess.run(
        [sys.executable, "-m", "sweeplab.cli", "report", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1
    assert "must exist" in missing.stderr


def test_findings_come_first_and_the_study_file_last(ofat_report: ReportFiles) -> None:
    md = ofat_report.markdown.read_text(encoding="utf-8")
    titles = re.findall(r"^## (.+)$", md, re.M)
    assert titles[:3] == ["Findings", "Study questions", "Best trials"]
    assert titles[-1] == "Study file and provenance"
    findings = md.split("## Study questions")[0]
    assert "Best configuration: trial #" in findings
    for factor in ("lr", "units", "optimizer"):
        assert re.search(rf"(^|\. |\): ){factor}: ", findings, re.M), factor
    # One factor at a time: the levels against the baseline lead, the trends follow.
    assert findings.index("Against the baseline: ") < findings.index("Trends across each")
    assert "split = [0.7, 0.1, 0.2]" in md  # short arrays inline
    html = ofat_report.html.read_text(encoding="utf-8")
    assert "<details><summary>The resolved study file (every default filled in)</summary>" in html
    assert html.index("<h2>Findings</h2>") < html.index("<h2>Best trials</h2>")
    assert html.count('<div class="scroll">') == html.count("<table>")


def test_compact_toml_inlines_plain_arrays_only() -> None:
    text = 'a = [\n    1,\n    2,\n]\nb = [\n    { x = 1 },\n]\nc = "[x"\n'
    assert compact_toml(text) == 'a = [1, 2]\nb = [\n    { x = 1 },\n]\nc = "[x"\n'
    assert tomllib.loads(compact_toml(text)) == tomllib.loads(text)
