"""The demo platform's content, likes, and the ground truth of the personal data planted in it.

Items are generated in time order (ids grow with time, like snowflake ids), a chunk at a time:
numpy draws what can be drawn for a whole chunk (kinds, authors, times, which data to plant),
then one Python pass puts each text together from the pools and writes its JSON line directly
(pool strings need no escaping). Replies, quotes and reposts point at recent items kept in a
bounded ring, so memory does not grow with the number of posts.

Ground truth spans are code-point offsets into ``text``; a span covers the whole token as it
appears, sigil included (``@alice``, ``#IA``, ``$TSLA``). ``account_id`` is set for handles of
platform accounts (null for handles that exist nowhere on the platform).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Final, TypeVar

import numpy as np

from consentry.platform.demo import pii
from consentry.platform.demo.accounts import PLATFORM_NOW, Accounts
from consentry.platform.demo.pools import (
    ANSWERS,
    CASHTAGS,
    EMAIL_DOMAINS,
    EMOJI,
    HASHTAGS,
    MEDIA_TYPES,
    OPENERS,
    PROMPTS,
    URL_DOMAINS,
    Pools,
    ascii_fold,
)

CONTENT_START: Final = datetime(2019, 1, 1, tzinfo=UTC)
CHUNK: Final = 20_000
RING: Final = 20_000  # recent items replies, quotes, reposts and likes can point at

KINDS: Final = ("post", "reply", "quote", "repost", "dm", "assistant")
ITEM_KINDS: Final = (
    "post",
    "reply",
    "quote",
    "repost",
    "dm",
    "assistant_prompt",
    "assistant_response",
)
KIND_P: Final = (0.55, 0.23, 0.05, 0.08, 0.07, 0.02)  # assistant: a conversation (1–3 turns)
TYPES: Final = (
    "email",
    "phone",
    "iban",
    "card",
    "ip",
    "url",
    "name",
    "handle",
    "hashtag",
    "cashtag",
)
BIT: Final = {t: 1 << i for i, t in enumerate(TYPES)}
#: Chance that an item carries a type of data, by where it is written. Most posts carry none.
RATES: Final = {
    "public": (0.012, 0.008, 0.002, 0.0015, 0.003, 0.12, 0.04, 0.12, 0.15, 0.02),
    "dm": (0.08, 0.10, 0.04, 0.01, 0.01, 0.15, 0.12, 0.03, 0.01, 0.0),
    "prompt": (0.04, 0.03, 0.01, 0.01, 0.02, 0.08, 0.10, 0.02, 0.0, 0.005),
}
LIKES_PER_ITEM: Final = 0.5
DELETED_SHARE: Final = 0.025
UNKNOWN_HANDLE_SHARE: Final = 0.12

Span = tuple[str, int, int, str, str | None]
T = TypeVar("T")
_SEPARATORS: Final = (". ", " ", ", ", " - ")
_SHORT: Final = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_VIDEO: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def content_id(i: int) -> str:
    """Time-ordered 19-digit ids, unique per index."""
    return str(1_700_000_000_000_000_000 + i * 4096 + (i * 2_654_435_761) % 4096)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Tally:
    """What was generated, for the README and the command's summary."""

    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ITEM_KINDS, 0))
    spans: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    deleted: int = 0
    likes: int = 0
    items_with_pii: int = 0


