"""``generate``: write a whole demo platform to a folder, in the canonical export format.

    OUT/accounts.jsonl  content.jsonl  interactions.jsonl  consent.jsonl
    OUT/ground_truth.jsonl   every planted span: content_id, type, start, end, value, account_id
    OUT/README.md            what is in it, for this seed and size

Deterministic: the same seed and sizes give byte-identical files (fixed platform clock, seeded
numpy and ``random`` streams, one per part so that parts do not disturb each other).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import numpy as np

from consentry.outputs import check_output_folder
from consentry.platform.demo.accounts import (
    PLATFORM_NOW,
    Accounts,
    account_lines,
    consent_lines,
    make_accounts,
    minor_birth_cutoff,
)
from consentry.platform.demo.content import (
    RATES,
    TYPES,
    UNKNOWN_HANDLE_SHARE,
    ContentGenerator,
    Tally,
)
from consentry.platform.demo.pools import build_pools

DEFAULT_POSTS: Final = 30_000
#: Posts per account when ``accounts`` is not given: an active platform's order of magnitude.
POSTS_PER_ACCOUNT: Final = 100
FILES: Final = (
    "accounts.jsonl",
    "content.jsonl",
    "interactions.jsonl",
    "consent.jsonl",
    "ground_truth.jsonl",
    "README.md",
)
_BUFFER: Final = 1 << 20
#: The first line of every demo platform's README.md: how a folder is known to be one.
README_TITLE: Final = "# Demo platform (synthetic)"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    out: Path
    seed: int
    accounts: int
    posts: int
    decisions: int
    tally: Tally


def is_demo_output(folder: Path) -> bool:
    """Whether ``folder`` holds a demo platform written by ``generate`` (which may rewrite it)."""
    try:
        with (folder / "README.md").open(encoding="utf-8") as fh:
            return fh.readline().rstrip("\n") == README_TITLE
    except (OSError, UnicodeDecodeError):
        return False


def default_accounts(posts: int) -> int:
    return max(20, posts // POSTS_PER_ACCOUNT)


def generate(
    out: Path | str,
    *,
    seed: int = 0,
    posts: int = DEFAULT_POSTS,
    accounts: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write a demo platform of ``posts`` content items (all kinds) by ``accounts`` accounts."""
    if posts < 0:
        raise ValueError("posts must be zero or more")
    n_accounts = default_accounts(posts) if accounts is None else accounts
    if n_accounts < 1:
        raise ValueError("a platform needs at least one account")
    folder = Path(out)
    # Its files are rewritten in place: only an empty folder or an earlier demo output.
    check_output_folder(
        folder,
        role="--out",
        workspace=None,
        ours=is_demo_output,
        what="a demo platform",
        force=None,
    )
    folder.mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(3)
    pools = build_pools(seed)
    people: Accounts = make_accounts(
        n_accounts, np.random.default_rng(seeds[0]), random.Random(seed * 31 + 1), pools
    )
    with _open(folder / "accounts.jsonl") as fh:
        fh.writelines(account_lines(people))
    decisions = 0
    with _open(folder / "consent.jsonl") as fh:
        for line in consent_lines(people, random.Random(seed * 31 + 2)):
            fh.write(line)
            decisions += 1
    generator = ContentGenerator(
        people, pools, np.random.default_rng(seeds[1]), random.Random(seed * 31 + 3), posts
    )
    with (
        _open(folder / "content.jsonl") as content,
        _open(folder / "interactions.jsonl") as likes,
        _open(folder / "ground_truth.jsonl") as truth,
    ):
        tally = generator.generate(content, likes, truth, progress)
    summary = DemoSummary(folder, seed, n_accounts, posts, decisions, tally)
    (folder / "README.md").write_text(readme(summary, people), "utf-8")
    return summary


def _open(path: Path) -> TextIO:
    # newline="\n": the same bytes on every platform.
    return path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER)


