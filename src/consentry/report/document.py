"""The report as a document: its charts (in the reader's language), the HTML the console and
``consentry report --format html`` show, and the PDF WeasyPrint makes of that HTML."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, Final

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, select_autoescape

from consentry.report.charts import Chart, Translate, bars
from consentry.web.i18n import NAMES, translations

TEMPLATES: Final = Path(__file__).parents[1] / "web" / "templates"
STYLESHEET: Final = Path(__file__).parents[1] / "web" / "static" / "admin.css"
DOMAIN: Final = "admin"


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang, DOMAIN), newstyle=True)  # type: ignore[attr-defined]

    def when(text: str | None) -> str:
        if not text:
            return ""
        return format_datetime(datetime.fromisoformat(text), "medium", locale=lang)

    env.filters["when"] = when
    env.filters["num"] = lambda n: "" if n is None else format_decimal(n, locale=lang)
    env.filters["pct"] = lambda x: format_percent(x, "#,##0.0%", locale=lang)
    env.globals["languages"] = NAMES
    return env


def gettext_of(lang: str) -> Translate:
    return translations(lang, DOMAIN).gettext


def charts(data: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Every chart of the report, drawn in ``lang``. The renderer releases the GIL: charts
    are drawn on every core at once (a report of 100 snapshots draws over 100)."""
    jobs: dict[str, Callable[[], Chart]] = {}
    snapshot_jobs: dict[str, Callable[[], Chart]] = {}
    _plan(data, lang, jobs, snapshot_jobs)
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        drawn = {k: pool.submit(job) for k, job in jobs.items()}
        per_snapshot = {k: pool.submit(job) for k, job in snapshot_jobs.items()}
        out: dict[str, Any] = {k: f.result() for k, f in drawn.items()}
        out["snapshots"] = {k: f.result() for k, f in per_snapshot.items()}
    return out


def _plan(
    data: Mapping[str, Any],
    lang: str,
    out: dict[str, Callable[[], Chart]],
    snapshots: dict[str, Callable[[], Chart]],
) -> None:
    _ = gettext_of(lang)
    state = data["consent"]["state"]
    weeks = data["consent"]["weeks"]
    rates = [
        {"what": f"{p['purpose']} · {s['name']}", "rate": s["opt_in_rate"]}
        for p in state["purposes"]
        for s in p["scopes"]
    ]
    if rates and state["accounts"]:
        out["opt_in"] = partial(
            bars,
            "chart-opt-in",
            _("Opt-in rate per purpose and scope"),
            _("Share of accounts that granted each purpose, per scope of content."),
            rates,
            x="what",
            y="rate",
            x_title=_("Purpose · scope"),
            y_title=_("Opt-in rate"),
            horizontal=True,
            percent=True,
        )
    if weeks:
        kinds = ((_("grants"), "grants"), (_("refusals"), "refusals"))
        per_week: dict[tuple[str, str], int] = defaultdict(int)
        gpc: dict[str, int] = defaultdict(int)
        for w in weeks:
            for label, key in kinds:
                per_week[(w["week"], label)] += w[key]
            gpc[w["week"]] += w["gpc"]
        out["decisions"] = partial(
            bars,
            "chart-decisions",
            _("Decisions per week"),
            _("Grants and refusals recorded each week, all purposes together."),
            [{"week": k[0], "kind": k[1], "n": n} for k, n in sorted(per_week.items())],
            x="week",
            y="n",
            color="kind",
            x_title=_("Week"),
            y_title=_("Decisions"),
            color_title=_("Decision"),
        )
        out["withdrawals"] = partial(
            bars,
            "chart-withdrawals",
            _("Withdrawals per week"),
            _("Refusals that replaced a grant, each week, per purpose."),
            [{"week": w["week"], "purpose": w["purpose"], "n": w["withdrawals"]} for w in weeks],
            x="week",
            y="n",
            color="purpose",
            x_title=_("Week"),
            y_title=_("Withdrawals"),
            color_title=_("Purpose"),
        )
        out["gpc"] = partial(
            bars,
            "chart-gpc",
            _("GPC signals honoured per week"),
            _("Refusals recorded from a browser's Global Privacy Control signal, each week."),
            [{"week": k, "n": n} for k, n in sorted(gpc.items())],
            x="week",
            y="n",
            x_title=_("Week"),
            y_title=_("GPC refusals"),
        )
    per_day = data["ledger"]["entries_per_day"]
    if per_day:
        out["entries"] = partial(
            bars,
            "chart-entries",
            _("Ledger entries per day"),
            _("Entries appended to the ledger each day (decisions and account changes)."),
            per_day,
            x="day",
            y="entries",
            x_title=_("Day"),
            y_title=_("Entries"),
        )
    for i, snap in enumerate(data["snapshots"]):
        if snap["excluded"]:
            snapshots[snap["snapshot_id"]] = partial(
                bars,
                f"chart-excluded-{i}",
                _("Exclusions of %(snapshot)s") % {"snapshot": snap["snapshot_id"]},
                _("Items left out of the snapshot, per reason code, in the order reasons apply."),
                snap["excluded"],
                x="reason",
                y="items",
                x_title=_("Reason"),
                y_title=_("Items"),
                horizontal=True,
            )


def body(data: Mapping[str, Any], lang: str, drawn: Mapping[str, Any] | None = None) -> str:
    """The report's sections as HTML (the console's page and the document share them)."""
    drawn = charts(data, lang) if drawn is None else drawn
    return (
        environment(lang).get_template("admin/_report.html").render(lang=lang, r=data, charts=drawn)
    )


def ropa_body(data: Mapping[str, Any], lang: str) -> str:
    """The record of processing activities alone (``consentry report --ropa``)."""
    return environment(lang).get_template("admin/_ropa.html").render(lang=lang, r=data)


def html(data: Mapping[str, Any], lang: str, *, ropa: bool = False) -> str:
    """A standalone HTML document (its stylesheet inline: it opens anywhere, offline): the
    whole report, or with ``ropa`` the record of processing activities alone."""
    content = ropa_body(data, lang) if ropa else body(data, lang)
    return (
        environment(lang)
        .get_template("admin/document.html")
        .render(lang=lang, r=data, body=content, ropa=ropa, css=STYLESHEET.read_text("utf-8"))
    )


def pdf(data: Mapping[str, Any], lang: str, *, ropa: bool = False) -> bytes:
    """The document as PDF, rendered by WeasyPrint, which is never let fetch anything."""
    from weasyprint import HTML  # slow to import: only the PDF needs it

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"the report fetches nothing ({url})")

    document = HTML(string=html(data, lang, ropa=ropa), url_fetcher=no_fetch, base_url=None)
    result: bytes = document.write_pdf()
    return result


def chart_list(drawn: Mapping[str, Any]) -> list[Chart]:
    found = [c for k, c in drawn.items() if k != "snapshots"]
    return found + list(drawn["snapshots"].values())
