"""Evaluation against planted ground truth, and the scrubber a snapshot build uses."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from consentry.scrub import Pseudonymiser, Span, detect_spans
from consentry.scrub.evaluate import PlantedSpan, evaluate, read_ground_truth
from consentry.scrub.snapshot import snapshot_scrubber


def test_recall_needs_the_whole_span_and_precision_any_overlap() -> None:
    planted = [
        {
            "content_id": "1",
            "type": "email",
            "start": 0,
            "end": 10,
            "value": "a@b.fr",
            "account_id": None,
        },
        {
            "content_id": "1",
            "type": "phone",
            "start": 20,
            "end": 34,
            "value": "",
            "account_id": None,
        },
        {"content_id": "2", "type": "email", "start": 5, "end": 9, "value": "", "account_id": None},
    ]
    detected = {
        "1": [Span(0, 10, "email", ""), Span(20, 30, "phone", "")],  # phone cut short
        "2": [Span(5, 9, "url", "")],  # right place, wrong type
        "3": [Span(0, 3, "email", "")],  # nothing planted there
    }
    scores = evaluate(planted, detected)
    assert (scores["email"].planted, scores["email"].recalled) == (2, 1)
    assert (scores["email"].detected, scores["email"].correct) == (2, 1)
    assert scores["email"].recall == 0.5 and scores["email"].precision == 0.5
    assert scores["phone"].recall == 0.0 and scores["phone"].precision == 1.0
    assert scores["url"].recall is None and scores["url"].precision == 0.0
    assert set(evaluate(planted, detected, types=["phone"])) == {"phone"}


def test_reads_the_demo_platform_ground_truth_format(tmp_path: Path) -> None:
    texts = {"9001": "merci @bob, écris à bob@example.fr"}
    rows = [
        {
            "content_id": "9001",
            "type": "handle",
            "start": 6,
            "end": 10,
            "value": "@bob",
            "account_id": "1002",
        },
        {
            "content_id": "9001",
            "type": "email",
            "start": 20,
            "end": 34,
            "value": "bob@example.fr",
            "account_id": None,
        },
    ]
    path = tmp_path / "ground_truth.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n", "utf-8")
    planted = list(read_ground_truth(path))
    assert planted[0] == PlantedSpan("9001", "handle", 6, 10, "@bob", "1002")
    ids = list(texts)
    detected = dict(zip(ids, detect_spans([texts[i] for i in ids]), strict=True))
    scores = evaluate(planted, detected)
    assert scores["handle"].recall == 1.0 and scores["email"].recall == 1.0
    assert all(texts[p.content_id][p.start : p.end] == p.value for p in planted)


def test_snapshot_scrubber_maps_mentions_to_author_pseudonyms() -> None:
    p = Pseudonymiser(b"x" * 32, "acme")
    accounts = pa.table({"id": ["1001", "1002"], "handle": ["alice", "Bob"]})
    scrub = snapshot_scrubber(accounts, p)
    texts, pii = scrub(pa.array(["@bob tel 06 12 34 56 78", None]))
    author = p.accounts(pa.array(["1002"])).to_pylist()[0]
    assert texts.to_pylist() == [f"@{author} tel <PHONE>", None]
    assert pii.to_pylist() == [["handle", "phone"], []]


@pytest.mark.parametrize("column", ["id", "handle"])
def test_snapshot_scrubber_needs_ids_and_handles(column: str) -> None:
    table = pa.table({"id": ["1"], "handle": ["a"]}).drop_columns([column])
    with pytest.raises(KeyError):
        snapshot_scrubber(table, Pseudonymiser(b"x" * 32))
