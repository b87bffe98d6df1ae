"""Figures of the grid (notebooks 03-04): per-host bars with error bars, the homophone panels, loss curves.

Inputs are the rows of :func:`w2s.evaluation.grid.summary_rows` (``{metric}`` and ``{metric}_std`` per host
and condition) and the cell results of :func:`w2s.evaluation.grid.run_grid`.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

CONDITION_COLORS = {"none": "#7f7f7f", "wav2sem": "#1f77b4", "oracle_text": "#2ca02c", "oracle_word": "#d62728"}
# the reference faces of w2s.evaluation.bounds drawn across the bars: (row, label, line style)
BOUND_LINES = (("baseline", "baseline: a face that does not listen", "dash"),
               ("protocol_floor", "floor: true phonemes in identity k's style", "solid"),
               ("protocol_floor_counterfactual", "floor with every pair word wrong", "dot"))  # fmt: skip


def _bars(summary: Sequence[dict], metric: str, scale: float, showlegend: bool = True) -> list[go.Bar]:
    hosts = list(dict.fromkeys(r["host"] for r in summary))
    out = []
    for sem in dict.fromkeys(r["semantic"] for r in summary):
        rows = {r["host"]: r for r in summary if r["semantic"] == sem}
        y = [rows[h][metric] * scale if h in rows else None for h in hosts]
        err = [rows[h][f"{metric}_std"] * scale if h in rows else None for h in hosts]
        out.append(go.Bar(name=sem, x=hosts, y=y, error_y=dict(type="data", array=err, visible=True),
                          marker_color=CONDITION_COLORS.get(sem), legendgroup=sem, showlegend=showlegend))  # fmt: skip
    return out


def metric_bars(summary: Sequence[dict], metric: str = "lve", scale: float = 1e5, title: str | None = None,
                yaxis_title: str | None = None) -> go.Figure:  # fmt: skip
    """One bar group per host, a bar per condition: the metric's mean over seeds, ± its std over seeds."""
    fig = go.Figure(_bars(summary, metric, scale))
    return fig.update_layout(barmode="group", height=380, title=title or f"{metric} (mean ± std over seeds)",
                             yaxis_title=yaxis_title or (f"{metric} × {1 / scale:g}" if scale != 1 else metric))  # fmt: skip


def homophone_panels(summary: Sequence[dict]) -> go.Figure:
    """Two panels: homophone-LVE (lower is better) and minimal-pair lip accuracy (higher; chance 0.5)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("homophone-LVE × 1e-5 (lower is better)",
                                                        "minimal-pair lip accuracy (chance 0.5)"))  # fmt: skip
    for b in _bars(summary, "homophone_lve", 1e5):
        fig.add_trace(b, row=1, col=1)
    for b in _bars(summary, "minimal_pair_accuracy", 1.0, showlegend=False):
        fig.add_trace(b, row=1, col=2)
    fig.add_hline(y=0.5, line_dash="dot", line_color="black", row=1, col=2)
    return fig.update_layout(barmode="group", height=400, title="Near-homophones: did the lips tell the pair apart?")


def bounds_figure(summary: Sequence[dict], bounds: dict) -> go.Figure:
    """LVE and homophone-LVE per host and condition (bars, ± std over seeds) between the reference faces of
    :func:`w2s.evaluation.bounds.bounds`: the baseline above, the protocol floor below, and the floor with every
    pair word wrong (the gap between the two floors is what a perfect near-homophone decision is worth)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("LVE × 1e-5", "homophone-LVE × 1e-5"))
    for col, metric in ((1, "lve"), (2, "homophone_lve")):
        for b in _bars(summary, metric, 1e5, showlegend=col == 1):
            fig.add_trace(b, row=1, col=col)
        for row, label, dash in BOUND_LINES:
            y = bounds["rows"][row][metric] * 1e5
            fig.add_hline(y=y, line_dash=dash, line_color="black", row=1, col=col,
                          annotation_text=label if col == 1 else None, annotation_position="top left")  # fmt: skip
    return fig.update_layout(barmode="group", height=430, title="Where each host sits between floor and baseline")


def loss_curves(results: Sequence[dict], title: str = "training loss, seed 0") -> go.Figure:
    """One panel per host, a line per condition: the training loss over steps (each host's own loss)."""
    hosts = list(dict.fromkeys(r["host"] for r in results))
    cols = min(3, len(hosts))
    rows = (len(hosts) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=hosts)
    for i, host in enumerate(hosts):
        for r in (r for r in results if r["host"] == host):
            fig.add_trace(go.Scatter(x=r["history"]["step"], y=r["history"]["loss"], name=r["semantic"],
                                     line=dict(color=CONDITION_COLORS.get(r["semantic"])), legendgroup=r["semantic"],
                                     showlegend=i == 0), row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    fig.update_yaxes(type="log")
    return fig.update_layout(title=title, height=300 * rows)
