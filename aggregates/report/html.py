"""The report page: inline CSS, inline SVG charts and tables of the published aggregates.

A suppressed cell is written as "suppressed (< k)", never as a number. Top lists add up
published daily (or weekly) cells only; an item with suppressed cells says so next to its
sum, and an item with nothing published is listed as suppressed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from usage_pipeline.aggregates.report.data import Rows
from usage_pipeline.aggregates.report.svg import PALETTE, Series, bar_chart, line_chart

TOP = 10
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.meta, .note { color: #666; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1rem; }
figure { margin: 0 0 1rem; } figcaption { font-weight: 600; margin-bottom: .3rem; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.suppressed { color: #888; font-style: italic; }
.headline { display: flex; gap: 2rem; flex-wrap: wrap; }
.headline div { background: #f4f6f8; padding: .6rem 1rem; border-radius: 6px; }
.headline b { display: block; font-size: 20px; }
"""

TREND_SERIES = (
    ("active_users", "Daily active users"),
    ("usage_events", "Usage events"),
    ("page_views", "Page views"),
    ("unique_visitors", "Daily unique visitors"),
)
FUNNEL_STEPS = ("sent", "delivered", "opened", "clicked", "unsubscribed")


@dataclass
class Total:
    """Published cells of one item added up, and how many of its cells were suppressed."""

    label: str
    values: dict[str, float] = field(default_factory=dict)
    published: int = 0
    suppressed: int = 0


def render(
    tables: dict[str, Rows],
    k: int,
    generated_at: dt.datetime,
    built_at: dt.datetime | None = None,
) -> str:
    """The whole page for the published tables (by aggregate name), k as the threshold."""
    hidden = f"suppressed (< {k})"
    built = "" if built_at is None else f" built {_utc(built_at)}"
    sections = [
        _headline(tables["active_subjects"], hidden),
        _trends(tables["trends"], hidden),
        _top_lists(tables["usage"], tables["web_traffic"], hidden),
        _movers(tables["trend_movers"]),
        _funnel(tables["email_funnel"], hidden),
        _deliverability(tables["email_deliverability"], hidden),
        _consent(tables["consent_changes"], hidden),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Usage and trends report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Usage and trends</h1>"
        f'<p class="meta">Generated {_utc(generated_at)} '
        f"from the published aggregates{built}. Days are UTC, weeks ISO weeks. "
        f"Cells with fewer than {k} distinct subjects, and their complements, are shown as "
        f'<span class="suppressed">{escape(hidden)}</span>.</p>'
        + "".join(sections)
        + "</body></html>\n"
    )


def _utc(moment: dt.datetime) -> str:
    """A UTC timestamp as the page shows it, to the minute."""
    return escape(moment.strftime("%Y-%m-%d %H:%M UTC"))


def _cell(value: object, suppressed: bool, hidden: str, fmt: str = "{:,.0f}") -> str:
    """One table cell's content: the value, or the suppression mark (whatever the value)."""
    if suppressed:
        return f'<span class="suppressed">{escape(hidden)}</span>'
    if value is None:
        return ""
    if isinstance(value, int | float):
        return escape(fmt.format(value))
    return escape(str(value))


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table from escaped header names and already-escaped cell contents."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _figure(caption: str, content: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{content}</figure>"


def _headline(active: Rows, hidden: str) -> str:
    boxes = []
    for period, name in (("day", "Daily"), ("week", "Weekly"), ("month", "Monthly")):
        rows = [r for r in active if r["period"] == period]
        if not rows:
            continue
        latest = max(rows, key=lambda r: r["period_start"])
        users = _cell(latest["active_users"], latest["suppressed"], hidden)
        accounts = _cell(latest["active_accounts"], latest["suppressed"], hidden)
        boxes.append(
            f"<div>{name} active users ({latest['period_start'].isoformat()})<b>{users}</b>"
            f"active accounts: {accounts}</div>"
        )
    if not boxes:
        return "<h2>Active users</h2><p class='note'>No usage published yet.</p>"
    return '<h2>Active users</h2><div class="headline">' + "".join(boxes) + "</div>"


def _trends(trends: Rows, hidden: str) -> str:
    figures = []
    for name, caption in TREND_SERIES:
        rows = sorted((r for r in trends if r["series"] == name), key=lambda r: r["event_date"])
        daily = [(r["event_date"], None if r["suppressed"] else r["value"]) for r in rows]
        average = [(r["event_date"], r["avg_7d"]) for r in rows]
        suppressed = [r["event_date"] for r in rows if r["suppressed"]]
        chart = line_chart(
            [
                Series(caption, daily, PALETTE[0]),
                Series("7-day average", average, PALETTE[1], dashed=True),
            ],
            caption,
            suppressed_days=suppressed,
            suppressed_text=hidden,
        )
        note = (
            f'<p class="note">{len(suppressed)} day(s) {escape(hidden)}: gaps in the line, '
            "grey marks on the axis.</p>"
            if suppressed
            else ""
        )
        figures.append(_figure(caption, chart + note))
    return '<h2>Trends</h2><div class="grid">' + "".join(figures) + "</div>"


