"""Reports: a study's findings (and a strategy comparison) as markdown and self-contained HTML.

Figures are matplotlib PNGs (Agg backend) written without timestamps; the HTML
embeds them as base64 and loads nothing from outside, so it opens offline.
"""

from __future__ import annotations

from sweeplab.report._compare import write_compare_report
from sweeplab.report._study import ReportFiles, write_report

__all__ = [
    "ReportFiles",
    "write_compare_report",
    "write_report",
]
