"""``consentry report`` as operators run it: JSON, HTML with charts as inline SVG (the right
number of marks, text alternatives, no URL), a PDF that renders to non-blank pages, the art. 30
record alone, and clear errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from tests.cli.conftest import invoker
from tests.report.workspace import ReportWorkspace
from tests.web.html import parse

pytestmark = pytest.mark.slow


def _report(built: ReportWorkspace, *args: str, code: int = 0) -> str:
    result = invoker()("report", "-w", str(built.ws.root), *args, code=code)
    return result.output


def test_json_is_the_figures_and_records_the_verification(built: ReportWorkspace) -> None:
    doc = json.loads(_report(built))
    assert doc["format"] == "consentry-report/1"
    verified = doc["ledger"]["last_verification"]
    assert verified["ok"] is True and verified["entries"] == doc["ledger"]["entries"]
    assert {s["verify"] for s in doc["snapshots"]} == {"ok"}


def test_html_charts_hold_their_marks_alternatives_and_no_url(
    built: ReportWorkspace, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    _report(built, "--format", "html", "--out", str(out))
    text = out.read_text("utf-8")
    assert not re.search(r"https?://", text), re.findall(r"https?://\S+", text)[:3]
    assert "<link" not in text and "<script" not in text
    doc = json.loads(_report(built, "--no-verify"))
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
    # opt-in, decisions, withdrawals, GPC, entries per day, and one per snapshot
    assert len(svgs) == 5 + len(doc["snapshots"])
    for svg in svgs:
        chart_id = re.search(r'\bid="(chart-[^"]+)"', svg)
        assert chart_id and 'role="img"' in svg
        assert f'<title id="{chart_id.group(1)}-t">' in svg and "<desc " in svg
        table = re.search(
            rf'<table class="data" id="{chart_id.group(1)}-data"[^>]*>(.*?)</table>', text, re.S
        )
        assert table is not None
        rows = table.group(1).count("<tr>") - 1  # the header row
        marks = re.search(r'class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
        assert marks is not None
        assert marks.group(1).count("<path") == rows > 0
    page = parse(text)
    for section in ("ledger", "consent", "snapshots", "recipients", "erasures", "models", "ropa"):
        assert page.has_id(section), section
    excluded = doc["snapshots"][0]["excluded"]
    table = re.search(r'id="chart-excluded-0-data"[^>]*>(.*?)</table>', text, re.S)
    assert table is not None and table.group(1).count("<tr>") - 1 == len(excluded)


def test_french_report(built: ReportWorkspace, tmp_path: Path) -> None:
    out = tmp_path / "rapport.html"
    _report(built, "--format", "html", "--lang", "fr", "--out", str(out), "--no-verify")
    text = out.read_text("utf-8")
    assert '<html lang="fr">' in text
    assert "Registre des activités de traitement" in text and "Consentements" in text


def test_pdf_pages_render_non_blank(built: ReportWorkspace, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (make test installs poppler-utils)")
    out = tmp_path / "report.pdf"
    _report(built, "--format", "pdf", "--out", str(out), "--no-verify")
    assert out.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    for png in pages:
        with Image.open(png) as image:
            stat = ImageStat.Stat(image.convert("L"))
        assert stat.extrema[0][0] < 128 and stat.stddev[0] > 5, png  # ink on the page


def test_ropa_alone(built: ReportWorkspace, tmp_path: Path) -> None:
    doc = json.loads(_report(built, "--ropa"))
    assert doc["record"] == "GDPR art. 30(1)"
    assert [a["purpose"] for a in doc["activities"]] == list(built.ws.policy().purposes)
    out = tmp_path / "ropa.html"
    _report(built, "--ropa", "--format", "html", "--out", str(out))
    text = out.read_text("utf-8")
    assert "Record of processing activities" in text and "<svg" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "pdf"), "--format pdf needs --out FILE"),
        (("--since", "2024-13-01"), "--since: not an RFC 3339 time"),
        (("--lang", "de"), "--lang 'de'"),
    ],
)
def test_bad_input_is_named(built: ReportWorkspace, args: tuple[str, ...], message: str) -> None:
    output = _report(built, *args, code=2)
    assert message in output and "Traceback" not in output


def test_out_inside_the_workspace_is_refused(built: ReportWorkspace) -> None:
    output = _report(built, "--out", str(built.ws.root / "r.json"), code=2)
    assert "inside the workspace" in output