def add_up(
    rows: Iterable[dict], key: Callable[[dict], str], measures: Sequence[str]
) -> list[Total]:
    """Per key, the sum of each measure over published cells, and the cell counts.

    Sorted by the first measure, largest first; items with nothing published come last.
    """
    totals: dict[str, Total] = {}
    for row in rows:
        total = totals.setdefault(key(row), Total(key(row)))
        if row["suppressed"]:
            total.suppressed += 1
            continue
        total.published += 1
        for measure in measures:
            total.values[measure] = total.values.get(measure, 0) + (row[measure] or 0)
    first = measures[0]
    return sorted(
        totals.values(),
        key=lambda t: (t.published == 0, -t.values.get(first, 0), t.label),
    )


def _shown(total: Total, measure: str, hidden: str, fmt: str = "{:,.0f}") -> str:
    """A summed measure: the sum, marked as partial when some cells are suppressed."""
    if total.published == 0:
        return f'<span class="suppressed">{escape(hidden)}</span>'
    text = escape(fmt.format(total.values.get(measure, 0)))
    if total.suppressed:
        text += f' <span class="suppressed">+ {total.suppressed} cell(s) {escape(hidden)}</span>'
    return text


def _top(title: str, totals: list[Total], measure: str, unit: str, hidden: str) -> str:
    shown = totals[:TOP]
    chart = bar_chart(
        [(t.label, t.values.get(measure) if t.published else None) for t in shown],
        title,
        suppressed_text=hidden,
    )
    rows = [(escape(t.label), _shown(t, measure, hidden)) for t in shown]
    rest = len(totals) - len(shown)
    more = f'<p class="note">{rest} more not shown.</p>' if rest > 0 else ""
    if not totals:
        return _figure(title, '<p class="note">Nothing published yet.</p>')
    return _figure(title, chart + _table(("item", unit), rows) + more)


def _top_lists(usage: Rows, traffic: Rows, hidden: str) -> str:
    items = [r for r in usage if r["item"] is not None]

    def program(row: dict) -> str:
        return f"{row['title']} ({row['item']})" if row["title"] else row["item"]

    features = add_up((r for r in items if r["kind"] == "feature"), lambda r: r["item"], ["events"])
    programs = add_up((r for r in items if r["kind"] == "program"), program, ["events"])
    lists = [
        _top("Top features (events)", features, "events", "events", hidden),
        _top("Top programs (plays)", programs, "events", "plays", hidden),
    ]
    for dimension, title in (("host", "Top hosts"), ("browser_family", "Top browsers")):
        cells = (r for r in traffic if r["dimension"] == dimension and r["value"] is not None)
        totals = add_up(cells, lambda r: r["value"], ["page_views"])
        lists.append(_top(f"{title} (page views)", totals, "page_views", "page views", hidden))
    note = (
        '<p class="note">Sums of the published daily cells over the whole period; '
        "suppressed cells are never added in.</p>"
    )
    return "<h2>Top lists</h2>" + note + '<div class="grid">' + "".join(lists) + "</div>"


def _movers(movers: Rows) -> str:
    if not movers:
        return "<h2>Risers and fallers</h2><p class='note'>No complete week to compare yet.</p>"
    parts = []
    for dimension, label in (
        ("usage_item", "Usage items (events)"),
        ("host", "Hosts (page views)"),
    ):
        rows = [r for r in movers if r["dimension"] == dimension]
        if not rows:
            continue
        week = rows[0]["week_start"].isoformat()
        cells = [
            (
                escape(r["item"]),
                escape(r["direction"]),
                f"{r['last_week_value']:,}",
                f"{r['this_week_value']:,}",
                f"{r['change']:+,}",
                "" if r["change_pct"] is None else f"{r['change_pct']:+.1%}",
            )
            for r in sorted(rows, key=lambda r: (r["direction"] != "riser", r["rank"]))
        ]
        head = ("item", "direction", "week before", f"week of {week}", "change", "change %")
        parts.append(_figure(label, _table(head, cells)))
    return "<h2>Risers and fallers</h2>" + "".join(parts)


