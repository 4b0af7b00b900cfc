"""Real exports people published, imported end to end and built into a snapshot.

They live in ``shared/conformance/real-exports/`` beside the repository, each with its licence
beside it. A plain clone has no ``shared/``: these tests skip,
saying so; under ``CI=true`` they fail, so that CI can never pass by skipping them. Nothing of
their content is copied here: the oracle reads the raw files itself (plain ``json`` and
``zstandard``), independently of the importers, and the assertions are about counts, ids and
the absence of words.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import zstandard

from consentry.model import ConsentDecision, Decision, Source
from consentry.platform.reddit import import_reddit
from consentry.platform.report import ImportReport
from consentry.platform.sources import ParsedRecord
from consentry.platform.x_archive import import_x_archive, parse_x_archive
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_EXPORTS = REPO_ROOT.parent / "shared" / "conformance" / "real-exports"
#: Fragments shorter than this could occur in anyone's words by chance.
FRAGMENT = 24


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def real_export(rel: str) -> Path:
    """The export's path; skips (fails under ``CI=true``) when the shared folder is absent."""
    path = REAL_EXPORTS / rel
    if not path.exists():
        reason = f"real exports not found at {path}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the shared folder must be present)")
        pytest.skip(reason)
    return path


# ---- building ------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    record_ids: set[str]
    texts: list[str]
    counts: dict[str, Any]
    card: str
    pseudonyms: Pseudonymiser = field(repr=False)

    def ids(self, content_ids: set[str]) -> set[str]:
        return {self.pseudonyms.content(c) for c in content_ids}

    def holds_words_of(self, text: str, published: list[str] = []) -> bool:  # noqa: B006
        """Whether any record holds a long fragment of ``text`` (texts are scrubbed, so whole
        texts would not match; a fragment of someone's words would) that is not also in one of
        the ``published`` texts (an author may say in a DM what they also posted)."""
        fragments = [
            f for f in _fragments(text) if len(f) >= FRAGMENT and not any(f in p for p in published)
        ]
        return any(f in t for f in fragments for t in self.texts)


def _fragments(text: str) -> Iterator[str]:
    # Runs of text between the parts a scrubber replaces (links, handles, numbers).
    for line in text.splitlines():
        words = [w for w in line.split() if not any(c in w for c in "@/:#") and not w.isdigit()]
        if words:
            yield " ".join(words)


def grant_and_build(ws: Workspace, authors: set[str], tmp_path: Path) -> Snapshot:
    at = datetime.now(UTC)
    ledger = ws.ledger()
    try:
        if authors:
            ledger.append(
                [
                    ConsentDecision(a, "train", Decision.GRANT, at, source=Source.CLI)
                    for a in sorted(authors)
                ]
            )
        result = workspace_builder(ws, ledger, recipient=None).build(
            BuildSpec(purpose="train", out=tmp_path / "snap")
        )
    finally:
        ledger.close()
    records = pq.read_table(result.out / "data").to_pylist()
    return Snapshot(
        {r["record_id"] for r in records},
        [r["text"] for r in records if r["text"]],
        result.manifest.counts,
        (result.out / "README.md").read_text("utf-8"),
        Pseudonymiser(ws.secret(), None),
    )


def assert_adds_up(report: ImportReport, read: int, rejected: int) -> None:
    t = report.total
    assert t.adds_up
    assert (t.read, t.imported + t.unchanged, t.rejected) == (read, read - rejected, rejected)


# ---- the X archive (2026) ------------------------------------------------------------------------


def ytd_array(path: Path) -> list[Any]:
    """A ``window.YTD.<name>.partN = [ … ]`` file's array, read by hand."""
    text = path.read_text("utf-8")
    value: list[Any] = json.loads(text[text.index("=") + 1 :])
    return value