def readme(s: DemoSummary, people: Accounts) -> str:
    t = s.tally
    adult_cutoff = minor_birth_cutoff().isoformat()  # ISO dates compare as text
    minors = sum(1 for b in people.birth_dates if b is not None and b > adult_cutoff)
    unknown_age = sum(1 for b in people.birth_dates if b is None)
    countries: dict[str, int] = {}
    for c in people.countries:
        countries[c or "unknown"] = countries.get(c or "unknown", 0) + 1
    statuses: dict[str, int] = {}
    for st in people.statuses:
        statuses[st] = statuses.get(st, 0) + 1
    kinds = "\n".join(f"| {k} | {n:,} |" for k, n in t.kinds.items())
    spans = "\n".join(f"| {k} | {n:,} |" for k, n in t.spans.items())
    rates = "\n".join(
        f"| {k} | " + " | ".join(f"{rate:.1%}" for rate in v) + " |" for k, v in RATES.items()
    )
    top = ", ".join(f"{c} {n:,}" for c, n in sorted(countries.items(), key=lambda x: -x[1]))
    status_text = ", ".join(f"{k} {n:,}" for k, n in statuses.items())
    return f"""{README_TITLE}

Generated by `consentry demo generate --seed {s.seed} --accounts {s.accounts} --posts {s.posts}`.
Everything here is invented (Faker pools, random numbers); any resemblance to a real person,
phone number, IBAN or card is chance. The same seed and sizes always give the same bytes.
The platform's clock stops at {PLATFORM_NOW.isoformat()}.

## Files (canonical export format, see Consentry's docs/canonical-format.md)

| file | rows |
|---|---|
| accounts.jsonl | {s.accounts:,} |
| content.jsonl | {s.posts:,} |
| interactions.jsonl | {t.likes:,} |
| consent.jsonl | {s.decisions:,} |
| ground_truth.jsonl | {sum(t.spans.values()):,} |

Import it with `consentry import canonical path/to/this/folder`.

## Accounts
Countries: {top}. Statuses: {status_text}.
Protected: {int(people.protected.sum()):,}. Minors (under 18 on the platform's date):
{minors:,}; birth date unknown: {unknown_age:,}. Languages: French (FR, BE, CH, a quarter of
CA), German (DE), English elsewhere; 5% of posts are in English whatever the account's language.

## Content
| kind | items |
|---|---|
{kinds}

Replies point at recent items (`in_reply_to`) and usually start with the parent's @handle;
quotes carry `quote_of`; reposts carry `repost_of` and the original's text as `RT @handle: …`
(someone else's words); assistant conversations are prompt/response pairs sharing a
`conversation_id`, owned by the account, visibility `direct`. {t.deleted:,} items carry a
`deleted_at`. Protected accounts' items are `followers` only; a few others are `followers` or
`mentioned`; DMs are `direct`. About one post in ten has media (most photos with alt text).

## Consent history
About 60% of accounts decided something: `train` grants and denials (first decision a grant
55% of the time), changes of mind (withdrawals and denials lifted), `assistant`- and
`interactions`-scoped denials, `fine_tune` and `answer` decisions, `share` grants (half of them
naming a recipient: acme-ai, openlab, northwind-research; some withdrawn later), Global Privacy
Control denials (`source: gpc`) and decisions carried over from an older tool (`import`).
Sources: web, app, api, gpc, import. Notice versions: 2023-11, 2024-07, 2025-03.

## Planted data and ground truth
`ground_truth.jsonl` lists every planted span:
`{{"content_id", "type", "start", "end", "value", "account_id"}}` where `start`/`end` are
code-point offsets into `text` (Python string indices; `text[start:end] == value`), and a span
covers the whole token, sigil included (`@alice`, `#IA`, `$TSLA`). `account_id` is the
platform account of a handle, null for handles that exist nowhere on the platform (about
{UNKNOWN_HANDLE_SHARE:.0%}) and for other types. Reposts repeat the original's spans, shifted.

| type | spans |
|---|---|
{spans}

{t.items_with_pii:,} items carry at least one of email, phone, iban, card, ip or name.
Chance that an item carries each type ({", ".join(TYPES)}), by where it is written:

| where | {" | ".join(TYPES)} |
|---|{"---|" * len(TYPES)}
{rates}

Phone numbers are valid in their country's plan (FR, US/CA, GB, DE; national and international
spellings), IBANs have valid check digits (FR, DE, GB, ES; grouped or compact), card numbers
pass Luhn (Visa, Mastercard, Amex; spaced, dashed or plain), IPs are v4 (some v6).
"""
