"""A report as data (sections of paragraphs, tables, figures, code) rendered to md and HTML."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from sweeplab.store import write_text

__all__ = ["Code", "Document", "Figure", "Paragraph", "Section", "Table", "render"]


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "paragraph"


@dataclass(frozen=True)
class Code:
    """A code block; ``collapsed`` ones are a closed ``<details>`` in HTML, titled ``summary``."""

    text: str
    lang: str = ""
    kind: str = "code"
    collapsed: bool = False
    summary: str = ""


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    kind: str = "table"


@dataclass(frozen=True)
class Figure:
    """A PNG under ``figures/``; the HTML embeds its bytes, the markdown links it."""

    file: str
    caption: str
    kind: str = "figure"


Block = Paragraph | Code | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, block: Block) -> Section:
        self.blocks.append(block)
        return self


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sweeplab.report", "templates"),
        # The HTML template is ``report.html.j2``: match the whole suffix, so study-file
        # text and parameter values are escaped (a bare ``html`` never matched it).
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False
        ),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mdcell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return env


def render(doc: Document, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and a self-contained ``report.html`` into ``out_dir``."""
    figures: dict[str, str] = {}
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                data = (out_dir / "figures" / block.file).read_bytes()
                figures[block.file] = base64.b64encode(data).decode("ascii")
    env = _env()
    md = env.get_template("report.md.j2").render(doc=doc)
    html = env.get_template("report.html.j2").render(doc=doc, figures=figures)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_text(md_path, md)
    write_text(html_path, html)
    return md_path, html_path
