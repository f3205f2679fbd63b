"""The HTML report escapes every text it shows: study-file text, paths, parameter values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sweeplab.analysis import Interval, ValueStat
from sweeplab.report import write_report
from sweeplab.report._document import Code, Document, Paragraph, Section, Table, render
from sweeplab.report._questions import _pooled_sd
from tests.conftest import fake_study

NASTY = """<script>alert("x")</script> a & b 'q' <b>"""
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; a &amp; b &#39;q&#39; &lt;b&gt;"


def test_document_text_renders_as_text_in_html(tmp_path: Path) -> None:
    doc = Document(f"title {NASTY}")
    sec = Section(f"section {NASTY}")
    sec.add(Paragraph(f"para {NASTY}"))
    sec.add(Table((f"h {NASTY}",), ((f"cell {NASTY}",),)))
    sec.add(Code(f"code {NASTY}", "toml"))
    doc.sections.append(sec)
    (tmp_path / "figures").mkdir()
    md, html = render(doc, tmp_path)
    page = html.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "<b>" not in page
    assert page.count(ESCAPED) == 7  # the title twice
    assert NASTY in md.read_text(encoding="utf-8")  # markdown keeps the text as written


def test_a_study_path_and_file_with_markup_render_as_text(tmp_path: Path) -> None:
    root = tmp_path / "runs <&> \"q\" 'q'"
    study = fake_study(root, "esc", [0.5, 0.6, 0.7, 0.65])
    with study.dir.spec_file.open("a", encoding="utf-8") as f:
        f.write(f"# {NASTY}\n")
    files = write_report(study, tmp_path / "out <&>")
    page = files.html.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "<b>" not in page
    assert f"# {ESCAPED}" in page


def test_pooled_sd_recovers_the_sample_sd_from_t_intervals() -> None:
    rng = np.random.default_rng(0)
    groups = [rng.normal(0, 1, n) for n in (3, 5, 2)]
    vals = []
    for g in groups:
        half = stats.t.ppf(0.975, g.size - 1) * g.std(ddof=1) / math.sqrt(g.size)
        vals.append(ValueStat(1.0, Interval(g.mean(), g.mean() - half, g.mean() + half, g.size)))
    pooled = sum(((g - g.mean()) ** 2).sum() for g in groups) / sum(g.size - 1 for g in groups)
    got = _pooled_sd(vals)
    assert got is not None
    assert got == pytest.approx(math.sqrt(pooled), rel=1e-9)
    assert _pooled_sd([ValueStat(1.0, Interval(1.0, math.nan, math.nan, 1))]) is None