def _funnel(funnel: Rows, hidden: str) -> str:
    if not funnel:
        return "<h2>E-mail funnel</h2><p class='note'>No e-mail activity published yet.</p>"
    charts = []
    for row in (r for r in funnel if r["campaign_id"] is None):
        name = row["campaign_kind"] or "all campaigns"
        steps = [(step, None if row["suppressed"] else row[step]) for step in FUNNEL_STEPS]
        charts.append(_figure(f"Funnel: {name}", bar_chart(steps, name, suppressed_text=hidden)))
    campaigns = sorted(
        (r for r in funnel if r["campaign_id"] is not None),
        key=lambda r: (r["suppressed"], -(r["sent"] or 0), r["campaign_id"]),
    )
    head = ("campaign", "kind", *FUNNEL_STEPS, "open rate", "click rate", "unsubscribe rate")
    rows = [
        (
            escape(r["campaign_id"]),
            escape(r["campaign_kind"]),
            *(_cell(r[step], r["suppressed"], hidden) for step in FUNNEL_STEPS),
            *(
                _cell(r[rate], r["suppressed"], hidden, "{:.1%}")
                for rate in ("open_rate", "click_rate", "unsubscribe_rate")
            ),
        )
        for r in campaigns
    ]
    return (
        "<h2>E-mail funnel per campaign</h2>"
        + '<div class="grid">'
        + "".join(charts)
        + "</div>"
        + _table(head, rows)
    )


def _deliverability(weeks: Rows, hidden: str) -> str:
    if not weeks:
        return "<h2>Deliverability</h2><p class='note'>No e-mail activity published yet.</p>"
    measures = ["sent", "delivered", "bounced", "hard_bounces", "soft_bounces", "complained"]
    domains = add_up(
        (r for r in weeks if r["recipient_domain"] is not None),
        lambda r: r["recipient_domain"],
        measures,
    )
    chart = bar_chart(
        [
            (t.label, _rate(t, "bounced", "sent") if t.published else None)
            for t in domains[: TOP * 2]
        ],
        "Bounce rate per recipient domain",
        suppressed_text=hidden,
        value_format="{:.1%}",
        color=PALETTE[1],
    )
    rows = [
        (
            escape(t.label),
            *(_shown(t, m, hidden) for m in measures),
            _rate_cell(t, "bounced", "sent", hidden),
            _rate_cell(t, "complained", "delivered", hidden),
        )
        for t in domains
    ]
    head = ("recipient domain", *(m.replace("_", " ") for m in measures))
    return (
        "<h2>Deliverability per recipient domain</h2>"
        '<p class="note">Sums of the published weekly cells; rates over those sums.</p>'
        + _figure("Bounce rate per recipient domain", chart)
        + _table((*head, "bounce rate", "complaint rate"), rows)
    )


def _rate(total: Total, part: str, whole: str) -> float | None:
    denominator = total.values.get(whole, 0)
    return total.values.get(part, 0) / denominator if denominator else None


def _rate_cell(total: Total, part: str, whole: str, hidden: str) -> str:
    if total.published == 0:
        return f'<span class="suppressed">{escape(hidden)}</span>'
    rate = _rate(total, part, whole)
    return "" if rate is None else f"{rate:.1%}"


def _consent(changes: Rows, hidden: str) -> str:
    if not changes:
        return "<h2>Consent</h2><p class='note'>No consent decisions published yet.</p>"
    purposes = sorted({r["purpose"] for r in changes})
    charts = []
    for status in ("granted", "withdrawn"):
        series = []
        for index, purpose in enumerate(purposes):
            rows = [r for r in changes if r["purpose"] == purpose and r["status"] == status]
            points = [(r["event_date"], None if r["suppressed"] else r["share"]) for r in rows]
            series.append(Series(purpose, points, PALETTE[index % len(PALETTE)]))
        suppressed = sorted(
            {r["event_date"] for r in changes if r["status"] == status and r["suppressed"]}
        )
        caption = f"Share of subjects who {'granted' if status == 'granted' else 'withdrew'}"
        chart = line_chart(series, caption, suppressed, hidden)
        charts.append(_figure(caption + " consent, per purpose and day", chart))
    latest = max(r["event_date"] for r in changes)
    rows = [
        (
            escape(r["purpose"]),
            escape(r["status"] or "either"),
            _cell(r["subjects"], r["suppressed"], hidden),
            _cell(r["share"], r["suppressed"], hidden, "{:.1%}"),
        )
        for r in sorted(
            (r for r in changes if r["event_date"] == latest),
            key=lambda r: (r["purpose"], r["status"] or ""),
        )
    ]
    table = _table(("purpose", "decision", "subjects", "share"), rows)
    return (
        "<h2>Consent</h2>"
        + '<div class="grid">'
        + "".join(charts)
        + "</div>"
        + _figure(f"Decisions on {latest.isoformat()}", table)
    )
