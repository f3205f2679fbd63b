"""The HTML report in headless Chromium: no console errors, no network, every image renders."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

from sweeplab.report import write_report
from sweeplab.store import Study

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: int = 0


def load(html: Path, screenshot: Path, profile: Path) -> PageCheck:
    """Open ``html`` from disk, record console errors and every request but its own."""
    check = PageCheck()
    url = html.resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda m: check.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: check.console_errors.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    check.requests.append(r.url)
                    if r.url != url and not r.url.startswith("data:")
                    else None
                ),
            )
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            sizes = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
            )
            check.images = len(sizes)
            check.broken_images = sum(1 for s in sizes if s <= 0)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return check


def test_report_html_in_chromium(ofat_study: Study, tmp_path: Path) -> None:
    files = write_report(ofat_study, tmp_path / "report")
    shot = tmp_path / "report" / "screenshot.png"
    check = load(files.html, shot, tmp_path / "profile")
    assert check.console_errors == []
    assert check.requests == []
    assert check.images == len(files.figures) > 0
    assert check.broken_images == 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_checker_catches_requests_errors_and_broken_images(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><img src='http://127.0.0.1:9/x.png'><img src='data:image/png;base64,AAAA'>"
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    check = load(bad, tmp_path / "bad.png", tmp_path / "profile")
    assert check.requests == ["http://127.0.0.1:9/x.png"]
    assert "boom" in check.console_errors
    assert check.images == 2
    assert check.broken_images == 2
