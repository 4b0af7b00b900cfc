"""Language tags: one normaliser for every import path; a bad tag never costs its item."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.content import ContentStore
from consentry.platform.canonical import import_canonical
from consentry.platform.ingest import Ingest
from consentry.platform.language import normalise_language
from consentry.workspace import Workspace

from .conftest import MakeExport, account, item


@pytest.mark.parametrize(
    ("given_as", "tag", "noted"),
    [
        ("fr", "fr", False),
        ("en-US", "en-US", False),
        ("zhCn", "zh-CN", True),  # Mastodon 3.x contentMap keys
        ("zhHantTw", "zh-Hant-TW", True),
        ("en_US", "en-US", True),  # POSIX locales
        ("EN-us", "en-US", True),
        ("pt-br", "pt-BR", True),
        ("iw", "he", True),  # deprecated code, replaced
        ("es_419", "es-419", True),
        ("und", "und", False),
        ("français", None, True),
        ("xx", None, True),
        ("123", None, True),
        ("", None, False),
    ],
)
def test_a_language_is_read_in_its_canonical_form_or_dropped(
    given_as: str, tag: str | None, noted: bool
) -> None:
    read = normalise_language(given_as)
    assert read.tag == tag
    assert (read.note is not None) == noted
    if read.note is not None:
        assert repr(given_as) in read.note


@given(st.text(max_size=12))
def test_the_normaliser_never_fails_and_is_idempotent(value: str) -> None:
    read = normalise_language(value)
    if read.tag is not None:
        assert normalise_language(read.tag) == type(read)(read.tag)


def _langs(workspace: Workspace) -> dict[str, str | None]:
    store = ContentStore(workspace.content_dir)
    rows = [r for b in store.scan(["content_id", "lang"]) for r in b.to_pylist()]
    return {r["content_id"]: r["lang"] for r in rows}


def test_a_canonical_export_keeps_every_item_and_counts_what_it_changed(
    workspace: Workspace, make_export: MakeExport
) -> None:
    rows = [
        item(1, lang="zhCn"),
        item(2, lang="français"),
        item(3, lang="en_US"),
        item(4, lang="zhCn"),
        item(5),
    ]
    report = import_canonical(workspace, make_export(accounts=[account(1)], content=rows))
    content = report.by_file["content.jsonl"]
    assert (content.read, content.imported, content.rejected) == (5, 5, 0)
    assert _langs(workspace) == {
        "90001": "zh-CN",
        "90002": None,
        "90003": "en-US",
        "90004": "zh-CN",
        "90005": "fr",
    }
    assert {k: (w.count, w.first_line) for k, w in report.warnings.items()} == {
        ("content.jsonl", "lang", "language 'zhCn' read as 'zh-CN'"): (2, 1),
        ("content.jsonl", "lang", "not a language tag: 'français'; language dropped"): (1, 2),
        ("content.jsonl", "lang", "language 'en_US' read as 'en-US'"): (1, 3),
    }


def test_the_per_record_path_normalises_the_same_way(workspace: Workspace) -> None:
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(1, lang="zhCn"), file="c", line=7)
        ingest.content(item(2, lang="no tag"), file="c", line=8)
        report = ingest.finish()
    assert report.total.imported == 3 and report.warned == 2
    assert _langs(workspace) == {"90001": "zh-CN", "90002": None}


def test_the_cli_report_shows_the_warnings(tmp_path: object, make_export: MakeExport) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from consentry.cli.main import app

    root = Path(str(tmp_path)) / "ws"
    Workspace.init(root)
    export = make_export(accounts=[account(1)], content=[item(1, lang="zhCn")])
    result = CliRunner().invoke(
        app, ["import", "canonical", str(export), "-w", str(root)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "warning: content.jsonl:1: lang: language 'zhCn' read as 'zh-CN' (1×; kept)" in (
        result.output
    )


def test_distinct_warnings_are_capped_so_hostile_input_cannot_grow_the_report(
    workspace: Workspace, make_export: MakeExport
) -> None:
    from consentry.platform.report import MAX_WARNING_KINDS, OTHER_WARNINGS

    n = MAX_WARNING_KINDS + 50
    rows = [item(i, lang=f"zz-{i:05d}-nope") for i in range(1, n + 1)]
    report = import_canonical(workspace, make_export(accounts=[account(1)], content=rows))
    assert report.total.imported == n + 1 and report.warned == n
    assert len(report.warnings) == MAX_WARNING_KINDS + 1
    assert report.warnings[("content.jsonl", "lang", OTHER_WARNINGS)].count == 50
