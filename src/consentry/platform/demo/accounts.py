"""The demo platform's accounts and their consent histories.

Accounts are held in memory (a few per hundred posts: 100k at 10M posts) because content
needs their handles, languages and creation times; they are numbered in creation order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from consentry.platform.demo.pools import Pools, ascii_fold

#: The demo platform's "now": fixed, so that a seed gives the same bytes on any day.
PLATFORM_NOW: Final = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
PLATFORM_START: Final = datetime(2008, 1, 1, tzinfo=UTC)

Weights = tuple[tuple[str | None, float], ...]
COUNTRIES: Final[Weights] = (
    ("FR", 0.30),
    ("US", 0.22),
    ("GB", 0.10),
    ("DE", 0.10),
    ("CA", 0.07),
    ("BE", 0.05),
    ("CH", 0.03),
    ("ES", 0.03),
    ("IT", 0.03),
    ("BR", 0.02),
    ("JP", 0.02),
    ("IE", 0.02),
    (None, 0.01),
)
LANG_OF: Final = {"FR": "fr", "BE": "fr", "CH": "fr", "DE": "de"}
STATUSES: Final[Weights] = (
    ("active", 0.92),
    ("deactivated", 0.03),
    ("suspended", 0.02),
    ("deleted", 0.03),
)
RECIPIENTS: Final = ("acme-ai", "openlab", "northwind-research")
NOTICES: Final = (
    (datetime(2023, 11, 1, tzinfo=UTC), "2023-11"),
    (datetime(2024, 7, 1, tzinfo=UTC), "2024-07"),
    (datetime(2025, 3, 1, tzinfo=UTC), "2025-03"),
)
# Consent prompts only exist from the first notice on.
CONSENT_START: Final = NOTICES[0][0]


def account_id(i: int) -> str:
    """19-digit ids (beyond 2**53: they only survive as strings)."""
    return str(1_100_000_000_000_000_000 + i * 1_000_003)


#: The account the README's tour uses: the platform's first (and oldest, so it writes from the
#: start), there for any seed and size, and always an active, public adult with a known birth
#: date, so that every step of the tour has something to show.
TOUR_ACCOUNT: Final = account_id(0)
TOUR_BIRTH_DATE: Final = "1985-04-12"


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Accounts:
    ids: list[str]
    handles: list[str]
    display_names: list[str]
    created_s: npt.NDArray[np.int64]  # epoch seconds, ascending
    countries: list[str | None]
    langs: list[str]
    birth_dates: list[str | None]
    protected: npt.NDArray[np.bool_]
    statuses: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def _pick(rng: np.random.Generator, table: Weights, n: int) -> list[str | None]:
    values = [v for v, _ in table]
    p = np.array([w for _, w in table])
    idx = rng.choice(len(values), size=n, p=p / p.sum())
    return [values[i] for i in idx]


def make_accounts(n: int, rng: np.random.Generator, r: random.Random, pools: Pools) -> Accounts:
    start, end = PLATFORM_START.timestamp(), datetime(2025, 3, 1, tzinfo=UTC).timestamp()
    # Most accounts predate the content window (2019 on): platforms are older than their posts.
    early = rng.random(n) < 0.85
    cut = datetime(2019, 1, 1, tzinfo=UTC).timestamp()
    created = np.where(early, rng.uniform(start, cut, n), rng.uniform(cut, end, n)).astype(np.int64)
    created.sort()
    countries = _pick(rng, COUNTRIES, n)
    statuses = [str(s) for s in _pick(rng, STATUSES, n)]
    protected = rng.random(n) < 0.07
    age_kind = rng.random(n)  # < 0.08 unknown, < 0.14 minor, else adult
    today = PLATFORM_NOW.date()
    ids: list[str] = []
    handles: list[str] = []
    names: list[str] = []
    births: list[str | None] = []
    langs: list[str] = []
    taken: set[str] = set()
    for i in range(n):
        country = countries[i]
        lang = LANG_OF.get(country or "", "en")
        if country == "CA" and r.random() < 0.25:
            lang = "fr"
        first = r.choice(pools.first_names[lang])
        last = r.choice(pools.last_names[lang])
        names.append(f"{first} {last}")
        base = _handle_base(r, first, last)
        handle = base
        tries = 0
        while handle.lower() in taken:
            tries += 1
            # Among millions of accounts a common name's four-digit suffixes run out, and
            # drawing them again and again took hours: then eight digits.
            handle = (
                f"{base[:11]}{r.randint(0, 9999)}"
                if tries <= 3
                else f"{base[:7]}{r.randint(0, 99_999_999)}"
            )
        taken.add(handle.lower())
        handles.append(handle)
        ids.append(account_id(i))
        langs.append(lang)
        if age_kind[i] < 0.08:
            births.append(None)
        else:
            age = r.randint(13, 17) if age_kind[i] < 0.14 else r.randint(18, 82)
            born = today - timedelta(days=int(age * 365.25) + r.randint(1, 360))
            births.append(born.isoformat())
    if n:
        # Set after the draws, so that every other account stays as the seed made it.
        statuses[0], protected[0] = "active", False
        if births[0] is None or births[0] > minor_birth_cutoff().isoformat():
            births[0] = TOUR_BIRTH_DATE
    return Accounts(ids, handles, names, created, countries, langs, births, protected, statuses)


def _handle_base(r: random.Random, first: str, last: str) -> str:
    f, la = ascii_fold(first) or "user", ascii_fold(last) or "x"
    style = r.random()
    if style < 0.3:
        h = f"{f}_{la}"
    elif style < 0.55:
        h = f"{f[0]}{la}{r.randint(1, 99)}"
    elif style < 0.75:
        h = f"{f}{la[:3]}"
    elif style < 0.9:
        h = f"{f.capitalize()}{la.capitalize()}"
    else:
        h = f"{la}_{r.randint(1970, 2010)}"
    return h[:15]


def account_lines(accounts: Accounts) -> Iterator[str]:
    for i in range(len(accounts)):
        created = rfc3339(datetime.fromtimestamp(int(accounts.created_s[i]), UTC))
        country = accounts.countries[i]
        birth = accounts.birth_dates[i]
        yield (
            f'{{"id":"{accounts.ids[i]}","handle":"{accounts.handles[i]}",'
            f'"display_name":"{accounts.display_names[i]}","created_at":"{created}",'
            f'"country":{_opt(country)},"birth_date":{_opt(birth)},'
            f'"protected":{"true" if accounts.protected[i] else "false"},'
            f'"status":"{accounts.statuses[i]}"}}\n'
        )


def _opt(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


# ---- consent histories --------------------------------------------------------------------------


def _notice(t: datetime) -> str:
    version = NOTICES[0][1]
    for start, name in NOTICES:
        if t >= start:
            version = name
    return version


def _decision(
    account: str, purpose: str, decision: str, t: datetime, source: str, **extra: str | None
) -> str:
    fields = [
        f'"account_id":"{account}"',
        f'"purpose":"{purpose}"',
        f'"decision":"{decision}"',
        f'"at":"{rfc3339(t)}"',
        f'"source":"{source}"',
        f'"notice_version":"{_notice(t)}"',
    ]
    fields += [f'"{k}":"{v}"' for k, v in extra.items() if v is not None]
    return "{" + ",".join(fields) + "}\n"


def consent_lines(accounts: Accounts, r: random.Random) -> Iterator[str]:
    """Each account's decisions in time order: grants, denials, scoped denials, withdrawals,
    changes of mind, share grants (some naming a recipient), from several sources. About four
    accounts in ten never decide (the policy's default applies to them)."""
    end = PLATFORM_NOW - timedelta(days=1)
    for i in range(len(accounts)):
        if r.random() < 0.4:
            continue
        account = accounts.ids[i]
        created = datetime.fromtimestamp(int(accounts.created_s[i]), UTC)
        t = max(created, CONSENT_START) + timedelta(seconds=r.randint(3_600, 200 * 86_400))
        events: list[tuple[datetime, str]] = []

        def later(t0: datetime, days: int = 300) -> datetime:
            return t0 + timedelta(seconds=r.randint(3_600, days * 86_400))

        first = "grant" if r.random() < 0.55 else "deny"
        source = r.choice(("web", "app", "app", "api"))
        events.append((t, _decision(account, "train", first, t, source)))
        if r.random() < 0.3:  # a change of mind (a grant withdrawn, or a denial lifted)
            t2 = later(t)
            flipped = "deny" if first == "grant" else "grant"
            events.append((t2, _decision(account, "train", flipped, t2, r.choice(("web", "app")))))
        if r.random() < 0.15:  # keep my chatbot conversations out
            t3 = later(t)
            events.append((t3, _decision(account, "train", "deny", t3, "app", scope="assistant")))
        if r.random() < 0.08:  # likes and bookmarks are nobody's business
            t3 = later(t)
            events.append(
                (t3, _decision(account, "train", "deny", t3, "web", scope="interactions"))
            )
        if r.random() < 0.2:
            t4 = later(t)
            d = "grant" if r.random() < 0.5 else "deny"
            events.append((t4, _decision(account, "fine_tune", d, t4, r.choice(("web", "app")))))
        if r.random() < 0.1:
            t5 = later(t)
            events.append((t5, _decision(account, "answer", "grant", t5, "app")))
        if r.random() < 0.12:
            t6 = later(t)
            recipient = r.choice(RECIPIENTS) if r.random() < 0.5 else None
            events.append(
                (t6, _decision(account, "share", "grant", t6, "web", recipient=recipient))
            )
            if r.random() < 0.25:
                t7 = later(t6, 120)
                events.append(
                    (t7, _decision(account, "share", "deny", t7, "web", recipient=recipient))
                )
        if r.random() < 0.05:  # a browser's Global Privacy Control signal
            t8 = later(t)
            events.append((t8, _decision(account, "train", "deny", t8, "gpc")))
        if r.random() < 0.04:  # carried over from a previous consent tool
            t9 = max(created, CONSENT_START) + timedelta(seconds=r.randint(60, 3_000))
            events.append((t9, _decision(account, "train", "grant", t9, "import")))
        for when, line in sorted(events):
            if when <= end:
                yield line


def minor_birth_cutoff() -> date:
    """Born after this, an account is a minor on the platform's date."""
    return PLATFORM_NOW.date() - timedelta(days=int(18 * 365.25))