@dataclass
class XOracle:
    owner: str
    tweets: list[dict[str, Any]]
    deleted: list[dict[str, Any]]
    sent: list[dict[str, Any]]  # DMs the owner wrote
    received: list[dict[str, Any]]  # DMs others wrote: their words
    likes: list[dict[str, Any]]

    @classmethod
    def read(cls, root: Path) -> XOracle:
        data = root / "data"
        owner = ytd_array(data / "account.js")[0]["account"]["accountId"]
        messages = [
            m["messageCreate"]
            for name in ("direct-messages.js", "direct-messages-group.js")
            if (data / name).exists()
            for conv in ytd_array(data / name)
            for m in conv["dmConversation"]["messages"]
            if "messageCreate" in m
        ]
        return cls(
            owner,
            [t["tweet"] for t in ytd_array(data / "tweets.js")],
            [t["tweet"] for t in ytd_array(data / "deleted-tweets.js")],
            [m for m in messages if m["senderId"] == owner],
            [m for m in messages if m["senderId"] != owner],
            [x["like"] for x in ytd_array(data / "like.js")],
        )

    @staticmethod
    def is_retweet(tweet: dict[str, Any]) -> bool:
        return bool(tweet["full_text"].startswith("RT @") or "retweeted_status" in tweet)


@pytest.fixture(scope="module")
def x_archive() -> Path:
    return real_export("x/milahu-2026")


def test_the_x_archive_imports_every_valid_item(x_archive: Path, tmp_path: Path) -> None:
    oracle = XOracle.read(x_archive)
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, x_archive)
    read = 1 + len(oracle.tweets) + len(oracle.deleted) + len(oracle.sent + oracle.received)
    read += len(oracle.likes)
    # Only the messages others sent are refused: no account is invented for a correspondent.
    assert_adds_up(report, read, rejected=len(oracle.received))
    assert report.by_kind["interaction"].imported == len(oracle.likes)
    assert report.warnings == {}  # the archive's account is complete: nothing was derived


