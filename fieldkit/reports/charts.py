"""Charts of a report's findings as PNG: by category, by responsible body, by state, over time.

"Rectification over time" plots, per day, the cumulative number of findings recorded and of
findings closed (the close time comes from the audit log), so the gap is what is still open.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

from .mapimg import category_colours
from .plotting import font, new_figure, png_bytes
from ..labels import CASE_STATES_ZH, FINDING_STATES_ZH
from .scope import ReportData

CHART_SIZE = (1400, 800)
CHARTS = ("category", "body", "state", "rectification")
CHART_TITLES = {"category": "问题类别分布", "body": "责任主体分布", "state": "问题及案件状态",
                "rectification": "整改进度（累计）"}
MAX_BARS = 15


def render_charts(data: ReportData, size: tuple[int, int] = CHART_SIZE) -> dict[str, bytes]:
    """Every chart of :data:`CHARTS` as PNG bytes, keyed by name."""
    return {name: render_chart(data, name, size) for name in CHARTS}


def render_chart(data: ReportData, name: str, size: tuple[int, int] = CHART_SIZE) -> bytes:
    """One chart (``category``, ``body``, ``state`` or ``rectification``) as PNG bytes."""
    fig = new_figure(*size)
    ax = fig.add_axes((0.3, 0.12, 0.65, 0.78) if name != "rectification" else (0.1, 0.14, 0.85, 0.76))
    ax.set_title(CHART_TITLES[name], fontproperties=font(10))
    if not data.findings:
        ax.text(0.5, 0.5, "范围内没有问题", ha="center", transform=ax.transAxes, fontproperties=font(10))
        ax.set_axis_off()
        return png_bytes(fig)
    if name == "category":
        colours = category_colours(data)
        counts = Counter(f.category_id for f in data.findings)
        names = {f.category_id: f.category_zh for f in data.findings}
        top = counts.most_common(MAX_BARS)
        _bars(ax, [names[c] for c, _ in top], [n for _, n in top], [colours[c] for c, _ in top])
    elif name == "body":
        top = Counter(f.body for f in data.findings).most_common(MAX_BARS)
        _bars(ax, [b for b, _ in top], [n for _, n in top], ["#0072B2"] * len(top))
    elif name == "state":
        _bars(ax, *_state_counts(data))
    elif name == "rectification":
        _rectification(ax, data)
    else:
        raise ValueError(f"unknown chart {name!r}; use one of {', '.join(CHARTS)}")
    return png_bytes(fig)


def _state_counts(data: ReportData) -> tuple[list[str], list[int], list[str]]:
    labels, values, colours = [], [], []
    for state, colour in (("open", "#D55E00"), ("closed", "#009E73")):
        labels.append(f"问题：{FINDING_STATES_ZH[state]}")
        values.append(sum(1 for f in data.findings if f.state == state))
        colours.append(colour)
    cases = Counter(f.case_state for f in data.findings if f.case_state)
    labels.append("问题：未立案件")
    values.append(sum(1 for f in data.findings if not f.case_state))
    colours.append("#7f7f7f")
    for state, n in sorted(cases.items(), key=lambda kv: -kv[1]):
        labels.append(f"案件：{CASE_STATES_ZH.get(state, state)}")
        values.append(n)
        colours.append("#0072B2")
    return labels, values, colours


def _bars(ax, labels: list[str], values: list[int], colours: list[str]) -> None:
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=colours)
    ax.set_yticks(ys, labels)
    for label in ax.get_yticklabels():
        label.set_fontproperties(font(7))
    for y, v in zip(ys, values):
        ax.text(v, y, f" {v}", va="center", fontsize=7)
    ax.set_xlim(0, max(values + [1]) * 1.15)
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)


def _rectification(ax, data: ReportData) -> None:
    recorded = sorted(f.seen_at.date() for f in data.findings)
    closed = sorted(f.closed_at.date() for f in data.findings if f.state == "closed" and f.closed_at)
    days = sorted(set(recorded) | set(closed))
    if len(days) == 1:
        days = [days[0] - dt.timedelta(days=1), days[0]]
    ax.step(days, [sum(1 for d in recorded if d <= day) for day in days], where="post", color="#D55E00",
            label="累计发现")
    ax.step(days, [sum(1 for d in closed if d <= day) for day in days], where="post", color="#009E73",
            label="累计关闭（整改）")
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    ax.legend(prop=font(7), frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
