"""The demo platform: deterministic, realistic, importable, with exact ground truth."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from typer.testing import CliRunner

from consentry.cli.main import app
from consentry.platform.canonical import import_canonical
from consentry.platform.demo import generate
from consentry.platform.demo.generator import FILES
from consentry.platform.demo.pii import iban_valid, luhn_valid
from consentry.workspace import Workspace

from .conftest import read_jsonl

POSTS = 6_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "platform"
    generate(out, seed=11, posts=POSTS, accounts=150)
    return out


@pytest.fixture(scope="module")
def content(demo: Path) -> list[dict[str, Any]]:
    return read_jsonl(demo / "content.jsonl")


def digest(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in FILES}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", seed=5, posts=1500).out
    b = generate(tmp_path / "b", seed=5, posts=1500).out
    c = generate(tmp_path / "c", seed=6, posts=1500).out
    assert digest(a) == digest(b)
    assert digest(a)["content.jsonl"] != digest(c)["content.jsonl"]


def test_files_and_counts(demo: Path, content: list[dict[str, Any]]) -> None:
    assert sorted(p.name for p in demo.iterdir()) == sorted(FILES)
    assert len(content) == POSTS
    assert len(read_jsonl(demo / "accounts.jsonl")) == 150
    readme = (demo / "README.md").read_text("utf-8")
    assert "ground_truth.jsonl" in readme and f"{POSTS:,}" in readme


def test_accounts_are_varied(demo: Path) -> None:
    accounts = read_jsonl(demo / "accounts.jsonl")
    countries = Counter(a["country"] for a in accounts)
    assert {"FR", "US", "GB", "DE"} <= set(countries) and len(countries) >= 6
    births = [a["birth_date"] for a in accounts]
    assert any(b is None for b in births)
    today = date(2025, 6, 30)
    ages = [(today - date.fromisoformat(b)).days / 365.25 for b in births if b]
    assert any(age < 18 for age in ages) and any(age >= 18 for age in ages)
    assert any(a["protected"] for a in accounts)
    assert {"active"} < {a["status"] for a in accounts}
    assert len({a["handle"].lower() for a in accounts}) == len(accounts)
    assert all(isinstance(a["id"], str) and int(a["id"]) > 2**53 for a in accounts)


def test_content_has_every_kind_and_links(content: list[dict[str, Any]]) -> None:
    kinds = Counter(c["kind"] for c in content)
    assert set(kinds) == {
        "post",
        "reply",
        "quote",
        "repost",
        "dm",
        "assistant_prompt",
        "assistant_response",
    }
    assert kinds["post"] > kinds["reply"] > kinds["quote"]
    ids = {c["id"] for c in content}
    for c in content:
        for ref in ("in_reply_to", "quote_of", "repost_of"):
            if ref in c:
                assert c[ref] in ids and c[ref] < c["id"]  # an earlier item
    reposts = [c for c in content if c["kind"] == "repost"]
    assert all(c["text"].startswith("RT @") for c in reposts)
    conversations: dict[str, list[str]] = {}
    for c in content:
        if c["kind"].startswith("assistant"):
            assert c["visibility"] == "direct"
            conversations.setdefault(c["conversation_id"], []).append(c["kind"])
    assert conversations
    for turns in conversations.values():
        assert turns[0] == "assistant_prompt" and turns.count("assistant_prompt") == turns.count(
            "assistant_response"
        )
    assert all(c["visibility"] == "direct" for c in content if c["kind"] == "dm")
    assert 0 < sum("deleted_at" in c for c in content) < len(content) * 0.05
    assert {c["lang"] for c in content} >= {"fr", "en", "de"}


def test_ground_truth_spans_point_at_their_values(
    demo: Path, content: list[dict[str, Any]]
) -> None:
    texts = {c["id"]: c["text"] for c in content}
    handles = {a["handle"]: a["id"] for a in read_jsonl(demo / "accounts.jsonl")}
    truth = read_jsonl(demo / "ground_truth.jsonl")
    types = Counter(t["type"] for t in truth)
    assert set(types) == {
        "handle",
        "url",
        "email",
        "phone",
        "iban",
        "card",
        "ip",
        "name",
        "hashtag",
        "cashtag",
    }
    for t in truth:
        assert texts[t["content_id"]][t["start"] : t["end"]] == t["value"]
        if t["type"] == "handle":
            owner = handles.get(t["value"][1:])
            assert t["account_id"] == owner  # null exactly for handles not on the platform
        else:
            assert t["account_id"] is None
    assert any(t["type"] == "handle" and t["account_id"] is None for t in truth)
    # Most posts carry no personal data at all.
    with_pii = {
        t["content_id"]
        for t in truth
        if t["type"] in {"email", "phone", "iban", "card", "ip", "name"}
    }
    assert 0.02 < len(with_pii) / len(content) < 0.25


def test_planted_values_pass_real_checks(demo: Path) -> None:
    truth = read_jsonl(demo / "ground_truth.jsonl")
    by_type: dict[str, list[str]] = {}
    for t in truth:
        by_type.setdefault(t["type"], []).append(t["value"])
    assert all(iban_valid(v) for v in by_type["iban"])
    assert all(luhn_valid(v) for v in by_type["card"])
    for value in by_type["phone"]:
        region = "US" if value.startswith("(") or value[3:4] == "-" else "FR"
        if value.startswith("07") and " " in value and len(value.split()[0]) == 5:
            region = "GB"
        elif value.startswith("01") and len(value.split()[0]) == 4:
            region = "DE"
        number = phonenumbers.parse(value, region)
        assert phonenumbers.is_valid_number(number), value
    assert all("@" in v and "." in v.split("@")[1] for v in by_type["email"])
    assert all(v.startswith(("http://", "https://")) for v in by_type["url"])


def test_consent_history_is_rich(demo: Path) -> None:
    decisions = read_jsonl(demo / "consent.jsonl")
    assert {d["decision"] for d in decisions} == {"grant", "deny"}
    assert {"web", "app"} <= {d["source"] for d in decisions}
    assert any(d.get("scope") == "assistant" and d["decision"] == "deny" for d in decisions)
    assert any(d["purpose"] == "share" and d.get("recipient") for d in decisions)
    assert any(d["purpose"] == "share" and not d.get("recipient") for d in decisions)
    per_account: dict[str, list[dict[str, Any]]] = {}
    for d in decisions:
        per_account.setdefault(d["account_id"], []).append(d)
    # Withdrawals: a train grant followed later by a train denial (unscoped).
    assert any(
        [x["decision"] for x in ds if x["purpose"] == "train" and "scope" not in x][:2]
        == ["grant", "deny"]
        for ds in per_account.values()
    )
    for ds in per_account.values():
        assert [d["at"] for d in ds] == sorted(d["at"] for d in ds)


def test_the_demo_imports_without_a_single_rejection(demo: Path, tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    report = import_canonical(ws, demo)
    assert report.total.rejected == 0
    assert report.by_kind["content"].imported == POSTS


def test_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "generate", "--out", str(tmp_path / "d"), "--seed", "3", "--posts", "500"]
    )
    assert result.exit_code == 0, result.output
    assert "500 items" in result.output
    assert len((tmp_path / "d" / "content.jsonl").read_text("utf-8").splitlines()) == 500
    bad = CliRunner().invoke(
        app, ["demo", "generate", "--out", str(tmp_path / "e"), "--accounts", "0"]
    )
    assert bad.exit_code == 2


def test_zero_posts(tmp_path: Path) -> None:
    summary = generate(tmp_path / "z", seed=1, posts=0, accounts=3)
    assert (tmp_path / "z" / "content.jsonl").read_text("utf-8") == ""
    assert summary.accounts == 3


def test_lines_are_plain_json(demo: Path) -> None:
    # Lines are written by hand for speed: every one must still be valid JSON.
    for name in ("accounts.jsonl", "content.jsonl", "interactions.jsonl", "consent.jsonl"):
        for line in (demo / name).read_text("utf-8").splitlines():
            assert isinstance(json.loads(line), dict)