def test_the_x_archive_cut_short_keeps_what_was_read_and_fails(
    x_archive: Path, tmp_path: Path
) -> None:
    """A download broken partway (the file ends inside a tweet): the tweets before the cut
    are imported, and the import says the file was not read to its end and fails, so that
    no one takes the copy for the whole archive."""
    copy = tmp_path / "archive"
    shutil.copytree(x_archive, copy)
    tweets = copy / "data" / "tweets.js"
    text = tweets.read_text("utf-8")
    tweets.write_text(text[: len(text) * 2 // 3], "utf-8")
    oracle = XOracle.read(x_archive)
    before_cut = [t for t in oracle.tweets if json.dumps(t["id_str"]) in text[: len(text) * 2 // 3]]
    report = import_x_archive(Workspace.init(tmp_path / "ws"), copy)
    assert list(report.incomplete) == ["data/tweets.js"]
    assert "not read" in report.incomplete["data/tweets.js"]
    assert report.failed and report.committed
    imported = report.counts("data/tweets.js", "content").imported
    # Every tweet whose id precedes the cut but the one the cut falls in.
    assert len(before_cut) - 1 <= imported <= len(before_cut) < len(oracle.tweets)


def test_the_x_archive_snapshot_holds_the_owners_public_words_only(
    x_archive: Path, tmp_path: Path
) -> None:
    oracle = XOracle.read(x_archive)
    ws = Workspace.init(tmp_path / "ws")
    import_x_archive(ws, x_archive)
    own = {t["id_str"] for t in oracle.tweets if not oracle.is_retweet(t)}
    retweets = [t for t in oracle.tweets if oracle.is_retweet(t)]

    nobody = grant_and_build(ws, set(), tmp_path / "before")
    assert nobody.record_ids == set()  # opt-in: nothing before the owner says yes
    assert nobody.counts["excluded"]["no_consent"] == len(own) + len(retweets)

    snap = grant_and_build(ws, {oracle.owner}, tmp_path / "after")
    excluded = snap.counts["excluded"]
    assert excluded["direct_message"] == len(oracle.sent)
    assert excluded["content_deleted"] == len(oracle.deleted)
    # Retweets whose originals the archive does not hold: their own reason, not deletions.
    assert excluded["original_unavailable"] == len(retweets)
    assert "`original_unavailable` counts" in snap.card
    # Every own public tweet is in, but for texts already seen (the earliest of each is kept).
    assert snap.record_ids <= snap.ids(own)
    assert len(own) - len(snap.record_ids) == excluded.get("duplicate", 0)
    assert snap.counts["included"] == len(snap.record_ids)

    # No one else's words: DMs either way, the retweeted texts, the liked tweets' texts.
    posted = [t["full_text"] for t in oracle.tweets if t["id_str"] in own]
    for message in oracle.sent + oracle.received:
        assert not snap.holds_words_of(message["text"], posted)
    for tweet in retweets:
        assert not snap.holds_words_of(tweet["full_text"].split(":", 1)[-1])
    for like in oracle.likes:
        assert not snap.holds_words_of(like.get("fullText", ""))
    assert snap.ids({t["id_str"] for t in oracle.deleted}).isdisjoint(snap.record_ids)


def test_the_x_archive_quotes_are_recognised(x_archive: Path) -> None:
    oracle = XOracle.read(x_archive)
    by_id = {t["id_str"]: t for t in oracle.tweets + oracle.deleted}
    items = {
        p.record["id"]: p.record
        for p in parse_x_archive(x_archive)
        if isinstance(p, ParsedRecord) and p.kind == "content"
    }
    quoting = {i: r for i, r in items.items() if r["quote_of"] is not None}
    assert quoting  # this archive has quotes, though none says `is_quote_status`
    assert not any("is_quote_status" in t for t in oracle.tweets)
    for tweet_id, record in quoting.items():
        tweet = by_id[tweet_id]
        links = [u for u in tweet["entities"]["urls"] if record["quote_of"] in u["expanded_url"]]
        assert links and links[-1]["url"] in tweet["full_text"]
        assert record["kind"] in ("quote", "reply")
        assert record["text"] == tweet["full_text"].replace("&amp;", "&").replace(
            "&lt;", "<"
        ).replace("&gt;", ">")  # the quoter's words and link, nothing of the quoted tweet


# ---- Reddit: an arctic_shift extract (2024) and a zstd subreddit dump (2023) ---------------------


def reddit_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a dump file or folder, read by hand (zstd by its magic number)."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    rows: list[dict[str, Any]] = []
    for file in files:
        if file.suffix not in (".json", ".jsonl", ".zst"):
            continue
        raw = file.read_bytes()
        if raw[:4] == b"\x28\xb5\x2f\xfd":
            reader = zstandard.ZstdDecompressor(max_window_size=1 << 31).stream_reader(
                io.BytesIO(raw)
            )
            raw = reader.read()
        rows += [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return rows


def _author(row: dict[str, Any]) -> str:
    name = str(row["author"])
    return "reddit:[deleted]" if name in ("[deleted]", "[removed]") else f"reddit:{name.lower()}"


def _item_id(row: dict[str, Any]) -> str:
    return ("t3_" if "title" in row else "t1_") + str(row["id"])


def _deleted(row: dict[str, Any]) -> bool:
    markers = ("[deleted]", "[removed]")
    return row.get("body") in markers or row.get("selftext") in markers or row["author"] in markers


@pytest.mark.parametrize("rel", ["reddit/arcticshift-2024-01", "reddit/germanrap-2023"])
def test_a_reddit_dump_imports_every_item_and_only_consenting_authors_reach_a_snapshot(
    rel: str, tmp_path: Path
) -> None:
    path = real_export(rel)
    if path.is_dir() and rel.endswith("germanrap-2023"):
        path = path / "GermanRap_comments_small.zst"
    rows = reddit_rows(path)
    authors = sorted({_author(r) for r in rows})
    ws = Workspace.init(tmp_path / "ws")
    report = import_reddit(ws, path)
    assert_adds_up(report, len(authors) + len(rows), rejected=0)
    assert report.by_kind["content"].imported == len(rows)

    people = [a for a in authors if a != "reddit:[deleted]"]
    consenting = set(people[::2])
    snap = grant_and_build(ws, consenting, tmp_path)
    eligible = {_item_id(r) for r in rows if _author(r) in consenting and not _deleted(r)}
    assert eligible  # the test means something
    assert snap.record_ids <= snap.ids(eligible)
    assert len(eligible) - len(snap.record_ids) == snap.counts["excluded"].get("duplicate", 0)
    others = [r for r in rows if _author(r) not in consenting]
    assert snap.ids({_item_id(r) for r in others}).isdisjoint(snap.record_ids)
    for row in others:
        words = row.get("body") or f"{row.get('title', '')}\n{row.get('selftext', '')}"
        assert not snap.holds_words_of(words)
    # Whoever said yes is there, by count: every consenting author with an eligible item.
    assert snap.counts["included"] == len(snap.record_ids) > 0