class ContentGenerator:
    def __init__(
        self,
        accounts: Accounts,
        pools: Pools,
        rng: np.random.Generator,
        r: random.Random,
        total: int,
    ) -> None:
        self.a = accounts
        self.pools = pools
        self.rng = rng
        self.r = r
        self.total = total
        self.tally = Tally()
        self.handles_lower = {h.lower() for h in accounts.handles}
        # Heavy-tailed activity: a few accounts write most posts.
        weights = rng.pareto(1.3, len(accounts)) + 0.05
        self.cdf = np.cumsum(weights) / weights.sum()
        self.ring_ids: list[str] = [""] * RING
        self.ring_author: list[int] = [0] * RING
        self.ring_text: list[str] = [""] * RING
        self.ring_spans: list[list[Span]] = [[] for _ in range(RING)]
        self.ring_time = np.zeros(RING, dtype=np.int64)
        self.rand = r.random
        self.protected: list[bool] = accounts.protected.tolist()
        self.ring_n = 0
        self.start_s = int(CONTENT_START.timestamp())
        self.span_s = int(PLATFORM_NOW.timestamp()) - self.start_s - 86_400

    # ---- planted values -----------------------------------------------------------------------

    def _name(self, lang: str) -> str:
        r = self.r
        if r.random() < 0.2:
            return self.a.display_names[r.randrange(len(self.a))]
        return f"{r.choice(self.pools.first_names[lang])} {r.choice(self.pools.last_names[lang])}"

    def _email(self, lang: str) -> str:
        r = self.r
        first = ascii_fold(r.choice(self.pools.first_names[lang])) or "contact"
        last = ascii_fold(r.choice(self.pools.last_names[lang])) or "mail"
        style = r.random()
        if style < 0.5:
            local = f"{first}.{last}"
        elif style < 0.8:
            local = f"{first[0]}{last}{r.randint(1, 99)}"
        else:
            local = f"{first}{r.randint(1970, 2009)}"
        return f"{local}@{r.choice(EMAIL_DOMAINS)}"

    def _url(self) -> str:
        r = self.r
        words = self.pools.words
        style = r.random()
        if style < 0.15:
            return f"https://t.co/{''.join(r.choices(_SHORT, k=10))}"
        domain = r.choice(URL_DOMAINS)
        if "youtube" in domain:
            return f"https://{domain}/watch?v={''.join(r.choices(_VIDEO, k=11))}"
        slug = "-".join(r.choice(words) for _ in range(r.randint(2, 5)))
        scheme = "http" if style > 0.95 else "https"
        return f"{scheme}://{domain}/{r.randint(2019, 2025)}/{r.randint(1, 12):02d}/{slug}"

    def _handle(self) -> tuple[str, str | None]:
        r = self.r
        if r.random() < UNKNOWN_HANDLE_SHARE:
            while True:
                h = f"{r.choice(self.pools.words)[:8]}_{r.randint(10, 99999)}"
                if h.lower() not in self.handles_lower:
                    return "@" + h, None
        i = r.randrange(len(self.a))
        return "@" + self.a.handles[i], self.a.ids[i]

    def _value(self, kind: str, lang: str, country: str | None) -> tuple[str, str | None]:
        r = self.r
        if kind == "email":
            return self._email(lang), None
        if kind == "phone":
            return pii.phone(r, country), None
        if kind == "iban":
            return pii.iban(r, country), None
        if kind == "card":
            return pii.card(r), None
        if kind == "ip":
            return pii.ip_address(r), None
        if kind == "url":
            return self._url(), None
        if kind == "name":
            return self._name(lang), None
        return self._handle()

    # ---- texts --------------------------------------------------------------------------------

    def compose(
        self, lang: str, plant: int, country: str | None, lead: tuple[str, str | None] | None
    ) -> tuple[str, list[Span]]:
        """A text in ``lang`` carrying the data whose bits are set in ``plant``."""
        rand = self.rand
        parts: list[str] = []
        spans: list[Span] = []
        pos = 0
        if lead is not None:
            token, owner = lead
            spans.append(("handle", 0, len(token), token, owner))
            parts.append(token + " ")
            pos = len(token) + 1
        sentences = self.pools.sentences[lang]
        body = _pick(rand, OPENERS[lang]) if rand() < 0.3 else ""
        body += sentences[int(rand() * len(sentences))]
        if rand() < 0.35:
            body += " " + sentences[int(rand() * len(sentences))]
        parts.append(body)
        pos += len(body)
        if plant:
            carriers = self.pools.carriers[lang]
            for kind in TYPES[:8]:
                if not plant & BIT[kind]:
                    continue
                value, owner = self._value(kind, lang, country)
                before, after = _pick(rand, carriers[kind])
                sep = _pick(rand, _SEPARATORS) if pos else ""
                start = pos + len(sep) + len(before)
                parts += [sep, before, value, after]
                spans.append((kind, start, start + len(value), value, owner))
                pos = start + len(value) + len(after)
            if plant & BIT["hashtag"]:
                for _ in range(1 + int(rand() < 0.3) + int(rand() < 0.1)):
                    token = "#" + _pick(rand, HASHTAGS[lang])
                    spans.append(("hashtag", pos + 1, pos + 1 + len(token), token, None))
                    parts += [" ", token]
                    pos += 1 + len(token)
            if plant & BIT["cashtag"]:
                token = "$" + _pick(rand, CASHTAGS)
                spans.append(("cashtag", pos + 1, pos + 1 + len(token), token, None))
                parts += [" ", token]
                pos += 1 + len(token)
        if rand() < 0.15:
            parts.append(" " + _pick(rand, EMOJI))
        return "".join(parts), spans

    # ---- the stream ---------------------------------------------------------------------------

    def _remember(self, cid: str, author: int, text: str, spans: list[Span], t: int) -> None:
        slot = self.ring_n % RING
        self.ring_ids[slot] = cid
        self.ring_author[slot] = author
        self.ring_text[slot] = text
        self.ring_spans[slot] = spans
        self.ring_time[slot] = t
        self.ring_n += 1

    def _recent(self) -> int:
        """A slot of the ring, skewed to recent items (conversations are about now)."""
        filled = min(self.ring_n, RING)
        back = min(int(-400.0 * math.log(1.0 - self.rand())) + 1, filled)
        return (self.ring_n - back) % RING

    def _authors(self, n: int, times: np.ndarray) -> np.ndarray:
        """Authors drawn by activity, redrawn among older accounts when created too late."""
        authors = np.searchsorted(self.cdf, self.rng.random(n))
        authors = np.minimum(authors, len(self.a) - 1)
        exists = np.searchsorted(self.a.created_s, times, side="right")
        too_new = self.a.created_s[authors] > times
        redraw = (self.rng.random(n) * np.maximum(exists, 1)).astype(np.int64)
        return np.where(too_new, redraw, authors)

    def generate(
        self,
        content: IO[str],
        likes: IO[str],
        truth: IO[str],
        progress: Callable[[int], None] | None = None,
    ) -> Tally:
        done = 0
        while done < self.total:
            n = min(CHUNK, self.total - done)
            done += self._chunk(done, n, content, likes, truth)
            if progress:
                progress(n)
        return self.tally

    def _chunk(self, first: int, n: int, content: IO[str], likes: IO[str], truth: IO[str]) -> int:
        rng, r, a = self.rng, self.r, self.a
        times = (
            self.start_s + (self.span_s * (first + np.arange(n) + rng.random(n)) / self.total)
        ).astype(np.int64)
        kinds = rng.choice(len(KINDS), size=n, p=KIND_P).tolist()
        authors = self._authors(n, times).tolist()
        stamps = [_iso(int(t)) for t in times] if n < 64 else _iso_many(times)
        plants = {
            where: (
                (rng.random((n, len(TYPES))) < np.asarray(rates)) * (1 << np.arange(len(TYPES)))
            )
            .sum(axis=1)
            .tolist()
            for where, rates in RATES.items()
        }
        deleted = (rng.random(n) < DELETED_SHARE).tolist()
        media = rng.random(n).tolist()
        seconds = times.tolist()
        rand = self.rand
        protected = self.protected
        out: list[str] = []
        gt: list[str] = []
        i = 0
        while i < n:
            g = first + i
            kind = KINDS[kinds[i]]
            author = authors[i]
            if self.ring_n == 0 and kind in ("reply", "quote", "repost"):
                kind = "post"
            if kind == "assistant":
                turns = min(r.randint(1, 3) * 2, n - i)
                if turns < 2:
                    kind = "post"
                else:
                    plant = plants["prompt"][i]
                    self._conversation(g, turns, author, seconds[i], plant, out, gt)
                    i += turns
                    continue
            lang = a.langs[author] if rand() > 0.05 else "en"
            country = a.countries[author]
            t = seconds[i]
            cid = content_id(g)
            extra = ""
            visibility = "followers" if protected[author] else "public"
            if kind == "repost":
                slot = self._recent()
                orig = self.ring_author[slot]
                prefix = f"RT @{a.handles[orig]}: "
                text = prefix + self.ring_text[slot]
                handle = "@" + a.handles[orig]
                spans: list[Span] = [("handle", 3, 3 + len(handle), handle, a.ids[orig])]
                shift = len(prefix)
                spans += [
                    (k, s + shift, e + shift, v, o) for k, s, e, v, o in self.ring_spans[slot]
                ]
                extra = f',"repost_of":"{self.ring_ids[slot]}"'
            elif kind == "dm":
                visibility = "direct"
                text, spans = self.compose(lang, plants["dm"][i], country, None)
            else:
                lead = None
                if kind in ("reply", "quote"):
                    slot = self._recent()
                    parent = self.ring_author[slot]
                    field_name = "in_reply_to" if kind == "reply" else "quote_of"
                    extra = f',"{field_name}":"{self.ring_ids[slot]}"'
                    if kind == "reply" and rand() < 0.85:
                        lead = ("@" + a.handles[parent], a.ids[parent])
                elif not protected[author]:
                    roll = rand()
                    if roll >= 0.93:
                        visibility = "followers" if roll < 0.97 else "mentioned"
                text, spans = self.compose(lang, plants["public"][i], country, lead)
                self._remember(cid, author, text, spans, t)
            if deleted[i]:
                gone = min(t + 600 + int(rand() * 200 * 86_400), int(PLATFORM_NOW.timestamp()))
                extra += f',"deleted_at":"{_iso(gone)}"'
                self.tally.deleted += 1
            if media[i] < 0.1 and kind in ("post", "reply", "quote"):
                mtype = _pick(rand, MEDIA_TYPES)
                if mtype == "photo" and rand() < 0.7:
                    alt = _pick(rand, self.pools.sentences[lang])
                    extra += f',"media":[{{"type":"photo","alt_text":"{alt}"}}]'
                else:
                    extra += f',"media":[{{"type":"{mtype}"}}]'
            out.append(
                f'{{"id":"{cid}","author_id":"{a.ids[author]}","kind":"{kind}","text":"{text}",'
                f'"created_at":"{stamps[i]}","lang":"{lang}","visibility":"{visibility}"{extra}}}\n'
            )
            self._truth(cid, spans, gt)
            self.tally.kinds[kind] += 1
            i += 1
        content.write("".join(out))
        truth.write("".join(gt))
        self._likes(n, likes)
        return n

    def _conversation(
        self,
        first: int,
        turns: int,
        owner: int,
        t: int,
        plant: int,
        out: list[str],
        gt: list[str],
    ) -> None:
        """An assistant conversation: prompt/response pairs sharing a conversation id."""
        r, a = self.r, self.a
        lang = a.langs[owner]
        conversation = f"conv-{content_id(first)}"
        owner_id = a.ids[owner]
        for k in range(turns):
            cid = content_id(first + k)
            t += r.randint(5, 90)
            if k % 2 == 0:
                kind = "assistant_prompt"
                ask = r.choice(PROMPTS[lang])
                body, spans = self.compose(lang, plant if k == 0 else 0, a.countries[owner], None)
                text = ask + body
                spans = [(s, b + len(ask), e + len(ask), v, o) for s, b, e, v, o in spans]
            else:
                kind = "assistant_response"
                text = r.choice(ANSWERS[lang]) + r.choice(self.pools.sentences[lang])
                spans = []
            out.append(
                f'{{"id":"{cid}","author_id":"{owner_id}","kind":"{kind}","text":"{text}",'
                f'"created_at":"{_iso(t)}","lang":"{lang}","visibility":"direct",'
                f'"conversation_id":"{conversation}"}}\n'
            )
            self._truth(cid, spans, gt)
            self.tally.kinds[kind] += 1

    def _truth(self, cid: str, spans: list[Span], gt: list[str]) -> None:
        if not spans:
            return
        pii_types = False
        for kind, start, end, value, owner in spans:
            account = "null" if owner is None else f'"{owner}"'
            gt.append(
                f'{{"content_id":"{cid}","type":"{kind}","start":{start},"end":{end},'
                f'"value":"{value}","account_id":{account}}}\n'
            )
            self.tally.spans[kind] += 1
            pii_types = pii_types or kind in ("email", "phone", "iban", "card", "ip", "name")
        self.tally.items_with_pii += int(pii_types)

    def _likes(self, n: int, likes: IO[str]) -> None:
        """Likes, bookmarks and reposts of recent items by random accounts, after the item;
        one per account and item."""
        if self.ring_n == 0:
            return
        rng, a = self.rng, self.a
        count = int(rng.binomial(n, LIKES_PER_ITEM))
        filled = min(self.ring_n, RING)
        slots = (self.ring_n - rng.integers(1, filled + 1, count)) % RING
        likers = rng.integers(0, len(a), count)
        _, first = np.unique(likers * RING + slots, return_index=True)
        keep = np.sort(first)
        slots, likers = slots[keep], likers[keep]
        at = self.ring_time[slots] + rng.integers(30, 30 * 86_400, len(keep))
        at = np.minimum(at, int(PLATFORM_NOW.timestamp()))
        roll = rng.random(len(keep))
        kinds = np.where(roll < 0.85, 0, np.where(roll < 0.95, 1, 2)).tolist()
        names = ("like", "bookmark", "repost")
        ids, ring_ids = a.ids, self.ring_ids
        lines = [
            f'{{"account_id":"{ids[liker]}","content_id":"{ring_ids[slot]}",'
            f'"kind":"{names[kind]}","at":"{stamp}"}}\n'
            for liker, slot, kind, stamp in zip(
                likers.tolist(), slots.tolist(), kinds, _iso_many(at), strict=True
            )
        ]
        likes.write("".join(lines))
        self.tally.likes += len(lines)


def _pick(rand: Callable[[], float], seq: Sequence[T]) -> T:
    """``random.choice`` without its per-call cost (one C call for the draw)."""
    return seq[int(rand() * len(seq))]


def _iso_many(seconds: np.ndarray) -> list[str]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [f"{s}Z" for s in text.tolist()]
